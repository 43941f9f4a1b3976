import { act, renderHook, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'
import type { Graph, TestResult } from '../api/types'
import { ApiError } from '../api/client'
import { toFlow } from '../lib/graph'
import { specList, specs } from '../test/fixtures'
import { renderWithClient } from '../test/render'
import { NodePanel, type NodePanelProps } from './NodePanel'
import { Palette } from './Palette'
import { testRequestOf } from './TestUrl'
import { useEditor } from './useEditor'

const empty: Graph = { nodes: [], edges: [] }

describe('useEditor', () => {
  it('adds steps connected after the selected one, with undo and redo', () => {
    const { result } = renderHook(() => useEditor(empty, specs))
    expect(result.current.dirty).toBe(false)
    act(() => void result.current.addNode('signup', { position: { x: 0, y: 0 } }))
    expect(result.current.selectedId).toBe('signup_1')
    let r: { id: string; connectedFrom?: string } = { id: '' }
    act(() => void (r = result.current.addNode('send_webhook', { from: 'signup_1' })))
    expect(r).toEqual({ id: 'send_webhook_1', connectedFrom: 'signup_1' })
    expect(result.current.graph.edges).toEqual([{ from: 'signup_1', to: 'send_webhook_1' }])
    expect(result.current.graph.nodes[1].config).toEqual({ fields: ['email'] })
    expect(result.current.dirty).toBe(true)
    act(() => result.current.undo())
    expect(result.current.graph.nodes.map((n) => n.id)).toEqual(['signup_1'])
    act(() => result.current.redo())
    expect(result.current.graph.nodes.map((n) => n.id)).toEqual(['signup_1', 'send_webhook_1'])
    act(() => result.current.undo())
    act(() => result.current.undo())
    expect(result.current.graph).toEqual(empty)
    expect(result.current.dirty).toBe(false)
    expect(result.current.canUndo).toBe(false)
  })

  it('connects a condition by its yes and no outputs and refuses bad connections', () => {
    const { result } = renderHook(() => useEditor(empty, specs))
    act(() => void result.current.addNode('signup', { position: { x: 0, y: 0 } }))
    act(() => void result.current.addNode('condition', { from: 'signup_1' }))
    act(() => void result.current.addNode('end', { from: 'condition_1' }))
    act(() => void result.current.addNode('send_webhook', { from: 'condition_1' }))
    expect(result.current.graph.edges).toEqual([
      { from: 'signup_1', to: 'condition_1' },
      { from: 'condition_1', to: 'end_1', label: 'yes' },
      { from: 'condition_1', to: 'send_webhook_1', label: 'no' },
    ])
    let problem = ''
    act(() => void (problem = result.current.onConnect({ source: 'end_1', target: 'send_webhook_1', sourceHandle: null, targetHandle: null })))
    expect(problem).toMatch(/no outputs/)
    act(() => void (problem = result.current.onConnect({ source: 'send_webhook_1', target: 'signup_1', sourceHandle: null, targetHandle: null })))
    expect(problem).toMatch(/trigger/)
  })

  it('edits config as one undo step per field, deletes, and tracks the saved graph', () => {
    const start: Graph = {
      nodes: [
        { id: 't1', type: 'signup', config: {}, position: { x: 0, y: 0 } },
        { id: 'w1', type: 'send_webhook', config: { url: 'https://a.test' }, position: { x: 0, y: 150 } },
      ],
      edges: [{ from: 't1', to: 'w1' }],
    }
    const { result } = renderHook(() => useEditor(start, specs))
    act(() => result.current.updateConfig('w1', 'url', 'https://a.test/'))
    act(() => result.current.updateConfig('w1', 'url', 'https://a.test/x'))
    act(() => result.current.updateConfig('w1', 'fields', []))
    expect(result.current.graph.nodes[1].config).toEqual({ url: 'https://a.test/x', fields: [] })
    act(() => result.current.undo())
    act(() => result.current.undo())
    expect(result.current.graph.nodes[1].config).toEqual({ url: 'https://a.test' })
    expect(result.current.dirty).toBe(false)
    act(() => result.current.deleteNodes(['w1']))
    expect(result.current.graph).toEqual({ nodes: [start.nodes[0]], edges: [] })
    act(() => result.current.markSaved(result.current.graph))
    expect(result.current.dirty).toBe(false)
  })

  it('lays out a graph saved without positions', () => {
    const { result } = renderHook(() =>
      useEditor({ nodes: [{ id: 'a', type: 'signup' }, { id: 'b', type: 'end' }], edges: [{ from: 'a', to: 'b' }] }, specs),
    )
    const [a, b] = result.current.graph.nodes
    expect(b.position!.y).toBeGreaterThan(a.position!.y)
    act(() => result.current.autoLayout())
    expect(result.current.canUndo).toBe(true)
  })
})

describe('Palette', () => {
  it('groups the catalogue, shows a type the front end has never heard of, and adds by keyboard', async () => {
    const user = userEvent.setup()
    const onAdd = vi.fn()
    const list = [...specList, { type: 'send_sms', kind: 'action' as const, label: 'Send an SMS', description: '', schema: null, outputs: null }]
    renderWithClient(<Palette specs={list} onAdd={onAdd} />)
    const groups = screen.getAllByRole('region').map((r) => r.getAttribute('aria-labelledby'))
    expect(groups).toEqual(['palette-trigger', 'palette-action', 'palette-flow'])
    const actions = screen.getByRole('region', { name: 'Actions' })
    expect(within(actions).getByRole('button', { name: 'Send an SMS' })).toHaveAttribute('draggable', 'true')
    within(screen.getByRole('region', { name: 'Flow' })).getByRole('button', { name: 'Condition' }).focus()
    await user.keyboard('{Enter}')
    expect(onAdd).toHaveBeenCalledWith('condition')
    await user.type(screen.getByLabelText('Search steps'), 'webhook')
    expect(screen.queryByRole('region', { name: 'Flow' })).not.toBeInTheDocument()
  })
})

function panelProps(over: Partial<NodePanelProps> = {}): NodePanelProps {
  const { nodes, edges } = toFlow({
    nodes: [
      { id: 't1', type: 'signup', config: {} },
      { id: 'w1', type: 'send_webhook', config: { url: 'http://127.0.0.1:1/ok', headers: { 'X-Token': 'abc' }, data: { plan: '{{ contact.c3 }}' } } },
      { id: 'e1', type: 'end', config: {} },
    ],
    edges: [{ from: 't1', to: 'w1' }],
  })
  return {
    node: nodes[1],
    spec: specs.get('send_webhook'),
    specs,
    nodes,
    edges,
    problems: [],
    readOnly: false,
    scenarioId: 'scn_1',
    tab: 'settings',
    onTab: () => {},
    statsVersion: 0,
    stats: undefined,
    onConfig: () => {},
    onDelete: () => {},
    onConnect: () => '',
    onRemoveEdge: () => {},
    onClose: () => {},
    ...over,
  }
}

describe('NodePanel', () => {
  it('puts validation problems on their fields and the rest at the top', () => {
    renderWithClient(
      <NodePanel
        {...panelProps({
          problems: [
            { node: 'w1', field: 'config.url', message: 'column 3: unknown name contcat in {{ contcat.x }}' },
            { node: 'w1', field: 'graph.edges[1]', message: 'a send_webhook node needs a next step' },
          ],
        })}
      />,
    )
    const url = screen.getByLabelText(/^URL/)
    expect(url).toHaveAttribute('aria-invalid', 'true')
    expect(url.closest('[data-field="url"]')).toHaveTextContent('unknown name contcat')
    expect(screen.getByText('a send_webhook node needs a next step').closest('ul')).toHaveClass('problem-list')
  })

  it('connects the step by keyboard', async () => {
    const user = userEvent.setup()
    const onConnect = vi.fn(() => '')
    renderWithClient(<NodePanel {...panelProps({ onConnect })} />)
    await user.selectOptions(screen.getByLabelText('Connect to'), 'e1')
    await user.click(screen.getByRole('button', { name: 'Connect' }))
    expect(onConnect).toHaveBeenCalledWith('e1', null)
    expect(screen.getByRole('status')).toHaveTextContent('Connected to e1.')
  })

  it('is read-only on an activated version', () => {
    renderWithClient(<NodePanel {...panelProps({ readOnly: true })} />)
    expect(screen.getByLabelText(/^URL/)).toHaveAttribute('readonly')
    expect(screen.queryByRole('button', { name: /Test URL/ })).not.toBeInTheDocument()
    expect(screen.queryByRole('button', { name: /Delete step/ })).not.toBeInTheDocument()
  })
})

describe('Test URL', () => {
  const ok: TestResult = {
    ok: true,
    status_code: 200,
    duration_ms: 12,
    response_headers: { 'Content-Type': 'application/json' },
    response_body: '{"received":true}',
    request: { url: 'http://127.0.0.1:1/ok', method: 'POST', headers: { 'X-Token': 'abc', 'webhook-id': 'test_evt_1' }, body: '{"id":"test_evt_1"}' },
  }

  it('sends the step’s headers and data, shows a green check and the details', async () => {
    const user = userEvent.setup()
    const testWebhook = vi.fn(async () => ok)
    renderWithClient(<NodePanel {...panelProps()} />, { testWebhook })
    await user.click(screen.getByRole('button', { name: /Test URL/ }))
    expect(await screen.findByTestId('test-ok')).toHaveTextContent('200 · 12 ms')
    expect(testWebhook).toHaveBeenCalledWith({
      url: 'http://127.0.0.1:1/ok',
      headers: { 'X-Token': 'abc' },
      data: { plan: '{{ contact.c3 }}' },
      scenario_id: 'scn_1',
      node_id: 'w1',
    })
    await user.click(screen.getByRole('button', { name: 'See details' }))
    const dialog = screen.getByRole('dialog', { name: 'Test request details' })
    expect(dialog).toHaveTextContent('webhook-id')
    expect(dialog).toHaveTextContent('"received": true')
  })

  it('shows a red cross with the status code, the error, or a refused request', async () => {
    const user = userEvent.setup()
    const testWebhook = vi
      .fn()
      .mockResolvedValueOnce({ ...ok, ok: false, status_code: 500, error: 'answered 500' })
      .mockResolvedValueOnce({ ok: false, duration_ms: 3, error: 'connection refused', request: ok.request })
      .mockRejectedValueOnce(new ApiError(422, 'validation_failed', 'url must be absolute', 'url'))
    renderWithClient(<NodePanel {...panelProps()} />, { testWebhook })
    const button = screen.getByRole('button', { name: /Test URL/ })
    await user.click(button)
    expect(await screen.findByTestId('test-fail')).toHaveTextContent('500')
    await user.click(button)
    await waitFor(() => expect(screen.getByTestId('test-fail')).toHaveTextContent('connection refused'))
    await user.click(button)
    await waitFor(() => expect(screen.getByTestId('test-fail')).toHaveTextContent('url must be absolute (url)'))
  })

  it('tests as a chosen contact', async () => {
    const user = userEvent.setup()
    const testWebhook = vi.fn(async () => ok)
    const contactByEmail = vi.fn(async () => ({ id: 'ctc_9', email: 'a@b.c', firstname: 'A', lastname: 'B', fields: {} }))
    renderWithClient(<NodePanel {...panelProps()} />, { testWebhook, contactByEmail })
    await user.click(screen.getByLabelText('as a contact'))
    await user.type(screen.getByLabelText('Test as contact with email'), 'a@b.c')
    await user.click(screen.getByRole('button', { name: /Test URL/ }))
    await screen.findByTestId('test-ok')
    expect(testWebhook).toHaveBeenCalledWith(expect.objectContaining({ contact_id: 'ctc_9' }))
  })

  it('builds the request from the config', () => {
    expect(testRequestOf({ url: 'u', method: 'PUT', fields: ['email'], timeout: '5s' }, {})).toEqual({ url: 'u', method: 'PUT', fields: ['email'], timeout: '5s' })
  })
})
