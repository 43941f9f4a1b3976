// The side panel of the selected step: its settings form (generated from the
// config schema), its connections, and its statistics.
import { useMemo, useState } from 'react'
import type { NodeSpec, Problem, StepStats } from '../api/types'
import { Icon } from '../components/common'
import { SchemaForm, type Choice } from '../components/SchemaForm'
import { outputsOf, type StepEdge, type StepNode } from '../lib/graph'
import { fieldProblems } from '../lib/problems'
import { fieldsOf } from '../lib/schema'
import { StepStatsView } from '../stats/StepStatsView'
import { isWebhookStep, kindNames } from './kinds'
import { TestUrl } from './TestUrl'

export type PanelTab = 'settings' | 'stats'

export interface NodePanelProps {
  node: StepNode
  spec: NodeSpec | undefined
  specs: Map<string, NodeSpec>
  nodes: StepNode[]
  edges: StepEdge[]
  problems: Problem[]
  readOnly: boolean
  scenarioId: string
  tab: PanelTab
  onTab: (t: PanelTab) => void
  /** Version whose stats are shown, 0 when it has none. */
  statsVersion: number
  stats: StepStats | undefined
  onConfig: (key: string, value: unknown) => void
  onDelete: () => void
  onConnect: (target: string, handle: string | null) => string
  onRemoveEdge: (id: string) => void
  onClose: () => void
  choices?: (key: string) => Choice[] | undefined
}

export function NodePanel(p: NodePanelProps) {
  const { node, spec } = p
  const fields = useMemo(() => fieldsOf(spec?.schema), [spec])
  const errors = useMemo(() => fieldProblems(p.problems), [p.problems])
  const nodeErrors = errors.get('') ?? []
  // Problems about keys the form does not show are listed with the node's own.
  const shown = new Set(fields.map((f) => f.key))
  const orphan = [...errors.entries()].filter(([k]) => k !== '' && !shown.has(k)).flatMap(([k, m]) => m.map((x) => `${k}: ${x}`))
  const webhook = isWebhookStep(node.data.type)
  const hasStats = p.statsVersion > 0
  const tab = hasStats ? p.tab : 'settings'
  const label = spec?.label ?? node.data.type

  return (
    <aside className="panel" aria-label={`${label} step`}>
      <header className="panel-head">
        <div>
          <span className="panel-kind">{spec ? kindNames[spec.kind] : 'Unknown type'}</span>
          <h2>{label}</h2>
          <code className="panel-id" title="Step id">
            {node.id}
          </code>
        </div>
        <button type="button" className="icon-btn" aria-label="Close panel" onClick={p.onClose}>
          <Icon name="x" />
        </button>
      </header>
      {hasStats && (
        <div className="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={tab === 'settings'} className={tab === 'settings' ? 'on' : ''} onClick={() => p.onTab('settings')}>
            Settings
          </button>
          <button type="button" role="tab" aria-selected={tab === 'stats'} className={tab === 'stats' ? 'on' : ''} onClick={() => p.onTab('stats')}>
            <Icon name="chart" /> Statistics
          </button>
        </div>
      )}
      <div className="panel-body">
        {tab === 'stats' ? (
          <StepStatsView scenarioId={p.scenarioId} nodeId={node.id} version={p.statsVersion} stats={p.stats} webhook={webhook} />
        ) : (
          <>
            {spec?.description && <p className="muted panel-desc">{spec.description}</p>}
            {!spec && <p className="banner banner-error">The server does not know the node type “{node.data.type}”. Delete this step or change the server.</p>}
            {(nodeErrors.length > 0 || orphan.length > 0) && (
              <ul className="problem-list" role="alert">
                {[...nodeErrors, ...orphan].map((m, i) => (
                  <li key={i}>{m}</li>
                ))}
              </ul>
            )}
            <SchemaForm
              idPrefix={`cfg-${node.id}`}
              fields={fields}
              value={node.data.config}
              onChange={p.onConfig}
              errors={errors}
              readOnly={p.readOnly}
              choices={p.choices}
              addon={(key) =>
                key === 'url' && webhook && !p.readOnly ? <TestUrl config={node.data.config} scenarioId={p.scenarioId} nodeId={node.id} /> : null
              }
            />
            <Connections {...p} />
            {!p.readOnly && (
              <div className="panel-foot">
                <button type="button" className="btn btn-small btn-danger-ghost" onClick={p.onDelete}>
                  <Icon name="trash" /> Delete step
                </button>
              </div>
            )}
          </>
        )}
      </div>
    </aside>
  )
}

/** Connections lists a step's outgoing connections and connects it by keyboard. */
function Connections({ node, spec, specs, nodes, edges, readOnly, onConnect, onRemoveEdge }: NodePanelProps) {
  const outs = outputsOf(spec)
  const [target, setTarget] = useState('')
  const [handle, setHandle] = useState<string>(outs.find((o) => o !== null) ?? '')
  const [msg, setMsg] = useState('')
  const name = (id: string) => {
    const n = nodes.find((x) => x.id === id)
    return n ? `${specs.get(n.data.type)?.label ?? n.data.type} (${id})` : id
  }
  const outgoing = edges.filter((e) => e.source === node.id)
  const incoming = edges.filter((e) => e.target === node.id)
  const targets = nodes.filter((n) => n.id !== node.id && specs.get(n.data.type)?.kind !== 'trigger')
  if (outs.length === 0 && incoming.length === 0) return null
  return (
    <section className="connections" aria-label="Connections">
      <h3>Connections</h3>
      {incoming.length > 0 && (
        <p className="muted small">
          From: {incoming.map((e) => name(e.source) + (e.sourceHandle ? ` [${e.sourceHandle}]` : '')).join(', ')}
        </p>
      )}
      {outs.length > 0 && (
        <>
          {outgoing.length === 0 && <p className="muted small">No next step yet.</p>}
          <ul className="edge-list">
            {outgoing.map((e) => (
              <li key={e.id}>
                {e.sourceHandle && <span className={`pill pill-${e.sourceHandle}`}>{e.sourceHandle}</span>}
                <span>→ {name(e.target)}</span>
                {!readOnly && (
                  <button type="button" className="icon-btn" aria-label={`Remove connection to ${e.target}`} onClick={() => onRemoveEdge(e.id)}>
                    <Icon name="x" />
                  </button>
                )}
              </li>
            ))}
          </ul>
          {!readOnly && targets.length > 0 && (
            <form
              className="connect-form"
              onSubmit={(e) => {
                e.preventDefault()
                if (!target) return
                const problem = onConnect(target, outs.includes(null) ? null : handle)
                setMsg(problem || `Connected to ${target}.`)
                if (!problem) setTarget('')
              }}
            >
              <label className="sr-only" htmlFor={`connect-${node.id}`}>
                Connect to
              </label>
              <select id={`connect-${node.id}`} value={target} onChange={(e) => setTarget(e.target.value)}>
                <option value="">Connect to…</option>
                {targets.map((n) => (
                  <option key={n.id} value={n.id}>
                    {name(n.id)}
                  </option>
                ))}
              </select>
              {!outs.includes(null) && (
                <select aria-label="Output" value={handle} onChange={(e) => setHandle(e.target.value)}>
                  {outs.map((o) => (
                    <option key={o!} value={o!}>
                      {o}
                    </option>
                  ))}
                </select>
              )}
              <button type="submit" className="btn btn-small" disabled={!target}>
                Connect
              </button>
            </form>
          )}
          {msg && (
            <p className="muted small" role="status">
              {msg}
            </p>
          )}
        </>
      )}
    </section>
  )
}
