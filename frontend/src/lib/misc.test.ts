import { describe, expect, it } from 'vitest'
import { activityTime, formatDuration, prettyBody, relativeTime } from './format'
import { insertAt, isFieldName, placeholder, placeholderGroups } from './placeholders'
import { hourlySeries, totalOf } from './series'
import { layout } from './layout'
import { toFlow } from './graph'

describe('placeholders', () => {
  it('inserts at the caret or replaces the selection', () => {
    expect(insertAt('Hello !', 6, 6, '{{ contact.firstname }}')).toEqual({ value: 'Hello {{ contact.firstname }}!', caret: 29 })
    expect(insertAt('abcdef', 1, 4, 'X')).toEqual({ value: 'aXef', caret: 2 })
    expect(insertAt('abc', null, null, 'X')).toEqual({ value: 'abcX', caret: 4 })
    expect(insertAt('abc', 99, 99, 'X')).toEqual({ value: 'abcX', caret: 4 })
  })

  it('offers contact fields and custom fields', () => {
    expect(placeholder(' contact.c3 ')).toBe('{{ contact.c3 }}')
    const groups = placeholderGroups(['c1', 'plan'])
    expect(groups.find((g) => g.name === 'Contact')!.items.map((i) => i.expr)).toContain('contact.email')
    expect(groups.find((g) => g.name === 'Custom fields')!.items.map((i) => i.expr)).toEqual(['contact.c1', 'contact.plan'])
    expect(isFieldName('c3')).toBe(true)
    expect(isFieldName('3c')).toBe(false)
    expect(isFieldName('a.b')).toBe(false)
  })
})

describe('hourly series', () => {
  it('fills quiet hours with zeros up to now', () => {
    const now = Date.parse('2026-11-23T12:30:00Z')
    const s = hourlySeries([{ hour: '2026-11-23T10:00:00Z', reached: 3, accepted: 2, failed: 1, attempts: 4 }], now, 4)
    expect(s.x.map((t) => new Date(t * 1000).toISOString().slice(11, 13))).toEqual(['09', '10', '11', '12'])
    expect(s.reached).toEqual([0, 3, 0, 0])
    expect(s.accepted).toEqual([0, 2, 0, 0])
    expect(totalOf(s)).toBe(10)
    expect(totalOf(hourlySeries([], now))).toBe(0)
  })
})

describe('layout', () => {
  it('places steps top to bottom with a condition’s yes branch on the left', () => {
    const { nodes, edges } = toFlow({
      nodes: [
        { id: 't', type: 'signup' },
        { id: 'c', type: 'condition' },
        { id: 'n', type: 'end' },
        { id: 'y', type: 'send_webhook' },
      ],
      edges: [
        { from: 't', to: 'c' },
        { from: 'c', to: 'n', label: 'no' },
        { from: 'c', to: 'y', label: 'yes' },
      ],
    })
    const at = Object.fromEntries(layout(nodes, edges).map((n) => [n.id, n.position]))
    expect(at.t.y).toBeLessThan(at.c.y)
    expect(at.c.y).toBeLessThan(at.y.y)
    expect(at.y.x).toBeLessThan(at.n.x)
  })
})

describe('format', () => {
  it('formats', () => {
    const now = Date.parse('2026-11-23T12:00:00Z')
    expect(relativeTime('2026-11-23T11:58:00Z', now)).toBe('2 min ago')
    expect(relativeTime(undefined, now)).toBe('—')
    expect(activityTime('2026-11-23T12:00:00Z', now + 47 * 60_000)).toBe('this hour')
    expect(activityTime('2026-11-23T11:00:00Z', now + 47 * 60_000)).toBe('2 h ago')
    expect(formatDuration(12)).toBe('12 ms')
    expect(formatDuration(1500)).toBe('1.50 s')
    expect(prettyBody('{"a":1}')).toBe('{\n  "a": 1\n}')
    expect(prettyBody('plain')).toBe('plain')
  })
})
