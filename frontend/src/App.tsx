// The application shell: sign-in gate, session and the pages.
import { useCallback, useMemo, useState } from 'react'
import { Client } from './api/client'
import { SessionContext, type Session } from './api/context'
import { SignIn } from './components/SignIn'
import { ScenarioList } from './components/ScenarioList'
import { Builder } from './builder/Builder'
import { InboundPage } from './inbound/InboundPage'
import { SubscriptionsPage } from './subscriptions/SubscriptionsPage'
import { clearKey, loadKey, saveKey } from './lib/session'
import { matchRoute, usePath } from './lib/router'

export function App() {
  const [key, setKey] = useState(loadKey)
  const [notice, setNotice] = useState('')
  const path = usePath()

  const signOut = useCallback((message?: string) => {
    clearKey()
    setKey('')
    setNotice(message ?? '')
  }, [])

  const session = useMemo<Session | null>(() => {
    if (!key) return null
    const client = new Client({
      apiKey: key,
      onUnauthorized: () => signOut('The server refused the API key. Sign in again.'),
    })
    return { client, signOut }
  }, [key, signOut])

  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(k) => {
          saveKey(k)
          setNotice('')
          setKey(k)
        }}
      />
    )
  }
  const route = matchRoute(path)
  return (
    <SessionContext.Provider value={session}>
      {route.page === 'builder' ? (
        <Builder key={route.id} scenarioId={route.id} />
      ) : route.page === 'inbound' ? (
        <InboundPage selectedId={route.id} />
      ) : route.page === 'subscriptions' ? (
        <SubscriptionsPage />
      ) : (
        <ScenarioList />
      )}
    </SessionContext.Provider>
  )
}
