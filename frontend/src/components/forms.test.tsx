import { act, fireEvent, render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { useState } from 'react'
import { describe, expect, it, vi } from 'vitest'
import { fieldsOf, setConfigValue } from '../lib/schema'
import { spec } from '../test/fixtures'
import { KeyValueRows } from './KeyValueRows'
import { PlaceholderInput } from './PlaceholderPicker'
import { SchemaForm } from './SchemaForm'

function Form({ initial, errors }: { initial: Record<string, unknown>; errors?: Map<string, string[]> }) {
  const [value, setValue] = useState(initial)
  return (
    <>
      <SchemaForm idPrefix="t" fields={fieldsOf(spec('send_webhook').schema)} value={value} errors={errors} onChange={(k, v) => setValue((c) => setConfigValue(c, k, v))} />
      <output data-testid="config">{JSON.stringify(value)}</output>
    </>
  )
}

const config = () => JSON.parse(screen.getByTestId('config').textContent!)

describe('SchemaForm for Send a Webhook', () => {
  it('edits URL, method and the contact fields to send', async () => {
    const user = userEvent.setup()
    render(<Form initial={{ fields: ['email'] }} />)
    await user.type(screen.getByLabelText(/^URL/), 'https://crm.test/hook')
    await user.selectOptions(screen.getByLabelText('Method'), 'PUT')
    const fields = screen.getByRole('group', { name: 'Contact fields to send' })
    await user.click(within(fields).getByLabelText('firstname'))
    await user.click(within(fields).getByLabelText('email'))
    await user.type(within(fields).getByLabelText('Add to Contact fields to send'), 'c3{Enter}')
    expect(config()).toEqual({ url: 'https://crm.test/hook', method: 'PUT', fields: ['firstname', 'c3'] })
  })

  it('edits additional data and headers as key-value rows', async () => {
    const user = userEvent.setup()
    render(<Form initial={{ headers: { 'X-Token': 'abc' } }} />)
    const data = screen.getByRole('group', { name: 'Additional data' })
    await user.click(within(data.parentElement!).getByRole('button', { name: /Add row/ }))
    await user.type(within(data).getByLabelText('Additional data key 1'), 'plan')
    await user.type(within(data).getByLabelText('Additional data value 1'), 'pro')
    const headers = screen.getByRole('group', { name: 'Headers' })
    expect(within(headers).getByLabelText('Headers key 1')).toHaveValue('X-Token')
    await user.click(within(headers).getByRole('button', { name: 'Remove Headers row 1' }))
    expect(config()).toEqual({ data: { plan: 'pro' } })
  })

  it('shows server problems under the offending field', () => {
    render(<Form initial={{}} errors={new Map([['url', ['url is required']]])} />)
    const url = screen.getByLabelText(/^URL/)
    expect(url).toHaveAttribute('aria-invalid', 'true')
    expect(screen.getByText('url is required')).toHaveAttribute('id', url.getAttribute('aria-describedby')!.split(' ')[0])
  })
})

describe('KeyValueRows', () => {
  it('emits an object of the rows with a key and flags duplicate keys', async () => {
    const user = userEvent.setup()
    const onChange = vi.fn()
    render(<KeyValueRows label="Headers" value={{}} onChange={onChange} />)
    expect(screen.getByText('None yet.')).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: /Add row/ }))
    expect(onChange).not.toHaveBeenCalled() // an empty row says nothing yet
    await user.type(screen.getByLabelText('Headers key 1'), 'A')
    expect(onChange).toHaveBeenLastCalledWith({ A: '' })
    await user.click(screen.getByRole('button', { name: /Add row/ }))
    await user.type(screen.getByLabelText('Headers key 2'), 'A')
    expect(screen.getByLabelText('Headers key 2')).toHaveAttribute('aria-invalid', 'true')
  })

  it('follows outside changes such as undo', () => {
    const { rerender } = render(<KeyValueRows label="Data" value={{ a: '1' }} onChange={() => {}} />)
    expect(screen.getByLabelText('Data key 1')).toHaveValue('a')
    rerender(<KeyValueRows label="Data" value={{ b: '2', c: '3' }} onChange={() => {}} />)
    expect(screen.getByLabelText('Data key 1')).toHaveValue('b')
    expect(screen.getByLabelText('Data value 2')).toHaveValue('3')
  })
})

describe('placeholder picker', () => {
  function Field({ initial }: { initial: string }) {
    const [v, setV] = useState(initial)
    return <PlaceholderInput label="URL" value={v} onChange={setV} customFields={['c1', 'c3']} />
  }

  it('inserts the chosen placeholder at the cursor', async () => {
    const user = userEvent.setup()
    render(<Field initial="https://x.test/?name=&plan=" />)
    const input = screen.getByRole('textbox', { name: 'URL' }) as HTMLInputElement
    await user.click(input)
    const at = 'https://x.test/?name='.length
    input.setSelectionRange(at, at) // after "name="
    fireEvent.select(input)
    await user.click(screen.getByRole('button', { name: 'Get placeholders for URL' }))
    const picker = screen.getByRole('dialog', { name: 'Placeholders' })
    await user.click(within(picker).getByRole('button', { name: /First name/ }))
    expect(input).toHaveValue('https://x.test/?name={{ contact.firstname }}&plan=')
    expect(screen.queryByRole('dialog', { name: 'Placeholders' })).not.toBeInTheDocument()
    await act(() => new Promise((r) => requestAnimationFrame(() => r(null))))
    expect(input.selectionStart).toBe(at + '{{ contact.firstname }}'.length)
  })

  it('offers custom fields, a search, and any other field name', async () => {
    const user = userEvent.setup()
    render(<Field initial="" />)
    await user.click(screen.getByRole('button', { name: 'Get placeholders for URL' }))
    const picker = screen.getByRole('dialog', { name: 'Placeholders' })
    expect(within(within(picker).getByRole('group', { name: 'Custom fields' })).getAllByRole('button').map((b) => b.textContent)).toEqual([
      'c1contact.c1',
      'c3contact.c3',
    ])
    await user.type(within(picker).getByLabelText('Search placeholders'), 'scenario')
    expect(within(picker).queryByRole('group', { name: 'Contact' })).not.toBeInTheDocument()
    await user.type(within(picker).getByLabelText('Other contact field'), 'plan{Enter}')
    expect(screen.getByRole('textbox', { name: 'URL' })).toHaveValue('{{ contact.plan }}')
  })
})
