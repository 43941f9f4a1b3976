// Provides the signed-in API client to the component tree.
import { createContext, useContext } from 'react'
import type { Client } from './client'

export interface Session {
  client: Client
  signOut: (message?: string) => void
}

export const SessionContext = createContext<Session | null>(null)

export function useSession(): Session {
  const s = useContext(SessionContext)
  if (!s) throw new Error('useSession outside SessionContext')
  return s
}

export function useClient(): Client {
  return useSession().client
}
