import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { App } from '../App'
import { ApiError } from '../api/client'
import type { ScenarioSummary } from '../api/types'
import { jsonResponse } from '../test/fixtures'
import { renderWithClient } from '../test/render'
import { ScenarioList } from './ScenarioList'

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('sign-in', () => {
  it('says clearly when the key is wrong, and keeps a good key for the session only', async () => {
    const user = userEvent.setup()
    const fetch = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      const auth = (init?.headers as Record<string, string>).Authorization
      if (auth !== 'Bearer good') return jsonResponse(401, { error: { code: 'unauthorized', message: 'missing or wrong API key' } })
      return jsonResponse(200, { node_types: [], scenarios: [] })
    })
    vi.stubGlobal('fetch', fetch)
    render(<App />)
    await user.type(screen.getByLabelText('API key'), 'bad')
    await user.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByRole('alert')).toHaveTextContent(/This API key was refused/)
    expect(sessionStorage.getItem('sluice.apiKey')).toBeNull()
    await user.clear(screen.getByLabelText('API key'))
    await user.type(screen.getByLabelText('API key'), 'good')
    await user.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByText('No scenarios yet')).toBeInTheDocument()
    expect(sessionStorage.getItem('sluice.apiKey')).toBe('good')
    expect(localStorage.length).toBe(0)
  })
})

const rows: ScenarioSummary[] = [
  {
    id: 'scn_1',
    name: 'Welcome',
    status: 'active',
    allow_reentry: false,
    version: 3,
    active_version: 2,
    created_at: '2026-11-20T10:00:00Z',
    updated_at: '2026-11-23T10:00:00Z',
    reached: 1234,
    last_activity: new Date(Date.now() - 5 * 60_000).toISOString(),
  },
  {
    id: 'scn_2',
    name: 'Old draft',
    status: 'draft',
    allow_reentry: false,
    version: 1,
    active_version: 0,
    created_at: '2026-11-01T10:00:00Z',
    updated_at: '2026-11-01T10:00:00Z',
    reached: 0,
  },
]

describe('scenario list', () => {
  it('shows name, status, version, reach and last activity', async () => {
    renderWithClient(<ScenarioList />, { scenarios: async () => structuredClone(rows) })
    expect(screen.getByRole('status')).toHaveTextContent('Loading scenarios')
    const row = (await screen.findByRole('link', { name: 'Welcome' })).closest('tr')!
    expect(within(row).getByText('Active')).toBeInTheDocument()
    expect(row).toHaveTextContent('v3 · v2 live')
    expect(row).toHaveTextContent('1,234')
    expect(row).toHaveTextContent('5 min ago')
    // Only draft or archived scenarios can be deleted.
    expect(within(row).getByRole('button', { name: 'Delete Welcome' })).toBeDisabled()
    expect(screen.getByRole('button', { name: 'Delete Old draft' })).toBeEnabled()
  })

  it('duplicates, archives and deletes', async () => {
    const user = userEvent.setup()
    const createScenario = vi.fn(async () => ({}))
    const archive = vi.fn(async () => ({}))
    const deleteScenario = vi.fn(async () => {})
    renderWithClient(<ScenarioList />, {
      scenarios: async () => structuredClone(rows),
      scenario: async () => ({ ...rows[0], graph: { nodes: [{ id: 't1', type: 'signup' }], edges: [] } }),
      createScenario,
      archive,
      deleteScenario,
    } as never)
    await user.click(await screen.findByRole('button', { name: 'Duplicate Welcome' }))
    await waitFor(() => expect(createScenario).toHaveBeenCalledWith({ name: 'Welcome (copy)', allow_reentry: false, graph: { nodes: [{ id: 't1', type: 'signup' }], edges: [] } }))
    await user.click(screen.getByRole('button', { name: 'Archive Welcome' }))
    await waitFor(() => expect(archive).toHaveBeenCalledWith('scn_1'))
    await user.click(screen.getByRole('button', { name: 'Delete Old draft' }))
    await user.click(within(screen.getByRole('dialog', { name: 'Delete scenario' })).getByRole('button', { name: 'Delete' }))
    await waitFor(() => expect(deleteScenario).toHaveBeenCalledWith('scn_2'))
  })

  it('has empty and error states', async () => {
    const user = userEvent.setup()
    let fail = true
    renderWithClient(<ScenarioList />, {
      scenarios: async () => {
        if (fail) throw new ApiError(500, 'internal', 'database is down')
        return []
      },
    })
    expect(await screen.findByRole('alert')).toHaveTextContent('database is down')
    fail = false
    await user.click(screen.getByRole('button', { name: 'Try again' }))
    expect(await screen.findByText('No scenarios yet')).toBeInTheDocument()
  })
})

describe('navigation', () => {
  it('links Scenarios, Inbound webhooks and Event subscriptions from the header', async () => {
    const user = userEvent.setup()
    sessionStorage.setItem('sluice.apiKey', 'good')
    history.replaceState(null, '', '/')
    const fetch = vi.fn(async (url: RequestInfo | URL) => {
      const u = String(url)
      if (u.includes('/activity')) return jsonResponse(200, { accepted: 0, refused: 0, hours: [], refusals: [] })
      return jsonResponse(200, { scenarios: [], inbound_webhooks: [], lists: [], webhooks: [], notifications: [] })
    })
    vi.stubGlobal('fetch', fetch)
    render(<App />)
    const nav = await screen.findByRole('navigation', { name: 'Main' })
    expect(within(nav).getByRole('link', { name: 'Scenarios' })).toHaveAttribute('aria-current', 'page')
    await user.click(within(nav).getByRole('link', { name: 'Inbound webhooks' }))
    expect(await screen.findByText('No inbound webhooks yet')).toBeInTheDocument()
    expect(window.location.pathname).toBe('/inbound-webhooks')
    await user.click(within(screen.getByRole('navigation', { name: 'Main' })).getByRole('link', { name: 'Event subscriptions' }))
    expect(await screen.findByText('No event subscriptions yet')).toBeInTheDocument()
    expect(within(screen.getByRole('navigation', { name: 'Main' })).getByRole('link', { name: 'Event subscriptions' })).toHaveAttribute('aria-current', 'page')
    await user.click(within(screen.getByRole('navigation', { name: 'Main' })).getByRole('link', { name: 'Scenarios' }))
    expect(await screen.findByText('No scenarios yet')).toBeInTheDocument()
    history.replaceState(null, '', '/')
  })
})
