// The statistics of one step: counters, hourly activity and deliveries.
import { useMemo } from 'react'
import type { StepStats } from '../api/types'
import { EmptyState } from '../components/common'
import { formatCount, formatDuration } from '../lib/format'
import { hourlySeries, totalOf } from '../lib/series'
import { ActivityChart } from './ActivityChart'
import { Deliveries } from './Deliveries'

export function StepStatsView({
  scenarioId,
  nodeId,
  version,
  stats,
  webhook,
}: {
  scenarioId: string
  nodeId: string
  version: number
  stats: StepStats | undefined
  webhook: boolean
}) {
  const hourlyKey = JSON.stringify(stats?.hourly ?? [])
  const series = useMemo(() => hourlySeries(stats?.hourly), [hourlyKey])
  const st = stats ?? { reached: 0, accepted: 0, pending: 0, failed: 0, attempts: 0 }
  const refreshKey = `${st.reached}/${st.accepted}/${st.pending}/${st.failed}/${st.attempts}`
  return (
    <div className="step-stats-view">
      <p className="muted small">Version {version} · refreshes every few seconds</p>
      <div className={`counters${webhook ? '' : ' counters-1'}`}>
        <Counter label="Reached" value={st.reached} testid="panel-reached" />
        {webhook && (
          <>
            <Counter label="Accepted" value={st.accepted} tone="ok" testid="panel-accepted" />
            <Counter label="Pending" value={st.pending} tone="pending" testid="panel-pending" />
            <Counter label="Failed" value={st.failed} tone="fail" testid="panel-failed" />
          </>
        )}
      </div>
      {webhook && (
        <p className="muted small">
          {formatCount(st.attempts)} attempt{st.attempts === 1 ? '' : 's'}
          {stats?.latency_ms && (
            <>
              {' '}
              · latency p50 {formatDuration(stats.latency_ms.p50)} · p95 {formatDuration(stats.latency_ms.p95)} · p99{' '}
              {formatDuration(stats.latency_ms.p99)}
            </>
          )}
        </p>
      )}
      <section className="activity" aria-label="Hourly activity">
        <div className="section-head">
          <h3>Hourly activity</h3>
        </div>
        {totalOf(series) === 0 ? (
          <EmptyState title="No activity in this period">Contacts reaching this step will show here, hour by hour.</EmptyState>
        ) : (
          <ActivityChart series={series} webhook={webhook} />
        )}
      </section>
      {webhook && <Deliveries scenarioId={scenarioId} nodeId={nodeId} version={version} refreshKey={refreshKey} />}
    </div>
  )
}

function Counter({ label, value, tone, testid }: { label: string; value: number; tone?: string; testid: string }) {
  return (
    <div className={`counter${tone ? ` counter-${tone}` : ''}`}>
      <span className="counter-value" data-testid={testid}>
        {formatCount(value)}
      </span>
      <span className="counter-label">{label}</span>
    </div>
  )
}
