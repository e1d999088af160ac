import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import { Learner } from '../../src/core/learn/learner.ts';
import type { ModelSpec } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { moments } from '../../src/core/vector.ts';
import { Gossip, MAX_PENDING } from '../../src/protocols/gossip/gossip.ts';
import type { ProtocolAction, ProtocolContext } from '../../src/protocols/protocol.ts';
import { protocolFor } from '../../src/protocols/index.ts';
import type { Simulation, SimRow } from '../../src/sim/simulation.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

let world: BlobsWorld;
let learner: Learner;

beforeAll(async () => {
  world = await blobsWorld(1600, { algo: 'gossip', evalSize: 300 });
  ({ learner } = world);
});

const simulation = (input: ConfigInput): Simulation => world.simulation(input);

/** Mean over live nodes of the first layer's (kernel) weight variance. */
function firstKernelVariance(sim: Simulation): number {
  const k = learner.spec.tensors[0];
  const vs = sim.liveNodes().map((n) => moments(n.host!.protocol.currentParams()!, k.offset, k.offset + k.size).variance);
  return vs.reduce((a, b) => a + b, 0) / vs.length;
}

const strip = (rows: SimRow[]) => rows.map(({ wallMs: _w, ...r }) => r);

// A tiny layout for driving the protocol by hand: one kernel of 4 weights.
const spec: ModelSpec = { name: 'mlp', features: 2, numClasses: 2, size: 4, tensors: [{ name: 'k', shape: [2, 2], offset: 0, size: 4, kind: 'kernel' }] };
const vec = (...v: number[]) => Float32Array.from(v);

function handDriven(input: ConfigInput, peers = ['n1', 'n2', 'n3', 'n4', 'n5']): Gossip {
  const config = parseConfig({ algo: 'gossip', merge: 'mean', rounds: 5, ...input });
  const ctx: ProtocolContext = { id: 'n0', config, spec, samples: 10, maxSamples: 10, rng: Rng.seed(1).split('g'), initialParams: vec(0, 0, 0, 0), peers };
  return new Gossip(ctx);
}
const model = (from: string, params: Float32Array, age = 0) => ({ kind: 'message', from, msg: { type: 'gossip/model', round: 1, age, params } }) as const;
const trainOf = (actions: ProtocolAction[]) => (actions.find((a) => a.kind === 'compute') as Extract<ProtocolAction, { kind: 'compute' }> | undefined)?.request;

describe('gossip protocol (driven by hand)', () => {
  it('merges on receipt, then trains; models arriving during training wait and are merged afterwards', () => {
    const g = handDriven({});
    const start = g.handle({ kind: 'start' }, 0);
    const timer = start.find((a) => a.kind === 'setTimer') as Extract<ProtocolAction, { kind: 'setTimer' }>;
    expect(timer.afterMs).toBeGreaterThanOrEqual(0);
    expect(timer.afterMs).toBeLessThan(1000);
    const t1 = trainOf(g.handle(model('n1', vec(2, 2, 2, 2)), 0));
    expect(t1 && Array.from(t1.params)).toEqual([1, 1, 1, 1]);
    // Three arrivals while training: n2, n3, then n2 again (replaces its earlier one).
    expect(g.handle(model('n2', vec(100, 100, 100, 100)), 1)).toEqual([]);
    expect(g.handle(model('n3', vec(3, 3, 3, 3)), 2)).toEqual([]);
    expect(g.handle(model('n2', vec(6, 6, 6, 6)), 3)).toEqual([]);
    const after = g.handle({ kind: 'computed', id: 'train', result: { kind: 'train', params: vec(0, 0, 0, 0), loss: 0, steps: 1, samplesSeen: 10 } }, 4);
    // One three-way mean of the trained model and the pending ones: (0 + 3 + 6)/3.
    expect(Array.from(trainOf(after)!.params)).toEqual([3, 3, 3, 3]);
    expect(g.modelAge).toBe(10);
  });

  it(`keeps at most ${MAX_PENDING} pending senders, dropping the oldest`, () => {
    const g = handDriven({});
    g.handle({ kind: 'start' }, 0);
    g.handle(model('n1', vec(0, 0, 0, 0)), 0);
    for (const [i, p] of ['n1', 'n2', 'n3', 'n4', 'n5'].entries()) g.handle(model(p, vec(i, i, i, i)), 1);
    const after = g.handle({ kind: 'computed', id: 'train', result: { kind: 'train', params: vec(0, 0, 0, 0), loss: 0, steps: 1, samplesSeen: 10 } }, 2);
    // n1's (0) was dropped: mean of 0 (trained), 1, 2, 3, 4.
    expect(Array.from(trainOf(after)!.params)).toEqual([2, 2, 2, 2]);
  });

  it('sends one model per tick to a neighbour in the topology, and stops after `rounds` ticks', () => {
    const g = handDriven({ topology: 'ring', rounds: 40 });
    g.handle({ kind: 'start' }, 0);
    const targets = new Set<string>();
    let done = false;
    for (let t = 1; t <= 40; t++) {
      const actions = g.handle({ kind: 'timer', id: 'tick' }, t * 1000);
      const sends = actions.filter((a) => a.kind === 'send');
      expect(sends.length).toBe(1);
      for (const s of sends) if (s.kind === 'send') targets.add(s.to);
      expect(actions).toContainEqual({ kind: 'round', round: t });
      expect(actions.some((a) => a.kind === 'setTimer')).toBe(t < 40);
      done = actions.some((a) => a.kind === 'done');
      expect(done).toBe(t === 40);
    }
    expect([...targets].sort()).toEqual(['n1', 'n5']);
    expect(g.handle({ kind: 'timer', id: 'tick' }, 41_000)).toEqual([]);
    // With `full`, any known peer.
    const f = handDriven({ topology: 'full', rounds: 60 });
    f.handle({ kind: 'start' }, 0);
    const all = new Set<string>();
    for (let t = 1; t <= 60; t++) for (const a of f.handle({ kind: 'timer', id: 'tick' }, t)) if (a.kind === 'send') all.add(a.to);
    expect(all.size).toBe(5);
  });

  it('a late joiner takes the room’s tick count once two peers report it; one peer’s claim moves nothing', () => {
    const g = handDriven({ rounds: 30 });
    g.handle({ kind: 'start' }, 0);
    g.handle({ kind: 'message', from: 'n1', msg: { type: 'gossip/model', round: 20, age: 500, params: vec(1, 1, 1, 1) } }, 0);
    expect(g.handle({ kind: 'timer', id: 'tick' }, 1)).toContainEqual({ kind: 'round', round: 1 });
    g.handle({ kind: 'message', from: 'n2', msg: { type: 'gossip/model', round: 20, age: 500, params: vec(1, 1, 1, 1) } }, 1);
    expect(g.handle({ kind: 'timer', id: 'tick' }, 2)).toContainEqual({ kind: 'round', round: 20 });
    // A tick beyond the last round is refused as a claim; one peer's far-ahead (valid) tick does not end the run.
    expect(g.handle({ kind: 'message', from: 'n3', msg: { type: 'gossip/model', round: 10 ** 9, age: 0, params: vec(1, 1, 1, 1) } }, 3)).toEqual([
      { kind: 'reject', from: 'n3', claim: 'round', reason: 'tick 1000000000 beyond the last round' },
    ]);
    g.handle({ kind: 'message', from: 'n3', msg: { type: 'gossip/model', round: 30, age: 0, params: vec(1, 1, 1, 1) } }, 3);
    const next = g.handle({ kind: 'timer', id: 'tick' }, 4);
    expect(next).toContainEqual({ kind: 'round', round: 21 });
    expect(next).not.toContainEqual({ kind: 'done' });
  });

  it('clips a claimed age to AGE_RATIO times its own once it has trained, so one message cannot replace its model', () => {
    const g = handDriven({ merge: 'age' });
    g.handle({ kind: 'start' }, 0);
    const first = g.handle(model('n1', vec(2, 2, 2, 2), 0), 0);
    g.handle({ kind: 'computed', id: 'train', result: { kind: 'train', params: vec(0, 0, 0, 0), steps: 10, samplesSeen: 100, loss: 1 } }, 1);
    expect(trainOf(first)).toBeDefined();
    expect(g.modelAge).toBe(100);
    const actions = g.handle(model('n2', vec(10, 10, 10, 10), 1e15), 2);
    expect(actions).toContainEqual({ kind: 'clipped', from: 'n2', claim: 'age' });
    // (100·0 + 400·10)/(100 + 400) = 8: moved, but not replaced.
    expect(Array.from(trainOf(actions)!.params)).toEqual([8, 8, 8, 8]);
  });

  it('mu merges each arrival with the model received before it (initially its own init), then trains that', () => {
    const g = handDriven({ merge: 'mu' });
    g.handle({ kind: 'start' }, 0);
    // First arrival: merged with the last-seen model, which is still the init (0).
    expect(Array.from(trainOf(g.handle(model('n1', vec(2, 2, 2, 2), 30), 0))!.params)).toEqual([1, 1, 1, 1]);
    expect(g.modelAge).toBe(30);
    g.handle({ kind: 'computed', id: 'train', result: { kind: 'train', params: vec(10, 10, 10, 10), loss: 0, steps: 1, samplesSeen: 10 } }, 1);
    expect(Array.from(g.currentParams())).toEqual([10, 10, 10, 10]);
    // Next arrival: merged with n1's model (2), not with this node's trained model (10), which it replaces.
    expect(Array.from(trainOf(g.handle(model('n2', vec(4, 4, 4, 4), 5), 2))!.params)).toEqual([3, 3, 3, 3]);
    expect(g.modelAge).toBe(30);
    // Arrivals during training are taken in order: the last two are averaged (n4's 8 with n3's 6).
    g.handle(model('n3', vec(6, 6, 6, 6)), 3);
    g.handle(model('n4', vec(8, 8, 8, 8)), 4);
    const after = g.handle({ kind: 'computed', id: 'train', result: { kind: 'train', params: vec(-1, -1, -1, -1), loss: 0, steps: 1, samplesSeen: 10 } }, 5);
    expect(Array.from(trainOf(after)!.params)).toEqual([7, 7, 7, 7]);
    // And the next arrival is merged with n4's.
    g.handle({ kind: 'computed', id: 'train', result: { kind: 'train', params: vec(0, 0, 0, 0), loss: 0, steps: 1, samplesSeen: 10 } }, 6);
    expect(Array.from(trainOf(g.handle(model('n5', vec(0, 0, 0, 0)), 7))!.params)).toEqual([4, 4, 4, 4]);
  });

  it('age merge uses the sender age; a model from itself is rejected', () => {
    const g = handDriven({ merge: 'age' });
    g.handle({ kind: 'start' }, 0);
    const t = trainOf(g.handle(model('n1', vec(4, 4, 4, 4), 30), 0))!;
    expect(Array.from(t.params)).toEqual([4, 4, 4, 4]); // own age 0: the old model wins entirely
    expect(g.handle(model('n0', vec(1, 1, 1, 1)), 1)[0]).toMatchObject({ kind: 'reject' });
  });
});

describe('gossip in the simulator (real tfjs training on blobs)', () => {
  it('is registered', () => {
    expect(protocolFor('gossip').evaluates).toBe('nodes');
  });

  it('learns: every merge rule reaches a high mean accuracy, and the run ends after `rounds` ticks', () => {
    for (const merge of ['vca', 'age', 'mu'] as const) {
      const sim = simulation({ nodes: 10, rounds: 10, merge, evalEvery: 5 });
      const summary = sim.run();
      expect(summary.stopReason).toBe('rounds');
      expect(summary.rejected).toEqual({});
      expect(sim.rows.map((r) => r.round)).toEqual([5, 10]);
      expect(sim.rows.at(-1)!.accuracy).toBeGreaterThanOrEqual(0.95);
      expect(sim.rows.at(-1)!.minAccuracy).toBeDefined();
    }
  });

  it('VCA keeps the first layer variance of independently initialised nodes; the plain mean lets it collapse', () => {
    const glorot = 2 / (2 + 16); // σ² of the 2×16 first kernel
    const measure = (merge: 'mean' | 'vca') => {
      const sim = simulation({ nodes: 16, rounds: 4, merge, evalEvery: 4 });
      const before = (sim.start(), firstKernelVariance(sim));
      while (sim.advance(1000)) {
        /* run */
      }
      expect(sim.summary().rejected).toEqual({});
      return { before, after: firstKernelVariance(sim) };
    };
    const mean = measure('mean');
    const vca = measure('vca');
    expect(mean.before / glorot).toBeGreaterThan(0.6);
    expect(mean.before).toBe(vca.before);
    expect(mean.after).toBeLessThan(0.5 * mean.before);
    expect(vca.after).toBeGreaterThan(0.8 * vca.before);
    expect(vca.after / mean.after).toBeGreaterThan(2);
  });

  it('is deterministic for a seed, and the seed matters', () => {
    const run = (seed: number) => {
      const sim = simulation({ nodes: 6, rounds: 4, seed, evalEvery: 2 });
      sim.run();
      expect(sim.summary().rejected).toEqual({});
      return { rows: strip(sim.rows), params: sim.nodes.map((n) => Array.from(n.host!.protocol.currentParams()!)) };
    };
    const a = run(5);
    const b = run(5);
    expect(b).toEqual(a);
    expect(run(6).params).not.toEqual(a.params);
  });
});
