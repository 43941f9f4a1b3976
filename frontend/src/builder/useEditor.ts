// The builder's graph state: React Flow nodes and edges, undo/redo, and the
// saved graph the unsaved-changes flag compares with.
import { applyEdgeChanges, applyNodeChanges, type Connection, type EdgeChange, type NodeChange } from '@xyflow/react'
import { useCallback, useMemo, useRef, useState } from 'react'
import type { Graph, NodeSpec } from '../api/types'
import {
  connect,
  connectionProblem,
  fromFlow,
  newNodeId,
  outputsOf,
  removeNodes,
  sameGraph,
  toFlow,
  NODE_HEIGHT,
  type StepEdge,
  type StepNode,
} from '../lib/graph'
import { emptyHistory, record, redo as redoH, undo as undoH, type History } from '../lib/history'
import { layout } from '../lib/layout'
import { defaultConfig, keepsEmpty, setConfigValue } from '../lib/schema'

interface FlowState {
  nodes: StepNode[]
  edges: StepEdge[]
}

function initialState(g: Graph): FlowState {
  const s = toFlow(g)
  if ((g.nodes ?? []).some((n) => !n.position)) return { nodes: layout(s.nodes, s.edges), edges: s.edges }
  return s
}

export interface Editor {
  nodes: StepNode[]
  edges: StepEdge[]
  graph: Graph
  dirty: boolean
  canUndo: boolean
  canRedo: boolean
  selectedId: string | null
  onNodesChange: (c: NodeChange<StepNode>[]) => void
  onEdgesChange: (c: EdgeChange<StepEdge>[]) => void
  onConnect: (c: Connection) => string
  canConnect: (c: { source: string; target: string; sourceHandle?: string | null }) => boolean
  onDragStart: () => void
  onDragStop: () => void
  addNode: (type: string, opts?: { position?: { x: number; y: number }; from?: string | null }) => { id: string; connectedFrom?: string }
  updateConfig: (nodeId: string, key: string, value: unknown) => void
  deleteNodes: (ids: string[]) => void
  removeEdge: (id: string) => void
  select: (id: string | null) => void
  undo: () => void
  redo: () => void
  autoLayout: () => void
  /** reset replaces everything (another version loaded). */
  reset: (g: Graph) => void
  /** markSaved records g as the saved graph. */
  markSaved: (g: Graph) => void
}

export function useEditor(initial: Graph, specs: Map<string, NodeSpec>): Editor {
  const [state, setState] = useState<FlowState>(() => initialState(initial))
  const [history, setHistory] = useState<History<Graph>>(emptyHistory)
  const [saved, setSaved] = useState<Graph>(() => fromFlow(initialState(initial).nodes, initialState(initial).edges))
  const ref = useRef(state)
  ref.current = state
  const dragBase = useRef<Graph | null>(null)

  const apply = useCallback((next: FlowState) => {
    ref.current = next
    setState(next)
  }, [])

  /** change applies fn and records the state before it for undo. */
  const change = useCallback(
    (fn: (s: FlowState) => FlowState, key?: string) => {
      const before = fromFlow(ref.current.nodes, ref.current.edges)
      const next = fn(ref.current)
      if (next === ref.current) return
      apply(next)
      setHistory((h) => record(h, before, key))
    },
    [apply],
  )

  const onNodesChange = useCallback(
    (changes: NodeChange<StepNode>[]) => {
      if (changes.some((c) => c.type === 'remove')) {
        const ids = new Set(changes.filter((c) => c.type === 'remove').map((c) => (c as { id: string }).id))
        change((s) => removeNodes(s.nodes, s.edges, ids), 'delete')
        return
      }
      apply({ ...ref.current, nodes: applyNodeChanges(changes, ref.current.nodes) })
    },
    [apply, change],
  )

  const onEdgesChange = useCallback(
    (changes: EdgeChange<StepEdge>[]) => {
      if (changes.some((c) => c.type === 'remove')) {
        // Edges of a deleted node are already gone: only real removals count.
        const live = new Set(ref.current.edges.map((e) => e.id))
        const real = changes.filter((c) => c.type !== 'remove' || live.has(c.id))
        if (!real.some((c) => c.type === 'remove')) return
        change((s) => ({ ...s, edges: applyEdgeChanges(real, s.edges) }), 'delete')
        return
      }
      apply({ ...ref.current, edges: applyEdgeChanges(changes, ref.current.edges) })
    },
    [apply, change],
  )

  const canConnect = useCallback(
    (c: { source: string; target: string; sourceHandle?: string | null }) =>
      connectionProblem(c, ref.current.nodes, ref.current.edges, specs) === '',
    [specs],
  )

  const onConnect = useCallback(
    (c: Connection) => {
      const problem = connectionProblem(c, ref.current.nodes, ref.current.edges, specs)
      if (problem) return problem
      change((s) => ({ ...s, edges: connect(s.edges, c) }))
      return ''
    },
    [change, specs],
  )

  const select = useCallback(
    (id: string | null) => {
      const s = ref.current
      apply({
        nodes: s.nodes.map((n) => (!!n.selected === (n.id === id) ? n : { ...n, selected: n.id === id })),
        edges: s.edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
      })
    },
    [apply],
  )

  const addNode = useCallback(
    (type: string, opts: { position?: { x: number; y: number }; from?: string | null } = {}) => {
      const spec = specs.get(type)
      const s = ref.current
      const id = newNodeId(type, s.nodes.map((n) => n.id))
      const from = opts.from ? s.nodes.find((n) => n.id === opts.from) : undefined
      let position = opts.position
      if (!position && from) {
        const below = s.edges.filter((e) => e.source === from.id).length
        position = { x: from.position.x + below * 280, y: from.position.y + (from.measured?.height ?? NODE_HEIGHT) + 80 }
      }
      if (!position) {
        const maxY = s.nodes.reduce((m, n) => Math.max(m, n.position.y + (n.measured?.height ?? NODE_HEIGHT)), -80)
        position = { x: s.nodes[0]?.position.x ?? 0, y: maxY + 80 }
      }
      const node: StepNode = {
        id,
        type: 'step',
        position,
        selected: true,
        data: { type, config: defaultConfig(spec?.schema) },
      }
      let connectedFrom: string | undefined
      change((st) => {
        const nodes = [...st.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), node]
        let edges = st.edges
        if (from && spec?.kind !== 'trigger') {
          const fromSpec = specs.get(from.data.type)
          const used = new Set(st.edges.filter((e) => e.source === from.id).map((e) => e.sourceHandle || null))
          const outs = outputsOf(fromSpec)
          const handle = outs.find((o) => o !== null && !used.has(o)) ?? (outs.includes(null) ? null : undefined)
          if (handle !== undefined && connectionProblem({ source: from.id, target: id, sourceHandle: handle }, nodes, edges, specs) === '') {
            edges = connect(edges, { source: from.id, target: id, sourceHandle: handle })
            connectedFrom = from.id
          }
        }
        return { nodes, edges }
      })
      return { id, connectedFrom }
    },
    [change, specs],
  )

  const updateConfig = useCallback(
    (nodeId: string, key: string, value: unknown) => {
      change(
        (s) => ({
          ...s,
          nodes: s.nodes.map((n) =>
            n.id === nodeId
              ? {
                  ...n,
                  data: {
                    ...n.data,
                    config: setConfigValue(n.data.config, key, value, keepsEmpty(specs.get(n.data.type)?.schema, key, value)),
                  },
                }
              : n,
          ),
        }),
        `config:${nodeId}:${key}`,
      )
    },
    [change, specs],
  )

  const deleteNodes = useCallback((ids: string[]) => change((s) => removeNodes(s.nodes, s.edges, new Set(ids))), [change])
  const removeEdge = useCallback((id: string) => change((s) => ({ ...s, edges: s.edges.filter((e) => e.id !== id) })), [change])

  const restore = useCallback(
    (g: Graph) => {
      const cur = ref.current
      const flow = toFlow(g)
      const byId = new Map(cur.nodes.map((n) => [n.id, n]))
      apply({
        nodes: flow.nodes.map((n) => {
          const old = byId.get(n.id)
          return old ? { ...n, selected: old.selected, measured: old.measured } : n
        }),
        edges: flow.edges,
      })
    },
    [apply],
  )

  const undo = useCallback(() => {
    const r = undoH(history, fromFlow(ref.current.nodes, ref.current.edges))
    if (!r) return
    setHistory(r.history)
    restore(r.state)
  }, [history, restore])

  const redo = useCallback(() => {
    const r = redoH(history, fromFlow(ref.current.nodes, ref.current.edges))
    if (!r) return
    setHistory(r.history)
    restore(r.state)
  }, [history, restore])

  const onDragStart = useCallback(() => {
    dragBase.current = fromFlow(ref.current.nodes, ref.current.edges)
  }, [])

  const onDragStop = useCallback(() => {
    const base = dragBase.current
    dragBase.current = null
    if (base && !sameGraph(base, fromFlow(ref.current.nodes, ref.current.edges))) setHistory((h) => record(h, base))
  }, [])

  const autoLayout = useCallback(() => change((s) => ({ ...s, nodes: layout(s.nodes, s.edges) })), [change])

  const reset = useCallback(
    (g: Graph) => {
      const s = initialState(g)
      apply(s)
      setHistory(emptyHistory())
      setSaved(fromFlow(s.nodes, s.edges))
    },
    [apply],
  )

  const markSaved = useCallback((g: Graph) => setSaved(g), [])

  const graph = useMemo(() => fromFlow(state.nodes, state.edges), [state])
  const dirty = useMemo(() => !sameGraph(graph, saved), [graph, saved])
  const selectedId = state.nodes.find((n) => n.selected)?.id ?? null

  return {
    nodes: state.nodes,
    edges: state.edges,
    graph,
    dirty,
    canUndo: history.past.length > 0,
    canRedo: history.future.length > 0,
    selectedId,
    onNodesChange,
    onEdgesChange,
    onConnect,
    canConnect,
    onDragStart,
    onDragStop,
    addNode,
    updateConfig,
    deleteNodes,
    removeEdge,
    select,
    undo,
    redo,
    autoLayout,
    reset,
    markSaved,
  }
}
