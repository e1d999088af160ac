import type { NodeId } from '../protocol.ts';

/** What names one round attempt of secure aggregation, for both of its roles. */
export interface AttemptId {
  round: number;
  attempt: number;
}

export const sameAttempt = (a: AttemptId, b: AttemptId) => a.round === b.round && a.attempt === b.attempt;

/** Older than `current`: an honest message that arrived late (after a re-sample or the round's end), dropped without blame. */
export const olderAttempt = (msg: AttemptId, current: AttemptId) => msg.round < current.round || (msg.round === current.round && msg.attempt < current.attempt);

/** HKDF's salt: binds every agreed key to this attempt (keys are fresh per attempt anyway). */
export function attemptSalt(a: AttemptId): Uint8Array {
  return new TextEncoder().encode(`murmuration secagg|${a.round}|${a.attempt}`);
}

/** Node ids in the one order every node uses (lists, mask signs, share points). */
export const byId = (a: NodeId, b: NodeId) => (a < b ? -1 : a > b ? 1 : 0);

/** Whether a peer's list is sorted with no repeats, as every list of this protocol must be. */
export function strictlySorted(ids: readonly NodeId[]): boolean {
  for (let i = 1; i < ids.length; i++) if (!(ids[i - 1] < ids[i])) return false;
  return true;
}

/** Key-agreement request ids: `secagg:<role>:<step>:<round>:<attempt>[:<client>]`. */
export function requestId(role: 'client' | 'server', step: string, a: AttemptId, client?: NodeId): string {
  return `secagg:${role}:${step}:${a.round}:${a.attempt}${client === undefined ? '' : `:${client}`}`;
}

export function parseRequestId(id: string): { role: string; step: string; round: number; attempt: number; client?: NodeId } | null {
  const parts = id.split(':');
  if (parts[0] !== 'secagg' || parts.length < 5) return null;
  return { role: parts[1], step: parts[2], round: Number(parts[3]), attempt: Number(parts[4]), client: parts.length > 5 ? parts.slice(5).join(':') : undefined };
}
