import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'
import type { Delivery, DeliveryPage } from '../api/types'
import { renderWithClient } from '../test/render'
import { StepStatsView } from './StepStatsView'

vi.mock('./ActivityChart', () => ({
  ActivityChart: ({ series }: { series: { reached: number[] } }) => <div data-testid="chart">{series.reached.join(',')}</div>,
}))

const delivery = (id: string, status: Delivery['status'], code: number, error = ''): Delivery => ({
  id,
  message_id: `msg_${id}`,
  kind: 'step',
  node_id: 'w1',
  contact_id: `ctc_${id}`,
  url: 'http://127.0.0.1:1/hook',
  method: 'POST',
  headers: {},
  status,
  attempts: 1,
  created_at: new Date().toISOString(),
  last_error: error || undefined,
  attempt_log: [
    {
      id: `att_${id}`,
      delivery_id: id,
      number: 1,
      at: new Date().toISOString(),
      url: 'http://127.0.0.1:1/hook',
      method: 'POST',
      request_headers: { 'webhook-id': `msg_${id}` },
      request_body: '{"event":"automation.webhook.send"}',
      status_code: code,
      response_body: code === 200 ? 'thanks' : 'boom',
      duration_ms: 7,
      error: error || undefined,
    },
  ],
})

describe('step statistics', () => {
  it('shows counters, the hourly graph and the deliveries with their attempts, filtered by status', async () => {
    const user = userEvent.setup()
    const deliveries = vi.fn(async (_s: string, _n: string, opts: { status?: string }): Promise<DeliveryPage> => ({
      deliveries:
        opts.status === 'failed'
          ? [delivery('d2', 'failed', 500, 'answered 500')]
          : [delivery('d1', 'accepted', 200), delivery('d2', 'failed', 500, 'answered 500')],
      next_cursor: '',
    }))
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString()
    renderWithClient(
      <StepStatsView
        scenarioId="scn_1"
        nodeId="w1"
        version={2}
        webhook
        stats={{ node_id: 'w1', type: 'send_webhook', reached: 2, accepted: 1, pending: 0, failed: 1, attempts: 2, latency_ms: { p50: 7, p95: 9, p99: 9 }, hourly: [{ hour, reached: 2, accepted: 1, failed: 1, attempts: 2 }] }}
      />,
      { deliveries } as never,
    )
    expect(screen.getByTestId('panel-accepted')).toHaveTextContent('1')
    expect(screen.getByTestId('panel-failed')).toHaveTextContent('1')
    expect(screen.getByText(/latency p50 7 ms/)).toBeInTheDocument()
    expect(screen.getByTestId('chart').textContent!.endsWith(',2')).toBe(true)
    await screen.findAllByTestId('attempt')
    const list = document.querySelector('.delivery-list') as HTMLElement
    expect(deliveries).toHaveBeenCalledWith('scn_1', 'w1', { status: '', version: 2, limit: 25 }, expect.anything())
    // The newest delivery is open: its attempt shows status, duration and request.
    const first = list.querySelector('.delivery') as HTMLElement
    expect(within(first).getByTestId('attempt')).toHaveTextContent('HTTP 200')
    expect(within(first).getByTestId('attempt')).toHaveTextContent('7 ms')
    await user.click(screen.getByRole('radio', { name: 'Failed' }))
    await waitFor(() => expect(deliveries).toHaveBeenLastCalledWith('scn_1', 'w1', { status: 'failed', version: 2, limit: 25 }, expect.anything()))
    const failed = await screen.findByRole('button', { name: /failed/ })
    await user.click(failed)
    expect(screen.getAllByText('answered 500').length).toBeGreaterThan(0)
  })

  it('has an empty state', async () => {
    renderWithClient(<StepStatsView scenarioId="s" nodeId="w1" version={1} webhook stats={undefined} />, {
      deliveries: async () => ({ deliveries: [], next_cursor: '' }),
    } as never)
    expect(screen.getByText('No activity in this period')).toBeInTheDocument()
    expect(await screen.findByText('No deliveries yet')).toBeInTheDocument()
  })
})
