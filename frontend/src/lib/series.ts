// Hourly activity as the dense series the chart draws.
import type { HourlyStats } from '../api/types'

export interface Series {
  /** Hour starts, in seconds since the epoch. */
  x: number[]
  reached: number[]
  accepted: number[]
  failed: number[]
  attempts: number[]
}

const HOUR = 3600

/**
 * hourlySeries fills the hours between the first bucket (or now minus
 * minHours) and now with zeros, so that quiet hours show as zero.
 */
export function hourlySeries(hourly: HourlyStats[] | undefined, nowMs = Date.now(), minHours = 24, maxHours = 24 * 14): Series {
  const now = Math.floor(nowMs / 1000 / HOUR) * HOUR
  const byHour = new Map<number, HourlyStats>()
  let first = now - (minHours - 1) * HOUR
  for (const h of hourly ?? []) {
    const t = Math.floor(Date.parse(h.hour) / 1000 / HOUR) * HOUR
    if (Number.isNaN(t)) continue
    byHour.set(t, h)
    if (t < first) first = t
  }
  first = Math.max(first, now - (maxHours - 1) * HOUR)
  const s: Series = { x: [], reached: [], accepted: [], failed: [], attempts: [] }
  for (let t = first; t <= now; t += HOUR) {
    const h = byHour.get(t)
    s.x.push(t)
    s.reached.push(h?.reached ?? 0)
    s.accepted.push(h?.accepted ?? 0)
    s.failed.push(h?.failed ?? 0)
    s.attempts.push(h?.attempts ?? 0)
  }
  return s
}

export function totalOf(s: Series): number {
  return [s.reached, s.accepted, s.failed, s.attempts].reduce((sum, a) => sum + a.reduce((x, y) => x + y, 0), 0)
}
