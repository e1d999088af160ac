import { describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import type { ModelSpec } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { decodeMessage, encodeMessage, type Message } from '../../src/core/wire/codec.ts';
import { modestSchemas } from '../../src/protocols/modest/messages.ts';
import { accepts, Modest, modelsNeeded, PING_ATTEMPTS, stageOf } from '../../src/protocols/modest/modest.ts';
import { nominalSample, rankKey, ranking } from '../../src/protocols/modest/ranking.ts';
import { MAX_VIEW_ENTRIES, mergeViews, View, wireViewSchema, type Member } from '../../src/protocols/modest/view.ts';
import type { NodeId, ProtocolAction, ProtocolEvent } from '../../src/protocols/protocol.ts';

const P = 4;
const spec: ModelSpec = { name: 'mlp', features: 2, numClasses: 2, tensors: [], size: P };
const ids = (n: number, prefix = 'n') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function make(id: NodeId, peers: NodeId[], input: ConfigInput = {}): Modest {
  const config = parseConfig({ algo: 'modest', s: 3, a: 1, sf: 1, aggTimeout: 1000, pingTimeout: 300, rounds: 100, ...input });
  return new Modest({ id, config, spec, samples: 10, maxSamples: 100, rng: Rng.seed(1).split(id), initialParams: new Float32Array(P), peers: peers.filter((p) => p !== id) });
}

/** Through the real codec and schemas, as the host would deliver it. */
function wire(msg: Message): Message {
  const r = decodeMessage(encodeMessage(msg, modestSchemas), modestSchemas, P);
  if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
  return r.msg;
}

const msgEvent = (from: NodeId, msg: Message): ProtocolEvent => ({ kind: 'message', from, msg: wire(msg) });
const params = (v: number) => new Float32Array(P).fill(v);
const oneEntry = (id: NodeId, m: Member) => ({ ids: [id], r: [m.round], c: [m.counter], s: m.status === 'leave' ? 'L' : 'J' });
const emptyView = { ids: [], r: [], c: [], s: '' };

function trainedModel(round: number, v: number, samples = 10): Message {
  return { type: 'modest/model', kind: 'aggregate', round, samples, view: emptyView, params: params(v) };
}
function trainRequest(round: number, v = 0): Message {
  return { type: 'modest/model', kind: 'train', round, samples: 10, view: emptyView, params: params(v) };
}

const sends = (out: ProtocolAction[], type: string) =>
  out.filter((a): a is Extract<ProtocolAction, { kind: 'send' }> => a.kind === 'send' && a.msg.type === type);
const pingsTo = (out: ProtocolAction[]) => sends(out, 'modest/ping').map((a) => a.to);
const models = (out: ProtocolAction[]) => out.filter((a): a is Extract<ProtocolAction, { kind: 'model' }> => a.kind === 'model');
const timerFor = (out: ProtocolAction[], suffix: string) => out.find((a) => a.kind === 'setTimer' && a.id.startsWith('ping:') && a.id.endsWith(`:${suffix}`)) as { id: string } | undefined;

/** Answers every outstanding ping in `out` (except from `silent`) and returns the node's reactions. */
function pong(node: Modest, out: ProtocolAction[], silent: NodeId[] = [], progress = { trained: 0, aggregating: 0, aggregated: false }): ProtocolAction[] {
  const reactions: ProtocolAction[] = [];
  for (const p of sends(out, 'modest/ping')) {
    if (silent.includes(p.to)) continue;
    reactions.push(...node.handle(msgEvent(p.to, { type: 'modest/pong', round: 1, nonce: p.msg.nonce as number, ...progress }), 0));
  }
  return reactions;
}

describe('MoDeST ranking (oracle 2)', () => {
  it('is a pure function of (round, set of ids): input order and duplicates do not matter', () => {
    const all = ids(40);
    const rng = Rng.seed(11);
    for (let round = 1; round <= 20; round++) {
      const expected = ranking(round, all);
      for (let k = 0; k < 5; k++) {
        const shuffled = rng.shuffle(all.slice()) as string[];
        expect(ranking(round, [...shuffled, ...shuffled.slice(0, 7)])).toEqual(expected);
      }
      // ...and it is the order of H(id-round), ties by id.
      const byHand = all.slice().sort((a, b) => rankKey(a, round) - rankKey(b, round) || (a < b ? -1 : 1));
      expect(expected).toEqual(byHand);
    }
    // Different rounds give different samples.
    const samples = new Set(Array.from({ length: 10 }, (_, r) => nominalSample(r + 1, all, 5).join()));
    expect(samples.size).toBeGreaterThan(5);
  });

  it('every node computes the same round-1 sample, whatever the order of its view', () => {
    const all = ids(15);
    const rng = Rng.seed(2);
    const trainers: NodeId[] = [];
    for (const id of all) {
      const node = make(id, rng.shuffle(all.slice()) as string[], { s: 4 });
      node.handle({ kind: 'roster', peers: rng.shuffle(all.filter((p) => p !== id)) as string[] }, 0);
      const out = node.handle({ kind: 'start' }, 0);
      if (out.some((a) => a.kind === 'compute' && a.round === 1)) trainers.push(id);
      expect(ranking(1, node.membership().active(1, 50))).toEqual(ranking(1, all));
    }
    expect(trainers.sort()).toEqual(nominalSample(1, all, 4).sort());
  });

  it('the sample is the first s responsive nodes: a silent node is retried, then skipped for the next in order', () => {
    const all = ids(12);
    const order = ranking(2, all);
    const agg = order[order.length - 1]; // ranked last, so it is not a candidate itself
    const node = make(agg, all, { s: 3 });
    node.handle({ kind: 'start' }, 0);
    const trainers = all.filter((id) => id !== agg).slice(0, 3);
    let out: ProtocolAction[] = [];
    for (const [i, t] of trainers.entries()) out = node.handle(msgEvent(t, trainedModel(1, i)), 0);
    expect(models(out)).toHaveLength(1);
    expect(pingsTo(out)).toEqual(order.slice(0, 3));

    const silent = order[1];
    const reactions = pong(node, out, [silent]);
    expect(sends(reactions, 'modest/model')).toHaveLength(0); // still waiting for the third
    let timer = timerFor(out, silent)!;
    for (let attempt = 1; attempt < PING_ATTEMPTS; attempt++) {
      const retry = node.handle({ kind: 'timer', id: timer.id }, 0);
      expect(pingsTo(retry)).toEqual([silent]);
      timer = timerFor(retry, silent)!;
    }
    const skip = node.handle({ kind: 'timer', id: timer.id }, 0);
    expect(pingsTo(skip)).toEqual([order[3]]);
    const done = pong(node, skip);
    const delivered = sends(done, 'modest/model');
    expect(delivered.map((a) => a.to)).toEqual([order[0], order[2], order[3]]);
    for (const d of delivered) {
      expect(d.msg.kind).toBe('train');
      expect(d.msg.round).toBe(2);
      expect(Array.from(d.msg.params!)).toEqual([1, 1, 1, 1]); // mean of 0, 1, 2
      expect((d.msg.view as { ids: string[] }).ids).toContain(agg);
    }
  });
});

describe('MoDeST aggregation (oracle 2)', () => {
  const all = ids(12);
  const others = all.slice(1);

  it('waits for ⌈s·sf⌉ models, as the reference tests len >= s*sf: 11 at s = 13, sf = 0.8', () => {
    const node = make('n0', all, { s: 13, sf: 0.8 }); // 10.4: 10 models are not enough
    node.handle({ kind: 'start' }, 0);
    for (let i = 0; i < 10; i++) expect(models(node.handle(msgEvent(others[i], trainedModel(1, i)), 0))).toHaveLength(0);
    const [m] = models(node.handle(msgEvent(others[10], trainedModel(1, 10)), 0));
    expect(m).toMatchObject({ round: 1, scope: 'global' });
    expect(Array.from(m.params)).toEqual([5, 5, 5, 5]); // mean of 0..10
    expect(modelsNeeded(13, 0.8)).toBe(11);
    expect(modelsNeeded(10, 1)).toBe(10);
    expect(modelsNeeded(10, 0.7)).toBe(7); // 10·0.7 is 7.000000000000001 in floating point
    expect(modelsNeeded(5, 0.8)).toBe(4);
    expect(modelsNeeded(3, 0.01)).toBe(1);
  });

  it('ignores a re-sent copy without a rejection', () => {
    const node = make('n0', all, { s: 5, sf: 0.8 }); // ⌈4⌉
    node.handle({ kind: 'start' }, 0);
    for (let i = 0; i < 3; i++) expect(models(node.handle(msgEvent(others[i], trainedModel(1, i)), 0))).toHaveLength(0);
    expect(node.handle(msgEvent(others[0], trainedModel(1, 9)), 0)).toEqual([]); // a copy
    const out = node.handle(msgEvent(others[3], trainedModel(1, 3)), 0);
    const [m] = models(out);
    expect(m).toMatchObject({ round: 1, scope: 'global' });
    expect(Array.from(m.params)).toEqual([1.5, 1.5, 1.5, 1.5]);
    expect(out.some((a) => a.kind === 'reject')).toBe(false);
    // A model arriving after the aggregation is a late copy: ignored.
    expect(node.handle(msgEvent(others[4], trainedModel(1, 4)), 0).filter((a) => a.kind !== 'state')).toEqual([]);
  });

  it('after the timeout proceeds with at least 3 models', () => {
    const node = make('n0', all, { s: 10 });
    node.handle({ kind: 'start' }, 0);
    let out: ProtocolAction[] = [];
    for (let i = 0; i < 3; i++) out.push(...node.handle(msgEvent(others[i], trainedModel(4, i)), 0));
    expect(models(out)).toHaveLength(0);
    expect(out.some((a) => a.kind === 'setTimer' && a.id === 'agg:4' && a.afterMs === 1000)).toBe(true);
    out = node.handle({ kind: 'timer', id: 'agg:4' }, 0);
    expect(models(out).map((m) => m.round)).toEqual([4]);
  });

  it('below 3 at the timeout it does not aggregate; a third model then suffices, and a second timeout proceeds anyway', () => {
    const a = make('n0', all, { s: 10 });
    a.handle({ kind: 'start' }, 0);
    a.handle(msgEvent(others[0], trainedModel(2, 1)), 0);
    a.handle(msgEvent(others[1], trainedModel(2, 2)), 0);
    const first = a.handle({ kind: 'timer', id: 'agg:2' }, 0);
    expect(models(first)).toHaveLength(0);
    expect(models(a.handle(msgEvent(others[2], trainedModel(2, 3)), 0))).toHaveLength(1);

    const b = make('n0', all, { s: 10 });
    b.handle({ kind: 'start' }, 0);
    b.handle(msgEvent(others[0], trainedModel(2, 1)), 0);
    expect(models(b.handle({ kind: 'timer', id: 'agg:2' }, 0))).toHaveLength(0);
    // Liveness: with fewer than 3 live trainers nothing else could ever make progress.
    const second = b.handle({ kind: 'timer', id: 'agg:2' }, 0);
    expect(models(second).map((m) => Array.from(m.params))).toEqual([[1, 1, 1, 1]]);
  });

  it('takes the unweighted mean by default and a sample-weighted mean with weighting=samples', () => {
    for (const [weighting, expected] of [
      ['mean', 2],
      ['samples', 3],
    ] as const) {
      const node = make('n0', all, { s: 2, weighting });
      node.handle({ kind: 'start' }, 0);
      node.handle(msgEvent('n1', trainedModel(1, 0, 10)), 0);
      const [m] = models(node.handle(msgEvent('n2', trainedModel(1, 4, 30)), 0));
      expect(Array.from(m.params)).toEqual([expected, expected, expected, expected]);
    }
  });
});

describe('MoDeST rounds and membership', () => {
  it('trains a higher round at once, and ignores copies of rounds already seen', () => {
    const node = make('n5', ids(12));
    node.handle({ kind: 'start' }, 0);
    const out = node.handle(msgEvent('n1', trainRequest(3, 7)), 0);
    expect(out.filter((a) => a.kind === 'compute').map((a) => (a as { round: number }).round)).toEqual([3]);
    expect(out).toContainEqual({ kind: 'state', state: 'training', role: 'trainer' });
    expect(node.handle(msgEvent('n2', trainRequest(3)), 0)).toEqual([]);
    expect(node.handle(msgEvent('n2', trainRequest(2)), 0)).toEqual([]);
    expect(node.handle(msgEvent('n3', trainRequest(5)), 0).filter((a) => a.kind === 'compute')).toHaveLength(1);
    expect(node.round).toBe(5);
    // The abandoned round's training result is dropped; the current one is handed to aggregators.
    expect(node.handle({ kind: 'computed', id: 'train:3', result: { kind: 'train', params: params(1), loss: 0, steps: 1, samplesSeen: 10 } }, 0)).toEqual([]);
    const after = node.handle({ kind: 'computed', id: 'train:5', result: { kind: 'train', params: params(1), loss: 0, steps: 1, samplesSeen: 10 } }, 0);
    expect(pingsTo(after).length + sends(after, 'modest/model').length + after.filter((a) => a.kind === 'setTimer' && a.id === 'agg:5').length).toBeGreaterThan(0);
  });

  it('a pending JOIN is not in the next sample; it is applied once this node has sent a model', () => {
    const all = ids(10);
    let joiner = '';
    for (let k = 0; !joiner; k++) {
      const j = `j${k}`;
      if (ranking(2, [...all, j])[0] === j && ranking(3, [...all, j]).slice(0, 3).includes(j)) joiner = j;
    }
    const withoutJ = ranking(2, all)[0];
    const a = nominalSample(1, all, 3).find((id) => id !== withoutJ)!;
    const node = make(a, all);
    expect(node.handle({ kind: 'start' }, 0).some((x) => x.kind === 'compute' && x.round === 1)).toBe(true);

    node.handle(msgEvent(joiner, { type: 'modest/join', round: 1, view: oneEntry(joiner, { round: 1, counter: 1, status: 'join' }) }), 0);
    expect(node.pendingMembers()).toEqual([joiner]);
    expect(node.membership().has(joiner)).toBe(false);

    const search = node.handle({ kind: 'computed', id: 'train:1', result: { kind: 'train', params: params(1), loss: 0, steps: 1, samplesSeen: 10 } }, 0);
    expect(pingsTo(search)).toEqual([withoutJ]); // with J applied it would have been J
    const sent = pong(node, search);
    expect(sends(sent, 'modest/model').map((x) => x.to)).toEqual([withoutJ]);
    expect((sends(sent, 'modest/model')[0].msg.view as { ids: string[] }).ids).not.toContain(joiner);
    expect(node.pendingMembers()).toEqual([]);
    expect(node.membership().get(joiner)).toMatchObject({ status: 'join', counter: 1 });

    // Later samples include it: as the aggregator of round 2, this node pings it for round 3.
    let out: ProtocolAction[] = [];
    for (const [i, t] of all.filter((id) => id !== a).slice(0, 3).entries()) out = node.handle(msgEvent(t, trainedModel(2, i)), 0);
    expect(models(out)).toHaveLength(1);
    expect(pingsTo(out)).toContain(joiner);
  });

  it('watchdog: re-sends a hand-over past a dead aggregator, but not when the run has moved on', () => {
    const all = ids(10);
    const r2 = ranking(2, all);
    const trainer = nominalSample(1, all, 3).find((id) => id !== r2[0] && id !== r2[1])!;
    const setup = () => {
      const node = make(trainer, all);
      node.handle({ kind: 'start' }, 0);
      const search = node.handle({ kind: 'computed', id: 'train:1', result: { kind: 'train', params: params(5), loss: 0, steps: 1, samplesSeen: 10 } }, 0);
      expect(pingsTo(search)).toEqual([r2[0]]);
      const sent = pong(node, search);
      expect(sends(sent, 'modest/model').map((a) => a.to)).toEqual([r2[0]]);
      const dog = sent.find((a) => a.kind === 'setTimer' && a.id === 'watchdog') as { afterMs: number };
      expect(dog.afterMs).toBe(2 * 1000 + 4 * 300);
      return node;
    };

    // The aggregator died holding the model: the re-send skips it for the next responsive node.
    const a = setup();
    const check = a.handle({ kind: 'timer', id: 'watchdog' }, 0);
    expect(pingsTo(check)).toEqual([r2[0]]);
    let timer = timerFor(check, r2[0])!;
    let out: ProtocolAction[] = [];
    for (let i = 0; i < PING_ATTEMPTS; i++) {
      out = a.handle({ kind: 'timer', id: timer.id }, 0);
      timer = timerFor(out, r2[0]) ?? timer;
    }
    expect(pingsTo(out)).toEqual([r2[1]]);
    const resent = sends(pong(a, out), 'modest/model');
    expect(resent.map((x) => x.to)).toEqual([r2[1]]);
    expect(resent[0].msg).toMatchObject({ kind: 'aggregate', round: 1 });

    // The aggregator is alive and already past round 1: nothing is re-sent, the watchdog backs off.
    const b = setup();
    const again = pong(b, b.handle({ kind: 'timer', id: 'watchdog' }, 0), [], { trained: 2, aggregating: 1, aggregated: true });
    expect(sends(again, 'modest/model')).toHaveLength(0);
    expect(again).toContainEqual({ kind: 'setTimer', id: 'watchdog', afterMs: 2 * 3200 });
  });

  it('treats a peer that first appears in a roster after start as a pending JOIN', () => {
    const node = make('n0', ids(6));
    node.handle({ kind: 'start' }, 0);
    node.handle({ kind: 'roster', peers: [...ids(6), 'late'] }, 0);
    expect(node.pendingMembers()).toEqual(['late']);
    expect(node.membership().has('late')).toBe(false);
  });

  it('refuses an announcement about someone else, and applies a LEAVE at once', () => {
    const node = make('n0', ids(6));
    node.handle({ kind: 'start' }, 0);
    const bad = node.handle(msgEvent('n1', { type: 'modest/join', round: 0, view: oneEntry('n2', { round: 0, counter: 5, status: 'join' }) }), 0);
    expect(bad).toContainEqual(expect.objectContaining({ kind: 'reject', from: 'n1' }));
    node.handle(msgEvent('n3', { type: 'modest/leave', round: 2, view: oneEntry('n3', { round: 2, counter: 1, status: 'leave' }) }), 0);
    expect(node.membership().get('n3')).toMatchObject({ status: 'leave', counter: 1 });
    expect(node.membership().active(1, 50)).not.toContain('n3');
  });

  it('answers pings with its progress, and announces LEAVE to ~10·s peers on stop', () => {
    const node = make('n0', ids(50), { s: 2 });
    node.handle({ kind: 'start' }, 0);
    node.handle(msgEvent('n1', trainRequest(4)), 0);
    const [p] = sends(node.handle(msgEvent('n2', { type: 'modest/ping', round: 3, nonce: 77 }), 0), 'modest/pong');
    expect(p.to).toBe('n2');
    expect(p.msg).toMatchObject({ nonce: 77, trained: 4, aggregating: 0, aggregated: false });
    expect(stageOf({ trained: 4, aggregating: 0, aggregated: false })).toBe(8);
    expect(accepts({ kind: 'train', round: 4 }, { trained: 4, aggregating: 0, aggregated: false })).toBe(false);
    expect(accepts({ kind: 'aggregate', round: 4 }, { trained: 0, aggregating: 4, aggregated: false })).toBe(true);
    const stop = node.handle({ kind: 'stop' }, 0);
    const leaves = sends(stop, 'modest/leave');
    expect(leaves).toHaveLength(20);
    expect(new Set(leaves.map((l) => l.to)).size).toBe(20);
    expect(node.membership().get('n0')!.status).toBe('leave');
    expect(node.handle(msgEvent('n2', { type: 'modest/ping', round: 3, nonce: 1 }), 0)).toEqual([]); // gone: no answer
  });
});

describe('MoDeST view (oracle 3)', () => {
  const pool = ids(12, 'p');
  function randomView(rng: Rng): View {
    const v = new View();
    for (const id of pool) if (rng.next() < 0.6) v.mergeEntry(id, { round: rng.int(20), counter: rng.int(4), status: rng.next() < 0.5 ? 'join' : 'leave' });
    return v;
  }

  it('merge is commutative, associative and idempotent (randomised)', () => {
    const rng = Rng.seed(42);
    for (let i = 0; i < 300; i++) {
      const [a, b, c] = [randomView(rng), randomView(rng), randomView(rng)];
      expect(mergeViews(a, b).equals(mergeViews(b, a))).toBe(true);
      expect(mergeViews(mergeViews(a, b), c).equals(mergeViews(a, mergeViews(b, c)))).toBe(true);
      expect(mergeViews(a, a).equals(a)).toBe(true);
      const ab = mergeViews(a, b);
      expect(mergeViews(ab, b).equals(ab)).toBe(true);
    }
  });

  it('takes the max round; the higher counter decides the status, LEAVE on a tie', () => {
    const v = View.of([['x', { round: 5, counter: 2, status: 'join' }]]);
    v.mergeEntry('x', { round: 9, counter: 1, status: 'leave' });
    expect(v.get('x')).toEqual({ round: 9, counter: 2, status: 'join' });
    v.mergeEntry('x', { round: 3, counter: 2, status: 'leave' });
    expect(v.get('x')).toEqual({ round: 9, counter: 2, status: 'leave' });
    v.mergeEntry('x', { round: 1, counter: 3, status: 'join' });
    expect(v.get('x')).toEqual({ round: 9, counter: 3, status: 'join' });
  });

  it('active nodes have status JOIN and were seen within the inactivity threshold', () => {
    const v = View.of([
      ['a', { round: 10, counter: 0, status: 'join' }],
      ['b', { round: 4, counter: 0, status: 'join' }],
      ['c', { round: 10, counter: 1, status: 'leave' }],
    ]);
    expect(v.active(12, 8).sort()).toEqual(['a', 'b']);
    expect(v.active(13, 8)).toEqual(['a']);
    expect(v.maxRound()).toBe(10);
  });

  it('serialises compactly and round-trips; malformed or oversized views are refused', () => {
    const rng = Rng.seed(7);
    for (let i = 0; i < 20; i++) {
      const v = randomView(rng);
      const w = v.toWire();
      expect(wireViewSchema.safeParse(w).success).toBe(true);
      expect(View.fromWire(w).equals(v)).toBe(true);
    }
    expect(wireViewSchema.safeParse({ ids: ['a', 'a'], r: [1, 1], c: [0, 0], s: 'JJ' }).success).toBe(false);
    expect(wireViewSchema.safeParse({ ids: ['a'], r: [1, 2], c: [0], s: 'J' }).success).toBe(false);
    expect(wireViewSchema.safeParse({ ids: ['a'], r: [1], c: [0], s: 'X' }).success).toBe(false);
    expect(wireViewSchema.safeParse({ ids: ['a'], r: [-1], c: [0], s: 'J' }).success).toBe(false);
    const n = MAX_VIEW_ENTRIES + 1;
    const huge = { ids: Array.from({ length: n }, (_, i) => `${i}`), r: new Array(n).fill(0), c: new Array(n).fill(0), s: 'J'.repeat(n) };
    expect(wireViewSchema.safeParse(huge).success).toBe(false);
    // And the protocol never sees a bad one: the codec refuses the frame.
    const frame = encodeMessage({ type: 'modest/model', kind: 'train', round: 2, samples: 1, view: { ids: ['a', 'a'], r: [0, 0], c: [0, 0], s: 'JJ' }, params: params(0) }, modestSchemas);
    expect(decodeMessage(frame, modestSchemas, P)).toMatchObject({ ok: false, reason: 'bad-header' });
  });
});

describe('MoDeST bounds what peers claim', () => {
  const done = (out: ProtocolAction[]) => out.some((a) => a.kind === 'done');
  const finalPong = { type: 'modest/pong', round: 100, nonce: 1, trained: 100, aggregating: 100, aggregated: true } as const;

  it('one pong saying the run is over does not end it; a second peer saying so does', () => {
    const node = make('n0', ids(6), { rounds: 100 });
    node.handle({ kind: 'start' }, 0);
    expect(done(node.handle(msgEvent('n1', finalPong), 0))).toBe(false);
    expect(done(node.handle(msgEvent('n1', finalPong), 0))).toBe(false);
    expect(done(node.handle(msgEvent('n2', finalPong), 0))).toBe(true);
  });

  it('refuses rounds beyond the last one, in pongs and in models', () => {
    const node = make('n0', ids(6), { rounds: 100 });
    node.handle({ kind: 'start' }, 0);
    const pongOut = node.handle(msgEvent('n1', { ...finalPong, aggregating: 1e9 }), 0);
    expect(pongOut).toContainEqual({ kind: 'reject', from: 'n1', claim: 'round', reason: 'claims round 1000000000, beyond the last round' });
    expect(done(pongOut)).toBe(false);
    expect(node.handle(msgEvent('n1', trainedModel(1e9, 9)), 0)).toContainEqual({ kind: 'reject', from: 'n1', claim: 'round', reason: 'aggregate model for round 1000000000, beyond the last round' });
  });

  it('a model for a far round from one peer does not replace the honest collection', () => {
    const node = make('n0', ids(6), { s: 3, rounds: 100 });
    node.handle({ kind: 'start' }, 0);
    node.handle(msgEvent('n1', trainedModel(1, 1)), 0);
    expect(node.handle(msgEvent('n5', trainedModel(99, 1000)), 0)).toEqual([]);
    node.handle(msgEvent('n2', trainedModel(1, 2)), 0);
    const [global] = models(node.handle(msgEvent('n3', trainedModel(1, 3)), 0));
    expect(global.round).toBe(1);
    expect(Array.from(global.params)).toEqual([2, 2, 2, 2]);
  });

  it('drops invented members from a received view and bounds counters, so its own views stay small and refutable', () => {
    const node = make('n0', ids(6), { rounds: 100 });
    node.handle({ kind: 'start' }, 0);
    const invented = ids(5000, 'ghost');
    const view = { ids: [...invented, 'n0'].sort(), r: [] as number[], c: [] as number[], s: '' };
    for (const id of view.ids) {
      view.r.push(1);
      view.c.push(id === 'n0' ? 1e9 : 0);
      view.s += id === 'n0' ? 'L' : 'J';
    }
    const out = node.handle(msgEvent('n1', { ...trainRequest(1), view }), 0);
    expect(out).toContainEqual({ kind: 'clipped', from: 'n1', claim: 'view' });
    expect(node.membership().size).toBe(6);
    // Its own entry's counter rose by at most MAX_COUNTER_STEP, so its refuting JOIN is still a valid frame.
    const joins = sends(out, 'modest/join');
    expect(joins.length).toBeGreaterThan(0);
    expect(() => wire(joins[0].msg)).not.toThrow();
    expect(node.membership().get('n0')!.counter).toBeLessThanOrEqual(3);
  });
});

describe('MoDeST: one view per round (rejoin=announce, issue 10)', () => {
  const all = ids(12);
  const inactivity = 2;
  const r = 10;
  // X ranks first for round r + 1 among all ids, but the round view says it was last active in
  // round 0: out of the ranking (it needs round ≥ r + 1 − inactivity).
  const X = ranking(r + 1, all)[0];
  const sender = all.find((id) => id !== X)!;
  const roundView = { ids: all.slice().sort(), r: [] as number[], c: [] as number[], s: '' };
  for (const id of roundView.ids) {
    roundView.r.push(id === X ? 0 : r);
    roundView.c.push(0);
    roundView.s += 'J';
  }
  const expected = ranking(r + 1, all.filter((id) => id !== X))[0];
  const [t1, t2] = all.filter((id) => id !== X && id !== sender && id !== expected);
  const trained = (round: number): ProtocolEvent => ({ kind: 'computed', id: `train:${round}`, result: { kind: 'train', params: params(1), loss: 0, steps: 1, samplesSeen: 10 } });

  /** Trainer `id` of round r; `heard`: it got a ping from X first (a sign of life only it saw). Returns its first aggregator candidate. */
  function firstCandidate(id: NodeId, heard: boolean, rejoin: 'announce' | 'reference'): NodeId {
    const node = make(id, all, { inactivity, rejoin });
    node.handle({ kind: 'start' }, 0);
    if (heard) node.handle(msgEvent(X, { type: 'modest/ping', round: r - 1, nonce: 7 }), 0);
    node.handle(msgEvent(sender, { ...trainRequest(r), view: roundView }), 0);
    return pingsTo(node.handle(trained(r), 0))[0];
  }

  it('trainers of a round rank the next aggregators alike, though one of them heard from a node the others count as gone', () => {
    expect(firstCandidate(t1, false, 'announce')).toBe(expected);
    expect(firstCandidate(t2, true, 'announce')).toBe(expected);
    // The reference rule ranks by each node's own view: the two trainers would split the round.
    expect(firstCandidate(t1, false, 'reference')).toBe(expected);
    expect(firstCandidate(t2, true, 'reference')).toBe(X);
  });

  it('a trainer pings a node about to drop out; its pong refreshes the entry the trainer’s model carries to the aggregator', () => {
    const node = make(t1, all, { inactivity });
    node.handle({ kind: 'start' }, 0);
    const out = node.handle(msgEvent(sender, { ...trainRequest(r), view: roundView }), 0);
    const revival = sends(out, 'modest/ping');
    expect(revival.map((p) => p.to)).toEqual([X]); // the only stale entry
    node.handle(msgEvent(X, { type: 'modest/pong', round: r - 1, nonce: revival[0].msg.nonce as number, trained: 0, aggregating: 0, aggregated: false }), 0);
    expect(node.membership().get(X)!.round).toBeGreaterThanOrEqual(r);
    const delivered = sends(pong(node, node.handle(trained(r), 0)), 'modest/model');
    expect(delivered.map((d) => d.to)).toEqual([expected]);
    const view = delivered[0].msg.view as { ids: string[]; r: number[] };
    expect(view.r[view.ids.indexOf(X)]).toBeGreaterThanOrEqual(r);
  });

  it('rejoin=reference sends no revival ping', () => {
    const node = make(t1, all, { inactivity, rejoin: 'reference' });
    node.handle({ kind: 'start' }, 0);
    expect(sends(node.handle(msgEvent(sender, { ...trainRequest(r), view: roundView }), 0), 'modest/ping')).toEqual([]);
  });
});
