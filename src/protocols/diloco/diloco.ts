import { adamw, SGD, type ComputeResult, type TrainRequest } from '../../core/learn/compute.ts';
import type { Fragment } from '../../core/wire/codec.ts';
import { CoordinatorFollower, type FollowerHandlers } from '../common/follower.ts';
import type { NodeId, Protocol, ProtocolAction, ProtocolContext, ProtocolEvent } from '../protocol.ts';
import { initMode } from '../registry.ts';
import { addInto, fragmentRanges, l2, meanOf, mixInto, nesterovStep, outerGradient, quantDtype, roundTrip, syncPlan, type QuantBits, type Range } from './outer.ts';

/** A sync message as this node sees it (decoded from the wire, or handed to itself by the coordinator). */
interface SyncMsg {
  sync: number;
  full: boolean;
  done: boolean;
  theta?: Float32Array;
  update?: Fragment;
}

/** A delta from a worker whose norm exceeds this many times the median of the sync's deltas is refused. */
export const OUTLIER_FACTOR = 10;
/** Deltas for a sync at most this many syncs (× fragments) old are late, not lies: dropped without a rejection. */
const LATE_WINDOW = 2;
export const STATE_KEY = 'diloco-inner';

/**
 * DiLoCo (Douillard et al. 2023) and Streaming DiLoCo (Douillard et al. 2025).
 *
 * Every node is a worker; the room's coordinator also runs the outer optimizer. Workers run
 * inner AdamW steps on their own data, with the AdamW state kept across outer steps (`stateKey`).
 * The parameters are cut into P fragments (P = 1: DiLoCo). Sync k happens after inner step
 * ⌊k·H/P⌋ and covers fragment k mod P (see `syncPlan`), so each fragment is synchronized every
 * H inner steps and one sync is on the wire at a time:
 *
 *   worker:      … train to t_k → send Δ_i = θ_p − θ_i,p → train τ more steps (overlap) →
 *                wait for sync k + 1 → θ_p += step; θ_i,p ← α·θ_i,p + (1 − α)·θ_p → train to t_{k+1} …
 *   coordinator: collect Δ_i for sync k from the workers it handed sync k (or time out with at
 *                least one); Δ = mean Δ_i; v ← μ·v + Δ; step = −η·(Δ + μ·v); θ_p += step;
 *                hand out sync k + 1 carrying the step.
 *
 * Outer gradients and steps travel at `quant` bits per value; the coordinator adds to θ the step
 * as every worker decodes it, so all copies of θ hold the same bits. A worker that did not take
 * part in the previous sync (joined, lagged, missed it) gets the whole θ in f32 instead.
 */
export class DiLoCo implements Protocol, FollowerHandlers {
  private readonly cfg: ProtocolContext['config'];
  private readonly P: number;
  private readonly ranges: Range[];
  private readonly quant: QuantBits;
  /** The sync whose message says "done": one past the last real sync (rounds·P). */
  private readonly finalSync: number;
  private readonly follower: CoordinatorFollower;
  private available = new Set<NodeId>();
  private finished = false;

  // Worker state.
  /** This worker's copy of the global model θ, as of `version` syncs. */
  private global: Float32Array;
  private version = 0;
  /** This worker's own model θ_i. */
  private local: Float32Array;
  /** The last sync this worker sent its Δ for. */
  private lastSent = 0;
  private training: { id: string; chunk: 'toSync' | 'overlap'; sync: number } | null = null;
  private pending: SyncMsg | null = null;
  private computeCount = 0;
  /** Whether this worker has applied any sync yet. */
  private applied = false;

  // Coordinator state.
  private theta: Float32Array | null = null;
  private momentum: Float32Array | null = null;
  private closed = 0;
  private attempts = 0;
  private collecting: { sync: number; timer: string; expected: Set<NodeId>; got: Map<NodeId, Float32Array> } | null = null;
  /** Workers that answered the last closed sync: they hold θ as of it and get only the step. */
  private answered = new Set<NodeId>();
  private lastStep: { range: Range; step: Float32Array; applied: Float32Array } | null = null;

  constructor(private readonly ctx: ProtocolContext) {
    this.cfg = ctx.config;
    this.ranges = fragmentRanges(ctx.spec, Math.min(this.cfg.fragments, this.cfg.innerSteps));
    this.P = this.ranges.length;
    this.quant = this.cfg.quant as QuantBits;
    this.finalSync = this.cfg.rounds * this.P + 1;
    this.follower = new CoordinatorFollower(ctx.id, 'worker');
    this.global = ctx.initialParams.slice();
    this.local = ctx.initialParams.slice();
    for (const p of ctx.peers) if (p !== ctx.id) this.available.add(p);
  }

  get round(): number {
    return Math.floor((this.follower.leads ? this.closed : this.version) / this.P);
  }

  currentParams(): Float32Array {
    return this.follower.leads && this.theta ? this.theta : this.global;
  }

  /** The fragments, for tests and the UI. */
  get fragments(): readonly Range[] {
    return this.ranges;
  }

  /** Inner steps a worker trains after sending Δ for sync k before it merges sync k's result (τ, at most the next sync's steps). */
  private overlapAfter(sync: number): number {
    if (sync >= this.finalSync - 1) return 0;
    return Math.min(this.cfg.overlap, syncPlan(sync + 1, this.cfg.innerSteps, this.P).steps);
  }

  handle(event: ProtocolEvent, _now: number): ProtocolAction[] {
    return this.follower.handle(event, this);
  }

  onStart(): ProtocolAction[] {
    return this.follower.leads && !this.theta ? this.becomeCoordinator(false) : [];
  }

  // ─── coordinator ───────────────────────────────────────────────────────────

  private becomeCoordinator(takeover: boolean): ProtocolAction[] {
    this.theta = this.global.slice();
    this.momentum = new Float32Array(this.theta.length);
    this.closed = this.version;
    this.answered.clear();
    this.lastStep = null;
    const actions: ProtocolAction[] = [{ kind: 'state', state: 'waiting', role: 'coordinator' }];
    if (takeover) actions.push({ kind: 'log', text: `became coordinator at sync ${this.closed}; outer momentum restarts from 0` });
    // A first sync needs no model when every node starts from the same init.
    const fresh = !takeover && this.closed === 0 && initMode(this.cfg) === 'shared';
    return [...actions, ...this.startSync(this.closed + 1, !fresh)];
  }

  private startSync(sync: number, fullForAll: boolean): ProtocolAction[] {
    const theta = this.theta!;
    const done = sync >= this.finalSync;
    const workers = [this.ctx.id, ...[...this.available].sort()];
    const timer = `sync:${sync}:${++this.attempts}`;
    const actions: ProtocolAction[] = [];
    const last = this.lastStep;
    for (const w of workers) {
      const stepOnly = !fullForAll && (sync === 1 || (last !== null && this.answered.has(w)));
      if (w === this.ctx.id) continue;
      const msg: { type: string; sync: number; full: boolean; done: boolean; [k: string]: unknown } = { type: 'diloco/sync', sync, full: !stepOnly, done };
      if (!stepOnly) msg.theta = theta;
      else if (sync > 1) msg.update = { values: last!.step, start: last!.range.start, dtype: quantDtype(this.quant) };
      actions.push({ kind: 'send', to: w, msg });
    }
    this.collecting = done ? null : { sync, timer, expected: new Set(workers), got: new Map() };
    if (!done) actions.push({ kind: 'setTimer', id: timer, afterMs: this.cfg.roundTimeout });
    // The coordinator is a worker too: it takes what the others decode.
    const selfStepOnly = !fullForAll && (sync === 1 || (last !== null && this.answered.has(this.ctx.id)));
    const own: SyncMsg = selfStepOnly
      ? { sync, full: false, done, ...(sync > 1 ? { update: { start: last!.range.start, end: last!.range.end, values: last!.applied } } : {}) }
      : { sync, full: true, done, theta: theta.slice() };
    actions.push(...this.onSync(this.ctx.id, own));
    return actions;
  }

  private collect(from: NodeId, sync: number, delta: Fragment): ProtocolAction[] {
    if (!this.follower.leads || !this.theta) return [{ kind: 'reject', from, reason: 'delta sent to a non-coordinator' }];
    const c = this.collecting;
    const current = c?.sync ?? this.finalSync;
    if (sync > current || sync < current - LATE_WINDOW * this.P) return [{ kind: 'reject', from, reason: `delta for sync ${sync}, outside ${current - LATE_WINDOW * this.P}..${current}` }];
    if (!c || sync < c.sync) return [{ kind: 'log', text: `late delta from ${from} for sync ${sync} (now ${current}), dropped` }];
    if (!c.expected.has(from)) return [{ kind: 'reject', from, reason: `delta from a worker not handed sync ${sync}` }];
    if (c.got.has(from)) return [{ kind: 'reject', from, reason: 'duplicate delta' }];
    const range = this.ranges[sync % this.P];
    if (delta.start !== range.start || delta.end !== range.end) return [{ kind: 'reject', from, reason: `delta covers [${delta.start}, ${delta.end}), sync ${sync} is fragment [${range.start}, ${range.end})` }];
    c.got.set(from, delta.values);
    return c.got.size === c.expected.size ? this.closeSync() : [];
  }

  private closeSync(): ProtocolAction[] {
    const c = this.collecting!;
    this.collecting = null;
    const range = this.ranges[c.sync % this.P];
    const actions: ProtocolAction[] = [{ kind: 'clearTimer', id: c.timer }];
    // A fixed order, so the float sums do not depend on arrival order.
    let entries = [...c.got.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (entries.length >= 3) {
      const norms = entries.map(([, d]) => l2(d));
      const median = [...norms].sort((a, b) => a - b)[Math.floor(norms.length / 2)];
      const keep = entries.filter((_, i) => norms[i] <= OUTLIER_FACTOR * median + 1e-12);
      for (const [id] of entries) if (!keep.some(([k]) => k === id)) actions.push({ kind: 'reject', from: id, reason: `delta norm over ${OUTLIER_FACTOR}× the median` });
      entries = keep;
    }
    const step = nesterovStep(this.momentum!, range, meanOf(entries.map(([, d]) => d)), this.cfg.outerLr, this.cfg.outerMomentum);
    const applied = roundTrip(step, this.quant);
    addInto(this.theta!, range, applied);
    this.lastStep = { range, step, applied };
    this.answered = new Set(entries.map(([id]) => id));
    this.closed = c.sync;
    if (c.sync % this.P === 0) {
      const round = c.sync / this.P;
      actions.push({ kind: 'model', round, params: this.theta!.slice(), scope: 'global' }, { kind: 'round', round });
    }
    return [...actions, ...this.startSync(c.sync + 1, false)];
  }

  onTimer(id: string): ProtocolAction[] {
    const c = this.collecting;
    if (!c || id !== c.timer) return [];
    if (c.got.size > 0) return this.closeSync();
    return [{ kind: 'log', text: `sync ${c.sync}: nobody answered in time; handing the whole model out again` }, ...this.startSync(c.sync, true)];
  }

  onRoster(peers: NodeId[], coordinator?: NodeId): ProtocolAction[] {
    this.available = new Set(peers.filter((p) => p !== this.ctx.id));
    const actions: ProtocolAction[] = [];
    const c = this.collecting;
    if (this.follower.leads && c) {
      // Workers that left will not answer: stop waiting for them.
      for (const w of [...c.expected]) if (w !== this.ctx.id && !this.available.has(w) && !c.got.has(w)) c.expected.delete(w);
      if (c.got.size > 0 && c.got.size === c.expected.size) actions.push(...this.closeSync());
    }
    const change = this.follower.follow(coordinator);
    if (!change) return actions;
    if (change.stepsUp && this.follower.running && !this.finished) return [...actions, ...this.becomeCoordinator(true)];
    if (!this.follower.leads) this.collecting = null;
    return actions;
  }

  // ─── worker ────────────────────────────────────────────────────────────────

  onMessage(from: NodeId, msg: { type: string; [k: string]: unknown }): ProtocolAction[] {
    switch (msg.type) {
      case 'diloco/sync':
        return this.onSync(from, { sync: msg.sync as number, full: msg.full as boolean, done: msg.done as boolean, theta: msg.theta as Float32Array | undefined, update: msg.update as Fragment | undefined });
      case 'diloco/delta':
        return this.collect(from, msg.sync as number, msg.delta as Fragment);
      default:
        return [{ kind: 'reject', from, reason: `unexpected ${msg.type}` }];
    }
  }

  /** Why this sync message cannot be true, or null. */
  private refuse(from: NodeId, m: SyncMsg): string | null {
    if (this.follower.foreign(from)) return 'sync from a non-coordinator';
    if (this.finished) return 'sync after the run ended';
    if (m.sync > this.finalSync) return `sync ${m.sync} beyond the last (${this.finalSync})`;
    if (m.done !== (m.sync === this.finalSync)) return `done flag on sync ${m.sync} (the last is ${this.finalSync})`;
    if (m.full !== (m.theta !== undefined) || (m.full && m.update)) return 'a sync carries the whole model xor a step';
    if (m.full) return null;
    // A step applies only to the θ this worker holds: it must have answered the sync just before.
    if (this.pending) return `a second sync (${m.sync}) while one is pending`;
    if (m.sync === 1) return this.applied ? 'a second first sync' : m.update ? 'a step on the first sync' : null;
    if (m.sync !== this.lastSent + 1 || this.version !== this.lastSent - 1) return `step for sync ${m.sync}, this worker sent ${this.lastSent} from θ of ${this.version}`;
    const range = this.ranges[(m.sync - 1) % this.P];
    if (!m.update || m.update.start !== range.start || m.update.end !== range.end) return `sync ${m.sync} must carry fragment [${range.start}, ${range.end})`;
    return null;
  }

  private onSync(from: NodeId, m: SyncMsg): ProtocolAction[] {
    const why = this.refuse(from, m);
    if (why) return [{ kind: 'reject', from, reason: why }];
    this.follower.enrol(from);
    this.pending = m;
    return this.training ? [] : this.applyPending();
  }

  private applyPending(): ProtocolAction[] {
    const m = this.pending!;
    this.pending = null;
    const k = m.sync;
    const actions: ProtocolAction[] = [];
    let steps = syncPlan(k, this.cfg.innerSteps, this.P).steps;
    if (m.full) {
      this.global = m.theta!.slice();
      this.local = m.theta!.slice();
    } else if (m.update) {
      const range = { start: m.update.start, end: m.update.end };
      addInto(this.global, range, m.update.values);
      mixInto(this.local, this.global, range, this.cfg.mixAlpha);
      steps -= this.overlapAfter(k - 1);
    }
    this.version = k - 1;
    this.lastSent = k - 1;
    this.applied = true;
    if (!this.follower.leads && k > 1 && (k - 1) % this.P === 0) actions.push({ kind: 'model', round: (k - 1) / this.P, params: this.global.slice(), scope: 'global' });
    if (m.done) {
      this.finished = true;
      this.local = this.global.slice();
      return [...actions, { kind: 'round', round: this.cfg.rounds }, { kind: 'state', state: 'done', role: this.follower.role }, { kind: 'done' }];
    }
    return [...actions, ...this.train('toSync', k, steps)];
  }

  private train(chunk: 'toSync' | 'overlap', sync: number, steps: number): ProtocolAction[] {
    if (steps <= 0) return this.chunkDone(chunk, sync);
    const id = `inner:${++this.computeCount}`;
    this.training = { id, chunk, sync };
    const c = this.cfg;
    const request: TrainRequest = {
      kind: 'train',
      params: this.local,
      epochs: 1,
      steps,
      batch: c.batch,
      lr: c.innerLr,
      optimizer: c.innerOpt === 'sgd' ? SGD : adamw(),
      stateKey: STATE_KEY,
    };
    return [{ kind: 'state', state: 'training', role: this.follower.role }, { kind: 'compute', id, round: Math.floor((sync - 1) / this.P) + 1, request }];
  }

  onComputed(id: string, result: ComputeResult): ProtocolAction[] {
    const t = this.training;
    if (!t || id !== t.id || result.kind !== 'train' || this.finished) return [];
    this.training = null;
    this.local = result.params;
    return this.chunkDone(t.chunk, t.sync);
  }

  private chunkDone(chunk: 'toSync' | 'overlap', sync: number): ProtocolAction[] {
    // A whole model arrived meanwhile (this worker fell behind): start over from it.
    if (this.pending?.full) return this.applyPending();
    if (chunk === 'overlap') return this.idle();
    const range = this.ranges[sync % this.P];
    const delta = outerGradient(this.global, this.local, range);
    this.lastSent = sync;
    // Start the overlap's training before handing Δ over: the coordinator may answer at once (it is this node).
    const next = this.overlapAfter(sync);
    const actions: ProtocolAction[] = next > 0 ? this.train('overlap', sync, next) : [];
    if (this.follower.leads) {
      actions.push(...this.collect(this.ctx.id, sync, { start: range.start, end: range.end, values: roundTrip(delta, this.quant) }));
    } else if (this.follower.current) {
      actions.push({ kind: 'send', to: this.follower.current, msg: { type: 'diloco/delta', sync, delta: { values: delta, start: range.start, dtype: quantDtype(this.quant) } } });
    }
    if (next <= 0 && !this.training && !this.finished) actions.push(...this.idle());
    return actions;
  }

  private idle(): ProtocolAction[] {
    if (this.pending) return this.applyPending();
    return [{ kind: 'state', state: 'waiting', role: this.follower.role }];
  }
}
