import { describe, expect, it } from 'vitest'
import { sub } from '../test/fixtures'
import { eventLabel, failureSummary, notificationSubject, subscriptionStatus } from './subscriptions'

describe('subscription status', () => {
  const now = Date.parse('2026-11-23T12:00:00Z')
  it('is active, active but failing, or deactivated with why and when', () => {
    expect(subscriptionStatus(sub(), now)).toEqual({ tone: 'active', label: 'Active', detail: '' })
    expect(subscriptionStatus(sub({ consecutive_failures: 3, failing_since: '2026-11-23T11:00:00Z' }), now)).toEqual({
      tone: 'failing',
      label: 'Active',
      detail: 'failing since 1 h ago',
    })
    expect(
      subscriptionStatus(sub({ active: false, deactivated_at: '2026-11-23T11:50:00Z', deactivation_reason: 'failing for 24 hours' }), now),
    ).toEqual({ tone: 'deactivated', label: 'Deactivated', detail: 'failing for 24 hours · 10 min ago' })
    expect(subscriptionStatus(sub({ active: false }), now).detail).toBe('deactivated')
  })

  it('sums up failures', () => {
    expect(failureSummary(sub({ attempts: 4, failed_attempts: 1 }))).toBe('1 of 4 attempts failed')
    expect(failureSummary(sub({ attempts: 9, failed_attempts: 5, consecutive_failures: 3 }))).toBe('3 in a row · 5 of 9 attempts failed')
  })

  it('finds the subscription a notification is about', () => {
    const subs = [sub(), sub({ id: 'whk_2' })]
    const n = { id: 'ntf_1', type: 'subscription_deactivated', message: 'm', created_at: '2026-11-23T10:00:00Z' }
    expect(notificationSubject({ ...n, subject_id: 'whk_2' }, subs)?.id).toBe('whk_2')
    expect(notificationSubject({ ...n, subject_id: 'whk_9' }, subs)).toBeUndefined()
    expect(notificationSubject(n, subs)).toBeUndefined()
  })

  it('labels events', () => {
    expect(eventLabel('contact_created')).toBe('Contact created')
    expect(eventLabel('other')).toBe('other')
  })
})
