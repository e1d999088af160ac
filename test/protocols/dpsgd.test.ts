import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import { initMode } from '../../src/protocols/index.ts';
import type { ModelSpec } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { maxAbsDiff, mean } from '../../src/core/vector.ts';
import { DPSGD } from '../../src/protocols/dpsgd/dpsgd.ts';
import { averagingStep, dpsgdUpdate, effectiveWeights } from '../../src/protocols/dpsgd/mixing.ts';
import { protocolFor } from '../../src/protocols/index.ts';
import type { NodeId, ProtocolEvent } from '../../src/protocols/protocol.ts';
import { buildTopology } from '../../src/protocols/topology.ts';
import type { Simulation, SimRow } from '../../src/sim/simulation.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);
const DIM = 16;

function randomModels(n: number, seed: number): Map<NodeId, Float32Array> {
  const rng = Rng.seed(seed).split('models');
  return new Map(ids(n).map((id) => [id, Float32Array.from({ length: DIM }, () => rng.normal() * 3 + 1)]));
}

/** Max over nodes of ‖x_i − x̄‖∞. */
function disagreement(models: Map<NodeId, Float32Array>): number {
  const avg = mean([...models.values()]);
  return Math.max(...[...models.values()].map((x) => maxAbsDiff(x, avg)));
}

describe('D-PSGD averaging (oracle 6)', () => {
  for (const spec of ['ring', 'kregular:4', 'exp', 'full']) {
    it(`${spec}: one η = 0 step keeps the network mean; repeated steps converge to it`, () => {
      const topology = buildTopology(spec, ids(16), 3);
      let models = randomModels(16, 1);
      const start = mean([...models.values()]);
      const d0 = disagreement(models);
      models = averagingStep(models, topology, 0);
      expect(maxAbsDiff(mean([...models.values()]), start)).toBeLessThan(1e-5);
      expect(disagreement(models)).toBeLessThan(d0);
      for (let r = 1; r < 300; r++) models = averagingStep(models, topology, r);
      expect(maxAbsDiff(mean([...models.values()]), start)).toBeLessThan(1e-4);
      expect(disagreement(models)).toBeLessThan(1e-4 * d0);
      for (const x of models.values()) expect(maxAbsDiff(x, start)).toBeLessThan(1e-4 * d0);
    });
  }

  it('x_i ← Σ_j W_ij x_j + (trained_i − x_i); a missing neighbour’s weight stays with the node', () => {
    const row = new Map([
      ['a', 0.5],
      ['b', 0.25],
      ['c', 0.25],
    ]);
    const own = Float32Array.from([4]);
    const trained = Float32Array.from([3]); // local step moved it by −1
    const received = new Map([
      ['b', Float32Array.from([8])],
      ['c', Float32Array.from([0])],
    ]);
    expect(Array.from(dpsgdUpdate('a', own, trained, received, row))).toEqual([0.5 * 4 + 0.25 * 8 + 0.25 * 0 - 1]);
    received.delete('c');
    expect(effectiveWeights('a', row, received)).toEqual(
      new Map([
        ['b', 0.25],
        ['a', 0.75],
      ]),
    );
    expect(Array.from(dpsgdUpdate('a', own, own, received, row))).toEqual([0.75 * 4 + 0.25 * 8]);
  });
});

/**
 * Runs N D-PSGD protocol instances against each other by hand, with "training" that returns
 * its input (η = 0), instant messages and no timers. Returns each node's model after each round.
 */
function runByHand(n: number, topology: string, rounds: number): Map<number, Map<NodeId, Float32Array>> {
  const spec: ModelSpec = { name: 'mlp', features: 2, numClasses: 2, size: DIM, tensors: [{ name: 'k', shape: [4, 4], offset: 0, size: DIM, kind: 'kernel' }] };
  const config = parseConfig({ algo: 'dpsgd', topology, rounds, seed: 3 });
  const init = randomModels(n, 2);
  const nodes = new Map(
    ids(n).map((id) => [id, new DPSGD({ id, config, spec, samples: 10, maxSamples: 10, rng: Rng.seed(1).split(id), initialParams: init.get(id)!, peers: ids(n).filter((p) => p !== id) })]),
  );
  const history = new Map<number, Map<NodeId, Float32Array>>([[0, init]]);
  const queue: [NodeId, ProtocolEvent][] = ids(n).map((id) => [id, { kind: 'start' }]);
  while (queue.length) {
    const [id, event] = queue.shift()!;
    for (const a of nodes.get(id)!.handle(event, 0)) {
      if (a.kind === 'send') queue.push([a.to, { kind: 'message', from: id, msg: a.msg }]);
      else if (a.kind === 'compute') queue.push([id, { kind: 'computed', id: a.id, result: { kind: 'train', params: a.request.params, loss: 0, steps: 1, samplesSeen: 10 } }]);
      else if (a.kind === 'model' && a.round > 0) (history.get(a.round) ?? history.set(a.round, new Map()).get(a.round)!).set(id, a.params);
      else if (a.kind === 'reject') throw new Error(`${id} rejected: ${a.reason}`);
    }
  }
  return history;
}

describe('D-PSGD protocol (driven by hand, η = 0)', () => {
  for (const topology of ['kregular:4', 'exp']) {
    it(`${topology}: every round is exactly one step x ← W x; the mean is kept and the nodes agree`, () => {
      const history = runByHand(12, topology, 30);
      const graph = buildTopology(topology, ids(12), 3);
      const start = mean([...history.get(0)!.values()]);
      for (let r = 1; r <= 30; r++) {
        const now = history.get(r)!;
        expect(now.size).toBe(12);
        const expected = averagingStep(history.get(r - 1)!, graph, r);
        for (const [id, x] of now) expect(maxAbsDiff(x, expected.get(id)!)).toBeLessThan(1e-5);
        expect(maxAbsDiff(mean([...now.values()]), start)).toBeLessThan(1e-4);
      }
      expect(disagreement(history.get(30)!)).toBeLessThan(0.05 * disagreement(history.get(0)!));
    });
  }
});


const strip = (rows: SimRow[]) => rows.map(({ wallMs: _w, ...r }) => r);

describe('D-PSGD in the simulator (real tfjs training on blobs)', () => {
  let world: BlobsWorld;
  beforeAll(async () => {
    world = await blobsWorld(1200, { algo: 'dpsgd' });
  });

  function simulate(input: ConfigInput): Simulation {
    const sim = world.simulation(input);
    sim.run();
    return sim;
  }

  it('is registered', () => {
    expect(protocolFor('dpsgd').evaluates).toBe('nodes');
  });

  it('learns on blobs (k-regular graph), deterministically', () => {
    const a = simulate({ nodes: 8, rounds: 10, evalEvery: 5, topology: 'kregular:4' });
    expect(a.summary().stopReason).toBe('rounds');
    expect(a.summary().rejected).toEqual({});
    expect(a.rows.map((r) => r.round)).toEqual([5, 10]);
    expect(a.rows.at(-1)!.accuracy).toBeGreaterThanOrEqual(0.95);
    const b = simulate({ nodes: 8, rounds: 10, evalEvery: 5, topology: 'kregular:4' });
    expect(strip(b.rows)).toEqual(strip(a.rows));
    expect(b.nodes.map((n) => Array.from(n.host!.protocol.currentParams()!))).toEqual(a.nodes.map((n) => Array.from(n.host!.protocol.currentParams()!)));
  });

  it('starts every node from one shared init by default, as Lian et al. do; init=independent gives each its own', () => {
    expect(initMode(parseConfig({ algo: 'dpsgd' }))).toBe('shared');
    expect(initMode(parseConfig({ algo: 'dpsgd', init: 'independent' }))).toBe('independent');
    expect(initMode(parseConfig({ algo: 'gossip' }))).toBe('independent');
    const starts = (input: ConfigInput) => {
      const sim = world.simulation({ nodes: 4, rounds: 1, ...input });
      sim.start();
      return { sim, params: sim.nodes.map((n) => n.host!.protocol.currentParams()!) };
    };
    const shared = starts({});
    for (const p of shared.params) expect(Array.from(p)).toEqual(Array.from(shared.sim.sharedInit));
    const own = starts({ init: 'independent' });
    for (const p of own.params.slice(1)) expect(maxAbsDiff(p, own.params[0])).toBeGreaterThan(1e-3);
  });

  it('averages the trained models: on the full graph every node ends a round with their mean', () => {
    const sim = simulate({ nodes: 5, rounds: 2, topology: 'full', init: 'shared', steps: 10 });
    expect(sim.summary().rejected).toEqual({});
    const models = sim.nodes.map((n) => n.host!.protocol.currentParams()!);
    for (const m of models.slice(1)) expect(maxAbsDiff(m, models[0])).toBeLessThan(1e-6);
    expect(maxAbsDiff(models[0], sim.sharedInit)).toBeGreaterThan(1e-3);
  });

  it('survives failed nodes: rounds go on after one timeout', () => {
    const sim = simulate({ nodes: 10, rounds: 10, evalEvery: 1, churn: '0.3@3', roundTimeout: 3000, topology: 'ring' });
    expect(sim.summary().stopReason).toBe('rounds');
    // Honest, yet refused: after the failure some live nodes wait out a timeout, their neighbours
    // close those rounds without them, and their models for those rounds then arrive stale.
    expect(sim.summary().rejected).toEqual({ protocol: 6 });
    expect(sim.rows.map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(sim.rows.at(-1)!.liveNodes).toBe(7);
    // Round 4 waits for the failed neighbours once; later rounds do not wait for them again.
    const gap4 = sim.rows[3].simTimeMs - sim.rows[2].simTimeMs;
    expect(gap4).toBeGreaterThanOrEqual(3000);
    expect(sim.rows[9].simTimeMs - sim.rows[4].simTimeMs).toBeLessThan(3000);
    expect(sim.rows.at(-1)!.accuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('lets late joiners catch up', () => {
    const sim = simulate({ nodes: 6, rounds: 8, evalEvery: 4, churn: 'join:2@3', roundTimeout: 3000, topology: 'ring' });
    expect(sim.summary().stopReason).toBe('rounds');
    // Honest, yet refused: a joiner starts at round 1, and its round-1 models reach neighbours
    // already in round 4 or 5 as stale, before it learns the room's round and jumps.
    expect(sim.summary().rejected).toEqual({ protocol: 2 });
    expect(sim.rows.at(-1)!.liveNodes).toBe(8);
    expect(sim.rows.at(-1)!.round).toBe(8);
    // They jumped ahead instead of waiting a timeout per round: 5 rounds after joining take far less than one timeout.
    expect(sim.rows.at(-1)!.simTimeMs).toBeLessThan(3000);
  });
});

describe('D-PSGD bounds what peers claim', () => {
  const spec: ModelSpec = { name: 'mlp', features: 2, numClasses: 2, size: 1, tensors: [] };
  const make = () => {
    const config = parseConfig({ algo: 'dpsgd', topology: 'ring', rounds: 1000, seed: 3 });
    return new DPSGD({ id: 'n0', config, spec, samples: 10, maxSamples: 10, rng: Rng.seed(1), initialParams: new Float32Array(1), peers: ids(8).slice(1) });
  };
  const modelFrom = (from: NodeId, round: number): ProtocolEvent => ({ kind: 'message', from, msg: { type: 'dpsgd/model', round, params: new Float32Array(1) } });

  it('refuses a non-neighbour’s far-ahead model and does not jump to its round', () => {
    const node = make();
    const neighbours = node.graph().neighbours('n0', 50);
    const stranger = ids(8).slice(1).find((p) => !neighbours.includes(p))!;
    node.handle({ kind: 'start' }, 0);
    const out = node.handle(modelFrom(stranger, 50), 0);
    expect(out).toEqual([{ kind: 'reject', from: stranger, claim: 'sender', reason: 'round 50 model from a non-neighbour' }]);
    expect(node.heldModels()).toBe(0);
    // A neighbour two rounds ahead does move it (it fell behind), as before.
    const jump = node.handle(modelFrom(neighbours[0], 3), 0);
    expect(jump.filter((a) => a.kind === 'compute').map((a) => (a as { round: number }).round)).toEqual([3]);
  });

  it('before its start, one neighbour cannot make it buffer a thousand rounds', () => {
    const node = make();
    const [neighbour] = node.graph().neighbours('n0', 1);
    for (let r = 1; r <= 1000; r++) node.handle(modelFrom(neighbour, r), 0);
    // Rounds 1 and 2, and the sender's latest far-ahead model: three, not a thousand.
    expect(node.heldModels()).toBe(3);
  });
});
