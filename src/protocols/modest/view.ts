import { z } from 'zod';
import { nodeId } from '../../core/wire/codec.ts';
import type { NodeId } from '../protocol.ts';

/**
 * MoDeST's membership view (the reference's "population view"):
 * id → (last active round, (counter, JOIN | LEAVE)).
 *
 * Merging takes the maximum round, and the higher counter decides the status; on equal
 * counters LEAVE wins. Each field is merged with a max over a total order, so the merge is
 * a join-semilattice: commutative, associative and idempotent. Views piggyback on every
 * model message, so nodes converge on one view without extra traffic.
 */
export type MemberStatus = 'join' | 'leave';

export interface Member {
  /** The last round in which this node was seen active. */
  round: number;
  /** Incremented by the node itself on every JOIN or LEAVE it announces. */
  counter: number;
  status: MemberStatus;
}

export function mergeMember(a: Member, b: Member): Member {
  const round = Math.max(a.round, b.round);
  if (a.counter !== b.counter) {
    const w = a.counter > b.counter ? a : b;
    return { round, counter: w.counter, status: w.status };
  }
  return { round, counter: a.counter, status: a.status === 'leave' || b.status === 'leave' ? 'leave' : 'join' };
}

function sameMember(a: Member, b: Member): boolean {
  return a.round === b.round && a.counter === b.counter && a.status === b.status;
}

/**
 * A view as it travels in a message header: parallel arrays, sorted by id, statuses as one
 * string of 'J'/'L'. About 12 bytes an entry plus the id. Bounded to MAX_VIEW_ENTRIES
 * (the codec's 256 KiB header limit binds first for long ids: roughly 15k entries).
 */
export interface WireView {
  ids: NodeId[];
  r: number[];
  c: number[];
  s: string;
}

export const MAX_VIEW_ENTRIES = 100_000;

const count = z.number().int().min(0).max(1e9);

export const wireViewSchema = z
  .object({
    ids: z.array(nodeId).max(MAX_VIEW_ENTRIES),
    r: z.array(count).max(MAX_VIEW_ENTRIES),
    c: z.array(count).max(MAX_VIEW_ENTRIES),
    s: z.string().max(MAX_VIEW_ENTRIES).regex(/^[JL]*$/),
  })
  .superRefine((v, ctx) => {
    const n = v.ids.length;
    if (v.r.length !== n || v.c.length !== n || v.s.length !== n) ctx.addIssue({ code: 'custom', message: 'view arrays differ in length' });
    else if (new Set(v.ids).size !== n) ctx.addIssue({ code: 'custom', message: 'view lists an id twice' });
  });

export class View {
  private readonly members = new Map<NodeId, Member>();
  private highest = 0;

  static fromWire(w: WireView): View {
    const v = new View();
    v.mergeWire(w);
    return v;
  }

  static of(entries: Iterable<[NodeId, Member]>): View {
    const v = new View();
    for (const [id, m] of entries) v.mergeEntry(id, m);
    return v;
  }

  get size(): number {
    return this.members.size;
  }

  has(id: NodeId): boolean {
    return this.members.has(id);
  }

  get(id: NodeId): Member | undefined {
    const m = this.members.get(id);
    return m && { ...m };
  }

  /** Merges one entry; true if it changed the view. */
  mergeEntry(id: NodeId, m: Member): boolean {
    const old = this.members.get(id);
    const merged = old ? mergeMember(old, m) : { ...m };
    if (old && sameMember(old, merged)) return false;
    this.members.set(id, merged);
    if (merged.round > this.highest) this.highest = merged.round;
    return true;
  }

  /** In place: this := this ⊔ other. */
  merge(other: View): this {
    for (const [id, m] of other.members) this.mergeEntry(id, m);
    return this;
  }

  mergeWire(w: WireView): this {
    for (let i = 0; i < w.ids.length; i++) this.mergeEntry(w.ids[i], { round: w.r[i], counter: w.c[i], status: w.s[i] === 'L' ? 'leave' : 'join' });
    return this;
  }

  /** Raises the last active round of a known node (unknown ids are not added). */
  touch(id: NodeId, round: number): void {
    const m = this.members.get(id);
    if (m && round > m.round) this.mergeEntry(id, { ...m, round });
  }

  /** The highest last-active round in the view: a lower bound on how far the run got. */
  maxRound(): number {
    return this.highest;
  }

  /** Ids with status JOIN, active within `inactivity` rounds of `round`: the candidates for round `round`. */
  active(round: number, inactivity: number): NodeId[] {
    const out: NodeId[] = [];
    for (const [id, m] of this.members) if (m.status === 'join' && m.round >= round - inactivity) out.push(id);
    return out;
  }

  ids(): NodeId[] {
    return [...this.members.keys()];
  }

  /** Entries sorted by id: the canonical form. */
  entries(): [NodeId, Member][] {
    return [...this.members.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, m]) => [id, { ...m }]);
  }

  clone(): View {
    return new View().merge(this);
  }

  clear(): void {
    this.members.clear();
  }

  equals(other: View): boolean {
    if (other.size !== this.size) return false;
    for (const [id, m] of this.members) {
      const o = other.members.get(id);
      if (!o || !sameMember(m, o)) return false;
    }
    return true;
  }

  toWire(only?: NodeId[]): WireView {
    const w: WireView = { ids: [], r: [], c: [], s: '' };
    const entries = only ? only.filter((id) => this.members.has(id)).sort().map((id) => [id, this.members.get(id)!] as const) : this.entries();
    for (const [id, m] of entries) {
      w.ids.push(id);
      w.r.push(m.round);
      w.c.push(m.counter);
      w.s += m.status === 'leave' ? 'L' : 'J';
    }
    return w;
  }
}

/** How far one view entry may raise a node's counter: honest counters move by one per JOIN or LEAVE. */
export const MAX_COUNTER_STEP = 2;

/**
 * A received view, bounded before it is merged: entries only for ids this node can vouch for
 * (`known`: the roster, its own view, peers that contacted it), rounds at most `maxRound`, and
 * counters at most MAX_COUNTER_STEP above what `view` knows. So a peer can neither invent
 * members (which would bloat every later view it sends) nor push a counter so high that the
 * node it names could never refute a false LEAVE. Returns the bounded view and how many
 * entries were dropped or clipped.
 */
export function boundWire(w: WireView, view: View, known: (id: NodeId) => boolean, maxRound: number): { wire: WireView; clipped: number } {
  const out: WireView = { ids: [], r: [], c: [], s: '' };
  let clipped = 0;
  for (let i = 0; i < w.ids.length; i++) {
    const id = w.ids[i];
    if (!known(id)) {
      clipped++;
      continue;
    }
    const counterCap = (view.get(id)?.counter ?? 0) + MAX_COUNTER_STEP;
    if (w.r[i] > maxRound || w.c[i] > counterCap) clipped++;
    out.ids.push(id);
    out.r.push(Math.min(w.r[i], maxRound));
    out.c.push(Math.min(w.c[i], counterCap));
    out.s += w.s[i];
  }
  return { wire: out, clipped };
}

/** A new view a ⊔ b (neither input changes). */
export function mergeViews(a: View, b: View): View {
  return a.clone().merge(b);
}
