import type { ComputeResult } from '../../core/learn/compute.ts';
import type { Message } from '../../core/wire/codec.ts';
import { roomTraining } from '../compute.ts';
import type { NodeId, Protocol, ProtocolAction, ProtocolContext, ProtocolEvent, ProtocolReport } from '../protocol.ts';
import { buildTopology, compareIds, sortIds, type Topology } from '../topology.ts';
import type { WireVisits } from './messages.ts';
import { coefficientOfVariation, srrwNext } from './walk.ts';

/** The walk's one model and what it carries. `epoch` counts re-injections (see the class comment). */
export interface Token {
  epoch: number;
  /** Trainings applied to `params` so far. */
  step: number;
  params: Float32Array;
  /** Visits (trainings) per node that is still in the room. */
  visits: Map<NodeId, number>;
  /** Visits of nodes that have left; Σ visits + gone = step. */
  gone: number;
}

/** "The token is at `holder`, which trains it from step `step`." */
export interface Claim {
  epoch: number;
  step: number;
  holder: NodeId;
}

/** > 0 when claim a is fresher: a later epoch, then a later step, then (two copies at one step) the lower holder id. */
export function fresher(a: Claim, b: Claim): number {
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  if (a.step !== b.step) return a.step - b.step;
  return compareIds(b.holder, a.holder);
}

/** A node that hears the walk step by step believes claims at most this many steps ahead (a few lost beacons are tolerated). */
const STEP_WINDOW = 8;
/** A node that has lost track of the walk believes epochs at most this far ahead of the last it knew. */
const EPOCH_WINDOW = 2;
/** Sends of one pass to one neighbour before it is given up on (each waits roundTimeout/8 for the ack). */
const ACK_TRIES = 3;
/** Beacon keys remembered for the "did the sender hold the previous step" check. */
const LOG_KEYS = 64;

const key = (epoch: number, step: number) => `${epoch}:${step}`;

/**
 * Token algorithm with a self-repellent random walk (Hu, Doshi, Eun, ICML 2024): one model walks the
 * graph of `topology`. The node holding it trains it on its own data (the room's local training: a
 * `train` compute request) and hands it to a neighbour drawn from the SRRW kernel of walk.ts; the
 * token carries the visit counts that the kernel repels from. A round of the run is one step of the
 * walk: one training, one hand-off (`rounds` steps in all). The token is the run's one model, so the
 * module evaluates it as a global model (every node reports the last token it held).
 *
 * Messages: `token/pass` (the model, step, visits) to the chosen neighbour, which answers
 * `token/ack`; `token/beacon` (8 bytes) from each new holder to everyone, so every node knows
 * where the token is (the topology view shows it) and notices when it is lost; `token/done`, the
 * final model from the last holder to everyone.
 *
 * Recovery, since a tab can close while it holds the token:
 * - Every node keeps a copy: the last token it held, as it passed it on (at first, step 0, the
 *   shared init). The holder's predecessor thus has the token exactly as the holder received it.
 * - A hand-off is not done until the receiver acks (a receiver's beacon counts as an ack). No ack
 *   after `roundTimeout`/4: sent once more, then that neighbour is suspected and the walk draws
 *   again without it (or stays here when every neighbour is suspected). A neighbour that leaves
 *   the roster is given up at once.
 * - The holder repeats its beacon every `roundTimeout`/3 while it trains, so a slow holder is never
 *   taken for a lost one. A node that hears nothing of the walk for `roundTimeout`, or sees the
 *   holder leave the roster, waits (gap + ½ + rank/2N)·u, u = `roundTimeout`/20, where gap is how
 *   many steps its copy is behind the last claim it heard and rank its place among the ids, and
 *   then re-injects its copy under epoch + 1: it holds it, beacons, trains and passes it on. The
 *   predecessor (gap 0) goes first; its beacon cancels everyone else's wait, and if it is gone too
 *   the next freshest copy follows one u later.
 * - Two live copies (a holder thought lost but only slow, a lost ack) are resolved by `fresher`:
 *   epoch, then step, then the lower holder id. A holder that hears a fresher claim drops its copy;
 *   a node handed a token older than what it has heard of acks it as not taken, so a stale walk
 *   dies at its next hand-off. Two holders never both drop: each walk's claims only grow.
 *
 * Claims are bounded (besides the codec's shapes): a pass must come from a graph neighbour, be at
 * most STEP_WINDOW steps beyond the last step this node heard of, of the same epoch unless this
 * node itself doubts the holder is there (then at most EPOCH_WINDOW epochs ahead) or the claim is
 * the predecessor re-injecting exactly the step it handed over, from the node
 * that beaconed the previous step when that is known, and carry visit counts of known nodes only,
 * each at most the step, summing (with `gone`) to exactly the step. Beacons and `done` are bounded
 * the same way; an ack must answer a pass this node made. A node that has never heard of the walk
 * (a late joiner) takes its first claim on trust, bounded by `rounds`.
 */
export class TokenWalk implements Protocol {
  private readonly me: NodeId;
  private readonly T: number;
  private copy: Token;
  private news: Claim | null = null;
  private newsAt = 0;
  private holding: { token: Token; from: NodeId | null; trainId: string } | null = null;
  private handoff: { to: NodeId; token: Token; tries: number } | null = null;
  /** The claim of this node's last pass and who it went to (a late ack is no lie). */
  private lastPassed: { epoch: number; step: number; to: Set<NodeId> } | null = null;
  /** The last pass this node took, to ack a repeat of it again. */
  private lastTaken: { epoch: number; step: number; from: NodeId } | null = null;
  private recovering = false;
  private holds = 0;
  private peers: NodeId[];
  private coordinator: NodeId | undefined;
  private readonly known = new Set<NodeId>();
  /** Neighbours that did not take the token, skipped by the walk until the time given (or until they speak). */
  private readonly suspects = new Map<NodeId, number>();
  private readonly beaconLog = new Map<string, Set<NodeId>>();
  private topology: Topology | null = null;
  private started = false;
  private stopped = false;
  private finished = false;

  constructor(private readonly ctx: ProtocolContext) {
    this.me = ctx.id;
    this.T = ctx.config.roundTimeout;
    this.copy = { epoch: 0, step: 0, params: ctx.initialParams, visits: new Map(), gone: 0 };
    this.peers = sortIds(ctx.peers.filter((p) => p !== ctx.id));
    this.known.add(this.me);
    for (const p of this.peers) this.known.add(p);
  }

  get round(): number {
    return this.copy.step;
  }

  currentParams(): Float32Array {
    return this.copy.params;
  }

  /** Where the token is as this node last heard, or null before it has heard. */
  get claim(): Claim | null {
    return this.news;
  }

  /** Whether this node holds the token now (is training it). */
  get isHolding(): boolean {
    return this.holding !== null;
  }

  /** The last token this node held. */
  get lastToken(): Token {
    return this.copy;
  }

  report(): ProtocolReport {
    const ids = sortIds([this.me, ...this.peers]);
    const counts: Record<NodeId, number> = {};
    for (const id of ids) counts[id] = this.copy.visits.get(id) ?? 0;
    return {
      round: this.copy.step,
      values: { visitCv: coefficientOfVariation(ids.map((id) => counts[id])), recoveries: Math.max(this.copy.epoch, this.news?.epoch ?? 0) },
      perNode: { label: 'visits', counts },
      ...(this.news && !this.finished ? { focus: { node: this.news.holder, legend: 'holds the token' } } : {}),
    };
  }

  handle(event: ProtocolEvent, now: number): ProtocolAction[] {
    switch (event.kind) {
      case 'start':
        return this.start(now);
      case 'roster':
        return this.onRoster(event.peers, event.coordinator, now);
      case 'message':
        return this.onMessage(event.from, event.msg, now);
      case 'computed':
        return this.onComputed(event.id, event.result, now);
      case 'timer':
        return this.onTimer(event.id, now);
      case 'stop':
        if (this.stopped) return [];
        this.stopped = true;
        this.holding = null;
        this.handoff = null;
        return [...['watch', 'recover', 'ack', 'alive'].map((id) => ({ kind: 'clearTimer', id }) as const), { kind: 'state', state: 'idle' }];
    }
  }

  private get active(): boolean {
    return this.started && !this.stopped && !this.finished;
  }

  private graph(): Topology {
    this.topology ??= buildTopology(this.ctx.config.topology, [this.me, ...this.peers], this.ctx.config.seed);
    return this.topology;
  }

  private start(now: number): ProtocolAction[] {
    if (this.started) return [];
    this.started = true;
    const first = this.coordinator ?? sortIds([this.me, ...this.peers])[0];
    const actions: ProtocolAction[] = [{ kind: 'model', round: 0, params: this.copy.params, scope: 'global' }];
    // The others learn of the walk from the first holder's beacon; until then they know nothing to recover.
    if (first === this.me) return [...actions, ...this.hold(this.copy, null, now)];
    return [...actions, { kind: 'state', state: 'waiting', role: 'walker' }];
  }

  // ─── holding, training, passing ─────────────────────────────────────────────────────────────

  /** Takes the token: tells everyone, trains it. */
  private hold(token: Token, from: NodeId | null, now: number): ProtocolAction[] {
    const trainId = `train:${++this.holds}`;
    this.holding = { token, from, trainId };
    const { epoch, step } = token;
    const actions = this.setNews({ epoch, step, holder: this.me }, now);
    // The sender too: the beacon is a second chance for its ack.
    for (const p of this.peers) actions.push({ kind: 'send', to: p, msg: { type: 'token/beacon', epoch, step } });
    actions.push(
      { kind: 'setTimer', id: 'alive', afterMs: this.T / 3 },
      { kind: 'model', round: step, params: token.params, scope: 'global' },
      { kind: 'state', state: 'training', role: 'holder' },
      { kind: 'compute', id: trainId, round: step + 1, request: roomTraining(this.ctx.config, token.params) },
    );
    return actions;
  }

  private onComputed(id: string, result: ComputeResult, now: number): ProtocolAction[] {
    const h = this.holding;
    if (!this.active || !h || id !== h.trainId || result.kind !== 'train') return [];
    // 'alive' keeps running through the hand-off; a self-loop resets it and the end clears it.
    this.holding = null;
    const t = h.token;
    const visits = new Map<NodeId, number>();
    let gone = t.gone;
    const here = new Set([this.me, ...this.peers]);
    for (const [id2, n] of t.visits) {
      if (here.has(id2)) visits.set(id2, n);
      else gone += n;
    }
    visits.set(this.me, (visits.get(this.me) ?? 0) + 1);
    const next: Token = { epoch: t.epoch, step: t.step + 1, params: result.params, visits, gone };
    this.copy = next;
    const actions: ProtocolAction[] = [
      { kind: 'model', round: next.step, params: next.params, scope: 'global' },
      { kind: 'round', round: next.step },
    ];
    if (next.step >= this.ctx.config.rounds) return [...actions, ...this.finish(next.params)];
    return [...actions, ...this.route(next, now)];
  }

  /** The next node from the self-repellent kernel, among the neighbours not suspected. */
  private nextHop(token: Token, now: number): NodeId {
    const skip = new Set<NodeId>();
    for (const [id, until] of this.suspects) if (until > now) skip.add(id);
    return srrwNext(this.graph(), this.me, {
      round: token.step,
      visits: (j) => token.visits.get(j) ?? 0,
      alpha: this.ctx.config.alpha,
      u: this.ctx.rng.next(),
      skip,
      // Cut off: every neighbour is suspected (the simulator's crashed nodes stay in everyone's
      // graph). Hand the token to any node not suspected rather than keep it here for good; the
      // receiver takes it from a non-neighbour because it heard this node's beacon for the step.
      fallback: this.peers.filter((p) => !skip.has(p)),
    });
  }

  private route(token: Token, now: number): ProtocolAction[] {
    const to = this.nextHop(token, now);
    if (to === this.me) return this.hold(token, this.me, now);
    return this.pass(token, to);
  }

  private pass(token: Token, to: NodeId, tries = 1): ProtocolAction[] {
    this.handoff = { to, token, tries };
    if (this.lastPassed?.epoch !== token.epoch || this.lastPassed.step !== token.step) this.lastPassed = { epoch: token.epoch, step: token.step, to: new Set() };
    this.lastPassed.to.add(to);
    const ids = sortIds(token.visits.keys());
    const visits: WireVisits = { ids, n: ids.map((id) => token.visits.get(id)!) };
    return [
      { kind: 'send', to, msg: { type: 'token/pass', epoch: token.epoch, step: token.step, visits, gone: token.gone, params: token.params } },
      { kind: 'setTimer', id: 'ack', afterMs: this.T / 8 },
      { kind: 'state', state: 'waiting', role: 'walker' },
    ];
  }

  /** The hand-off is over: the receiver holds the token (or knew a fresher one and dropped it). */
  private handedOver(to: NodeId, taken: boolean, now: number): ProtocolAction[] {
    const h = this.handoff!;
    this.handoff = null;
    const actions: ProtocolAction[] = [{ kind: 'clearTimer', id: 'ack' }];
    const c: Claim = { epoch: h.token.epoch, step: h.token.step, holder: to };
    if (!taken) {
      // Somebody knows a fresher walk that this node has not heard of: forget this walk's claim and
      // wait to hear of that one (its holder's next beacon reaches everyone) instead of recovering this one.
      this.news = null;
      return [...actions, { kind: 'clearTimer', id: 'watch' }, { kind: 'log', text: `${to} knew a fresher token than step ${h.token.step}; this copy of the walk ends here` }];
    }
    if (!this.news || fresher(c, this.news) > 0) return [...actions, ...this.setNews(c, now)];
    return [...actions, { kind: 'setTimer', id: 'watch', afterMs: this.T }];
  }

  /** This node trained the last step (its model action is out already): everyone gets the final model. */
  private finish(params: Float32Array): ProtocolAction[] {
    this.finished = true;
    const { rounds } = this.ctx.config;
    const epoch = this.copy.epoch;
    return [
      ...['watch', 'recover', 'ack', 'alive'].map((id) => ({ kind: 'clearTimer', id }) as const),
      ...this.peers.map((to) => ({ kind: 'send', to, msg: { type: 'token/done', epoch, step: rounds, params } }) as const),
      { kind: 'state', state: 'done', role: 'walker' },
      { kind: 'done' },
    ];
  }

  // ─── what this node knows of the walk ───────────────────────────────────────────────────────

  private setNews(c: Claim, now: number): ProtocolAction[] {
    this.news = c;
    this.newsAt = now;
    this.remember(c);
    this.recovering = false;
    const actions: ProtocolAction[] = [{ kind: 'clearTimer', id: 'recover' }];
    actions.push(c.holder === this.me ? { kind: 'clearTimer', id: 'watch' } : { kind: 'setTimer', id: 'watch', afterMs: this.T });
    return actions;
  }

  private remember(c: Claim): void {
    const k = key(c.epoch, c.step);
    const set = this.beaconLog.get(k) ?? new Set<NodeId>();
    set.add(c.holder);
    this.beaconLog.delete(k);
    this.beaconLog.set(k, set);
    while (this.beaconLog.size > LOG_KEYS) this.beaconLog.delete(this.beaconLog.keys().next().value!);
  }

  /**
   * Whether this node doubts the holder is there: it left the roster, or nothing was heard for
   * roundTimeout/2 (the holder repeats its beacon every roundTimeout/3). A doubting node believes a
   * re-injection (a higher epoch) and catches up with a walk it lost track of (any step).
   */
  private suspecting(now: number): boolean {
    const n = this.news;
    return !!n && n.holder !== this.me && (!this.peers.includes(n.holder) || now - this.newsAt >= this.T / 2);
  }

  /** Why a claim of (epoch, step) is not believable here, or null. Older epochs pass: freshness sorts them out. */
  private implausible(from: NodeId, epoch: number, step: number, now: number): string | null {
    if (step > this.ctx.config.rounds) return `step ${step} beyond the last step ${this.ctx.config.rounds}`;
    const n = this.news;
    if (!n || epoch < n.epoch) return null;
    if (this.suspecting(now)) return epoch > n.epoch + EPOCH_WINDOW ? `epoch ${epoch} more than ${EPOCH_WINDOW} beyond epoch ${n.epoch}` : null;
    // The predecessor re-injecting the very token it handed over: it may see the holder leave
    // before this node does (the roster travels through the server, its beacon peer to peer).
    if (epoch === n.epoch + 1 && step === n.step && this.beaconLog.get(key(n.epoch, n.step - 1))?.has(from)) return null;
    if (epoch > n.epoch) return `epoch ${epoch} while the walk of epoch ${n.epoch} is alive (held by ${n.holder})`;
    if (step > n.step + STEP_WINDOW) return `step ${step} more than ${STEP_WINDOW} beyond step ${n.step}`;
    return null;
  }

  /** Null, or why `from` cannot have held step `step` − 1 (another node beaconed it). */
  private notPredecessor(from: NodeId, epoch: number, step: number): string | null {
    const held = this.beaconLog.get(key(epoch, step - 1));
    return held && !held.has(from) ? `${from} did not hold step ${step - 1} (${[...held].join(', ')} did)` : null;
  }

  private readVisits(w: WireVisits, step: number, gone: number): Map<NodeId, number> | string {
    if (w.ids.length > this.known.size) return `${w.ids.length} visit counts for ${this.known.size} known nodes`;
    const visits = new Map<NodeId, number>();
    let sum = gone;
    for (let k = 0; k < w.ids.length; k++) {
      const id = w.ids[k];
      if (visits.has(id)) return `visit count of ${id} twice`;
      if (!this.known.has(id)) return `visit count of unknown node ${id}`;
      if (w.n[k] > step) return `${w.n[k]} visits of ${id} in ${step} steps`;
      visits.set(id, w.n[k]);
      sum += w.n[k];
    }
    if (sum !== step) return `visit counts sum to ${sum}, not the step ${step}`;
    return visits;
  }

  // ─── messages ───────────────────────────────────────────────────────────────────────────────

  private onMessage(from: NodeId, msg: Message, now: number): ProtocolAction[] {
    if (from === this.me) return [{ kind: 'reject', from, reason: 'message from itself' }];
    this.suspects.delete(from);
    if (this.stopped) return [];
    switch (msg.type) {
      case 'token/pass':
        return this.onPass(from, msg, now);
      case 'token/ack':
        return this.onAck(from, msg.epoch as number, msg.step as number, msg.taken === 1, now);
      case 'token/beacon':
        return this.onBeacon(from, msg.epoch as number, msg.step as number, now);
      case 'token/done':
        return this.onDone(from, msg, now);
      default:
        return [{ kind: 'reject', from, reason: `unexpected ${msg.type}` }];
    }
  }

  private onPass(from: NodeId, msg: Message, now: number): ProtocolAction[] {
    const epoch = msg.epoch as number;
    const step = msg.step as number;
    const ack = (taken: boolean): ProtocolAction => ({ kind: 'send', to: from, msg: { type: 'token/ack', epoch, step, taken: taken ? 1 : 0 } });
    // The run is over here: say so, so the sender stops trying.
    if (this.finished) return [ack(false)];
    if (!this.started) return [];
    const reject = (reason: string): ProtocolAction[] => [{ kind: 'reject', from, reason }];
    // A neighbour, or (a holder cut off from its neighbours) the node that beaconed the previous step.
    if (!this.graph().neighbours(this.me, step).includes(from) && !this.beaconLog.get(key(epoch, step - 1))?.has(from)) return reject(`token from ${from}, neither a neighbour nor the holder of step ${step - 1}`);
    const why = this.implausible(from, epoch, step, now) ?? this.notPredecessor(from, epoch, step);
    // A re-injection while this node hears the walk fine: the sender lost track of it. Tell it, so it drops its copy.
    if (why && this.news && epoch > this.news.epoch) return [...reject(`token: ${why}`), ack(false)];
    if (why) return reject(`token: ${why}`);
    const visits = this.readVisits(msg.visits as WireVisits, step, msg.gone as number);
    if (typeof visits === 'string') return reject(`token: ${visits}`);
    // The same pass again (our ack was lost): ack again, whether this node still trains it or has passed it on.
    const t = this.lastTaken;
    if (t && t.from === from && t.epoch === epoch && t.step === step) return [ack(true)];
    const h = this.holding;
    const c: Claim = { epoch, step, holder: this.me };
    if (this.news && fresher(c, this.news) <= 0) return [ack(false), { kind: 'log', text: `dropped a stale token (epoch ${epoch}, step ${step}) from ${from}: the walk is at epoch ${this.news.epoch}, step ${this.news.step}` }];
    const actions: ProtocolAction[] = [ack(true)];
    if (h) actions.push({ kind: 'log', text: `dropping the token of step ${h.token.step}: ${from} handed over a fresher one` });
    if (this.handoff) {
      this.handoff = null;
      actions.push({ kind: 'clearTimer', id: 'ack' });
    }
    const token: Token = { epoch, step, params: msg.params!, visits, gone: msg.gone as number };
    this.copy = token;
    this.lastTaken = { epoch, step, from };
    return [...actions, ...this.hold(token, from, now)];
  }

  private onAck(from: NodeId, epoch: number, step: number, taken: boolean, now: number): ProtocolAction[] {
    const h = this.handoff;
    if (h && h.to === from && h.token.epoch === epoch && h.token.step === step) return this.handedOver(from, taken, now);
    const p = this.lastPassed;
    if (p && p.epoch === epoch && p.step === step && p.to.has(from)) return [];
    return [{ kind: 'reject', from, reason: `ack of (epoch ${epoch}, step ${step}), which this node did not pass to ${from}` }];
  }

  private onBeacon(from: NodeId, epoch: number, step: number, now: number): ProtocolAction[] {
    if (this.finished || !this.started) return [];
    const why = this.implausible(from, epoch, step, now);
    if (why) return [{ kind: 'reject', from, reason: `beacon: ${why}` }];
    const c: Claim = { epoch, step, holder: from };
    this.remember(c);
    const actions: ProtocolAction[] = [];
    const h = this.handoff;
    // The receiver's beacon doubles as its ack.
    if (h && h.to === from && h.token.epoch === epoch && h.token.step === step) actions.push(...this.handedOver(from, true, now));
    const order = this.news ? fresher(c, this.news) : 1;
    if (order < 0) return actions;
    if (order === 0) {
      // The holder's keepalive: it is there, so no recovery.
      this.newsAt = now;
      this.recovering = false;
      return [...actions, { kind: 'clearTimer', id: 'recover' }, { kind: 'setTimer', id: 'watch', afterMs: this.T }];
    }
    const mine = this.holding;
    if (mine) {
      this.holding = null;
      actions.push(
        { kind: 'clearTimer', id: 'alive' },
        { kind: 'log', text: `dropping the token of step ${mine.token.step}: ${from} holds a fresher one (epoch ${epoch}, step ${step})` },
        { kind: 'state', state: 'waiting', role: 'walker' },
      );
    }
    return [...actions, ...this.setNews(c, now)];
  }

  private onDone(from: NodeId, msg: Message, now: number): ProtocolAction[] {
    if (this.finished || !this.started) return [];
    const epoch = msg.epoch as number;
    const { rounds } = this.ctx.config;
    if (msg.step !== rounds) return [{ kind: 'reject', from, reason: `done at step ${String(msg.step)}, not the last step ${rounds}` }];
    const why = this.implausible(from, epoch, rounds, now) ?? this.notPredecessor(from, epoch, rounds);
    if (why) return [{ kind: 'reject', from, reason: `done: ${why}` }];
    // The end of a walk that a re-injection replaced: the live walk will end on its own.
    if (this.news && epoch < this.news.epoch) return [];
    this.copy = { ...this.copy, epoch, step: rounds, params: msg.params! };
    this.holding = null;
    this.handoff = null;
    return this.finishHere(msg.params!);
  }

  /** Another node finished the walk: end on its final model. */
  private finishHere(params: Float32Array): ProtocolAction[] {
    this.finished = true;
    return [
      ...['watch', 'recover', 'ack', 'alive'].map((id) => ({ kind: 'clearTimer', id }) as const),
      { kind: 'model', round: this.ctx.config.rounds, params, scope: 'global' },
      { kind: 'round', round: this.ctx.config.rounds },
      { kind: 'state', state: 'done', role: 'walker' },
      { kind: 'done' },
    ];
  }

  // ─── churn ──────────────────────────────────────────────────────────────────────────────────

  private onRoster(peers: NodeId[], coordinator: NodeId | undefined, now: number): ProtocolAction[] {
    this.peers = sortIds(peers.filter((p) => p !== this.me));
    for (const p of this.peers) this.known.add(p);
    if (!this.started) this.coordinator = coordinator;
    this.topology = null;
    if (!this.active) return [];
    const actions: ProtocolAction[] = [];
    const h = this.handoff;
    if (h && !this.peers.includes(h.to)) {
      this.handoff = null;
      this.suspect(h.to, now);
      actions.push({ kind: 'clearTimer', id: 'ack' }, { kind: 'log', text: `${h.to} left before taking the token; drawing another neighbour` }, ...this.route(h.token, now));
    }
    const n = this.news;
    if (n && n.holder !== this.me && !this.peers.includes(n.holder) && !this.holding && !this.handoff) actions.push(...this.scheduleRecovery(now, `${n.holder} left while holding the token`));
    return actions;
  }

  private onTimer(id: string, now: number): ProtocolAction[] {
    if (!this.active) return [];
    switch (id) {
      case 'ack': {
        const h = this.handoff;
        if (!h) return [];
        if (h.tries < ACK_TRIES && this.peers.includes(h.to)) return this.pass(h.token, h.to, h.tries + 1);
        this.handoff = null;
        this.suspect(h.to, now);
        return [{ kind: 'log', text: `${h.to} did not take the token of step ${h.token.step}; drawing another neighbour` }, ...this.route(h.token, now)];
      }
      case 'alive': {
        // Repeats this node's claim while it trains the token or tries to hand it on, so a slow
        // training or a long hand-off is not taken for a lost token. The claim stays the step it
        // trained from: the receiver's own beacon is the fresher one.
        const n = this.news;
        if ((!this.holding && !this.handoff) || n?.holder !== this.me) return [];
        const { epoch, step } = n;
        return [...this.peers.map((to) => ({ kind: 'send', to, msg: { type: 'token/beacon', epoch, step } }) as const), { kind: 'setTimer', id: 'alive', afterMs: this.T / 3 }];
      }
      case 'watch':
        if (this.holding || this.handoff || !this.news) return [];
        return this.scheduleRecovery(now, `no word of the token for ${this.T} ms`);
      case 'recover':
        return this.recovering && !this.holding && !this.handoff ? this.reinject(now) : [];
      default:
        return [];
    }
  }

  /** The freshest copy goes first: wait (gap + ½ + rank/2N)·u, u = roundTimeout/20. */
  private scheduleRecovery(now: number, why: string): ProtocolAction[] {
    if (this.recovering || !this.news) return [];
    this.recovering = true;
    const ids = sortIds([this.me, ...this.peers]);
    const gap = Math.max(0, this.news.step - this.copy.step);
    const delay = (this.T / 20) * (gap + 0.5 + ids.indexOf(this.me) / (2 * ids.length));
    return [
      { kind: 'setTimer', id: 'recover', afterMs: delay },
      { kind: 'log', text: `${why}; re-injecting this node's copy (step ${this.copy.step}) in ${Math.round(delay)} ms unless the walk is heard of first` },
    ];
  }

  /** Skips `id` in the walk for 2·roundTimeout: long enough not to stall on a dead node every step, short enough that a node which lost a few frames is visited again. */
  private suspect(id: NodeId, now: number): void {
    this.suspects.set(id, now + 2 * this.T);
  }

  private reinject(now: number): ProtocolAction[] {
    const n = this.news!;
    if (n.holder !== this.me) this.suspect(n.holder, now);
    const token: Token = { ...this.copy, epoch: n.epoch + 1 };
    return [{ kind: 'log', text: `re-injecting the token: step ${token.step}, epoch ${token.epoch} (the walk was last heard of at step ${n.step}, held by ${n.holder})` }, ...this.hold(token, null, now)];
  }
}
