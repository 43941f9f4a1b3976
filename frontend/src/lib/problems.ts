// Maps validation problems from the server onto nodes and config fields.
import type { Problem } from '../api/types'

export interface ProblemIndex {
  /** Problems per node id. */
  byNode: Map<string, Problem[]>
  /** Problems about the whole graph (no node). */
  general: Problem[]
}

export function indexProblems(problems: Problem[]): ProblemIndex {
  const byNode = new Map<string, Problem[]>()
  const general: Problem[] = []
  for (const p of problems) {
    if (!p.node) {
      general.push(p)
      continue
    }
    const list = byNode.get(p.node) ?? []
    list.push(p)
    byNode.set(p.node, list)
  }
  return { byNode, general }
}

/**
 * configKeyOf returns the top-level config key a problem's field names
 * ("config.headers.X-Token" → "headers", "config.fields[1]" → "fields"), or
 * "" when the problem is about the node itself (its edges, its type).
 */
export function configKeyOf(field: string | undefined): string {
  if (!field) return ''
  const m = /^config[.[]([^.[\]]+)/.exec(field)
  return m ? m[1].replace(/^"|"$/g, '') : ''
}

/** fieldProblems groups one node's problems by config key ("" for the node itself). */
export function fieldProblems(problems: Problem[] | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const p of problems ?? []) {
    const k = configKeyOf(p.field)
    out.set(k, [...(out.get(k) ?? []), p.message])
  }
  return out
}

/** nodeIdFromField finds a node id in an API error field such as "graph.nodes[2].config.url". */
export function problemFromApiField(field: string | undefined, message: string, nodeIds: string[]): Problem {
  const m = field ? /^graph\.nodes\[(\d+)\]\.?(.*)$/.exec(field) : null
  if (m) {
    const id = nodeIds[Number(m[1])]
    if (id) return { node: id, field: m[2] || undefined, message }
  }
  return { field, message }
}
