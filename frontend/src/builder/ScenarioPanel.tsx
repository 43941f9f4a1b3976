// The side panel when no step is selected: the scenario's settings, its
// problems, and how to use the builder from the keyboard.
import { useState } from 'react'
import type { Problem, ScenarioView } from '../api/types'
import { Icon } from '../components/common'
import { formatCount, formatTime } from '../lib/format'

export function ScenarioPanel({
  scenario,
  reentry,
  onReentry,
  readOnly,
  problems,
  nodeCount,
  entered,
  onSelect,
}: {
  scenario: ScenarioView
  reentry: boolean
  onReentry: (v: boolean) => void
  readOnly: boolean
  problems: Problem[]
  nodeCount: number
  /** Contacts that entered the version shown (null when it has no stats). */
  entered: number | null
  onSelect: (nodeId: string) => void
}) {
  const [reveal, setReveal] = useState(false)
  const byNode = problems.filter((p) => p.node)
  return (
    <aside className="panel" aria-label="Scenario">
      <header className="panel-head">
        <div>
          <span className="panel-kind">Scenario</span>
          <h2>Settings</h2>
        </div>
      </header>
      <div className="panel-body">
        <dl className="kv-list">
          <dt>Latest version</dt>
          <dd>v{scenario.version}</dd>
          <dt>Live version</dt>
          <dd>{scenario.active_version ? `v${scenario.active_version}` : 'never activated'}</dd>
          <dt>Updated</dt>
          <dd>{formatTime(scenario.updated_at)}</dd>
          <dt>Steps</dt>
          <dd>{nodeCount}</dd>
          {entered !== null && (
            <>
              <dt>Contacts entered</dt>
              <dd>{formatCount(entered)}</dd>
            </>
          )}
        </dl>
        <label className="check">
          <input type="checkbox" checked={reentry} disabled={readOnly} onChange={(e) => onReentry(e.target.checked)} />
          <span>Let a contact enter more than once</span>
        </label>
        {scenario.signing_secret && (
          <div className="field">
            <span className="field-label">Signing secret</span>
            <div className="secret-row">
              <code className="mono secret">{reveal ? scenario.signing_secret : 'whsec_' + '•'.repeat(18)}</code>
              <button type="button" className="btn btn-small btn-ghost" onClick={() => setReveal((r) => !r)}>
                {reveal ? 'Hide' : 'Reveal'}
              </button>
            </div>
            <p className="field-help">Webhook requests are signed with it (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).</p>
          </div>
        )}
        {byNode.length > 0 && (
          <section>
            <h3>Problems</h3>
            <ul className="problem-list">
              {byNode.map((p, i) => (
                <li key={i}>
                  <button type="button" className="link-btn" onClick={() => onSelect(p.node!)}>
                    {p.node}
                  </button>
                  {p.field ? ` · ${p.field}` : ''}: {p.message}
                </li>
              ))}
            </ul>
          </section>
        )}
        <section className="help">
          <h3>
            <Icon name="bolt" /> Building
          </h3>
          <ul>
            <li>Drag a step from the palette onto the canvas, then drag from a step's bottom handle to the next step.</li>
            <li>Keyboard: select a step (Tab, then Enter), then press a palette item to add a step connected after it. Connect steps from the panel's “Connect to…”.</li>
            <li>Delete removes the selected step; Ctrl+Z / Ctrl+Shift+Z undo and redo; Ctrl+S saves.</li>
          </ul>
        </section>
      </div>
    </aside>
  )
}
