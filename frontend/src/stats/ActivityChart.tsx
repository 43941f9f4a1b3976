// The hourly activity graph of one step, drawn with uPlot.
import { useEffect, useRef } from 'react'
import uPlot from 'uplot'
import type { Series } from '../lib/series'

export function ActivityChart({ series, webhook }: { series: Series; webhook: boolean }) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)

  useEffect(() => {
    const el = box.current
    if (!el) return
    const width = Math.max(240, el.clientWidth || 480)
    const bars = uPlot.paths.bars?.({ size: [0.7, 24] })
    const seriesOpts: uPlot.Series[] = [
      {},
      { label: 'Reached', stroke: '#4f46e5', fill: 'rgba(79,70,229,0.25)', paths: bars, points: { show: false } },
    ]
    const data: uPlot.AlignedData = [series.x, series.reached]
    if (webhook) {
      // Failed first, so that the accepted line is drawn over it at zero.
      seriesOpts.push(
        { label: 'Failed', stroke: '#dc2626', width: 1.5, points: { show: false } },
        { label: 'Accepted', stroke: '#059669', width: 2, points: { show: false } },
      )
      data.push(series.failed, series.accepted)
    }
    const opts: uPlot.Options = {
      width,
      height: 180,
      series: seriesOpts,
      // Half an hour of room on both sides, so that the edge hours' bars show whole.
      scales: { x: { time: true, range: (_u, min, max) => [min - 1800, max + 1800] }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
      axes: [
        { stroke: '#6b7280', grid: { show: false }, ticks: { stroke: '#e5e7eb' }, font: '11px system-ui, sans-serif' },
        { stroke: '#6b7280', grid: { stroke: '#f0f1f4' }, ticks: { show: false }, font: '11px system-ui, sans-serif', size: 36, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000] },
      ],
      legend: { show: true, live: true },
      cursor: { points: { size: 6 } },
    }
    plot.current?.destroy()
    plot.current = new uPlot(opts, data, el)
    const ro = new ResizeObserver(() => {
      const w = Math.max(240, el.clientWidth)
      if (plot.current && Math.abs(plot.current.width - w) > 2) plot.current.setSize({ width: w, height: 180 })
    })
    ro.observe(el)
    return () => {
      ro.disconnect()
      plot.current?.destroy()
      plot.current = null
    }
  }, [series, webhook])

  return <div className="chart" ref={box} role="img" aria-label="Hourly activity" />
}
