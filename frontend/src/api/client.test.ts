import { describe, expect, it, vi } from 'vitest'
import { jsonResponse } from '../test/fixtures'
import { ApiError, Client, errorFromBody } from './client'

function client(...answers: (Response | Error)[]) {
  const calls: { url: string; init: RequestInit }[] = []
  const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} })
    const a = answers.shift()
    if (!a) throw new Error('no more answers')
    if (a instanceof Error) throw a
    return a
  })
  const onUnauthorized = vi.fn()
  const c = new Client({ apiKey: 'k3y', fetch: fetch as typeof globalThis.fetch, onUnauthorized })
  return { c, calls, onUnauthorized }
}

describe('Client', () => {
  it('sends the bearer key and JSON bodies', async () => {
    const { c, calls } = client(jsonResponse(201, { id: 'scn_1', version: 1, status: 'draft' }))
    const v = await c.createScenario({ name: 'Welcome', graph: { nodes: [], edges: [] } })
    expect(v.id).toBe('scn_1')
    expect(calls[0].url).toBe('/api/v1/scenarios')
    expect(calls[0].init.method).toBe('POST')
    const h = calls[0].init.headers as Record<string, string>
    expect(h.Authorization).toBe('Bearer k3y')
    expect(h['Content-Type']).toBe('application/json')
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ name: 'Welcome', graph: { nodes: [], edges: [] } })
  })

  it('unwraps list answers', async () => {
    const { c, calls } = client(
      jsonResponse(200, { node_types: [{ type: 'signup' }] }),
      jsonResponse(200, { scenarios: [{ id: 'a' }] }),
      jsonResponse(200, { deliveries: [{ id: 'd1' }], next_cursor: 'd1' }),
    )
    expect((await c.nodeTypes()).map((s) => s.type)).toEqual(['signup'])
    expect((await c.scenarios()).map((s) => s.id)).toEqual(['a'])
    const page = await c.deliveries('scn 1', 'w1', { status: 'failed', version: 2, limit: 10, cursor: 'x' })
    expect(page).toEqual({ deliveries: [{ id: 'd1', attempt_log: [] }], next_cursor: 'd1' })
    expect(calls[2].url).toBe('/api/v1/scenarios/scn%201/steps/w1/deliveries?status=failed&version=2&limit=10&cursor=x')
  })

  it("surfaces the server's error message and field", async () => {
    const { c } = client(jsonResponse(422, { error: { code: 'validation_failed', message: 'a scenario name is 1 to 200 characters', field: 'name' } }))
    const err = await c.saveScenario('s', { name: '', graph: { nodes: [], edges: [] } }).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ status: 422, code: 'validation_failed', message: 'a scenario name is 1 to 200 characters', field: 'name' })
  })

  it('reports 401 to the session', async () => {
    const { c, onUnauthorized } = client(jsonResponse(401, { error: { code: 'unauthorized', message: 'missing or wrong API key' } }))
    const err = await c.scenarios().catch((e) => e)
    expect(err.unauthorized).toBe(true)
    expect(onUnauthorized).toHaveBeenCalledOnce()
  })

  it('reads the problems of an invalid graph', async () => {
    const body = {
      valid: false,
      problems: [{ node: 'w1', field: 'config.url', message: 'url is required' }, { field: 'graph.nodes', message: 'needs a trigger' }],
      error: { code: 'validation_failed', message: '2 problems', field: 'graph' },
    }
    const { c } = client(jsonResponse(422, body), jsonResponse(422, body), jsonResponse(200, { valid: true }))
    expect(await c.validate('s')).toEqual([
      { node: 'w1', field: 'config.url', message: 'url is required' },
      { node: undefined, field: 'graph.nodes', message: 'needs a trigger' },
    ])
    const err = await c.activate('s').catch((e) => e)
    expect(err.problems).toHaveLength(2)
    expect(await c.validate('s')).toEqual([])
  })

  it('turns network failures and odd bodies into readable errors', async () => {
    const { c } = client(new TypeError('Failed to fetch'), new Response('<html>bad gateway</html>', { status: 502 }))
    await expect(c.scenarios()).rejects.toMatchObject({ status: 0, message: expect.stringMatching(/Cannot reach/) })
    await expect(c.scenarios()).rejects.toMatchObject({ status: 502, message: 'Server error (502)' })
    expect(errorFromBody(404, null).message).toBe('Not found')
  })

  it('finds a contact by email, or null', async () => {
    const { c, calls } = client(jsonResponse(200, { id: 'ctc_1', email: 'a@b.c' }), jsonResponse(404, { error: { message: 'no contact' } }))
    expect((await c.contactByEmail('a@b.c'))?.id).toBe('ctc_1')
    expect(calls[0].url).toBe('/api/v1/contacts?email=a%40b.c')
    expect(await c.contactByEmail('x@y.z')).toBeNull()
  })

  it('asks for stats of a version with hourly buckets', async () => {
    const { c, calls } = client(jsonResponse(200, { scenario_id: 's', version: 2, steps: [] }), new Response(null, { status: 204 }))
    await c.stats('s', { version: 2, hourly: true })
    expect(calls[0].url).toBe('/api/v1/scenarios/s/stats?version=2&bucket=hour')
    await c.deleteScenario('s')
    expect(calls[1].init.method).toBe('DELETE')
  })
})

describe('Client: inbound webhooks and event subscriptions', () => {
  it('calls the inbound webhook routes', async () => {
    const { c, calls } = client(
      jsonResponse(200, { inbound_webhooks: [{ id: 'inb_1' }] }),
      jsonResponse(200, { id: 'inb_1', api_key: 'new' }),
      jsonResponse(200, { accepted: 2, refused: 0, hours: [], refusals: [] }),
      jsonResponse(204),
    )
    expect((await c.inboundWebhooks()).map((w) => w.id)).toEqual(['inb_1'])
    expect((await c.rotateInboundKeys('inb_1')).api_key).toBe('new')
    expect((await c.inboundActivity('inb_1', 48)).accepted).toBe(2)
    await c.deleteInbound('inb_1')
    expect(calls.map((x) => `${x.init.method} ${x.url}`)).toEqual([
      'GET /api/v1/inbound-webhooks',
      'POST /api/v1/inbound-webhooks/inb_1/rotate-keys',
      'GET /api/v1/inbound-webhooks/inb_1/activity?hours=48',
      'DELETE /api/v1/inbound-webhooks/inb_1',
    ])
  })

  it('filters subscriptions, sends replay_events and reads notifications', async () => {
    const { c, calls } = client(
      jsonResponse(200, { webhooks: [{ id: 'whk_1' }] }),
      jsonResponse(200, { id: 'whk_1', active: true }),
      jsonResponse(200, { id: 'whk_1', active: false }),
      jsonResponse(200, { notifications: [{ id: 'ntf_1' }] }),
    )
    expect((await c.subscriptions({ app: 'crm', event: 'optin_finalized' })).map((s) => s.id)).toEqual(['whk_1'])
    expect((await c.activateSubscription('whk_1', true)).active).toBe(true)
    expect((await c.deactivateSubscription('whk_1')).active).toBe(false)
    expect((await c.notifications(5)).map((n) => n.id)).toEqual(['ntf_1'])
    expect(calls.map((x) => `${x.init.method} ${x.url}`)).toEqual([
      'GET /api/v1/webhooks?app=crm&event=optin_finalized',
      'POST /api/v1/webhooks/whk_1/activate',
      'POST /api/v1/webhooks/whk_1/deactivate',
      'GET /api/v1/notifications?limit=5',
    ])
    expect(JSON.parse(String(calls[1].init.body))).toEqual({ replay_events: true })
  })
})

describe('endpoints.json', () => {
  it('lists every route the client calls (the e2e run checks them against the OpenAPI document)', async () => {
    const { readFileSync } = await import('node:fs')
    const { resolve } = await import('node:path')
    const src = readFileSync(resolve(process.cwd(), 'src/api/client.ts'), 'utf8')
    const used = new Set<string>()
    for (const m of src.matchAll(/request(?:<[^>]*>)?\(\s*'(GET|POST|PUT|DELETE|PATCH)',\s*[`']([^`'?$]*(?:\$\{[^}]*\}[^`'?$]*)*)/g)) {
      const path = m[2]
        .replace(/\$\{encodeURIComponent\((\w+)\)\}/g, (_s, v: string) => (v === 'nodeID' ? '{node_id}' : '{id}'))
        .replace(/\$\{(q|qs[^}]*)\}$/, '') // the query string
      used.add(`${m[1]} ${path}`)
    }
    const endpoints = (await import('./endpoints.json')).default as [string, string][]
    expect([...used].sort()).toEqual(endpoints.map(([m, p]) => `${m} ${p}`).sort())
  })
})
