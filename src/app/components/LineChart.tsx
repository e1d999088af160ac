import { useEffect, useMemo, useRef, type ReactNode, useLayoutEffect } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { downloadDataUrl, slug } from '../lib/export.ts';
import { cancelDraw, drawSoon } from '../lib/frameQueue.ts';
import type { Column } from '../lib/series.ts';

export interface Series {
  label: string;
  /** Shown on hover of its legend entry (e.g. a tab's peer id). */
  title?: string;
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
  /** Formats the hovered x in the value tooltip ("round 3", "12.5 s"). */
  xFormat?: (v: number) => string;
  /** Formats a y value in the value tooltip ("81.2%", "1.25 MB"). */
  yFormat?: (v: number) => string;
}

/** Rows listed in the value tooltip before "+N more". */
const MAX_TIP_ROWS = 12;

const MAX_LEGEND = 10;

/**
 * A uPlot chart that keeps one instance and only swaps its data (coalesced to one update
 * per animation frame), so 50 nodes × 500 rounds stay smooth. Fixed height and a fixed-height
 * legend: nothing around it moves while training.
 */
export function LineChart({ title, xLabel, yLabel, series, bands = [], data, height = 240, testId, yRange, emptyText, toolbar, xValues, xFormat, yFormat }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(data);
  const formats = useRef({ x: xFormat, y: yFormat });
  // The latest data and formats for uPlot's callbacks, recorded after each render (before the effects below run).
  useLayoutEffect(() => {
    latest.current = data;
    formats.current = { x: xFormat, y: yFormat };
  });
  const shape = JSON.stringify([series, bands, xLabel, yLabel, yRange, height]);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const tip = document.createElement('div');
    tip.className = 'chart-tip';
    tip.setAttribute('role', 'tooltip');
    if (testId) tip.dataset.testid = `${testId}-tooltip`;
    tip.hidden = true;
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
      hooks: { setCursor: [(u: uPlot) => showTip(u, tip, series, bands, formats.current)] },
    };
    const p = new uPlot(opts, latest.current as uPlot.AlignedData, el);
    p.over.appendChild(tip);
    p.over.addEventListener('mouseleave', () => (tip.hidden = true));
    plot.current = p;
    const resize = new ResizeObserver(() => p.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      cancelDraw(p);
      p.destroy();
      plot.current = null;
    };
    // Rebuild only when the set of series changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);

  // Through the shared frame queue, so the charts and the boundary panels together keep each
  // frame's drawing short; `batch` makes uPlot redraw inside the job, not in a later microtask.
  useEffect(() => {
    const p = plot.current;
    if (p) drawSoon(p, () => p.batch(() => p.setData(latest.current as uPlot.AlignedData)));
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
          <li key={s.label} title={s.title}>
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

const plain = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4));

/**
 * The value tooltip: for the hovered x, each series' value there (series without a point at
 * that x are left out), bands as one min–max row, built from text nodes (names come from peers).
 */
function showTip(u: uPlot, tip: HTMLDivElement, series: Series[], bands: Band[], fmt: { x?: (v: number) => string; y?: (v: number) => string }): void {
  const idx = u.cursor.idx;
  const left = u.cursor.left ?? -1;
  if (idx === null || idx === undefined || left < 0) {
    tip.hidden = true;
    return;
  }
  const fx = fmt.x ?? plain;
  const fy = fmt.y ?? plain;
  const value = (i: number) => u.data[i + 1]?.[idx];
  const rows: { color?: string; label: string; text: string }[] = [];
  series.forEach((s, i) => {
    const v = value(i);
    if (s.bandEdge || v === null || v === undefined || Number.isNaN(v)) return;
    rows.push({ color: s.color, label: s.label, text: fy(v) });
  });
  for (const b of bands) {
    const hi = value(b.hi);
    const lo = value(b.lo);
    if (hi === null || hi === undefined || lo === null || lo === undefined) continue;
    const name = series[b.hi].label.replace(/\s*max$/, '');
    rows.push({ label: name && name !== 'max' ? `${name} min–max` : 'min–max', text: `${fy(lo)} – ${fy(hi)}` });
  }
  if (rows.length === 0) {
    tip.hidden = true;
    return;
  }
  const head = document.createElement('div');
  head.className = 'chart-tip-x';
  head.textContent = fx(u.data[0][idx] as number);
  const body: HTMLElement[] = [head];
  for (const r of rows.slice(0, MAX_TIP_ROWS)) {
    const row = document.createElement('div');
    row.className = 'chart-tip-row';
    const sw = document.createElement('span');
    sw.className = 'swatch';
    if (r.color) sw.style.background = r.color;
    const name = document.createElement('span');
    name.className = 'chart-tip-name';
    name.textContent = r.label;
    const val = document.createElement('span');
    val.className = 'chart-tip-value';
    val.textContent = r.text;
    row.append(sw, name, val);
    body.push(row);
  }
  if (rows.length > MAX_TIP_ROWS) {
    const more = document.createElement('div');
    more.className = 'chart-tip-more';
    more.textContent = `+${rows.length - MAX_TIP_ROWS} more`;
    body.push(more);
  }
  tip.replaceChildren(...body);
  tip.hidden = false;
  // Beside the cursor, on the side with room, and never past the plot's edges.
  const w = tip.offsetWidth;
  const h = tip.offsetHeight;
  const ow = u.over.clientWidth;
  const oh = u.over.clientHeight;
  const top = u.cursor.top ?? 0;
  let x = left + 14;
  if (x + w > ow) x = left - 14 - w;
  x = Math.max(0, Math.min(x, ow - w));
  const y = Math.max(0, Math.min(top + 14, oh - h));
  tip.style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px)`;
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
