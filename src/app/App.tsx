import { useMemo } from 'react';
import type { LiveNode, Snapshot } from '../live/liveNode.ts';
import { useLive } from './store.ts';
import { colorFor } from './palette.ts';
import { LineChart, type Series } from './components/LineChart.tsx';
import { SetupPanel } from './components/SetupPanel.tsx';
import { StatusPanel } from './components/StatusPanel.tsx';

export function App({ node, configError }: { node: LiveNode; configError: string | null }) {
  const snap = useLive((s) => s.snapshot);
  if (!snap) return null;
  return (
    <div className="app">
      <header className="topbar">
        <h1>
          <span className="logo" aria-hidden>
            ◦•◦
          </span>{' '}
          Murmuration
        </h1>
        <span className="muted">federated &amp; gossip learning, one tab per node</span>
        <span className="spacer" />
        <span className="badge" data-testid="room">
          room {snap.room}
        </span>
        <span className="badge" data-testid="backend">
          backend: {snap.backend ?? '…'}
        </span>
      </header>
      {configError && (
        <div role="alert" className="error-banner">
          The link's settings are invalid: <pre>{configError}</pre>
        </div>
      )}
      <main className="layout">
        <SetupPanel snapshot={snap} />
        <section className="main-column">
          <StatusPanel snapshot={snap} onStart={() => node.requestStart()} />
          <Charts snapshot={snap} />
          <PeersTable snapshot={snap} />
          <details className="card">
            <summary>Log ({snap.log.length})</summary>
            <pre className="log" data-testid="log">
              {snap.log.join('\n')}
            </pre>
          </details>
        </section>
      </main>
    </div>
  );
}

function Charts({ snapshot }: { snapshot: Snapshot }) {
  const { series, accuracy, bytes } = useMemo(() => chartData(snapshot), [snapshot]);
  return (
    <div className="charts">
      <div className="card">
        <LineChart title="Accuracy" xLabel="round" yLabel="accuracy" series={series} data={accuracy} testId="chart-accuracy" />
      </div>
      <div className="card">
        <LineChart title="Bytes sent (cumulative, MB)" xLabel="round" yLabel="MB" series={series} data={bytes} testId="chart-bytes" />
      </div>
    </div>
  );
}

/** This tab's history plus the latest point of every peer, aligned on rounds. */
function chartData(s: Snapshot): { series: Series[]; accuracy: (number | null)[][]; bytes: (number | null)[][] } {
  const rounds = [...new Set(s.history.map((h) => h.round))].sort((a, b) => a - b);
  const mine = new Map(s.history.map((h) => [h.round, h]));
  const series: Series[] = [{ label: 'this tab', color: colorFor(0), width: 2.5 }];
  return {
    series,
    accuracy: [rounds, rounds.map((r) => mine.get(r)?.accuracy ?? null)],
    bytes: [rounds, rounds.map((r) => (mine.get(r)?.bytesSent ?? 0) / 1e6)],
  };
}

function PeersTable({ snapshot: s }: { snapshot: Snapshot }) {
  return (
    <div className="card">
      <h2>Room ({s.roster.length})</h2>
      <table className="peers" data-testid="peers">
        <thead>
          <tr>
            <th>node</th>
            <th>state</th>
            <th>round</th>
            <th>accuracy</th>
            <th>MB sent</th>
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
                <td>
                  {id}
                  {me ? ' (this tab)' : ''}
                  {id === s.coordinator ? ' ★' : ''}
                </td>
                <td>{me ? s.state : (m?.state ?? '—')}</td>
                <td>{me ? s.round : (m?.round ?? '—')}</td>
                <td>{fmtPct(me ? s.accuracy : m?.accuracy)}</td>
                <td>{((me ? s.bytesSent : (m?.bytesSent ?? 0)) / 1e6).toFixed(2)}</td>
                <td>{me ? s.backend : (m?.backend ?? '—')}</td>
                <td>{me ? '—' : s.peers.includes(id) ? 'open' : '·'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function fmtPct(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? '—' : `${(v * 100).toFixed(1)}%`;
}
