import type { ComputeResult } from '../../core/learn/compute.ts';
import { sub } from '../../core/vector.ts';
import { roomTraining } from '../compute.ts';
import { CoordinatorFollower, type FollowerHandlers } from '../common/follower.ts';
import type { NodeId, Protocol, ProtocolAction, ProtocolContext, ProtocolEvent, ProtocolReport } from '../protocol.ts';
import { compareIds } from '../topology.ts';
import { UpdateBuffer } from './buffer.ts';

/** What the server knows about one client. */
interface ClientSlot {
  /** The version of its outstanding task, or null when it has none. */
  task: number | null;
  /** The outstanding task passed its deadline: its concurrency slot is free again, but its update is still taken if it comes. */
  expired: boolean;
  /** The version of the last task handed to it (−1: none yet). A client trains each version at most once. */
  handed: number;
  /** The version of the last update taken from it (−1: none), to name duplicates. */
  accepted: number;
}

interface Server {
  version: number;
  theta: Float32Array;
  buffer: UpdateBuffer;
  clients: Map<NodeId, ClientSlot>;
  /** Dispatch decisions so far (each draws its clients from its own split of the RNG). */
  dispatches: number;
  /** Fixed-period mode: the number of the pending period timer. */
  period: number;
}

/**
 * FedBuff (Nguyen et al., AISTATS 2022): asynchronous federated learning with a buffer. The
 * room's coordinator is the server and also a client; every node is a client. The server keeps θ
 * and a version t. Up to `concurrency` clients train at once, each from the θ it was handed
 * (version t₀), and return Δ = θ_{t₀} − θ_local. The server scales Δ by 1/√(1 + τ), τ = t − t₀,
 * buffers it, and after `bufferSize` (K) buffered updates sets θ ← θ − η_g·mean(buffer), t ← t + 1
 * (one "round"). A client whose update arrived gets new work at once if there is a newer θ than
 * the one it trained; nobody waits for the slowest.
 *
 * Fixed-period variant (`aggEvery` > 0 ms, FedFix-style): the server aggregates every `aggEvery` ms
 * whatever has arrived, with the same staleness weights, and ignores K.
 *
 * Deviations and choices, for a room of a few to a few hundred tabs rather than the paper's
 * population of millions:
 *  - A client trains each server version at most once (the paper samples from a huge population,
 *    where a client is almost never drawn twice on one version). Without this rule the client that
 *    finished first would at once train the same θ again; with it, K = concurrency = N is FedAvg
 *    with C = 1 (oracle 11).
 *  - Buffered mode: when no client is training and nobody can be handed work (everyone trained the
 *    current version, or timed out), the server aggregates the partial buffer instead of waiting
 *    for K updates that cannot come (a room with fewer clients than K, or after churn).
 *  - A task that is not answered within `roundTimeout` frees its concurrency slot (a tab that
 *    crashed says no goodbye); its update is still taken if it comes later.
 *  - Updates staler than `maxStaleness` are dropped (counted in `staleDropped` and logged), not
 *    buffered: they are honest, so they are not rejections.
 *
 * Claims are bounded: an update must be for the version of a task this server handed that client
 * and has not yet taken an update for (so never from the future, never twice); a task must come
 * from the coordinator, be newer than the last task from it and below `rounds`.
 */
export class FedBuff implements Protocol, FollowerHandlers {
  private readonly follower: CoordinatorFollower;
  private available = new Set<NodeId>();
  /** The latest global model this node saw, and its version. */
  private global: Float32Array;
  private version = 0;
  private finished = false;
  private server: Server | null = null;
  /** Client: the task being trained. */
  private training: { id: string; version: number; from: NodeId; base: Float32Array } | null = null;
  /** Client: the version of the last task taken from the current coordinator (tasks must increase). */
  private taskFloor = -1;
  private seq = 0;
  /** Server: updates dropped for staleness above `maxStaleness`. */
  staleDropped = 0;

  constructor(private readonly ctx: ProtocolContext) {
    this.global = ctx.initialParams;
    this.follower = new CoordinatorFollower(ctx.id, 'client');
    for (const p of ctx.peers) if (p !== ctx.id) this.available.add(p);
  }

  get round(): number {
    return this.server?.version ?? this.version;
  }

  currentParams(): Float32Array {
    return this.server?.theta ?? this.global;
  }

  handle(event: ProtocolEvent, _now: number): ProtocolAction[] {
    return this.follower.handle(event, this);
  }

  onStart(): ProtocolAction[] {
    return this.follower.leads && !this.server ? this.becomeServer() : [];
  }

  // ─── membership ────────────────────────────────────────────────────────────────────────────

  onRoster(peers: NodeId[], coordinator?: NodeId): ProtocolAction[] {
    this.available = new Set(peers.filter((p) => p !== this.ctx.id));
    const actions: ProtocolAction[] = [];
    const change = this.follower.follow(coordinator);
    if (change) {
      this.taskFloor = -1;
      if (change.stepsDown) actions.push(...this.stopServing());
      if (!this.follower.leads && this.training && this.training.from !== coordinator) {
        // Its update would go to a server that is gone; the new one hands out fresh work.
        this.training = null;
        actions.push({ kind: 'state', state: 'waiting', role: this.follower.role });
      }
      if (change.stepsUp && this.follower.running && !this.finished) {
        return [...actions, { kind: 'log', text: `became the server at version ${this.version}` }, ...this.becomeServer()];
      }
    }
    const s = this.server;
    if (!s || this.finished) return actions;
    let changed = false;
    for (const [id, slot] of [...s.clients]) {
      if (id === this.ctx.id || this.available.has(id)) continue;
      // A client that left frees its slot.
      if (slot.task !== null && !slot.expired) actions.push({ kind: 'clearTimer', id: taskTimer(id, slot.task) });
      s.clients.delete(id);
      changed = true;
    }
    for (const id of this.available) {
      if (s.clients.has(id)) continue;
      s.clients.set(id, freshSlot());
      changed = true;
    }
    return changed ? [...actions, ...this.dispatch()] : actions;
  }

  // ─── server ────────────────────────────────────────────────────────────────────────────────

  private becomeServer(): ProtocolAction[] {
    const clients = new Map<NodeId, ClientSlot>();
    for (const id of [this.ctx.id, ...this.available]) clients.set(id, freshSlot());
    this.server = { version: this.version, theta: this.global, buffer: new UpdateBuffer(this.global.length), clients, dispatches: 0, period: 0 };
    // Work this node was doing for a previous server is dropped: it is a client of itself now.
    this.training = null;
    const actions: ProtocolAction[] = [{ kind: 'state', state: 'waiting', role: 'coordinator' }];
    if (this.version >= this.ctx.config.rounds) return [...actions, ...this.finish()];
    if (this.ctx.config.aggEvery > 0) actions.push({ kind: 'setTimer', id: periodTimer(0), afterMs: this.ctx.config.aggEvery });
    return [...actions, ...this.dispatch()];
  }

  private stopServing(): ProtocolAction[] {
    const s = this.server;
    if (!s) return [];
    this.server = null;
    if (this.training?.from === this.ctx.id) this.training = null;
    this.global = s.theta;
    this.version = s.version;
    const actions: ProtocolAction[] = [{ kind: 'clearTimer', id: periodTimer(s.period) }];
    for (const [id, slot] of s.clients) if (slot.task !== null && !slot.expired) actions.push({ kind: 'clearTimer', id: taskTimer(id, slot.task) });
    return actions;
  }

  private busy(s: Server): number {
    let n = 0;
    for (const slot of s.clients.values()) if (slot.task !== null && !slot.expired) n++;
    return n;
  }

  /** Fills free concurrency slots with clients that have not trained the current version; flushes a buffer nobody can add to. */
  private dispatch(): ProtocolAction[] {
    const actions: ProtocolAction[] = [];
    for (;;) {
      const s = this.server;
      if (!s || this.finished) return actions;
      const free = this.ctx.config.concurrency - this.busy(s);
      const candidates = [...s.clients.entries()]
        .filter(([, slot]) => slot.task === null && slot.handed < s.version)
        .map(([id]) => id)
        .sort(compareIds);
      if (free > 0 && candidates.length > 0) {
        const chosen = this.ctx.rng.split(`dispatch:${s.dispatches++}`).sample(candidates, Math.min(free, candidates.length)).sort(compareIds);
        for (const id of chosen) actions.push(...this.hand(s, id));
      }
      if (this.ctx.config.aggEvery === 0 && this.busy(s) === 0 && s.buffer.count > 0) {
        actions.push({ kind: 'log', text: `version ${s.version}: nobody left to train it, aggregating ${s.buffer.count} of ${this.ctx.config.bufferSize} updates` });
        actions.push(...this.aggregate(s));
        continue;
      }
      return actions;
    }
  }

  private hand(s: Server, id: NodeId): ProtocolAction[] {
    const slot = s.clients.get(id)!;
    slot.task = s.version;
    slot.expired = false;
    slot.handed = s.version;
    const timer: ProtocolAction = { kind: 'setTimer', id: taskTimer(id, s.version), afterMs: this.ctx.config.roundTimeout };
    if (id === this.ctx.id) return [timer, ...this.beginTraining(s.version, id, s.theta)];
    return [timer, { kind: 'send', to: id, msg: { type: 'fedbuff/task', version: s.version, params: s.theta } }];
  }

  private onUpdate(from: NodeId, version: number, delta: Float32Array): ProtocolAction[] {
    const s = this.server;
    if (!this.follower.leads || !s) return [{ kind: 'reject', from, reason: 'update sent to a non-coordinator' }];
    if (this.finished) return [];
    const slot = s.clients.get(from);
    if (!slot) return [{ kind: 'reject', from, reason: 'update from a node that is not a client of this server' }];
    if (slot.task === null) {
      const reason =
        version === slot.accepted
          ? `duplicate update for version ${version}`
          : version > s.version
            ? `update for version ${version}, ahead of the server's ${s.version}`
            : `update for version ${version}, which this server has no task out for at this client`;
      return [{ kind: 'reject', from, reason }];
    }
    if (version !== slot.task) return [{ kind: 'reject', from, reason: `update for version ${version}, but this client's task is version ${slot.task}` }];
    const actions: ProtocolAction[] = [];
    if (!slot.expired) actions.push({ kind: 'clearTimer', id: taskTimer(from, version) });
    slot.task = null;
    slot.expired = false;
    slot.accepted = version;
    const tau = s.version - version;
    if (tau > this.ctx.config.maxStaleness) {
      this.staleDropped++;
      actions.push({ kind: 'log', text: `dropped an update from ${from}: staleness ${tau} > ${this.ctx.config.maxStaleness}` });
    } else {
      s.buffer.add(delta, tau);
      if (this.ctx.config.aggEvery === 0 && s.buffer.count >= this.ctx.config.bufferSize) actions.push(...this.aggregate(s));
    }
    return [...actions, ...this.dispatch()];
  }

  private aggregate(s: Server): ProtocolAction[] {
    s.theta = s.buffer.apply(s.theta, this.ctx.config.serverLr);
    s.version++;
    this.global = s.theta;
    this.version = s.version;
    const actions: ProtocolAction[] = [
      { kind: 'model', round: s.version, params: s.theta, scope: 'global' },
      { kind: 'round', round: s.version },
    ];
    if (s.version >= this.ctx.config.rounds) actions.push(...this.finish());
    return actions;
  }

  onTimer(id: string): ProtocolAction[] {
    const s = this.server;
    if (!s || this.finished) return [];
    if (id === periodTimer(s.period)) {
      s.period++;
      const actions: ProtocolAction[] = [{ kind: 'setTimer', id: periodTimer(s.period), afterMs: this.ctx.config.aggEvery }];
      if (s.buffer.count > 0) actions.push(...this.aggregate(s));
      return [...actions, ...this.dispatch()];
    }
    for (const [client, slot] of s.clients) {
      if (slot.task === null || slot.expired || id !== taskTimer(client, slot.task)) continue;
      slot.expired = true;
      return [{ kind: 'log', text: `${client} has not answered version ${slot.task} within ${this.ctx.config.roundTimeout} ms: its slot is free` }, ...this.dispatch()];
    }
    return [];
  }

  private finish(): ProtocolAction[] {
    if (this.finished) return [];
    this.finished = true;
    const s = this.server;
    const actions: ProtocolAction[] = [];
    if (s) {
      actions.push({ kind: 'clearTimer', id: periodTimer(s.period) });
      for (const [id, slot] of s.clients) if (slot.task !== null && !slot.expired) actions.push({ kind: 'clearTimer', id: taskTimer(id, slot.task) });
    }
    this.training = null;
    for (const to of [...this.available].sort(compareIds)) actions.push({ kind: 'send', to, msg: { type: 'fedbuff/done', round: this.round, params: this.currentParams() } });
    return [...actions, { kind: 'state', state: 'done', role: 'coordinator' }, { kind: 'done' }];
  }

  // ─── client ────────────────────────────────────────────────────────────────────────────────

  private beginTraining(version: number, from: NodeId, base: Float32Array): ProtocolAction[] {
    const id = `fedbuff:${++this.seq}`;
    this.training = { id, version, from, base };
    return [
      { kind: 'state', state: 'training', role: this.follower.role },
      { kind: 'compute', id, round: version, request: roomTraining(this.ctx.config, base) },
    ];
  }

  onMessage(from: NodeId, msg: { type: string; [k: string]: unknown }): ProtocolAction[] {
    switch (msg.type) {
      case 'fedbuff/task': {
        const version = msg.version as number;
        const late = this.follower.screen(from, 'task');
        if (late) return [late];
        if (this.finished) return [{ kind: 'reject', from, reason: 'task after the run ended' }];
        if (version >= this.ctx.config.rounds) return [{ kind: 'reject', from, reason: `task for version ${version}, beyond the run's ${this.ctx.config.rounds} rounds` }];
        if (version <= this.taskFloor) return [{ kind: 'reject', from, reason: `task for version ${version}, not newer than the last one (${this.taskFloor})` }];
        this.follower.enrol(from);
        this.taskFloor = version;
        this.global = msg.params as Float32Array;
        this.version = version;
        return [{ kind: 'model', round: version, params: this.global, scope: 'global' }, ...this.beginTraining(version, from, this.global)];
      }
      case 'fedbuff/update':
        return this.onUpdate(from, msg.version as number, msg.delta as Float32Array);
      case 'fedbuff/done': {
        const round = msg.round as number;
        if (from !== this.follower.current) return [{ kind: 'reject', from, reason: 'done from a non-coordinator' }];
        if (round !== this.ctx.config.rounds) return [{ kind: 'reject', from, reason: `done at version ${round}, the run has ${this.ctx.config.rounds} rounds` }];
        if (this.finished) return [];
        this.finished = true;
        this.training = null;
        this.global = msg.params as Float32Array;
        this.version = round;
        return [{ kind: 'model', round, params: this.global, scope: 'global' }, { kind: 'round', round }, { kind: 'state', state: 'done' }, { kind: 'done' }];
      }
      default:
        return [{ kind: 'reject', from, reason: `unexpected ${msg.type}` }];
    }
  }

  onComputed(id: string, result: ComputeResult): ProtocolAction[] {
    const t = this.training;
    if (!t || id !== t.id || result.kind !== 'train') return [];
    this.training = null;
    const delta = sub(t.base, result.params);
    const actions: ProtocolAction[] = [{ kind: 'state', state: 'waiting', role: this.follower.role }];
    if (t.from === this.ctx.id) return [...actions, ...this.onUpdate(this.ctx.id, t.version, delta)];
    if (t.from !== this.follower.current) return actions;
    return [...actions, { kind: 'send', to: t.from, msg: { type: 'fedbuff/update', version: t.version, delta } }];
  }

  /** The server's count of updates dropped for staleness, so the simulator's summary has `staleDropped`. */
  report(): ProtocolReport | null {
    return this.server ? { round: this.server.version, values: { staleDropped: this.staleDropped } } : null;
  }
}

const freshSlot = (): ClientSlot => ({ task: null, expired: false, handed: -1, accepted: -1 });
const taskTimer = (client: NodeId, version: number) => `task:${client}:${version}`;
const periodTimer = (n: number) => `period:${n}`;
