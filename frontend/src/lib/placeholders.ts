// Placeholders ({{ expr }}) that the picker offers, and inserting one into a
// text at the caret.

export interface PlaceholderItem {
  label: string
  expr: string
}

export interface PlaceholderGroup {
  name: string
  items: PlaceholderItem[]
}

/** placeholder wraps an expression in the delimiters: {{ contact.email }}. */
export function placeholder(expr: string): string {
  return `{{ ${expr.trim()} }}`
}

/** The default custom fields offered (c1…c10); any other name can be typed. */
export const defaultCustomFields = Array.from({ length: 10 }, (_, i) => `c${i + 1}`)

/** placeholderGroups lists what the picker shows. */
export function placeholderGroups(customFields: string[] = defaultCustomFields): PlaceholderGroup[] {
  return [
    {
      name: 'Contact',
      items: [
        { label: 'Email', expr: 'contact.email' },
        { label: 'First name', expr: 'contact.firstname' },
        { label: 'Last name', expr: 'contact.lastname' },
        { label: 'Contact id', expr: 'contact.id' },
        { label: 'Time zone', expr: 'contact.timezone' },
      ],
    },
    {
      name: 'Custom fields',
      items: customFields.map((f) => ({ label: f, expr: `contact.${f}` })),
    },
    {
      name: 'Event',
      items: [
        { label: 'Event type', expr: 'event.type' },
        { label: 'Event data (whole)', expr: 'event.data' },
        { label: 'Event time', expr: 'event.occurred_at' },
      ],
    },
    {
      name: 'Scenario & run',
      items: [
        { label: 'Scenario name', expr: 'scenario.name' },
        { label: 'Scenario id', expr: 'scenario.id' },
        { label: 'Run id', expr: 'run.id' },
        { label: 'Now (UTC)', expr: 'now' },
      ],
    },
  ]
}

/** insertAt replaces value[start:end] with text and returns the new value and caret. */
export function insertAt(value: string, start: number | null, end: number | null, text: string): { value: string; caret: number } {
  const s = start == null ? value.length : Math.max(0, Math.min(start, value.length))
  const e = end == null ? s : Math.max(s, Math.min(end, value.length))
  const next = value.slice(0, s) + text + value.slice(e)
  return { value: next, caret: s + text.length }
}

/** A field name the picker accepts for a custom placeholder (contact.<name>). */
export function isFieldName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
}
