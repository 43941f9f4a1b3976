// A multi-select shown as toggle chips, with an input for values outside the
// list when the schema allows them.
import { useState } from 'react'
import { Icon } from './common'

export function MultiSelect({
  options,
  value,
  onChange,
  allowCustom,
  readOnly,
  label,
}: {
  options: string[]
  value: string[]
  onChange: (v: string[]) => void
  allowCustom?: boolean
  readOnly?: boolean
  label: string
}) {
  const [custom, setCustom] = useState('')
  const all = [...options, ...value.filter((v) => !options.includes(v))]
  const toggle = (o: string) => onChange(value.includes(o) ? value.filter((v) => v !== o) : [...value, o])
  const add = () => {
    const v = custom.trim()
    if (v && !value.includes(v)) onChange([...value, v])
    setCustom('')
  }
  return (
    <div className="multi" role="group" aria-label={label}>
      <div className="chips">
        {all.map((o) => (
          <label key={o} className={`chip${value.includes(o) ? ' chip-on' : ''}`}>
            <input type="checkbox" checked={value.includes(o)} disabled={readOnly} onChange={() => toggle(o)} />
            {value.includes(o) && <Icon name="check" size={12} />}
            {o}
          </label>
        ))}
      </div>
      {allowCustom && !readOnly && (
        <div className="multi-add">
          <input
            aria-label={`Add to ${label}`}
            placeholder="Other field, e.g. c3"
            value={custom}
            spellCheck={false}
            onChange={(e) => setCustom(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault()
                add()
              }
            }}
          />
          <button type="button" className="btn btn-small" onClick={add} disabled={!custom.trim()}>
            Add
          </button>
        </div>
      )}
    </div>
  )
}
