// The scenario list: name, status, version, reach, last activity; create,
// duplicate, archive and delete.
import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { useClient } from '../api/context'
import type { ScenarioSummary } from '../api/types'
import { activityTime, formatCount, formatTime } from '../lib/format'
import { navigate } from '../lib/router'
import { ConfirmDialog, Dialog, FormActions, EmptyState, ErrorState, Icon, Spinner, StatusBadge, errorMessage } from './common'
import { MainNav, TopBar } from './TopBar'

type Load = { state: 'loading' } | { state: 'error'; error: unknown } | { state: 'ready'; items: ScenarioSummary[] }

export function ScenarioList() {
  const client = useClient()
  const [load, setLoad] = useState<Load>({ state: 'loading' })
  const [creating, setCreating] = useState(false)
  const [confirmDelete, setConfirmDelete] = useState<ScenarioSummary | null>(null)
  const [busy, setBusy] = useState('')
  const [actionError, setActionError] = useState('')

  const refresh = useCallback(async () => {
    try {
      const items = await client.scenarios()
      items.sort((a, b) => (b.updated_at ?? '').localeCompare(a.updated_at ?? ''))
      setLoad({ state: 'ready', items })
    } catch (error) {
      setLoad({ state: 'error', error })
    }
  }, [client])

  useEffect(() => {
    void refresh()
  }, [refresh])

  async function act(id: string, what: string, fn: () => Promise<unknown>) {
    setBusy(`${what}:${id}`)
    setActionError('')
    try {
      await fn()
      await refresh()
    } catch (err) {
      setActionError(`Could not ${what}: ${errorMessage(err)}`)
    } finally {
      setBusy('')
    }
  }

  async function duplicate(s: ScenarioSummary) {
    await act(s.id, 'duplicate', async () => {
      const full = await client.scenario(s.id)
      await client.createScenario({ name: `${s.name} (copy)`.slice(0, 200), allow_reentry: full.allow_reentry, graph: full.graph })
    })
  }

  return (
    <div className="page">
      <TopBar>
        <MainNav />
      </TopBar>
      <main className="list-page">
        <div className="list-head">
          <div>
            <h2>Automation scenarios</h2>
            <p className="muted">Triggers, webhooks and flow steps that run for every contact who enters.</p>
          </div>
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            <Icon name="plus" /> New scenario
          </button>
        </div>
        {actionError && (
          <p className="banner banner-error" role="alert">
            {actionError}
          </p>
        )}
        {load.state === 'loading' && <Spinner label="Loading scenarios…" />}
        {load.state === 'error' && <ErrorState title="Could not load the scenarios" error={load.error} onRetry={refresh} />}
        {load.state === 'ready' && load.items.length === 0 && (
          <EmptyState
            title="No scenarios yet"
            action={
              <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
                <Icon name="plus" /> Create your first scenario
              </button>
            }
          >
            A scenario starts with a trigger, such as a contact signing up, and sends webhooks, waits or branches.
          </EmptyState>
        )}
        {load.state === 'ready' && load.items.length > 0 && (
          <table className="table scenario-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Version</th>
                <th scope="col" className="num">
                  Contacts reached
                </th>
                <th scope="col">Last activity</th>
                <th scope="col" className="actions-col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {load.items.map((s) => (
                <tr key={s.id}>
                  <td>
                    <a
                      className="row-link"
                      href={`/scenarios/${encodeURIComponent(s.id)}`}
                      onClick={(e) => {
                        e.preventDefault()
                        navigate(`/scenarios/${encodeURIComponent(s.id)}`)
                      }}
                    >
                      {s.name}
                    </a>
                  </td>
                  <td>
                    <StatusBadge status={s.status} />
                  </td>
                  <td className="version-cell">
                    v{s.version}
                    {s.active_version > 0 && s.active_version !== s.version && (
                      <span className="muted"> · v{s.active_version} live</span>
                    )}
                  </td>
                  <td className="num">{formatCount(s.reached)}</td>
                  <td title={s.last_activity ? formatTime(s.last_activity) : undefined}>{activityTime(s.last_activity)}</td>
                  <td className="row-actions">
                    <button
                      type="button"
                      className="btn btn-small"
                      onClick={() => duplicate(s)}
                      disabled={!!busy}
                      aria-label={`Duplicate ${s.name}`}
                    >
                      <Icon name="copy" /> Duplicate
                    </button>
                    <button
                      type="button"
                      className="btn btn-small"
                      onClick={() => act(s.id, 'archive', () => client.archive(s.id))}
                      disabled={!!busy || s.status === 'archived'}
                      aria-label={`Archive ${s.name}`}
                    >
                      <Icon name="archive" /> Archive
                    </button>
                    <button
                      type="button"
                      className="btn btn-small btn-danger-ghost"
                      onClick={() => setConfirmDelete(s)}
                      disabled={!!busy || !(s.status === 'draft' || s.status === 'archived')}
                      title={s.status === 'draft' || s.status === 'archived' ? undefined : 'Archive it first: only draft or archived scenarios can be deleted'}
                      aria-label={`Delete ${s.name}`}
                    >
                      <Icon name="trash" /> Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </main>
      {creating && <CreateDialog onClose={() => setCreating(false)} />}
      {confirmDelete && (
        <ConfirmDialog
          title="Delete scenario"
          confirmLabel="Delete"
          onClose={() => setConfirmDelete(null)}
          onConfirm={() => {
            const s = confirmDelete
            setConfirmDelete(null)
            void act(s.id, 'delete', () => client.deleteScenario(s.id))
          }}
        >
          <p>
            Delete <strong>{confirmDelete.name}</strong> and all its versions? This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </div>
  )
}

function CreateDialog({ onClose }: { onClose: () => void }) {
  const client = useClient()
  const [name, setName] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  async function submit(e: FormEvent) {
    e.preventDefault()
    if (!name.trim()) {
      setError('Give the scenario a name.')
      return
    }
    setBusy(true)
    try {
      const s = await client.createScenario({ name: name.trim(), graph: { nodes: [], edges: [] } })
      navigate(`/scenarios/${encodeURIComponent(s.id)}`)
    } catch (err) {
      setError(errorMessage(err))
      setBusy(false)
    }
  }
  return (
    <Dialog title="New scenario" onClose={onClose}>
      <form onSubmit={submit} className="stack">
        <label className="field">
          <span className="field-label">Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="Welcome series" maxLength={200} />
        </label>
        <FormActions error={error} busy={busy} onCancel={onClose} submitLabel="Create and open" />
      </form>
    </Dialog>
  )
}
