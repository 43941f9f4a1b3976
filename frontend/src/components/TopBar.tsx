// The bar at the top of every page.
import type { ReactNode } from 'react'
import { useSession } from '../api/context'
import { navigate } from '../lib/router'
import { Icon } from './common'

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
