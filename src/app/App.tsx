import { useEffect, useMemo, useRef, useState } from 'react';
import { configToHash, configToShortHash, type Config } from '../core/config.ts';
import type { LiveNode, Snapshot } from '../live/liveNode.ts';
import { useLive, useUi } from './store.ts';
import { overlaidRuns, useHistory } from './historyStore.ts';
import { AccuracyChart, BytesChart, ConsensusChart, nodeLines } from './components/LiveCharts.tsx';
import { protocolFor } from '../protocols/index.ts';
import { SetupPanel, HideBox } from './components/SetupPanel.tsx';
import { StatusPanel } from './components/StatusPanel.tsx';
import { Topology, type TopoEdge, type TopoNode } from './components/Topology.tsx';
import { HistoryPanel } from './components/HistoryPanel.tsx';
import { DecisionBoundaries } from './components/DecisionBoundaries.tsx';
import { OwnData } from './components/OwnData.tsx';
import { numClassesFor } from '../core/data/index.ts';
import { TopBar } from './components/TopBar.tsx';
import { RoomBanner, TeacherLink, roomSummary } from './components/RoomRole.tsx';
import { BackendBadge } from './components/BackendBadge.tsx';
import { AlgorithmNote } from './components/AlgorithmNote.tsx';
import { partitionPreview, type PartitionPreview } from './lib/partitionPreview.ts';
import { DEFAULT_RUNS, compareUrl, liveUrl } from './lib/presets.ts';
import { download, exportBaseName, rowsToCsv, runToJson } from './lib/export.ts';
import { liveRunKey, runLabel, type RunRow } from './lib/history.ts';
import { coordinatorLegend, displayName, isStarred } from './lib/names.ts';
import { formatHide, SECTIONS, type Section } from './lib/hide.ts';
import { fmtMB, fmtPct } from './format.ts';

export { fmtPct };

/** The live view: this tab is one node of the room. */
export function App({ node, configError }: { node: LiveNode; configError: string | null }) {
  const snap = useLive((s) => s.snapshot);
  const hidden = useUi((s) => s.hidden);
  if (!snap) return null;
  const shareConfig: Config = { ...snap.config, hide: formatHide(hidden) };
  const hash = configToShortHash(shareConfig);
  const locked = !snap.isOwner && snap.nodeId !== null && !configError;
  return (
    <div className="app">
      <TopBar view="live" liveHref={`/#${hash}`} compareHref={compareUrl(configToHash({ ...shareConfig, backend: 'auto' }), DEFAULT_RUNS)}>
        <span className="badge" data-testid="room">
          room {snap.room}
        </span>
        <BackendBadge backend={snap.backend} reason={snap.backendReason} />
      </TopBar>
      <RoomBanner snapshot={snap} />
      {configError && (
        <div role="alert" className="error-banner" data-testid="config-error">
          The link's settings are invalid, so this tab did not join a room. Fix them in the setup panel (or pick a preset):
          <pre>{configError}</pre>
        </div>
      )}
      <main className="layout">
        <SetupPanel
          // A member's form shows the room's settings, read-only; remount when the room's config arrives.
          key={locked ? `locked:${configToHash(snap.config)}` : 'own'}
          lockedBy={locked ? { owner: snap.owner ? `its owner (${displayName(snap, snap.owner)})` : 'its owner', summary: roomSummary(snap) } : undefined}
          mode="live"
          config={snap.config}
          shareLink={`${location.origin}/#${hash}`}
          onApply={(c) => {
            location.hash = configToShortHash(c);
          }}
          extra={
            <>
              <OpenTabs config={snap.config} link={`${location.origin}/#${hash}`} />
              <TeacherLink snapshot={snap} studentLink={`${location.origin}/#${hash}`} />
            </>
          }
        />
        <section className="main-column">
          <StatusPanel snapshot={snap} onStart={() => node.requestStart()} onReset={() => node.requestReset()} onAttacker={(on) => node.setAttacker(on)} actions={<ExportCurrent snapshot={snap} />} />
          <AlgorithmNote algo={snap.algo} />
          <LiveCharts />
          <div className="views-grid">
            <Sectioned name="topology">
              <LiveTopology snapshot={snap} />
            </Sectioned>
            <Sectioned name="peers">
              <PeersTable snapshot={snap} />
            </Sectioned>
          </div>
          {/* Below the charts: a newcomer's first screen shows the run; the own-data editor is the next step. */}
          {snap.nodeId && !configError && (
            <Sectioned name="owndata">
              {/* A new dataset or class count is a new plane: start the editor afresh. */}
              <OwnData key={`${snap.config.dataset}:${numClassesFor(snap.config)}`} node={node} snapshot={snap} numClasses={numClassesFor(snap.config)} />
            </Sectioned>
          )}
          {snap.config.model === 'mlp' && snap.config.dataset !== 'mnist' && (
            <Sectioned name="boundaries">
              <LiveBoundary node={node} round={snap.round} />
            </Sectioned>
          )}
          <Sectioned name="history">
            <HistoryPanel />
          </Sectioned>
          <Sectioned name="log">
            <details className="card">
              <summary>Log ({snap.log.length})</summary>
              <pre className="log" data-testid="log">
                {snap.log.join('\n')}
              </pre>
            </details>
          </Sectioned>
        </section>
      </main>
      <SaveWhenDone snapshot={snap} />
    </div>
  );
}

/** A main-column panel that teacher mode can hide. */
export function Sectioned({ name, children }: { name: Section; children: React.ReactNode }) {
  const { hidden, teacher, toggleHidden } = useUi();
  if (!teacher && hidden.has(name)) return null;
  return (
    <div className={`sectioned${hidden.has(name) ? ' is-hidden' : ''}`}>
      {teacher && <HideBox name={name} label={SECTIONS[name]} hidden={hidden} onToggle={toggleHidden} section />}
      {children}
    </div>
  );
}

function LiveCharts() {
  const snapshot = useLive((s) => s.snapshot)!;
  const peerHistory = useLive((s) => s.peerHistory);
  const version = useThrottled(useLive((s) => s.version), 250);
  const rosterKey = snapshot.roster.join(',');
  const history = useHistory();
  const overlays = useMemo(() => overlaidRuns(history), [history]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const lines = useMemo(() => nodeLines(snapshot, peerHistory), [version, rosterKey, snapshot.nodeId]);
  return (
    <div className="charts">
      <div className="card">
        <AccuracyChart lines={lines} overlays={overlays} />
      </div>
      <div className="card">
        <BytesChart lines={lines} />
      </div>
      {protocolFor(snapshot.algo).evaluates === 'nodes' && (
        <div className="card">
          <ConsensusChart points={snapshot.history} />
        </div>
      )}
    </div>
  );
}

/** The value, updated at most every `ms` (trailing edge): bounds chart rebuilds when 50 peers report at once. */
function useThrottled<T>(value: T, ms: number): T {
  const [shown, setShown] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    const wait = last.current + ms - Date.now();
    if (wait <= 0) {
      last.current = Date.now();
      setShown(value);
      return;
    }
    const timer = setTimeout(() => {
      last.current = Date.now();
      setShown(value);
    }, wait);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return shown;
}

/** This tab's rows, in files named after the experiment and the tab. */
function ExportCurrent({ snapshot: s }: { snapshot: Snapshot }) {
  const me = s.nodeId ? displayName(s, s.nodeId) : 'this tab';
  const name = exportBaseName(s.config, { suffix: me });
  const label = `${runLabel(s.config)} · ${me}'s rows`;
  const hash = configToHash({ ...s.config, hide: '' });
  const rows = s.history;
  return (
    <span className="row-buttons">
      <button type="button" className="small" disabled={!rows.length} onClick={() => download(`${name}.csv`, rowsToCsv(rows, { label, hash }), 'text/csv')} data-testid="export-csv">
        Export CSV
      </button>
      <button
        type="button"
        className="small"
        disabled={!rows.length}
        onClick={() => download(`${name}.json`, runToJson({ savedAt: Date.now(), kind: 'live', label, algo: s.algo, hash, rows }), 'application/json')}
        data-testid="export-json"
      >
        JSON
      </button>
    </span>
  );
}

/**
 * Saves each of this tab's finished runs to IndexedDB once. Every tab of the room in this browser
 * saves under the same run key (room and run id), so they merge into one History row.
 */
function SaveWhenDone({ snapshot: s }: { snapshot: Snapshot }) {
  // The run saved last: once per run, and again after the owner resets the room and runs it anew.
  const saved = useRef<string | null>(null);
  const save = useHistory((h) => h.save);
  useEffect(() => {
    const run = s.runId ?? 'run';
    if (saved.current === run || s.state !== 'done' || s.history.length === 0) return;
    const doSave = () => {
      if (saved.current === run) return;
      saved.current = run;
      const c = s.config;
      const rows: RunRow[] = s.history.map((h) => ({ round: h.round, accuracy: h.accuracy, loss: h.loss, bytesSent: h.bytesSent, t: h.t }));
      void save({
        savedAt: Date.now(),
        kind: 'live',
        label: runLabel(c),
        algo: c.algo,
        hash: configToHash({ ...c, hide: '' }),
        rows,
        ...(s.runId && s.nodeId ? { runKey: liveRunKey(c.room, s.runId), tabs: [{ id: s.nodeId, name: displayName(s, s.nodeId), rows }] } : {}),
      });
    };
    // 'done' can arrive while the last round is still being evaluated: wait for it (or give up waiting after 5 s).
    if (s.history[s.history.length - 1].round >= s.round) doSave();
    else {
      const timer = setTimeout(doSave, 5000);
      return () => clearTimeout(timer);
    }
  }, [s, save]);
  return null;
}

function OpenTabs({ config, link }: { config: Config; link: string }) {
  const { hidden, teacher, toggleHidden } = useUi();
  const [blocked, setBlocked] = useState(0);
  if (!teacher && hidden.has('tabs')) return null;
  const more = Math.max(0, config.nodes - 1);
  const open = () => {
    let fails = 0;
    for (let i = 0; i < more; i++) if (!window.open(link, '_blank')) fails++;
    setBlocked(fails);
  };
  return (
    <div className={`open-tabs${hidden.has('tabs') ? ' is-hidden' : ''}`}>
      {teacher && <HideBox name="tabs" label="the open-tabs button" hidden={hidden} onToggle={toggleHidden} section />}
      <button type="button" onClick={open} disabled={more === 0} data-testid="open-tabs" title="Opens the same link in more tabs: a whole room on one laptop">
        Open {more} more tab{more === 1 ? '' : 's'} here
      </button>
      {blocked > 0 && (
        <p className="error-text small-text" role="alert">
          The browser blocked {blocked} pop-up{blocked === 1 ? '' : 's'}. Allow pop-ups for this site, or open the share link in more tabs by hand.
        </p>
      )}
    </div>
  );
}

/** Live topology: the room's roster; edges are this tab's data channels, pulsing as it sends. */
function LiveTopology({ snapshot: s }: { snapshot: Snapshot }) {
  const departed = useLive((x) => x.departed);
  const [preview, setPreview] = useState<PartitionPreview | null>(null);
  const c = s.config;
  useEffect(() => {
    let live = true;
    partitionPreview(c).then((p) => live && setPreview(p), () => undefined);
    return () => {
      live = false;
    };
  }, [c.dataset, c.samples, c.classes, c.noise, c.seed, c.nodes, c.partition]); // eslint-disable-line react-hooks/exhaustive-deps
  const ids = [...s.roster, ...departed];
  // The algorithm's own facts (token: visits per tab as of the last token this tab held, and who holds it now).
  const report = s.report;
  const nodes: TopoNode[] = ids.map((id, i) => {
    const me = id === s.nodeId;
    const m = s.swarm[id];
    const left = departed.includes(id);
    return {
      id,
      label: `${displayName(s, id)}${isStarred(s, id) ? ' ★' : ''}`,
      self: me,
      state: me ? s.state : (m?.state || (s.started ? 'waiting' : 'idle')),
      role: me ? s.role : undefined,
      failed: left,
      aggregator: isStarred(s, id) || (report?.focus?.node === id && !left),
      count: report?.perNode?.counts[id],
      backend: me ? `${s.backend ?? '…'}${s.inWorker ? ' (worker)' : ''}` : m?.backend || undefined,
      attacker: me ? s.attacker : m?.attacker,
      throughput: me && s.samplesPerSecond ? `${s.samplesPerSecond.toFixed(0)} samples/s` : undefined,
      accuracy: me ? s.accuracy : m?.accuracy,
      histogram: me && s.labelHistogram.length ? s.labelHistogram : preview?.histograms[i % c.nodes],
    };
  });
  const links: [string, string][] = s.nodeId ? s.peers.map((p) => [s.nodeId!, p]) : [];
  const edges: TopoEdge[] = s.nodeId && s.started && s.state !== 'done' ? s.peers.map((p) => ({ from: s.nodeId!, to: p, type: 'model frames', count: 1, model: true })) : [];
  return (
    <div className="card">
      <Topology
        nodes={nodes}
        edges={edges}
        links={links}
        round={`${s.round}-${s.bytesSent}`}
        title={`Room ${s.room}: ${s.roster.length} tab${s.roster.length === 1 ? '' : 's'}`}
        caption="Arrows: this tab's open data channels, pulsing when it sends. Peers' states come from their reports. The dot marks this tab."
        marks={{ sample: null, aggregator: coordinatorLegend(c.algo) ?? report?.focus?.legend ?? null }}
        countLabel={report?.perNode?.label}
      />
    </div>
  );
}

function PeersTable({ snapshot: s }: { snapshot: Snapshot }) {
  const star = coordinatorLegend(s.config.algo);
  return (
    <div className="card">
      <h2>Room ({s.roster.length})</h2>
      <div className="table-scroll">
        <table className="peers" data-testid="peers">
          <thead>
            <tr>
              <th>node</th>
              <th>state</th>
              <th>round</th>
              <th>accuracy</th>
              <th>sent</th>
              <th>backend</th>
              <th>link</th>
            </tr>
          </thead>
          <tbody>
            {s.roster.map((id) => {
              const me = id === s.nodeId;
              const m = s.swarm[id];
              return (
                <tr key={id} className={me ? 'me' : ''}>
                  <td title={`peer id ${id}`} data-testid="peer-name">
                    {displayName(s, id)}
                    {me ? ' (this tab)' : ''}
                    {isStarred(s, id) ? ' ★' : ''}
                  </td>
                  <td>{me ? s.state : (m?.state ?? '—')}</td>
                  <td>{me ? s.round : (m?.round ?? '—')}</td>
                  <td>{fmtPct(me ? s.accuracy : m?.accuracy)}</td>
                  <td>{fmtMB(me ? s.bytesSent : (m?.bytesSent ?? 0))}</td>
                  <td>{me ? s.backend : (m?.backend ?? '—')}</td>
                  <td>{me ? '—' : s.peers.includes(id) ? 'open' : '·'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {star && (
        <p className="muted small-text table-note" data-testid="peers-legend">
          {star}
        </p>
      )}
    </div>
  );
}

export { liveUrl };

/** This tab's decision boundary over its own shard, redrawn when the round changes. */
function LiveBoundary({ node, round }: { node: LiveNode; round: number }) {
  // The round is the cache key: this tab's model changes when its round does.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const view = useMemo(() => node.modelView(), [node, round]);
  if (!view) return null;
  return (
    <div className="card">
      <DecisionBoundaries spec={view.spec} params={[view.params]} shards={[view.points]} own={[view.own]} ids={['this tab']} round={round} testId="live-boundary" />
    </div>
  );
}
