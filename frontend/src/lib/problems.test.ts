import { describe, expect, it } from 'vitest'
import { configKeyOf, fieldProblems, indexProblems, problemFromApiField } from './problems'

describe('problems', () => {
  const problems = [
    { node: 'w1', field: 'config.url', message: 'url is required' },
    { node: 'w1', field: 'config.headers.X-Token', message: 'bad placeholder' },
    { node: 'w1', field: 'graph.edges[0].label', message: 'edges from a send_webhook node carry no label' },
    { node: 'c1', field: 'config.expression', message: 'unknown name contcat' },
    { field: 'graph.nodes', message: 'a scenario needs a trigger node' },
  ]

  it('groups by node and keeps graph-wide problems apart', () => {
    const idx = indexProblems(problems)
    expect(idx.byNode.get('w1')).toHaveLength(3)
    expect(idx.byNode.get('c1')).toHaveLength(1)
    expect(idx.general.map((p) => p.message)).toEqual(['a scenario needs a trigger node'])
  })

  it('maps fields to config keys', () => {
    expect(configKeyOf('config.url')).toBe('url')
    expect(configKeyOf('config.headers.X-Token')).toBe('headers')
    expect(configKeyOf('config.fields[1]')).toBe('fields')
    expect(configKeyOf('config')).toBe('')
    expect(configKeyOf('type')).toBe('')
    expect(configKeyOf(undefined)).toBe('')
    const byField = fieldProblems(indexProblems(problems).byNode.get('w1'))
    expect(byField.get('url')).toEqual(['url is required'])
    expect(byField.get('headers')).toEqual(['bad placeholder'])
    expect(byField.get('')).toEqual(['edges from a send_webhook node carry no label'])
  })

  it('finds the node of an API error field', () => {
    expect(problemFromApiField('graph.nodes[1].config.url', 'bad', ['t1', 'w1'])).toEqual({ node: 'w1', field: 'config.url', message: 'bad' })
    expect(problemFromApiField('name', 'too long', ['t1'])).toEqual({ field: 'name', message: 'too long' })
  })
})
