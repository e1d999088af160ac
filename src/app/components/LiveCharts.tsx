import { useMemo, useState } from 'react';
import type { HistoryPoint, Snapshot } from '../../live/liveNode.ts';
import { nodeColor, withAlpha } from '../palette.ts';
import type { SavedRun } from '../lib/history.ts';
import { displayNameSelf } from '../lib/names.ts';
import { fmtMBValue, fmtPct } from '../format.ts';
import { align, perRound, spreadByX, spreadHold, sumHold, type Pt } from '../lib/series.ts';
import { LineChart, type Band, type Series } from './LineChart.tsx';
import { Toggle } from './Toggle.tsx';

export interface NodeLine {
  id: string;
  /** Friendly name ("Tab 2 (this tab)"); the id goes in the legend's title. */
  label: string;
  points: HistoryPoint[];
}

/** This tab first, then peers in roster order, then peers that left. */
export function nodeLines(s: Snapshot, peerHistory: Record<string, HistoryPoint[]>): NodeLine[] {
  const ids = [...s.roster];
  for (const id of Object.keys(peerHistory)) if (!ids.includes(id)) ids.push(id);
  return ids
    .map((id) => ({ id, label: displayNameSelf(s, id), points: id === s.nodeId ? s.history : (peerHistory[id] ?? []) }))
    .filter((l) => l.points.length > 0 || l.id === s.nodeId);
}

const MEAN = '#000000';
const BAND = withAlpha('#56B4E9', 0.25);
const OVERLAY = '#7f7f7f';
const manyNodes = (n: number) => n > 8;

/** Accuracy/loss against rounds/time, with swarm mean and min–max band, and overlaid past runs. */
export function AccuracyChart({ lines, overlays, testId = 'chart-accuracy' }: { lines: NodeLine[]; overlays: SavedRun[]; testId?: string }) {
  const [x, setX] = useState<'round' | 'time'>('round');
  const [y, setY] = useState<'accuracy' | 'loss'>('accuracy');
  const { series, bands, data } = useMemo(() => {
    // Time axis: snap to a grid of ~800 steps over the run, so 50 nodes × 500 rounds stay ~800 x values, not 25,000.
    let span = 0;
    for (const l of lines) for (const h of l.points) span = Math.max(span, h.t);
    const q = Math.max(100, span / 800);
    const px = (h: { round: number; t: number }) => (x === 'round' ? h.round : (Math.round(h.t / q) * q) / 1000);
    const lists: Pt[][] = lines.map((l) => l.points.map((h) => ({ x: px(h), y: h[y] })));
    const many = manyNodes(lines.length);
    const series: Series[] = lines.map((l, i) => ({ label: l.label, title: `peer id ${l.id}`, color: nodeColor(i), width: many ? 1 : 1.75, noLegend: many }));
    const bands: Band[] = [];
    const all = [...lists];
    if (lines.length > 1) {
      const sp = x === 'round' ? spreadByX(lists) : spreadHold(lists);
      all.push(sp.mean, sp.max, sp.min);
      series.push({ label: 'swarm mean', color: MEAN, width: 2.5 }, { label: 'max', color: MEAN, bandEdge: true }, { label: 'min', color: MEAN, bandEdge: true });
      bands.push({ hi: series.length - 2, lo: series.length - 1, fill: BAND });
    }
    overlays.forEach((r) => {
      all.push(r.rows.map((row) => ({ x: px(row), y: row[y] })));
      series.push({ label: `past #${r.id}: ${r.label}`, color: OVERLAY, dash: [6, 4], width: 1.5 });
    });
    return { series, bands, data: align(all) };
  }, [lines, overlays, x, y]);
  return (
    <LineChart
      title={y === 'accuracy' ? 'Accuracy' : 'Loss'}
      xLabel={x === 'round' ? 'round' : 'time (s)'}
      yLabel={y}
      series={series}
      bands={bands}
      data={data}
      testId={testId}
      yRange={y === 'accuracy' ? [0, 1] : undefined}
      emptyText="No evaluated round yet: points appear as soon as a model is evaluated."
      xFormat={x === 'round' ? (v) => `round ${v}` : (v) => `${v.toFixed(1)} s`}
      yFormat={y === 'accuracy' ? fmtPct : (v) => v.toFixed(3)}
      toolbar={
        <>
          <Toggle label="x axis" value={x} options={['round', 'time']} onChange={setX} />
          <Toggle label="metric" value={y} options={['accuracy', 'loss']} onChange={setY} />
        </>
      }
    />
  );
}

/** Bytes sent per node and in total, per round or cumulative. */
export function BytesChart({ lines, testId = 'chart-bytes' }: { lines: NodeLine[]; testId?: string }) {
  const [mode, setMode] = useState<'per round' | 'cumulative'>('cumulative');
  const { series, data } = useMemo(() => {
    const cum: Pt[][] = lines.map((l) => l.points.map((h) => ({ x: h.round, y: h.bytesSent / 1e6 })));
    const lists = mode === 'cumulative' ? cum : lines.map((l) => perRound(l.points.map((h) => ({ round: h.round, bytes: h.bytesSent / 1e6 }))));
    const many = manyNodes(lines.length);
    const series: Series[] = lines.map((l, i) => ({ label: l.label, title: `peer id ${l.id}`, color: nodeColor(i), width: many ? 1 : 1.75, noLegend: many }));
    const all = [...lists];
    if (lines.length > 1) {
      const total = sumHold(cum);
      all.push(mode === 'cumulative' ? total : perRound(total.map((p) => ({ round: p.x, bytes: p.y }))));
      series.push({ label: 'swarm total', color: MEAN, width: 2.5 });
    }
    return { series, data: align(all) };
  }, [lines, mode]);
  return (
    <LineChart
      title={mode === 'cumulative' ? 'MB sent, cumulative' : 'MB sent per round'}
      xLabel="round"
      yLabel="MB"
      series={series}
      data={data}
      testId={testId}
      emptyText="Bytes appear with the first evaluated round."
      xFormat={(v) => `round ${v}`}
      yFormat={fmtMBValue}
      toolbar={<Toggle label="bytes" value={mode} options={['per round', 'cumulative']} onChange={setMode} />}
    />
  );
}

/**
 * How far apart the swarm's models are: the mean squared distance of the members' models from
 * their average, estimated by this tab from every member's 48-number sketch at each of its
 * evaluated rounds. Falling towards 0 means the models agree.
 */
export function ConsensusChart({ points, testId = 'chart-consensus' }: { points: HistoryPoint[]; testId?: string }) {
  const data = useMemo(() => align([points.filter((h) => h.consensus !== undefined).map((h) => ({ x: h.round, y: h.consensus! }))]), [points]);
  return (
    <LineChart
      title="Consensus distance (how far apart the models are)"
      xLabel="round"
      yLabel="mean ‖x − x̄‖²"
      series={[{ label: 'swarm (estimated from sketches)', color: MEAN, width: 2 }]}
      data={data}
      testId={testId}
      emptyText="Appears with the first evaluated round."
      xFormat={(v) => `round ${v}`}
      yFormat={(v) => v.toExponential(2)}
    />
  );
}
