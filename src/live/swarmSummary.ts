import type { FinishSummary } from '../core/signaling/messages.ts';

/** What a tab knows of one member of its room: its own numbers, or a peer's last report. */
export interface MemberReport {
  round: number;
  accuracy: number | null;
  loss: number | null;
  state: string;
}

export interface SwarmSummary {
  /** Members whose reports count (this tab included). */
  reporting: number;
  /** Of those, how many say they are done. */
  done: number;
  /** The furthest round any member reached. */
  round: number;
  accuracy: { mean: number; min: number; max: number } | null;
  loss: { mean: number; min: number; max: number } | null;
}

function stats(values: number[]): { mean: number; min: number; max: number } | null {
  if (values.length === 0) return null;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  // Clamp: float rounding can put the mean a hair outside [min, max].
  return { mean: Math.min(max, Math.max(min, sum / values.length)), min, max };
}

/**
 * The swarm as this tab sees it: its own numbers plus the last report of every member still in
 * the room. Peers' reports are claims, so they are bounded before they count: a round above the
 * run's length and an accuracy outside [0, 1] are ignored.
 */
export function summarizeSwarm(members: MemberReport[], rounds: number): SwarmSummary {
  const counted = members.filter((m) => Number.isFinite(m.round) && m.round >= 0 && m.round <= rounds);
  const acc = counted.map((m) => m.accuracy).filter((a): a is number => a !== null && Number.isFinite(a) && a >= 0 && a <= 1);
  const loss = counted.map((m) => m.loss).filter((l): l is number => l !== null && Number.isFinite(l) && l >= 0 && l <= 1e9);
  return {
    reporting: counted.length,
    done: counted.filter((m) => m.state === 'done').length,
    round: counted.reduce((r, m) => Math.max(r, m.round), 0),
    accuracy: stats(acc),
    loss: stats(loss),
  };
}

/** The record a coordinator hands the server when the run is over. */
export function finishSummary(algo: string, s: SwarmSummary, durationMs: number): FinishSummary | null {
  if (!s.accuracy) return null;
  return {
    algo,
    rounds: s.round,
    nodes: s.reporting,
    accuracy: s.accuracy,
    ...(s.loss ? { loss: s.loss } : {}),
    durationMs: Math.max(0, Math.min(7 * 24 * 3600 * 1000, Math.round(durationMs))),
  };
}

/** "class1" → "class1-2", "class1-2" → "class1-3": a fresh room for a new run with the same settings. */
export function nextRoomName(room: string): string {
  const m = /^(.*)-(\d{1,6})$/.exec(room);
  const next = m ? `${m[1]}-${Number(m[2]) + 1}` : `${room}-2`;
  return next.length <= 64 ? next : `${next.slice(0, 55)}-${Date.now().toString(36).slice(-6)}`;
}
