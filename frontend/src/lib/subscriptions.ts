// Pure logic of the event subscription page: status, failures and the
// notifications that point at a subscription.
import type { Notification, Subscription } from '../api/types'
import { relativeTime } from './format'

export const EVENT_LABELS: Record<string, string> = {
  optin_finalized: 'Opt-in finalized',
  optout_finalized: 'Opt-out finalized',
  profile_updated: 'Profile updated',
  contact_created: 'Contact created',
}

export function eventLabel(e: string): string {
  return EVENT_LABELS[e] ?? e
}

export interface SubStatus {
  tone: 'active' | 'failing' | 'deactivated'
  label: string
  /** Why and when, for a deactivated one; the failure streak for a failing one. */
  detail: string
}

/** subscriptionStatus says whether it is active, active but failing, or deactivated (why, when). */
export function subscriptionStatus(s: Subscription, now = Date.now()): SubStatus {
  if (!s.active) {
    const when = s.deactivated_at ? relativeTime(s.deactivated_at, now) : ''
    const why = s.deactivation_reason || 'deactivated'
    return { tone: 'deactivated', label: 'Deactivated', detail: when ? `${why} · ${when}` : why }
  }
  if (s.consecutive_failures > 0) {
    const since = s.failing_since ? ` since ${relativeTime(s.failing_since, now)}` : ''
    return { tone: 'failing', label: 'Active', detail: `failing${since}` }
  }
  return { tone: 'active', label: 'Active', detail: '' }
}

/** failureSummary is "3 in a row · 5 of 9 attempts failed". */
export function failureSummary(s: Subscription): string {
  const parts: string[] = []
  if (s.consecutive_failures > 0) parts.push(`${s.consecutive_failures} in a row`)
  parts.push(`${s.failed_attempts ?? 0} of ${s.attempts ?? 0} attempts failed`)
  return parts.join(' · ')
}

/** notificationSubject is the subscription a notification is about, if it still exists. */
export function notificationSubject(n: Notification, subs: Subscription[]): Subscription | undefined {
  if (!n.subject_id) return undefined
  return subs.find((s) => s.id === n.subject_id)
}
