import type { Config } from '../../core/config.ts';
import { ENVELOPE_BYTES, openShares, sealShares, type SharePair } from '../../core/secagg/envelope.ts';
import { encodeContribution, fixedScale } from '../../core/secagg/fixedPoint.ts';
import { INFO_ENVELOPE, INFO_MASK, PUBLIC_KEY_BYTES, looksLikePublicKey, type KeyPair, type KeyResult } from '../../core/secagg/keys.ts';
import { applyMask, fingerprint, maskWords, wordsToBytes } from '../../core/secagg/masks.ts';
import { bytesToScalar, scalarToBytes, split, uniformScalar, UNIFORM_BYTES, SCALAR_BYTES } from '../../core/secagg/shamir.ts';
import type { NodeId, ProtocolAction } from '../protocol.ts';
import { attemptSalt, byId, olderAttempt, parseRequestId, requestId, sameAttempt, strictlySorted, type AttemptId } from './attempt.ts';
import { secaggThreshold } from './keys.ts';
import { KEYS_BYTES } from './messages.ts';

/** Where a client is in one attempt, in order (the report's `secaggPhase` is the index). */
export const CLIENT_PHASES = ['idle', 'keys', 'advertised', 'shared', 'dealt', 'masked', 'revealed', 'out'] as const;
export type ClientPhase = (typeof CLIENT_PHASES)[number];

export interface SecAggClientContext {
  id: NodeId;
  config: Config;
  /** n_k: this client's sample count. */
  samples: number;
  /** The room's bound on any client's sample count (the same in every node, so all encode alike). */
  maxSamples: number;
}

interface Attempt extends AttemptId {
  coordinator: NodeId;
  phase: ClientPhase;
  envelopeKey?: KeyPair;
  maskKey?: KeyPair;
  /** b: the self-mask seed, and the seed of the sharing polynomials' coefficients. */
  selfSeed?: bigint;
  coefficientSeed?: Uint8Array;
  /** U1 as the coordinator listed it, with each member's two public keys. */
  members?: NodeId[];
  publicKeys?: Map<NodeId, { envelope: Uint8Array; mask: Uint8Array }>;
  threshold?: number;
  envelopeKeys?: Map<NodeId, Uint8Array>;
  maskSeeds?: Map<NodeId, Uint8Array>;
  /** The shares this client holds, by dealer (its own included): of each dealer's seed b and mask key. */
  held?: Map<NodeId, SharePair>;
  /** U2: the members whose shares were dealt, this client included. */
  dealt?: NodeId[];
  /** This round's training result, kept until the deal arrives. */
  trained?: { base: Float32Array; params: Float32Array };
}

/** One sent contribution, for the test hook: the fingerprint of the plain words under the mask. */
export interface PlainPrint extends AttemptId {
  print: number;
}

const AUDIT_KEEP = 64;

/**
 * A client of secure aggregation (Bonawitz et al., CCS 2017, the honest-but-curious variant), one
 * round attempt at a time; the coordinator that handed it the round is its server and relays
 * everything. Steps:
 *  0. `begin`: ask the port for two fresh key pairs (one seals shares, one yields pairwise masks)
 *     and two seeds (b, and the sharing polynomials' coefficients); send both public keys.
 *  1. roster (U1 and their keys): agree a sealing key and a mask seed with every other member.
 *  2. Shamir-share b and the mask private key among U1 with threshold t; send each member its
 *     pair of shares, sealed (ChaCha20-Poly1305) so the coordinator cannot read them.
 *  3. deal (the envelopes of U2's other members): open and keep them; once trained, send
 *     y = x + PRG(b) + Σ_{v∈U2, u<v} PRG(s_uv) − Σ_{v∈U2, u>v} PRG(s_uv) over Z_{2^32}, x the
 *     fixed-point contribution (fixedPoint.ts).
 *  4. unmask (U3, the survivors): reveal, for each member of U2, the share of its b if it survived,
 *     else of its mask key; never both for one member, so the coordinator can remove the masks of
 *     the dropped and the self-masks of the survivors, and nothing else.
 * A message that breaks the protocol puts this client out of the attempt (it then counts as a
 * dropout for the others, which the protocol survives) and is rejected.
 */
export class SecAggClient {
  private a: Attempt | null = null;
  private readonly audit: PlainPrint[] = [];
  /** Coordinates cut to ±R over the run (fixedPoint.ts). */
  clipped = 0;

  constructor(private readonly ctx: SecAggClientContext) {}

  get phase(): ClientPhase {
    return this.a?.phase ?? 'idle';
  }

  /** The current attempt, if any. */
  get current(): AttemptId | null {
    return this.a ? { round: this.a.round, attempt: this.a.attempt } : null;
  }

  get plainPrints(): readonly PlainPrint[] {
    return this.audit;
  }

  /** A new attempt (from the coordinator's train request): forget the old one, ask for keys. */
  begin(round: number, attempt: number, coordinator: NodeId): ProtocolAction[] {
    this.a = { round, attempt, coordinator, phase: 'keys' };
    return [{ kind: 'keys', id: requestId('client', 'generate', this.a), request: { op: 'generate', pairs: 2, seeds: 2 } }];
  }

  /** Leaves the attempt (this node stops being a client of it: a new coordinator, the run's end). */
  leave(): void {
    this.a = null;
  }

  keysReady(id: string, result: KeyResult): ProtocolAction[] {
    const a = this.a;
    const r = parseRequestId(id);
    if (!a || !r || r.role !== 'client' || !sameAttempt(r, a) || a.phase === 'out') return [];
    if (result.op === 'error') return this.out(`key agreement refused: ${result.message}`);
    if (r.step === 'generate' && result.op === 'generate' && a.phase === 'keys') {
      [a.envelopeKey, a.maskKey] = result.pairs;
      a.selfSeed = uniformScalar(result.seeds[0]);
      a.coefficientSeed = result.seeds[1];
      a.phase = 'advertised';
      const keys = new Uint8Array(KEYS_BYTES);
      keys.set(a.envelopeKey.publicKey, 0);
      keys.set(a.maskKey.publicKey, PUBLIC_KEY_BYTES);
      return [{ kind: 'send', to: a.coordinator, msg: { type: 'secagg/keys', round: a.round, attempt: a.attempt, keys } }];
    }
    if (result.op !== 'agree' || a.phase !== 'advertised' || !a.members) return [];
    const others = a.members.filter((m) => m !== this.ctx.id);
    if (result.keys.length !== others.length) return this.out(`${result.keys.length} agreements for ${others.length} peers`);
    const missing = others.find((_, i) => !result.keys[i]);
    if (missing !== undefined) return this.rejectOut(a.coordinator, `the roster's key for ${missing} is not a P-256 point`);
    const agreed = new Map(others.map((m, i) => [m, result.keys[i]!]));
    if (r.step === 'envelope') a.envelopeKeys = agreed;
    else if (r.step === 'mask') a.maskSeeds = agreed;
    return a.envelopeKeys && a.maskSeeds ? this.deal(a) : [];
  }

  /** Step 1: U1 and its keys. */
  onRoster(from: NodeId, msg: AttemptId & { ids: NodeId[]; keys: Uint8Array }): ProtocolAction[] {
    const a = this.a;
    const stale = this.staleness(from, msg);
    if (stale) return stale;
    if (a!.phase !== 'advertised' || a!.members) return this.rejectOut(a!.coordinator, 'a second roster, or a roster before this client sent its keys');
    const ids = msg.ids;
    if (!strictlySorted(ids) || !ids.includes(this.ctx.id)) return this.rejectOut(a!.coordinator, 'roster not sorted, with repeats, or without this client');
    if (msg.keys.length !== ids.length * KEYS_BYTES) return this.rejectOut(a!.coordinator, `roster of ${ids.length} with ${msg.keys.length} bytes of keys`);
    const publicKeys = new Map<NodeId, { envelope: Uint8Array; mask: Uint8Array }>();
    ids.forEach((id, i) => {
      const at = i * KEYS_BYTES;
      publicKeys.set(id, { envelope: msg.keys.slice(at, at + PUBLIC_KEY_BYTES), mask: msg.keys.slice(at + PUBLIC_KEY_BYTES, at + KEYS_BYTES) });
    });
    const mine = publicKeys.get(this.ctx.id)!;
    if (!sameBytes(mine.envelope, a!.envelopeKey!.publicKey) || !sameBytes(mine.mask, a!.maskKey!.publicKey)) return this.rejectOut(a!.coordinator, 'the roster lists other keys for this client');
    for (const [id, k] of publicKeys) if (!looksLikePublicKey(k.envelope) || !looksLikePublicKey(k.mask)) return this.rejectOut(a!.coordinator, `the roster's keys for ${id} are not uncompressed P-256 points`);
    a!.members = ids;
    a!.publicKeys = publicKeys;
    a!.threshold = secaggThreshold(ids.length, this.ctx.config.secaggThreshold);
    const others = ids.filter((m) => m !== this.ctx.id);
    const salt = attemptSalt(a!);
    return [
      { kind: 'keys', id: requestId('client', 'envelope', a!), request: { op: 'agree', secret: a!.envelopeKey!.secret, publicKey: a!.envelopeKey!.publicKey, peers: others.map((m) => publicKeys.get(m)!.envelope), salt, info: INFO_ENVELOPE } },
      { kind: 'keys', id: requestId('client', 'mask', a!), request: { op: 'agree', secret: a!.maskKey!.secret, publicKey: a!.maskKey!.publicKey, peers: others.map((m) => publicKeys.get(m)!.mask), salt, info: INFO_MASK } },
    ];
  }

  /** Step 2: share b and the mask key among U1, one sealed envelope per other member. */
  private deal(a: Attempt): ProtocolAction[] {
    const members = a.members!;
    const t = a.threshold!;
    const xs = members.map((_, i) => i + 1);
    // The two polynomials' 2(t − 1) secret coefficients, from ChaCha20 under the coefficient seed.
    const stream = maskWords(a.coefficientSeed!.subarray(0, 32), (2 * (t - 1) * UNIFORM_BYTES) / 4);
    const bytes = new Uint8Array(stream.buffer, stream.byteOffset, stream.byteLength);
    const coefficient = (k: number) => uniformScalar(bytes.subarray(k * UNIFORM_BYTES, (k + 1) * UNIFORM_BYTES));
    const seedShares = split(a.selfSeed!, Array.from({ length: t - 1 }, (_, k) => coefficient(k)), xs);
    const keyShares = split(bytesToBigintKey(a.maskKey!.secret), Array.from({ length: t - 1 }, (_, k) => coefficient(t - 1 + k)), xs);
    const envelopes = new Uint8Array((members.length - 1) * ENVELOPE_BYTES);
    a.held = new Map();
    let k = 0;
    members.forEach((holder, i) => {
      const pair = { seed: seedShares[i], key: keyShares[i] };
      if (holder === this.ctx.id) a.held!.set(holder, pair);
      else envelopes.set(sealShares(a.envelopeKeys!.get(holder)!, { round: a.round, attempt: a.attempt, dealer: this.ctx.id, holder }, pair), ENVELOPE_BYTES * k++);
    });
    a.phase = 'shared';
    return [{ kind: 'send', to: a.coordinator, msg: { type: 'secagg/shares', round: a.round, attempt: a.attempt, envelopes } }];
  }

  /** Step 3: the envelopes the other members of U2 dealt this client. */
  onDeal(sender: NodeId, msg: AttemptId & { from: NodeId[]; envelopes: Uint8Array }): ProtocolAction[] {
    const stale = this.staleness(sender, msg);
    if (stale) return stale;
    const a = this.a!;
    if (a.phase !== 'shared') return this.rejectOut(a.coordinator, `a deal in phase ${a.phase}`);
    const from = msg.from;
    if (!strictlySorted(from) || from.includes(this.ctx.id) || from.some((d) => !a.publicKeys!.has(d))) return this.rejectOut(a.coordinator, 'deal from dealers outside the roster, unsorted or with repeats');
    if (from.length + 1 < a.threshold!) return this.rejectOut(a.coordinator, `deal from ${from.length} others: fewer than the threshold ${a.threshold}`);
    if (msg.envelopes.length !== from.length * ENVELOPE_BYTES) return this.rejectOut(a.coordinator, `deal of ${from.length} envelopes in ${msg.envelopes.length} bytes`);
    for (let i = 0; i < from.length; i++) {
      const envelope = msg.envelopes.subarray(i * ENVELOPE_BYTES, (i + 1) * ENVELOPE_BYTES);
      const pair = openShares(a.envelopeKeys!.get(from[i])!, { round: a.round, attempt: a.attempt, dealer: from[i], holder: this.ctx.id }, envelope);
      if (!pair) return this.rejectOut(a.coordinator, `the envelope from ${from[i]} does not open`);
      a.held!.set(from[i], pair);
    }
    a.dealt = [...from, this.ctx.id].sort(byId);
    a.phase = 'dealt';
    return a.trained ? this.sendMasked(a) : [];
  }

  /** The round's training is done: the contribution goes out once the deal is in. */
  trained(round: number, base: Float32Array, params: Float32Array): ProtocolAction[] {
    const a = this.a;
    if (!a || a.round !== round || a.phase === 'out' || a.trained) return [];
    a.trained = { base, params };
    return a.phase === 'dealt' ? this.sendMasked(a) : [];
  }

  private sendMasked(a: Attempt): ProtocolAction[] {
    const { base, params } = a.trained!;
    const change = new Float32Array(params.length);
    for (let i = 0; i < change.length; i++) change[i] = params[i] - base[i];
    const { words, clipped } = encodeContribution(change, this.ctx.samples, this.ctx.maxSamples, fixedScale(a.members!.length));
    this.clipped += clipped;
    this.audit.push({ round: a.round, attempt: a.attempt, print: fingerprint(words) });
    if (this.audit.length > AUDIT_KEEP) this.audit.shift();
    applyMask(words, scalarToBytes(a.selfSeed!), 1);
    for (const v of a.dealt!) if (v !== this.ctx.id) applyMask(words, a.maskSeeds!.get(v)!, this.ctx.id < v ? 1 : -1);
    a.phase = 'masked';
    const actions: ProtocolAction[] = [{ kind: 'send', to: a.coordinator, msg: { type: 'secagg/masked', round: a.round, attempt: a.attempt, masked: wordsToBytes(words) } }];
    if (clipped > 0) actions.push({ kind: 'log', text: `secure aggregation: ${clipped} coordinates of this update were cut to ±16` });
    return actions;
  }

  /** Step 4: the survivors; reveal one share per member of U2. */
  onUnmask(from: NodeId, msg: AttemptId & { survivors: NodeId[] }): ProtocolAction[] {
    const stale = this.staleness(from, msg);
    if (stale) return stale;
    const a = this.a!;
    if (a.phase !== 'masked') return this.rejectOut(a.coordinator, `an unmask request in phase ${a.phase}`);
    const survivors = msg.survivors;
    const dealt = new Set(a.dealt!);
    if (!strictlySorted(survivors) || !survivors.includes(this.ctx.id) || survivors.some((s) => !dealt.has(s))) return this.rejectOut(a.coordinator, 'survivors outside U2, unsorted, with repeats, or without this client');
    if (survivors.length < a.threshold!) return this.rejectOut(a.coordinator, `${survivors.length} survivors, fewer than the threshold ${a.threshold}`);
    const alive = new Set(survivors);
    const shares = new Uint8Array(a.dealt!.length * SCALAR_BYTES);
    a.dealt!.forEach((v, i) => {
      const pair = a.held!.get(v)!;
      shares.set(scalarToBytes(alive.has(v) ? pair.seed : pair.key), i * SCALAR_BYTES);
    });
    a.phase = 'revealed';
    return [{ kind: 'send', to: a.coordinator, msg: { type: 'secagg/reveal', round: a.round, attempt: a.attempt, shares } }];
  }

  /** Null when `msg` belongs to the current attempt; otherwise what to do with it (late: nothing; unknown: reject). */
  private staleness(from: NodeId, msg: AttemptId): ProtocolAction[] | null {
    const a = this.a;
    if (a && sameAttempt(msg, a)) return a.phase === 'out' ? [] : null;
    if (a && olderAttempt(msg, a)) return [];
    return [{ kind: 'reject', from, claim: 'round', reason: `secure aggregation message for round ${msg.round} attempt ${msg.attempt}, which this client is not in` }];
  }

  private out(reason: string): ProtocolAction[] {
    if (this.a) this.a.phase = 'out';
    return [{ kind: 'log', text: `secure aggregation: out of this round: ${reason}` }];
  }

  private rejectOut(from: NodeId, reason: string): ProtocolAction[] {
    return [{ kind: 'reject', from, claim: 'shares', reason }, ...this.out(reason)];
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A mask private key as a field element (it is below q by construction; a port that broke that is a bug). */
function bytesToBigintKey(secret: Uint8Array): bigint {
  const x = bytesToScalar(secret);
  if (x === null) throw new Error('a mask private key outside the field');
  return x;
}
