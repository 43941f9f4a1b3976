// Key-value rows (webhook additional data and headers): an object edited as
// rows, values optionally with placeholders.
import { useEffect, useRef, useState } from 'react'
import { Icon } from './common'
import { PlaceholderInput } from './PlaceholderPicker'

interface Row {
  id: number
  key: string
  value: string
}

let nextRowId = 1

function toRows(v: Record<string, unknown> | undefined): Row[] {
  return Object.entries(v ?? {}).map(([key, value]) => ({
    id: nextRowId++,
    key,
    value: typeof value === 'string' ? value : JSON.stringify(value),
  }))
}

/** rowsToObject keeps rows with a key; a later duplicate key wins. */
export function rowsToObject(rows: { key: string; value: string }[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const r of rows) if (r.key.trim()) out[r.key.trim()] = r.value
  return out
}

export function KeyValueRows({
  value,
  onChange,
  placeholders,
  readOnly,
  label,
  addLabel = 'Add row',
  keyHint = 'Key',
  valueHint = 'Value',
  customFields,
  invalid,
}: {
  value: Record<string, unknown> | undefined
  onChange: (v: Record<string, string>) => void
  placeholders?: boolean
  readOnly?: boolean
  label: string
  addLabel?: string
  keyHint?: string
  valueHint?: string
  customFields?: string[]
  invalid?: boolean
}) {
  const [rows, setRows] = useState<Row[]>(() => toRows(value))
  const emitted = useRef(JSON.stringify(rowsToObject(rows)))

  // Follow outside changes (undo, another node selected) but not our own edits.
  useEffect(() => {
    const incoming = JSON.stringify(value ?? {})
    if (incoming !== emitted.current) {
      setRows(toRows(value))
      emitted.current = incoming
    }
  }, [value])

  function update(next: Row[]) {
    setRows(next)
    const obj = rowsToObject(next)
    const s = JSON.stringify(obj)
    if (s !== emitted.current) {
      emitted.current = s
      onChange(obj)
    }
  }

  const counts = new Map<string, number>()
  for (const r of rows) if (r.key.trim()) counts.set(r.key.trim(), (counts.get(r.key.trim()) ?? 0) + 1)

  return (
    <div className={`kv${invalid ? ' kv-invalid' : ''}`} role="group" aria-label={label}>
      {rows.length === 0 && <p className="kv-empty muted">None yet.</p>}
      {rows.map((r, i) => {
        const dup = r.key.trim() !== '' && (counts.get(r.key.trim()) ?? 0) > 1
        return (
          <div className="kv-row" key={r.id}>
            <input
              className="kv-key"
              aria-label={`${label} key ${i + 1}`}
              placeholder={keyHint}
              value={r.key}
              readOnly={readOnly}
              aria-invalid={dup || undefined}
              title={dup ? 'This key is used twice; the last row wins' : undefined}
              spellCheck={false}
              onChange={(e) => update(rows.map((x) => (x.id === r.id ? { ...x, key: e.target.value } : x)))}
            />
            {placeholders ? (
              <PlaceholderInput
                label={`${label} value ${i + 1}`}
                value={r.value}
                readOnly={readOnly}
                placeholder={valueHint}
                customFields={customFields}
                onChange={(v) => update(rows.map((x) => (x.id === r.id ? { ...x, value: v } : x)))}
              />
            ) : (
              <input
                className="kv-value"
                aria-label={`${label} value ${i + 1}`}
                placeholder={valueHint}
                value={r.value}
                readOnly={readOnly}
                spellCheck={false}
                onChange={(e) => update(rows.map((x) => (x.id === r.id ? { ...x, value: e.target.value } : x)))}
              />
            )}
            {!readOnly && (
              <button
                type="button"
                className="icon-btn"
                aria-label={`Remove ${label} row ${i + 1}`}
                onClick={() => update(rows.filter((x) => x.id !== r.id))}
              >
                <Icon name="x" />
              </button>
            )}
          </div>
        )
      })}
      {!readOnly && (
        <button
          type="button"
          className="btn btn-small btn-ghost kv-add"
          onClick={() => setRows([...rows, { id: nextRowId++, key: '', value: '' }])}
        >
          <Icon name="plus" /> {addLabel}
        </button>
      )}
    </div>
  )
}
