// Test fixtures: the node catalogue as `sluice serve` answers it, and helpers.
import type { NodeSpec } from '../api/types'
import catalogue from './node-types.json'

export const specList: NodeSpec[] = (catalogue as unknown as { node_types: NodeSpec[] }).node_types
export const specs = new Map(specList.map((s) => [s.type, s]))

export function spec(type: string): NodeSpec {
  const s = specs.get(type)
  if (!s) throw new Error(`no spec ${type}`)
  return s
}

/** jsonResponse builds a fetch Response. */
export function jsonResponse(status: number, body?: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}
