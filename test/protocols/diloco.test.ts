import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import { adamw, SGD, type OptimizerStates } from '../../src/core/learn/compute.ts';
import type { ModelSpec } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { maxAbsDiff } from '../../src/core/vector.ts';
import { decodeMessage, encodeMessage, type Fragment } from '../../src/core/wire/codec.ts';
import { DiLoCo, STATE_KEY } from '../../src/protocols/diloco/diloco.ts';
import { dilocoSchemas } from '../../src/protocols/diloco/messages.ts';
import { fragmentRanges, nesterovStep, roundTrip, syncPlan } from '../../src/protocols/diloco/outer.ts';
import '../../src/protocols/index.ts';
import type { ProtocolAction, ProtocolEvent } from '../../src/protocols/protocol.ts';
import type { Simulation } from '../../src/sim/simulation.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

let world: BlobsWorld;

beforeAll(async () => {
  world = await blobsWorld(800);
});

const base: ConfigInput = { algo: 'diloco', nodes: 4, rounds: 3, innerSteps: 6, batch: 10 };

/** Runs an honest strict simulation and keeps the coordinator's global model of every round. */
function run(input: ConfigInput): { sim: Simulation; globals: Map<number, Float32Array> } {
  const sim = world.simulation({ ...base, ...input });
  const globals = new Map<number, Float32Array>();
  sim.onAction = (node, a) => {
    if (node === sim.coordinator && a.kind === 'model' && a.scope === 'global') globals.set(a.round, a.params);
  };
  const summary = sim.run();
  expect(summary.rejected).toEqual({});
  expect(summary.errors).toEqual({});
  return { sim, globals };
}

/** A node's batch order in the simulator: its `train` stream, split by its request count. */
const trainRng = (id: string, count: number) => Rng.seed(5).split('node').split(id).split('train').split(count);

describe('the outer optimizer', () => {
  it('is Nesterov SGD: v ← μv + Δ, step = −η(Δ + μv), on the fragment’s slice of v', () => {
    const v = new Float32Array(4);
    const range = { start: 2, end: 4 };
    const s1 = nesterovStep(v, range, Float32Array.from([1, 2]), 0.7, 0.9);
    expect(Array.from(v)).toEqual([0, 0, 1, 2]);
    expect(s1[0]).toBeCloseTo(-0.7 * 1.9, 6);
    expect(s1[1]).toBeCloseTo(-0.7 * 3.8, 6);
    const s2 = nesterovStep(v, range, Float32Array.from([1, 0]), 0.7, 0.9);
    expect(v[2]).toBeCloseTo(1.9, 6);
    expect(v[3]).toBeCloseTo(1.8, 6);
    expect(s2[0]).toBeCloseTo(-0.7 * (1 + 0.9 * 1.9), 6);
    expect(s2[1]).toBeCloseTo(-0.7 * (0.9 * 1.8), 6);
    // μ = 0, η = 1: the step is −Δ, so θ − Δ = the workers' mean.
    expect(Array.from(nesterovStep(new Float32Array(2), { start: 0, end: 2 }, Float32Array.from([0.5, -1]), 1, 0))).toEqual([-0.5, 1]);
  });
});

describe('fragments and their schedule', () => {
  const spec2nn: Pick<ModelSpec, 'size' | 'tensors'> = {
    size: 199210,
    tensors: [156800, 200, 40000, 200, 2000, 10].reduce<{ offset: number; t: ModelSpec['tensors'] }>(
      (acc, size, i) => ({ offset: acc.offset + size, t: [...acc.t, { name: `t${i}`, shape: [size], offset: acc.offset, size, kind: i % 2 ? 'bias' : 'kernel' }] }),
      { offset: 0, t: [] },
    ).t,
  };

  it('cut the model into P contiguous ranges on tensor boundaries where possible', () => {
    for (const p of [1, 2, 3, 4, 6]) {
      const r = fragmentRanges(spec2nn, p);
      expect(r).toHaveLength(p);
      expect(r[0].start).toBe(0);
      expect(r[p - 1].end).toBe(199210);
      for (let i = 1; i < p; i++) expect(r[i].start).toBe(r[i - 1].end);
      for (const f of r) expect(spec2nn.tensors.some((t) => t.offset === f.start)).toBe(true);
    }
    expect(fragmentRanges(spec2nn, 4).map((f) => f.end - f.start)).toEqual([156800, 200, 40000, 2210]);
    // More fragments than tensors: an even cut.
    expect(fragmentRanges(spec2nn, 8).map((f) => f.end - f.start).every((n) => Math.abs(n - 199210 / 8) <= 1)).toBe(true);
  });

  it('synchronize fragment p every H inner steps, offset by p·H/P, one at a time', () => {
    const H = 8;
    const P = 4;
    const plans = Array.from({ length: 12 }, (_, i) => syncPlan(i + 1, H, P));
    expect(plans.map((s) => s.at)).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]);
    expect(plans.map((s) => s.fragment)).toEqual([1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0]);
    for (let p = 0; p < P; p++) {
      const at = plans.filter((s) => s.fragment === p).map((s) => s.at);
      expect(at[0] % H).toBe((p * H) / P);
      for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBe(H);
    }
    expect(syncPlan(3, 20, 1)).toEqual({ sync: 3, fragment: 0, steps: 20, at: 60 });
  });

  it('in a run, every delta carries its sync’s fragment, and no delta of sync k + 1 leaves before sync k closed', () => {
    const sent: { node: string; sync: number; start: number; len: number; t: number }[] = [];
    const closedAt = new Map<number, number>();
    const sim = world.simulation({ ...base, fragments: 3, innerSteps: 6, overlap: 1, mixAlpha: 0.5, rounds: 2 });
    const ranges = fragmentRanges(world.learner.spec, 3);
    sim.onAction = (node, a, now) => {
      if (a.kind === 'send' && a.msg.type === 'diloco/delta') {
        const d = a.msg.delta as { values: Float32Array; start: number };
        sent.push({ node, sync: a.msg.sync as number, start: d.start, len: d.values.length, t: now });
      }
      if (node === sim.coordinator && a.kind === 'send' && a.msg.type === 'diloco/sync' && !closedAt.has((a.msg.sync as number) - 1)) closedAt.set((a.msg.sync as number) - 1, now);
    };
    const summary = sim.run();
    expect(summary.rejected).toEqual({});
    expect(summary.rounds).toBe(2);
    expect(new Set(sent.map((s) => s.sync))).toEqual(new Set([1, 2, 3, 4, 5, 6]));
    for (const s of sent) {
      expect({ start: s.start, end: s.start + s.len }).toEqual(ranges[s.sync % 3]);
      if (s.sync > 1) expect(s.t).toBeGreaterThanOrEqual(closedAt.get(s.sync - 1)!);
    }
  });
});

/** DiLoCo written out plainly, on the simulation's shards, batch orders and init: the reference for the oracles. */
function referenceDiLoCo(sim: Simulation, o: { rounds: number; H: number; lr: number; outerLr: number; mu: number; optimizer: 'adamw' | 'sgd' }): Float32Array[] {
  const nodes = sim.nodes.slice(0, sim.config.nodes);
  const states = nodes.map(() => new Map() as OptimizerStates);
  let theta = sim.sharedInit.slice();
  const v = new Float32Array(theta.length);
  const out: Float32Array[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const deltas = nodes.map((n, i) => {
      const res = world.learner.computeSync(
        { kind: 'train', params: theta, epochs: 1, steps: o.H, batch: sim.config.batch, lr: o.lr, optimizer: o.optimizer === 'sgd' ? SGD : adamw(), stateKey: STATE_KEY },
        n.shard,
        { rng: trainRng(n.id, r), states: states[i] },
      );
      if (res.kind !== 'train') throw new Error('not a train result');
      return theta.map((x, j) => x - res.params[j]);
    });
    const delta = new Float32Array(theta.length);
    for (const d of deltas) for (let j = 0; j < d.length; j++) delta[j] += d[j];
    for (let j = 0; j < delta.length; j++) delta[j] /= deltas.length;
    // torch.optim.SGD(nesterov=True) on the outer gradient, written out (not the code under test).
    for (let j = 0; j < v.length; j++) v[j] = o.mu * v[j] + delta[j];
    theta = theta.map((x, j) => x - o.outerLr * (delta[j] + o.mu * v[j]));
    out.push(theta.slice());
  }
  return out;
}

describe('oracles (real tfjs training)', () => {
  it('9: outer lr 1, no momentum and inner SGD is plain parameter averaging, i.e. FedAvg with C = 1 and equal weights', () => {
    const cfg = { nodes: 4, rounds: 3, partition: 'iid', batch: 10 };
    const { sim, globals } = run({ ...cfg, innerOpt: 'sgd', innerLr: 0.1, innerSteps: 5, outerLr: 1, outerMomentum: 0 });
    const sizes = sim.nodes.map((n) => n.shard.n);
    expect(new Set(sizes).size, 'equal shards, so FedAvg’s weights are equal').toBe(1);
    const fed = world.simulation({ ...cfg, algo: 'fedavg', fraction: 1, steps: 5, lr: 0.1 });
    const fedGlobals = new Map<number, Float32Array>();
    fed.onAction = (node, a) => {
      if (node === fed.coordinator && a.kind === 'model' && a.scope === 'global') fedGlobals.set(a.round, a.params);
    };
    expect(fed.run().rejected).toEqual({});
    for (const r of [1, 2, 3]) {
      expect(maxAbsDiff(globals.get(r)!, fedGlobals.get(r)!)).toBeLessThan(1e-5);
      expect(maxAbsDiff(globals.get(r)!, r === 1 ? sim.sharedInit : globals.get(r - 1)!)).toBeGreaterThan(1e-3);
    }
    // With momentum it is another algorithm.
    const { globals: nesterov } = run({ ...cfg, innerOpt: 'sgd', innerLr: 0.1, innerSteps: 5, outerLr: 1, outerMomentum: 0.9 });
    expect(maxAbsDiff(nesterov.get(3)!, fedGlobals.get(3)!)).toBeGreaterThan(1e-3);
  });

  it('12: Streaming DiLoCo with one fragment, no overlap and α = 0 is DiLoCo (inner AdamW, outer Nesterov)', () => {
    const o = { rounds: 3, H: 6, lr: 0.01, outerLr: 0.7, mu: 0.9, optimizer: 'adamw' as const };
    const { sim, globals } = run({ fragments: 1, overlap: 0, mixAlpha: 0, innerSteps: o.H, innerLr: o.lr, outerLr: o.outerLr, outerMomentum: o.mu, rounds: o.rounds });
    const ref = referenceDiLoCo(sim, o);
    for (let r = 1; r <= o.rounds; r++) expect(maxAbsDiff(globals.get(r)!, ref[r - 1])).toBeLessThan(1e-5);
    // The streaming knobs do change the run, so the oracle could fail.
    const { globals: mixed } = run({ fragments: 1, overlap: 0, mixAlpha: 0.5, innerSteps: o.H, innerLr: o.lr, rounds: o.rounds });
    expect(maxAbsDiff(mixed.get(3)!, ref[2])).toBeGreaterThan(1e-4);
    const { globals: overlapped } = run({ fragments: 1, overlap: 2, mixAlpha: 0, innerSteps: o.H, innerLr: o.lr, rounds: o.rounds });
    expect(maxAbsDiff(overlapped.get(3)!, ref[2])).toBeGreaterThan(1e-4);
  });

  it('keeps each worker’s AdamW state across outer steps: the second outer step continues the moments', () => {
    const H = 6;
    const { sim, globals } = run({ nodes: 1, rounds: 2, innerSteps: H, innerLr: 0.01, outerLr: 1, outerMomentum: 0 });
    const shard = sim.nodes[0].shard;
    const states: OptimizerStates = new Map();
    const req = (params: Float32Array) => ({ kind: 'train' as const, params, epochs: 1, steps: H, batch: 10, lr: 0.01, optimizer: adamw(), stateKey: STATE_KEY });
    const first = world.learner.computeSync(req(sim.sharedInit), shard, { rng: trainRng('n0', 0), states });
    if (first.kind !== 'train') throw new Error('not a train result');
    expect(maxAbsDiff(globals.get(1)!, first.params)).toBeLessThan(1e-6);
    expect(states.get(STATE_KEY)!.step).toBe(H);
    const continued = world.learner.computeSync(req(first.params), shard, { rng: trainRng('n0', 1), states });
    const fresh = world.learner.computeSync(req(first.params), shard, { rng: trainRng('n0', 1), states: new Map() });
    if (continued.kind !== 'train' || fresh.kind !== 'train') throw new Error('not a train result');
    expect(states.get(STATE_KEY)!.step).toBe(2 * H);
    expect(maxAbsDiff(globals.get(2)!, continued.params)).toBeLessThan(1e-6);
    expect(maxAbsDiff(globals.get(2)!, fresh.params)).toBeGreaterThan(1e-4);
  });
});

describe('quantized outer gradients', () => {
  it('count the bytes as encoded: a 4-bit fragment is a scale and ⌈n/2⌉ bytes', () => {
    const values = Float32Array.from({ length: 101 }, (_, i) => Math.sin(i));
    const frame = (dtype: 'f32' | 'f16' | 'i8' | 'i4') => encodeMessage({ type: 'diloco/delta', sync: 3, delta: { values, start: 7, dtype } }, dilocoSchemas).length;
    const head = frame('f32') - 4 * 101;
    expect(frame('f16')).toBe(head + 2 * 101);
    expect(frame('i8')).toBe(head + 4 + 101);
    expect(frame('i4')).toBe(head + 4 + 51);
    // What a sender keeps is what the receiver decodes.
    const q = roundTrip(values, 4);
    expect(new Set(Array.from(q).map((x) => Math.round(x / (q.reduce((m, y) => Math.max(m, Math.abs(y)), 0) / 7)))).size).toBeLessThanOrEqual(15);
  });

  it('4 bits send at most 0.2× the bytes of 32 for the same rounds, at about the same accuracy', () => {
    const cfg = { nodes: 6, rounds: 4, partition: 'dirichlet:0.5' };
    const runs = [32, 16, 8, 4].map((quant) => run({ ...cfg, quant }).sim.summary());
    const [b32, b16, b8, b4] = runs.map((s) => s.bytesSent);
    expect(b16).toBeLessThan(0.6 * b32);
    expect(b8).toBeLessThan(b16);
    expect(b4).toBeLessThan(b8);
    expect(b4 / b32).toBeLessThanOrEqual(0.2);
    for (const s of runs) expect(s.rounds).toBe(4);
    expect(Math.abs(runs[3].accuracy - runs[0].accuracy)).toBeLessThanOrEqual(0.05);
  });
});

describe('claims from peers are bounded', () => {
  const cfgOf = (input: ConfigInput) => parseConfig({ dataset: 'blobs', model: 'mlp', samples: 800, seed: 5, ...base, ...input });
  function node(id: string, peers: string[], input: ConfigInput = {}) {
    const p = new DiLoCo({ id, config: cfgOf(input), spec: world.learner.spec, samples: 100, maxSamples: 100, rng: Rng.seed(1).split(id), initialParams: world.learner.spec.tensors.length ? new Float32Array(world.learner.spec.size) : new Float32Array(0), peers });
    const feed = (e: ProtocolEvent) => p.handle(e, 0);
    feed({ kind: 'roster', peers, coordinator: 'n0' });
    return { p, feed };
  }
  const rejects = (a: ProtocolAction[]) => a.filter((x) => x.kind === 'reject').map((x) => (x as { reason: string }).reason);
  const size = () => world.learner.spec.size;
  const frag = (start: number, end: number, fill = 0.01): Fragment => ({ start, end, values: new Float32Array(end - start).fill(fill) });

  it('a worker takes syncs only from the coordinator, in order, with the scheduled fragment', () => {
    const { feed } = node('n1', ['n0', 'n2'], { fragments: 2 });
    const ranges = fragmentRanges(world.learner.spec, 2);
    const sync = (from: string, m: Record<string, unknown>) => feed({ kind: 'message', from, msg: { type: 'diloco/sync', full: false, done: false, ...m } });
    expect(rejects(sync('n2', { sync: 1 }))).toEqual(['sync from a non-coordinator']);
    expect(rejects(sync('n0', { sync: 99 }))[0]).toMatch(/beyond the last/);
    expect(rejects(sync('n0', { sync: 7, done: false }))[0]).toMatch(/done flag/);
    expect(rejects(sync('n0', { sync: 3, update: frag(ranges[0].start, ranges[0].end) }))[0]).toMatch(/step for sync 3/);
    const first = sync('n0', { sync: 1 });
    expect(rejects(first)).toEqual([]);
    const train = first.find((a) => a.kind === 'compute')!;
    expect(train).toBeDefined();
    expect(rejects(sync('n0', { sync: 1 }))).toHaveLength(1);
    const after = feed({ kind: 'computed', id: (train as { id: string }).id, result: { kind: 'train', params: new Float32Array(size()).fill(0.5), loss: 0.1, steps: 3, samplesSeen: 30 } });
    const sent = after.find((a) => a.kind === 'send')!;
    expect(sent).toMatchObject({ to: 'n0', msg: { type: 'diloco/delta', sync: 1 } });
    expect((sent as unknown as { msg: { delta: { start: number } } }).msg.delta.start).toBe(ranges[1].start);
    // Sync 2 must carry sync 1's fragment (fragment 1), not fragment 0.
    expect(rejects(sync('n0', { sync: 2, update: frag(ranges[0].start, ranges[0].end) }))[0]).toMatch(/must carry fragment/);
    expect(rejects(sync('n0', { sync: 2, update: frag(ranges[1].start, ranges[1].end) }))).toEqual([]);
  });

  it('the coordinator takes a delta only for the open sync, from a worker it handed it to, once, on the scheduled fragment; outliers are refused', () => {
    const { feed } = node('n0', ['n1', 'n2', 'n3'], { fragments: 1, rounds: 2 });
    const started = feed({ kind: 'start' });
    expect(started.filter((a) => a.kind === 'send').map((a) => (a as { to: string }).to)).toEqual(['n1', 'n2', 'n3']);
    const delta = (from: string, sync: number, f: Fragment) => feed({ kind: 'message', from, msg: { type: 'diloco/delta', sync, delta: f } });
    const all = () => frag(0, size());
    expect(rejects(delta('n9', 1, all()))[0]).toMatch(/not handed sync 1/);
    expect(rejects(delta('n1', 5, all()))[0]).toMatch(/outside/);
    expect(rejects(delta('n1', 1, frag(0, size() - 1)))[0]).toMatch(/covers/);
    expect(rejects(delta('n1', 1, all()))).toEqual([]);
    expect(rejects(delta('n1', 1, all()))).toEqual(['duplicate delta']);
    expect(rejects(delta('n2', 1, all()))).toEqual([]);
    // n3 lies big; the coordinator's own training is still running, so nothing closes yet.
    const lie = delta('n3', 1, frag(0, size(), 50));
    expect(rejects(lie)).toEqual([]);
    const own = started.find((a) => a.kind === 'compute') as { id: string };
    const closed = feed({ kind: 'computed', id: own.id, result: { kind: 'train', params: new Float32Array(size()).fill(-0.01), loss: 0.1, steps: 6, samplesSeen: 60 } });
    expect(rejects(closed)).toEqual(['delta norm over 10× the median']);
    const model = closed.find((a) => a.kind === 'model') as { params: Float32Array };
    expect(Math.max(...Array.from(model.params).map(Math.abs))).toBeLessThan(0.1);
    // Sync 2 is open now: the liar was not in sync 1's answer, so it gets the whole model; the others only the step.
    const next = closed.filter((a) => a.kind === 'send') as unknown as { to: string; msg: { full: boolean; sync: number } }[];
    expect(next.map((s) => [s.to, s.msg.sync, s.msg.full])).toEqual([['n1', 2, false], ['n2', 2, false], ['n3', 2, true]]);
  });

  it('when the coordinator’s tab closes, the tab the room elects takes over and the run still ends', () => {
    // Three protocols wired by hand through the codec, with a stand-in learner (one small step per request).
    const cfg = { fragments: 2, overlap: 1, rounds: 4, quant: 8 } as ConfigInput;
    const ids = ['n0', 'n1', 'n2'];
    const nodes = new Map(ids.map((id) => [id, node(id, ids.filter((x) => x !== id), cfg)]));
    const alive = new Set(ids);
    const queue: [string, ProtocolEvent][] = [];
    const log: Record<string, ProtocolAction[]> = { n0: [], n1: [], n2: [] };
    const act = (id: string, actions: ProtocolAction[]) => {
      log[id].push(...actions);
      for (const a of actions) {
        if (a.kind === 'send') {
          const decoded = decodeMessage(encodeMessage(a.msg, dilocoSchemas), dilocoSchemas, size());
          if (!decoded.ok) throw new Error(decoded.detail);
          queue.push([a.to, { kind: 'message', from: id, msg: decoded.msg }]);
        } else if (a.kind === 'compute' && a.request.kind === 'train') {
          const params = a.request.params.map((x) => x - 0.001 * (1 + Number(id.slice(1))));
          queue.push([id, { kind: 'computed', id: a.id, result: { kind: 'train', params, loss: 1, steps: a.request.steps, samplesSeen: 1 } }]);
        }
      }
    };
    act('n0', nodes.get('n0')!.feed({ kind: 'start' }));
    const pump = (until: () => boolean) => {
      for (let i = 0; i < 10000 && queue.length && !until(); i++) {
        const [to, e] = queue.shift()!;
        // A closed tab neither receives nor delivers what it had queued.
        if (alive.has(to) && (e.kind !== 'message' || alive.has(e.from))) act(to, nodes.get(to)!.feed(e));
      }
    };
    pump(() => log.n0.some((a) => a.kind === 'round' && a.round === 2));
    alive.delete('n0');
    for (const id of ['n1', 'n2']) act(id, nodes.get(id)!.feed({ kind: 'roster', peers: ['n1', 'n2'].filter((x) => x !== id), coordinator: 'n1' }));
    pump(() => false);
    for (const id of ['n1', 'n2']) {
      expect(rejects(log[id])).toEqual([]);
      expect(log[id].some((a) => a.kind === 'done')).toBe(true);
    }
    const finals = log.n1.filter((a) => a.kind === 'model' && a.scope === 'global').map((a) => (a as { round: number }).round);
    expect(Math.max(...finals)).toBe(4);
  });

  it('a worker that leaves mid-run does not stall the outer steps', () => {
    const { sim } = run({ nodes: 6, rounds: 5, churn: '0.5@2', roundTimeout: 2000 });
    const s = sim.summary();
    expect(s.rounds).toBe(5);
    expect(s.liveNodes).toBe(3);
    expect(s.stopReason).toBe('rounds');
  });
});
