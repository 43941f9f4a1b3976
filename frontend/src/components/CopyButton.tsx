// A button that copies a text to the clipboard and says so.
import { useEffect, useState } from 'react'
import { Icon } from './common'

/** copyText uses the Clipboard API, or a hidden textarea where it is not available. */
export async function copyText(text: string): Promise<void> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text)
      return
    }
  } catch {
    // fall through to the textarea
  }
  const ta = document.createElement('textarea')
  ta.value = text
  ta.setAttribute('readonly', '')
  ta.style.position = 'fixed'
  ta.style.opacity = '0'
  document.body.appendChild(ta)
  ta.select()
  try {
    document.execCommand?.('copy')
  } finally {
    ta.remove()
  }
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false)
  useEffect(() => {
    if (!copied) return
    const t = setTimeout(() => setCopied(false), 1500)
    return () => clearTimeout(t)
  }, [copied])
  return (
    <button
      type="button"
      className="btn btn-small copy-btn"
      aria-label={`Copy ${label}`}
      onClick={() => {
        void copyText(text).then(() => setCopied(true))
      }}
    >
      <Icon name={copied ? 'check' : 'copy'} /> {copied ? 'Copied' : 'Copy'}
    </button>
  )
}

/** CopyField is a read-only value with a copy button. */
export function CopyField({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className="copy-field">
      <span className="copy-field-label">{label}</span>
      <code className="copy-field-value" data-testid={testId} aria-label={label}>
        {value}
      </code>
      <CopyButton text={value} label={label} />
    </div>
  )
}

/** CodeBlock is a snippet with a copy button. */
export function CodeBlock({ code, label }: { code: string; label: string }) {
  return (
    <div className="code-block">
      <pre aria-label={label}>
        <code>{code}</code>
      </pre>
      <CopyButton text={code} label={label} />
    </div>
  )
}
