import { useEffect, useMemo, useState } from 'react';
import { configToShortHash, parseConfig, type Config } from '../../core/config.ts';
import { RoomWatcher, type RoomView } from '../../live/spectator/roomWatcher.ts';
import { allProtocols, protocolFor } from '../../protocols/index.ts';
import { LineChart } from '../components/LineChart.tsx';
import { QrCode } from '../components/QrCode.tsx';
import { align } from '../lib/series.ts';
import { narrate } from './caption.ts';
import { frameTimes, STATE_LEGEND, SwarmPicture } from './SwarmPicture.tsx';

/**
 * The projector view (`/?view=projector#<room's link>`): the whole room on one screen, for the
 * class. A spectator: it trains nothing and counts as no node. `&race=<room>` follows a second
 * room side by side (the same link with another room name: same data and seed, e.g. half the
 * class on FedAvg, half on gossip). With the owner key (the teacher link's `?owner=`) it shows
 * the teacher console.
 */
export function ProjectorApp({ base, raceRoom, ownerKey, signalUrl }: { base: Config; raceRoom: string | null; ownerKey?: string; signalUrl: string }) {
  const rooms = useMemo(() => [base, ...(raceRoom ? [{ ...base, room: raceRoom }] : [])], [base, raceRoom]);
  const watchers = useMemo(() => rooms.map((c) => new RoomWatcher(signalUrl, { room: c.room, ...(c.secret ? { secret: c.secret } : {}), ...(ownerKey ? { ownerKey } : {}) })), [rooms, signalUrl, ownerKey]);
  useEffect(() => {
    for (const w of watchers) void w.connect();
    const api = { room: () => watchers[0].snapshot(), rooms: () => watchers.map((w) => w.snapshot()), frames: () => frameTimes.slice(), watchers };
    // The scripting contract of this view: `window.murmuration.room()` (and `rooms()` in race mode).
    Object.assign(window, { murmuration: api });
    return () => watchers.forEach((w) => w.close());
  }, [watchers]);
  return (
    <div className={`projector ${watchers.length > 1 ? 'race' : ''}`}>
      {watchers.map((w, i) => (
        <RoomPanel key={rooms[i].room} watcher={w} config={rooms[i]} />
      ))}
    </div>
  );
}

/** The watcher's view, re-read at most ten times a second: the picture animates on its own. */
function useRoom(watcher: RoomWatcher): RoomView {
  const [view, setView] = useState(() => watcher.snapshot());
  useEffect(() => {
    let queued: ReturnType<typeof setTimeout> | null = null;
    const unsubscribe = watcher.subscribe(() => {
      queued ??= setTimeout(() => {
        queued = null;
        setView(watcher.snapshot());
      }, 100);
    });
    return () => {
      unsubscribe();
      if (queued) clearTimeout(queued);
    };
  }, [watcher]);
  return view;
}

function RoomPanel({ watcher, config }: { watcher: RoomWatcher; config: Config }) {
  const view = useRoom(watcher);
  const roomConfig = useMemo(() => safeConfig(view.config) ?? config, [view.config, config]);
  const module = protocolFor(roomConfig.algo);
  const link = `${location.origin}/#${configToShortHash(roomConfig)}`;
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, []);
  const caption = narrate(view, watcher.recent, now, module.coordinator);
  return (
    <section className="projector-room" data-testid={`projector-${view.room}`}>
      <header className="projector-head">
        <h2>
          {module.ui.label} <span className="muted">· room {view.room}</span>
        </h2>
        <p className="caption" data-testid="caption" aria-live="polite">
          {caption}
        </p>
      </header>
      <div className="projector-body">
        <div className="projector-picture">
          <SwarmPicture watcher={watcher} view={view} coordinated={module.coordinator} testId="swarm-picture" />
          <ul className="legend">
            {STATE_LEGEND.map(([state, colour]) => (
              <li key={state}>
                <span className="dot" style={{ background: colour }} /> {state}
              </li>
            ))}
            <li>dot size: accuracy · ring: coordinator · moving dot: a model being sent</li>
          </ul>
        </div>
        <aside className="projector-join">
          <QrCode text={link} label="Join this room" testId="projector-qr" border={2} />
          <a className="projector-link" href={link} data-testid="projector-link">
            {link}
          </a>
          {view.owns && <Console watcher={watcher} view={view} config={roomConfig} />}
        </aside>
      </div>
      <div className="projector-charts">
        <LineChart
          title="Swarm accuracy"
          xLabel="round"
          yLabel="accuracy"
          series={[
            { label: 'mean', color: '#111827', width: 3 },
            { label: 'max', color: '#111827', bandEdge: true },
            { label: 'min', color: '#111827', bandEdge: true },
          ]}
          bands={[{ hi: 1, lo: 2, fill: 'rgba(17,24,39,0.12)' }]}
          data={align([view.swarm.map((p) => ({ x: p.round, y: p.mean })), view.swarm.map((p) => ({ x: p.round, y: p.max })), view.swarm.map((p) => ({ x: p.round, y: p.min }))])}
          height={260}
          yRange={[0, 1]}
          testId="projector-accuracy"
          emptyText="Appears with the first evaluated round."
        />
        {module.evaluates === 'nodes' && (
          <LineChart
            title="Consensus distance"
            xLabel="round"
            yLabel="mean ‖x − x̄‖²"
            series={[{ label: 'estimated from sketches', color: '#0ea5e9', width: 3 }]}
            data={align([view.swarm.filter((p) => p.consensus !== null).map((p) => ({ x: p.round, y: p.consensus! }))])}
            height={260}
            testId="projector-consensus"
            emptyText="Appears with the first evaluated round."
            yFormat={(v) => v.toExponential(2)}
          />
        )}
      </div>
    </section>
  );
}

/** The owner's controls (the server refuses them from anyone else). */
function Console({ watcher, view, config }: { watcher: RoomWatcher; view: RoomView; config: Config }) {
  const [algo, setAlgo] = useState(config.algo);
  const [rounds, setRounds] = useState(String(config.rounds));
  const input = (view.config ?? {}) as Record<string, unknown>;
  return (
    <div className="console" data-testid="console">
      <h3>Teacher console</h3>
      <div className="console-row">
        {!view.started || view.finished ? (
          <button type="button" onClick={() => watcher.start()} data-testid="console-start" disabled={view.nodes.length === 0}>
            Start
          </button>
        ) : (
          <button type="button" onClick={() => watcher.pause(!view.paused)} data-testid="console-pause">
            {view.paused ? 'Resume' : 'Pause'}
          </button>
        )}
        <button type="button" onClick={() => watcher.reset()} data-testid="console-reset">
          Reset
        </button>
      </div>
      <label>
        Next run:{' '}
        <select value={algo} onChange={(e) => setAlgo(e.target.value)} data-testid="console-algo">
          {allProtocols().map((m) => (
            <option key={m.name} value={m.name}>
              {m.ui.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        rounds <input value={rounds} onChange={(e) => setRounds(e.target.value)} size={5} inputMode="numeric" data-testid="console-rounds" />
      </label>
      <button type="button" disabled={view.started && !view.finished} title={view.started && !view.finished ? 'Reset first: settings change between runs' : undefined} onClick={() => watcher.configure({ ...input, algo, rounds })} data-testid="console-apply">
        Apply to the next run
      </button>
      <table className="console-nodes">
        <tbody>
          {view.nodes.map((n) => (
            <tr key={n.id}>
              <td>{n.name}</td>
              <td>{n.paused || view.paused ? 'paused' : n.state}</td>
              <td>
                <button type="button" onClick={() => watcher.remove(n.id)} data-testid={`console-remove-${n.id}`} title="Close this tab's connection to the room">
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {view.lastError && <p className="notice">{view.lastError}</p>}
    </div>
  );
}

function safeConfig(input: Record<string, unknown> | null): Config | null {
  if (!input) return null;
  try {
    return parseConfig(input as Record<string, string>);
  } catch {
    return null;
  }
}
