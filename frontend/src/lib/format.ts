// Small formatting helpers.

export function formatCount(n: number | undefined): string {
  return (n ?? 0).toLocaleString('en-US')
}

/** relativeTime says "3 min ago" for an RFC 3339 time (now injectable for tests). */
export function relativeTime(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '—'
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return '—'
  const s = Math.round((now - t) / 1000)
  if (s < 45) return 'just now'
  const m = Math.round(s / 60)
  if (m < 60) return `${m} min ago`
  const h = Math.round(m / 60)
  if (h < 24) return `${h} h ago`
  const d = Math.round(h / 24)
  if (d < 30) return `${d} day${d === 1 ? '' : 's'} ago`
  return new Date(t).toISOString().slice(0, 10)
}

export function formatTime(iso: string | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return '—'
  return d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' })
}

export function formatDuration(ms: number | undefined): string {
  if (ms == null) return '—'
  if (ms < 1000) return `${ms} ms`
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`
}

/** prettyBody pretty-prints a JSON text, or returns it as it is. */
export function prettyBody(body: unknown): string {
  if (body == null || body === '') return ''
  if (typeof body !== 'string') return JSON.stringify(body, null, 2)
  try {
    return JSON.stringify(JSON.parse(body), null, 2)
  } catch {
    return body
  }
}

/**
 * activityTime describes a last-activity time. The server reports activity
 * by hourly bucket (the start of the hour), so the current bucket reads
 * "this hour" rather than a misleading "47 min ago".
 */
export function activityTime(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '—'
  const t = Date.parse(iso)
  if (!Number.isNaN(t) && t % 3_600_000 === 0 && now - t >= 0 && now - t < 3_600_000) return 'this hour'
  return relativeTime(iso, now)
}

/** plural says "1 event", "2 events". */
export function plural(n: number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`
}
