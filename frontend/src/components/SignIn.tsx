// Sign-in with the API key; the key is checked against the API before it is kept.
import { useState, type FormEvent } from 'react'
import { ApiError, Client } from '../api/client'
import { Icon } from './common'

export function SignIn({ onSignedIn, notice }: { onSignedIn: (key: string) => void; notice?: string }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState(notice ?? '')
  const [busy, setBusy] = useState(false)

  async function submit(e: FormEvent) {
    e.preventDefault()
    const k = key.trim()
    if (!k) {
      setError('Enter the API key.')
      return
    }
    setBusy(true)
    setError('')
    try {
      await new Client({ apiKey: k }).nodeTypes()
      onSignedIn(k)
    } catch (err) {
      if (err instanceof ApiError && err.unauthorized) {
        setError('This API key was refused. Use the value of SLUICE_API_KEY, or the key `sluice serve` printed on its first start (stored in its data directory as api_key).')
      } else if (err instanceof ApiError) {
        setError(err.message)
      } else {
        setError(String(err))
      }
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="signin">
      <form className="signin-card" onSubmit={submit} noValidate>
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true">
            <Icon name="branch" size={20} />
          </span>
          Sluice
        </div>
        <h1>Sign in</h1>
        <p className="muted">Enter the API key of this Sluice server. It is kept for this browser tab only.</p>
        <label className="field">
          <span className="field-label">API key</span>
          <input
            type="password"
            autoComplete="current-password"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={!!error}
            aria-describedby={error ? 'signin-error' : undefined}
            autoFocus
          />
        </label>
        {error && (
          <p className="form-error" id="signin-error" role="alert">
            {error}
          </p>
        )}
        <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
