// What every node on the canvas needs to know besides its own data.
import { createContext } from 'react'
import type { NodeSpec, Problem, StepStats } from '../api/types'

export interface CanvasInfo {
  specs: Map<string, NodeSpec>
  /** Counters per node of the version shown, or null when it has none. */
  stats: Map<string, StepStats> | null
  problems: Map<string, Problem[]>
  readOnly: boolean
  openStats: (nodeId: string) => void
}

export const CanvasContext = createContext<CanvasInfo>({
  specs: new Map(),
  stats: null,
  problems: new Map(),
  readOnly: false,
  openStats: () => {},
})
