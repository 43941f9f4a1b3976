// The deliveries of one webhook step, filterable by status, each with every
// attempt's request, status, response excerpt, duration and error.
import { useCallback, useEffect, useState } from 'react'
import { useClient } from '../api/context'
import type { Attempt, Delivery, DeliveryStatus } from '../api/types'
import { EmptyState, ErrorState, Icon, Spinner, errorMessage } from '../components/common'
import { HeaderTable } from '../builder/TestUrl'
import { formatDuration, formatTime, prettyBody, relativeTime } from '../lib/format'

const filters: { value: DeliveryStatus | ''; label: string }[] = [
  { value: '', label: 'All' },
  { value: 'accepted', label: 'Accepted' },
  { value: 'pending', label: 'Pending' },
  { value: 'failed', label: 'Failed' },
]

const PAGE = 25

export function Deliveries({
  scenarioId,
  nodeId,
  version,
  refreshKey,
}: {
  scenarioId: string
  nodeId: string
  version: number
  /** Changes when the step's counters change, to reload the first page. */
  refreshKey: string
}) {
  const client = useClient()
  const [status, setStatus] = useState<DeliveryStatus | ''>('')
  const [items, setItems] = useState<Delivery[] | null>(null)
  const [cursor, setCursor] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [more, setMore] = useState(false)
  const [open, setOpen] = useState<Set<string>>(new Set())

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const page = await client.deliveries(scenarioId, nodeId, { status, version, limit: PAGE }, signal)
        setItems(page.deliveries)
        setCursor(page.next_cursor)
        setError(null)
        setOpen((o) => (o.size === 0 && page.deliveries[0] ? new Set([page.deliveries[0].id]) : o))
      } catch (err) {
        if ((err as Error)?.name !== 'AbortError') setError(err)
      }
    },
    [client, scenarioId, nodeId, status, version],
  )

  useEffect(() => {
    const ac = new AbortController()
    void load(ac.signal)
    return () => ac.abort()
  }, [load, refreshKey])

  async function loadMore() {
    setMore(true)
    try {
      const page = await client.deliveries(scenarioId, nodeId, { status, version, limit: PAGE, cursor })
      setItems((cur) => [...(cur ?? []), ...page.deliveries])
      setCursor(page.next_cursor)
    } catch (err) {
      setError(err)
    } finally {
      setMore(false)
    }
  }

  const toggle = (id: string) =>
    setOpen((o) => {
      const n = new Set(o)
      if (n.has(id)) n.delete(id)
      else n.add(id)
      return n
    })

  return (
    <section className="deliveries" aria-label="Deliveries">
      <div className="section-head">
        <h3>Deliveries</h3>
        <div className="segmented" role="radiogroup" aria-label="Filter deliveries by status">
          {filters.map((f) => (
            <button
              key={f.label}
              type="button"
              role="radio"
              aria-checked={status === f.value}
              className={status === f.value ? 'on' : ''}
              onClick={() => {
                setItems(null)
                setStatus(f.value)
              }}
            >
              {f.label}
            </button>
          ))}
        </div>
      </div>
      {error != null && items === null && <ErrorState title="Could not load the deliveries" error={error} onRetry={() => void load()} />}
      {error != null && items !== null && <p className="form-error">{errorMessage(error)}</p>}
      {items === null && error == null && <Spinner label="Loading deliveries…" />}
      {items !== null && items.length === 0 && (
        <EmptyState title={status ? `No ${status} deliveries` : 'No deliveries yet'}>
          Deliveries appear here as contacts reach this step.
        </EmptyState>
      )}
      {items !== null && items.length > 0 && (
        <ul className="delivery-list">
          {items.map((d) => (
            <li key={d.id} className={`delivery delivery-${d.status}`}>
              <button type="button" className="delivery-head" aria-expanded={open.has(d.id)} onClick={() => toggle(d.id)}>
                <Icon name="chevron" />
                <span className={`pill pill-${d.status}`}>{d.status}</span>
                <span className="delivery-contact" title={d.contact_id}>
                  {d.contact_id || d.message_id}
                </span>
                <span className="muted">
                  {d.attempts} attempt{d.attempts === 1 ? '' : 's'}
                </span>
                <span className="muted delivery-time" title={formatTime(d.created_at)}>
                  {relativeTime(d.created_at)}
                </span>
              </button>
              {open.has(d.id) && (
                <div className="delivery-body">
                  <dl className="kv-list">
                    <dt>Delivery</dt>
                    <dd className="mono">{d.id}</dd>
                    <dt>Message id</dt>
                    <dd className="mono">{d.message_id}</dd>
                    {d.next_attempt_at && d.status === 'pending' && (
                      <>
                        <dt>Next attempt</dt>
                        <dd>{formatTime(d.next_attempt_at)}</dd>
                      </>
                    )}
                    {d.last_error && (
                      <>
                        <dt>Last error</dt>
                        <dd className="text-error">{d.last_error}</dd>
                      </>
                    )}
                  </dl>
                  {d.attempt_log.length === 0 && <p className="muted">Not attempted yet.</p>}
                  <ol className="attempts">
                    {d.attempt_log.map((a) => (
                      <AttemptView key={a.id || a.number} a={a} />
                    ))}
                  </ol>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {cursor && items && items.length > 0 && (
        <button type="button" className="btn btn-small btn-block" onClick={loadMore} disabled={more}>
          {more ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  )
}

function AttemptView({ a }: { a: Attempt }) {
  const ok = a.status_code >= 200 && a.status_code < 300 && !a.error
  return (
    <li className={`attempt ${ok ? 'attempt-ok' : 'attempt-fail'}`} data-testid="attempt">
      <div className="attempt-head">
        <span className="attempt-no">#{a.number}</span>
        <span className={ok ? 'test-ok' : 'test-fail'}>
          <Icon name={ok ? 'check' : 'x'} /> {a.status_code ? `HTTP ${a.status_code}` : 'No answer'}
        </span>
        <span className="muted">{formatDuration(a.duration_ms)}</span>
        <span className="muted attempt-time">{formatTime(a.at)}</span>
      </div>
      {a.error && <p className="text-error attempt-error">{a.error}</p>}
      <details>
        <summary>
          Request <span className="mono muted">{a.method} {a.url}</span>
        </summary>
        <HeaderTable headers={a.request_headers} />
        <pre className="code">{prettyBody(a.request_body) || '(empty body)'}</pre>
      </details>
      <details>
        <summary>Response {a.response_body ? <span className="muted">({a.response_body.length} bytes shown)</span> : null}</summary>
        <HeaderTable headers={a.response_headers} />
        <pre className="code">{prettyBody(a.response_body) || '(empty body)'}</pre>
      </details>
    </li>
  )
}
