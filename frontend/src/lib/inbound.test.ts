import { describe, expect, it } from 'vitest'
import type { InboundWebhook } from '../api/types'
import { emptyInboundForm, fullURL, inboundInput, inboundSeries, quickExample, quickURL, refusalLabel, secureExample, splitList } from './inbound'
import { matchRoute } from './router'

const hook: InboundWebhook = {
  id: 'inb_1',
  name: 'Lead form',
  list_id: 'lst_1',
  action: 'subscribe',
  allowed_methods: ['GET', 'POST'],
  allowed_headers: null,
  allowed_ips: null,
  custom_fields: [{ key: 'c3', name: 'First name' }],
  url: '/hooks/inb_1',
  api_key: 'k3y',
  secret_key: 'ab'.repeat(32),
  created_at: '2026-11-23T10:00:00Z',
  updated_at: '2026-11-23T10:00:00Z',
}

describe('inbound form', () => {
  it('checks the required fields, methods, IPs and custom field keys', () => {
    expect(inboundInput(emptyInboundForm).problems).toEqual({ name: 'Give the webhook a name.', list: 'Choose the list it subscribes contacts to.' })
    const base = { ...emptyInboundForm, name: 'x', listId: 'lst_1' }
    expect(inboundInput({ ...base, methods: [] }).problems.methods).toMatch(/GET, POST/)
    expect(inboundInput({ ...base, ips: '10.0.0.0/8, example.org' }).problems.ips).toMatch(/example\.org/)
    expect(inboundInput({ ...base, fields: { email: 'Mail' } }).problems.fields).toMatch(/standard field/)
    expect(inboundInput({ ...base, fields: { '3c': 'x' } }).problems.fields).toMatch(/a key is a letter/)
  })

  it('builds the API input, leaving out what is empty', () => {
    expect(inboundInput({ ...emptyInboundForm, name: ' Lead ', listId: 'lst_1' }).input).toEqual({
      name: 'Lead',
      list_id: 'lst_1',
      action: 'subscribe',
      allowed_methods: ['GET', 'POST'],
    })
    const { input } = inboundInput({
      name: 'Lead',
      listId: 'lst_1',
      action: 'unsubscribe',
      methods: ['POST'],
      headers: { 'X-Source': 'crm', ' ': 'ignored' },
      ips: '203.0.113.0/24\n2001:db8::/32, 203.0.113.0/24',
      fields: { c3: 'First name', c4: '' },
    })
    expect(input).toEqual({
      name: 'Lead',
      list_id: 'lst_1',
      action: 'unsubscribe',
      allowed_methods: ['POST'],
      allowed_headers: { 'X-Source': 'crm' },
      allowed_ips: ['203.0.113.0/24', '2001:db8::/32'],
      custom_fields: [
        { key: 'c3', name: 'First name' },
        { key: 'c4', name: 'c4' },
      ],
    })
  })

  it('splits address lists', () => {
    expect(splitList(' 1.2.3.4 ,\n::1;; 1.2.3.4 ')).toEqual(['1.2.3.4', '::1'])
    expect(splitList('')).toEqual([])
  })
})

describe('integration guide', () => {
  it('gives the full URL and the quick way with api-key, email and the custom fields', () => {
    expect(fullURL(hook, 'https://sluice.example/')).toBe('https://sluice.example/hooks/inb_1')
    expect(quickURL(hook, 'https://sluice.example')).toBe('https://sluice.example/hooks/inb_1?api-key=k3y&email=john%40example.org&c3=First%20name')
    expect(quickExample(hook, 'https://sluice.example')).toMatch(/^curl -s 'https:\/\/sluice\.example\/hooks\/inb_1\?api-key=k3y&email=john%40example\.org&c3=First%20name'\n# → \{"status":"subscribed"/)
    // POST only: the fields go in a form body.
    const post = quickExample({ ...hook, allowed_methods: ['POST'], action: 'unsubscribe' }, 'http://h')
    expect(post).toContain("--data-urlencode 'api-key=k3y'")
    expect(post).toContain("--data-urlencode 'email=john@example.org'")
  })

  it('gives the secure way: openssl AES-256-CBC with the secret key and the IV in front', () => {
    const s = secureExample(hook, 'http://h')
    expect(s).toContain(`SECRET_KEY=${hook.secret_key}`)
    expect(s).toContain(`DATA='{"email":"john@example.org","c3":"First name"}'`)
    expect(s).toContain('openssl enc -aes-256-cbc -K "$SECRET_KEY" -iv "$IV"')
    expect(s).toContain(`curl -s 'http://h/hooks/inb_1' -H 'Content-Type: application/json' -d '{"payload":"'"$PAYLOAD"'"}'`)
    // Quotes in custom field names are escaped for the shell.
    expect(secureExample({ ...hook, custom_fields: [{ key: 'c1', name: "O'Neil" }] }, 'http://h')).toContain(`DATA='{"email":"john@example.org","c1":"O'\\''Neil"}'`)
  })
})

describe('inbound activity', () => {
  it('fills the last 24 hours with zeros', () => {
    const now = Date.parse('2026-11-23T12:30:00Z')
    const s = inboundSeries({ hours: [{ hour: '2026-11-23T11:00:00Z', accepted: 3, refused: 1 }, { hour: '2026-11-23T12:00:00Z', accepted: 1, refused: 0 }] }, now)
    expect(s.x).toHaveLength(24)
    expect(s.x.at(-1)).toBe(Date.parse('2026-11-23T12:00:00Z') / 1000)
    expect(s.accepted.slice(-3)).toEqual([0, 3, 1])
    expect(s.refused.slice(-3)).toEqual([0, 1, 0])
    expect(inboundSeries(undefined, now, 3)).toEqual({ x: s.x.slice(-3), accepted: [0, 0, 0], refused: [0, 0, 0] })
  })

  it('names the refusal codes', () => {
    expect(refusalLabel('wrong_key')).toBe('Wrong API key')
    expect(refusalLabel('bad_payload')).toBe('Bad payload')
  })
})

describe('routes', () => {
  it('knows the inbound webhook and event subscription pages', () => {
    expect(matchRoute('/inbound-webhooks')).toEqual({ page: 'inbound' })
    expect(matchRoute('/inbound-webhooks/inb_1')).toEqual({ page: 'inbound', id: 'inb_1' })
    expect(matchRoute('/event-subscriptions/')).toEqual({ page: 'subscriptions' })
    expect(matchRoute('/scenarios/scn_1')).toEqual({ page: 'builder', id: 'scn_1' })
    expect(matchRoute('/nope')).toEqual({ page: 'list' })
  })
})
