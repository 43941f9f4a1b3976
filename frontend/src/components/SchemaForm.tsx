// A form generated from a node type's config schema.
import { useEffect, useState, type ReactNode } from 'react'
import type { FieldDesc } from '../lib/schema'
import { KeyValueRows } from './KeyValueRows'
import { MultiSelect } from './MultiSelect'
import { PlaceholderInput } from './PlaceholderPicker'

export interface Choice {
  value: string
  label: string
}

export interface SchemaFormProps {
  fields: FieldDesc[]
  value: Record<string, unknown>
  onChange: (key: string, value: unknown) => void
  /** Problems per config key. */
  errors?: Map<string, string[]>
  readOnly?: boolean
  /** Extra content under a field (the Test URL button). */
  addon?: (key: string) => ReactNode
  /** Known values for some keys (lists for list_id) shown as a select. */
  choices?: (key: string) => Choice[] | undefined
  customFields?: string[]
  /** Prefix of input ids, so that two forms never share ids. */
  idPrefix: string
}

export function SchemaForm({ fields, value, onChange, errors, readOnly, addon, choices, customFields, idPrefix }: SchemaFormProps) {
  if (fields.length === 0) return <p className="muted">This step has no settings.</p>
  return (
    <div className="schema-form">
      {fields.map((f) => {
        const id = `${idPrefix}-${f.key}`
        const errs = errors?.get(f.key) ?? []
        const errId = errs.length ? `${id}-error` : undefined
        const helpId = f.description || f.hint ? `${id}-help` : undefined
        const describedBy = [errId, helpId].filter(Boolean).join(' ') || undefined
        const labelFor = ['keyvalue', 'multiselect'].includes(f.widget) ? undefined : id
        return (
          <div className={`field${errs.length ? ' field-invalid' : ''}`} key={f.key} data-field={f.key}>
            <div className="field-label-row">
              <label className="field-label" htmlFor={labelFor} id={`${id}-label`}>
                {f.label}
                {f.required && (
                  <span className="required" aria-label="required">
                    *
                  </span>
                )}
              </label>
              {f.placeholders && <span className="field-tag" title="Accepts {{ … }} placeholders">{'{{ }}'}</span>}
            </div>
            <Control f={f} id={id} value={value[f.key]} onChange={(v) => onChange(f.key, v)} readOnly={readOnly} invalid={errs.length > 0} describedBy={describedBy} choices={choices?.(f.key)} customFields={customFields} />
            {addon?.(f.key)}
            {(f.description || f.hint) && (
              <p className="field-help" id={helpId}>
                {f.description}
                {f.description && f.hint ? ' · ' : ''}
                {f.hint}
              </p>
            )}
            {errs.map((m, i) => (
              <p className="field-error" key={i} id={i === 0 ? errId : undefined} role="alert">
                {m}
              </p>
            ))}
          </div>
        )
      })}
    </div>
  )
}

function Control({
  f,
  id,
  value,
  onChange,
  readOnly,
  invalid,
  describedBy,
  choices,
  customFields,
}: {
  f: FieldDesc
  id: string
  value: unknown
  onChange: (v: unknown) => void
  readOnly?: boolean
  invalid: boolean
  describedBy?: string
  choices?: Choice[]
  customFields?: string[]
}) {
  const aria = { 'aria-invalid': invalid || undefined, 'aria-describedby': describedBy }
  switch (f.widget) {
    case 'checkbox':
      return (
        <label className="check">
          <input id={id} type="checkbox" checked={value === true} disabled={readOnly} onChange={(e) => onChange(e.target.checked)} {...aria} />
          <span>{f.description ? 'Yes' : f.label}</span>
        </label>
      )
    case 'number':
      return (
        <input
          id={id}
          type="number"
          value={typeof value === 'number' ? value : ''}
          step={f.integer ? 1 : 'any'}
          min={f.min}
          max={f.max}
          readOnly={readOnly}
          placeholder={f.defaultValue !== undefined ? String(f.defaultValue) : undefined}
          onChange={(e) => {
            const n = e.target.value === '' ? undefined : Number(e.target.value)
            onChange(n === undefined || Number.isNaN(n) ? undefined : n)
          }}
          {...aria}
        />
      )
    case 'select': {
      const current = value === undefined || value === null ? '' : String(value)
      return (
        <select id={id} value={current} disabled={readOnly} onChange={(e) => onChange(e.target.value || undefined)} {...aria}>
          {(!f.required || current === '') && (
            <option value="">{f.defaultValue !== undefined ? `Default (${String(f.defaultValue)})` : '—'}</option>
          )}
          {f.options!.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      )
    }
    case 'multiselect':
      return (
        <MultiSelect
          label={f.label}
          options={f.options ?? []}
          value={Array.isArray(value) ? value.map(String) : []}
          onChange={onChange}
          allowCustom={f.allowCustom}
          readOnly={readOnly}
        />
      )
    case 'keyvalue':
      return (
        <KeyValueRows
          label={f.label}
          value={value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined}
          onChange={onChange}
          placeholders={f.placeholders}
          readOnly={readOnly}
          customFields={customFields}
          invalid={invalid}
          addLabel={f.key === 'headers' ? 'Add header' : 'Add row'}
          keyHint={f.key === 'headers' ? 'Header name' : 'Key'}
        />
      )
    case 'json':
      return <JsonInput id={id} value={value} onChange={onChange} readOnly={readOnly} aria={aria} />
    default: {
      const text = value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value)
      const hint = f.defaultValue !== undefined ? String(f.defaultValue) : f.format === 'uri' ? 'https://' : undefined
      if (choices && choices.length > 0 && !f.placeholders) {
        return (
          <select id={id} value={text} disabled={readOnly} onChange={(e) => onChange(e.target.value || undefined)} {...aria}>
            <option value="">{f.required ? '— choose —' : 'Any'}</option>
            {choices.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
            {text && !choices.some((c) => c.value === text) && <option value={text}>{text}</option>}
          </select>
        )
      }
      if (f.placeholders) {
        return (
          <PlaceholderInput
            id={id}
            label={f.label}
            value={text}
            onChange={(v) => onChange(v)}
            multiline={f.widget === 'textarea'}
            readOnly={readOnly}
            customFields={customFields}
            invalid={invalid}
            placeholder={hint}
            describedBy={describedBy}
          />
        )
      }
      if (f.widget === 'textarea') {
        return <textarea id={id} rows={3} value={text} readOnly={readOnly} spellCheck={false} onChange={(e) => onChange(e.target.value)} {...aria} />
      }
      return (
        <input
          id={id}
          type={f.secret ? 'password' : 'text'}
          value={text}
          readOnly={readOnly}
          placeholder={hint}
          spellCheck={false}
          onChange={(e) => onChange(e.target.value)}
          {...aria}
        />
      )
    }
  }
}

function JsonInput({
  id,
  value,
  onChange,
  readOnly,
  aria,
}: {
  id: string
  value: unknown
  onChange: (v: unknown) => void
  readOnly?: boolean
  aria: Record<string, unknown>
}) {
  const [text, setText] = useState(() => (value === undefined ? '' : JSON.stringify(value, null, 2)))
  const [err, setErr] = useState('')
  useEffect(() => {
    setText(value === undefined ? '' : JSON.stringify(value, null, 2))
  }, [value])
  return (
    <>
      <textarea
        id={id}
        className="mono"
        rows={4}
        value={text}
        readOnly={readOnly}
        spellCheck={false}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => {
          if (!text.trim()) {
            setErr('')
            onChange(undefined)
            return
          }
          try {
            onChange(JSON.parse(text))
            setErr('')
          } catch {
            setErr('Not valid JSON')
          }
        }}
        {...aria}
      />
      {err && <p className="field-error">{err}</p>}
    </>
  )
}
