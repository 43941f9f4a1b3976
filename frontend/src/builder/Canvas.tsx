// The canvas: React Flow with drop from the palette, zoom, fit, minimap and
// the undo/redo/auto-layout toolbar.
import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  Panel,
  ReactFlow,
  useReactFlow,
  type Connection,
  type Edge,
  type IsValidConnection,
} from '@xyflow/react'
import { useCallback, useContext, useState, type DragEvent } from 'react'
import { Icon } from '../components/common'
import { NODE_WIDTH, type StepNode as StepNodeT } from '../lib/graph'
import { CanvasContext } from './context'
import { DND_TYPE } from './Palette'
import { StepNode } from './StepNode'
import type { Editor } from './useEditor'

const nodeTypes = { step: StepNode }
const kindColor: Record<string, string> = { trigger: '#059669', action: '#2563eb', flow: '#d97706' }

export function Canvas({
  editor,
  readOnly,
  onAdd,
  onConnectProblem,
}: {
  editor: Editor
  readOnly: boolean
  onAdd: (type: string, position: { x: number; y: number }) => void
  onConnectProblem: (message: string) => void
}) {
  const rf = useReactFlow()
  const { specs } = useContext(CanvasContext)
  // Fit the view on load only when there is something to fit: on an empty
  // canvas the first dropped step stays where it was dropped.
  const [fitOnLoad] = useState(() => editor.nodes.length > 0)

  const onDragOver = useCallback(
    (e: DragEvent) => {
      if (readOnly) return
      e.preventDefault()
      e.dataTransfer.dropEffect = 'move'
    },
    [readOnly],
  )

  const onDrop = useCallback(
    (e: DragEvent) => {
      e.preventDefault()
      if (readOnly) return
      const type = e.dataTransfer.getData(DND_TYPE) || e.dataTransfer.getData('text/plain')
      if (!type || !specs.has(type)) return
      const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY })
      onAdd(type, { x: Math.round(p.x - NODE_WIDTH / 2), y: Math.round(p.y - 24) })
    },
    [readOnly, rf, onAdd, specs],
  )

  const isValidConnection: IsValidConnection = useCallback(
    (c: Edge | Connection) => editor.canConnect({ source: c.source, target: c.target, sourceHandle: c.sourceHandle }),
    [editor],
  )

  return (
    <div className="canvas" onDragOver={onDragOver} onDrop={onDrop} data-testid="canvas">
      <ReactFlow<StepNodeT, Edge>
        nodes={editor.nodes}
        edges={editor.edges}
        nodeTypes={nodeTypes}
        onNodesChange={editor.onNodesChange}
        onEdgesChange={editor.onEdgesChange}
        onConnect={(c) => {
          const problem = editor.onConnect(c)
          if (problem) onConnectProblem(problem)
        }}
        isValidConnection={isValidConnection}
        onNodeDragStart={editor.onDragStart}
        onNodeDragStop={editor.onDragStop}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        edgesFocusable={!readOnly}
        deleteKeyCode={readOnly ? null : ['Backspace', 'Delete']}
        defaultEdgeOptions={{ type: 'smoothstep' }}
        fitView={fitOnLoad}
        fitViewOptions={{ padding: 0.25, maxZoom: 1 }}
        minZoom={0.2}
        maxZoom={1.75}
        snapToGrid
        snapGrid={[8, 8]}
        aria-label="Scenario canvas"
      >
        <Background variant={BackgroundVariant.Dots} gap={20} size={1.2} color="#cfd3dc" />
        <Controls showInteractive={false} position="bottom-left" />
        <MiniMap
          pannable
          zoomable
          position="bottom-right"
          nodeColor={(n) => kindColor[specs.get((n.data as { type: string }).type)?.kind ?? 'action'] ?? '#9ca3af'}
          nodeStrokeWidth={2}
          maskColor="rgba(243,244,246,0.7)"
          ariaLabel="Minimap"
          style={{ width: 150, height: 100 }}
        />
        <Panel position="top-left" className="canvas-toolbar">
          <button type="button" className="icon-btn" onClick={editor.undo} disabled={readOnly || !editor.canUndo} aria-label="Undo" title="Undo (Ctrl+Z)">
            <Icon name="undo" />
          </button>
          <button type="button" className="icon-btn" onClick={editor.redo} disabled={readOnly || !editor.canRedo} aria-label="Redo" title="Redo (Ctrl+Shift+Z)">
            <Icon name="redo" />
          </button>
          <span className="toolbar-sep" />
          <button
            type="button"
            className="btn btn-small btn-ghost"
            onClick={() => {
              editor.autoLayout()
              requestAnimationFrame(() => rf.fitView({ padding: 0.25, maxZoom: 1, duration: 250 }))
            }}
            disabled={readOnly || editor.nodes.length === 0}
            title="Arrange the steps top to bottom"
          >
            <Icon name="layout" /> Auto-layout
          </button>
        </Panel>
      </ReactFlow>
      {editor.nodes.length === 0 && (
        <div className="canvas-empty">
          <strong>Start with a trigger</strong>
          <p>Drag a trigger from the palette onto the canvas, or focus it and press Enter.</p>
        </div>
      )}
    </div>
  )
}
