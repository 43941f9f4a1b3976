// Rendering helpers for component tests: a session with a fake API client.
import { render } from '@testing-library/react'
import type { ReactElement } from 'react'
import { Client } from '../api/client'
import { SessionContext } from '../api/context'

export function renderWithClient(ui: ReactElement, client: Partial<Client> = {}) {
  const c = Object.assign(Object.create(Client.prototype), client) as Client
  const signOut = () => {}
  return render(<SessionContext.Provider value={{ client: c, signOut }}>{ui}</SessionContext.Provider>)
}
