import type { Rng } from '../../core/rng.ts';
import type { NodeId, Protocol, ProtocolAction, ProtocolContext, ProtocolEvent } from '../protocol.ts';
import type { ComputeResult } from '../../core/learn/compute.ts';
import { roomTraining } from '../compute.ts';
import { buildTopology, sortIds, type Topology } from '../topology.ts';
import { clip, PeerClaims } from '../common/claims.ts';
import { merge, mergeOptions, type AgedModel, type MergeOptions } from './merge.ts';

/** Models that arrive during training wait here: the latest one per sender, at most this many senders. */
export const MAX_PENDING = 4;
/** A received model's age counts at most this many times this node's own (see `boundAge`). */
export const AGE_RATIO = 4;

const TICK = 'tick';
/** The id of this node's training: one at a time, so one id. */
const TRAIN = 'train';

/**
 * Gossip learning (Ormándi, Hegedűs, Jelasity 2013; Hegedűs et al. 2019).
 *
 * - Every node starts from its own model (`ctx.initialParams`; independent inits by default).
 * - Every Δ (`period`) a node sends its current model and age to one random peer and emits
 *   `{kind: 'round', round: tick}`. The first tick comes after a random phase in [0, Δ) drawn
 *   from the node's RNG, so nodes are not in lockstep. After `rounds` ticks the node is done.
 * - Peers: with `topology=full` any known peer (the roster); otherwise a uniformly random
 *   neighbour in the graph `topology` over the known ids (for `exp`, the graph of the current
 *   tick). Every node computes the same graph from the seed and the roster.
 * - When a model arrives, the node merges it into its own (`merge`: mean | age | vca) and then
 *   trains locally from the merge (a `train` action). With `merge=mu` it merges the arrival
 *   with the model it received before (its last-seen model, initially its own init) instead,
 *   and that result replaces its model (Ormándi et al. 2013's MU). Age = samples trained on: a
 *   merge takes the max of the merged ages, training adds the samples it went through.
 * - Training is asynchronous. A model that arrives while the node trains is kept (the latest
 *   one per sender, at most MAX_PENDING senders, the oldest dropped first); when training
 *   finishes, the trained model becomes the node's model and all pending models are merged
 *   into it in one multi-way merge (`mu`: taken in arrival order, see `muMerge`), followed by
 *   one more training. So a node never merges into a model that is about to be overwritten,
 *   and never queues an unbounded backlog.
 * - Between a merge and the end of its training, the node's model (sent on ticks and
 *   evaluated) is the merged, not yet trained one.
 * - A late joiner adopts the tick count of the models it receives (minus one: senders may be
 *   a phase ahead), so it finishes with the room instead of `rounds` ticks after joining; it
 *   takes the count two peers report (PeerClaims), so one peer cannot end its run early.
 * - Claims are bounded: a tick beyond `rounds` is refused, and a received age counts at most
 *   AGE_RATIO times this node's own once it has trained (see `boundAge`).
 */
export class Gossip implements Protocol {
  private params: Float32Array;
  private age = 0;
  private ticks = 0;
  private started = false;
  private stopped = false;
  private finished = false;
  private training = false;
  private readonly pending = new Map<NodeId, AgedModel>();
  /** The model received most recently (before any merge), which `mu` merges the next arrival with. */
  private lastSeen: AgedModel;
  private peers: NodeId[];
  private topology: Topology | null = null;
  private readonly opts: MergeOptions;
  private readonly peerRng: Rng;
  private readonly tickClaims = new PeerClaims();

  constructor(private readonly ctx: ProtocolContext) {
    this.params = ctx.initialParams;
    this.lastSeen = { params: ctx.initialParams, age: 0 };
    this.peers = sortIds(ctx.peers.filter((p) => p !== ctx.id));
    this.opts = mergeOptions(ctx.config);
    this.peerRng = ctx.rng.split('peer');
  }

  get round(): number {
    return this.ticks;
  }

  /** Samples this node's model has been trained on, merges included. */
  get modelAge(): number {
    return this.age;
  }

  currentParams(): Float32Array {
    return this.params;
  }

  handle(event: ProtocolEvent, _now: number): ProtocolAction[] {
    switch (event.kind) {
      case 'start':
        return this.onStart();
      case 'timer':
        return event.id === TICK ? this.onTick() : [];
      case 'message':
        return this.onMessage(event.from, event.msg);
      case 'computed':
        return event.id === TRAIN && event.result.kind === 'train' ? this.onTrained(event.result) : [];
      case 'roster':
        this.peers = sortIds(event.peers.filter((p) => p !== this.ctx.id));
        this.topology = null;
        return [];
      case 'stop':
        if (this.stopped) return [];
        this.stopped = true;
        this.pending.clear();
        return [{ kind: 'clearTimer', id: TICK }, { kind: 'state', state: 'idle' }];
    }
  }

  private get active(): boolean {
    return this.started && !this.stopped && !this.finished;
  }

  private onStart(): ProtocolAction[] {
    if (this.started) return [];
    this.started = true;
    const phase = this.ctx.rng.split('phase').next() * this.ctx.config.period;
    return [
      { kind: 'state', state: 'waiting', role: 'peer' },
      { kind: 'model', round: 0, params: this.params, scope: 'local' },
      { kind: 'setTimer', id: TICK, afterMs: phase },
    ];
  }

  /** The peers this node may gossip to at tick `tick`. */
  candidates(tick: number): NodeId[] {
    if (this.ctx.config.topology === 'full') return this.peers;
    this.topology ??= buildTopology(this.ctx.config.topology, [this.ctx.id, ...this.peers], this.ctx.config.seed);
    return this.topology.neighbours(this.ctx.id, tick);
  }

  private onTick(): ProtocolAction[] {
    if (!this.active) return [];
    this.ticks++;
    const tick = this.ticks;
    const actions: ProtocolAction[] = [];
    const candidates = this.candidates(tick);
    if (candidates.length > 0) {
      const to = this.peerRng.pick(candidates);
      actions.push({ kind: 'send', to, msg: { type: 'gossip/model', round: tick, age: this.age, params: this.params } });
    } else actions.push({ kind: 'log', text: `tick ${tick}: no peer to gossip to` });
    actions.push({ kind: 'round', round: tick });
    if (tick >= this.ctx.config.rounds) {
      this.finished = true;
      this.pending.clear();
      actions.push({ kind: 'state', state: 'done', role: 'peer' }, { kind: 'done' });
    } else actions.push({ kind: 'setTimer', id: TICK, afterMs: this.ctx.config.period });
    return actions;
  }

  private onMessage(from: NodeId, msg: { type: string; [k: string]: unknown }): ProtocolAction[] {
    if (msg.type !== 'gossip/model') return [{ kind: 'reject', from, reason: `unexpected ${msg.type}` }];
    if (from === this.ctx.id) return [{ kind: 'reject', from, reason: 'model from itself' }];
    // A node that is done (or stopped) quietly ignores the last models still in flight.
    if (this.finished || this.stopped) return [];
    if (!this.started) return [{ kind: 'reject', from, reason: 'model before start' }];
    const senderTick = msg.round as number;
    if (senderTick > this.ctx.config.rounds) return [{ kind: 'reject', from, claim: 'round', reason: `tick ${senderTick} beyond the last round` }];
    // Ticks of running nodes differ by at most about one; a node that is further behind joined
    // late, and takes the room's tick count so that it finishes with everyone else. A tick
    // count is a claim that ends this node's run, so it is taken only once two peers make it.
    this.tickClaims.note(from, senderTick);
    const room = this.tickClaims.corroborated(Math.min(2, this.peers.length));
    if (room - 1 > this.ticks) this.ticks = Math.min(room - 1, this.ctx.config.rounds - 1);
    const actions: ProtocolAction[] = [];
    const age = this.boundAge(msg.age as number);
    if (age.clipped) actions.push({ kind: 'clipped', from, claim: 'age' });
    const received: AgedModel = { params: msg.params as Float32Array, age: age.value };
    if (this.training) {
      this.pending.delete(from);
      this.pending.set(from, received);
      if (this.pending.size > MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
      return actions;
    }
    return [...actions, ...this.mergeAndTrain([received])];
  }

  /**
   * An age weighs the `age` merge, so it is a claim: once this node has trained, a received
   * age counts at most AGE_RATIO times its own, so no single message can replace its model
   * (weight at most AGE_RATIO/(AGE_RATIO + 1)). Honest ages in a running room differ by a few
   * trainings, well inside the ratio; a fresh node (age 0) takes any model whole, as the rule says.
   */
  private boundAge(claim: number): { value: number; clipped: boolean } {
    return this.age > 0 ? clip(claim, AGE_RATIO * this.age) : { value: claim, clipped: false };
  }

  private mergeAndTrain(received: AgedModel[]): ProtocolAction[] {
    const merged = merge({ params: this.params, age: this.age }, received, this.ctx.spec.tensors, this.opts, this.lastSeen);
    this.lastSeen = received[received.length - 1];
    this.params = merged.params;
    this.age = merged.age;
    this.training = true;
    return [
      { kind: 'model', round: this.ticks, params: this.params, scope: 'local' },
      { kind: 'state', state: 'training', role: 'peer' },
      { kind: 'compute', id: TRAIN, round: this.ticks, request: roomTraining(this.ctx.config, this.params) },
    ];
  }

  private onTrained(result: Extract<ComputeResult, { kind: 'train' }>): ProtocolAction[] {
    if (!this.training || this.stopped) return [];
    this.training = false;
    this.params = result.params;
    this.age += result.samplesSeen;
    const actions: ProtocolAction[] = [{ kind: 'model', round: this.ticks, params: this.params, scope: 'local' }];
    if (this.pending.size > 0 && this.active) {
      const batch = [...this.pending.values()];
      this.pending.clear();
      actions.push(...this.mergeAndTrain(batch));
    } else if (!this.finished) actions.push({ kind: 'state', state: 'waiting', role: 'peer' });
    return actions;
  }
}

