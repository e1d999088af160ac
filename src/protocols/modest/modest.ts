import type { Config } from '../../core/config.ts';
import { normalize } from '../../core/vector.ts';
import { robustAverage } from '../../core/robust/aggregate.ts';
import type { Message } from '../../core/wire/codec.ts';
import { roomTraining, trainId } from '../compute.ts';
import { openUpdate, UpdateSealer } from '../common/privacy.ts';
import type { NodeId, NodeState, Protocol, ProtocolAction, ProtocolContext, ProtocolEvent } from '../protocol.ts';
import type { AnnounceMsg, ModelMsg, PingMsg, PongMsg } from './messages.ts';
import { hash53 } from '../../core/hash.ts';
import { ranking } from './ranking.ts';
import { PeerClaims } from '../common/claims.ts';
import { boundWire, View, type WireView } from './view.ts';

/**
 * Models an aggregator waits for: the least count n with n ≥ s·sf, i.e. ⌈s·sf⌉ (the reference
 * code's `len >= s*sf`), at least 1. The product is rounded to 1e-9 first so that a float
 * artefact such as 10·0.7 = 7.000000000000001 does not ask for 8 (the reference would).
 */
export function modelsNeeded(s: number, sf: number): number {
  return Math.max(1, Math.ceil(Math.round(s * sf * 1e9) / 1e9));
}

/**
 * MoDeST, decentralized sampling (de Vos, Dhasade, Kermarrec et al., arXiv 2302.13837;
 * reference code devos50/decentralized-learning, later named Plexus).
 *
 * Round r: the trainers are the first s responsive nodes of the ranking of round r
 * (ranking.ts). Each trains from w_{r-1}, pings the ranking of round r+1 in order for the
 * first `a` responsive nodes (the aggregators) and sends each its model and view. An
 * aggregator waits for ⌈s·sf⌉ models (the reference tests `len >= s*sf`; after `aggTimeout`:
 * at least min(3, ⌈s·sf⌉)), takes
 * the mean (or the sample-weighted mean), emits w_r, and sends it with its view to the first
 * s responsive nodes of round r+1. Round 1 needs no coordinator: every node ranks its
 * bootstrap view and the first s train from the shared init. (A node that joins mid-run
 * cannot tell it is late, so if it ranks in round 1's sample it trains round 1 once; the
 * pongs then show every aggregator is past round 1 and nothing is sent.)
 *
 * Deviations: cyrb53 instead of MD5; timeouts in ms from the config (reference: 300 s, 5 s);
 * PING_ATTEMPTS pings within `pingTimeout` (reference: one a second); pongs also carry the
 * responder's progress, so a hand-over skips targets that would ignore it; and liveness:
 *
 * Liveness. Each node remembers its latest hand-over (its model to the aggregators, or its
 * average to the next trainers). A watchdog re-does it when nothing newer happened here
 * for W = 2·aggTimeout + 4·pingTimeout (then 2W, 4W, 4W...): ping the ranking again, which
 * skips the dead, and re-send to targets whose pong says they would accept. Receivers judge
 * only by their own state, so re-sends are harmless duplicates. Why nothing stalls: call
 * the stage of a node 2r while it trains round r, 2r+1 once its round-r model is out, 2r+2
 * once w_r is out. The live node with the highest stage either is busy (training ends; an
 * aggregation has a timer) or its watchdog fires, and a responsive target that would refuse
 * its message must itself be at a higher stage: impossible. So the stage rises. A re-send
 * is skipped when a responder reports its own higher stage (that node carries the run), or
 * when this node heard of later rounds since the last check (the run moves; in a stall
 * nothing new is heard, so the next check re-sends). An aggregator below 3 models after the timeout waits one more timeout,
 * then proceeds with what it has, where the reference drops the round: with under 3 live
 * trainers nothing else could progress.
 *
 * Membership: views piggyback on every model message. JOIN/LEAVE go to ~10·s random peers;
 * a received JOIN applies only after this node next sends a model, so a new node is never
 * in the sample chosen right after it joined. A peer first seen in a `roster` after start
 * counts as a received JOIN (the signaling server relays it); a node nobody contacted
 * within `aggTimeout` of starting announces JOIN itself. Nodes inactive for more than
 * `inactivity` rounds leave the ranking.
 *
 * Rejoin (`rejoin=announce`, the default; `reference` keeps the rule above as it is). At N = 1,000
 * and s = 10 a node is sampled about every N/s = 100 rounds, so the inactivity rule (50 rounds)
 * drops most nodes, and a dropped node is never pinged again: it has no way back (issue 10: 185
 * distinct trainers in rounds 61–90). Two rules fix that at a cost per round that does not grow
 * with N:
 * - Revival pings. Each trainer of round r, as it starts training, pings REVIVE_PINGS node(s) of
 *   its view that are about to drop out of the ranking or have (entry older than REJOIN_AT of the
 *   inactivity limit), picked by a hash of (id, trainer, round), so trainers pick different ones.
 *   A pong is a sign of life: the trainer's view, sent with its model, carries the node's fresh
 *   entry to the aggregator, whose view reaches the next trainers. That is s·REVIVE_PINGS pings a
 *   round whatever N is. (An earlier rule had quiet nodes re-announce themselves; they had to learn
 *   the round rate by pinging random peers who mostly knew no more, and the announcements grew as
 *   N/(0.8·inactivity) a round.)
 * - One view per round. A trainer ranks the aggregators of round r+1 by the view that came with
 *   w_{r-1} (the round view), not by its own: the trainers of a round got the same round view from
 *   their aggregator, so they rank alike, while their own views differ by what each heard alone (a
 *   revival pong, a ping, a JOIN it applied). With own views, one such difference near the top of
 *   the ranking split a round's models between two aggregators, and the round waited aggTimeout
 *   (issue 10: round 69 at N = 1,000 on a 100 kB/s uplink). What a trainer heard alone still
 *   travels: its own view goes with its model. A round view naming no active node (a malformed or
 *   empty one) is not used. A lying aggregator can steer its trainers' choice of the next
 *   aggregator this way (a short view), where with own views it could only add to them; at a = 1 it
 *   already decides the model they train, which is the byzantine case, left to `robust=`. At a > 1 trainers may get w_{r-1} from different aggregators, whose
 *   views can differ; this rule does not cover that.
 * The start-up JOIN is skipped when a roster was given: the node's peers have it in their bootstrap
 * views, or the roster relay told them (onRoster), so it would carry nothing new (about 80,000
 * frames at N = 1,000 on a 100 kB/s uplink).
 */

/** Pings per candidate within `pingTimeout` before it is skipped. */
export const PING_ATTEMPTS = 3;
/** After `aggTimeout`, an aggregator proceeds if it has at least this many models (reference: 3). */
export const MIN_MODELS_AFTER_TIMEOUT = 3;
/** JOIN / LEAVE go to ANNOUNCE_FANOUT·s random peers. */
export const ANNOUNCE_FANOUT = 10;
/** rejoin=announce: revival pings each trainer sends a round (see above). */
export const REVIVE_PINGS = 1;
/** Ping nonce of revival pings: no search has it (ids start at 1), so their pongs only refresh the responder's entry. */
const REVIVE_NONCE = 0;
/**
 * rejoin=announce: a node whose entry is older than this share of the inactivity limit may get a
 * revival ping. Late enough that a node sampled now and then never needs one (at N = 200, s = 10
 * one is sampled every 20 rounds on average), early enough to catch it before it drops.
 */
const REJOIN_AT = 0.8;
const ANNOUNCE_ATTEMPTS = 3;
const WATCHDOG_MAX_BACKOFF = 2;

/** What a pong says about its sender. */
export interface Progress {
  trained: number;
  aggregating: number;
  aggregated: boolean;
}

interface Handoff {
  /** 'aggregate': a trainer's model to aggregators; 'train': an average to the next trainers. */
  kind: 'train' | 'aggregate';
  /** The message's round (see messages.ts). */
  round: number;
  /** The ranking whose responsive nodes receive it. */
  rankRound: number;
  /** rejoin=announce, a trainer's model: the round view it ranks by (see "One view per round"); else this node's own view. */
  rankView?: View;
  count: number;
  params: Float32Array;
  /** What goes on the wire instead of `params`, if anything: a trainer's RQM update (its base model and levels). */
  wire?: Record<string, unknown>;
  samples: number;
  stage: number;
}

interface Search {
  id: number;
  handoff: Handoff;
  redo: boolean;
  candidates: NodeId[];
  next: number;
  /** Candidates pinged and not answered yet → pings sent so far. */
  pending: Map<NodeId, number>;
  /** Responsive candidates → what they reported (null: this node itself). */
  found: Map<NodeId, Progress | null>;
}

interface Collection {
  round: number;
  models: Map<NodeId, { params: Float32Array; samples: number }>;
  count: number;
  done: boolean;
  timeouts: number;
}

/** Whether a node with progress `p` would use this hand-over (receivers ignore rounds they have seen). */
export function accepts(h: Pick<Handoff, 'kind' | 'round'>, p: Progress): boolean {
  if (h.kind === 'train') return h.round > p.trained;
  return h.round > p.aggregating || (h.round === p.aggregating && !p.aggregated);
}

/** A lower bound on the stage of a node with progress `p` (training r: 2r; models of r out: 2r+1; w_r out: 2r+2). */
export function stageOf(p: Progress): number {
  const agg = p.aggregating === 0 ? 0 : p.aggregated ? 2 * p.aggregating + 2 : 2 * p.aggregating + 1;
  return Math.max(2 * p.trained, agg);
}

const byId = <T>([a]: [NodeId, T], [b]: [NodeId, T]) => (a < b ? -1 : a > b ? 1 : 0);

export class Modest implements Protocol {
  private readonly view = new View();
  /** Received JOINs, applied after this node next sends a model. */
  private readonly pendingJoins = new View();
  private readonly cfg: Config;
  private readonly need: number;
  private readonly minAfterTimeout: number;
  private readonly watchdogMs: number;
  private started = false;
  private stopped = false;
  private finished = false;
  private counter = 0;
  /** Highest round this node was asked to train (the reference's train_sample_estimate). */
  private trainRound = 0;
  /** Round being trained right now. */
  private training: number | null = null;
  /** The latest aggregation (the reference's aggregate_sample_estimate). */
  private collection: Collection | null = null;
  /** The latest hand-over, which the watchdog re-does. */
  private handoff: Handoff | null = null;
  private backoff = 0;
  /** This node's round estimate when the watchdog last looked. */
  private watchHeard = 0;
  private readonly searches = new Map<number, Search>();
  private nextSearchId = 1;
  private latest: Float32Array;
  private latestRound = 0;
  /** The model the current training started from: an RQM update is the change from it. */
  private trainingBase: Float32Array;
  private readonly sealer: UpdateSealer;
  private lastState = '';
  private contacted = false;
  private announceAttempts = 0;
  /** Whether a roster was given: then this node's peers know it already and a start-up JOIN is news to nobody. */
  private rosterSeen = false;
  /** rejoin=announce: the view the model of the round being trained came with (see "One view per round"). */
  private roundView: View | null = null;
  private readonly timers = new Set<string>();
  /** The highest round each peer claimed (pings, pongs, views): a far-ahead round needs two of them. */
  private readonly roundClaims = new PeerClaims();
  /** Peers whose pong said the last round is aggregated: finishing on hearsay needs two. */
  private readonly finalClaims = new Set<NodeId>();
  /** Ids this node can vouch for: the roster (the signaling server's), its bootstrap peers, and direct senders. */
  private readonly known = new Set<NodeId>();
  /** The highest round this node itself trained or aggregated into (its own view entry, which peers cannot raise). */
  private ownRound = 0;
  /** Trained models for a round far beyond this node's estimate, held (the latest one per sender) until a second peer confirms the round. */
  private readonly early = new Map<NodeId, { round: number; params: Float32Array; samples: number }>();

  constructor(private readonly ctx: ProtocolContext) {
    this.cfg = ctx.config;
    this.need = modelsNeeded(this.cfg.s, this.cfg.sf);
    this.minAfterTimeout = Math.min(MIN_MODELS_AFTER_TIMEOUT, this.need);
    this.watchdogMs = 2 * this.cfg.aggTimeout + 4 * this.cfg.pingTimeout;
    this.latest = ctx.initialParams;
    this.trainingBase = ctx.initialParams;
    this.sealer = new UpdateSealer(ctx.config, ctx.rng);
    this.view.mergeEntry(ctx.id, { round: 0, counter: 0, status: 'join' });
    this.known.add(ctx.id);
    for (const p of ctx.peers) {
      this.known.add(p);
      this.bootstrapPeer(p);
    }
  }

  get round(): number {
    return Math.max(this.trainRound, this.latestRound);
  }

  currentParams(): Float32Array {
    return this.latest;
  }

  /** A copy of this node's membership view. */
  membership(): View {
    return this.view.clone();
  }

  /** Ids of received JOINs not applied yet. */
  pendingMembers(): NodeId[] {
    return this.pendingJoins.ids();
  }

  handle(event: ProtocolEvent, _now: number): ProtocolAction[] {
    const out: ProtocolAction[] = [];
    switch (event.kind) {
      case 'start':
        this.onStart(out);
        break;
      case 'roster':
        this.onRoster(event.peers);
        break;
      case 'message':
        this.onMessage(out, event.from, event.msg);
        break;
      case 'computed':
        if (event.result.kind === 'train') this.onTrained(out, event.id, event.result.params);
        break;
      case 'timer':
        this.onTimer(out, event.id);
        break;
      case 'stop':
        this.onStop(out);
        break;
    }
    const [state, role] = this.state();
    if (`${state}/${role}` !== this.lastState) {
      this.lastState = `${state}/${role}`;
      out.push({ kind: 'state', state, role });
    }
    return out;
  }

  // ---- lifecycle and membership ------------------------------------------------------

  private bootstrapPeer(id: NodeId): void {
    if (id !== this.ctx.id) this.view.mergeEntry(id, { round: 0, counter: 0, status: 'join' });
  }

  private onStart(out: ProtocolAction[]): void {
    if (this.started && !this.stopped) return;
    const restart = this.stopped;
    this.started = true;
    this.stopped = false;
    if (restart) {
      this.announce(out, 'join');
    } else if (this.cfg.rejoin === 'reference' || !this.rosterSeen) {
      this.setTimer(out, 'announce', this.cfg.aggTimeout);
    }
    // Round 1: no coordinator. Every node ranks its view for round 1; the first s train from the shared init.
    if (this.trainRound === 0 && ranking(1, this.view.active(1, this.cfg.inactivity)).slice(0, this.cfg.s).includes(this.ctx.id)) {
      this.beginTraining(out, 1, this.ctx.initialParams);
    }
  }

  private onRoster(peers: NodeId[]): void {
    this.rosterSeen = true;
    for (const p of peers) {
      if (p === this.ctx.id) continue;
      this.known.add(p);
      if (!this.started) this.bootstrapPeer(p);
      // After start, a peer new to the roster is a JOIN relayed by the signaling server.
      else if (!this.view.has(p) && !this.pendingJoins.has(p)) this.pendingJoins.mergeEntry(p, { round: this.estimate(), counter: 0, status: 'join' });
    }
  }

  private onStop(out: ProtocolAction[]): void {
    if (!this.started || this.stopped) return;
    this.announce(out, 'leave');
    this.stopped = true;
    for (const s of [...this.searches.values()]) this.cancelSearch(out, s);
    for (const id of [...this.timers]) this.clearTimer(out, id);
    this.training = null;
    this.early.clear();
    if (this.collection && !this.collection.done) this.collection = null;
  }

  /** JOIN or LEAVE to ~10·s random peers, with a fresh counter so it wins every merge. */
  private announce(out: ProtocolAction[], change: 'join' | 'leave'): void {
    this.counter++;
    this.view.mergeEntry(this.ctx.id, { round: this.estimate(), counter: this.counter, status: change });
    const peers = this.view
      .ids()
      .filter((id) => id !== this.ctx.id && this.view.get(id)!.status === 'join')
      .sort();
    const targets = this.ctx.rng.sample(peers, Math.min(ANNOUNCE_FANOUT * this.cfg.s, peers.length)).sort();
    const view = this.view.toWire([this.ctx.id]);
    for (const to of targets) out.push({ kind: 'send', to, msg: { type: `modest/${change}`, round: this.estimate(), view } });
  }

  private onAnnounce(out: ProtocolAction[], from: NodeId, change: 'join' | 'leave', m: AnnounceMsg): void {
    const w = m.view;
    if (w.ids.length !== 1 || w.ids[0] !== from) {
      out.push({ kind: 'reject', from, reason: 'a JOIN or LEAVE must describe only its sender' });
      return;
    }
    if ((w.s === 'J') !== (change === 'join')) {
      out.push({ kind: 'reject', from, reason: `modest/${change} carries status ${w.s}` });
      return;
    }
    const entry = { round: Math.max(w.r[0], m.round, this.estimate()), counter: w.c[0], status: change };
    if (change === 'join') this.pendingJoins.mergeEntry(from, entry);
    else this.view.mergeEntry(from, entry);
  }

  /** Merges a received view, bounded (boundWire); returns the bounded view. */
  private mergeView(out: ProtocolAction[], from: NodeId, w: WireView): WireView {
    const bounded = boundWire(w, this.view, (id) => this.known.has(id) || this.view.has(id) || this.pendingJoins.has(id), this.cfg.rounds + 1);
    if (bounded.clipped > 0) out.push({ kind: 'clipped', from, claim: 'view' });
    this.view.mergeWire(bounded.wire);
    const me = this.view.get(this.ctx.id)!;
    if (me.counter > this.counter) this.counter = me.counter;
    if (me.status === 'leave' && !this.stopped) {
      // An old LEAVE of ours (e.g. from before a restart): refute it with a higher counter.
      out.push({ kind: 'log', text: `view says ${this.ctx.id} left; announcing JOIN again` });
      this.announce(out, 'join');
    }
    return bounded.wire;
  }

  /** Pending JOINs take effect now, right after this node sent a model. */
  private flushJoins(): void {
    if (this.pendingJoins.size === 0) return;
    this.view.merge(this.pendingJoins);
    this.pendingJoins.clear();
  }

  /**
   * This node's round estimate: its own progress, or what two peers agree on (a late joiner
   * learns the room's round that way; one peer alone cannot move it).
   */
  private estimate(): number {
    return Math.max(this.trainRound, this.collection?.round ?? 0, this.ownRound, this.roundClaims.corroborated(this.witnesses()));
  }

  /** Peers that must back a claim: two, or every other node when there are fewer. */
  private witnesses(): number {
    return Math.max(1, Math.min(2, this.known.size - 1));
  }

  /** Records what a message claims about the run; false (and a rejection) if a round is beyond the last one. */
  private noteClaims(out: ProtocolAction[], from: NodeId, rounds: number[]): boolean {
    const claimed = Math.max(0, ...rounds);
    if (claimed > this.cfg.rounds + 1) {
      out.push({ kind: 'reject', from, claim: 'round', reason: `claims round ${claimed}, beyond the last round` });
      return false;
    }
    this.roundClaims.note(from, claimed);
    return true;
  }

  private touchSelf(round: number): void {
    this.ownRound = Math.max(this.ownRound, round);
    this.view.touch(this.ctx.id, round);
  }

  private progress(): Progress {
    return { trained: this.trainRound, aggregating: this.collection?.round ?? 0, aggregated: this.collection?.done ?? false };
  }

  private state(): [NodeState, string] {
    if (this.stopped || !this.started) return ['idle', 'idle'];
    if (this.training !== null) return ['training', 'trainer'];
    if (this.collection && !this.collection.done) return ['aggregating', 'aggregator'];
    if (this.finished) return ['done', 'idle'];
    return ['waiting', 'idle'];
  }

  // ---- messages ----------------------------------------------------------------------

  private onMessage(out: ProtocolAction[], from: NodeId, msg: Message): void {
    // Like the reference, a node that is not participating neither answers nor learns.
    if (!this.started || this.stopped) return;
    if (from === this.ctx.id) {
      out.push({ kind: 'reject', from, reason: 'message from this node’s own id' });
      return;
    }
    this.contacted = true;
    this.known.add(from);
    this.dispatchMessage(out, from, msg);
    this.releaseEarly(out);
  }

  private dispatchMessage(out: ProtocolAction[], from: NodeId, msg: Message): void {
    switch (msg.type) {
      case 'modest/ping': {
        const m = msg as unknown as PingMsg;
        if (!this.noteClaims(out, from, [m.round])) return;
        this.view.touch(from, Math.max(m.round, this.estimate()));
        out.push({ kind: 'send', to: from, msg: { type: 'modest/pong', round: this.estimate(), nonce: m.nonce, ...this.progress() } });
        return;
      }
      case 'modest/pong':
        this.onPong(out, from, msg as unknown as PongMsg);
        return;
      case 'modest/model': {
        const m = msg as unknown as ModelMsg;
        if (m.round > this.cfg.rounds) {
          out.push({ kind: 'reject', from, claim: 'round', reason: `${m.kind} model for round ${m.round}, beyond the last round` });
          return;
        }
        if (!this.noteClaims(out, from, [m.round, ...m.view.r])) return;
        const roundView = this.mergeView(out, from, m.view);
        this.view.touch(from, Math.max(m.round, this.estimate()));
        if (m.kind === 'train') {
          if (m.levels) out.push({ kind: 'reject', from, reason: 'RQM levels on a train message' });
          else this.onTrainRequest(out, m.round, m.params, roundView);
          return;
        }
        // Under dp=rqm a trained model arrives as the base it was trained from plus the RQM levels of its change.
        const opened = openUpdate(this.cfg, { base: m.params, params: m.params, levels: m.levels });
        if (opened.ok) this.onTrainedModel(out, from, m.round, opened.params, m.samples);
        else out.push({ kind: 'reject', from, reason: opened.reason });
        return;
      }
      case 'modest/join':
      case 'modest/leave':
        if (!this.noteClaims(out, from, [(msg as unknown as AnnounceMsg).round, ...(msg as unknown as AnnounceMsg).view.r])) return;
        this.onAnnounce(out, from, msg.type === 'modest/join' ? 'join' : 'leave', msg as unknown as AnnounceMsg);
        return;
      default:
        out.push({ kind: 'reject', from, reason: `unexpected ${msg.type}` });
    }
  }

  private onPong(out: ProtocolAction[], from: NodeId, m: PongMsg): void {
    if (!this.noteClaims(out, from, [m.round, m.trained, m.aggregating])) return;
    this.view.touch(from, Math.max(m.round, this.estimate()));
    // Hearsay that the run is over ends this node's part in it, so it needs a second witness.
    if (m.aggregated && m.aggregating >= this.cfg.rounds) {
      this.finalClaims.add(from);
      if (this.finalClaims.size >= this.witnesses()) this.finish(out);
    }
    const s = this.searches.get(m.nonce);
    if (!s || !s.pending.has(from)) return; // a late or repeated pong: harmless
    s.pending.delete(from);
    this.clearTimer(out, pingTimer(s.id, from));
    s.found.set(from, { trained: m.trained, aggregating: m.aggregating, aggregated: m.aggregated });
    this.advanceSearch(out, s);
  }

  // ---- training ----------------------------------------------------------------------

  /** w_{round-1} arrived, with the view its aggregator sent: train round `round` unless it was seen already. */
  private onTrainRequest(out: ProtocolAction[], round: number, params: Float32Array, roundView: WireView): void {
    // A copy for a round already seen (from another aggregator, or a watchdog re-send) is ignored.
    if (round <= this.trainRound || round > this.cfg.rounds || this.finished) return;
    // The params are the global model w_{round-1}: a live tab shows its accuracy.
    out.push({ kind: 'model', round: round - 1, params, scope: 'global' });
    this.beginTraining(out, round, params, roundView);
  }

  /** `roundView`: the view w_{round-1} came with (none in round 1, where every node ranks its bootstrap view). */
  private beginTraining(out: ProtocolAction[], round: number, params: Float32Array, roundView?: WireView): void {
    // A model for a higher round: stop whatever this node was doing as a trainer and train that round.
    for (const s of [...this.searches.values()]) if (s.handoff.kind === 'aggregate' && s.handoff.round < round) this.cancelSearch(out, s);
    this.trainRound = round;
    this.training = round;
    this.latest = params;
    this.trainingBase = params;
    this.latestRound = Math.max(this.latestRound, round - 1);
    this.touchSelf(round);
    const announce = this.cfg.rejoin === 'announce';
    this.roundView = announce && roundView ? View.fromWire(roundView) : null;
    out.push({ kind: 'compute', id: trainId(round), round, request: roomTraining(this.ctx.config, params) });
    if (announce) this.revive(out, round);
  }

  /**
   * rejoin=announce: ping REVIVE_PINGS node(s) whose entry is about to fall out of the ranking (or
   * has), so the pong refreshes them in the view this node's model carries. A hash of (id, this
   * node, round) picks them: the same every run, and different for each trainer of the round.
   */
  private revive(out: ProtocolAction[], round: number): void {
    const stale = round - Math.floor(REJOIN_AT * this.cfg.inactivity);
    const candidates: { id: NodeId; key: number }[] = [];
    for (const [id, m] of this.view.entries())
      if (id !== this.ctx.id && m.status === 'join' && m.round < stale) candidates.push({ id, key: hash53(`${id}-revive-${this.ctx.id}-${round}`) });
    candidates.sort((x, y) => x.key - y.key || (x.id < y.id ? -1 : 1));
    for (const { id } of candidates.slice(0, REVIVE_PINGS)) out.push({ kind: 'send', to: id, msg: { type: 'modest/ping', round: this.estimate(), nonce: REVIVE_NONCE } });
  }

  private onTrained(out: ProtocolAction[], id: string, params: Float32Array): void {
    const round = this.training;
    if (round === null || id !== trainId(round) || this.stopped) return; // abandoned for a higher round
    this.training = null;
    this.latest = params;
    // Sealed once: every aggregator, and every watchdog re-send, gets the same release.
    const sealed = this.sealer.seal(this.trainingBase, params);
    const wire = 'levels' in sealed.fields ? { params: this.trainingBase, ...sealed.fields } : undefined;
    const h: Handoff = { kind: 'aggregate', round, rankRound: round + 1, rankView: this.roundView ?? undefined, count: this.cfg.a, params: sealed.params, wire, samples: Math.max(1, this.ctx.samples), stage: 2 * round + 1 };
    this.startSearch(out, h, false);
  }

  // ---- aggregation -------------------------------------------------------------------

  private onTrainedModel(out: ProtocolAction[], from: NodeId, round: number, params: Float32Array, samples: number): void {
    let c = this.collection;
    if (samples > this.ctx.maxSamples) {
      out.push({ kind: 'reject', from, claim: 'samples', reason: `model claims ${samples} samples; the room's largest shard has ${this.ctx.maxSamples}` });
      return;
    }
    // A round far beyond what this node knows would abandon its collection: one peer's word is
    // not enough, so the model waits (the sender's latest only) until a second peer reports the round.
    if ((!c || round > c.round) && !this.believable(round)) {
      this.early.set(from, { round, params, samples });
      return;
    }
    if (c && (round < c.round || (round === c.round && c.done))) return; // late copy: ignored
    if (!c || round > c.round) {
      if (c && !c.done) this.clearTimer(out, aggTimer(c.round)); // a later round is on: abandon this one
      c = this.collection = { round, models: new Map(), count: 0, done: false, timeouts: 0 };
      this.setTimer(out, aggTimer(round), this.cfg.aggTimeout);
    }
    if (c.models.has(from)) return; // a re-sent copy
    c.models.set(from, { params, samples });
    c.count = c.models.size;
    if (c.count >= this.need || (c.timeouts > 0 && c.count >= this.minAfterTimeout)) this.aggregate(out, c);
  }

  private believable(round: number): boolean {
    return round <= this.estimate() + 1 || this.roundClaims.atLeast(round) >= Math.min(this.witnesses(), this.need);
  }

  /** Held models whose round has since been confirmed are collected now; stale ones are dropped. */
  private releaseEarly(out: ProtocolAction[]): void {
    for (const [from, e] of [...this.early]) {
      const c = this.collection;
      if (c && (e.round < c.round || (e.round === c.round && c.done))) this.early.delete(from);
      else if (this.believable(e.round)) {
        this.early.delete(from);
        this.onTrainedModel(out, from, e.round, e.params, e.samples);
      }
    }
  }

  private onAggTimer(out: ProtocolAction[], round: number): void {
    const c = this.collection;
    if (!c || c.round !== round || c.done) return;
    c.timeouts++;
    if (c.count >= this.minAfterTimeout) {
      out.push({ kind: 'log', text: `round ${round}: aggregating ${c.count} of ${this.need} models after the timeout` });
      this.aggregate(out, c);
    } else if (c.timeouts >= 2 && c.count > 0) {
      out.push({ kind: 'log', text: `round ${round}: only ${c.count} model(s) after two timeouts; aggregating them so the run goes on` });
      this.aggregate(out, c);
    } else {
      out.push({ kind: 'log', text: `round ${round}: ${c.count} model(s) after the timeout, below ${this.minAfterTimeout}; waiting once more` });
      this.setTimer(out, aggTimer(round), this.cfg.aggTimeout);
    }
  }

  private aggregate(out: ProtocolAction[], c: Collection): void {
    c.done = true;
    this.clearTimer(out, aggTimer(c.round));
    // A fixed order, so float sums do not depend on arrival order.
    const models = [...c.models.entries()].sort(byId).map(([, m]) => m);
    c.models.clear();
    const vectors = models.map((m) => m.params);
    const weights = this.cfg.weighting === 'samples' ? normalize(models.map((m) => m.samples)) : models.map(() => 1 / models.length);
    // robust=: the trained models started from the aggregate this node knows last (cclip's center).
    const params = robustAverage(this.cfg.robust, vectors, weights, this.latest);
    const samples = models.reduce((sum, m) => sum + m.samples, 0);
    this.latest = params;
    this.latestRound = Math.max(this.latestRound, c.round);
    this.touchSelf(c.round + 1);
    out.push({ kind: 'model', round: c.round, params, scope: 'global' }, { kind: 'round', round: c.round });
    if (c.round >= this.cfg.rounds) {
      this.finish(out);
      return;
    }
    const h: Handoff = { kind: 'train', round: c.round + 1, rankRound: c.round + 1, count: this.cfg.s, params, samples, stage: 2 * c.round + 2 };
    this.startSearch(out, h, false);
  }

  private finish(out: ProtocolAction[]): void {
    if (this.finished) return;
    this.finished = true;
    this.early.clear();
    this.clearTimer(out, 'watchdog');
    this.clearTimer(out, 'announce');
    out.push({ kind: 'done' });
  }

  // ---- finding the first responsive nodes of a ranking, and handing a model over -----

  private startSearch(out: ProtocolAction[], handoff: Handoff, redo: boolean): void {
    // A round view that names no active node (an empty or malformed one) is not used.
    let active = handoff.rankView?.active(handoff.rankRound, this.cfg.inactivity) ?? [];
    if (active.length === 0) active = this.view.active(handoff.rankRound, this.cfg.inactivity);
    const candidates = ranking(handoff.rankRound, active);
    const s: Search = { id: this.nextSearchId++, handoff, redo, candidates, next: 0, pending: new Map(), found: new Map() };
    this.searches.set(s.id, s);
    this.advanceSearch(out, s);
  }

  /**
   * Keeps `count` candidates in flight, in ranking order; a candidate that does not answer
   * is replaced by the next one. When `count` answered (or the ranking ran out), the ones
   * that answered are exactly the first responsive nodes of the ranking.
   */
  private advanceSearch(out: ProtocolAction[], s: Search): void {
    while (s.found.size + s.pending.size < s.handoff.count && s.next < s.candidates.length) {
      const id = s.candidates[s.next++];
      if (id === this.ctx.id) s.found.set(id, null);
      else {
        s.pending.set(id, 1);
        this.sendPing(out, s, id);
      }
    }
    if (s.found.size >= s.handoff.count || (s.pending.size === 0 && s.next >= s.candidates.length)) this.finishSearch(out, s);
  }

  private sendPing(out: ProtocolAction[], s: Search, to: NodeId): void {
    out.push({ kind: 'send', to, msg: { type: 'modest/ping', round: this.estimate(), nonce: s.id } });
    this.setTimer(out, pingTimer(s.id, to), this.cfg.pingTimeout / PING_ATTEMPTS);
  }

  private onPingTimer(out: ProtocolAction[], sid: number, peer: NodeId): void {
    const s = this.searches.get(sid);
    const sent = s?.pending.get(peer);
    if (!s || sent === undefined) return;
    if (sent < PING_ATTEMPTS) {
      s.pending.set(peer, sent + 1);
      this.sendPing(out, s, peer);
      return;
    }
    s.pending.delete(peer); // no answer within pingTimeout: skip it for the next in order
    this.advanceSearch(out, s);
  }

  private cancelSearch(out: ProtocolAction[], s: Search): void {
    this.searches.delete(s.id);
    for (const peer of s.pending.keys()) this.clearTimer(out, pingTimer(s.id, peer));
  }

  private finishSearch(out: ProtocolAction[], s: Search): void {
    this.searches.delete(s.id);
    const h = s.handoff;
    const targets = s.candidates.filter((id) => s.found.has(id)).slice(0, h.count);
    // Hearsay (round estimates, pongs included) that the round this hand-over leads to is over.
    const heard = this.estimate();
    const past = heard >= (h.kind === 'aggregate' ? h.round + 2 : h.round + 1);
    let skip: boolean;
    if (!s.redo) {
      skip = past; // stale; if the hearsay misled us, the watchdog re-sends
      this.watchHeard = heard;
    } else {
      // Skip a re-send when a responder is itself further on (that live node carries the run), or
      // when this node heard of later rounds since its last check (the run moves). In a stall
      // nothing new is heard, so the next check re-sends.
      skip = targets.some((id) => id !== this.ctx.id && stageOf(s.found.get(id)!) > h.stage) || (past && heard > this.watchHeard);
      this.watchHeard = Math.max(this.watchHeard, heard);
    }
    const view = this.view.toWire();
    let toSelf = false;
    let sent = 0;
    for (const to of skip ? [] : targets) {
      const p = s.found.get(to) ?? this.progress();
      if (!accepts(h, p)) continue;
      if (to === this.ctx.id) toSelf = true;
      else {
        out.push({ kind: 'send', to, msg: { type: 'modest/model', kind: h.kind, round: h.round, samples: h.samples, view, params: h.params, ...h.wire } });
        sent++;
      }
    }
    if (s.redo && sent > 0) out.push({ kind: 'log', text: `watchdog: re-sent the ${h.kind === 'train' ? `round ${h.round - 1} average` : `round ${h.round} model`} to ${sent} node(s)` });
    this.flushJoins();
    if (!s.redo && h.kind === 'aggregate') out.push({ kind: 'round', round: h.round });
    if (!this.handoff || h.stage >= this.handoff.stage) {
      if (!s.redo) this.backoff = 0;
      this.handoff = h;
      this.armWatchdog(out);
    }
    if (toSelf) {
      if (h.kind === 'train') this.onTrainRequest(out, h.round, h.params, view);
      else this.onTrainedModel(out, this.ctx.id, h.round, h.params, h.samples);
    }
  }

  // ---- timers ------------------------------------------------------------------------

  private armWatchdog(out: ProtocolAction[]): void {
    if (this.finished) return;
    this.setTimer(out, 'watchdog', this.watchdogMs * 2 ** this.backoff);
  }

  private onWatchdog(out: ProtocolAction[]): void {
    const h = this.handoff;
    if (!h || this.finished) return;
    // Busy nodes finish on their own; a search for this hand-over still running will deliver it.
    const searching = [...this.searches.values()].some((s) => s.handoff === h);
    if (this.training !== null || (this.collection && !this.collection.done) || searching) {
      this.armWatchdog(out);
      return;
    }
    this.backoff = Math.min(this.backoff + 1, WATCHDOG_MAX_BACKOFF);
    this.startSearch(out, h, true);
  }

  private onAnnounceTimer(out: ProtocolAction[]): void {
    if (this.contacted || this.announceAttempts >= ANNOUNCE_ATTEMPTS || this.finished) return;
    this.announceAttempts++;
    this.announce(out, 'join');
    this.setTimer(out, 'announce', this.cfg.aggTimeout * 2 ** this.announceAttempts);
  }

  private onTimer(out: ProtocolAction[], id: string): void {
    this.timers.delete(id);
    if (!this.started || this.stopped) return;
    if (id === 'watchdog') this.onWatchdog(out);
    else if (id === 'announce') this.onAnnounceTimer(out);
    else if (id.startsWith('agg:')) this.onAggTimer(out, Number(id.slice(4)));
    else if (id.startsWith('ping:')) {
      const colon = id.indexOf(':', 5);
      this.onPingTimer(out, Number(id.slice(5, colon)), id.slice(colon + 1));
    }
  }

  private setTimer(out: ProtocolAction[], id: string, afterMs: number): void {
    this.timers.add(id);
    out.push({ kind: 'setTimer', id, afterMs });
  }

  private clearTimer(out: ProtocolAction[], id: string): void {
    if (!this.timers.delete(id)) return;
    out.push({ kind: 'clearTimer', id });
  }
}

const aggTimer = (round: number) => `agg:${round}`;
const pingTimer = (search: number, peer: NodeId) => `ping:${search}:${peer}`;

