// Presentation of node kinds and types.
import type { Kind, NodeSpec } from '../api/types'

export const kindNames: Record<Kind, string> = { trigger: 'Trigger', action: 'Action', flow: 'Flow' }
export const kindGroups: { kind: Kind; title: string }[] = [
  { kind: 'trigger', title: 'Triggers' },
  { kind: 'action', title: 'Actions' },
  { kind: 'flow', title: 'Flow' },
]

/** iconOf picks an icon for a node type. */
export function iconOf(spec: NodeSpec | undefined): string {
  if (!spec) return 'bolt'
  if (spec.type.includes('webhook')) return 'send'
  if (spec.type === 'condition') return 'branch'
  if (spec.type === 'wait') return 'pause'
  if (spec.type === 'end') return 'x'
  if (spec.kind === 'trigger') return 'bolt'
  if (spec.kind === 'flow') return 'branch'
  return 'play'
}

/** isWebhookStep reports whether a node type makes deliveries (accepted/pending/failed counters). */
export function isWebhookStep(type: string): boolean {
  return type === 'send_webhook'
}

/** firstSentence returns the first sentence of a description. */
export function firstSentence(text: string | undefined): string {
  if (!text) return ''
  const m = /^(.+?[.!?])(\s|$)/.exec(text)
  return m ? m[1] : text
}

/** summarize describes a node's config in one short line. */
export function summarize(type: string, config: Record<string, unknown>): string {
  if (typeof config.url === 'string' && config.url) {
    const m = typeof config.method === 'string' && config.method ? config.method : 'POST'
    return `${m} ${config.url}`
  }
  if (type === 'condition' && typeof config.expression === 'string') return config.expression
  const parts: string[] = []
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined || v === null || v === '') continue
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') parts.push(`${k}: ${v}`)
    else if (Array.isArray(v) && v.length) parts.push(`${k}: ${v.join(', ')}`)
    if (parts.length === 2) break
  }
  return parts.join(' · ')
}
