// The bar at the top of every page, with the main navigation on the list pages.
import type { ReactNode } from 'react'
import { useSession } from '../api/context'
import { INBOUND_PATH, SUBSCRIPTIONS_PATH, navigate, usePath } from '../lib/router'
import { Icon } from './common'

const sections = [
  { path: '/', label: 'Scenarios', icon: 'branch' },
  { path: INBOUND_PATH, label: 'Inbound webhooks', icon: 'link' },
  { path: SUBSCRIPTIONS_PATH, label: 'Event subscriptions', icon: 'send' },
]

/** MainNav links the three sections; the current one is marked. */
export function MainNav() {
  const path = usePath()
  const current = (p: string) => (p === '/' ? path === '/' || path.startsWith('/scenarios') : path.startsWith(p))
  return (
    <nav className="main-nav" aria-label="Main">
      {sections.map((s) => (
        <a
          key={s.path}
          href={s.path}
          className={`main-nav-link${current(s.path) ? ' is-current' : ''}`}
          aria-current={current(s.path) ? 'page' : undefined}
          onClick={(e) => {
            e.preventDefault()
            navigate(s.path)
          }}
        >
          <Icon name={s.icon} size={15} /> {s.label}
        </a>
      ))}
    </nav>
  )
}

export function TopBar({ children }: { children?: ReactNode }) {
  const { signOut } = useSession()
  return (
    <header className="topbar">
      <a
        className="brand"
        href="/"
        onClick={(e) => {
          e.preventDefault()
          navigate('/')
        }}
      >
        <span className="brand-mark" aria-hidden="true">
          <Icon name="branch" size={16} />
        </span>
        Sluice
      </a>
      <div className="topbar-main">{children}</div>
      <button type="button" className="btn btn-ghost" onClick={() => signOut()} title="Forget the API key in this tab">
        <Icon name="logout" /> Sign out
      </button>
    </header>
  )
}
