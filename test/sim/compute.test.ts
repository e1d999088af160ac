import { testModule } from '../support/module.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import { makeSynthetic } from '../../src/core/data/synthetic.ts';
import type { Dataset } from '../../src/core/data/types.ts';
import { adamw, computeWork, FORWARD_SHARE, SGD, type ComputeRequest, type ComputeResult } from '../../src/core/learn/compute.ts';
import { Learner } from '../../src/core/learn/learner.ts';
import { Rng } from '../../src/core/rng.ts';
import type { Protocol, ProtocolAction, ProtocolContext, ProtocolEvent, ProtocolModule } from '../../src/protocols/protocol.ts';
import { useNodeBackend } from '../../src/sim/nodeBackend.ts';
import { Simulation } from '../../src/sim/simulation.ts';
import { maxAbsDiff } from '../../src/core/vector.ts';

let dataset: Dataset;
let learner: Learner;

beforeAll(async () => {
  await useNodeBackend('auto', 'mlp');
  dataset = makeSynthetic('blobs', { samples: 600, classes: 3, noise: 0.2 }, Rng.seed(2));
  learner = new Learner('mlp', dataset.features, dataset.numClasses);
});

/** Asks for a fixed list of requests, one after another (each from the previous training's params), and records the answers. */
class Script implements Protocol {
  static all = new Map<string, Script>();
  readonly answers: { id: string; at: number; result: ComputeResult }[] = [];
  readonly round = 0;
  private params: Float32Array;
  private next = 0;
  constructor(
    readonly ctx: ProtocolContext,
    private readonly plan: (ctx: ProtocolContext, params: Float32Array) => ComputeRequest[],
  ) {
    this.params = ctx.initialParams;
    Script.all.set(ctx.id, this);
  }
  handle(event: ProtocolEvent, now: number): ProtocolAction[] {
    if (event.kind === 'computed') {
      this.answers.push({ id: event.id, at: now, result: event.result });
      if (event.result.kind === 'train') this.params = event.result.params;
    }
    if (event.kind !== 'start' && event.kind !== 'computed') return [];
    const requests = this.plan(this.ctx, this.params);
    if (this.next >= requests.length) return [];
    const request = requests[this.next];
    return [{ kind: 'compute', id: `r${this.next++}`, round: 1, request }];
  }
  currentParams(): Float32Array {
    return this.params;
  }
}

function simulate(plan: (ctx: ProtocolContext, params: Float32Array) => ComputeRequest[], input: ConfigInput = {}, strict = true): Simulation {
  Script.all.clear();
  const module: ProtocolModule = testModule({ name: 'gossip', schemas: {}, evaluates: 'nodes', create: (ctx) => new Script(ctx, plan) });
  const config = parseConfig({ algo: 'gossip', dataset: 'blobs', samples: 600, seed: 2, nodes: 3, compute: 0.5, init: 'shared', ...input });
  const sim = new Simulation(config, dataset, learner, dataset.test, { strict, module });
  sim.start();
  while (sim.clock.step()) {
    /* drain */
  }
  return sim;
}

describe('simulated compute', () => {
  it('charges virtual time by the work each request does: training and gradient samples at `compute` ms, forward-only at a third', () => {
    const sim = simulate((_ctx, params) => [
      { kind: 'train', params, epochs: 1, steps: 4, batch: 10, lr: 0.1, optimizer: SGD },
      { kind: 'loss', params, batch: 30, batchSeed: 1, perturb: { seed: 5, eps: 1e-3, both: true } },
      { kind: 'loss', params, batch: 0, batchSeed: 1 },
      { kind: 'gradient', params, batch: 0 },
      { kind: 'train', params, epochs: 2, steps: 0, batch: 0, lr: 0.1, optimizer: SGD },
    ]);
    const n = sim.nodes[0].shard.n;
    const s = Script.all.get('n0')!;
    const gaps = s.answers.map((a, i) => a.at - (i === 0 ? 0 : s.answers[i - 1].at));
    expect(gaps).toEqual([40 * 0.5, 60 * FORWARD_SHARE * 0.5, n * FORWARD_SHARE * 0.5, n * 0.5, 2 * n * 0.5].map((g) => expect.closeTo(g, 9)));
    expect(s.answers.map((a) => a.result.kind)).toEqual(['train', 'loss', 'loss', 'gradient', 'train']);
    expect(computeWork({ kind: 'gradient', params: new Float32Array(0), batch: 0 }, n)).toBe(n);
  });

  it('keeps optimizer state per virtual node and key, as flat vectors, across requests', () => {
    const opt = adamw({ weightDecay: 0.01 });
    const twice = (_ctx: ProtocolContext, params: Float32Array): ComputeRequest[] => [
      { kind: 'train', params, epochs: 1, steps: 3, batch: 0, lr: 0.01, optimizer: opt, stateKey: 'inner' },
      { kind: 'train', params, epochs: 1, steps: 3, batch: 0, lr: 0.01, optimizer: opt, stateKey: 'inner' },
    ];
    const sim = simulate(twice);
    for (const node of sim.nodes) {
      const got = Script.all.get(node.id)!.answers.at(-1)!.result;
      // One six-step run on the node's own shard from the shared init: the state carried over, and came from this node only.
      // (Full-batch steps sum the rows in a shuffled order, so equal up to float rounding, not bit for bit.)
      const once = learner.computeSync({ kind: 'train', params: sim.sharedInit, epochs: 1, steps: 6, batch: 0, lr: 0.01, optimizer: opt }, node.shard, { rng: Rng.seed(0) });
      if (got.kind !== 'train' || once.kind !== 'train') throw new Error('not a training result');
      expect(maxAbsDiff(got.params, once.params)).toBeLessThan(1e-6);
      // Fresh state for the second half would be far off (bias correction restarts).
      const fresh = learner.computeSync({ kind: 'train', params: (Script.all.get(node.id)!.answers[0].result as { params: Float32Array }).params, epochs: 1, steps: 3, batch: 0, lr: 0.01, optimizer: opt }, node.shard, { rng: Rng.seed(0) });
      expect(maxAbsDiff(got.params, (fresh as { params: Float32Array }).params)).toBeGreaterThan(1e-4);
    }
  });

  it('a failed request stops that node with a counted error; the others go on; strict mode throws instead', () => {
    const plan = (ctx: ProtocolContext, params: Float32Array): ComputeRequest[] => [
      { kind: 'train', params: ctx.id === 'n1' ? params.subarray(0, 3) : params, epochs: 1, steps: 1, batch: 10, lr: 0.1, optimizer: SGD },
      { kind: 'loss', params, batch: 0, batchSeed: 0 },
    ];
    const sim = simulate(plan, {}, false);
    expect(sim.summary().errors).toEqual({ n1: expect.stringMatching(/^train failed: bad train request: params have 3 values/) });
    expect(sim.nodes[1].host!.running).toBe(false);
    expect(sim.liveNodes().map((n) => n.id)).toEqual(['n0', 'n2']);
    expect(Script.all.get('n0')!.answers).toHaveLength(2);
    expect(Script.all.get('n1')!.answers).toHaveLength(0);
    expect(() => simulate(plan, {}, true)).toThrow(/n1: train failed/);
  });
});
