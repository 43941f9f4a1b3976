// Pure logic of the inbound webhook pages: the create form → API input, the
// integration guide's examples, and the activity as a dense hourly series.
import type { CustomField, InboundActivity, InboundInput, InboundWebhook } from '../api/types'

export interface InboundForm {
  name: string
  listId: string
  action: 'subscribe' | 'unsubscribe'
  methods: string[]
  headers: Record<string, string>
  /** Addresses and CIDR ranges, separated by commas, spaces or new lines. */
  ips: string
  /** Custom field key → name. */
  fields: Record<string, string>
}

export const emptyInboundForm: InboundForm = {
  name: '',
  listId: '',
  action: 'subscribe',
  methods: ['GET', 'POST'],
  headers: {},
  ips: '',
  fields: {},
}

/** splitList splits addresses typed one per line or separated by commas or spaces. */
export function splitList(s: string): string[] {
  return [...new Set(s.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean))]
}

const ipLike = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/

/** The fields a call may always pass: custom fields cannot reuse them. */
export const STANDARD_FIELDS = ['email', 'firstname', 'lastname']

/**
 * inboundInput checks the form and builds the API input; problems are keyed
 * by the form field (name, list, methods, ips, fields). The server checks
 * again and has the last word.
 */
export function inboundInput(f: InboundForm): { input?: InboundInput; problems: Record<string, string> } {
  const problems: Record<string, string> = {}
  if (!f.name.trim()) problems.name = 'Give the webhook a name.'
  if (!f.listId) problems.list = 'Choose the list it subscribes contacts to.'
  if (f.methods.length === 0) problems.methods = 'Allow GET, POST or both.'
  const ips = splitList(f.ips)
  const badIP = ips.find((ip) => !ipLike.test(ip))
  if (badIP) problems.ips = `“${badIP}” is not an IP address or CIDR range.`
  const fields: CustomField[] = Object.entries(f.fields).map(([key, name]) => ({ key: key.trim(), name: name.trim() || key.trim() }))
  const reserved = fields.find((c) => STANDARD_FIELDS.includes(c.key.toLowerCase()) || c.key.toLowerCase() === 'api-key' || c.key === 'payload')
  if (reserved) problems.fields = `“${reserved.key}” is a standard field; custom fields need another key.`
  const badKey = fields.find((c) => !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(c.key))
  if (!reserved && badKey) problems.fields = `“${badKey.key}”: a key is a letter or “_”, then letters, digits or “_”.`
  if (Object.keys(problems).length > 0) return { problems }
  const input: InboundInput = { name: f.name.trim(), list_id: f.listId, action: f.action, allowed_methods: [...f.methods] }
  const headers = Object.fromEntries(Object.entries(f.headers).filter(([k]) => k.trim()))
  if (Object.keys(headers).length) input.allowed_headers = headers
  if (ips.length) input.allowed_ips = ips
  if (fields.length) input.custom_fields = fields
  return { input, problems }
}

/** fullURL is the webhook's URL as outside systems call it. */
export function fullURL(w: Pick<InboundWebhook, 'url' | 'id'>, origin: string): string {
  const path = w.url || `/hooks/${w.id}`
  return /^https?:\/\//.test(path) ? path : origin.replace(/\/+$/, '') + path
}

/** sampleData is the example contact the guide's examples send. */
export function sampleData(fields: CustomField[] | null | undefined): [string, string][] {
  const out: [string, string][] = [['email', 'john@example.org']]
  for (const f of fields ?? []) out.push([f.key, f.name || f.key])
  return out
}

/** shellQuote single-quotes s for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/** quickURL is the quick way's URL: the api-key and the data in the query string. */
export function quickURL(w: InboundWebhook, origin: string): string {
  const q = [['api-key', w.api_key], ...sampleData(w.custom_fields)]
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&')
  return `${fullURL(w, origin)}?${q}`
}

export function quickExample(w: InboundWebhook, origin: string): string {
  const get = w.allowed_methods?.length ? w.allowed_methods.includes('GET') : true
  if (get) return `curl -s ${shellQuote(quickURL(w, origin))}\n# → {"status":"${w.action === 'unsubscribe' ? 'unsubscribed' : 'subscribed'}","contact_id":"ctc_…","event_id":"evt_…"}`
  const data = [['api-key', w.api_key], ...sampleData(w.custom_fields)].map(([k, v]) => ` \\\n  --data-urlencode ${shellQuote(`${k}=${v}`)}`).join('')
  return `curl -s ${shellQuote(fullURL(w, origin))}${data}`
}

/** secureExample is the README's shell recipe: AES-256-CBC with openssl, the IV in front, base64. */
export function secureExample(w: InboundWebhook, origin: string): string {
  const data = JSON.stringify(Object.fromEntries(sampleData(w.custom_fields)))
  return [
    `SECRET_KEY=${w.secret_key}`,
    `DATA=${shellQuote(data)}`,
    'IV=$(openssl rand -hex 16)',
    `PAYLOAD=$( { printf '%s' "$IV" | xxd -r -p`,
    `             printf '%s' "$DATA" | openssl enc -aes-256-cbc -K "$SECRET_KEY" -iv "$IV"; } | openssl base64 -A)`,
    `curl -s ${shellQuote(fullURL(w, origin))} -H 'Content-Type: application/json' -d '{"payload":"'"$PAYLOAD"'"}'`,
  ].join('\n')
}

export interface InboundSeries {
  /** Hour starts, in seconds since the epoch. */
  x: number[]
  accepted: number[]
  refused: number[]
}

const HOUR = 3600

/** inboundSeries fills the last `hours` hours (up to now) with zeros where there was no call. */
export function inboundSeries(a: Pick<InboundActivity, 'hours'> | undefined, nowMs = Date.now(), hours = 24): InboundSeries {
  const now = Math.floor(nowMs / 1000 / HOUR) * HOUR
  const byHour = new Map<number, { accepted: number; refused: number }>()
  for (const h of a?.hours ?? []) {
    const t = Math.floor(Date.parse(h.hour) / 1000 / HOUR) * HOUR
    if (!Number.isNaN(t)) byHour.set(t, h)
  }
  const s: InboundSeries = { x: [], accepted: [], refused: [] }
  for (let t = now - (hours - 1) * HOUR; t <= now; t += HOUR) {
    s.x.push(t)
    s.accepted.push(byHour.get(t)?.accepted ?? 0)
    s.refused.push(byHour.get(t)?.refused ?? 0)
  }
  return s
}

const refusalLabels: Record<string, string> = {
  wrong_key: 'Wrong API key',
  method_not_allowed: 'Method not allowed',
  ip_not_allowed: 'IP not allowed',
  header_not_allowed: 'Header missing or wrong',
}

export function refusalLabel(code: string): string {
  return refusalLabels[code] ?? code.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase())
}
