import { describe, expect, it } from 'vitest'
import { spec } from '../test/fixtures'
import { defaultConfig, fieldsOf, humanize, keepsEmpty, setConfigValue } from './schema'

describe('fieldsOf', () => {
  it('builds the Send a Webhook form from its schema', () => {
    const fields = fieldsOf(spec('send_webhook').schema)
    const byKey = Object.fromEntries(fields.map((f) => [f.key, f]))
    expect(fields.map((f) => f.key)).toEqual(['url', 'method', 'fields', 'data', 'headers', 'timeout'])
    expect(byKey.url).toMatchObject({ widget: 'text', label: 'URL', required: true, placeholders: true })
    expect(byKey.method).toMatchObject({ widget: 'select', options: ['POST', 'PUT', 'PATCH'], defaultValue: 'POST' })
    // No enum on the items: the standard contact fields are offered, and others may be typed.
    expect(byKey.fields).toMatchObject({ widget: 'multiselect', allowCustom: true })
    expect(byKey.fields.options).toContain('email')
    expect(byKey.data).toMatchObject({ widget: 'keyvalue', placeholders: true, label: 'Additional data' })
    expect(byKey.headers).toMatchObject({ widget: 'keyvalue', placeholders: true })
    expect(byKey.timeout).toMatchObject({ widget: 'text', required: false })
  })

  it('merges the properties of oneOf variants without making them required', () => {
    const fields = fieldsOf(spec('wait').schema)
    const byKey = Object.fromEntries(fields.map((f) => [f.key, f]))
    expect(Object.keys(byKey)).toEqual(['duration', 'until_field', 'offset_days', 'time', 'weekdays', 'from', 'to'])
    expect(fields.every((f) => !f.required)).toBe(true)
    expect(byKey.offset_days).toMatchObject({ widget: 'number', integer: true, min: -365, max: 365 })
    expect(byKey.weekdays).toMatchObject({ widget: 'multiselect', options: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], allowCustom: false })
    expect(byKey.duration.hint).toBe('e.g. 30m')
  })

  it('renders an expression as a multi-line field', () => {
    const [f] = fieldsOf(spec('condition').schema)
    expect(f).toMatchObject({ key: 'expression', widget: 'textarea', required: true, placeholders: false })
  })

  it('handles an unknown, new node type generically', () => {
    const fields = fieldsOf({
      type: 'object',
      properties: {
        sms_text: { type: 'string', 'x-placeholders': true },
        urgent: { type: 'boolean' },
        retries: { type: 'number' },
        tags: { type: 'array', items: { type: 'integer' } },
      },
      required: ['sms_text'],
    })
    expect(fields.map((f) => [f.key, f.widget, f.label])).toEqual([
      ['sms_text', 'text', 'Sms text'],
      ['urgent', 'checkbox', 'Urgent'],
      ['retries', 'number', 'Retries'],
      ['tags', 'json', 'Tags'],
    ])
    expect(fieldsOf(null)).toEqual([])
  })
})

describe('config values', () => {
  it('writes list defaults only', () => {
    expect(defaultConfig(spec('send_webhook').schema)).toEqual({ fields: ['email'] })
    expect(defaultConfig(spec('wait').schema)).toEqual({})
  })

  it('drops emptied values but keeps an emptied list whose default is not empty', () => {
    const s = spec('send_webhook').schema
    expect(setConfigValue({ url: 'x', method: 'PUT' }, 'method', undefined)).toEqual({ url: 'x' })
    expect(setConfigValue({ url: 'x' }, 'headers', {})).toEqual({ url: 'x' })
    expect(keepsEmpty(s, 'fields', [])).toBe(true)
    expect(keepsEmpty(s, 'fields', ['email'])).toBe(false)
    expect(setConfigValue({ fields: ['email'] }, 'fields', [], true)).toEqual({ fields: [] })
  })

  it('humanizes keys', () => {
    expect(humanize('offset_days')).toBe('Offset days')
    expect(humanize('listId')).toBe('List Id')
  })
})
