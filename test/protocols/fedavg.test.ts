import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import { Learner } from '../../src/core/learn/learner.ts';
import { Rng } from '../../src/core/rng.ts';
import { maxAbsDiff } from '../../src/core/vector.ts';
import { fedavgAggregate, fedavgWeights } from '../../src/protocols/fedavg/aggregate.ts';
import { FedAvg } from '../../src/protocols/fedavg/fedavg.ts';
import type { Simulation } from '../../src/sim/simulation.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

let world: BlobsWorld;
let learner: Learner;

beforeAll(async () => {
  world = await blobsWorld(800);
  ({ learner } = world);
});

/** Runs an honest simulation: nobody may refuse anything. */
function simulate(input: ConfigInput): Simulation {
  const sim = world.simulation(input);
  sim.run();
  expect(sim.summary().rejected).toEqual({});
  return sim;
}

function captureGlobals(input: ConfigInput): { sim: Simulation; globals: Map<number, Float32Array> } {
  const sim = world.simulation(input);
  const globals = new Map<number, Float32Array>();
  sim.onAction = (node, a) => {
    if (node === sim.coordinator && a.kind === 'model' && a.scope === 'global') globals.set(a.round, a.params);
  };
  sim.run();
  expect(sim.summary().rejected).toEqual({});
  return { sim, globals };
}

describe('FedAvg aggregation', () => {
  it('weights by sample count, and the weights sum to 1', () => {
    const updates = [
      { params: Float32Array.from([1, 1]), samples: 10 },
      { params: Float32Array.from([4, -2]), samples: 30 },
    ];
    const w = fedavgWeights(updates);
    expect(w).toEqual([0.25, 0.75]);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(Array.from(fedavgAggregate(updates))).toEqual([3.25, -1.25]);
  });
});

describe('FedAvg oracles (real tfjs training)', () => {
  it('E = 1, B = ∞ equals one full-batch gradient step on the union of the selected clients', () => {
    const { sim, globals } = captureGlobals({ nodes: 4, fraction: 1, epochs: 1, batch: 'inf', lr: 0.5, rounds: 1, partition: 'dirichlet:0.5' });
    const all = sim.nodes.map((n) => n.shard);
    const merged = { n: all.reduce((s, x) => s + x.n, 0), x: new Float32Array(all.reduce((s, x) => s + x.x.length, 0)), y: new Uint8Array(all.reduce((s, x) => s + x.n, 0)) };
    let ox = 0;
    let oy = 0;
    for (const s of all) {
      merged.x.set(s.x, ox);
      merged.y.set(s.y, oy);
      ox += s.x.length;
      oy += s.n;
    }
    const init = sim.sharedInit;
    const central = learner.trainSync(init, merged, { epochs: 1, steps: 0, batch: 0, lr: 0.5 }, Rng.seed(0));
    const fed = globals.get(1)!;
    expect(fed).toBeDefined();
    expect(maxAbsDiff(fed, central.params)).toBeLessThan(1e-5);
    // ...and it is not the unweighted mean, which the partition's unequal shards would make differ.
    const sizes = all.map((s) => s.n);
    expect(Math.max(...sizes)).toBeGreaterThan(Math.min(...sizes));
    expect(maxAbsDiff(fed, init)).toBeGreaterThan(1e-3);
  });

  it('with one client, FedAvg equals local training', () => {
    const { sim, globals } = captureGlobals({ nodes: 1, fraction: 1, epochs: 3, batch: 10, lr: 0.1, rounds: 1 });
    const init = sim.sharedInit;
    const rng = Rng.seed(5).split('node').split('n0').split('train').split(0);
    const local = learner.trainSync(init, sim.nodes[0].shard, { epochs: 3, steps: 0, batch: 10, lr: 0.1 }, rng);
    expect(maxAbsDiff(globals.get(1)!, local.params)).toBe(0);
  });
});

describe('FedAvg in the simulator', () => {
  it('reaches at least 90% on blobs within 20 rounds with 8 nodes', () => {
    const sim = simulate({ nodes: 8, fraction: 1, rounds: 20, epochs: 1, batch: 10, lr: 0.1 });
    expect(sim.rows.length).toBe(20);
    expect(sim.rows.at(-1)!.accuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('samples m = max(round(C·K), 1) clients per round', () => {
    const sim = world.simulation({ nodes: 20, fraction: 0.25, rounds: 3 });
    const trained = new Map<number, Set<string>>();
    sim.onAction = (node, a) => {
      if (a.kind === 'compute') (trained.get(a.round) ?? trained.set(a.round, new Set()).get(a.round)!).add(node);
    };
    sim.run();
    expect(sim.summary().rejected).toEqual({});
    expect([...trained.values()].map((s) => s.size)).toEqual([5, 5, 5]);
    expect(new Set([...trained.values()].map((s) => [...s].sort().join())).size).toBeGreaterThan(1);
  });

  it('finishes rounds when clients vanish mid-round, after the round timeout', () => {
    const sim = simulate({ nodes: 10, fraction: 1, rounds: 6, churn: '0.5@2', roundTimeout: 5000 });
    expect(sim.rows.map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sim.rows[0].liveNodes).toBe(10);
    expect(sim.rows[2].liveNodes).toBe(5);
    // Rounds after the failure wait for the timeout, since the coordinator still samples dead clients.
    const gap = sim.rows[3].simTimeMs - sim.rows[2].simTimeMs;
    expect(gap).toBeGreaterThanOrEqual(5000);
    expect(sim.summary().stopReason).toBe('rounds');
  });
});

describe('FedAvg end of run', () => {
  it('every node, sampled or not, ends done on the final global model at the last round', () => {
    const sim = world.simulation({ nodes: 4, fraction: 0.5, rounds: 3 });
    let finalGlobal: Float32Array | null = null;
    const done = new Set<string>();
    sim.onAction = (node, a) => {
      if (node === sim.coordinator && a.kind === 'model' && a.scope === 'global' && a.round === 3) finalGlobal = a.params;
      if (a.kind === 'done') done.add(node);
    };
    sim.run();
    // The simulator stops counting at the last round; let the coordinator's goodbyes arrive.
    for (let i = 0; i < 1000 && sim.clock.step(); i++);
    expect(sim.summary().rejected).toEqual({});
    expect(finalGlobal).not.toBeNull();
    expect(done.size).toBe(4);
    for (const n of sim.nodes) {
      expect(n.host!.protocol.round).toBe(3);
      expect(maxAbsDiff(n.host!.protocol.currentParams()!, finalGlobal!)).toBe(0);
    }
  });
});

describe('FedAvg end of run, for a client that missed it', () => {
  it('a finished coordinator answers a late update with `done` once, then refuses', () => {
    const config = parseConfig({ algo: 'fedavg', fraction: 1, rounds: 1 });
    const size = learner.spec.size;
    const coordinator = new FedAvg({ id: 'n0', config, spec: learner.spec, samples: 10, maxSamples: 40, rng: Rng.seed(1), initialParams: new Float32Array(size), peers: ['n1'] });
    const start = coordinator.handle({ kind: 'start' }, 0);
    const own = start.find((a) => a.kind === 'compute') as { id: string };
    coordinator.handle({ kind: 'computed', id: own.id, result: { kind: 'train', params: new Float32Array(size).fill(2), loss: 0.1, steps: 1, samplesSeen: 10 } }, 0);
    // n1 never answers: the round closes at the timeout on the coordinator's own update, and the run ends.
    const ended = coordinator.handle({ kind: 'timer', id: 'round:1:0' }, 0);
    expect(ended.some((a) => a.kind === 'done')).toBe(true);
    const late = { type: 'fedavg/update', round: 1, samples: 10, loss: 0.5, params: new Float32Array(size).fill(1) };
    const reply = coordinator.handle({ kind: 'message', from: 'n1', msg: late }, 0);
    expect(reply).toHaveLength(1);
    expect(reply[0]).toMatchObject({ kind: 'send', to: 'n1', msg: { type: 'fedavg/done', round: 1 } });
    expect(Array.from((reply[0] as { msg: { params: Float32Array } }).msg.params)).toEqual(Array.from(coordinator.currentParams()));
    expect(coordinator.handle({ kind: 'message', from: 'n1', msg: late }, 0)).toMatchObject([{ kind: 'reject', from: 'n1' }]);
  });
});

describe('FedAvg when the room names another coordinator', () => {
  it('a client made coordinator mid-run starts the next round from the last global model it saw; the old one is refused after', () => {
    const config = parseConfig({ algo: 'fedavg', fraction: 1, rounds: 5 });
    const size = learner.spec.size;
    const node = new FedAvg({ id: 'n1', config, spec: learner.spec, samples: 10, maxSamples: 40, rng: Rng.seed(1), initialParams: new Float32Array(size), peers: ['n0', 'n2'] });
    expect(node.handle({ kind: 'roster', peers: ['n0', 'n1', 'n2'], coordinator: 'n0' }, 0)).toEqual([]);
    expect(node.handle({ kind: 'start' }, 0)).toEqual([]);
    const w1 = new Float32Array(size).fill(0.5);
    const train = node.handle({ kind: 'message', from: 'n0', msg: { type: 'fedavg/train', round: 2, params: w1 } }, 0);
    expect(train.map((a) => a.kind)).toEqual(['model', 'state', 'compute']);
    // n0 left; the room names n1.
    const took = node.handle({ kind: 'roster', peers: ['n1', 'n2'], coordinator: 'n1' }, 0);
    expect(took.map((a) => a.kind)).toEqual(['log', 'state', 'setTimer', 'state', 'compute', 'send']);
    expect(took[0]).toEqual({ kind: 'log', text: 'became coordinator at round 1' });
    expect(took[1]).toEqual({ kind: 'state', state: 'waiting', role: 'coordinator' });
    expect(took[2]).toMatchObject({ kind: 'setTimer', id: 'round:2:0' });
    expect(took[5]).toMatchObject({ kind: 'send', to: 'n2', msg: { type: 'fedavg/train', round: 2 } });
    expect(Array.from((took[5] as { msg: { params: Float32Array } }).msg.params)).toEqual(Array.from(w1));
    expect(node.handle({ kind: 'message', from: 'n0', msg: { type: 'fedavg/train', round: 3, params: w1 } }, 0)).toEqual([{ kind: 'reject', from: 'n0', reason: 'train request from a non-coordinator' }]);
  });
});

describe('FedAvg bounds what clients claim', () => {
  it('refuses an update claiming more samples than the room’s largest shard, so it cannot dominate the average', () => {
    const config = parseConfig({ algo: 'fedavg', fraction: 1, rounds: 5 });
    const coordinator = new FedAvg({ id: 'n0', config, spec: learner.spec, samples: 10, maxSamples: 40, rng: Rng.seed(1), initialParams: new Float32Array(learner.spec.size), peers: ['n1', 'n2'] });
    const start = coordinator.handle({ kind: 'start' }, 0);
    expect(start.filter((a) => a.kind === 'send').map((a) => (a as { to: string }).to)).toEqual(['n1', 'n2']);
    const update = (samples: number) => ({ type: 'fedavg/update', round: 1, samples, loss: 0.5, params: new Float32Array(learner.spec.size).fill(1) });
    expect(coordinator.handle({ kind: 'message', from: 'n1', msg: update(1e8) }, 0)).toEqual([
      { kind: 'reject', from: 'n1', claim: 'samples', reason: "update claims 100000000 samples; the room's largest shard has 40" },
    ]);
    // The largest shard itself is honest, and accepted.
    expect(coordinator.handle({ kind: 'message', from: 'n2', msg: update(40) }, 0)).toEqual([]);
  });
});
