import type { ReactNode } from 'react';
import type { Snapshot } from '../../live/liveNode.ts';
import { fmtPct } from '../format.ts';
import { useLinkBroken } from '../linkState.ts';

/** This tab's state at a glance, and the one action that matters now (start / wait / fix). */
export function StatusPanel({ snapshot: s, onStart, actions }: { snapshot: Snapshot; onStart: () => void; actions?: ReactNode }) {
  const joined = s.roster.length;
  const want = s.config.nodes;
  const waiting = !s.started && s.state !== 'error';
  // A link with a bad value does not join, and loads nothing: say why, not "loading…".
  const linkBroken = useLinkBroken();
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
      <div className="status-line">
        {linkBroken ? (
          <span className="muted" data-testid="not-joined">
            Not joined: this link has invalid settings. Fix the marked fields in the setup panel and press Apply.
          </span>
        ) : s.state === 'error' ? (
          <span role="alert" className="error-text" data-testid="node-error">
            {s.error}
            {/signal|connect|websocket/i.test(s.error ?? '') ? ' — is the signaling server running (npm start)?' : ''}
          </span>
        ) : s.state === 'connecting' && !s.nodeId ? (
          <span className="muted">Connecting to the signaling server…</span>
        ) : waiting ? (
          <>
            <span className="waiting" data-testid="waiting" aria-live="polite">
              <progress max={want} value={Math.min(joined, want)} aria-hidden />
              {joined} of {want} nodes joined
              {s.config.autostart ? ' — starts automatically when all are here' : joined < want ? ' — open more tabs, or start with fewer' : ''}
              {!s.backend ? ' · loading data and tfjs…' : ''}
            </span>
            <button type="button" className="primary" onClick={onStart} disabled={!s.nodeId || !s.backend} data-testid="start">
              ▶ Start {s.config.algo} now
            </button>
          </>
        ) : s.state === 'done' ? (
          <span data-testid="finished">
            Finished: {s.algo}, {s.history.length} evaluated rounds, final accuracy {fmtPct(s.accuracy)}. Saved to History.
          </span>
        ) : (
          <span>
            {s.algo} running{s.coordinator && s.algo === 'fedavg' ? `, coordinator ${s.coordinator}${s.coordinator === s.nodeId ? ' (this tab)' : ''}` : ''}; shard {s.nodeIndex} with {s.shardSize} samples
            {s.inWorker ? ', training in a worker' : ', training in the page'}
          </span>
        )}
        <span className="spacer" />
        {actions}
      </div>
    </div>
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
