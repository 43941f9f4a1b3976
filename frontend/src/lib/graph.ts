// Conversion between the API's graph ({nodes, edges with from/to/label}) and
// React Flow's nodes and edges (a condition's yes/no label is the edge's
// sourceHandle), plus the rules a new connection must follow.
import type { Edge, Node } from '@xyflow/react'
import type { Graph, GraphEdge, GraphNode, NodeSpec } from '../api/types'

export interface StepData extends Record<string, unknown> {
  type: string
  config: Record<string, unknown>
}

export type StepNode = Node<StepData, 'step'>
export type StepEdge = Edge

/** Node width and height used by layout and placement (the CSS matches). */
export const NODE_WIDTH = 248
export const NODE_HEIGHT = 92

export function edgeId(from: string, to: string, label?: string | null): string {
  return `${from}->${to}${label ? `:${label}` : ''}`
}

export function toFlowEdge(e: GraphEdge): StepEdge {
  const label = e.label || undefined
  return {
    id: edgeId(e.from, e.to, label),
    source: e.from,
    target: e.to,
    sourceHandle: label ?? null,
    // The label is drawn on the handle; the edge keeps it for screen readers.
    ariaLabel: label ? `${label} branch from ${e.from} to ${e.to}` : undefined,
    className: label ? `edge-${label}` : undefined,
  }
}

/** toFlow converts an API graph to React Flow nodes and edges. */
export function toFlow(g: Graph): { nodes: StepNode[]; edges: StepEdge[] } {
  const nodes: StepNode[] = (g.nodes ?? []).map((n, i) => ({
    id: n.id,
    type: 'step',
    position: n.position ? { x: n.position.x, y: n.position.y } : { x: 0, y: i * (NODE_HEIGHT + 60) },
    data: { type: n.type, config: n.config && typeof n.config === 'object' ? { ...n.config } : {} },
  }))
  const edges = (g.edges ?? []).map(toFlowEdge)
  return { nodes, edges }
}

/** needsLayout reports whether some node of g has no position. */
export function needsLayout(g: Graph): boolean {
  return (g.nodes ?? []).some((n) => !n.position)
}

/** fromFlow converts React Flow state back to the API's graph (positions rounded). */
export function fromFlow(nodes: StepNode[], edges: StepEdge[]): Graph {
  return {
    nodes: nodes.map(
      (n): GraphNode => ({
        id: n.id,
        type: n.data.type,
        config: n.data.config ?? {},
        position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
      }),
    ),
    edges: edges.map((e): GraphEdge => {
      const label = e.sourceHandle || undefined
      return label ? { from: e.source, to: e.target, label } : { from: e.source, to: e.target }
    }),
  }
}

/** sameGraph compares two graphs as saved (node and edge order kept). */
export function sameGraph(a: Graph, b: Graph): boolean {
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b))
}

function normalize(g: Graph): Graph {
  return {
    nodes: (g.nodes ?? []).map((n) => ({
      id: n.id,
      type: n.type,
      config: sortKeys(n.config ?? {}) as Record<string, unknown>,
      position: n.position ? { x: Math.round(n.position.x), y: Math.round(n.position.y) } : undefined,
    })),
    edges: (g.edges ?? []).map((e) => ({ from: e.from, to: e.to, label: e.label || undefined })),
  }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, sortKeys(o[k])]),
    )
  }
  return v
}

/** outputsOf returns the output handles of a node type: [null] for one unlabelled output. */
export function outputsOf(spec: NodeSpec | undefined): (string | null)[] {
  if (!spec || spec.outputs == null) return [null]
  return spec.outputs
}

/** newNodeId returns an id for a node of type that is not used in taken. */
export function newNodeId(type: string, taken: Iterable<string>): string {
  const used = new Set(taken)
  const prefix = type.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40) || 'node'
  for (let i = 1; ; i++) {
    const id = `${prefix}_${i}`
    if (!used.has(id)) return id
  }
}

export interface ConnectionCheck {
  source: string
  target: string
  sourceHandle?: string | null
}

/** connectionProblem says why a connection may not be drawn ("" when it may). */
export function connectionProblem(
  c: ConnectionCheck,
  nodes: StepNode[],
  edges: StepEdge[],
  specs: Map<string, NodeSpec>,
): string {
  if (c.source === c.target) return 'A step cannot connect to itself.'
  const from = nodes.find((n) => n.id === c.source)
  const to = nodes.find((n) => n.id === c.target)
  if (!from || !to) return 'Unknown step.'
  const fromSpec = specs.get(from.data.type)
  const toSpec = specs.get(to.data.type)
  if (toSpec?.kind === 'trigger') return 'A trigger cannot have incoming connections.'
  const outs = outputsOf(fromSpec)
  if (outs.length === 0) return `${fromSpec?.label ?? from.data.type} has no outputs.`
  const handle = c.sourceHandle || null
  if (!outs.includes(handle)) {
    return handle ? `Unknown output "${handle}".` : `Choose an output: ${outs.filter(Boolean).join(' or ')}.`
  }
  if (edges.some((e) => e.source === c.source && e.target === c.target && (e.sourceHandle || null) === handle)) {
    return 'These steps are already connected.'
  }
  if (reaches(c.target, c.source, edges)) return 'This connection would make a loop.'
  return ''
}

/** reaches reports whether to can be reached from from by following edges. */
function reaches(from: string, to: string, edges: StepEdge[]): boolean {
  const seen = new Set<string>()
  const stack = [from]
  while (stack.length) {
    const id = stack.pop()!
    if (id === to) return true
    if (seen.has(id)) continue
    seen.add(id)
    for (const e of edges) if (e.source === id) stack.push(e.target)
  }
  return false
}

/** addEdge returns edges with a new connection (labelled by its handle). */
export function connect(edges: StepEdge[], c: ConnectionCheck): StepEdge[] {
  const label = c.sourceHandle || undefined
  return [...edges, toFlowEdge({ from: c.source, to: c.target, label })]
}

/** removeNodes drops nodes and every edge touching them. */
export function removeNodes(
  nodes: StepNode[],
  edges: StepEdge[],
  ids: Set<string>,
): { nodes: StepNode[]; edges: StepEdge[] } {
  return {
    nodes: nodes.filter((n) => !ids.has(n.id)),
    edges: edges.filter((e) => !ids.has(e.source) && !ids.has(e.target)),
  }
}
