// Turns a node type's config JSON Schema into the list of form fields the
// side panel renders. Only the schema drives the form, so a node type added on
// the server gets a usable form without front-end changes.
import type { JSONSchema } from '../api/types'

export type Widget =
  | 'text'
  | 'textarea'
  | 'number'
  | 'checkbox'
  | 'select'
  | 'multiselect'
  | 'keyvalue'
  | 'json'

export interface FieldDesc {
  key: string
  label: string
  description?: string
  required: boolean
  widget: Widget
  /** The value (or, for key-value rows, each value) may hold {{ … }} placeholders. */
  placeholders: boolean
  /** Choices of a select or multi-select. */
  options?: string[]
  /** A multi-select also takes values outside options. */
  allowCustom?: boolean
  integer?: boolean
  min?: number
  max?: number
  defaultValue?: unknown
  hint?: string
  format?: string
  secret?: boolean
}

/** Labels for config keys whose schema has no title. */
const knownLabels: Record<string, string> = {
  url: 'URL',
  method: 'Method',
  fields: 'Contact fields',
  data: 'Additional data',
  headers: 'Headers',
  timeout: 'Timeout',
  list_id: 'List',
  url_contains: 'URL contains',
  inbound_webhook_id: 'Inbound webhook',
  offset_days: 'Offset (days)',
  days_before: 'Days before',
  until_field: 'Until date field',
  expression: 'Expression',
  timezone: 'Time zone',
}

/** The fields of a contact that a send_webhook step can send, when the schema lists none. */
export const standardContactFields = ['id', 'email', 'firstname', 'lastname', 'timezone']

/** humanize turns "offset_days" into "Offset days". */
export function humanize(key: string): string {
  const s = key.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim()
  return s.charAt(0).toUpperCase() + s.slice(1)
}

function types(s: JSONSchema): string[] {
  if (Array.isArray(s.type)) return s.type
  return s.type ? [s.type] : []
}

function isType(s: JSONSchema, t: string): boolean {
  return types(s).includes(t)
}

function stringChoices(s: JSONSchema | undefined): string[] | undefined {
  if (!s) return undefined
  if (Array.isArray(s.enum)) return s.enum.map(String)
  const alts = s.oneOf ?? s.anyOf
  if (alts && alts.length > 0 && alts.every((a) => a.const !== undefined)) return alts.map((a) => String(a.const))
  return undefined
}

/** mergeProperties flattens properties from allOf/oneOf/anyOf variants into one object schema. */
export function mergeProperties(schema: JSONSchema | null | undefined): {
  properties: Record<string, JSONSchema>
  required: Set<string>
} {
  const properties: Record<string, JSONSchema> = {}
  const required = new Set<string>()
  if (!schema) return { properties, required }
  const visit = (s: JSONSchema, top: boolean) => {
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      properties[k] = properties[k] ? { ...properties[k], ...v } : v
    }
    // Only the required list of the schema itself (or allOf parts) binds;
    // a oneOf variant's required fields are required only in that variant.
    if (top) for (const r of s.required ?? []) required.add(r)
    for (const sub of s.allOf ?? []) visit(sub, top)
    for (const sub of s.oneOf ?? []) visit(sub, false)
    for (const sub of s.anyOf ?? []) visit(sub, false)
  }
  visit(schema, true)
  return { properties, required }
}

/** describeField decides how one config property is edited. */
export function describeField(key: string, s: JSONSchema, required: boolean): FieldDesc {
  const base: FieldDesc = {
    key,
    label: s.title ?? knownLabels[key] ?? humanize(key),
    description: s.description,
    required,
    widget: 'text',
    placeholders: s['x-placeholders'] === true,
    defaultValue: s.default,
    format: s.format,
    secret: s['x-secret'] === true,
  }
  const choices = stringChoices(s)
  if (choices && !isType(s, 'array')) return { ...base, widget: 'select', options: choices }
  if (isType(s, 'boolean')) return { ...base, widget: 'checkbox' }
  if (isType(s, 'integer') || isType(s, 'number')) {
    return { ...base, widget: 'number', integer: isType(s, 'integer'), min: s.minimum, max: s.maximum }
  }
  if (isType(s, 'array')) {
    const items = s.items ?? {}
    const itemChoices = stringChoices(items)
    const fromSchema =
      itemChoices ??
      (Array.isArray(items.examples) ? items.examples.map(String) : undefined) ??
      (Array.isArray(s['x-options']) ? (s['x-options'] as unknown[]).map(String) : undefined)
    const options = fromSchema ?? (key === 'fields' ? standardContactFields : [])
    if (!items.type || isType(items, 'string')) {
      return { ...base, widget: 'multiselect', options, allowCustom: !itemChoices }
    }
    return { ...base, widget: 'json' }
  }
  if (isType(s, 'object')) {
    const ap = s.additionalProperties
    if (ap !== undefined && ap !== false && !s.properties) {
      const valueSchema = typeof ap === 'object' ? ap : {}
      return { ...base, widget: 'keyvalue', placeholders: base.placeholders || valueSchema['x-placeholders'] === true }
    }
    if (!s.properties) return { ...base, widget: 'keyvalue' }
    return { ...base, widget: 'json' }
  }
  const multiline =
    key === 'expression' ||
    s.format === 'expression' ||
    s['x-expression'] === true ||
    s['x-multiline'] === true
  const hint = s.format === 'duration' ? 'e.g. 15s, 1h30m' : typeof s.examples?.[0] === 'string' ? `e.g. ${s.examples[0]}` : undefined
  return { ...base, widget: multiline ? 'textarea' : 'text', hint }
}

/** fieldsOf lists the form fields of a config schema, in the schema's order. */
export function fieldsOf(schema: JSONSchema | null | undefined): FieldDesc[] {
  const { properties, required } = mergeProperties(schema)
  return Object.entries(properties).map(([k, v]) => describeField(k, v, required.has(k)))
}

/**
 * defaultConfig returns the config of a new node. Scalar defaults are left to
 * the server (the form shows them as hints); non-empty list defaults are
 * written, so that the chips shown match what will be sent.
 */
export function defaultConfig(schema: JSONSchema | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const { properties } = mergeProperties(schema)
  for (const [k, v] of Object.entries(properties)) {
    if (Array.isArray(v.default) && v.default.length > 0) out[k] = structuredClone(v.default)
  }
  return out
}

/** keepsEmpty reports whether an emptied value must stay in the config: a list whose default is not empty. */
export function keepsEmpty(schema: JSONSchema | null | undefined, key: string, v: unknown): boolean {
  if (!Array.isArray(v) || v.length > 0) return false
  const d = mergeProperties(schema).properties[key]?.default
  return Array.isArray(d) && d.length > 0
}

/** isEmptyValue reports whether v says nothing (so the key is dropped from the config). */
export function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true
  if (Array.isArray(v)) return v.length === 0
  if (typeof v === 'object') return Object.keys(v as object).length === 0
  return false
}

/** setConfigValue returns config with key set to v, or removed when v is empty (unless keepEmpty). */
export function setConfigValue(config: Record<string, unknown>, key: string, v: unknown, keepEmpty = false): Record<string, unknown> {
  const next = { ...config }
  if (isEmptyValue(v) && !(keepEmpty && v !== undefined)) delete next[key]
  else next[key] = v
  return next
}
