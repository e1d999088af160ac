import { useEffect, useMemo, useRef, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { downloadDataUrl, slug } from '../lib/export.ts';
import type { Column } from '../lib/series.ts';

export interface Series {
  label: string;
  color: string;
  width?: number;
  dash?: number[];
  /** Band edges (min/max) are drawn only as the band's fill, and stay out of the legend. */
  bandEdge?: boolean;
  /** Leave out of the legend (e.g. one of 50 node lines). */
  noLegend?: boolean;
  points?: boolean;
}

export interface Band {
  /** Indices into `series` (0-based) of the upper and lower edge. */
  hi: number;
  lo: number;
  fill: string;
}

interface Props {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  bands?: Band[];
  /** [x, y1, y2, ...], uPlot's aligned columns; null marks a gap (spanned). */
  data: Column[];
  height?: number;
  testId?: string;
  yRange?: [number, number];
  /** Shown over the plot while no series has a point. */
  emptyText?: string;
  /** Controls shown in the chart's header (toggles). */
  toolbar?: ReactNode;
  /** Formats x tick values (e.g. ms → s). */
  xValues?: (v: number) => string;
}

const MAX_LEGEND = 10;

/**
 * A uPlot chart that keeps one instance and only swaps its data (coalesced to one update
 * per animation frame), so 50 nodes × 500 rounds stay smooth. Fixed height and a fixed-height
 * legend: nothing around it moves while training.
 */
export function LineChart({ title, xLabel, yLabel, series, bands = [], data, height = 240, testId, yRange, emptyText, toolbar, xValues }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(data);
  const frame = useRef(0);
  latest.current = data;
  const shape = JSON.stringify([series, bands, xLabel, yLabel, yRange, height]);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: false }, ...(yRange ? { y: { range: yRange } } : {}) },
      axes: [
        { label: xLabel, ...(xValues ? { values: (_u: uPlot, ticks: number[]) => ticks.map(xValues) } : {}) },
        { label: yLabel, size: 56 },
      ],
      series: [
        { label: xLabel },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.bandEdge ? 'transparent' : s.color,
          width: s.bandEdge ? 0 : (s.width ?? 1.5),
          dash: s.dash,
          spanGaps: true,
          points: { show: s.points ?? false, size: 5 },
        })),
      ],
      bands: bands.map((b) => ({ series: [b.hi + 1, b.lo + 1] as [number, number], fill: b.fill })),
      legend: { show: false },
      cursor: { drag: { x: true, y: false } },
    };
    const p = new uPlot(opts, latest.current as uPlot.AlignedData, el);
    plot.current = p;
    const resize = new ResizeObserver(() => p.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      cancelAnimationFrame(frame.current);
      p.destroy();
      plot.current = null;
    };
    // Rebuild only when the set of series changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);

  useEffect(() => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => plot.current?.setData(latest.current as uPlot.AlignedData));
  }, [data]);

  const filled = useMemo(() => series.filter((s, i) => !s.bandEdge && data[i + 1]?.some((v) => v !== null && v !== undefined)).length, [series, data]);
  const legend = series.filter((s) => !s.bandEdge && !s.noLegend);
  const unlisted = series.filter((s) => !s.bandEdge && s.noLegend).length;

  const savePng = () => {
    const p = plot.current;
    if (!p) return;
    downloadDataUrl(`${slug(title)}.png`, chartPng(p, title, legend));
  };

  return (
    <figure className="chart-card" data-testid={testId} data-points={data[0]?.length ?? 0} data-series={filled}>
      <figcaption className="chart-head">
        <span className="chart-title">{title}</span>
        <span className="chart-tools">
          {toolbar}
          <button type="button" className="small" onClick={savePng} aria-label={`Save chart "${title}" as PNG`} data-testid={testId ? `${testId}-png` : undefined}>
            PNG
          </button>
        </span>
      </figcaption>
      <div className="chart-body" style={{ height: height + 48 }}>
        <div className="chart" ref={host} />
        {filled === 0 && emptyText && <div className="chart-empty">{emptyText}</div>}
      </div>
      <ul className="legend" aria-label="legend">
        {legend.slice(0, MAX_LEGEND).map((s) => (
          <li key={s.label}>
            <span className="swatch" style={{ background: s.color, opacity: s.dash ? 0.7 : 1 }} aria-hidden />
            {s.label}
          </li>
        ))}
        {legend.length > MAX_LEGEND && <li className="muted">+{legend.length - MAX_LEGEND} more</li>}
        {unlisted > 0 && <li className="muted">{unlisted} node lines (thin)</li>}
        {bands.length > 0 && (
          <li className="muted">
            <span className="swatch band" aria-hidden />
            band: min–max over nodes
          </li>
        )}
      </ul>
    </figure>
  );
}

/** The plot canvas with a title and legend painted on white, as a PNG data URL. */
function chartPng(p: uPlot, title: string, legend: Series[]): string {
  const src = p.ctx.canvas;
  const dpr = src.width / Math.max(1, p.width);
  const head = Math.round(34 * dpr);
  const foot = Math.round(26 * dpr);
  const out = document.createElement('canvas');
  out.width = src.width;
  out.height = src.height + head + foot;
  const g = out.getContext('2d')!;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, out.width, out.height);
  g.fillStyle = '#1b2a41';
  g.font = `600 ${Math.round(15 * dpr)}px system-ui, sans-serif`;
  g.fillText(title, 10 * dpr, 22 * dpr);
  g.drawImage(src, 0, head);
  g.font = `${Math.round(12 * dpr)}px system-ui, sans-serif`;
  let x = 10 * dpr;
  const y = head + src.height + 17 * dpr;
  for (const s of legend.slice(0, MAX_LEGEND)) {
    g.fillStyle = s.color;
    g.fillRect(x, y - 9 * dpr, 12 * dpr, 4 * dpr);
    g.fillStyle = '#1b2a41';
    g.fillText(s.label, x + 16 * dpr, y);
    x += (24 + g.measureText(s.label).width / dpr) * dpr;
  }
  return out.toDataURL('image/png');
}
