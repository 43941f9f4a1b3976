import { describe, expect, it } from 'vitest'
import type { Graph } from '../api/types'
import { specs } from '../test/fixtures'
import { connect, connectionProblem, fromFlow, newNodeId, removeNodes, sameGraph, toFlow } from './graph'

const graph: Graph = {
  nodes: [
    { id: 't1', type: 'signup', config: {}, position: { x: 0, y: 0 } },
    { id: 'c1', type: 'condition', config: { expression: 'contact.c3 == "pro"' }, position: { x: 0, y: 150 } },
    { id: 'w1', type: 'send_webhook', config: { url: 'https://x.test', data: { plan: '{{ contact.c3 }}' } }, position: { x: -150, y: 300 } },
    { id: 'e1', type: 'end', config: {}, position: { x: 150, y: 300 } },
  ],
  edges: [
    { from: 't1', to: 'c1' },
    { from: 'c1', to: 'w1', label: 'yes' },
    { from: 'c1', to: 'e1', label: 'no' },
  ],
}

describe('graph ↔ React Flow', () => {
  it('turns edge labels into source handles and back', () => {
    const { nodes, edges } = toFlow(graph)
    expect(nodes.map((n) => [n.id, n.type, n.data.type])).toEqual([
      ['t1', 'step', 'signup'],
      ['c1', 'step', 'condition'],
      ['w1', 'step', 'send_webhook'],
      ['e1', 'step', 'end'],
    ])
    expect(edges.map((e) => [e.source, e.target, e.sourceHandle])).toEqual([
      ['t1', 'c1', null],
      ['c1', 'w1', 'yes'],
      ['c1', 'e1', 'no'],
    ])
    expect(new Set(edges.map((e) => e.id)).size).toBe(3)
    expect(fromFlow(nodes, edges)).toEqual(graph)
  })

  it('rounds positions and places nodes without one', () => {
    const { nodes, edges } = toFlow({ nodes: [{ id: 'a', type: 'signup' }, { id: 'b', type: 'end' }], edges: [] })
    expect(nodes[1].position.y).toBeGreaterThan(nodes[0].position.y)
    nodes[0].position = { x: 10.4, y: 20.6 }
    expect(fromFlow(nodes, edges).nodes[0]).toEqual({ id: 'a', type: 'signup', config: {}, position: { x: 10, y: 21 } })
  })

  it('compares graphs as saved', () => {
    const copy: Graph = JSON.parse(JSON.stringify(graph))
    copy.nodes[2].config = { data: { plan: '{{ contact.c3 }}' }, url: 'https://x.test' } // other key order
    expect(sameGraph(graph, copy)).toBe(true)
    copy.nodes[0].position = { x: 5, y: 0 }
    expect(sameGraph(graph, copy)).toBe(false)
  })
})

describe('connections', () => {
  const { nodes, edges } = toFlow(graph)
  const check = (source: string, target: string, sourceHandle: string | null = null) =>
    connectionProblem({ source, target, sourceHandle }, nodes, edges, specs)

  it('follows the catalogue rules', () => {
    expect(check('w1', 'e1')).toBe('')
    expect(check('w1', 'w1')).toMatch(/itself/)
    expect(check('w1', 't1')).toMatch(/trigger/)
    expect(check('e1', 'w1')).toMatch(/no outputs/)
    expect(check('c1', 'w1', null)).toMatch(/yes or no/)
    expect(check('c1', 'w1', 'maybe')).toMatch(/Unknown output/)
    expect(check('c1', 'w1', 'yes')).toMatch(/already connected/)
    expect(check('c1', 'w1', 'no')).toBe('')
  })

  it('refuses loops', () => {
    const more = connect(edges, { source: 'w1', target: 'e1' })
    const n2 = [...nodes, { ...nodes[2], id: 'w2' }]
    const e2 = connect(more, { source: 'e1', target: 'w2' })
    expect(connectionProblem({ source: 'w2', target: 'c1' }, n2, e2, specs)).toMatch(/loop/)
  })

  it('labels a new edge from its handle, and removes a node with its edges', () => {
    const next = connect(edges, { source: 'c1', target: 't1', sourceHandle: 'no' })
    expect(fromFlow(nodes, next).edges.at(-1)).toEqual({ from: 'c1', to: 't1', label: 'no' })
    const r = removeNodes(nodes, edges, new Set(['c1']))
    expect(r.nodes.map((n) => n.id)).toEqual(['t1', 'w1', 'e1'])
    expect(r.edges).toEqual([])
  })

  it('makes unused node ids', () => {
    expect(newNodeId('send_webhook', ['send_webhook_1', 'send_webhook_2'])).toBe('send_webhook_3')
    expect(newNodeId('a b', [])).toBe('a_b_1')
  })
})
