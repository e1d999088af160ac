import { sarah, type ComputeRequest, type ComputeResult } from '../../core/learn/compute.ts';
import { allFinite, sub } from '../../core/vector.ts';
import { roomTraining } from '../compute.ts';
import { CoordinatorFollower, type FollowerHandlers } from '../common/follower.ts';
import type { NodeId, Protocol, ProtocolAction, ProtocolContext, ProtocolEvent } from '../protocol.ts';
import { compareIds } from '../topology.ts';
import { drawRoles, meanBullseye, optimalAnchorProb, serverStep, type Role } from './anchors.ts';

/** The server's record of a task it handed one client. */
interface Task {
  phase: number;
  role: Role;
  answered: boolean;
}

/** One round of tasks (or the opening bullseye phase), from sampling to close. */
interface Phase {
  id: number;
  /** The phase a server opens with: every client an anchor at θ, and no model update. */
  init: boolean;
  /** A regular phase completes this round (the server's round + 1); the opening phase carries the server's round. */
  round: number;
  attempt: number;
  /** Sampled clients that have not answered yet. */
  pending: Set<NodeId>;
  answers: number;
  deltas: Map<NodeId, Float32Array>;
}

interface Server {
  /** Rounds completed; θ is θ_round. */
  round: number;
  theta: Float32Array;
  /** The latest bullseye b_i of every client in the room that has sent one, and the task it answered. */
  bullseyes: Map<NodeId, Float32Array>;
  bullseyeTask: Map<NodeId, number>;
  /** Each client's last LATE_WINDOW tasks, newest last: an answer to an older one is late, not a lie. */
  tasks: Map<NodeId, Task[]>;
  phase: Phase | null;
  /** Task numbers handed out so far. */
  phases: number;
}

/** A client's task in progress. */
interface Work {
  id: string;
  phase: number;
  role: Role;
  from: NodeId;
  base: Float32Array;
}

/**
 * FedAMD, anchor sampling (Wu et al., ICML 2023). The room's coordinator is the server and also a
 * client. The server keeps every client's latest bullseye b_i (the gradient of its loss on its
 * whole shard, or on `anchorBatch` rows, at the global model it was handed); v = mean_i b_i. It
 * opens with a bullseye phase in which every client is an anchor at θ₀. Then each round it
 * samples A = max(round(participation · N), 1) clients; each is an anchor with probability p
 * (`anchorProb`; `auto` takes the reference code's optimal p for N and A), else a miner.
 *  - An anchor computes b_i at θ and sends it; it replaces the old one.
 *  - A miner takes K SARAH steps from θ anchored at v (the `sarah` training optimizer: the first
 *    step moves along v, each later one corrects the direction by the gradient difference between
 *    its current and previous point on a fresh minibatch) and sends Δ = θ − x_K. K is
 *    `minerSteps` (the reference's 10), or with 0 the room's local work (`steps`, or `epochs`
 *    passes), on minibatches of the room's batch size.
 * The round closes when every sampled client answered, or at `roundTimeout` with who did:
 * θ ← θ − η_g · mean(Δ over miners) (θ stays when only anchors answered; a round with no answer
 * at all is re-sampled).
 *
 * Deviations, for a room of tabs rather than the paper's fixed population: a client the server
 * holds no bullseye for (a joiner; everybody, after a new server took over mid-run, since the
 * bullseyes lived on the old one) is always an anchor when sampled; the bullseye of a client that
 * left is dropped, so v is the mean over the clients in the room; a new server opens with a
 * bullseye phase at its θ, as at the start.
 *
 * Claims are bounded: every task carries a fresh task number (`phase`), and an answer is taken
 * only from the client that task went to (among its last LATE_WINDOW tasks), for exactly that
 * number, of the kind its role asks for, once, with one finite value per parameter. An answer that
 * comes after its round closed is late, not a lie: a late update is dropped, a late bullseye kept
 * unless a newer one from that client is in (every bullseye is from some earlier θ anyway). A client takes
 * tasks only from the coordinator, with a number above the last one, at a round below `rounds`
 * and not behind the last task's round; a miner's task must carry v and an anchor's must not.
 */
export class FedAMD implements Protocol, FollowerHandlers {
  private readonly follower: CoordinatorFollower;
  private available = new Set<NodeId>();
  /** The latest global model this node saw, and its round. */
  private global: Float32Array;
  private globalRound = 0;
  private finished = false;
  private server: Server | null = null;
  private work: Work | null = null;
  /** Client: the last task number and round taken from the current coordinator. */
  private phaseFloor = -1;
  private atFloor = -1;
  private seq = 0;
  /** Server: answers that came after their round closed (late bullseyes are kept, late updates dropped). */
  lateAnswers = 0;

  constructor(private readonly ctx: ProtocolContext) {
    this.global = ctx.initialParams;
    this.follower = new CoordinatorFollower(ctx.id, 'client');
    for (const p of ctx.peers) if (p !== ctx.id) this.available.add(p);
  }

  get round(): number {
    return this.server?.round ?? this.globalRound;
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
      this.phaseFloor = -1;
      this.atFloor = -1;
      if (change.stepsDown) actions.push(...this.stopServing());
      if (!this.follower.leads && this.work && this.work.from !== coordinator) {
        // Its answer would go to a server that is gone; the new one hands out fresh work.
        this.work = null;
        actions.push({ kind: 'state', state: 'waiting', role: this.follower.role });
      }
      if (change.stepsUp && this.follower.running && !this.finished) {
        return [...actions, { kind: 'log', text: `became the server at round ${this.globalRound}` }, ...this.becomeServer()];
      }
    }
    return [...actions, ...this.forgetDeparted()];
  }

  /** Clients that left: their bullseyes leave v, and the round stops waiting for them. */
  private forgetDeparted(): ProtocolAction[] {
    const s = this.server;
    if (!s || this.finished) return [];
    const gone = (id: NodeId) => id !== this.ctx.id && !this.available.has(id);
    for (const id of [...s.tasks.keys()]) if (gone(id)) s.tasks.delete(id);
    for (const id of [...s.bullseyes.keys()]) {
      if (!gone(id)) continue;
      s.bullseyes.delete(id);
      s.bullseyeTask.delete(id);
    }
    const p = s.phase;
    if (!p) return [];
    const before = p.pending.size;
    for (const id of [...p.pending]) if (gone(id)) p.pending.delete(id);
    return p.pending.size < before && p.pending.size === 0 ? this.closePhase(s, p) : [];
  }

  // ─── server ────────────────────────────────────────────────────────────────────────────────

  private becomeServer(): ProtocolAction[] {
    const s: Server = { round: this.globalRound, theta: this.global, bullseyes: new Map(), bullseyeTask: new Map(), tasks: new Map(), phase: null, phases: 0 };
    this.server = s;
    // Work this node was doing for a previous server is dropped: it is a client of itself now.
    this.work = null;
    const actions: ProtocolAction[] = [{ kind: 'state', state: 'waiting', role: 'coordinator' }];
    if (s.round >= this.ctx.config.rounds) return [...actions, ...this.finish()];
    return [...actions, ...this.openPhase(s, true, 0)];
  }

  private stopServing(): ProtocolAction[] {
    const s = this.server;
    if (!s) return [];
    this.server = null;
    if (this.work?.from === this.ctx.id) this.work = null;
    this.global = s.theta;
    this.globalRound = s.round;
    return s.phase ? [{ kind: 'clearTimer', id: phaseTimer(s.phase.id) }] : [];
  }

  /** Samples the clients of a phase, draws their roles and hands out the tasks. */
  private openPhase(s: Server, init: boolean, attempt: number): ProtocolAction[] {
    const c = this.ctx.config;
    const clients = [this.ctx.id, ...this.available].sort(compareIds);
    const id = s.phases++;
    const round = init ? s.round : s.round + 1;
    let roles: Map<NodeId, Role>;
    if (init) {
      roles = new Map(clients.map((n) => [n, 'anchor'] as const));
    } else {
      const a = Math.max(Math.round(c.participation * clients.length), 1);
      const sampled = this.ctx.rng.split(`sample:${round}:${attempt}:${id}`).sample(clients, a);
      const p = c.anchorProb === 'auto' ? optimalAnchorProb(clients.length, a) : c.anchorProb;
      roles = drawRoles(sampled, (n) => s.bullseyes.has(n), p, this.ctx.rng.split(`roles:${round}:${attempt}:${id}`));
    }
    const miners = [...roles.values()].filter((r) => r === 'miner').length;
    // A miner is drawn only among clients with a bullseye, so v exists whenever a miner does.
    const v = miners > 0 ? meanBullseye(s.bullseyes) : null;
    s.phase = { id, init, round, attempt, pending: new Set(roles.keys()), answers: 0, deltas: new Map() };
    const actions: ProtocolAction[] = [
      { kind: 'setTimer', id: phaseTimer(id), afterMs: c.roundTimeout },
      { kind: 'log', text: init ? `bullseye phase at round ${s.round}: every client is an anchor` : `round ${round}: ${roles.size - miners} anchor(s), ${miners} miner(s)` },
    ];
    for (const [n, role] of roles) {
      const history = s.tasks.get(n) ?? [];
      history.push({ phase: id, role, answered: false });
      s.tasks.set(n, history.slice(-LATE_WINDOW));
      const mean = role === 'miner' ? v! : null;
      if (n === this.ctx.id) actions.push(...this.beginWork(id, role, n, s.round, s.theta, mean));
      else actions.push({ kind: 'send', to: n, msg: { type: 'fedamd/task', at: s.round, phase: id, role, params: s.theta, ...(mean ? { v: mean } : {}) } });
    }
    return actions;
  }

  private onAnswer(from: NodeId, role: Role, phase: number, vec: Float32Array): ProtocolAction[] {
    const s = this.server;
    const what = role === 'anchor' ? 'bullseye' : 'update';
    if (!this.follower.leads || !s) return [{ kind: 'reject', from, reason: `${what} sent to a non-coordinator` }];
    if (this.finished) return [];
    const history = s.tasks.get(from);
    if (!history) return [{ kind: 'reject', from, reason: `${what} from a node this server has no task out for` }];
    const task = history.find((t) => t.phase === phase);
    if (!task) return [{ kind: 'reject', from, reason: `${what} for task ${phase}, which this server did not give this client lately` }];
    if (role !== task.role) return [{ kind: 'reject', from, reason: `${what} from a client sampled as ${task.role === 'anchor' ? 'an anchor' : 'a miner'}` }];
    if (task.answered) return [{ kind: 'reject', from, reason: `duplicate ${what} for task ${phase}` }];
    // The codec checks both for frames; this guards the server's own answers and any other driver.
    if (vec.length !== s.theta.length || !allFinite(vec)) return [{ kind: 'reject', from, reason: `${what} with ${vec.length} values, or non-finite ones` }];
    task.answered = true;
    if (role === 'anchor' && phase > (s.bullseyeTask.get(from) ?? -1)) {
      s.bullseyes.set(from, vec);
      s.bullseyeTask.set(from, phase);
    }
    const p = s.phase;
    if (!p || p.id !== phase) {
      this.lateAnswers++;
      return [{ kind: 'log', text: `late ${what} from ${from} for task ${phase}: ${role === 'anchor' ? 'kept' : 'dropped'}` }];
    }
    p.answers++;
    if (role === 'miner') p.deltas.set(from, vec);
    p.pending.delete(from);
    return p.pending.size === 0 ? this.closePhase(s, p) : [];
  }

  private closePhase(s: Server, p: Phase): ProtocolAction[] {
    s.phase = null;
    const actions: ProtocolAction[] = [{ kind: 'clearTimer', id: phaseTimer(p.id) }];
    if (p.init) return [...actions, { kind: 'log', text: `bullseyes from ${s.bullseyes.size} client(s)` }, ...this.openPhase(s, false, 0)];
    if (p.answers === 0) return [...actions, { kind: 'log', text: `round ${p.round}: nobody answered, re-sampling` }, ...this.openPhase(s, false, p.attempt + 1)];
    if (p.deltas.size > 0) {
      const deltas = [...p.deltas.keys()].sort(compareIds).map((id) => p.deltas.get(id)!);
      s.theta = serverStep(s.theta, deltas, this.ctx.config.serverLr);
    }
    s.round = p.round;
    this.global = s.theta;
    this.globalRound = s.round;
    actions.push({ kind: 'model', round: s.round, params: s.theta, scope: 'global' }, { kind: 'round', round: s.round });
    if (s.round >= this.ctx.config.rounds) return [...actions, ...this.finish()];
    return [...actions, ...this.openPhase(s, false, 0)];
  }

  onTimer(id: string): ProtocolAction[] {
    const s = this.server;
    const p = s?.phase;
    if (!s || !p || this.finished || id !== phaseTimer(p.id)) return [];
    const log: ProtocolAction = { kind: 'log', text: `round ${p.round}: ${p.pending.size} sampled client(s) did not answer within ${this.ctx.config.roundTimeout} ms; going on with ${p.answers}` };
    return [log, ...this.closePhase(s, p)];
  }

  private finish(): ProtocolAction[] {
    if (this.finished) return [];
    this.finished = true;
    const s = this.server;
    const actions: ProtocolAction[] = [];
    if (s?.phase) actions.push({ kind: 'clearTimer', id: phaseTimer(s.phase.id) });
    this.work = null;
    for (const to of [...this.available].sort(compareIds)) actions.push({ kind: 'send', to, msg: { type: 'fedamd/done', round: this.round, params: this.currentParams() } });
    return [...actions, { kind: 'state', state: 'done', role: 'coordinator' }, { kind: 'done' }];
  }

  // ─── client ────────────────────────────────────────────────────────────────────────────────

  private beginWork(phase: number, role: Role, from: NodeId, at: number, base: Float32Array, v: Float32Array | null): ProtocolAction[] {
    const c = this.ctx.config;
    const id = `fedamd:${++this.seq}`;
    this.work = { id, phase, role, from, base };
    const request: ComputeRequest =
      role === 'anchor'
        ? { kind: 'gradient', params: base, batch: c.anchorBatch, batchSeed: `fedamd:${c.seed}:${from}:${phase}:${this.ctx.id}` }
        : { ...roomTraining(c, base), ...(c.minerSteps > 0 ? { steps: c.minerSteps } : {}), optimizer: sarah(v!) };
    return [
      { kind: 'state', state: 'training', role: this.follower.role },
      { kind: 'compute', id, round: at + 1, request },
    ];
  }

  onMessage(from: NodeId, msg: { type: string; [k: string]: unknown }): ProtocolAction[] {
    switch (msg.type) {
      case 'fedamd/task':
        return this.onTask(from, msg.at as number, msg.phase as number, msg.role as Role, msg.params as Float32Array, msg.v as Float32Array | undefined);
      case 'fedamd/bullseye':
        return this.onAnswer(from, 'anchor', msg.phase as number, msg.gradient as Float32Array);
      case 'fedamd/delta':
        return this.onAnswer(from, 'miner', msg.phase as number, msg.delta as Float32Array);
      case 'fedamd/done': {
        const round = msg.round as number;
        if (from !== this.follower.current) return [{ kind: 'reject', from, reason: 'done from a non-coordinator' }];
        if (round !== this.ctx.config.rounds) return [{ kind: 'reject', from, reason: `done at round ${round}, the run has ${this.ctx.config.rounds} rounds` }];
        if (this.finished) return [];
        this.finished = true;
        this.work = null;
        this.global = msg.params as Float32Array;
        this.globalRound = round;
        return [{ kind: 'model', round, params: this.global, scope: 'global' }, { kind: 'round', round }, { kind: 'state', state: 'done' }, { kind: 'done' }];
      }
      default:
        return [{ kind: 'reject', from, reason: `unexpected ${msg.type}` }];
    }
  }

  private onTask(from: NodeId, at: number, phase: number, role: Role, params: Float32Array, v: Float32Array | undefined): ProtocolAction[] {
    const late = this.follower.screen(from, 'task');
    if (late) return [late];
    if (this.finished) return [{ kind: 'reject', from, reason: 'task after the run ended' }];
    if (at >= this.ctx.config.rounds) return [{ kind: 'reject', from, reason: `task at round ${at}, the run has ${this.ctx.config.rounds} rounds` }];
    if (phase <= this.phaseFloor) return [{ kind: 'reject', from, reason: `task ${phase}, not newer than the last one (${this.phaseFloor})` }];
    if (at < this.atFloor) return [{ kind: 'reject', from, reason: `task at round ${at}, behind the last task's round ${this.atFloor}` }];
    if (role === 'miner' && !v) return [{ kind: 'reject', from, reason: 'miner task without the mean bullseye' }];
    if (role === 'anchor' && v) return [{ kind: 'reject', from, reason: 'anchor task carrying a mean bullseye' }];
    this.follower.enrol(from);
    this.phaseFloor = phase;
    this.atFloor = at;
    this.global = params;
    this.globalRound = at;
    return [{ kind: 'model', round: at, params, scope: 'global' }, ...this.beginWork(phase, role, from, at, params, v ?? null)];
  }

  onComputed(id: string, result: ComputeResult): ProtocolAction[] {
    const w = this.work;
    if (!w || id !== w.id) return [];
    let vec: Float32Array;
    if (w.role === 'anchor' && result.kind === 'gradient') vec = result.gradient;
    else if (w.role === 'miner' && result.kind === 'train') vec = sub(w.base, result.params);
    else return [];
    this.work = null;
    const actions: ProtocolAction[] = [{ kind: 'state', state: 'waiting', role: this.follower.role }];
    // A diverged computation is not sent: the server goes on without it at the timeout.
    if (!allFinite(vec)) return [...actions, { kind: 'log', text: `the ${w.role}'s result for task ${w.phase} is not finite; not sent` }];
    if (w.from === this.ctx.id) return [...actions, ...this.onAnswer(this.ctx.id, w.role, w.phase, vec)];
    if (w.from !== this.follower.current) return actions;
    const msg = w.role === 'anchor' ? { type: 'fedamd/bullseye', phase: w.phase, gradient: vec } : { type: 'fedamd/delta', phase: w.phase, delta: vec };
    return [...actions, { kind: 'send', to: w.from, msg }];
  }
}

const phaseTimer = (phase: number) => `phase:${phase}`;
/** Tasks per client the server remembers: answers to older ones are refused as never asked for. */
const LATE_WINDOW = 4;
