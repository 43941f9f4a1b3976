// Auto-layout of a scenario with dagre: top to bottom, triggers first.
import dagre from '@dagrejs/dagre'
import { NODE_HEIGHT, NODE_WIDTH, type StepEdge, type StepNode } from './graph'

/** layout returns nodes with new positions (top-left corners), leaving the rest of each node intact. */
export function layout(nodes: StepNode[], edges: StepEdge[]): StepNode[] {
  const g = new dagre.graphlib.Graph()
  g.setGraph({ rankdir: 'TB', nodesep: 48, ranksep: 72, marginx: 20, marginy: 20 })
  g.setDefaultEdgeLabel(() => ({}))
  // Nodes are added depth first from the triggers, "yes" branches first.
  const sorted = [...edges].sort((a, b) => rankOf(a.sourceHandle) - rankOf(b.sourceHandle))
  for (const n of depthFirst(nodes, sorted)) {
    const w = n.measured?.width ?? NODE_WIDTH
    const h = n.measured?.height ?? NODE_HEIGHT
    g.setNode(n.id, { width: w, height: h })
  }
  for (const e of sorted) if (g.hasNode(e.source) && g.hasNode(e.target)) g.setEdge(e.source, e.target)
  dagre.layout(g)
  const pos = new Map<string, { x: number; y: number; w: number }>()
  for (const n of nodes) {
    const p = g.node(n.id)
    if (!p) continue
    const w = n.measured?.width ?? NODE_WIDTH
    const h = n.measured?.height ?? NODE_HEIGHT
    pos.set(n.id, { x: p.x - w / 2, y: p.y - h / 2, w })
  }
  yesOnTheLeft(pos, edges)
  return nodes.map((n) => {
    const p = pos.get(n.id)
    return p ? { ...n, position: { x: Math.round(p.x), y: Math.round(p.y) } } : n
  })
}

/**
 * yesOnTheLeft swaps a condition's two branches when dagre put the "no"
 * branch left of the "yes" one (the yes handle is drawn on the left), when
 * the branches do not share steps.
 */
function yesOnTheLeft(pos: Map<string, { x: number; y: number; w: number }>, edges: StepEdge[]) {
  const below = (id: string) => {
    const seen = new Set<string>()
    const stack = [id]
    while (stack.length) {
      const cur = stack.pop()!
      if (seen.has(cur)) continue
      seen.add(cur)
      for (const e of edges) if (e.source === cur) stack.push(e.target)
    }
    return seen
  }
  const box = (ids: Set<string>) => {
    let min = Infinity
    let max = -Infinity
    for (const id of ids) {
      const p = pos.get(id)
      if (p) {
        min = Math.min(min, p.x)
        max = Math.max(max, p.x + p.w)
      }
    }
    return { min, max }
  }
  for (const e of edges) {
    if (e.sourceHandle !== 'yes') continue
    const no = edges.find((x) => x.source === e.source && x.sourceHandle === 'no')
    if (!no) continue
    const yes = below(e.target)
    const nos = below(no.target)
    if ([...yes].some((id) => nos.has(id))) continue
    const yb = box(yes)
    const nb = box(nos)
    if (!(yb.min > nb.min) || nb.max > yb.min) continue
    const gap = yb.min - nb.max
    const yShift = nb.min - yb.min
    const nShift = nb.min + (yb.max - yb.min) + gap - nb.min
    for (const id of yes) pos.get(id)!.x += yShift
    for (const id of nos) pos.get(id)!.x += nShift
  }
}

function rankOf(handle: string | null | undefined): number {
  return handle === 'no' ? 2 : handle === 'yes' ? 1 : 0
}

/** depthFirst orders nodes from the roots (no incoming edge) along edges in order. */
function depthFirst(nodes: StepNode[], edges: StepEdge[]): StepNode[] {
  const byId = new Map(nodes.map((n) => [n.id, n]))
  const hasIn = new Set(edges.map((e) => e.target))
  const out: StepNode[] = []
  const seen = new Set<string>()
  const visit = (id: string) => {
    if (seen.has(id) || !byId.has(id)) return
    seen.add(id)
    out.push(byId.get(id)!)
    for (const e of edges) if (e.source === id) visit(e.target)
  }
  for (const n of nodes) if (!hasIn.has(n.id)) visit(n.id)
  for (const n of nodes) visit(n.id)
  return out
}
