// Test fixtures: the node catalogue as `sluice serve` answers it, and helpers.
import type { NodeSpec, Subscription } from '../api/types'
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

/** sub builds an event subscription as GET /api/v1/webhooks answers it. */
export const sub = (patch: Partial<Subscription> = {}): Subscription => ({
  id: 'whk_1',
  app: 'crm',
  event: 'optin_finalized',
  url: 'https://crm.example/hook',
  secret: 'whsec_x',
  active: true,
  created_at: '2026-11-23T10:00:00Z',
  updated_at: '2026-11-23T10:00:00Z',
  deactivated_at: null,
  deliveries: 0,
  accepted: 0,
  pending: 0,
  failed: 0,
  attempts: 0,
  failed_attempts: 0,
  consecutive_failures: 0,
  buffered: 0,
  replayed: 0,
  dropped: 0,
  purged: 0,
  ...patch,
})

