// The scenario builder page: palette, canvas, side panel, save/activate, and
// live statistics of the version shown.
import { ReactFlowProvider, useReactFlow } from '@xyflow/react'
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { ApiError } from '../api/client'
import { useClient } from '../api/context'
import type { List, NodeSpec, Problem, ScenarioStats, ScenarioView, StepStats } from '../api/types'
import { ErrorState, Icon, Spinner, StatusBadge, errorMessage } from '../components/common'
import { TopBar } from '../components/TopBar'
import { NODE_HEIGHT, NODE_WIDTH } from '../lib/graph'
import { indexProblems, problemFromApiField } from '../lib/problems'
import { navigate } from '../lib/router'
import { CanvasContext, type CanvasInfo } from './context'
import { Canvas } from './Canvas'
import { NodePanel, type PanelTab } from './NodePanel'
import { Palette } from './Palette'
import { ScenarioPanel } from './ScenarioPanel'
import { useEditor } from './useEditor'

type Load =
  | { state: 'loading' }
  | { state: 'error'; error: unknown }
  | { state: 'ready'; view: ScenarioView; specs: NodeSpec[]; lists: List[] }

export function Builder({ scenarioId }: { scenarioId: string }) {
  const client = useClient()
  const [load, setLoad] = useState<Load>({ state: 'loading' })
  const fetchAll = useCallback(async () => {
    setLoad({ state: 'loading' })
    try {
      const [view, specs, lists] = await Promise.all([
        client.scenario(scenarioId),
        client.nodeTypes(),
        client.lists().catch(() => [] as List[]),
      ])
      setLoad({ state: 'ready', view, specs, lists })
    } catch (error) {
      setLoad({ state: 'error', error })
    }
  }, [client, scenarioId])
  useEffect(() => {
    void fetchAll()
  }, [fetchAll])

  if (load.state !== 'ready') {
    return (
      <div className="page">
        <TopBar>
          <BackLink />
        </TopBar>
        <main className="page-center">
          {load.state === 'loading' ? (
            <Spinner label="Loading the scenario…" />
          ) : (
            <ErrorState
              title={load.error instanceof ApiError && load.error.status === 404 ? 'This scenario does not exist' : 'Could not load the scenario'}
              error={load.error}
              onRetry={fetchAll}
            />
          )}
        </main>
      </div>
    )
  }
  return (
    <ReactFlowProvider>
      <BuilderLoaded initial={load.view} specList={load.specs} lists={load.lists} />
    </ReactFlowProvider>
  )
}

function BackLink({ confirmLeave }: { confirmLeave?: () => boolean }) {
  return (
    <a
      className="back-link"
      href="/"
      onClick={(e) => {
        e.preventDefault()
        if (!confirmLeave || confirmLeave()) navigate('/')
      }}
    >
      <Icon name="back" /> Scenarios
    </a>
  )
}

type Flash = { kind: 'ok' | 'error' | 'info'; text: string } | null

const POLL_MS = 2000

function BuilderLoaded({ initial, specList, lists }: { initial: ScenarioView; specList: NodeSpec[]; lists: List[] }) {
  const client = useClient()
  const rf = useReactFlow()
  const specs = useMemo(() => new Map(specList.map((s) => [s.type, s])), [specList])
  const editor = useEditor(initial.graph, specs)
  const [scenario, setScenario] = useState<ScenarioView>(initial)
  const [viewVersion, setViewVersion] = useState(initial.version)
  const [viewActivated, setViewActivated] = useState(isActivated(initial, initial.version))
  const [editing, setEditing] = useState(false)
  const [name, setName] = useState(initial.name)
  const [reentry, setReentry] = useState(initial.allow_reentry)
  const [savedMeta, setSavedMeta] = useState({ name: initial.name, reentry: initial.allow_reentry })
  const [problems, setProblems] = useState<Problem[]>([])
  const [stats, setStats] = useState<ScenarioStats | null>(null)
  const [statsError, setStatsError] = useState(false)
  const [tab, setTab] = useState<PanelTab>('settings')
  const [busy, setBusy] = useState('')
  const [flash, setFlash] = useState<Flash>(null)
  const [announce, setAnnounce] = useState('')
  const forceStats = useRef(false)

  // Good news fades away; errors stay until dismissed.
  useEffect(() => {
    if (!flash || flash.kind === 'error') return
    const t = setTimeout(() => setFlash(null), 8000)
    return () => clearTimeout(t)
  }, [flash])

  const isLatest = viewVersion === scenario.version
  const archived = scenario.status === 'archived'
  const readOnly = !isLatest || archived || (viewActivated && !editing)
  const statsVersion = viewActivated ? viewVersion : 0
  const dirty = editor.dirty || name !== savedMeta.name || reentry !== savedMeta.reentry
  const problemIndex = useMemo(() => indexProblems(problems), [problems])
  const selected = editor.nodes.find((n) => n.id === editor.selectedId)

  // Live statistics of the version shown.
  const wantHourly = !!selected && tab === 'stats'
  useEffect(() => {
    if (!statsVersion) {
      setStats(null)
      return
    }
    let stop = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const ac = new AbortController()
    const tick = async () => {
      if (document.visibilityState !== 'hidden') {
        try {
          const s = await client.stats(scenario.id, { version: statsVersion, hourly: wantHourly }, ac.signal)
          if (!stop) {
            setStats(s)
            setStatsError(false)
          }
        } catch (err) {
          if (!stop && (err as Error)?.name !== 'AbortError') setStatsError(true)
        }
      }
      if (!stop) timer = setTimeout(tick, POLL_MS)
    }
    void tick()
    return () => {
      stop = true
      ac.abort()
      clearTimeout(timer)
    }
  }, [client, scenario.id, statsVersion, wantHourly])

  const statsByNode = useMemo(() => {
    if (!statsVersion) return null
    const m = new Map<string, StepStats>()
    for (const s of stats?.steps ?? []) m.set(s.node_id, s)
    // Nodes without counters yet show zeros.
    for (const n of editor.nodes) if (!m.has(n.id)) m.set(n.id, { node_id: n.id, type: n.data.type, reached: 0, accepted: 0, pending: 0, failed: 0, attempts: 0 })
    return m
  }, [stats, statsVersion, editor.nodes])

  // A newly selected step opens on its statistics when the version is read-only.
  useEffect(() => {
    if (forceStats.current) {
      forceStats.current = false
      setTab('stats')
      return
    }
    setTab(readOnly && statsVersion ? 'stats' : 'settings')
  }, [editor.selectedId])

  const openStats = useCallback(
    (id: string) => {
      forceStats.current = editor.selectedId !== id
      editor.select(id)
      setTab('stats')
    },
    [editor],
  )

  const canvasInfo: CanvasInfo = useMemo(
    () => ({ specs, stats: statsByNode, problems: problemIndex.byNode, readOnly, openStats }),
    [specs, statsByNode, problemIndex, readOnly, openStats],
  )

  // Leaving with unsaved changes asks first.
  useEffect(() => {
    if (!dirty) return
    const on = (e: BeforeUnloadEvent) => {
      e.preventDefault()
    }
    window.addEventListener('beforeunload', on)
    return () => window.removeEventListener('beforeunload', on)
  }, [dirty])
  const confirmLeave = () => !dirty || window.confirm('Leave without saving your changes?')

  const save = useCallback(async (): Promise<boolean> => {
    setBusy('save')
    setFlash(null)
    const graph = editor.graph
    try {
      const v = await client.saveScenario(scenario.id, { name: name.trim() || savedMeta.name, allow_reentry: reentry, graph })
      setScenario((s) => ({ ...s, ...v, graph }))
      setViewVersion(v.version)
      setViewActivated(false)
      setEditing(false)
      editor.markSaved(graph)
      setSavedMeta({ name: v.name, reentry: v.allow_reentry })
      setName(v.name)
      let probs: Problem[] = []
      try {
        probs = await client.validate(scenario.id)
      } catch {
        probs = []
      }
      setProblems(probs)
      setFlash(
        probs.length
          ? { kind: 'info', text: `Saved as draft version ${v.version}. ${probs.length} problem${probs.length > 1 ? 's' : ''} to fix before activating.` }
          : { kind: 'ok', text: `Saved as draft version ${v.version}.` },
      )
      return true
    } catch (err) {
      if (err instanceof ApiError && err.field) {
        setProblems([problemFromApiField(err.field, err.message, graph.nodes.map((n) => n.id))])
      }
      setFlash({ kind: 'error', text: `Could not save: ${errorMessage(err)}` })
      return false
    } finally {
      setBusy('')
    }
  }, [client, editor, name, reentry, savedMeta.name, scenario.id])

  async function activate() {
    if (dirty && !(await save())) return
    setBusy('activate')
    try {
      const v = await client.activate(scenario.id)
      setScenario((s) => ({ ...s, ...v }))
      setViewVersion(v.version)
      setViewActivated(true)
      setEditing(false)
      setProblems([])
      setFlash({ kind: 'ok', text: `Version ${v.active_version || v.version} is live: new contacts enter it from now on.` })
    } catch (err) {
      if (err instanceof ApiError && err.problems.length) {
        setProblems(err.problems)
        setFlash({ kind: 'error', text: `Fix ${err.problems.length} problem${err.problems.length > 1 ? 's' : ''} before activating (marked on the steps).` })
      } else {
        setFlash({ kind: 'error', text: `Could not activate: ${errorMessage(err)}` })
      }
    } finally {
      setBusy('')
    }
  }

  async function lifecycle(what: 'pause' | 'archive') {
    setBusy(what)
    try {
      const v = what === 'pause' ? await client.pause(scenario.id) : await client.archive(scenario.id)
      setScenario((s) => ({ ...s, ...v, graph: s.graph }))
      setFlash({ kind: 'ok', text: what === 'pause' ? 'Paused: no new contacts enter; runs in flight go on.' : 'Archived: no new contacts enter.' })
    } catch (err) {
      setFlash({ kind: 'error', text: `Could not ${what}: ${errorMessage(err)}` })
    } finally {
      setBusy('')
    }
  }

  async function showVersion(n: number) {
    if (n === viewVersion) return
    if (dirty && !window.confirm('Discard your unsaved changes to view another version?')) return
    setBusy('version')
    try {
      const v = await client.scenario(scenario.id, n)
      editor.reset(v.graph)
      setViewVersion(n)
      setViewActivated(isActivated(v, n))
      setEditing(false)
      setProblems([])
      setName(savedMeta.name)
      setReentry(savedMeta.reentry)
      requestAnimationFrame(() => rf.fitView({ padding: 0.25, maxZoom: 1 }))
    } catch (err) {
      setFlash({ kind: 'error', text: `Could not load version ${n}: ${errorMessage(err)}` })
    } finally {
      setBusy('')
    }
  }

  const addNode = useCallback(
    (type: string, position?: { x: number; y: number }) => {
      if (readOnly) return
      const from = position ? null : editor.selectedId
      const r = editor.addNode(type, { position, from })
      const label = specs.get(type)?.label ?? type
      setAnnounce(`Added ${label} (${r.id})${r.connectedFrom ? `, connected from ${r.connectedFrom}` : ''}.`)
      if (!position) {
        requestAnimationFrame(() => {
          const n = rf.getNode(r.id)
          if (n) rf.setCenter(n.position.x + NODE_WIDTH / 2, n.position.y + NODE_HEIGHT / 2, { zoom: Math.max(rf.getZoom(), 0.8), duration: 200 })
        })
      }
    },
    [editor, readOnly, rf, specs],
  )

  // Keyboard shortcuts: undo, redo, save.
  useEffect(() => {
    const on = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey
      if (!mod) return
      const k = e.key.toLowerCase()
      if (k === 's') {
        e.preventDefault()
        if (dirty && !readOnly && !busy) void save()
        return
      }
      const t = e.target as HTMLElement | null
      if (t && (t.closest('input, textarea, select, [contenteditable=true]') || readOnly)) return
      if (k === 'z' && !e.shiftKey) {
        e.preventDefault()
        editor.undo()
      } else if ((k === 'z' && e.shiftKey) || k === 'y') {
        e.preventDefault()
        editor.redo()
      }
    }
    window.addEventListener('keydown', on)
    return () => window.removeEventListener('keydown', on)
  }, [busy, dirty, editor, readOnly, save])

  const versions = useMemo(() => {
    const vs = stats?.versions?.length ? stats.versions : Array.from({ length: scenario.version }, (_, i) => scenario.version - i)
    return [...new Set([scenario.version, ...vs])].sort((a, b) => b - a)
  }, [stats, scenario.version])

  const liveLatest = scenario.status === 'active' && scenario.active_version === scenario.version
  const canActivate = isLatest && (!liveLatest || dirty)

  return (
    <CanvasContext.Provider value={canvasInfo}>
      <div className="page builder-page">
        <TopBar>
          <div className="builder-bar">
            <BackLink confirmLeave={confirmLeave} />
            <span className="bar-sep" />
            <input
              className="name-input"
              value={name}
              onChange={(e) => setName(e.target.value)}
              aria-label="Scenario name"
              readOnly={readOnly}
              maxLength={200}
            />
            <StatusBadge status={scenario.status} />
            <label className="version-picker">
              <span className="sr-only">Version</span>
              <select value={viewVersion} onChange={(e) => void showVersion(Number(e.target.value))} aria-label="Version" disabled={busy === 'version'}>
                {versions.map((v) => (
                  <option key={v} value={v}>
                    v{v}
                    {v === scenario.active_version ? (scenario.status === 'active' ? ' · live' : ` · ${scenario.status}`) : v === scenario.version ? ' · draft' : ''}
                  </option>
                ))}
              </select>
            </label>
            {dirty && (
              <span className="unsaved" role="status" data-testid="unsaved">
                <span className="dot" aria-hidden="true" /> Unsaved changes
              </span>
            )}
            <span className="bar-grow" />
            {!readOnly && (
              <button type="button" className="btn" onClick={() => void save()} disabled={!dirty || !!busy} title="Save a new draft version (Ctrl+S)">
                <Icon name="save" /> {busy === 'save' ? 'Saving…' : 'Save'}
              </button>
            )}
            {scenario.status === 'active' && (
              <button type="button" className="btn" onClick={() => void lifecycle('pause')} disabled={!!busy}>
                <Icon name="pause" /> Pause
              </button>
            )}
            {canActivate && (
              <button type="button" className="btn btn-primary" onClick={() => void activate()} disabled={!!busy}>
                <Icon name="play" /> {busy === 'activate' ? 'Activating…' : scenario.active_version && scenario.active_version !== scenario.version ? `Activate v${scenario.version}` : 'Activate'}
              </button>
            )}
            {!archived && (
              <button type="button" className="btn btn-ghost" onClick={() => void lifecycle('archive')} disabled={!!busy} title="Stop new contacts from entering and file the scenario away">
                <Icon name="archive" /> Archive
              </button>
            )}
          </div>
        </TopBar>
        <Banners
          readOnly={readOnly}
          isLatest={isLatest}
          archived={archived}
          viewVersion={viewVersion}
          latest={scenario.version}
          onEdit={() => setEditing(true)}
          onLatest={() => void showVersion(scenario.version)}
          flash={flash}
          onDismiss={() => setFlash(null)}
          general={problemIndex.general}
          statsError={statsError}
        />
        <div className={`builder${selected && tab === 'stats' ? ' builder-wide-panel' : ''}`}>
          <Palette specs={specList} onAdd={(t) => addNode(t)} disabled={readOnly} />
          <Canvas editor={editor} readOnly={readOnly} onAdd={(t, p) => addNode(t, p)} onConnectProblem={(m) => setAnnounce(m)} />
          {selected ? (
            <NodePanel
              node={selected}
              spec={specs.get(selected.data.type)}
              specs={specs}
              nodes={editor.nodes}
              edges={editor.edges}
              problems={problemIndex.byNode.get(selected.id) ?? []}
              readOnly={readOnly}
              scenarioId={scenario.id}
              tab={tab}
              onTab={setTab}
              statsVersion={statsVersion}
              stats={statsByNode?.get(selected.id)}
              onConfig={(k, v) => editor.updateConfig(selected.id, k, v)}
              onDelete={() => editor.deleteNodes([selected.id])}
              onConnect={(target, handle) => editor.onConnect({ source: selected.id, target, sourceHandle: handle, targetHandle: null })}
              onRemoveEdge={editor.removeEdge}
              onClose={() => editor.select(null)}
              choices={(key) => (key.endsWith('list_id') && lists.length ? lists.map((l) => ({ value: l.id, label: l.name })) : undefined)}
            />
          ) : (
            <ScenarioPanel
              scenario={scenario}
              reentry={reentry}
              onReentry={setReentry}
              readOnly={readOnly}
              problems={problems}
              nodeCount={editor.nodes.length}
              entered={
                statsVersion && stats
                  ? stats.steps.filter((s) => specs.get(s.type)?.kind === 'trigger').reduce((a, s) => a + s.reached, 0)
                  : null
              }
              onSelect={(id) => editor.select(id)}
            />
          )}
        </div>
        <div className="sr-only" aria-live="polite" data-testid="announce">
          {announce}
        </div>
      </div>
    </CanvasContext.Provider>
  )
}

function isActivated(v: ScenarioView, n: number): boolean {
  if (v.activated_at !== undefined) return !!v.activated_at
  return v.active_version > 0 && n <= v.active_version
}

function Banners({
  readOnly,
  isLatest,
  archived,
  viewVersion,
  latest,
  onEdit,
  onLatest,
  flash,
  onDismiss,
  general,
  statsError,
}: {
  readOnly: boolean
  isLatest: boolean
  archived: boolean
  viewVersion: number
  latest: number
  onEdit: () => void
  onLatest: () => void
  flash: Flash
  onDismiss: () => void
  general: Problem[]
  statsError: boolean
}) {
  return (
    <div className="banners">
      {readOnly && !isLatest && (
        <div className="banner banner-info">
          <Icon name="lock" /> You are looking at version {viewVersion} (read-only), with its statistics.
          <button type="button" className="link-btn" onClick={onLatest}>
            Back to the latest version (v{latest})
          </button>
        </div>
      )}
      {readOnly && isLatest && archived && (
        <div className="banner banner-info">
          <Icon name="lock" /> This scenario is archived. Activate it to let contacts enter again.
        </div>
      )}
      {readOnly && isLatest && !archived && (
        <div className="banner banner-info">
          <Icon name="lock" /> Version {viewVersion} has been activated and is read-only.
          <button type="button" className="link-btn" onClick={onEdit}>
            Edit as a new draft
          </button>
        </div>
      )}
      {flash && (
        <div className={`banner banner-${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'}>
          {flash.kind === 'ok' && <Icon name="check" />}
          {flash.kind === 'error' && <Icon name="alert" />}
          <span>{flash.text}</span>
          <button type="button" className="icon-btn banner-close" aria-label="Dismiss" onClick={onDismiss}>
            <Icon name="x" />
          </button>
        </div>
      )}
      {general.length > 0 && (
        <div className="banner banner-error" role="alert">
          <Icon name="alert" />
          <span>{general.map((p) => p.message).join(' · ')}</span>
        </div>
      )}
      {statsError && <div className="banner banner-info">Statistics could not be refreshed; retrying.</div>}
    </div>
  )
}
