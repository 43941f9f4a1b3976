// Inbound webhooks: the list, creation, and for the selected one its
// integration guide (URL, keys, examples, custom fields), key rotation,
// deletion and its activity (accepted / refused per hour, last refusals).
import { useCallback, useEffect, useId, useMemo, useState, type FormEvent } from 'react'
import { useClient } from '../api/context'
import type { InboundActivity, InboundWebhook, List } from '../api/types'
import { CodeBlock, CopyField } from '../components/CopyButton'
import { KeyValueRows } from '../components/KeyValueRows'
import { ConfirmDialog, Dialog, FormActions, EmptyState, ErrorState, Icon, Spinner, errorMessage } from '../components/common'
import { MainNav, TopBar } from '../components/TopBar'
import { formatCount, formatTime, relativeTime } from '../lib/format'
import {
  STANDARD_FIELDS,
  emptyInboundForm,
  fullURL,
  inboundInput,
  inboundSeries,
  quickExample,
  refusalLabel,
  secureExample,
  type InboundForm,
} from '../lib/inbound'
import { INBOUND_PATH, navigate } from '../lib/router'
import { HourlyChart } from '../stats/HourlyChart'

type Load = { state: 'loading' } | { state: 'error'; error: unknown } | { state: 'ready'; items: InboundWebhook[]; lists: List[] }

/** How often the selected webhook's activity is polled. */
export const ACTIVITY_POLL_MS = 3000

export function InboundPage({ selectedId, pollMs = ACTIVITY_POLL_MS }: { selectedId?: string; pollMs?: number }) {
  const client = useClient()
  const [load, setLoad] = useState<Load>({ state: 'loading' })
  const [creating, setCreating] = useState(false)

  const refresh = useCallback(async () => {
    try {
      const [items, lists] = await Promise.all([client.inboundWebhooks(), client.lists()])
      setLoad({ state: 'ready', items, lists })
    } catch (error) {
      setLoad({ state: 'error', error })
    }
  }, [client])

  useEffect(() => {
    void refresh()
  }, [refresh])

  const selected = load.state === 'ready' ? (load.items.find((w) => w.id === selectedId) ?? (selectedId ? undefined : load.items[0])) : undefined
  const listName = (id: string) => (load.state === 'ready' ? (load.lists.find((l) => l.id === id)?.name ?? id) : id)

  return (
    <div className="page">
      <TopBar>
        <MainNav />
      </TopBar>
      <main className="list-page wide-page">
        <div className="list-head">
          <div>
            <h2>Inbound webhooks</h2>
            <p className="muted">URLs that forms, CRMs and shops call to subscribe or unsubscribe a contact in one request.</p>
          </div>
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)} disabled={load.state !== 'ready'}>
            <Icon name="plus" /> New inbound webhook
          </button>
        </div>
        {load.state === 'loading' && <Spinner label="Loading inbound webhooks…" />}
        {load.state === 'error' && <ErrorState title="Could not load the inbound webhooks" error={load.error} onRetry={refresh} />}
        {load.state === 'ready' && load.items.length === 0 && (
          <EmptyState
            title="No inbound webhooks yet"
            action={
              <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
                <Icon name="plus" /> Create your first inbound webhook
              </button>
            }
          >
            An inbound webhook gives an outside system a URL and keys to add contacts to a list.
          </EmptyState>
        )}
        {load.state === 'ready' && load.items.length > 0 && (
          <div className="master-detail">
            <ul className="item-list" aria-label="Inbound webhooks">
              {load.items.map((w) => (
                <li key={w.id}>
                  <a
                    href={`${INBOUND_PATH}/${encodeURIComponent(w.id)}`}
                    className={`item-link${selected?.id === w.id ? ' is-selected' : ''}`}
                    aria-current={selected?.id === w.id ? 'true' : undefined}
                    onClick={(e) => {
                      e.preventDefault()
                      navigate(`${INBOUND_PATH}/${encodeURIComponent(w.id)}`)
                    }}
                  >
                    <span className="item-title">{w.name}</span>
                    <span className="item-meta">
                      <span className={`pill pill-${w.action}`}>{w.action === 'unsubscribe' ? 'Unsubscribe' : 'Subscribe'}</span>
                      {listName(w.list_id)}
                    </span>
                  </a>
                </li>
              ))}
            </ul>
            {selected ? (
              <InboundDetail
                key={selected.id}
                webhook={selected}
                pollMs={pollMs}
                listName={listName(selected.list_id)}
                onChanged={refresh}
                onDeleted={async () => {
                  navigate(INBOUND_PATH, { replace: true })
                  await refresh()
                }}
              />
            ) : (
              <div className="detail">
                <EmptyState title="This inbound webhook does not exist">It may have been deleted. Choose another one in the list.</EmptyState>
              </div>
            )}
          </div>
        )}
      </main>
      {creating && load.state === 'ready' && (
        <CreateInboundDialog
          lists={load.lists}
          onClose={() => setCreating(false)}
          onCreated={async (w) => {
            setCreating(false)
            await refresh()
            navigate(`${INBOUND_PATH}/${encodeURIComponent(w.id)}`)
          }}
        />
      )}
    </div>
  )
}

function InboundDetail({
  webhook: initial,
  pollMs,
  listName,
  onChanged,
  onDeleted,
}: {
  webhook: InboundWebhook
  pollMs: number
  listName: string
  onChanged: () => Promise<void>
  onDeleted: () => Promise<void>
}) {
  const client = useClient()
  const [w, setW] = useState(initial)
  const [confirm, setConfirm] = useState<'rotate' | 'delete' | null>(null)
  const [busy, setBusy] = useState(false)
  const [flash, setFlash] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null)
  const origin = window.location.origin
  useEffect(() => setW(initial), [initial])

  async function rotate() {
    setConfirm(null)
    setBusy(true)
    try {
      setW(await client.rotateInboundKeys(w.id))
      setFlash({ kind: 'ok', text: 'New keys made: the old ones no longer work. Update the systems that call this webhook.' })
      await onChanged()
    } catch (err) {
      setFlash({ kind: 'error', text: `Could not rotate the keys: ${errorMessage(err)}` })
    } finally {
      setBusy(false)
    }
  }

  async function remove() {
    setConfirm(null)
    setBusy(true)
    try {
      await client.deleteInbound(w.id)
      await onDeleted()
    } catch (err) {
      setFlash({ kind: 'error', text: `Could not delete: ${errorMessage(err)}` })
      setBusy(false)
    }
  }

  const headers = Object.entries(w.allowed_headers ?? {})
  return (
    <section className="detail" aria-label={`Inbound webhook ${w.name}`}>
      <header className="detail-head">
        <div>
          <h3>{w.name}</h3>
          <p className="muted">
            {w.action === 'unsubscribe' ? 'Unsubscribes from' : 'Subscribes to'} <strong>{listName}</strong> · {(w.allowed_methods ?? []).join(', ') || 'GET, POST'} ·{' '}
            {w.allowed_ips?.length ? `from ${w.allowed_ips.join(', ')}` : 'from any IP'}
            {headers.length > 0 && <> · requires {headers.map(([k, v]) => `${k}: ${v}`).join(', ')}</>}
          </p>
        </div>
        <div className="detail-actions">
          <button type="button" className="btn btn-small" onClick={() => setConfirm('rotate')} disabled={busy}>
            <Icon name="refresh" /> Rotate keys
          </button>
          <button type="button" className="btn btn-small btn-danger-ghost" onClick={() => setConfirm('delete')} disabled={busy}>
            <Icon name="trash" /> Delete
          </button>
        </div>
      </header>
      {flash && (
        <p className={`banner banner-${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'}>
          {flash.text}
        </p>
      )}

      <ActivityPanel webhookId={w.id} pollMs={pollMs} />

      <div className="card">
        <h4>Integration guide</h4>
        <div className="copy-fields">
          <CopyField label="URL" value={fullURL(w, origin)} testId="inbound-url" />
          <CopyField label="API key" value={w.api_key} testId="inbound-api-key" />
          <CopyField label="Secret key" value={w.secret_key} testId="inbound-secret-key" />
        </div>
        <h5>The quick way</h5>
        <p className="muted small">The API key and the contact's fields in the query string (or a form or JSON body).</p>
        <CodeBlock code={quickExample(w, origin)} label="Quick way example" />
        <h5>The secure way</h5>
        <p className="muted small">
          No key in the URL: the fields travel encrypted in <code>payload</code> = base64(IV ‖ AES-256-CBC ciphertext), the key being the secret key.
        </p>
        <CodeBlock code={secureExample(w, origin)} label="Secure way example" />
        <h5>Fields a call may pass</h5>
        <table className="table table-compact">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
            </tr>
          </thead>
          <tbody>
            {STANDARD_FIELDS.map((k) => (
              <tr key={k}>
                <td>
                  <code>{k}</code>
                </td>
                <td>{k === 'email' ? 'Email' : k === 'firstname' ? 'First name' : 'Last name'}</td>
                <td className="muted">{k === 'email' ? 'standard, required' : 'standard'}</td>
              </tr>
            ))}
            {(w.custom_fields ?? []).map((f) => (
              <tr key={f.key} data-testid="custom-field-row">
                <td>
                  <code>{f.key}</code>
                </td>
                <td>{f.name}</td>
                <td className="muted">custom</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      {confirm === 'rotate' && (
        <ConfirmDialog title="Rotate keys" confirmLabel="Rotate keys" danger={false} onClose={() => setConfirm(null)} onConfirm={() => void rotate()}>
          <p>
            Give <strong>{w.name}</strong> a new API key and secret key? The current ones stop working at once.
          </p>
        </ConfirmDialog>
      )}
      {confirm === 'delete' && (
        <ConfirmDialog title="Delete inbound webhook" confirmLabel="Delete" onClose={() => setConfirm(null)} onConfirm={() => void remove()}>
          <p>
            Delete <strong>{w.name}</strong> and its activity? Calls to its URL will be answered 404. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  )
}

type ActivityLoad = { state: 'loading' } | { state: 'error'; error: unknown } | { state: 'ready'; activity: InboundActivity }

/** ActivityPanel polls the webhook's last 24 hours of calls. */
export function ActivityPanel({ webhookId, pollMs = ACTIVITY_POLL_MS }: { webhookId: string; pollMs?: number }) {
  const client = useClient()
  const [load, setLoad] = useState<ActivityLoad>({ state: 'loading' })

  const fetchActivity = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const activity = await client.inboundActivity(webhookId, 24, signal)
        setLoad({ state: 'ready', activity })
      } catch (error) {
        if ((error as Error)?.name === 'AbortError') return
        setLoad((prev) => (prev.state === 'ready' ? prev : { state: 'error', error }))
      }
    },
    [client, webhookId],
  )

  useEffect(() => {
    const ac = new AbortController()
    void fetchActivity(ac.signal)
    const t = setInterval(() => void fetchActivity(ac.signal), pollMs)
    return () => {
      clearInterval(t)
      ac.abort()
    }
  }, [fetchActivity, pollMs])

  const activity = load.state === 'ready' ? load.activity : undefined
  const hourKey = activity ? JSON.stringify(activity.hours) : ''
  // Rebuilt only when the hours change, not on every poll.
  const series = useMemo(() => inboundSeries(hourKey ? { hours: JSON.parse(hourKey) } : undefined), [hourKey])
  const lines = useMemo(
    () => [
      { label: 'Accepted', color: '#059669', values: series.accepted, bars: true },
      { label: 'Refused', color: '#dc2626', values: series.refused },
    ],
    [series],
  )

  return (
    <div className="card">
      <h4>Activity, last 24 hours</h4>
      {load.state === 'loading' && <Spinner label="Loading the activity…" />}
      {load.state === 'error' && <ErrorState title="Could not load the activity" error={load.error} onRetry={() => void fetchActivity()} />}
      {activity && (
        <>
          <div className="counters counters-2">
            <div className="counter counter-ok">
              <span className="counter-value" data-testid="inbound-accepted">
                {formatCount(activity.accepted)}
              </span>
              <span className="counter-label">accepted</span>
            </div>
            <div className="counter counter-fail">
              <span className="counter-value" data-testid="inbound-refused">
                {formatCount(activity.refused)}
              </span>
              <span className="counter-label">refused</span>
            </div>
          </div>
          <HourlyChart x={series.x} lines={lines} label="Accepted and refused calls per hour" height={160} />
          <h5>Last refusals</h5>
          {(activity.refusals ?? []).length === 0 ? (
            <p className="muted small">No refused calls.</p>
          ) : (
            <table className="table table-compact" aria-label="Last refusals">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Method</th>
                  <th scope="col">IP</th>
                </tr>
              </thead>
              <tbody>
                {(activity.refusals ?? []).map((r) => (
                  <tr key={r.id} data-testid="refusal">
                    <td title={formatTime(r.at)}>{relativeTime(r.at)}</td>
                    <td>
                      <strong>{refusalLabel(r.code)}</strong>
                      {r.reason && <span className="muted"> · {r.reason}</span>}
                    </td>
                    <td>{r.method}</td>
                    <td>
                      <code>{r.remote_ip}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </div>
  )
}

export function CreateInboundDialog({
  lists,
  onClose,
  onCreated,
}: {
  lists: List[]
  onClose: () => void
  onCreated: (w: InboundWebhook) => void | Promise<void>
}) {
  const client = useClient()
  const [form, setForm] = useState<InboundForm>(() => ({ ...emptyInboundForm, listId: lists.length === 1 ? lists[0].id : '' }))
  const [problems, setProblems] = useState<Record<string, string>>({})
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const id = useId()
  const set = (patch: Partial<InboundForm>) => setForm((f) => ({ ...f, ...patch }))

  async function submit(e: FormEvent) {
    e.preventDefault()
    const { input, problems } = inboundInput(form)
    setProblems(problems)
    setError('')
    if (!input) return
    setBusy(true)
    try {
      const w = await client.createInbound(input)
      await onCreated(w)
    } catch (err) {
      setError(errorMessage(err))
      setBusy(false)
    }
  }

  const toggleMethod = (m: string) => set({ methods: form.methods.includes(m) ? form.methods.filter((x) => x !== m) : [...form.methods, m].sort() })

  return (
    <Dialog title="New inbound webhook" onClose={onClose} wide>
      <form onSubmit={submit} className="stack" noValidate>
        <div className="form-grid">
          <div className="field">
            <label className="field-label" htmlFor={`${id}-name`}>
              Name
            </label>
            <input
              id={`${id}-name`}
              value={form.name}
              onChange={(e) => set({ name: e.target.value })}
              placeholder="Lead form"
              maxLength={200}
              aria-invalid={!!problems.name || undefined}
            />
            {problems.name && <span className="field-error">{problems.name}</span>}
          </div>
          <div className="field">
            <label className="field-label" htmlFor={`${id}-list`}>
              Target list
            </label>
            <select id={`${id}-list`} value={form.listId} onChange={(e) => set({ listId: e.target.value })} aria-invalid={!!problems.list || undefined}>
              <option value="">Choose a list…</option>
              {lists.map((l) => (
                <option key={l.id} value={l.id}>
                  {l.name}
                </option>
              ))}
            </select>
            {lists.length === 0 && <span className="field-help">There are no lists yet: create one with POST /api/v1/lists.</span>}
            {problems.list && <span className="field-error">{problems.list}</span>}
          </div>
        </div>
        <div className="form-grid">
          <fieldset className="field">
            <legend className="field-label">Action</legend>
            <div className="choice-row">
              {(['subscribe', 'unsubscribe'] as const).map((a) => (
                <label key={a} className="choice">
                  <input type="radio" name="inbound-action" checked={form.action === a} onChange={() => set({ action: a })} />
                  {a === 'subscribe' ? 'Subscribe' : 'Unsubscribe'}
                </label>
              ))}
            </div>
          </fieldset>
          <fieldset className="field">
            <legend className="field-label">Allowed methods</legend>
            <div className="choice-row">
              {['GET', 'POST'].map((m) => (
                <label key={m} className="choice">
                  <input type="checkbox" checked={form.methods.includes(m)} onChange={() => toggleMethod(m)} />
                  {m}
                </label>
              ))}
            </div>
            {problems.methods && <span className="field-error">{problems.methods}</span>}
          </fieldset>
        </div>
        <div className="field">
          <span className="field-label">Allowed headers</span>
          <span className="field-help">A call must carry each header with this value. None: any headers.</span>
          <KeyValueRows label="Allowed headers" value={form.headers} onChange={(headers) => set({ headers })} addLabel="Add header" keyHint="X-Source" valueHint="crm" />
        </div>
        <div className="field">
          <label className="field-label" htmlFor={`${id}-ips`}>
            Allowed IPs and CIDR ranges
          </label>
          <textarea
            id={`${id}-ips`}
            rows={2}
            value={form.ips}
            onChange={(e) => set({ ips: e.target.value })}
            placeholder="203.0.113.0/24, 2001:db8::/32"
            spellCheck={false}
            aria-invalid={!!problems.ips || undefined}
          />
          <span className="field-help">One per line or separated by commas. None: any IP.</span>
          {problems.ips && <span className="field-error">{problems.ips}</span>}
        </div>
        <div className="field">
          <span className="field-label">Custom fields</span>
          <span className="field-help">Besides email, firstname and lastname, the fields a call may pass: key (c3) → name (First name).</span>
          <KeyValueRows
            label="Custom fields"
            value={form.fields}
            onChange={(fields) => set({ fields })}
            addLabel="Add custom field"
            keyHint="c3"
            valueHint="First name"
            invalid={!!problems.fields}
          />
          {problems.fields && <span className="field-error">{problems.fields}</span>}
        </div>
        <FormActions error={error} busy={busy} onCancel={onClose} submitLabel="Create webhook" />
      </form>
    </Dialog>
  )
}
