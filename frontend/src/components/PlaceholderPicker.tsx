// The "Get placeholders" picker and the text inputs that use it: choosing an
// item inserts {{ … }} at the caret of the input it belongs to.
import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react'
import { insertAt, isFieldName, placeholder, placeholderGroups } from '../lib/placeholders'
import { Icon } from './common'

export function PlaceholderPicker({
  onPick,
  onClose,
  customFields,
}: {
  onPick: (text: string) => void
  onClose: () => void
  customFields?: string[]
}) {
  const [q, setQ] = useState('')
  const [custom, setCustom] = useState('')
  const ref = useRef<HTMLDivElement>(null)
  const groups = useMemo(() => placeholderGroups(customFields), [customFields])
  const query = q.trim().toLowerCase()

  useEffect(() => {
    ref.current?.querySelector<HTMLInputElement>('input')?.focus()
    const onDown = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) onClose()
    }
    document.addEventListener('mousedown', onDown)
    return () => document.removeEventListener('mousedown', onDown)
  }, [onClose])

  function onKey(e: KeyboardEvent) {
    if (e.key === 'Escape') {
      e.stopPropagation()
      onClose()
    }
  }

  return (
    <div className="picker" role="dialog" aria-label="Placeholders" ref={ref} onKeyDown={onKey}>
      <input
        className="picker-search"
        placeholder="Search placeholders"
        aria-label="Search placeholders"
        value={q}
        onChange={(e) => setQ(e.target.value)}
      />
      <div className="picker-groups">
        {groups.map((g) => {
          const items = g.items.filter(
            (i) => !query || i.label.toLowerCase().includes(query) || i.expr.toLowerCase().includes(query),
          )
          if (items.length === 0) return null
          return (
            <div key={g.name} className="picker-group" role="group" aria-label={g.name}>
              <div className="picker-group-name">{g.name}</div>
              {items.map((i) => (
                <button
                  key={i.expr}
                  type="button"
                  className="picker-item"
                  onClick={() => onPick(placeholder(i.expr))}
                  title={placeholder(i.expr)}
                >
                  <span>{i.label}</span>
                  <code>{i.expr}</code>
                </button>
              ))}
            </div>
          )
        })}
      </div>
      <form
        className="picker-custom"
        onSubmit={(e) => {
          e.preventDefault()
          if (isFieldName(custom.trim())) onPick(placeholder(`contact.${custom.trim()}`))
        }}
      >
        <input
          aria-label="Other contact field"
          placeholder="Other field, e.g. plan"
          value={custom}
          onChange={(e) => setCustom(e.target.value)}
        />
        <button type="submit" className="btn btn-small" disabled={!isFieldName(custom.trim())}>
          Insert
        </button>
      </form>
    </div>
  )
}

/** PlaceholderInput is a text input (or textarea) with a "Get placeholders" button. */
export function PlaceholderInput({
  value,
  onChange,
  multiline,
  readOnly,
  label,
  customFields,
  invalid,
  placeholder: hint,
  id,
  describedBy,
}: {
  value: string
  onChange: (v: string) => void
  multiline?: boolean
  readOnly?: boolean
  /** Names the input for the picker button ("Get placeholders for URL"). */
  label: string
  customFields?: string[]
  invalid?: boolean
  placeholder?: string
  id?: string
  describedBy?: string
}) {
  const [open, setOpen] = useState(false)
  const inputRef = useRef<HTMLInputElement & HTMLTextAreaElement>(null)
  const sel = useRef<{ start: number | null; end: number | null } | null>(null)
  const autoId = useId()

  const remember = () => {
    const el = inputRef.current
    if (el) sel.current = { start: el.selectionStart, end: el.selectionEnd }
  }

  function pick(text: string) {
    const at = sel.current
    const r = insertAt(value, at?.start ?? null, at?.end ?? null, text)
    onChange(r.value)
    setOpen(false)
    sel.current = { start: r.caret, end: r.caret }
    requestAnimationFrame(() => {
      const el = inputRef.current
      if (!el) return
      el.focus()
      el.setSelectionRange(r.caret, r.caret)
    })
  }

  const common = {
    id: id ?? autoId,
    ref: inputRef,
    value,
    readOnly,
    'aria-invalid': invalid || undefined,
    'aria-describedby': describedBy,
    'aria-label': id ? undefined : label,
    placeholder: hint,
    spellCheck: false,
    onChange: (e: { target: { value: string; selectionStart: number | null; selectionEnd: number | null } }) => {
      onChange(e.target.value)
      sel.current = { start: e.target.selectionStart, end: e.target.selectionEnd }
    },
    onSelect: remember,
    onKeyUp: remember,
    onClick: remember,
    onBlur: remember,
  }
  return (
    <div className="ph-input">
      {multiline ? <textarea rows={3} {...common} /> : <input type="text" {...common} />}
      {!readOnly && (
        <button
          type="button"
          className="icon-btn ph-button"
          aria-label={`Get placeholders for ${label}`}
          title="Get placeholders"
          aria-expanded={open}
          onMouseDown={remember}
          onClick={() => setOpen((o) => !o)}
        >
          <Icon name="braces" />
        </button>
      )}
      {open && <PlaceholderPicker onPick={pick} onClose={() => setOpen(false)} customFields={customFields} />}
    </div>
  )
}
