import { protocolFor } from '../../protocols/index.ts';
import type { ReactNode } from 'react';
import type { Snapshot } from '../../live/liveNode.ts';
import { fmtPct } from '../format.ts';
import { nextRoomName } from '../../live/swarmSummary.ts';
import { useLinkBroken } from '../linkState.ts';
import { displayName } from '../lib/names.ts';
import type { FinishSummary } from '../../core/signaling/messages.ts';

/** This tab's state at a glance, and the one action that matters now (start / wait / fix). */
export function StatusPanel({ snapshot: s, onStart, onReset, onAttacker, actions }: { snapshot: Snapshot; onStart: () => void; onReset: () => void; onAttacker?: (on: boolean) => void; actions?: ReactNode }) {
  return (
    <div className="card status" data-testid="status">
      <div className="stats">
        <Stat label="state" value={s.state} testId="state" />
        <Stat label="role" value={s.role} />
        <Stat label="round" value={`${s.round} / ${s.config.rounds}`} testId="round" />
        <Stat label="accuracy" value={fmtPct(s.accuracy)} testId="accuracy" />
        <Stat label="loss" value={s.loss === null || Number.isNaN(s.loss) ? '—' : s.loss.toFixed(3)} />
        <Stat label="peers linked" value={String(s.peers.length)} />
        <Stat label="sent / received" value={`${(s.bytesSent / 1e6).toFixed(2)} / ${(s.bytesReceived / 1e6).toFixed(2)} MB`} />
        <Stat label="rejected frames" value={String(s.rejectedFrames)} testId="rejected" warn={s.rejectedFrames > 0} />
        <Stat label="samples/s" value={s.samplesPerSecond ? s.samplesPerSecond.toFixed(0) : '—'} />
      </div>
      <RunFacts snapshot={s} />
      {s.backendReason && (
        <p className="backend-line small-text muted" data-testid="backend-line">
          Training on {s.backend}: {s.backendReason}
        </p>
      )}
      <div className="status-line">
        <StatusLine snapshot={s} onStart={onStart} onReset={onReset} />
        <span className="spacer" />
        {onAttacker && (
          <label className="small-text" title="From the next start this tab sends poisoned models: the room's byzantine= attack, or sign flipping. It follows the protocol otherwise.">
            <input type="checkbox" checked={s.attacker} onChange={(e) => onAttacker(e.target.checked)} data-testid="attacker" /> this tab attacks
          </label>
        )}
        {actions}
      </div>
    </div>
  );
}

/** What the algorithm reports about this tab's run so far (RQM: the privacy this tab has spent). */
function RunFacts({ snapshot: s }: { snapshot: Snapshot }) {
  let facts;
  try {
    facts = s.paramCount === null ? [] : (protocolFor(s.algo).facts?.(s.config, { paramCount: s.paramCount, trainings: s.trainings }) ?? []);
  } catch {
    return null;
  }
  const shown = facts.filter((f) => f.label && f.text);
  if (shown.length === 0) return null;
  return (
    <p className="small-text muted" data-testid="run-facts-status">
      {shown.map((f) => `This tab’s ${f.label}: ${f.text}.`).join(' ')}
    </p>
  );
}

export function Stat({ label, value, testId, warn }: { label: string; value: string; testId?: string; warn?: boolean }) {
  return (
    <div className={`stat${warn ? ' warn' : ''}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

const nameOf = (s: Snapshot, id: string | null) => (id ? displayName(s, id) : '—');

/** "20/20 rounds · swarm mean 96.7% (min 93.7, max 98.7) over 6 tabs" */
export function describeSummary(f: FinishSummary, planned: number): string {
  const spread = f.accuracy.min === f.accuracy.max ? '' : ` (min ${fmtPct(f.accuracy.min)}, max ${fmtPct(f.accuracy.max)})`;
  return `${f.rounds}/${planned} rounds · swarm mean ${fmtPct(f.accuracy.mean)}${spread} over ${f.nodes} tab${f.nodes === 1 ? '' : 's'}`;
}

/** A new run with the same settings in a fresh room: for a tab that came late, or a member who wants another go. */
export function freshRoomHref(s: Snapshot): string {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  params.set('room', nextRoomName(s.room));
  return `${location.pathname}#${params.toString()}`;
}

/** The one line that says what is happening now and offers the one action that matters. */
function StatusLine({ snapshot: s, onStart, onReset }: { snapshot: Snapshot; onStart: () => void; onReset: () => void }) {
  const joined = s.roster.length;
  const want = s.config.nodes;
  // A link with a bad value does not join, and loads nothing: say why, not "loading…".
  const linkBroken = useLinkBroken();
  const notice = s.notice ? (
    <span className="error-text" role="status" data-testid="notice">
      {s.notice}
    </span>
  ) : null;
  if (linkBroken) {
    return (
      <span className="muted" data-testid="not-joined">
        Not joined: this link has invalid settings. Fix the marked fields in the setup panel and press Apply.
      </span>
    );
  }
  if (s.state === 'error') {
    return (
      <span role="alert" className="error-text" data-testid="node-error">
        {s.error}
        {/signal|connect|websocket/i.test(s.error ?? '') ? ' — is the signaling server running (npm start)?' : ''}
      </span>
    );
  }
  if (s.state === 'connecting' && !s.nodeId) return <span className="muted">Connecting to the signaling server…</span>;
  if (s.roomFinished && !s.started) {
    // Arrived after the run: say how it ended instead of waiting forever for round 1.
    const f = s.roomFinished;
    return (
      <span data-testid="room-finished">
        This room finished at {new Date(f.at).toLocaleTimeString()}: {f.summary.algo}, {describeSummary(f.summary, s.config.rounds)}.{' '}
        <a className="button primary" href={freshRoomHref(s)} data-testid="fresh-room">
          Start a new run in a fresh room
        </a>
      </span>
    );
  }
  if (!s.started) {
    const ownerHere = s.owner !== null;
    return (
      <>
        <span className="waiting" data-testid="waiting" aria-live="polite">
          <progress max={want} value={Math.min(joined, want)} aria-hidden />
          {joined} of {want} tabs joined
          {s.isOwner
            ? s.config.autostart
              ? ' — starts automatically when all are here'
              : joined < want
                ? ' — open more tabs, or start with the tabs that are here'
                : ''
            : ownerHere
              ? ` — waiting for the room's owner (${nameOf(s, s.owner)}) to start`
              : " — the room's owner is not here; the run starts when they come back"}
          {!s.backend ? ' · loading data and tfjs…' : ''}
        </span>
        {s.isOwner && (
          <button type="button" className="primary" onClick={onStart} disabled={!s.nodeId || !s.backend} data-testid="start" title={joined < want ? `The data will be split over the ${joined} tabs that are here, not ${want}` : undefined}>
            {joined < want ? `▶ Start now with ${joined} of ${want} tabs` : `▶ Start ${s.config.algo} now`}
          </button>
        )}
        {s.isOwner && joined < want && (
          <span className="muted small-text" data-testid="start-fewer-note">
            Starting now splits the data over the {joined} tab{joined === 1 ? '' : 's'} here.
          </span>
        )}
        {notice}
      </>
    );
  }
  if (s.state === 'done') {
    const f = s.roomFinished?.summary;
    const sw = s.swarmSummary;
    const line = f
      ? describeSummary(f, s.config.rounds)
      : sw.accuracy
        ? describeSummary({ algo: s.algo, rounds: sw.round, nodes: sw.reporting, accuracy: sw.accuracy }, s.config.rounds)
        : `${s.round}/${s.config.rounds} rounds`;
    return (
      <span data-testid="finished">
        Finished: {line} · this tab {fmtPct(s.accuracy)}
        {!f && sw.done < sw.reporting ? ` · waiting for ${sw.reporting - sw.done} more to finish` : ''}. Saved to History.{' '}
        {s.isOwner ? (
          <button type="button" className="small" onClick={onReset} data-testid="run-again">
            Run again
          </button>
        ) : (
          <a href={freshRoomHref(s)} data-testid="fresh-room">
            New run in a fresh room
          </a>
        )}
        {notice}
      </span>
    );
  }
  return (
    <span>
      {s.algo} running
      {s.coordinator && protocolFor(s.algo).coordinator ? `, coordinator ${nameOf(s, s.coordinator)}${s.coordinator === s.nodeId ? ' (this tab)' : ''}` : ''}; shard {s.nodeIndex} with {s.shardSize} samples
      {s.inWorker ? ', training in a worker' : ', training in the page'}
      {notice}
    </span>
  );
}
