import type { Config } from '../../core/config.ts';
import { ENVELOPE_BYTES } from '../../core/secagg/envelope.ts';
import { decodeSum, fixedScale } from '../../core/secagg/fixedPoint.ts';
import { INFO_MASK, PUBLIC_KEY_BYTES, type KeyResult } from '../../core/secagg/keys.ts';
import { addWords, applyMask, bytesToWords, fingerprint } from '../../core/secagg/masks.ts';
import { bytesToScalar, combine, scalarToBytes, SCALAR_BYTES } from '../../core/secagg/shamir.ts';
import type { NodeId, ProtocolAction } from '../protocol.ts';
import { attemptSalt, byId, olderAttempt, parseRequestId, requestId, sameAttempt, type AttemptId } from './attempt.ts';
import { secaggThreshold } from './keys.ts';
import { KEYS_BYTES } from './messages.ts';

export interface SecAggServerContext {
  /** The coordinator's own id: it may be a client of the round too. */
  id: NodeId;
  config: Config;
  maxSamples: number;
  paramCount: number;
}

/** What a finished attempt gives the coordinator: the weighted mean change, or why there is none. */
export type SecAggOutcome =
  | { kind: 'sum'; change: Float32Array; samples: number; survivors: NodeId[]; dropped: NodeId[]; print: number }
  | { kind: 'abort'; reason: string };

type Phase = 'keys' | 'shares' | 'masked' | 'reveal' | 'unmasking' | 'over';
const STEPS: readonly Phase[] = ['keys', 'shares', 'masked', 'reveal', 'unmasking', 'over'];

/** Received masked contributions, for the test hook: one fingerprint per (attempt, sender). */
export interface MaskedPrint extends AttemptId {
  from: NodeId;
  print: number;
}

/**
 * The server of one secure-aggregation attempt (see client.ts for the client's steps), run by the
 * coordinator. Each step collects from the clients still expected, until all of them answered,
 * left the room, or the step's timer (roundTimeout) fired; a step that ends with too few clients
 * aborts the attempt, and FedAvg samples the round again. Too few: fewer than the threshold t, or
 * than `minClients`, or fewer than two clients besides the coordinator (which knows its own
 * update, so a sum with one other would be that one's update).
 *
 * The server sees public keys, sealed envelopes it cannot open, masked contributions that are
 * uniform words, and, at the end, shares of the survivors' self-mask seeds and of the dropped
 * clients' mask keys: enough to remove exactly the masks that do not cancel, which leaves the sum.
 */
export class SecAggServer {
  private phase: Phase = 'keys';
  /** Who this step still waits for. */
  private readonly expected: Set<NodeId>;
  /** Who each step asked (a late answer from one of them is dropped, not refused). */
  private readonly asked = new Map<Phase, Set<NodeId>>();
  private readonly keys = new Map<NodeId, Uint8Array>();
  private u1: NodeId[] = [];
  private threshold = 0;
  private readonly envelopes = new Map<NodeId, Uint8Array>();
  private u2: NodeId[] = [];
  private readonly masked = new Map<NodeId, Uint32Array>();
  private u3: NodeId[] = [];
  private readonly reveals = new Map<NodeId, Uint8Array>();
  /** The unmasking's running sum, while the dropped clients' pairwise masks are being rebuilt. */
  private sum: Uint32Array | null = null;
  private pendingRecoveries = 0;
  outcome: SecAggOutcome | null = null;
  /** Fingerprints of every masked contribution received (the coordinator's view, for the test hook). */
  readonly seen: MaskedPrint[] = [];

  constructor(
    private readonly ctx: SecAggServerContext,
    readonly attempt: AttemptId,
    selected: Iterable<NodeId>,
  ) {
    this.expected = new Set(selected);
    this.asked.set('keys', new Set(this.expected));
  }

  /** The first step's timer. */
  start(): ProtocolAction[] {
    return [this.timer()];
  }

  get timerId(): string {
    return `secagg:${this.attempt.round}:${this.attempt.attempt}:${this.phase}`;
  }

  private timer(): ProtocolAction {
    return { kind: 'setTimer', id: this.timerId, afterMs: this.ctx.config.roundTimeout };
  }

  /** Stops the attempt's timer (the coordinator is done with it). */
  stop(): ProtocolAction[] {
    this.phase = 'over';
    return [{ kind: 'clearTimer', id: this.timerId }];
  }

  onTimer(id: string): ProtocolAction[] {
    if (id !== this.timerId || this.phase === 'unmasking' || this.phase === 'over') return [];
    return this.closeStep(`timed out waiting for ${[...this.expected].sort(byId).join(', ')}`);
  }

  /** The room's members now: expected clients that left will not answer. */
  departed(present: (id: NodeId) => boolean): ProtocolAction[] {
    if (this.phase === 'unmasking' || this.phase === 'over') return [];
    for (const c of [...this.expected]) if (!present(c)) this.expected.delete(c);
    return this.expected.size === 0 ? this.closeStep('') : [];
  }

  /** Null when the message is for this attempt and this step, from a client it waits for; otherwise what to do with it. */
  private check(from: NodeId, msg: AttemptId, step: Phase): ProtocolAction[] | null {
    if (olderAttempt(msg, this.attempt)) return [];
    if (!sameAttempt(msg, this.attempt)) return [{ kind: 'reject', from, claim: 'round', reason: `secure aggregation for round ${msg.round} attempt ${msg.attempt}; collecting ${this.attempt.round} attempt ${this.attempt.attempt}` }];
    if (this.phase === step && this.expected.has(from)) return null;
    // A client that was asked for this step but is past its close (slow, not lying) is late, not wrong.
    const late = STEPS.indexOf(this.phase) > STEPS.indexOf(step) && !!this.asked.get(step)?.has(from) && !this.answered(step, from);
    return late ? [] : [{ kind: 'reject', from, claim: 'sender', reason: `${step} from a client that step does not wait for (step now: ${this.phase})` }];
  }

  private answered(step: Phase, from: NodeId): boolean {
    const got = { keys: this.keys, shares: this.envelopes, masked: this.masked, reveal: this.reveals }[step as 'keys'];
    return !!got?.has(from);
  }

  onKeys(from: NodeId, msg: AttemptId & { keys: Uint8Array }): ProtocolAction[] {
    const bad = this.check(from, msg, 'keys');
    if (bad) return bad;
    this.keys.set(from, msg.keys.slice());
    return this.received(from);
  }

  onShares(from: NodeId, msg: AttemptId & { envelopes: Uint8Array }): ProtocolAction[] {
    const bad = this.check(from, msg, 'shares');
    if (bad) return bad;
    if (msg.envelopes.length !== (this.u1.length - 1) * ENVELOPE_BYTES) return [{ kind: 'reject', from, claim: 'shares', reason: `${msg.envelopes.length} bytes of envelopes for ${this.u1.length - 1} holders` }];
    this.envelopes.set(from, msg.envelopes.slice());
    return this.received(from);
  }

  onMasked(from: NodeId, msg: AttemptId & { masked: Uint8Array }): ProtocolAction[] {
    const bad = this.check(from, msg, 'masked');
    if (bad) return bad;
    if (msg.masked.length !== 4 * (this.ctx.paramCount + 1)) return [{ kind: 'reject', from, reason: `masked contribution of ${msg.masked.length} bytes; the model needs ${4 * (this.ctx.paramCount + 1)}` }];
    const words = bytesToWords(msg.masked);
    this.masked.set(from, words);
    this.seen.push({ ...this.attempt, from, print: fingerprint(words) });
    return this.received(from);
  }

  onReveal(from: NodeId, msg: AttemptId & { shares: Uint8Array }): ProtocolAction[] {
    const bad = this.check(from, msg, 'reveal');
    if (bad) return bad;
    if (msg.shares.length !== this.u2.length * SCALAR_BYTES) return [{ kind: 'reject', from, claim: 'shares', reason: `${msg.shares.length} bytes of shares for ${this.u2.length} clients` }];
    for (let i = 0; i < this.u2.length; i++) {
      if (bytesToScalar(msg.shares.subarray(i * SCALAR_BYTES, (i + 1) * SCALAR_BYTES)) === null) return [{ kind: 'reject', from, claim: 'shares', reason: `share ${i} is not a field element` }];
    }
    this.reveals.set(from, msg.shares.slice());
    return this.received(from);
  }

  private received(from: NodeId): ProtocolAction[] {
    this.expected.delete(from);
    return this.expected.size === 0 ? this.closeStep('') : [];
  }

  /** Whether a step may go on with these clients. */
  private enough(clients: readonly NodeId[], threshold: number): string | null {
    const others = clients.filter((c) => c !== this.ctx.id).length;
    if (clients.length < threshold) return `${clients.length} clients, below the threshold ${threshold}`;
    if (clients.length < this.ctx.config.minClients) return `${clients.length} clients, below minClients ${this.ctx.config.minClients}`;
    if (others < 2) return `${others} client${others === 1 ? '' : 's'} besides the coordinator, whose own update would give the other away`;
    return null;
  }

  private closeStep(why: string): ProtocolAction[] {
    const out: ProtocolAction[] = [{ kind: 'clearTimer', id: this.timerId }];
    if (why) out.push({ kind: 'log', text: `secure aggregation, round ${this.attempt.round}: step ${this.phase} ${why}` });
    switch (this.phase) {
      case 'keys':
        return [...out, ...this.sendRoster()];
      case 'shares':
        return [...out, ...this.sendDeals()];
      case 'masked':
        return [...out, ...this.sendUnmask()];
      case 'reveal':
        return [...out, ...this.unmask()];
      default:
        return out;
    }
  }

  private abort(reason: string): ProtocolAction[] {
    this.phase = 'over';
    this.outcome = { kind: 'abort', reason };
    return [];
  }

  private next(phase: Phase, expected: readonly NodeId[]): ProtocolAction {
    this.phase = phase;
    this.expected.clear();
    for (const c of expected) this.expected.add(c);
    this.asked.set(phase, new Set(expected));
    return this.timer();
  }

  /** U1: everyone who sent keys, and t for it. */
  private sendRoster(): ProtocolAction[] {
    this.u1 = [...this.keys.keys()].sort(byId);
    this.threshold = secaggThreshold(this.u1.length, this.ctx.config.secaggThreshold);
    const short = this.enough(this.u1, this.threshold);
    if (short) return this.abort(`keys from ${short}`);
    const keys = new Uint8Array(this.u1.length * KEYS_BYTES);
    this.u1.forEach((c, i) => keys.set(this.keys.get(c)!, i * KEYS_BYTES));
    const { round, attempt } = this.attempt;
    return [this.next('shares', this.u1), ...this.u1.map((to): ProtocolAction => ({ kind: 'send', to, msg: { type: 'secagg/roster', round, attempt, ids: this.u1, keys } }))];
  }

  /** U2: everyone who dealt shares; each gets the envelopes addressed to it. */
  private sendDeals(): ProtocolAction[] {
    this.u2 = [...this.envelopes.keys()].sort(byId);
    const short = this.enough(this.u2, this.threshold);
    if (short) return this.abort(`shares from ${short}`);
    const { round, attempt } = this.attempt;
    const out: ProtocolAction[] = [this.next('masked', this.u2)];
    for (const holder of this.u2) {
      const from = this.u2.filter((d) => d !== holder);
      const envelopes = new Uint8Array(from.length * ENVELOPE_BYTES);
      from.forEach((dealer, i) => {
        // A dealer's envelopes are in U1's order, without the dealer itself.
        const slot = this.u1.filter((m) => m !== dealer).indexOf(holder);
        envelopes.set(this.envelopes.get(dealer)!.subarray(slot * ENVELOPE_BYTES, (slot + 1) * ENVELOPE_BYTES), i * ENVELOPE_BYTES);
      });
      out.push({ kind: 'send', to: holder, msg: { type: 'secagg/deal', round, attempt, from, envelopes } });
    }
    return out;
  }

  /** U3: everyone whose masked contribution arrived. */
  private sendUnmask(): ProtocolAction[] {
    this.u3 = [...this.masked.keys()].sort(byId);
    const short = this.enough(this.u3, this.threshold);
    if (short) return this.abort(`masked updates from ${short}`);
    const { round, attempt } = this.attempt;
    return [this.next('reveal', this.u3), ...this.u3.map((to): ProtocolAction => ({ kind: 'send', to, msg: { type: 'secagg/unmask', round, attempt, survivors: this.u3 } }))];
  }

  /** A member's secret (b of a survivor, the mask key of a dropped client) from t revealed shares. */
  private rebuild(member: NodeId): bigint {
    const at = this.u2.indexOf(member) * SCALAR_BYTES;
    const holders = [...this.reveals.keys()].sort(byId).slice(0, this.threshold);
    return combine(holders.map((h) => ({ x: this.u1.indexOf(h) + 1, y: bytesToScalar(this.reveals.get(h)!.subarray(at, at + SCALAR_BYTES))! })));
  }

  /** The sum of U3's masked contributions, minus their self-masks; then the dropped clients' pairwise masks. */
  private unmask(): ProtocolAction[] {
    if (this.reveals.size < this.threshold) return this.abort(`${this.reveals.size} clients revealed shares, below the threshold ${this.threshold}`);
    this.phase = 'unmasking';
    const sum = new Uint32Array(this.ctx.paramCount + 1);
    for (const c of this.u3) addWords(sum, this.masked.get(c)!);
    for (const c of this.u3) applyMask(sum, scalarToBytes(this.rebuild(c)), -1);
    this.sum = sum;
    const survivors = new Set(this.u3);
    const dropped = this.u2.filter((c) => !survivors.has(c));
    this.pendingRecoveries = dropped.length;
    if (dropped.length === 0) return this.finish();
    const salt = attemptSalt(this.attempt);
    return dropped.map((v): ProtocolAction => {
      const maskKey = this.keys.get(v)!.slice(PUBLIC_KEY_BYTES, KEYS_BYTES);
      const secret = this.rebuild(v);
      const peers = this.u3.map((u) => this.keys.get(u)!.slice(PUBLIC_KEY_BYTES, KEYS_BYTES));
      return { kind: 'keys', id: requestId('server', 'recover', this.attempt, v), request: { op: 'agree', secret: scalarToBytes(secret), publicKey: maskKey, peers, salt, info: INFO_MASK } };
    });
  }

  /** A dropped client's rebuilt mask key, agreed with every survivor: remove those pairwise masks. */
  keysReady(id: string, result: KeyResult): ProtocolAction[] {
    const r = parseRequestId(id);
    if (!r || r.role !== 'server' || !sameAttempt(r, this.attempt) || this.phase !== 'unmasking' || !r.client) return [];
    if (result.op !== 'agree') return this.abort(`the shares did not rebuild ${r.client}'s mask key (${result.op === 'error' ? result.message : result.op})`);
    const v = r.client;
    for (let i = 0; i < this.u3.length; i++) {
      const seed = result.keys[i];
      if (!seed) return this.abort(`no pairwise mask between ${v} and ${this.u3[i]}`);
      // The survivor u added +PRG(s_uv) when u < v and −PRG(s_uv) otherwise; take it back out.
      applyMask(this.sum!, seed, this.u3[i] < v ? -1 : 1);
    }
    return --this.pendingRecoveries === 0 ? this.finish() : [];
  }

  private finish(): ProtocolAction[] {
    const sum = this.sum!;
    const print = fingerprint(sum);
    const decoded = decodeSum(sum, this.u3.length, this.ctx.maxSamples, fixedScale(this.u1.length));
    if (!decoded.ok) return this.abort(decoded.reason);
    this.phase = 'over';
    const survivors = new Set(this.u3);
    this.outcome = { kind: 'sum', change: decoded.change, samples: decoded.samples, survivors: this.u3, dropped: this.u2.filter((c) => !survivors.has(c)), print };
    return [];
  }
}
