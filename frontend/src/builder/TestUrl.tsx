// The Test URL button beside a webhook step's URL: sends the test request
// through POST /api/v1/webhooks/test and shows the outcome and its details.
import { useState } from 'react'
import { useClient } from '../api/context'
import type { TestRequest, TestResult } from '../api/types'
import { Dialog, Icon, errorMessage } from '../components/common'
import { formatDuration, prettyBody } from '../lib/format'

type Outcome = { kind: 'result'; result: TestResult } | { kind: 'error'; message: string }

/** testRequestOf builds the test call from a step's config. */
export function testRequestOf(config: Record<string, unknown>, ids: { scenarioId?: string; nodeId?: string }): TestRequest {
  const req: TestRequest = { url: typeof config.url === 'string' ? config.url : '' }
  if (typeof config.method === 'string' && config.method) req.method = config.method
  if (config.headers && typeof config.headers === 'object') req.headers = config.headers as Record<string, string>
  if (config.data && typeof config.data === 'object') req.data = config.data as Record<string, unknown>
  if (Array.isArray(config.fields)) req.fields = config.fields.map(String)
  if (typeof config.timeout === 'string' && config.timeout) req.timeout = config.timeout
  if (ids.scenarioId) req.scenario_id = ids.scenarioId
  if (ids.nodeId) req.node_id = ids.nodeId
  return req
}

export function TestUrl({ config, scenarioId, nodeId }: { config: Record<string, unknown>; scenarioId: string; nodeId: string }) {
  const client = useClient()
  const [busy, setBusy] = useState(false)
  const [outcome, setOutcome] = useState<Outcome | null>(null)
  const [details, setDetails] = useState(false)
  const [asContact, setAsContact] = useState(false)
  const [email, setEmail] = useState('')
  const url = typeof config.url === 'string' ? config.url.trim() : ''

  async function run() {
    setBusy(true)
    setOutcome(null)
    try {
      const req = testRequestOf(config, { scenarioId, nodeId })
      if (asContact && email.trim()) {
        const c = await client.contactByEmail(email.trim())
        if (!c) {
          setOutcome({ kind: 'error', message: `No contact with the email ${email.trim()}` })
          return
        }
        req.contact_id = c.id
      }
      setOutcome({ kind: 'result', result: await client.testWebhook(req) })
    } catch (err) {
      setOutcome({ kind: 'error', message: errorMessage(err) })
    } finally {
      setBusy(false)
    }
  }

  const r = outcome?.kind === 'result' ? outcome.result : null
  return (
    <div className="test-url">
      <div className="test-url-row">
        <button type="button" className="btn btn-small" onClick={run} disabled={busy || !url}>
          <Icon name="send" /> {busy ? 'Testing…' : 'Test URL'}
        </button>
        <label className="check check-small">
          <input type="checkbox" checked={asContact} onChange={(e) => setAsContact(e.target.checked)} />
          <span>as a contact</span>
        </label>
        <div className="test-outcome" aria-live="polite" data-testid="test-outcome">
          {r && r.ok && (
            <span className="test-ok" data-testid="test-ok">
              <Icon name="check" /> {r.status_code} · {formatDuration(r.duration_ms)}
            </span>
          )}
          {r && !r.ok && (
            <span className="test-fail" data-testid="test-fail" title={r.error}>
              <Icon name="x" /> {r.status_code ? `${r.status_code}` : r.error || 'Failed'}
              {r.status_code ? ` · ${formatDuration(r.duration_ms)}` : ''}
            </span>
          )}
          {outcome?.kind === 'error' && (
            <span className="test-fail" data-testid="test-fail">
              <Icon name="x" /> {outcome.message}
            </span>
          )}
          {r && (
            <button type="button" className="link-btn" onClick={() => setDetails(true)}>
              See details
            </button>
          )}
        </div>
      </div>
      {asContact && (
        <input
          className="test-contact"
          type="email"
          placeholder="Contact email (sample data when empty)"
          aria-label="Test as contact with email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
      )}
      {details && r && <TestDetails result={r} onClose={() => setDetails(false)} />}
    </div>
  )
}

export function TestDetails({ result, onClose }: { result: TestResult; onClose: () => void }) {
  const req = result.request ?? { headers: {}, body: '' }
  return (
    <Dialog title="Test request details" onClose={onClose} wide>
      <div className="details-grid">
        <section>
          <h3>Request</h3>
          <p className="mono request-line">
            <b>{req.method ?? 'POST'}</b> {req.url}
          </p>
          <HeaderTable headers={req.headers} />
          <pre className="code">{prettyBody(req.body) || '(empty body)'}</pre>
        </section>
        <section>
          <h3>Response</h3>
          <p className={result.ok ? 'test-ok' : 'test-fail'}>
            <Icon name={result.ok ? 'check' : 'x'} /> {result.status_code ? `HTTP ${result.status_code}` : 'No answer'} ·{' '}
            {formatDuration(result.duration_ms)}
          </p>
          {result.error && <p className="form-error">{result.error}</p>}
          <HeaderTable headers={result.response_headers} />
          <pre className="code">{prettyBody(result.response_body) || '(empty body)'}</pre>
        </section>
      </div>
    </Dialog>
  )
}

export function HeaderTable({ headers }: { headers?: Record<string, string> }) {
  const entries = Object.entries(headers ?? {}).sort(([a], [b]) => a.localeCompare(b))
  if (entries.length === 0) return null
  return (
    <table className="headers-table">
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td>{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
