// The typed client of Sluice's HTTP API. Every call sends the bearer key;
// every failure is an ApiError carrying the server's error.code, .message and
// .field (and the graph problems of a 422 on validate/activate).
import type {
  Contact,
  DeliveryPage,
  DeliveryStatus,
  InboundActivity,
  InboundInput,
  InboundWebhook,
  List,
  Notification,
  NodeSpec,
  Problem,
  ScenarioInput,
  ScenarioStats,
  ScenarioSummary,
  ScenarioView,
  Subscription,
  SubscriptionInput,
  TestRequest,
  TestResult,
} from './types'

/** ApiError is a failed call: an HTTP error answer or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly field?: string
  readonly problems: Problem[]

  constructor(status: number, code: string, message: string, field?: string, problems: Problem[] = []) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.field = field
    this.problems = problems
  }

  /** The key was refused (401). */
  get unauthorized(): boolean {
    return this.status === 401
  }
}

type Fetch = typeof fetch

export interface ClientOptions {
  /** Bearer key sent with every call. */
  apiKey: string
  /** Prefix of every path; defaults to "" (same origin). */
  baseURL?: string
  /** Defaults to the global fetch. */
  fetch?: Fetch
  /** Called when a call answers 401 (the key was revoked or is wrong). */
  onUnauthorized?: () => void
}

/** Picks the array out of a list answer: a bare array or {key:[…]}. */
function listOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[]
  if (body && typeof body === 'object') {
    const o = body as Record<string, unknown>
    for (const k of [key, 'items', 'data']) if (Array.isArray(o[k])) return o[k] as T[]
  }
  return []
}

function statusText(status: number): string {
  switch (status) {
    case 400:
      return 'The request was malformed'
    case 401:
      return 'The API key was refused'
    case 403:
      return 'Not allowed'
    case 404:
      return 'Not found'
    case 409:
      return 'Conflict with the current state'
    case 422:
      return 'Invalid input'
    default:
      return status >= 500 ? `Server error (${status})` : `Request failed (${status})`
  }
}

/** Builds the ApiError of an error answer from its parsed JSON body (or null). */
export function errorFromBody(status: number, body: unknown): ApiError {
  const o = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>
  const e = (o.error && typeof o.error === 'object' ? o.error : {}) as Record<string, unknown>
  const message =
    (typeof e.message === 'string' && e.message) ||
    (typeof o.error === 'string' && o.error) ||
    (typeof o.message === 'string' && o.message) ||
    statusText(status)
  const code = (typeof e.code === 'string' && e.code) || (status === 401 ? 'unauthorized' : `http_${status}`)
  const field = typeof e.field === 'string' && e.field ? e.field : undefined
  const raw = Array.isArray(o.problems) ? o.problems : Array.isArray(e.problems) ? e.problems : []
  const problems = (raw as unknown[])
    .filter((p): p is Problem => !!p && typeof p === 'object' && typeof (p as Problem).message === 'string')
    .map((p) => ({ node: p.node || undefined, field: p.field || undefined, message: p.message }))
  return new ApiError(status, code, message, field, problems)
}

/** Client calls the API with one bearer key. */
export class Client {
  private readonly key: string
  private readonly base: string
  private readonly fetchFn: Fetch
  private readonly onUnauthorized?: () => void

  constructor(opts: ClientOptions) {
    this.key = opts.apiKey
    this.base = opts.baseURL ?? ''
    this.fetchFn = opts.fetch ?? ((...a) => fetch(...a))
    this.onUnauthorized = opts.onUnauthorized
  }

  /** request makes one call and returns the parsed JSON body (undefined when empty). */
  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.key}`, Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    let res: Response
    try {
      res = await this.fetchFn(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      })
    } catch (err) {
      if ((err as Error)?.name === 'AbortError') throw err
      throw new ApiError(0, 'network', 'Cannot reach the Sluice server. Is it running?')
    }
    const text = await res.text()
    let parsed: unknown = undefined
    if (text) {
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = undefined
      }
    }
    if (!res.ok) {
      const err = errorFromBody(res.status, parsed)
      if (res.status === 401) this.onUnauthorized?.()
      throw err
    }
    return parsed as T
  }

  // --- catalogue

  async nodeTypes(signal?: AbortSignal): Promise<NodeSpec[]> {
    return listOf<NodeSpec>(await this.request('GET', '/api/v1/node-types', undefined, signal), 'node_types')
  }

  // --- scenarios

  async scenarios(signal?: AbortSignal): Promise<ScenarioSummary[]> {
    return listOf<ScenarioSummary>(await this.request('GET', '/api/v1/scenarios', undefined, signal), 'scenarios')
  }

  /** scenario returns the latest version, or version n when given. */
  scenario(id: string, version?: number, signal?: AbortSignal): Promise<ScenarioView> {
    const q = version ? `?version=${version}` : ''
    return this.request('GET', `/api/v1/scenarios/${encodeURIComponent(id)}${q}`, undefined, signal)
  }

  createScenario(input: ScenarioInput): Promise<ScenarioView> {
    return this.request('POST', '/api/v1/scenarios', input)
  }

  /** saveScenario saves input as a new draft version. */
  saveScenario(id: string, input: ScenarioInput): Promise<ScenarioView> {
    return this.request('PUT', `/api/v1/scenarios/${encodeURIComponent(id)}`, input)
  }

  /** validate returns the problems of the latest version (empty when valid). */
  async validate(id: string): Promise<Problem[]> {
    try {
      const r = await this.request<{ valid: boolean; problems?: Problem[] }>(
        'POST',
        `/api/v1/scenarios/${encodeURIComponent(id)}/validate`,
      )
      return r?.problems ?? []
    } catch (err) {
      if (err instanceof ApiError && err.status === 422 && err.problems.length > 0) return err.problems
      throw err
    }
  }

  activate(id: string): Promise<ScenarioView> {
    return this.request('POST', `/api/v1/scenarios/${encodeURIComponent(id)}/activate`)
  }

  pause(id: string): Promise<ScenarioView> {
    return this.request('POST', `/api/v1/scenarios/${encodeURIComponent(id)}/pause`)
  }

  archive(id: string): Promise<ScenarioView> {
    return this.request('POST', `/api/v1/scenarios/${encodeURIComponent(id)}/archive`)
  }

  async deleteScenario(id: string): Promise<void> {
    await this.request('DELETE', `/api/v1/scenarios/${encodeURIComponent(id)}`)
  }

  /** stats returns a version's counters (latest active when version is 0), hourly buckets when asked. */
  stats(id: string, opts: { version?: number; hourly?: boolean } = {}, signal?: AbortSignal): Promise<ScenarioStats> {
    const q = new URLSearchParams()
    if (opts.version) q.set('version', String(opts.version))
    if (opts.hourly) q.set('bucket', 'hour')
    const qs = q.toString()
    return this.request('GET', `/api/v1/scenarios/${encodeURIComponent(id)}/stats${qs ? '?' + qs : ''}`, undefined, signal)
  }

  async deliveries(
    id: string,
    nodeID: string,
    opts: { status?: DeliveryStatus | ''; version?: number; limit?: number; cursor?: string } = {},
    signal?: AbortSignal,
  ): Promise<DeliveryPage> {
    const q = new URLSearchParams()
    if (opts.status) q.set('status', opts.status)
    if (opts.version) q.set('version', String(opts.version))
    if (opts.limit) q.set('limit', String(opts.limit))
    if (opts.cursor) q.set('cursor', opts.cursor)
    const qs = q.toString()
    const body = await this.request<unknown>(
      'GET',
      `/api/v1/scenarios/${encodeURIComponent(id)}/steps/${encodeURIComponent(nodeID)}/deliveries${qs ? '?' + qs : ''}`,
      undefined,
      signal,
    )
    const o = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>
    const cursor = o.next_cursor ?? o.cursor ?? ''
    return {
      deliveries: listOf(body, 'deliveries').map((d) => {
        const dd = d as DeliveryPage['deliveries'][number]
        return { ...dd, attempt_log: Array.isArray(dd.attempt_log) ? dd.attempt_log : [] }
      }),
      next_cursor: typeof cursor === 'string' ? cursor : '',
    }
  }

  // --- webhooks, contacts, lists

  testWebhook(req: TestRequest): Promise<TestResult> {
    return this.request('POST', '/api/v1/webhooks/test', req)
  }

  /** contactByEmail finds a contact by email (null when there is none). */
  async contactByEmail(email: string): Promise<Contact | null> {
    try {
      const body = await this.request<unknown>('GET', `/api/v1/contacts?email=${encodeURIComponent(email)}`)
      if (body && typeof body === 'object' && !Array.isArray(body) && 'id' in body) return body as Contact
      return listOf<Contact>(body, 'contacts')[0] ?? null
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null
      throw err
    }
  }

  async lists(signal?: AbortSignal): Promise<List[]> {
    return listOf<List>(await this.request('GET', '/api/v1/lists', undefined, signal), 'lists')
  }

  // --- inbound webhooks

  async inboundWebhooks(signal?: AbortSignal): Promise<InboundWebhook[]> {
    return listOf<InboundWebhook>(await this.request('GET', '/api/v1/inbound-webhooks', undefined, signal), 'inbound_webhooks')
  }

  inboundWebhook(id: string, signal?: AbortSignal): Promise<InboundWebhook> {
    return this.request('GET', `/api/v1/inbound-webhooks/${encodeURIComponent(id)}`, undefined, signal)
  }

  createInbound(input: InboundInput): Promise<InboundWebhook> {
    return this.request('POST', '/api/v1/inbound-webhooks', input)
  }

  async deleteInbound(id: string): Promise<void> {
    await this.request('DELETE', `/api/v1/inbound-webhooks/${encodeURIComponent(id)}`)
  }

  /** rotateInboundKeys gives the webhook a new api_key and secret_key. */
  rotateInboundKeys(id: string): Promise<InboundWebhook> {
    return this.request('POST', `/api/v1/inbound-webhooks/${encodeURIComponent(id)}/rotate-keys`)
  }

  /** inboundActivity returns the accepted and refused calls per hour over the last hours (1–168). */
  inboundActivity(id: string, hours = 24, signal?: AbortSignal): Promise<InboundActivity> {
    return this.request('GET', `/api/v1/inbound-webhooks/${encodeURIComponent(id)}/activity?hours=${hours}`, undefined, signal)
  }

  // --- event subscriptions and notifications

  async subscriptions(filter: { app?: string; event?: string } = {}, signal?: AbortSignal): Promise<Subscription[]> {
    const q = new URLSearchParams()
    if (filter.app) q.set('app', filter.app)
    if (filter.event) q.set('event', filter.event)
    const qs = q.toString()
    return listOf<Subscription>(await this.request('GET', `/api/v1/webhooks${qs ? '?' + qs : ''}`, undefined, signal), 'webhooks')
  }

  createSubscription(input: SubscriptionInput): Promise<Subscription> {
    return this.request('POST', '/api/v1/webhooks', input)
  }

  async deleteSubscription(id: string): Promise<void> {
    await this.request('DELETE', `/api/v1/webhooks/${encodeURIComponent(id)}`)
  }

  deactivateSubscription(id: string): Promise<Subscription> {
    return this.request('POST', `/api/v1/webhooks/${encodeURIComponent(id)}/deactivate`)
  }

  /** activateSubscription activates it again; replay delivers the buffered events, otherwise they are dropped. */
  activateSubscription(id: string, replay: boolean): Promise<Subscription> {
    return this.request('POST', `/api/v1/webhooks/${encodeURIComponent(id)}/activate`, { replay_events: replay })
  }

  async notifications(limit = 20, signal?: AbortSignal): Promise<Notification[]> {
    return listOf<Notification>(await this.request('GET', `/api/v1/notifications?limit=${limit}`, undefined, signal), 'notifications')
  }
}
