import type { NodeId, Protocol, ProtocolAction, ProtocolContext, ProtocolEvent } from '../protocol.ts';
import type { ComputeResult } from '../../core/learn/compute.ts';
import { roomTraining, trainId } from '../compute.ts';
import { buildTopology, sortIds, type Topology } from '../topology.ts';
import { dpsgdUpdate } from './mixing.ts';

interface RoundState {
  round: number;
  neighbours: NodeId[];
  /** This node's row of the MH matrix for the round. */
  weights: Map<NodeId, number>;
  /** The locally trained model, sent to the neighbours and averaged with theirs. */
  trained: Float32Array | null;
  timedOut: boolean;
}

const timerId = (round: number) => `round:${round}`;

/**
 * D-PSGD (Lian et al. 2017) over a fixed graph (`topology`) with Metropolis–Hastings weights.
 *
 * Round r of node i (the adapt-then-combine form, as decentralized-learning frameworks run it):
 *   1. train locally from x_i (`steps` or `epochs` of SGD), giving y_i;
 *   2. send y_i to every neighbour of round r, and wait for every neighbour's y_j;
 *   3. x_i ← Σ_j W_ij y_j, emit `{kind: 'round', round: r}`, start r + 1.
 * This is not Lian et al.'s update, even with one SGD step: here x_i ← Σ_j W_ij (x_j − η g_j)
 * mixes the neighbours' gradients g_j (each at its own x_j), where Lian et al.'s
 * x_i ← Σ_j W_ij x_j − η g_i uses node i's own gradient only; the network mean moves alike.
 * We first ran that combine-then-adapt form, x_i ← Σ_j W_ij x_j + (y_i − x_i):
 * with many local steps each node re-adds its own whole local trajectory to the average
 * every round, and a 10-node MNIST 2NN run stalled near 72% mean accuracy where this form
 * keeps climbing (see BENCHMARKS.md). The price: training and exchange no longer overlap.
 * Models of later rounds from faster neighbours are buffered (a neighbour can be at most one
 * round ahead unless it timed out on us).
 *
 * Churn, since no round may wait forever:
 * - After `roundTimeout` ms the round closes with the models that arrived; a missing
 *   neighbour's weight W_ij goes to W_ii, so the row still sums to 1.
 * - A neighbour that missed a round is *suspected*: later rounds do not wait for it (its
 *   model is used if it is there in time) until a message from it arrives again. So a failed
 *   node costs its neighbours one timeout, not one per round.
 * - A node that receives a neighbour's model for round ≥ its round + 2 has fallen behind (its
 *   neighbours timed out on it, or it joined late): it abandons its round and jumps to that
 *   round, keeping its model.
 * - Only neighbours of round r may send round-r models; the inbox holds this round and the
 *   next, plus each neighbour's latest far-ahead model, so its memory is bounded by the degree.
 * - A roster change rebuilds the graph (from the seed and the new ids) from the next round on.
 *   Rounds in which nodes disagree on the graph close at the timeout.
 */
export class DPSGD implements Protocol {
  private x: Float32Array;
  private completed = 0;
  private current: RoundState | null = null;
  /** Neighbours' models for this round and the next. */
  private readonly inbox = new Map<number, Map<NodeId, Float32Array>>();
  /** Each neighbour's latest model for a round two or more ahead of this node's (see maybeJump). */
  private readonly ahead = new Map<NodeId, { round: number; params: Float32Array }>();
  private readonly suspects = new Set<NodeId>();
  private peers: NodeId[];
  private topology: Topology | null = null;
  private started = false;
  private stopped = false;
  private finished = false;

  constructor(private readonly ctx: ProtocolContext) {
    this.x = ctx.initialParams;
    this.peers = sortIds(ctx.peers.filter((p) => p !== ctx.id));
  }

  get round(): number {
    return this.completed;
  }

  currentParams(): Float32Array {
    return this.x;
  }

  /** Neighbours' models this node holds for later use: bounded by two rounds' worth plus one per neighbour. */
  heldModels(): number {
    let n = this.ahead.size;
    for (const box of this.inbox.values()) n += box.size;
    return n;
  }

  /** The graph this node uses for rounds it starts from now on. */
  graph(): Topology {
    this.topology ??= buildTopology(this.ctx.config.topology, [this.ctx.id, ...this.peers], this.ctx.config.seed);
    return this.topology;
  }

  handle(event: ProtocolEvent, _now: number): ProtocolAction[] {
    switch (event.kind) {
      case 'start':
        if (this.started) return [];
        this.started = true;
        return [{ kind: 'model', round: 0, params: this.x, scope: 'local' }, ...this.startRound(1), ...this.maybeJump()];
      case 'timer':
        return this.onTimer(event.id);
      case 'message':
        return this.onMessage(event.from, event.msg);
      case 'computed':
        return this.onComputed(event.id, event.result);
      case 'roster':
        this.peers = sortIds(event.peers.filter((p) => p !== this.ctx.id));
        this.topology = null;
        return [];
      case 'stop': {
        if (this.stopped) return [];
        this.stopped = true;
        const r = this.current?.round;
        this.current = null;
        return [...(r !== undefined ? [{ kind: 'clearTimer', id: timerId(r) } as const] : []), { kind: 'state', state: 'idle' }];
      }
    }
  }

  private get active(): boolean {
    return this.started && !this.stopped && !this.finished;
  }

  private startRound(r: number): ProtocolAction[] {
    if (r > this.ctx.config.rounds) return this.finish();
    const g = this.graph();
    const neighbours = g.neighbours(this.ctx.id, r);
    this.current = { round: r, neighbours, weights: g.weights(this.ctx.id, r), trained: null, timedOut: false };
    for (const k of [...this.inbox.keys()]) if (k < r) this.inbox.delete(k);
    for (const [from, a] of [...this.ahead]) {
      if (a.round > r + 1) continue;
      this.ahead.delete(from);
      if (a.round >= r) (this.inbox.get(a.round) ?? this.inbox.set(a.round, new Map()).get(a.round)!).set(from, a.params);
    }
    const actions: ProtocolAction[] = [];
    // Models buffered for this round from nodes that are not neighbours this round are of no use.
    const early = this.inbox.get(r);
    if (early) for (const from of [...early.keys()]) if (!neighbours.includes(from)) {
      early.delete(from);
      actions.push({ kind: 'reject', from, reason: `round ${r} model from a non-neighbour` });
    }
    actions.push(
      { kind: 'setTimer', id: timerId(r), afterMs: this.ctx.config.roundTimeout },
      { kind: 'state', state: 'training', role: 'peer' },
      { kind: 'compute', id: trainId(r), round: r, request: roomTraining(this.ctx.config, this.x) },
    );
    return actions;
  }

  private onMessage(from: NodeId, msg: { type: string; [k: string]: unknown }): ProtocolAction[] {
    if (msg.type !== 'dpsgd/model') return [{ kind: 'reject', from, reason: `unexpected ${msg.type}` }];
    if (from === this.ctx.id) return [{ kind: 'reject', from, reason: 'model from itself' }];
    if (this.finished || this.stopped) return [];
    const r = msg.round as number;
    // Any model, even a stale one, shows the sender is alive: later rounds wait for it again.
    this.suspects.delete(from);
    const cur = this.current?.round ?? this.completed + 1;
    if (r < cur) return [{ kind: 'reject', from, reason: `stale model for round ${r}, in round ${cur}` }];
    if (r > this.ctx.config.rounds) return [{ kind: 'reject', from, claim: 'round', reason: `model for round ${r} beyond the last round` }];
    // Only a neighbour of round r may send a round-r model (every node computes the same graph),
    // so a stranger can neither fill the inbox nor move this node's round.
    const neighbours = r === this.current?.round ? this.current.neighbours : this.graph().neighbours(this.ctx.id, r);
    if (!neighbours.includes(from)) return [{ kind: 'reject', from, claim: 'sender', reason: `round ${r} model from a non-neighbour` }];
    const params = msg.params as Float32Array;
    if (r >= cur + 2) {
      // Far ahead: keep only the sender's latest such model (memory stays one model per neighbour).
      const held = this.ahead.get(from);
      if (held && held.round >= r) return [{ kind: 'reject', from, claim: 'round', reason: `model for round ${r} after one for round ${held.round}` }];
      this.ahead.set(from, { round: r, params });
      return this.started ? this.maybeJump() : [];
    }
    const box = this.inbox.get(r) ?? this.inbox.set(r, new Map()).get(r)!;
    if (box.has(from)) return [{ kind: 'reject', from, reason: `duplicate model for round ${r}` }];
    box.set(from, params);
    if (!this.started) return [];
    return r === cur ? this.tryComplete() : [];
  }

  /**
   * Fell behind? A neighbour a round ahead is normal; one two or more rounds ahead means this
   * node's neighbours timed out on it, or it joined late. Then it abandons its round (its
   * training result will be ignored) and starts the highest round a neighbour has reached,
   * keeping its model. Only graph neighbours get here, and a neighbour can already send any
   * model it likes: a lying one is the byzantine case, for robust aggregation, not for this check.
   */
  private maybeJump(): ProtocolAction[] {
    const cur = this.current?.round ?? this.completed + 1;
    const to = Math.max(0, ...[...this.ahead.values()].map((a) => a.round));
    if (to < cur + 2) return [];
    const abandoned = this.current?.round;
    this.current = null;
    return [
      ...(abandoned !== undefined ? [{ kind: 'clearTimer', id: timerId(abandoned) } as const] : []),
      { kind: 'log', text: `behind: jumping from round ${cur} to ${to}` },
      ...this.startRound(to),
    ];
  }

  private onComputed(id: string, result: ComputeResult): ProtocolAction[] {
    const c = this.current;
    if (!this.active || !c || id !== trainId(c.round) || c.trained || result.kind !== 'train') return [];
    const { round } = c;
    const { params } = result;
    c.trained = params;
    const sends: ProtocolAction[] = c.neighbours.map((to) => ({ kind: 'send', to, msg: { type: 'dpsgd/model', round, params } }));
    return [...sends, { kind: 'state', state: 'waiting', role: 'peer' }, ...this.tryComplete()];
  }

  private onTimer(id: string): ProtocolAction[] {
    const c = this.current;
    if (!this.active || !c || id !== timerId(c.round)) return [];
    c.timedOut = true;
    return this.tryComplete();
  }

  private tryComplete(): ProtocolAction[] {
    const c = this.current;
    if (!c || !c.trained) return [];
    const box = this.inbox.get(c.round) ?? new Map<NodeId, Float32Array>();
    const waitingFor = c.neighbours.filter((j) => !box.has(j) && !this.suspects.has(j));
    if (waitingFor.length > 0 && !c.timedOut) return [];
    const missing = c.neighbours.filter((j) => !box.has(j));
    const newlyMissing = missing.filter((j) => !this.suspects.has(j));
    for (const j of missing) this.suspects.add(j);
    this.x = dpsgdUpdate(this.ctx.id, c.trained, c.trained, box, c.weights, this.ctx.config.robust);
    this.completed = c.round;
    this.current = null;
    this.inbox.delete(c.round);
    const actions: ProtocolAction[] = [{ kind: 'clearTimer', id: timerId(c.round) }];
    if (newlyMissing.length > 0) actions.push({ kind: 'log', text: `round ${c.round}: no model from ${newlyMissing.join(', ')}; their weight stays with this node, and later rounds do not wait for them` });
    actions.push({ kind: 'model', round: c.round, params: this.x, scope: 'local' }, { kind: 'round', round: c.round }, ...this.startRound(c.round + 1));
    return actions;
  }

  private finish(): ProtocolAction[] {
    if (this.finished) return [];
    this.finished = true;
    this.inbox.clear();
    this.ahead.clear();
    return [{ kind: 'state', state: 'done', role: 'peer' }, { kind: 'done' }];
  }
}

