// Event subscriptions: outbound webhooks bound to an event. The list with
// status, failures and filters; create, delete, deactivate, reactivate
// (replaying the buffered events or not); and the notifications.
import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { useClient } from '../api/context'
import { SUBSCRIPTION_EVENTS, type List, type Notification, type Subscription } from '../api/types'
import { CopyButton } from '../components/CopyButton'
import { ConfirmDialog, Dialog, FormActions, EmptyState, ErrorState, Icon, Spinner, errorMessage } from '../components/common'
import { MainNav, TopBar } from '../components/TopBar'
import { formatCount, formatTime, plural, relativeTime } from '../lib/format'
import { eventLabel, failureSummary, notificationSubject, subscriptionStatus } from '../lib/subscriptions'

type Load =
  | { state: 'loading' }
  | { state: 'error'; error: unknown }
  | { state: 'ready'; shown: Subscription[]; all: Subscription[]; lists: List[]; notifications: Notification[]; notificationsError?: unknown }

/** How often the list is refreshed (counters move as deliveries are attempted). */
export const SUBSCRIPTIONS_POLL_MS = 5000

export function SubscriptionsPage({ pollMs = SUBSCRIPTIONS_POLL_MS }: { pollMs?: number }) {
  const client = useClient()
  const [load, setLoad] = useState<Load>({ state: 'loading' })
  const [app, setApp] = useState('')
  const [event, setEvent] = useState('')
  const [creating, setCreating] = useState(false)
  const [reactivating, setReactivating] = useState<Subscription | null>(null)
  const [deleting, setDeleting] = useState<Subscription | null>(null)
  const [busy, setBusy] = useState('')
  const [flash, setFlash] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null)

  const refresh = useCallback(async () => {
    try {
      const filtered = !!(app.trim() || event)
      const [all, shown, lists, notes] = await Promise.all([
        client.subscriptions(),
        filtered ? client.subscriptions({ app: app.trim(), event }) : Promise.resolve(null),
        client.lists(),
        client.notifications(20).then(
          (n) => ({ n, e: undefined as unknown }),
          (e: unknown) => ({ n: [] as Notification[], e }),
        ),
      ])
      setLoad({ state: 'ready', all, shown: shown ?? all, lists, notifications: notes.n, notificationsError: notes.e })
    } catch (error) {
      // A failed poll keeps what is shown; a failed first load says so.
      setLoad((prev) => (prev.state === 'ready' ? prev : { state: 'error', error }))
    }
  }, [client, app, event])

  useEffect(() => {
    void refresh()
    const t = setInterval(() => void refresh(), pollMs)
    return () => clearInterval(t)
  }, [refresh, pollMs])

  async function act(s: Subscription, what: string, fn: () => Promise<unknown>, done: string) {
    setBusy(`${what}:${s.id}`)
    setFlash(null)
    try {
      await fn()
      setFlash({ kind: 'ok', text: done })
      await refresh()
    } catch (err) {
      setFlash({ kind: 'error', text: `Could not ${what}: ${errorMessage(err)}` })
    } finally {
      setBusy('')
    }
  }

  const listName = (id?: string) => (id && load.state === 'ready' ? (load.lists.find((l) => l.id === id)?.name ?? id) : '')
  const apps = load.state === 'ready' ? [...new Set(load.all.map((s) => s.app))].sort() : []

  return (
    <div className="page">
      <TopBar>
        <MainNav />
      </TopBar>
      <main className="list-page wide-page">
        <div className="list-head">
          <div>
            <h2>Event subscriptions</h2>
            <p className="muted">Outbound webhooks: each sends one event (opt-in, opt-out, profile update, new contact) to a URL, signed.</p>
          </div>
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)} disabled={load.state !== 'ready'}>
            <Icon name="plus" /> New subscription
          </button>
        </div>
        {flash && (
          <p className={`banner banner-${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'}>
            {flash.text}
            <button type="button" className="banner-close icon-btn" aria-label="Dismiss" onClick={() => setFlash(null)}>
              <Icon name="x" />
            </button>
          </p>
        )}
        {load.state === 'ready' && <Notifications load={load} busy={!!busy} onReactivate={setReactivating} />}
        <div className="filters" role="search" aria-label="Filter subscriptions">
          <label className="field field-inline">
            <span className="field-label">App</span>
            <input list="subscription-apps" value={app} onChange={(e) => setApp(e.target.value)} placeholder="Any app" />
            <datalist id="subscription-apps">
              {apps.map((a) => (
                <option key={a} value={a} />
              ))}
            </datalist>
          </label>
          <label className="field field-inline">
            <span className="field-label">Event</span>
            <select value={event} onChange={(e) => setEvent(e.target.value)}>
              <option value="">Any event</option>
              {SUBSCRIPTION_EVENTS.map((ev) => (
                <option key={ev} value={ev}>
                  {eventLabel(ev)}
                </option>
              ))}
            </select>
          </label>
        </div>
        {load.state === 'loading' && <Spinner label="Loading event subscriptions…" />}
        {load.state === 'error' && <ErrorState title="Could not load the event subscriptions" error={load.error} onRetry={refresh} />}
        {load.state === 'ready' && load.shown.length === 0 && (
          <EmptyState
            title={load.all.length === 0 ? 'No event subscriptions yet' : 'No subscription matches these filters'}
            action={
              load.all.length === 0 ? (
                <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
                  <Icon name="plus" /> Create your first subscription
                </button>
              ) : undefined
            }
          >
            {load.all.length === 0 ? 'Subscribe a URL to an event to be told when a contact opts in, opts out or changes.' : 'Change or clear the app and event filters.'}
          </EmptyState>
        )}
        {load.state === 'ready' && load.shown.length > 0 && (
          <table className="table sub-table">
            <thead>
              <tr>
                <th scope="col">App · event</th>
                <th scope="col">URL</th>
                <th scope="col">Status</th>
                <th scope="col" className="num" title="Deliveries accepted by the URL / deliveries made">
                  Accepted / deliveries
                </th>
                <th scope="col">Failures</th>
                <th scope="col" className="actions-col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {load.shown.map((s) => {
                const st = subscriptionStatus(s)
                return (
                  <tr key={s.id} data-testid={`subscription-${s.id}`}>
                    <td>
                      <strong>{s.app}</strong>
                      <div className="muted small">
                        {eventLabel(s.event)}
                        {s.list_id && <> · list {listName(s.list_id)}</>}
                      </div>
                    </td>
                    <td className="url-cell">
                      <code title={s.url}>{s.url}</code>
                      <div className="secret-row">
                        <CopyButton text={s.secret} label={`signing secret of ${s.app} ${s.event}`} />
                        <span className="muted small">signing secret</span>
                      </div>
                    </td>
                    <td>
                      <span className={`badge badge-sub-${st.tone}`} data-testid="sub-status">
                        {st.label}
                      </span>
                      {st.detail && (
                        <div className="muted small" title={s.deactivated_at ? formatTime(s.deactivated_at) : undefined}>
                          {st.detail}
                        </div>
                      )}
                      {!s.active && s.buffered > 0 && <div className="small">{plural(s.buffered, 'event')} buffered</div>}
                    </td>
                    <td className="num">
                      {formatCount(s.accepted)} / {formatCount(s.deliveries)}
                      {s.pending > 0 && <div className="muted small">{formatCount(s.pending)} pending</div>}
                    </td>
                    <td className="fail-cell">
                      <span className={s.consecutive_failures > 0 ? 'text-error' : undefined}>{failureSummary(s)}</span>
                      {s.last_error && (
                        <div className="muted small clamp" title={s.last_error}>
                          {s.last_error}
                        </div>
                      )}
                    </td>
                    <td className="row-actions">
                      {s.active ? (
                        <button
                          type="button"
                          className="btn btn-small"
                          disabled={!!busy}
                          aria-label={`Deactivate ${s.app} ${s.event}`}
                          onClick={() => void act(s, 'deactivate', () => client.deactivateSubscription(s.id), 'Deactivated: its events are buffered for 5 days.')}
                        >
                          <Icon name="pause" /> Deactivate
                        </button>
                      ) : (
                        <button type="button" className="btn btn-small btn-primary" disabled={!!busy} aria-label={`Reactivate ${s.app} ${s.event}`} onClick={() => setReactivating(s)}>
                          <Icon name="play" /> Reactivate
                        </button>
                      )}
                      <button
                        type="button"
                        className="btn btn-small btn-danger-ghost"
                        disabled={!!busy}
                        aria-label={`Delete ${s.app} ${s.event}`}
                        onClick={() => setDeleting(s)}
                      >
                        <Icon name="trash" /> Delete
                      </button>
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        )}
      </main>
      {creating && load.state === 'ready' && (
        <CreateSubscriptionDialog
          lists={load.lists}
          onClose={() => setCreating(false)}
          onCreated={async () => {
            setCreating(false)
            setFlash({ kind: 'ok', text: 'Subscription created. Copy its signing secret to check the requests.' })
            await refresh()
          }}
        />
      )}
      {reactivating && (
        <ReactivateDialog
          sub={reactivating}
          onClose={() => setReactivating(null)}
          onConfirm={(replay) => {
            const s = reactivating
            setReactivating(null)
            void act(
              s,
              'reactivate',
              () => client.activateSubscription(s.id, replay),
              replay ? 'Reactivated: the buffered events are being delivered in order.' : 'Reactivated: the buffered events were dropped.',
            )
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title="Delete subscription"
          confirmLabel="Delete"
          onClose={() => setDeleting(null)}
          onConfirm={() => {
            const s = deleting
            setDeleting(null)
            void act(s, 'delete', () => client.deleteSubscription(s.id), 'Subscription deleted.')
          }}
        >
          <p>
            Delete the subscription of <strong>{deleting.app}</strong> to {eventLabel(deleting.event)} with its deliveries and buffered events? This cannot be
            undone.
          </p>
        </ConfirmDialog>
      )}
    </div>
  )
}

function Notifications({
  load,
  busy,
  onReactivate,
}: {
  load: Extract<Load, { state: 'ready' }>
  busy: boolean
  onReactivate: (s: Subscription) => void
}) {
  if (load.notificationsError) {
    return (
      <p className="banner banner-error" role="alert">
        Could not load the notifications: {errorMessage(load.notificationsError)}
      </p>
    )
  }
  if (load.notifications.length === 0) return null
  return (
    <section className="notifications" aria-label="Notifications">
      <h3>
        <Icon name="alert" /> Notifications
      </h3>
      <ul>
        {load.notifications.map((n) => {
          const sub = notificationSubject(n, load.all)
          return (
            <li key={n.id} className="notification" data-testid="notification">
              <div>
                <p>{n.message}</p>
                <span className="muted small" title={formatTime(n.created_at)}>
                  {relativeTime(n.created_at)}
                </span>
              </div>
              {sub && !sub.active && (
                <button type="button" className="btn btn-small btn-primary" disabled={busy} onClick={() => onReactivate(sub)}>
                  <Icon name="play" /> Reactivate
                </button>
              )}
              {sub && sub.active && <span className="badge badge-sub-active">Active again</span>}
            </li>
          )
        })}
      </ul>
    </section>
  )
}

export function ReactivateDialog({ sub, onClose, onConfirm }: { sub: Subscription; onClose: () => void; onConfirm: (replay: boolean) => void }) {
  const [replay, setReplay] = useState(true)
  return (
    <Dialog
      title="Reactivate subscription"
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="btn btn-primary" onClick={() => onConfirm(replay)}>
            Reactivate
          </button>
        </>
      }
    >
      <div className="stack">
        <p>
          Reactivate <strong>{sub.app}</strong> · {eventLabel(sub.event)} to <code>{sub.url}</code>.{' '}
          {sub.buffered > 0 ? `${plural(sub.buffered, 'event')} ${sub.buffered === 1 ? 'was' : 'were'} buffered while it was inactive.` : 'No events are buffered.'}
        </p>
        <fieldset className="field">
          <legend className="field-label">Buffered events</legend>
          <label className="choice">
            <input type="radio" name="replay" checked={replay} onChange={() => setReplay(true)} />
            Replay buffered events (in their original order, up to 5 days old)
          </label>
          <label className="choice">
            <input type="radio" name="replay" checked={!replay} onChange={() => setReplay(false)} />
            Drop them and only send new events
          </label>
        </fieldset>
      </div>
    </Dialog>
  )
}

export function CreateSubscriptionDialog({ lists, onClose, onCreated }: { lists: List[]; onClose: () => void; onCreated: (s: Subscription) => void | Promise<void> }) {
  const client = useClient()
  const [app, setApp] = useState('')
  const [event, setEvent] = useState<string>(SUBSCRIPTION_EVENTS[0])
  const [url, setUrl] = useState('')
  const [listId, setListId] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  async function submit(e: FormEvent) {
    e.preventDefault()
    if (!app.trim()) return setError('Name the app this subscription is for.')
    if (!/^https?:\/\/\S+$/.test(url.trim())) return setError('The URL starts with http:// or https://.')
    setBusy(true)
    setError('')
    try {
      const s = await client.createSubscription({ app: app.trim(), event, url: url.trim(), ...(listId ? { list_id: listId } : {}) })
      await onCreated(s)
    } catch (err) {
      setError(errorMessage(err))
      setBusy(false)
    }
  }

  return (
    <Dialog title="New event subscription" onClose={onClose}>
      <form onSubmit={submit} className="stack" noValidate>
        <label className="field">
          <span className="field-label">App</span>
          <input value={app} onChange={(e) => setApp(e.target.value)} placeholder="crm" maxLength={100} />
        </label>
        <label className="field">
          <span className="field-label">Event</span>
          <select value={event} onChange={(e) => setEvent(e.target.value)}>
            {SUBSCRIPTION_EVENTS.map((ev) => (
              <option key={ev} value={ev}>
                {eventLabel(ev)} ({ev})
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span className="field-label">URL</span>
          <input value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://crm.example.com/hooks/sluice" spellCheck={false} />
        </label>
        <label className="field">
          <span className="field-label">List (optional)</span>
          <select value={listId} onChange={(e) => setListId(e.target.value)}>
            <option value="">Any list</option>
            {lists.map((l) => (
              <option key={l.id} value={l.id}>
                {l.name}
              </option>
            ))}
          </select>
        </label>
        <FormActions error={error} busy={busy} onCancel={onClose} submitLabel="Create subscription" />
      </form>
    </Dialog>
  )
}
