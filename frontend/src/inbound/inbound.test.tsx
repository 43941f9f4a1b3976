import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'
import { ApiError } from '../api/client'
import type { InboundActivity, InboundWebhook } from '../api/types'
import { renderWithClient } from '../test/render'
import { InboundPage } from './InboundPage'

vi.mock('../stats/HourlyChart', () => ({
  HourlyChart: ({ lines }: { lines: { label: string; values: number[] }[] }) => (
    <div data-testid="chart">{lines.map((l) => `${l.label}:${l.values.reduce((a, b) => a + b, 0)}`).join(' ')}</div>
  ),
}))

const hook: InboundWebhook = {
  id: 'inb_1',
  name: 'Lead form',
  list_id: 'lst_1',
  action: 'subscribe',
  allowed_methods: ['GET', 'POST'],
  allowed_headers: { 'X-Source': 'crm' },
  allowed_ips: ['203.0.113.0/24'],
  custom_fields: [{ key: 'c3', name: 'First name' }],
  url: '/hooks/inb_1',
  api_key: 'key-1',
  secret_key: 'ab'.repeat(32),
  created_at: '2026-11-23T10:00:00Z',
  updated_at: '2026-11-23T10:00:00Z',
}

const hourNow = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString()
const activity = (accepted: number, refused: number): InboundActivity => ({
  inbound_webhook_id: 'inb_1',
  accepted,
  refused,
  hours: [{ hour: hourNow, accepted, refused }],
  refusals: refused ? [{ id: 'r1', at: new Date().toISOString(), code: 'wrong_key', reason: 'the api-key is wrong', method: 'GET', remote_ip: '198.51.100.7' }] : [],
})

const lists = async () => [
  { id: 'lst_1', name: 'Newsletter' },
  { id: 'lst_2', name: 'Customers' },
]

describe('inbound webhooks page', () => {
  it('shows the integration guide, the custom fields and the activity of the selected webhook', async () => {
    renderWithClient(<InboundPage />, {
      inboundWebhooks: async () => [structuredClone(hook)],
      lists,
      inboundActivity: async () => activity(5, 1),
    })
    expect(screen.getByRole('status')).toHaveTextContent('Loading inbound webhooks')
    const detail = await screen.findByRole('region', { name: 'Inbound webhook Lead form' })
    expect(detail).toHaveTextContent('Subscribes to Newsletter · GET, POST · from 203.0.113.0/24 · requires X-Source: crm')
    expect(within(detail).getByTestId('inbound-url')).toHaveTextContent(`${window.location.origin}/hooks/inb_1`)
    expect(within(detail).getByTestId('inbound-api-key')).toHaveTextContent('key-1')
    expect(within(detail).getByTestId('inbound-secret-key')).toHaveTextContent('ab'.repeat(32))
    expect(within(detail).getByLabelText('Quick way example')).toHaveTextContent('?api-key=key-1&email=john%40example.org&c3=First%20name')
    expect(within(detail).getByLabelText('Secure way example')).toHaveTextContent('openssl enc -aes-256-cbc')
    expect(within(detail).getByTestId('custom-field-row')).toHaveTextContent('c3First namecustom')
    expect(await within(detail).findByTestId('inbound-accepted')).toHaveTextContent('5')
    expect(within(detail).getByTestId('inbound-refused')).toHaveTextContent('1')
    expect(within(detail).getByTestId('chart')).toHaveTextContent('Accepted:5 Refused:1')
    expect(within(detail).getByTestId('refusal')).toHaveTextContent(/Wrong API key · the api-key is wrong\s*GET\s*198\.51\.100\.7/)
    expect(within(detail).getAllByRole('button', { name: /^Copy / }).map((b) => b.getAttribute('aria-label'))).toEqual([
      'Copy URL',
      'Copy API key',
      'Copy Secret key',
      'Copy Quick way example',
      'Copy Secure way example',
    ])
  })

  it('polls the activity, so that new calls show without reloading', async () => {
    let n = 0
    renderWithClient(<InboundPage pollMs={200} />, {
      inboundWebhooks: async () => [structuredClone(hook)],
      lists,
      inboundActivity: async () => activity(n++ < 1 ? 0 : 1, 0),
    })
    const accepted = await screen.findByTestId('inbound-accepted')
    expect(accepted).toHaveTextContent('0')
    await waitFor(() => expect(screen.getByTestId('inbound-accepted')).toHaveTextContent('1'))
    expect(screen.getByText('No refused calls.')).toBeInTheDocument()
  })

  it('creates a webhook from the form', async () => {
    const user = userEvent.setup()
    const createInbound = vi.fn(async () => ({ ...hook, id: 'inb_2' }))
    renderWithClient(<InboundPage />, { inboundWebhooks: async () => [], lists, createInbound, inboundActivity: async () => activity(0, 0) })
    await user.click(await screen.findByRole('button', { name: 'Create your first inbound webhook' }))
    const dialog = screen.getByRole('dialog', { name: 'New inbound webhook' })
    await user.click(within(dialog).getByRole('button', { name: 'Create webhook' }))
    expect(dialog).toHaveTextContent('Give the webhook a name.')
    expect(createInbound).not.toHaveBeenCalled()
    await user.type(within(dialog).getByLabelText('Name'), 'Shop')
    await user.selectOptions(within(dialog).getByLabelText('Target list'), 'Customers')
    await user.click(within(dialog).getByLabelText('Unsubscribe'))
    await user.click(within(dialog).getByLabelText('GET'))
    await user.click(within(dialog).getByRole('button', { name: 'Add header' }))
    await user.type(within(dialog).getByLabelText('Allowed headers key 1'), 'X-Shop')
    await user.type(within(dialog).getByLabelText('Allowed headers value 1'), 'yes')
    await user.type(within(dialog).getByLabelText('Allowed IPs and CIDR ranges'), '10.0.0.0/8')
    await user.click(within(dialog).getByRole('button', { name: 'Add custom field' }))
    await user.type(within(dialog).getByLabelText('Custom fields key 1'), 'c7')
    await user.type(within(dialog).getByLabelText('Custom fields value 1'), 'Order')
    await user.click(within(dialog).getByRole('button', { name: 'Create webhook' }))
    await waitFor(() =>
      expect(createInbound).toHaveBeenCalledWith({
        name: 'Shop',
        list_id: 'lst_2',
        action: 'unsubscribe',
        allowed_methods: ['POST'],
        allowed_headers: { 'X-Shop': 'yes' },
        allowed_ips: ['10.0.0.0/8'],
        custom_fields: [{ key: 'c7', name: 'Order' }],
      }),
    )
    await waitFor(() => expect(window.location.pathname).toBe('/inbound-webhooks/inb_2'))
  })

  it('shows the server refusing the input', async () => {
    const user = userEvent.setup()
    const createInbound = vi.fn(async () => {
      throw new ApiError(422, 'invalid', 'at most 20 custom fields', 'custom_fields')
    })
    renderWithClient(<InboundPage />, { inboundWebhooks: async () => [], lists, createInbound })
    await user.click(await screen.findByRole('button', { name: 'New inbound webhook' }))
    const dialog = screen.getByRole('dialog', { name: 'New inbound webhook' })
    await user.type(within(dialog).getByLabelText('Name'), 'Shop')
    await user.selectOptions(within(dialog).getByLabelText('Target list'), 'Newsletter')
    await user.click(within(dialog).getByRole('button', { name: 'Create webhook' }))
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('at most 20 custom fields (custom_fields)')
  })

  it('rotates the keys and deletes', async () => {
    const user = userEvent.setup()
    let current = structuredClone(hook)
    const rotateInboundKeys = vi.fn(async () => (current = { ...hook, api_key: 'key-2' }))
    const deleteInbound = vi.fn(async () => {})
    renderWithClient(<InboundPage />, {
      inboundWebhooks: async () => [structuredClone(current)],
      lists,
      inboundActivity: async () => activity(0, 0),
      rotateInboundKeys,
      deleteInbound,
    })
    await user.click(await screen.findByRole('button', { name: 'Rotate keys' }))
    await user.click(within(screen.getByRole('dialog', { name: 'Rotate keys' })).getByRole('button', { name: 'Rotate keys' }))
    await waitFor(() => expect(screen.getByTestId('inbound-api-key')).toHaveTextContent('key-2'))
    expect(rotateInboundKeys).toHaveBeenCalledWith('inb_1')
    expect(screen.getByText(/the old ones no longer work/)).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Delete' }))
    await user.click(within(screen.getByRole('dialog', { name: 'Delete inbound webhook' })).getByRole('button', { name: 'Delete' }))
    await waitFor(() => expect(deleteInbound).toHaveBeenCalledWith('inb_1'))
  })

  it('has error and not-found states', async () => {
    const user = userEvent.setup()
    let fail = true
    renderWithClient(<InboundPage selectedId="inb_gone" />, {
      inboundWebhooks: async () => {
        if (fail) throw new ApiError(0, 'network', 'Cannot reach the Sluice server. Is it running?')
        return [structuredClone(hook)]
      },
      lists,
      inboundActivity: async () => activity(0, 0),
    })
    expect(await screen.findByRole('alert')).toHaveTextContent('Cannot reach the Sluice server')
    fail = false
    await user.click(screen.getByRole('button', { name: 'Try again' }))
    expect(await screen.findByText('This inbound webhook does not exist')).toBeInTheDocument()
  })
})
