import { describe, expect, it } from 'vitest'
import { HISTORY_LIMIT, emptyHistory, record, redo, undo } from './history'

describe('history', () => {
  it('undoes and redoes', () => {
    let h = emptyHistory<number>()
    h = record(h, 1, undefined, 0)
    h = record(h, 2, undefined, 10)
    let cur = 3
    const u1 = undo(h, cur)!
    expect(u1.state).toBe(2)
    cur = u1.state
    const u2 = undo(u1.history, cur)!
    expect(u2.state).toBe(1)
    expect(undo(u2.history, u2.state)).toBeNull()
    const r1 = redo(u2.history, u2.state)!
    expect(r1.state).toBe(2)
    const r2 = redo(r1.history, r1.state)!
    expect(r2.state).toBe(3)
    expect(redo(r2.history, r2.state)).toBeNull()
  })

  it('forgets the redo stack on a new change', () => {
    let h = record(emptyHistory<number>(), 1)
    h = undo(h, 2)!.history
    expect(h.future).toEqual([2])
    h = record(h, 1)
    expect(h.future).toEqual([])
  })

  it('coalesces quick edits of one field into one step', () => {
    let h = emptyHistory<string>()
    h = record(h, '', 'url', 1000)
    h = record(h, 'h', 'url', 1300)
    h = record(h, 'ht', 'url', 1600)
    expect(h.past).toEqual([''])
    h = record(h, 'http', 'url', 5000) // a pause starts a new step
    expect(h.past).toEqual(['', 'http'])
    h = record(h, 'x', 'method', 5100) // another field too
    expect(h.past).toEqual(['', 'http', 'x'])
  })

  it('keeps a bounded past', () => {
    let h = emptyHistory<number>()
    for (let i = 0; i < HISTORY_LIMIT + 20; i++) h = record(h, i)
    expect(h.past).toHaveLength(HISTORY_LIMIT)
    expect(h.past[0]).toBe(20)
  })
})
