// A tiny history router: the app has two pages, so a library is not needed.
import { useEffect, useState } from 'react'

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  window.dispatchEvent(new PopStateEvent('popstate'))
}

export function usePath(): string {
  const [path, setPath] = useState(() => window.location.pathname)
  useEffect(() => {
    const on = () => setPath(window.location.pathname)
    window.addEventListener('popstate', on)
    return () => window.removeEventListener('popstate', on)
  }, [])
  return path
}

export type Route =
  | { page: 'list' }
  | { page: 'builder'; id: string }
  | { page: 'inbound'; id?: string }
  | { page: 'subscriptions' }

export const INBOUND_PATH = '/inbound-webhooks'
export const SUBSCRIPTIONS_PATH = '/event-subscriptions'

export function matchRoute(path: string): Route {
  const m = /^\/scenarios\/([^/]+)\/?$/.exec(path)
  if (m) return { page: 'builder', id: decodeURIComponent(m[1]) }
  const inb = /^\/inbound-webhooks(?:\/([^/]+))?\/?$/.exec(path)
  if (inb) return inb[1] ? { page: 'inbound', id: decodeURIComponent(inb[1]) } : { page: 'inbound' }
  if (/^\/event-subscriptions\/?$/.test(path)) return { page: 'subscriptions' }
  return { page: 'list' }
}
