import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'
import { ApiError } from '../api/client'
import type { Notification, Subscription } from '../api/types'
import { sub } from '../test/fixtures'
import { renderWithClient } from '../test/render'
import { SubscriptionsPage } from './SubscriptionsPage'

const lists = async () => [{ id: 'lst_1', name: 'Newsletter' }]
const deactivated = sub({
  id: 'whk_2',
  app: 'shop',
  event: 'contact_created',
  active: false,
  deactivated_at: new Date(Date.now() - 10 * 60_000).toISOString(),
  deactivation_reason: 'every attempt failed for 24 hours',
  consecutive_failures: 12,
  attempts: 12,
  failed_attempts: 12,
  deliveries: 3,
  failed: 3,
  last_error: 'HTTP 500 Internal Server Error',
  buffered: 4,
})
const note: Notification = {
  id: 'ntf_1',
  type: 'subscription_deactivated',
  subject_id: 'whk_2',
  message: 'Webhook whk_2 (shop, contact_created) was deactivated: every attempt failed for 24 hours.',
  created_at: new Date().toISOString(),
}

function client<T extends object>(over: T = {} as T) {
  return {
    subscriptions: vi.fn(async () => [sub({ list_id: 'lst_1', deliveries: 7, accepted: 6, pending: 1, attempts: 8, failed_attempts: 1 }), structuredClone(deactivated)]),
    lists,
    notifications: vi.fn(async () => [note]),
    ...over,
  }
}

describe('event subscriptions page', () => {
  it('lists the subscriptions with status, failures and the notifications', async () => {
    renderWithClient(<SubscriptionsPage pollMs={60_000} />, client() as never)
    expect(screen.getByRole('status')).toHaveTextContent('Loading event subscriptions')
    const active = await screen.findByTestId('subscription-whk_1')
    expect(active).toHaveTextContent('crm')
    expect(active).toHaveTextContent('Opt-in finalized · list Newsletter')
    expect(within(active).getByTestId('sub-status')).toHaveTextContent('Active')
    expect(active).toHaveTextContent('6 / 7')
    expect(active).toHaveTextContent('1 of 8 attempts failed')
    const off = screen.getByTestId('subscription-whk_2')
    expect(within(off).getByTestId('sub-status')).toHaveTextContent('Deactivated')
    expect(off).toHaveTextContent('every attempt failed for 24 hours · 10 min ago')
    expect(off).toHaveTextContent('4 events buffered')
    expect(off).toHaveTextContent('12 in a row · 12 of 12 attempts failed')
    expect(off).toHaveTextContent('HTTP 500 Internal Server Error')
    const notes = screen.getByRole('region', { name: 'Notifications' })
    expect(within(notes).getByTestId('notification')).toHaveTextContent('was deactivated')
    expect(within(notes).getByRole('button', { name: 'Reactivate' })).toBeEnabled()
  })

  it('deactivates, and reactivates with or without replay', async () => {
    const user = userEvent.setup()
    const c = client({
      deactivateSubscription: vi.fn(async () => sub({ active: false })),
      activateSubscription: vi.fn(async () => sub()),
    })
    renderWithClient(<SubscriptionsPage pollMs={60_000} />, c as never)
    await user.click(await screen.findByRole('button', { name: 'Deactivate crm optin_finalized' }))
    await waitFor(() => expect(c.deactivateSubscription).toHaveBeenCalledWith('whk_1'))
    expect(await screen.findByText(/Deactivated: its events are buffered/)).toBeInTheDocument()

    await user.click(screen.getByRole('button', { name: 'Reactivate shop contact_created' }))
    let dialog = screen.getByRole('dialog', { name: 'Reactivate subscription' })
    expect(dialog).toHaveTextContent('4 events were buffered')
    expect(within(dialog).getByLabelText(/Replay buffered events/)).toBeChecked()
    await user.click(within(dialog).getByRole('button', { name: 'Reactivate' }))
    await waitFor(() => expect(c.activateSubscription).toHaveBeenCalledWith('whk_2', true))
    expect(await screen.findByText(/buffered events are being delivered/)).toBeInTheDocument()

    // From the notification, dropping the buffered events.
    await user.click(within(screen.getByRole('region', { name: 'Notifications' })).getByRole('button', { name: 'Reactivate' }))
    dialog = screen.getByRole('dialog', { name: 'Reactivate subscription' })
    await user.click(within(dialog).getByLabelText(/Drop them/))
    await user.click(within(dialog).getByRole('button', { name: 'Reactivate' }))
    await waitFor(() => expect(c.activateSubscription).toHaveBeenLastCalledWith('whk_2', false))
    expect(await screen.findByText(/buffered events were dropped/)).toBeInTheDocument()
  })

  it('creates and deletes', async () => {
    const user = userEvent.setup()
    const c = client({
      createSubscription: vi.fn(async () => sub({ id: 'whk_3' })),
      deleteSubscription: vi.fn(async () => {}),
    })
    renderWithClient(<SubscriptionsPage pollMs={60_000} />, c as never)
    await user.click(await screen.findByRole('button', { name: 'New subscription' }))
    const dialog = screen.getByRole('dialog', { name: 'New event subscription' })
    await user.type(within(dialog).getByLabelText('App'), 'crm')
    await user.selectOptions(within(dialog).getByLabelText('Event'), 'profile_updated')
    await user.type(within(dialog).getByLabelText('URL'), 'ftp://nope')
    await user.click(within(dialog).getByRole('button', { name: 'Create subscription' }))
    expect(within(dialog).getByRole('alert')).toHaveTextContent('http:// or https://')
    await user.clear(within(dialog).getByLabelText('URL'))
    await user.type(within(dialog).getByLabelText('URL'), 'https://crm.example/in')
    await user.selectOptions(within(dialog).getByLabelText('List (optional)'), 'Newsletter')
    await user.click(within(dialog).getByRole('button', { name: 'Create subscription' }))
    await waitFor(() =>
      expect(c.createSubscription).toHaveBeenCalledWith({ app: 'crm', event: 'profile_updated', url: 'https://crm.example/in', list_id: 'lst_1' }),
    )
    expect(await screen.findByText(/Subscription created/)).toBeInTheDocument()

    await user.click(screen.getByRole('button', { name: 'Delete crm optin_finalized' }))
    await user.click(within(screen.getByRole('dialog', { name: 'Delete subscription' })).getByRole('button', { name: 'Delete' }))
    await waitFor(() => expect(c.deleteSubscription).toHaveBeenCalledWith('whk_1'))
  })

  it('filters by app and event through the API', async () => {
    const user = userEvent.setup()
    const subscriptions = vi.fn(async (f?: { app?: string; event?: string }): Promise<Subscription[]> => {
      const all = [sub(), structuredClone(deactivated)]
      return all.filter((s) => (!f?.app || s.app === f.app) && (!f?.event || s.event === f.event))
    })
    renderWithClient(<SubscriptionsPage pollMs={60_000} />, client({ subscriptions }) as never)
    await screen.findByTestId('subscription-whk_1')
    await user.selectOptions(screen.getByLabelText('Event'), 'contact_created')
    await waitFor(() => expect(screen.queryByTestId('subscription-whk_1')).toBeNull())
    expect(subscriptions).toHaveBeenCalledWith({ app: '', event: 'contact_created' })
    expect(screen.getByTestId('subscription-whk_2')).toBeInTheDocument()
    await user.type(screen.getByLabelText('App'), 'crm')
    expect(await screen.findByText('No subscription matches these filters')).toBeInTheDocument()
  })

  it('has empty and error states', async () => {
    const user = userEvent.setup()
    let fail = true
    renderWithClient(
      <SubscriptionsPage pollMs={60_000} />,
      client({
        subscriptions: async () => {
          if (fail) throw new ApiError(500, 'internal', 'database is down')
          return []
        },
        notifications: async () => [],
      }) as never,
    )
    expect(await screen.findByRole('alert')).toHaveTextContent('database is down')
    fail = false
    await user.click(screen.getByRole('button', { name: 'Try again' }))
    expect(await screen.findByText('No event subscriptions yet')).toBeInTheDocument()
    expect(screen.queryByRole('region', { name: 'Notifications' })).toBeNull()
  })
})
