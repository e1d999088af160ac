import { useMemo, useState } from 'react';
import { MNIST_FEATURES } from '../../core/data/mnist.ts';
import { OWN_DATA_CAP, type OwnDataMode } from '../../core/data/ownData.ts';
import type { Split } from '../../core/data/types.ts';
import type { LiveNode, Snapshot } from '../../live/liveNode.ts';
import { classColor } from '../palette.ts';
import { DigitPad, DigitThumb } from './DigitPad.tsx';
import { PointsEditor } from './PointsEditor.tsx';
import { Toggle } from './Toggle.tsx';

/** One own sample: its features (2 coordinates or 784 pixels) and its class. */
interface Row {
  x: Float32Array;
  label: number;
}

const MODE_LABELS: Record<OwnDataMode, string> = { add: 'mine + the generated shard', only: 'mine only' };
const MODE_OF = Object.fromEntries(Object.entries(MODE_LABELS).map(([m, l]) => [l, m])) as Record<string, OwnDataMode>;

function rowsOf(split: Split, features: number): Row[] {
  return Array.from({ length: split.n }, (_, i) => ({ x: split.x.slice(i * features, (i + 1) * features), label: split.y[i] }));
}

function splitOf(rows: Row[], features: number): Split {
  const x = new Float32Array(rows.length * features);
  rows.forEach((r, i) => x.set(r.x, i * features));
  return { x, y: Uint8Array.from(rows, (r) => r.label), n: rows.length };
}

/**
 * "Your own data": a student places points on the plane (2-D datasets) or draws digits (MNIST).
 * They go to this tab's LiveNode only, which trains on them from the next start on, alone or
 * with the generated shard. Nothing here sends anything anywhere.
 */
export function OwnData({ node, snapshot: s, numClasses }: { node: LiveNode; snapshot: Snapshot; numClasses: number }) {
  const mnist = s.config.dataset === 'mnist';
  const features = mnist ? MNIST_FEATURES : 2;
  const kept = useMemo(() => node.ownData(), [node]);
  const [rows, setRows] = useState<Row[]>(() => (kept && kept.data.x.length === kept.data.n * features ? rowsOf(kept.data, features) : []));
  const [mode, setMode] = useState<OwnDataMode>(kept?.mode ?? 'add');
  const [error, setError] = useState<string | null>(null);
  // The generated shard arrives once the tab has loaded it (its size then shows in the snapshot).
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const generated = useMemo(() => (mnist ? null : node.generatedPoints()), [node, mnist, s.shardSize]);

  const commit = (next: Row[], nextMode: OwnDataMode) => {
    setRows(next);
    setMode(nextMode);
    try {
      node.setOwnData(splitOf(next, features), nextMode);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const add = (x: Float32Array, label: number) => {
    if (rows.length < OWN_DATA_CAP) commit([...rows, { x, label }], mode);
  };
  const full = rows.length >= OWN_DATA_CAP;
  const noun = mnist ? 'digit' : 'point';
  const count = `${rows.length} ${noun}${rows.length === 1 ? '' : 's'}`;
  const own = s.ownData;
  const status = !s.started
    ? rows.length
      ? `${count}; this tab trains on ${rows.length === 1 ? 'it' : 'them'}${mode === 'only' ? ' alone' : ' and its generated shard'} when the run starts.`
      : `Nothing yet: this tab will train on its generated shard.`
    : own.pending
      ? `Changed since the run started, which keeps the data it started with: your ${count} ${rows.length === 1 ? 'is' : 'are'} used from the next start.`
      : own.inRun
        ? `This run uses your ${own.inRun} ${noun}${own.inRun === 1 ? '' : 's'}${mode === 'only' ? ' alone' : ' and the generated shard'}. Changes are used from the next start.`
        : `This run uses the generated shard; ${noun}s you add now are used from the next start.`;

  return (
    <div className="card own-data" data-testid="own-data">
      <div className="chart-head">
        <h2>Your own data</h2>
        <span className="row-buttons">
          <span className="small-text muted">train on</span>
          <Toggle label="Train on" value={MODE_LABELS[mode]} options={Object.values(MODE_LABELS)} onChange={(l) => commit(rows, MODE_OF[l])} />
        </span>
      </div>
      <p className="privacy-note" data-testid="own-privacy">
        <strong>Your {noun}s never leave this tab.</strong> They are not sent to the other tabs or to the server: only the model trained on them travels. (A model can still give away a little about its data, more so when there are only a few {noun}s.)
      </p>
      <p className="small-text" data-testid="own-status" data-count={rows.length} data-mode={mode}>
        {status}
      </p>
      {mnist ? <DigitPad full={full} onAdd={add} /> : <PointsEditor numClasses={numClasses} own={splitOf(rows, 2)} generated={mode === 'add' ? generated : null} full={full} onAdd={(x, y, c) => add(Float32Array.of(x, y), c)} />}
      <div className="controls own-list">
        {mnist ? (
          <span className="digit-list" data-testid="own-digits">
            {rows.map((r, i) => (
              <button key={i} type="button" className="digit-item" title={`a ${r.label}: click to remove`} onClick={() => commit(rows.filter((_, j) => j !== i), mode)}>
                <DigitThumb pixels={r.x} size={36} />
                <span>{r.label}</span>
              </button>
            ))}
          </span>
        ) : (
          <span className="small-text" data-testid="own-counts">
            {Array.from({ length: numClasses }, (_, c) => (
              <span key={c} className="class-count">
                <span className="class-dot" style={{ background: classColor(c) }} /> {rows.filter((r) => r.label === c).length}
              </span>
            ))}
          </span>
        )}
        <button type="button" className="small" disabled={!rows.length} onClick={() => commit(rows.slice(0, -1), mode)} data-testid="own-undo">
          Undo
        </button>
        <button type="button" className="small" disabled={!rows.length} onClick={() => commit([], mode)} data-testid="own-clear">
          Remove all
        </button>
        {full && <span className="small-text error-text">At most {OWN_DATA_CAP} per tab.</span>}
      </div>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
