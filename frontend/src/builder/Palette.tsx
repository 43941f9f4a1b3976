// The palette of node types, grouped as triggers, actions and flow, built
// from the node-type catalogue. Drag an item onto the canvas, or press it
// (mouse or keyboard) to add it below the selected step.
import { useState, type DragEvent } from 'react'
import type { NodeSpec } from '../api/types'
import { Icon } from '../components/common'
import { iconOf, kindGroups } from './kinds'

export const DND_TYPE = 'application/x-sluice-node'

export function Palette({ specs, onAdd, disabled }: { specs: NodeSpec[]; onAdd: (type: string) => void; disabled?: boolean }) {
  const [q, setQ] = useState('')
  const query = q.trim().toLowerCase()
  const match = (s: NodeSpec) =>
    !query || s.label.toLowerCase().includes(query) || s.type.includes(query) || (s.description ?? '').toLowerCase().includes(query)

  function onDragStart(e: DragEvent, type: string) {
    e.dataTransfer.setData(DND_TYPE, type)
    e.dataTransfer.setData('text/plain', type)
    e.dataTransfer.effectAllowed = 'move'
  }

  return (
    <aside className="palette" aria-label="Node types">
      <div className="palette-search">
        <Icon name="search" />
        <input placeholder="Search steps" aria-label="Search steps" value={q} onChange={(e) => setQ(e.target.value)} />
      </div>
      {disabled && <p className="palette-note">This version is read-only.</p>}
      <div className="palette-groups">
        {kindGroups.map((g) => {
          const items = specs.filter((s) => s.kind === g.kind && match(s))
          if (items.length === 0) return null
          return (
            <section key={g.kind} className="palette-group" aria-labelledby={`palette-${g.kind}`}>
              <h3 id={`palette-${g.kind}`}>{g.title}</h3>
              <ul>
                {items.map((s) => (
                  <li key={s.type}>
                    <button
                      type="button"
                      className={`palette-item palette-${s.kind}`}
                      draggable={!disabled}
                      disabled={disabled}
                      onDragStart={(e) => onDragStart(e, s.type)}
                      onClick={() => onAdd(s.type)}
                      title={`${s.description ? s.description + '\n' : ''}Drag onto the canvas, or press to add after the selected step`}
                      data-type={s.type}
                    >
                      <span className="palette-icon" aria-hidden="true">
                        <Icon name={iconOf(s)} size={14} />
                      </span>
                      <span className="palette-label">{s.label}</span>
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          )
        })}
        {specs.length > 0 && !specs.some(match) && <p className="muted palette-note">No step matches “{q}”.</p>}
      </div>
    </aside>
  )
}
