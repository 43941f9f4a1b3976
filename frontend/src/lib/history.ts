// Undo/redo over snapshots. Callers record the state *before* a change; a
// coalescing key merges quick successive edits of one field into one step.

export interface History<T> {
  past: T[]
  future: T[]
  lastKey?: string
  lastAt?: number
}

export const HISTORY_LIMIT = 100
const COALESCE_MS = 1200

export function emptyHistory<T>(): History<T> {
  return { past: [], future: [] }
}

/**
 * record notes that the state is about to change from before. Edits with the
 * same key within a short time form one undo step.
 */
export function record<T>(h: History<T>, before: T, key?: string, now = Date.now()): History<T> {
  if (key && key === h.lastKey && h.lastAt !== undefined && now - h.lastAt < COALESCE_MS) {
    return { ...h, lastAt: now, future: [] }
  }
  return { past: [...h.past, before].slice(-HISTORY_LIMIT), future: [], lastKey: key, lastAt: now }
}

/** undo returns the history and the state to restore, or null when there is nothing to undo. */
export function undo<T>(h: History<T>, current: T): { history: History<T>; state: T } | null {
  if (h.past.length === 0) return null
  const state = h.past[h.past.length - 1]
  return { history: { past: h.past.slice(0, -1), future: [current, ...h.future] }, state }
}

/** redo is the reverse of undo. */
export function redo<T>(h: History<T>, current: T): { history: History<T>; state: T } | null {
  if (h.future.length === 0) return null
  const [state, ...rest] = h.future
  return { history: { past: [...h.past, current].slice(-HISTORY_LIMIT), future: rest }, state }
}
