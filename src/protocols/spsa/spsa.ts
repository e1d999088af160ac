import type { ComputeResult } from '../../core/learn/compute.ts';
import { CoordinatorFollower, type FollowerHandlers } from '../common/follower.ts';
import type { NodeId, Protocol, ProtocolAction, ProtocolContext, ProtocolEvent } from '../protocol.ts';
import { sortIds } from '../topology.ts';
import { applyList, encodeGradient, NO_GRADIENT, probeSeed } from './byte.ts';
import { MAX_SLOTS } from './messages.ts';

/** How often a node without a slot (or out of step) asks the coordinator for one. */
export const HELLO_MS = 1000;
/** A gradient this many iterations late is dropped quietly (a slow node); older or future ones are rejected. */
const LATE_WINDOW = 2;

const probeId = (t: number) => `probe:${t}`;
const iterTimer = (t: number) => `iter:${t}`;

interface Iteration {
  t: number;
  /** Slots whose byte this iteration waits for. */
  expected: Set<number>;
  got: Map<number, number>;
}

/**
 * Distributed SPSA with one byte per node per iteration and shared randomness (Zelikman et al.
 * 2023, on MeZO's two-point estimate). Iteration t, node in slot i, at θ_{t−1}:
 *   1. one `loss` compute on a minibatch of its own data at θ ± ε·z(seed(t, i)) (forward only);
 *      g = (L⁺ − L⁻)/(2ε), sent to the coordinator as one byte (byte.ts);
 *   2. the coordinator publishes iteration t's list: one byte per slot, in slot order (0x80 for a
 *      slot that sent nothing). Only this list is applied, by every node including the coordinator:
 *      θ_t = θ_{t−1} − Σ (lr/n)·ĝ·z(seed(t, slot)). So a node that leaves mid-iteration cannot split
 *      the swarm: its byte is in the list or it is not, for everybody.
 *
 * Seeds depend on (run seed, t, slot), not on node ids: the list needs no ids, and a slot freed by
 * a departed node can be reused by a joiner in a later iteration.
 *
 * Membership: at the start the coordinator gives every peer a slot (`spsa/w`, no model: all start
 * from the shared init). A node that joins later, or that lost the stream (missed a list, a new
 * coordinator), sends `spsa/hello`; at the end of the current iteration the coordinator answers
 * with a slot and θ (one model transfer), and the node follows the lists from there. A new
 * coordinator (the old one left) starts a new epoch and sends θ to everyone once; lists of
 * another epoch are never applied.
 *
 * Churn: the coordinator waits for the slots of the iteration until `roundTimeout`, and stops
 * waiting for a node as soon as the roster says it left. A node that missed a deadline is
 * suspected and not waited for again until it sends a gradient.
 */
export class Spsa implements Protocol, FollowerHandlers {
  private theta: Float32Array;
  /** The iteration θ is at (θ_applied). */
  private applied = 0;
  private epoch = -1;
  private slot: number | null = null;
  private readonly follower: CoordinatorFollower;
  private peers = new Set<NodeId>();
  /** The largest room this node has seen (itself included): no honest list is longer. */
  private maxRoster = 1;
  private started = false;
  private finished = false;
  private stopped = false;
  /** Needs a slot or θ from the coordinator. */
  private needSync = true;
  private helloArmed = false;
  /** The iteration whose probe is being computed, and the byte sent for it. */
  private probing: number | null = null;
  private sent = new Map<number, number>();
  /** Coordinator state. */
  private slots: (NodeId | null)[] = [];
  private iter: Iteration | null = null;
  private readonly suspects = new Set<NodeId>();
  private readonly pendingWelcome = new Set<NodeId>();
  private readonly finalSent = new Set<NodeId>();

  constructor(private readonly ctx: ProtocolContext) {
    this.theta = ctx.initialParams;
    this.follower = new CoordinatorFollower(ctx.id, 'node');
    for (const p of ctx.peers) if (p !== ctx.id) this.peers.add(p);
    this.maxRoster = this.peers.size + 1;
  }

  get round(): number {
    return this.applied;
  }

  currentParams(): Float32Array {
    return this.theta;
  }

  private get active(): boolean {
    return this.started && !this.finished && !this.stopped;
  }

  handle(event: ProtocolEvent, _now: number): ProtocolAction[] {
    return this.follower.handle(event, this);
  }

  /** A node starts once: a second start changes nothing. */
  onStart(): ProtocolAction[] {
    if (this.started) return [];
    this.started = true;
    return [{ kind: 'model', round: 0, params: this.theta, scope: 'local' }, ...(this.follower.leads ? this.lead(false) : this.follow())];
  }

  /** A stopped node stays out, even if started again. */
  onStop(): void {
    this.stopped = true;
  }

  // ── as a node ────────────────────────────────────────────────────────────────────────────

  /** Waits for the coordinator's welcome, asking for it every HELLO_MS. */
  private follow(): ProtocolAction[] {
    this.needSync = true;
    return [{ kind: 'state', state: 'waiting', role: 'node' }, ...this.armHello()];
  }

  private armHello(): ProtocolAction[] {
    if (this.helloArmed) return [];
    this.helloArmed = true;
    return [{ kind: 'setTimer', id: 'hello', afterMs: HELLO_MS }];
  }

  private hello(): ProtocolAction[] {
    if (!this.follower.current || this.follower.leads) return [];
    return [{ kind: 'send', to: this.follower.current, msg: { type: 'spsa/hello', t: this.applied, e: this.epoch } }, ...this.armHello()];
  }

  /** Lost the stream: ask for θ now (and again every HELLO_MS until it comes). */
  private resync(why: string): ProtocolAction[] {
    const first = !this.needSync;
    this.needSync = true;
    this.probing = null;
    return first ? [{ kind: 'log', text: `out of step (${why}): asking the coordinator for the model` }, ...this.hello()] : this.armHello();
  }

  private probe(t: number): ProtocolAction[] {
    if (!this.active || this.slot === null || t > this.ctx.config.rounds) return [];
    this.probing = t;
    const c = this.ctx.config;
    return [
      { kind: 'state', state: 'training', role: this.follower.role },
      {
        kind: 'compute',
        id: probeId(t),
        round: t,
        request: {
          kind: 'loss',
          params: this.theta,
          batch: c.spsaBatch,
          batchSeed: `spsa:${c.seed}:${t}:${this.ctx.id}`,
          perturb: { seed: probeSeed(c.seed, t, this.slot), eps: c.spsaEps, both: true },
        },
      },
    ];
  }

  onComputed(id: string, result: ComputeResult): ProtocolAction[] {
    const t = this.probing;
    if (t === null || id !== probeId(t) || result.kind !== 'loss' || !this.active) return [];
    this.probing = null;
    if (t !== this.applied + 1) return [];
    const g = (result.loss - (result.lossMinus ?? NaN)) / (2 * this.ctx.config.spsaEps);
    const b = encodeGradient(Number.isFinite(g) ? g : NaN);
    const idle: ProtocolAction = { kind: 'state', state: 'waiting', role: this.follower.role };
    if (this.follower.leads) return [idle, ...this.collect(this.ctx.id, t, b)];
    if (!this.follower.current) return [idle];
    this.sent.set(t, b);
    this.sent.delete(t - LATE_WINDOW - 1);
    return [idle, { kind: 'send', to: this.follower.current, msg: { type: 'spsa/g', t, g: b } }];
  }

  onMessage(from: NodeId, msg: { type: string; [k: string]: unknown }): ProtocolAction[] {
    const reject = (reason: string): ProtocolAction[] => [{ kind: 'reject', from, reason }];
    if (from === this.ctx.id) return reject('message from itself');
    switch (msg.type) {
      case 'spsa/g':
        if (!this.follower.leads) return reject('gradient sent to a non-coordinator');
        if (!this.active) return [];
        return this.collect(from, msg.t as number, msg.g as number);
      case 'spsa/hello':
        if (!this.follower.leads) return reject('hello sent to a non-coordinator');
        return this.onHello(from, msg.t as number, msg.e as number);
      case 'spsa/w':
        if (from !== this.follower.current) return reject('welcome from a non-coordinator');
        return this.onWelcome(from, msg.t as number, msg.e as number, msg.slot as number, msg.params as Float32Array | undefined);
      case 'spsa/s':
        if (from !== this.follower.current || this.follower.leads) return reject('list from a non-coordinator');
        return this.onList(from, msg.t as number, msg.e as number, msg.l as Uint8Array);
      default:
        return reject(`unexpected ${msg.type}`);
    }
  }

  private onWelcome(from: NodeId, t: number, e: number, slot: number, params: Float32Array | undefined): ProtocolAction[] {
    if (!this.started || this.finished) return [];
    if (t > this.ctx.config.rounds + 1) return [{ kind: 'reject', from, reason: `welcome for iteration ${t}, beyond the last (${this.ctx.config.rounds})` }];
    const actions: ProtocolAction[] = [];
    if (params) {
      this.theta = params;
      this.applied = t - 1;
      actions.push({ kind: 'model', round: this.applied, params: this.theta, scope: 'local' }, { kind: 'round', round: this.applied });
    } else if (t !== this.applied + 1) {
      // A welcome without a model only fits a node already at θ_{t−1}.
      return [{ kind: 'reject', from, reason: `welcome for iteration ${t} without a model, this node is at ${this.applied}` }, ...this.resync('welcome without a model')];
    }
    this.epoch = e;
    this.slot = slot;
    this.needSync = false;
    this.sent.clear();
    if (this.applied >= this.ctx.config.rounds) return [...actions, ...this.finish()];
    return [...actions, ...this.probe(this.applied + 1)];
  }

  private onList(from: NodeId, t: number, epoch: number, bytes: Uint8Array): ProtocolAction[] {
    if (!this.started || this.finished) return [];
    if (bytes.length === 0) return [{ kind: 'reject', from, reason: 'empty list' }];
    if (bytes.length > this.maxRoster) return [{ kind: 'reject', from, reason: `list of ${bytes.length} gradients, the room has had at most ${this.maxRoster} nodes` }, ...this.resync('a list longer than the room')];
    if (t < 1 || t > this.ctx.config.rounds) return [{ kind: 'reject', from, reason: `list for iteration ${t}, outside 1..${this.ctx.config.rounds}` }];
    if (this.needSync) return []; // waiting for θ: lists before it are of no use
    if (epoch !== this.epoch) return this.resync(`a list of epoch ${epoch}, this node follows ${this.epoch}`);
    if (t <= this.applied) return [{ kind: 'reject', from, reason: `stale list for iteration ${t}, at ${this.applied}` }];
    if (t > this.applied + 1) return this.resync(`a list for iteration ${t}, this node is at ${this.applied}`);
    const actions: ProtocolAction[] = [];
    const mine = this.sent.get(t);
    if (this.slot !== null && mine !== undefined && this.slot < bytes.length && bytes[this.slot] !== mine && bytes[this.slot] !== NO_GRADIENT) {
      // The swarm's agreement matters more than this node's byte: apply, but count it.
      actions.push({ kind: 'reject', from, reason: `the list of iteration ${t} misreports this node's gradient` });
    }
    return [...actions, ...this.advance(t, bytes)];
  }

  /** θ_t from iteration t's list; then the next probe (or the end). */
  private advance(t: number, bytes: Uint8Array): ProtocolAction[] {
    const c = this.ctx.config;
    this.theta = applyList(this.theta, bytes, t, { runSeed: c.seed, lr: c.spsaLr, reduce: c.spsaReduce });
    this.applied = t;
    this.probing = null;
    this.sent.delete(t);
    const actions: ProtocolAction[] = [{ kind: 'model', round: t, params: this.theta, scope: 'local' }, { kind: 'round', round: t }];
    if (t >= c.rounds) return [...actions, ...this.finish()];
    if (this.follower.leads) return actions; // the coordinator's next iteration starts after its sends
    return [...actions, ...this.probe(t + 1)];
  }

  private finish(): ProtocolAction[] {
    if (this.finished) return [];
    this.finished = true;
    this.probing = null;
    return [{ kind: 'state', state: 'done', role: this.follower.role }, { kind: 'done' }];
  }

  onTimer(id: string): ProtocolAction[] {
    if (id === 'hello') {
      this.helloArmed = false;
      if (!this.active || this.follower.leads || !this.needSync) return [];
      return this.hello();
    }
    const it = this.iter;
    if (!this.active || !this.follower.leads || !it || id !== iterTimer(it.t)) return [];
    return this.close();
  }

  // ── as the coordinator ───────────────────────────────────────────────────────────────────

  /**
   * Takes the lead: at the start (everyone at θ_0, welcomes without a model) or mid-run after
   * the old coordinator left (a new epoch, welcomes with θ).
   */
  private lead(takeover: boolean): ProtocolAction[] {
    this.epoch = (this.epoch + 1) & 0xff;
    this.needSync = false;
    this.slots = [this.ctx.id, ...sortIds([...this.peers])].slice(0, MAX_SLOTS);
    this.slot = 0;
    this.suspects.clear();
    this.pendingWelcome.clear();
    const t = this.applied + 1;
    const actions: ProtocolAction[] = [{ kind: 'state', state: 'waiting', role: 'coordinator' }];
    if (takeover) actions.push({ kind: 'log', text: `became coordinator at iteration ${this.applied}: epoch ${this.epoch}, sending the model to everyone` });
    if (t > this.ctx.config.rounds) return [...actions, ...this.finish()];
    this.slots.forEach((id, slot) => {
      // At the start everyone holds the shared θ_0, unless the link asked for independent inits.
      const withModel = takeover || this.ctx.config.init === 'independent';
      if (id && id !== this.ctx.id) actions.push({ kind: 'send', to: id, msg: { type: 'spsa/w', t, e: this.epoch, slot, ...(withModel ? { params: this.theta } : {}) } });
    });
    return [...actions, ...this.begin(t)];
  }

  private begin(t: number): ProtocolAction[] {
    const expected = new Set<number>();
    this.slots.forEach((id, slot) => {
      if (id && !this.suspects.has(id)) expected.add(slot);
    });
    this.iter = { t, expected, got: new Map() };
    return [{ kind: 'setTimer', id: iterTimer(t), afterMs: this.ctx.config.roundTimeout }, ...this.probe(t)];
  }

  /** Nodes whose slot was freed when they left (bounded): a gradient they sent before leaving is honest, not a lie. */
  private readonly departed = new Set<NodeId>();

  private rememberDeparted(id: NodeId): void {
    this.departed.add(id);
    if (this.departed.size > MAX_SLOTS) this.departed.delete(this.departed.values().next().value!);
  }

  private slotOf(id: NodeId): number {
    return this.slots.indexOf(id);
  }

  private collect(from: NodeId, t: number, b: number): ProtocolAction[] {
    const it = this.iter;
    const reject = (reason: string): ProtocolAction[] => [{ kind: 'reject', from, reason }];
    if (!it) return [];
    const slot = this.slotOf(from);
    if (slot < 0) return this.pendingWelcome.has(from) || this.departed.has(from) ? [] : reject('gradient from a node without a slot');
    if (t > it.t) return reject(`gradient for iteration ${t}, collecting ${it.t}`);
    if (t < it.t) return t >= it.t - LATE_WINDOW ? [] : reject(`gradient for iteration ${t}, collecting ${it.t}`);
    if (it.got.has(slot)) return reject(`second gradient for iteration ${t}`);
    if (!it.expected.has(slot)) {
      // A suspected node that answers again is welcome; a slot that joined later is not part of t.
      if (!this.suspects.has(from)) return reject(`gradient for iteration ${t} from a slot that joined later`);
      it.expected.add(slot);
    }
    this.suspects.delete(from);
    it.got.set(slot, b);
    return this.maybeClose();
  }

  private maybeClose(): ProtocolAction[] {
    const it = this.iter!;
    for (const s of it.expected) if (!it.got.has(s)) return [];
    return this.close();
  }

  /** Publishes iteration t's list, applies it, frees departed slots, welcomes joiners, goes on. */
  private close(): ProtocolAction[] {
    const it = this.iter!;
    this.iter = null;
    const t = it.t;
    let length = this.slots.length;
    while (length > 0 && this.slots[length - 1] === null && !it.got.has(length - 1)) length--;
    const bytes = new Uint8Array(length).fill(NO_GRADIENT);
    for (const [slot, b] of it.got) if (slot < length) bytes[slot] = b;
    const actions: ProtocolAction[] = [{ kind: 'clearTimer', id: iterTimer(t) }];
    const missing: NodeId[] = [];
    for (const s of it.expected) {
      const id = this.slots[s];
      if (!it.got.has(s) && id && !this.suspects.has(id)) {
        this.suspects.add(id);
        missing.push(id);
      }
    }
    if (missing.length) actions.push({ kind: 'log', text: `iteration ${t}: no gradient from ${missing.join(', ')}; not waiting for them until they answer` });
    for (const id of this.slots) if (id && id !== this.ctx.id && this.peers.has(id) && !this.pendingWelcome.has(id)) actions.push({ kind: 'send', to: id, msg: { type: 'spsa/s', t, e: this.epoch, l: bytes } });
    actions.push(...this.advance(t, bytes));
    // Slots of departed nodes are free from the next iteration on; joiners get one with θ_t.
    // Their last gradients may still be on the wire: remember who left, to drop those quietly.
    for (const id of this.slots) if (id && id !== this.ctx.id && !this.peers.has(id)) this.rememberDeparted(id);
    this.slots = this.slots.map((id) => (id && (id === this.ctx.id || this.peers.has(id)) ? id : null));
    for (const id of sortIds([...this.pendingWelcome])) {
      this.pendingWelcome.delete(id);
      if (!this.peers.has(id)) continue;
      let slot = this.slotOf(id);
      if (slot < 0) slot = this.slots.indexOf(null);
      if (slot < 0) {
        if (this.slots.length >= MAX_SLOTS) continue;
        slot = this.slots.length;
        this.slots.push(null);
      }
      this.slots[slot] = id;
      this.suspects.delete(id);
      actions.push({ kind: 'send', to: id, msg: { type: 'spsa/w', t: t + 1, e: this.epoch, slot, params: this.theta } });
    }
    if (this.finished) return actions;
    return [...actions, ...this.begin(t + 1)];
  }

  private onHello(from: NodeId, t: number, e: number): ProtocolAction[] {
    if (!this.started || this.stopped) return [];
    if (!this.peers.has(from)) return []; // not in the room's roster yet: it asks again
    if (this.finished) {
      // The run is over: a latecomer gets the final model once, and is done too.
      if (this.finalSent.has(from) || t >= this.applied) return [];
      this.finalSent.add(from);
      return [{ kind: 'send', to: from, msg: { type: 'spsa/w', t: this.applied + 1, e: this.epoch, slot: 0, params: this.theta } }];
    }
    const slot = this.slotOf(from);
    const inStep = slot >= 0 && e === this.epoch && t === this.applied;
    if (inStep || this.pendingWelcome.has(from)) return [];
    if (this.pendingWelcome.size >= MAX_SLOTS) return [{ kind: 'reject', from, reason: 'too many nodes waiting for a slot' }];
    this.pendingWelcome.add(from);
    // Not waited for this iteration: it gets θ when the iteration closes.
    if (slot >= 0 && this.iter) {
      this.iter.expected.delete(slot);
      return this.maybeClose();
    }
    return [];
  }

  onRoster(peers: NodeId[], coordinator?: NodeId): ProtocolAction[] {
    this.peers = new Set(peers.filter((p) => p !== this.ctx.id));
    this.maxRoster = Math.max(this.maxRoster, this.peers.size + 1);
    const actions: ProtocolAction[] = [];
    const change = this.follower.follow(coordinator);
    if (this.active && change?.stepsUp) return this.lead(true);
    if (this.active && change?.stepsDown) {
      this.iter = null;
      actions.push(...this.resync('the coordinator changed'));
    }
    if (!this.follower.leads || !this.iter || !this.active) return actions;
    // Departed nodes are not waited for; their slots are freed when the iteration closes.
    for (const s of [...this.iter.expected]) {
      const id = this.slots[s];
      if (id && id !== this.ctx.id && !this.peers.has(id) && !this.iter.got.has(s)) this.iter.expected.delete(s);
    }
    for (const id of [...this.pendingWelcome]) if (!this.peers.has(id)) this.pendingWelcome.delete(id);
    return [...actions, ...this.maybeClose()];
  }
}
