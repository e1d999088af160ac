import { protocolFor } from '../../protocols/index.ts';
import { useEffect, useMemo, useRef, useState } from 'react';
import { create } from 'zustand';
import { configToHash, configToShortHash, type Config } from '../../core/config.ts';
import type { ModelSpec } from '../../core/learn/models.ts';
import type { SimRow, SimSummary } from '../../sim/simulation.ts';
import { colorFor, withAlpha } from '../palette.ts';
import { useUi } from '../store.ts';
import { overlaidRuns, useHistory } from '../historyStore.ts';
import { SetupPanel } from '../components/SetupPanel.tsx';
import { StreamBuffer } from '../lib/streamBuffer.ts';
import { TopBar } from '../components/TopBar.tsx';
import { LineChart, type Band, type Series } from '../components/LineChart.tsx';
import { Toggle } from '../components/Toggle.tsx';
import { Topology, type TopoEdge, type TopoNode } from '../components/Topology.tsx';
import { DecisionBoundaries } from '../components/DecisionBoundaries.tsx';
import { HistoryPanel } from '../components/HistoryPanel.tsx';
import { Sectioned } from '../App.tsx';
import { align, type Pt } from '../lib/series.ts';
import { compareUrl, variantById, variantConfig } from '../lib/presets.ts';
import { download, exportBaseName, rowsToCsv } from '../lib/export.ts';
import { runLabel } from '../lib/history.ts';
import { formatHide } from '../lib/hide.ts';
import { fmtMB, fmtMBValue, fmtPct } from '../format.ts';
import type { FromWorker, NodeView, Shard, ToWorker } from './messages.ts';

interface RunState {
  key: string;
  label: string;
  color: string;
  config: Config;
  rows: SimRow[];
  summary: SimSummary | null;
  error: string | null;
  topo: { round: number; simTimeMs: number; nodes: NodeView[]; edges: TopoEdge[]; countLabel?: string; focusLegend?: string } | null;
  params: { round: number; params: (Float32Array | null)[] } | null;
}

interface CompareStore {
  phase: 'loading' | 'ready' | 'error';
  loadingText: string;
  error: string | null;
  playing: boolean;
  runs: RunState[];
  spec: ModelSpec | null;
  numClasses: number;
  shards: Shard[];
  histograms: number[][];
  focus: number;
}

const useCompare = create<CompareStore>(() => ({
  phase: 'loading',
  loadingText: 'starting the simulator…',
  error: null,
  playing: false,
  runs: [],
  spec: null,
  numClasses: 0,
  shards: [],
  histograms: [],
  focus: 0,
}));

declare global {
  interface Window {
    /** Compare view's scripting hook for tests: the rows each run has produced. */
    murmurationCompare?: { state: () => { phase: string; playing: boolean; runs: { key: string; rows: number; done: boolean; accuracy: number | null }[] } };
  }
}

/** How often streamed rows and topology frames reach React; models (one boundary panel per node) less often. */
const STREAM_FLUSH_MS = 100;
const PARAMS_FLUSH_MS = 500;

const SPEEDS = { fast: 0, '4 rounds/s': 250, '1 round/s': 1000 } as const;
type Speed = keyof typeof SPEEDS;

/** Compare view: up to four algorithms on the same data, partition and seed, simulated in a worker. */
export function CompareApp({ base, runIds, configError }: { base: Config; runIds: string[]; configError: string | null }) {
  const worker = useRef<Worker | null>(null);
  const store = useCompare();
  const hidden = useUi((s) => s.hidden);
  const save = useHistory((h) => h.save);
  const [speed, setSpeed] = useState<Speed>('fast');
  const variants = runIds.map(variantById).filter((v) => v !== undefined).slice(0, 4);
  const setupError = configError ?? (variants.length === 0 ? `No known algorithm in runs=${runIds.join(',')}.` : null);

  useEffect(() => {
    if (setupError) {
      useCompare.setState({ phase: 'error', error: setupError });
      return;
    }
    let runs: RunState[];
    try {
      runs = variants.map((v, i) => ({ key: v.id, label: v.label, color: colorFor(i), config: variantConfig(base, v), rows: [], summary: null, error: null, topo: null, params: null }));
    } catch (e) {
      useCompare.setState({ phase: 'error', error: (e as Error).message });
      return;
    }
    useCompare.setState({ phase: 'loading', runs, error: null, playing: false, focus: 0 });
    const w = new Worker(new URL('./compareWorker.ts', import.meta.url), { type: 'module' });
    worker.current = w;
    const patchRun = (i: number, patch: Partial<RunState>) => useCompare.setState((s) => ({ runs: s.runs.map((r, j) => (j === i ? { ...r, ...patch } : r)) }));
    // Rows, topology frames and models stream in faster than anyone can look (fifty nodes, every
    // round): they wait here and reach the store, and so React, at most every STREAM_FLUSH_MS;
    // models (a decision-boundary panel per node) at most every PARAMS_FLUSH_MS.
    const stream = new StreamBuffer<RunState>(STREAM_FLUSH_MS, PARAMS_FLUSH_MS, (patches) =>
      useCompare.setState((s) => ({ runs: s.runs.map((r, j) => (patches.has(j) ? { ...r, ...patches.get(j)!(r) } : r)) })),
    );
    w.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === 'rows') return stream.add(m.run, (r) => ({ rows: [...r.rows, ...m.rows] }));
      if (m.type === 'topo') return stream.add(m.run, () => ({ topo: { round: m.round, simTimeMs: m.simTimeMs, nodes: m.nodes, edges: m.edges, countLabel: m.countLabel, focusLegend: m.focusLegend } }));
      if (m.type === 'params') return stream.addSlow(m.run, () => ({ params: { round: m.round, params: m.params } }));
      // Anything else (a run's end, an error) first brings the store up to date.
      stream.flush();
      switch (m.type) {
        case 'loading':
          useCompare.setState({ loadingText: m.text });
          break;
        case 'ready':
          useCompare.setState({ phase: 'ready', spec: m.spec, numClasses: m.numClasses, shards: m.shards, histograms: m.histograms });
          break;
        case 'done': {
          patchRun(m.run, { summary: m.summary });
          const r = useCompare.getState().runs[m.run];
          if (r.rows.length)
            void save({
              savedAt: Date.now(),
              kind: 'sim',
              label: runLabel(r.config, { unit: 'node', variant: r.key }),
              algo: r.config.algo,
              hash: configToHash({ ...r.config, hide: '' }),
              rows: r.rows.map((x) => ({ round: x.round, accuracy: x.accuracy, loss: x.loss, bytesSent: x.bytesSent, t: x.simTimeMs, minAccuracy: x.minAccuracy, maxAccuracy: x.maxAccuracy })),
            });
          break;
        }
        case 'playing':
          useCompare.setState({ playing: m.playing });
          break;
        case 'error':
          if (m.run !== undefined) patchRun(m.run, { error: m.message });
          else useCompare.setState({ phase: 'error', error: m.message });
          break;
      }
    };
    w.onerror = (e) => useCompare.setState({ phase: 'error', error: e.message || 'the simulation worker failed to load' });
    w.postMessage({ type: 'init', runs: runs.map((r) => ({ key: r.key, label: r.label, hash: configToHash(r.config) })), dataUrl: '/data/mnist/' } satisfies ToWorker);
    window.murmurationCompare = {
      state: () => {
        stream.flush();
        const s = useCompare.getState();
        return { phase: s.phase, playing: s.playing, runs: s.runs.map((r) => ({ key: r.key, rows: r.rows.length, done: r.summary !== null, accuracy: r.rows[r.rows.length - 1]?.accuracy ?? null })) };
      },
    };
    return () => {
      stream.cancel();
      w.terminate();
      worker.current = null;
    };
    // The view reloads on any change of the link, so the worker lives as long as the page.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const send = (m: ToWorker) => worker.current?.postMessage(m);
  const allDone = store.runs.length > 0 && store.runs.every((r) => r.summary !== null);
  const togglePlay = () => send({ type: store.playing ? 'pause' : 'play' });

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (store.phase !== 'ready' || allDone || /^(INPUT|SELECT|TEXTAREA|BUTTON|A|SUMMARY)$/.test(t.tagName) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === ' ' || e.key === 'k') {
        e.preventDefault();
        togglePlay();
      } else if (e.key === '.' || e.key === 's') send({ type: 'step' });
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  // The links and the setup panel depend on the page's link only, not on the streamed runs:
  // computed (config validation included) and rendered once, not on every row.
  const runKeys = variants.map((v) => v.id).join(',');
  const { topBar, setupPanel } = useMemo(() => {
    const ids = runKeys.split(',');
    const shareBase = { ...base, hide: formatHide(hidden) };
    const hash = configToShortHash(shareBase);
    const link = compareUrl(hash, ids, location.origin);
    const firstAlgo = (variantById(ids[0])?.overrides.algo as Config['algo'] | undefined) ?? base.algo;
    return {
      topBar: (
        <TopBar view="compare" liveHref={`/#${configToShortHash({ ...shareBase, algo: firstAlgo })}`} compareHref={compareUrl(hash, ids)}>
          <span className="badge">simulated · tfjs cpu in a worker</span>
        </TopBar>
      ),
      setupPanel: <SetupPanel mode="compare" config={base} runs={ids} shareLink={link} onApply={(c, runs) => (location.href = compareUrl(configToShortHash(c), runs))} />,
    };
  }, [base, hidden, runKeys]);
  const focus = store.runs[store.focus];

  return (
    <div className="app">
      {topBar}
      {setupError && (
        <div role="alert" className="error-banner" data-testid="config-error">
          The link's settings are invalid: <pre>{setupError}</pre>
        </div>
      )}
      <main className="layout">
        {setupPanel}
        <section className="main-column">
          <div className="card status" data-testid="compare-status">
            <div className="controls" role="toolbar" aria-label="simulation controls">
              <button type="button" className="primary play" onClick={togglePlay} disabled={store.phase !== 'ready' || allDone} data-testid="play" aria-keyshortcuts="Space">
                {store.playing ? '❚❚ Pause' : '▶ Play'}
              </button>
              <button type="button" onClick={() => send({ type: 'step' })} disabled={store.phase !== 'ready' || allDone || store.playing} data-testid="step" aria-keyshortcuts="S" title="Every run advances by one evaluated round">
                Step
              </button>
              <button type="button" onClick={() => location.reload()} title="Start again from round 0">
                ↺ Reset
              </button>
              <Toggle
                label="speed"
                value={speed}
                options={Object.keys(SPEEDS) as Speed[]}
                onChange={(v) => {
                  setSpeed(v);
                  send({ type: 'speed', delayMs: SPEEDS[v] });
                }}
              />
              <span className="muted small-text keys">Space: play/pause · S: step</span>
            </div>
            <div className="status-line" aria-live="polite">
              {store.phase === 'loading' ? (
                <span className="muted">Preparing: {store.loadingText}</span>
              ) : store.phase === 'error' ? (
                <span className="error-text" role="alert" data-testid="compare-error">
                  {store.error}
                </span>
              ) : allDone ? (
                <span data-testid="compare-done">All runs finished and saved to History.</span>
              ) : (
                <span>
                  Same data, partition and seed ({base.dataset}, {base.partition}, {base.nodes} nodes, seed {base.seed}). {store.playing ? 'Running…' : 'Press Play, or Step one round at a time.'}
                </span>
              )}
            </div>
            <RunTable runs={store.runs} target={base.target > 0 ? base.target : 0.8} />
          </div>
          <CompareCharts runs={store.runs} />
          {store.runs.length > 1 && (
            <div className="card focus-bar">
              <Toggle label="show run" value={focus?.key ?? ''} options={store.runs.map((r) => r.key)} onChange={(k) => {
                const i = store.runs.findIndex((r) => r.key === k);
                useCompare.setState({ focus: i });
                send({ type: 'focus', run: i });
              }} />
              <span className="muted small-text">Topology and decision boundaries below show this run.</span>
            </div>
          )}
          <div className="views-grid">
            <Sectioned name="topology">
              <div className="card">{focus && <SimTopology run={focus} histograms={store.histograms} />}</div>
            </Sectioned>
            {store.spec && store.shards.length > 0 && base.model === 'mlp' && (
              <Sectioned name="boundaries">
                <div className="card">
                  {focus && <DecisionBoundaries spec={store.spec} params={focus.params?.params ?? []} shards={store.shards} ids={store.shards.map((_, i) => `n${i}`)} round={focus.params?.round ?? 0} />}
                </div>
              </Sectioned>
            )}
          </div>
          <Sectioned name="history">
            <HistoryPanel />
          </Sectioned>
        </section>
      </main>
    </div>
  );
}

function RunTable({ runs, target }: { runs: RunState[]; target: number }) {
  return (
    <div className="table-scroll">
      <table className="peers" data-testid="run-table">
        <thead>
          <tr>
            <th>run</th>
            <th>round</th>
            <th>accuracy</th>
            <th>sent</th>
            <th>sim time</th>
            <th>to {Math.round(target * 100)}%</th>
            <th title="final=merge: the accuracy of all final models averaged once (while running: were the run to end now). dp=rqm: the privacy ε of the node that sent the most updates.">merged / ε</th>
            <th>export</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const last = r.rows[r.rows.length - 1];
            const hit = r.rows.find((x) => x.accuracy >= target);
            return (
              <tr key={r.key} data-testid={`run-row-${r.key}`}>
                <td>
                  <span className="swatch" style={{ background: r.color }} aria-hidden /> {r.label}
                  {r.summary ? ' ✓' : ''}
                </td>
                <td>
                  {last?.round ?? 0} / {r.config.rounds}
                </td>
                <td>{fmtPct(last?.accuracy)}</td>
                <td>{fmtMB(last?.bytesSent ?? 0)}</td>
                <td>{last ? `${(last.simTimeMs / 1000).toFixed(1)} s` : '—'}</td>
                <td>{hit ? `round ${hit.round}, ${fmtMB(hit.bytesSent)}` : '—'}</td>
                <td data-testid={`run-extra-${r.key}`}>{runExtra(r)}</td>
                <td>
                  {r.error ? (
                    <span className="error-text">{r.error}</span>
                  ) : (
                    <button
                      type="button"
                      className="small"
                      disabled={!r.rows.length}
                      onClick={() =>
                        download(
                          `${exportBaseName(r.config, { unit: 'nodes', variant: r.key })}.csv`,
                          rowsToCsv(
                            r.rows.map((x) => ({ round: x.round, accuracy: x.accuracy, loss: x.loss, bytesSent: x.bytesSent, t: x.simTimeMs, minAccuracy: x.minAccuracy, maxAccuracy: x.maxAccuracy })),
                            { label: `simulated: ${runLabel(r.config, { unit: 'node', variant: r.key })}`, hash: configToHash({ ...r.config, hide: '' }) },
                          ),
                          'text/csv',
                        )
                      }
                      data-testid={`run-csv-${r.key}`}
                    >
                      CSV
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The merged model's accuracy (final=merge) and the privacy ε (dp=rqm), where a run has them. */
function runExtra(r: RunState): string {
  const parts: string[] = [];
  const merged = r.summary?.mergedAccuracy ?? r.rows[r.rows.length - 1]?.mergedAccuracy;
  if (merged !== undefined) parts.push(`merged ${fmtPct(merged)}`);
  const eps = r.summary?.epsilon;
  if (eps !== undefined) parts.push(`ε ${Number.isFinite(eps) ? eps.toPrecision(3) : '∞'}`);
  return parts.join(' · ') || '—';
}

function CompareCharts({ runs }: { runs: RunState[] }) {
  const [x, setX] = useState<'round' | 'sim time'>('round');
  const history = useHistory();
  const overlays = useMemo(() => overlaidRuns(history), [history]);
  const acc = useMemo(() => {
    const px = (r: { round: number; t: number }) => (x === 'round' ? r.round : r.t / 1000);
    const lists: Pt[][] = [];
    const series: Series[] = [];
    const bands: Band[] = [];
    runs.forEach((r) => {
      lists.push(r.rows.map((row) => ({ x: px({ round: row.round, t: row.simTimeMs }), y: row.accuracy })));
      series.push({ label: r.label, color: r.color, width: 2.25 });
    });
    // final=merge: the accuracy the one global average would have, were the run to end at that round.
    runs.forEach((r) => {
      if (!r.rows.some((row) => row.mergedAccuracy !== undefined)) return;
      lists.push(r.rows.map((row) => ({ x: px({ round: row.round, t: row.simTimeMs }), y: row.mergedAccuracy ?? NaN })));
      series.push({ label: `${r.label} · merged`, color: r.color, dash: [2, 3], width: 2 });
    });
    runs.forEach((r) => {
      if (!r.rows.some((row) => row.minAccuracy !== undefined)) return;
      lists.push(r.rows.map((row) => ({ x: px({ round: row.round, t: row.simTimeMs }), y: row.maxAccuracy ?? row.accuracy })));
      lists.push(r.rows.map((row) => ({ x: px({ round: row.round, t: row.simTimeMs }), y: row.minAccuracy ?? row.accuracy })));
      series.push({ label: `${r.label} max`, color: r.color, bandEdge: true }, { label: `${r.label} min`, color: r.color, bandEdge: true });
      bands.push({ hi: series.length - 2, lo: series.length - 1, fill: withAlpha(r.color, 0.12) });
    });
    overlays.forEach((o) => {
      lists.push(o.rows.map((row) => ({ x: px(row), y: row.accuracy })));
      series.push({ label: `past #${o.id}: ${o.label}`, color: '#7f7f7f', dash: [6, 4], width: 1.5 });
    });
    return { series, bands, data: align(lists) };
  }, [runs, overlays, x]);
  const bytes = useMemo(() => {
    const lists = runs.map((r) => r.rows.map((row) => ({ x: row.bytesSent / 1e6, y: row.accuracy })));
    const series: Series[] = runs.map((r) => ({ label: r.label, color: r.color, width: 2.25, points: true }));
    overlays.forEach((o) => {
      lists.push(o.rows.map((row) => ({ x: row.bytesSent / 1e6, y: row.accuracy })));
      series.push({ label: `past #${o.id}: ${o.label}`, color: '#7f7f7f', dash: [6, 4], width: 1.5 });
    });
    return { series, data: align(lists) };
  }, [runs, overlays]);
  return (
    <div className="charts">
      <div className="card">
        <LineChart
          title="Accuracy"
          xLabel={x === 'round' ? 'round' : 'simulated time (s)'}
          yLabel="accuracy"
          series={acc.series}
          bands={acc.bands}
          data={acc.data}
          yRange={[0, 1]}
          testId="chart-compare-accuracy"
          emptyText="Press Play: each run's accuracy appears here, on the same axes."
          xFormat={x === 'round' ? (v) => `round ${v}` : (v) => `${v.toFixed(1)} s simulated`}
          yFormat={fmtPct}
          toolbar={<Toggle label="x axis" value={x} options={['round', 'sim time']} onChange={setX} />}
        />
      </div>
      <div className="card">
        <LineChart
          title="Bytes to accuracy (all nodes' traffic)"
          xLabel="MB sent"
          yLabel="accuracy"
          series={bytes.series}
          data={bytes.data}
          yRange={[0, 1]}
          testId="chart-compare-bytes"
          emptyText="Accuracy against the megabytes every run has sent so far."
          xFormat={(v) => `${fmtMBValue(v)} sent`}
          yFormat={fmtPct}
        />
      </div>
    </div>
  );
}

function SimTopology({ run, histograms }: { run: RunState; histograms: number[][] }) {
  const t = run.topo;
  const nodes: TopoNode[] = (t?.nodes ?? []).map((n, i) => ({
    id: n.id,
    state: n.state,
    role: n.role || undefined,
    failed: !n.alive,
    sample: n.sample,
    aggregator: n.aggregator,
    attacker: n.attacker,
    backend: 'cpu (simulated, in a worker)',
    throughput: `${n.throughput.toFixed(0)} samples per simulated s`,
    histogram: histograms[i],
    count: n.count,
  }));
  const caption = protocolFor(run.config.algo).ui.topologyCaption;
  return (
    <Topology
      nodes={nodes}
      edges={t?.edges ?? []}
      round={t?.round ?? 0}
      title={`${run.label}: round ${t?.round ?? 0}`}
      caption={caption}
      testId="topology"
      countLabel={t?.countLabel}
      {...(t?.focusLegend ? { marks: { aggregator: t.focusLegend } } : {})}
    />
  );
}
