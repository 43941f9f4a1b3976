// Types mirroring the HTTP contract (shared/API.md) and the JSON tags of the
// engine package. Times are RFC 3339 strings; ids are strings.

export type Kind = 'trigger' | 'action' | 'flow'
export type ScenarioStatus = 'draft' | 'active' | 'paused' | 'archived'
export type DeliveryStatus = 'pending' | 'accepted' | 'failed'

/** JSON Schema subset the builder understands (plus Sluice's x- keywords). */
export interface JSONSchema {
  type?: string | string[]
  title?: string
  description?: string
  properties?: Record<string, JSONSchema>
  required?: string[]
  additionalProperties?: boolean | JSONSchema
  items?: JSONSchema
  enum?: unknown[]
  const?: unknown
  default?: unknown
  examples?: unknown[]
  format?: string
  pattern?: string
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  oneOf?: JSONSchema[]
  anyOf?: JSONSchema[]
  allOf?: JSONSchema[]
  'x-placeholders'?: boolean
  'x-secret'?: boolean
  [k: string]: unknown
}

/** One entry of GET /api/v1/node-types (engine.Spec). */
export interface NodeSpec {
  type: string
  kind: Kind
  label: string
  description: string
  schema: JSONSchema | null
  /** null: one unlabelled output; ["yes","no"]: a condition; []: none. */
  outputs: string[] | null
  event_types?: string[]
}

export interface Position {
  x: number
  y: number
}

export interface GraphNode {
  id: string
  type: string
  config?: Record<string, unknown>
  position?: Position
}

export interface GraphEdge {
  from: string
  to: string
  label?: string
}

export interface Graph {
  nodes: GraphNode[]
  edges: GraphEdge[]
}

export interface Scenario {
  id: string
  name: string
  status: ScenarioStatus
  allow_reentry: boolean
  version: number
  active_version: number
  signing_secret?: string
  created_at: string
  updated_at: string
}

/** GET /api/v1/scenarios/{id}: the scenario with a version's graph. */
export interface ScenarioView extends Scenario {
  graph: Graph
  activated_at?: string
}

/** One row of GET /api/v1/scenarios. */
export interface ScenarioSummary extends Scenario {
  reached: number
  last_activity?: string
}

export interface ScenarioInput {
  name: string
  allow_reentry?: boolean
  graph: Graph
}

export interface Problem {
  node?: string
  field?: string
  message: string
}

export interface HourlyStats {
  hour: string
  reached: number
  accepted: number
  failed: number
  attempts: number
}

export interface Percentiles {
  p50: number
  p95: number
  p99: number
}

export interface StepStats {
  node_id: string
  type: string
  reached: number
  accepted: number
  pending: number
  failed: number
  attempts: number
  latency_ms?: Percentiles
  hourly?: HourlyStats[]
}

export interface ScenarioStats {
  scenario_id: string
  version: number
  versions?: number[]
  steps: StepStats[]
}

export interface Attempt {
  id: string
  delivery_id: string
  number: number
  at: string
  url: string
  method: string
  request_headers: Record<string, string>
  request_body: string
  status_code: number
  response_headers?: Record<string, string>
  response_body?: string
  duration_ms: number
  error?: string
}

export interface Delivery {
  id: string
  message_id: string
  kind: string
  scenario_id?: string
  version?: number
  node_id?: string
  run_id?: string
  contact_id?: string
  url: string
  method: string
  headers: Record<string, string>
  status: DeliveryStatus
  attempts: number
  created_at: string
  first_attempt_at?: string
  next_attempt_at?: string
  last_error?: string
  done_at?: string
  body?: unknown
  attempt_log: Attempt[]
}

export interface DeliveryPage {
  deliveries: Delivery[]
  next_cursor: string
}

export interface TestRequest {
  url: string
  method?: string
  headers?: Record<string, string>
  data?: Record<string, unknown>
  fields?: string[]
  contact_id?: string
  timeout?: string
  scenario_id?: string
  node_id?: string
}

export interface TestResult {
  ok: boolean
  status_code?: number
  duration_ms: number
  response_headers?: Record<string, string>
  response_body?: string
  error?: string
  request: { url?: string; method?: string; headers: Record<string, string>; body: string }
}

export interface Contact {
  id: string
  email: string
  firstname: string
  lastname: string
  fields: Record<string, unknown>
  dates?: Record<string, string>
  groups?: string[]
}

export interface List {
  id: string
  name: string
}

// --- inbound webhooks (engine/inbound.go)

export type InboundAction = 'subscribe' | 'unsubscribe'

/** A custom field an inbound webhook accepts: its key (c3) and its name for people. */
export interface CustomField {
  key: string
  name: string
}

export interface InboundWebhook {
  id: string
  name: string
  list_id: string
  action: InboundAction
  allowed_methods: string[]
  /** Header name → required value. */
  allowed_headers: Record<string, string> | null
  /** Addresses and CIDR ranges; empty: any. */
  allowed_ips: string[] | null
  custom_fields: CustomField[] | null
  /** /hooks/{id}, relative to the server. */
  url: string
  api_key: string
  /** 64 hex characters: the secure way's AES-256 key. */
  secret_key: string
  created_at: string
  updated_at: string
}

export interface InboundInput {
  name: string
  list_id: string
  action?: InboundAction
  allowed_methods?: string[]
  allowed_headers?: Record<string, string>
  allowed_ips?: string[]
  custom_fields?: CustomField[]
}

export interface InboundHour {
  hour: string
  accepted: number
  refused: number
}

export interface InboundRefusal {
  id: string
  at: string
  code: string
  reason: string
  method: string
  remote_ip: string
}

export interface InboundActivity {
  inbound_webhook_id: string
  accepted: number
  refused: number
  hours: InboundHour[] | null
  refusals: InboundRefusal[] | null
}

// --- event subscriptions (engine/subscriptions.go)

/** The events a subscription can name (engine.SubscriptionEvents). */
export const SUBSCRIPTION_EVENTS = ['optin_finalized', 'optout_finalized', 'profile_updated', 'contact_created'] as const

export interface Subscription {
  id: string
  app: string
  event: string
  url: string
  list_id?: string
  secret: string
  active: boolean
  created_at: string
  updated_at: string
  deactivated_at: string | null
  deactivation_reason?: string
  deliveries: number
  accepted: number
  pending: number
  failed: number
  attempts: number
  failed_attempts: number
  consecutive_failures: number
  failing_since?: string
  last_attempt_at?: string
  last_success_at?: string
  last_error?: string
  buffered: number
  replayed: number
  dropped: number
  purged: number
}

export interface SubscriptionInput {
  app: string
  event: string
  url: string
  list_id?: string
  secret?: string
}

export interface Notification {
  id: string
  type: string
  subject_id?: string
  message: string
  data?: Record<string, unknown>
  created_at: string
}
