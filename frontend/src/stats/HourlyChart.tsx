// An hourly bar/line graph drawn with uPlot, for any set of counters
// (the inbound webhook activity: accepted and refused calls).
import { useEffect, useRef } from 'react'
import uPlot from 'uplot'

export interface HourlyLine {
  label: string
  color: string
  values: number[]
  /** Draw as bars (the first such line) rather than a line. */
  bars?: boolean
}

export function HourlyChart({ x, lines, label = 'Hourly activity', height = 180 }: { x: number[]; lines: HourlyLine[]; label?: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)

  useEffect(() => {
    const el = box.current
    if (!el) return
    const width = Math.max(240, el.clientWidth || 480)
    const bars = uPlot.paths.bars?.({ size: [0.6, 20] })
    const series: uPlot.Series[] = [{}]
    for (const l of lines) {
      series.push(
        l.bars
          ? { label: l.label, stroke: l.color, fill: l.color + '40', paths: bars, points: { show: false } }
          : { label: l.label, stroke: l.color, width: 2, points: { show: false } },
      )
    }
    const data = [x, ...lines.map((l) => l.values)] as uPlot.AlignedData
    const opts: uPlot.Options = {
      width,
      height,
      series,
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
      if (plot.current && Math.abs(plot.current.width - w) > 2) plot.current.setSize({ width: w, height })
    })
    ro.observe(el)
    return () => {
      ro.disconnect()
      plot.current?.destroy()
      plot.current = null
    }
  }, [x, lines, height])

  return <div className="chart" ref={box} role="img" aria-label={label} />
}
