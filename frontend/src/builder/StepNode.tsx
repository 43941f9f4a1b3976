// One step on the canvas: its type, a summary of its config, its problems,
// its counters and its handles (a condition has a yes and a no output).
import { Handle, Position, type NodeProps } from '@xyflow/react'
import { memo, useContext } from 'react'
import { Icon } from '../components/common'
import { outputsOf, type StepNode as StepNodeT } from '../lib/graph'
import { formatCount } from '../lib/format'
import { CanvasContext } from './context'
import { firstSentence, iconOf, isWebhookStep, kindNames, summarize } from './kinds'

function StepNodeView({ id, data, selected }: NodeProps<StepNodeT>) {
  const { specs, stats, problems, openStats } = useContext(CanvasContext)
  const spec = specs.get(data.type)
  const kind = spec?.kind ?? 'action'
  const outs = outputsOf(spec)
  const probs = problems.get(id) ?? []
  const st = stats?.get(id)
  const summary = summarize(data.type, data.config)
  const missing = (spec?.schema?.required ?? []).filter((k) => data.config[k] === undefined || data.config[k] === '')
  const missingLabels = missing.map((k) => String(spec?.schema?.properties?.[k]?.title ?? k)).join(', ')
  return (
    <div
      className={`step step-${kind}${selected ? ' is-selected' : ''}${probs.length ? ' has-problems' : ''}${spec ? '' : ' is-unknown'}`}
      data-testid={`node-${id}`}
    >
      {kind !== 'trigger' && <Handle type="target" position={Position.Top} className="handle handle-in" />}
      <div className="step-head">
        <span className="step-icon" aria-hidden="true">
          <Icon name={iconOf(spec)} size={15} />
        </span>
        <div className="step-titles">
          <span className="step-kind">{spec ? kindNames[kind] : 'Unknown type'}</span>
          <span className="step-title">{spec?.label ?? data.type}</span>
        </div>
        {probs.length > 0 && (
          <span className="step-problem-badge" title={probs.map((p) => p.message).join('\n')} aria-label={`${probs.length} problem${probs.length > 1 ? 's' : ''}`}>
            {probs.length}
          </span>
        )}
      </div>
      {missing.length > 0 ? (
        <div className="step-summary muted step-todo">Needs: {missingLabels}</div>
      ) : summary ? (
        <div className="step-summary" title={summary}>
          {summary}
        </div>
      ) : (
        <div className="step-summary muted">{firstSentence(spec?.description) || 'No settings'}</div>
      )}
      {st && (
        <button
          type="button"
          className={`step-stats nodrag${isWebhookStep(data.type) ? ' step-stats-4' : ''}`}
          onClick={(e) => {
            e.stopPropagation()
            openStats(id)
          }}
          aria-label={`Statistics of ${spec?.label ?? data.type}`}
        >
          <span className="stat" data-testid={`reached-${id}`}>
            <b>{formatCount(st.reached)}</b> reached
          </span>
          {isWebhookStep(data.type) && (
            <>
              <span className="stat stat-accepted" data-testid={`accepted-${id}`} title="Accepted: answered 2xx">
                <b>{formatCount(st.accepted)}</b> ok
              </span>
              <span className="stat stat-pending" data-testid={`pending-${id}`} title="Pending: being retried">
                <b>{formatCount(st.pending)}</b> pending
              </span>
              <span className="stat stat-failed" data-testid={`failed-${id}`} title="Failed: given up">
                <b>{formatCount(st.failed)}</b> failed
              </span>
            </>
          )}
        </button>
      )}
      {outs.map((o, i) =>
        o === null ? (
          <Handle key="out" type="source" position={Position.Bottom} className="handle handle-out" />
        ) : (
          <Handle
            key={o}
            id={o}
            type="source"
            position={Position.Bottom}
            className={`handle handle-out handle-${o}`}
            style={{ left: `${((i + 1) * 100) / (outs.length + 1)}%` }}
          >
            <span className="handle-label">{o}</span>
          </Handle>
        ),
      )}
    </div>
  )
}

export const StepNode = memo(StepNodeView)
