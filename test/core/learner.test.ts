import { beforeAll, describe, expect, it } from 'vitest';
import { makeSynthetic } from '../../src/core/data/synthetic.ts';
import { takeRows, type Split } from '../../src/core/data/types.ts';
import { adam, adamw, chooseBatch, computeWork, FORWARD_SHARE, plannedSamples, sarah, SGD, type AdamState, type ComputeRequest, type ComputeResult, type Optimizer } from '../../src/core/learn/compute.ts';
import { batchPlan, Learner } from '../../src/core/learn/learner.ts';
import { initialParams } from '../../src/core/learn/models.ts';
import { addNoise } from '../../src/core/learn/perturb.ts';
import { Rng } from '../../src/core/rng.ts';
import { maxAbsDiff } from '../../src/core/vector.ts';
import { useNodeBackend } from '../../src/sim/nodeBackend.ts';

let learner: Learner;
let shard: Split;
let big: Split;
let theta: Float32Array;

beforeAll(async () => {
  await useNodeBackend('auto', 'mlp');
  const data = makeSynthetic('blobs', { samples: 2000, classes: 3, noise: 0.3 }, Rng.seed(4));
  learner = new Learner('mlp', data.features, data.numClasses);
  shard = takeRows(data.train, data.features, Int32Array.from({ length: 120 }, (_, i) => i));
  big = takeRows(data.train, data.features, Int32Array.from({ length: 1500 }, (_, i) => i));
  theta = initialParams(learner.spec, Rng.seed(1).split('init'));
});

const train = (params: Float32Array, optimizer: Optimizer, steps: number, o: Partial<ComputeRequest> = {}): ComputeRequest => ({ kind: 'train', params, epochs: 1, steps, batch: 0, lr: 0.05, optimizer, ...o }) as ComputeRequest;
const paramsOf = (r: ComputeResult) => (r.kind === 'train' ? r.params : (null as never));
const gradOf = (r: ComputeResult) => (r.kind === 'gradient' ? r : (null as never));

describe('Learner compute requests', () => {
  it('one implementation, two readers: sync and async give the same bits for every kind', async () => {
    const requests: ComputeRequest[] = [
      train(theta, SGD, 0, { epochs: 2, batch: 16 }),
      train(theta, adamw(), 5, { batch: 16 }),
      train(theta, sarah(theta.map((w) => 0.1 * w)), 4, { batch: 16 }),
      { kind: 'loss', params: theta, batch: 32, batchSeed: 3, perturb: { seed: 1, eps: 1e-3, both: true } },
      { kind: 'gradient', params: theta, batch: 0 },
    ];
    for (const req of requests) {
      const sync = learner.computeSync(req, shard, { rng: Rng.seed(9), states: new Map() });
      const async = await learner.compute(req, shard, { rng: Rng.seed(9), states: new Map() });
      expect(async).toEqual(sync);
    }
  });

  it('the planned samples are the samples the batch plan takes', () => {
    for (const n of [1, 7, 120])
      for (const batch of [0, 1, 5, 10, 200])
        for (const [epochs, steps] of [
          [1, 0],
          [3, 0],
          [1, 4],
          [2, 13],
        ]) {
          const plan = batchPlan(n, batch > 0 ? Math.min(batch, n) : n, { epochs, steps }, Rng.seed(n));
          expect(plan.reduce((s, b) => s + b.length, 0)).toBe(plannedSamples({ epochs, steps, batch }, n));
        }
    const r = learner.computeSync(train(theta, SGD, 7, { batch: 10 }), shard, { rng: Rng.seed(1) });
    expect(r.kind === 'train' && r.samplesSeen).toBe(70);
  });

  it('gradient: one full-batch SGD step is θ − lr·∇L(θ), also across chunks of the shard', () => {
    for (const data of [shard, big]) {
      const g = gradOf(learner.computeSync({ kind: 'gradient', params: theta, batch: 0 }, data));
      expect(g.samples).toBe(data.n);
      const stepped = paramsOf(learner.computeSync(train(theta, SGD, 1, { lr: 0.5 }), data, { rng: Rng.seed(0) }));
      const expected = Float32Array.from(theta, (w, i) => w - 0.5 * g.gradient[i]);
      expect(maxAbsDiff(stepped, expected)).toBeLessThan(2e-6);
      expect(maxAbsDiff(stepped, theta)).toBeGreaterThan(1e-3);
      // The loss is the mean at θ, as evaluation computes it.
      expect(g.loss).toBeCloseTo(learner.evaluateSync(theta, data).loss, 5);
    }
  });

  it('gradient on a minibatch: the seed picks the rows, the same seed the same rows', () => {
    const a = gradOf(learner.computeSync({ kind: 'gradient', params: theta, batch: 20, batchSeed: 'k' }, shard));
    const b = gradOf(learner.computeSync({ kind: 'gradient', params: theta, batch: 20, batchSeed: 'k' }, shard));
    const c = gradOf(learner.computeSync({ kind: 'gradient', params: theta, batch: 20, batchSeed: 'other' }, shard));
    expect(a.samples).toBe(20);
    expect(b.gradient).toEqual(a.gradient);
    expect(maxAbsDiff(c.gradient, a.gradient)).toBeGreaterThan(1e-4);
    const rows = chooseBatch(shard.n, 20, 'k');
    const sub = takeRows(shard, learner.spec.features, rows);
    const full = gradOf(learner.computeSync({ kind: 'gradient', params: theta, batch: 0 }, sub));
    expect(maxAbsDiff(full.gradient, a.gradient)).toBeLessThan(1e-6);
  });

  for (const optimizer of [adam(), adam({ weightDecay: 0.1 }), adamw({ weightDecay: 0.1, beta1: 0.8 })]) {
    it(`${optimizer.name} wd=${optimizer.weightDecay}: matches a reference implementation on flat vectors`, () => {
      const lr = 0.01;
      const steps = 4;
      const got = paramsOf(learner.computeSync(train(theta, optimizer, steps, { lr }), shard, { rng: Rng.seed(0) }));
      // Reference: full-batch gradients from the learner, Adam/AdamW in float64 on flat vectors.
      let x = Float64Array.from(theta);
      const m = new Float64Array(x.length);
      const v = new Float64Array(x.length);
      for (let t = 1; t <= steps; t++) {
        const g = gradOf(learner.computeSync({ kind: 'gradient', params: Float32Array.from(x), batch: 0 }, shard)).gradient;
        const next = new Float64Array(x.length);
        for (let i = 0; i < x.length; i++) {
          const gi = g[i] + (optimizer.name === 'adam' ? optimizer.weightDecay * x[i] : 0);
          m[i] = optimizer.beta1 * m[i] + (1 - optimizer.beta1) * gi;
          v[i] = optimizer.beta2 * v[i] + (1 - optimizer.beta2) * gi * gi;
          const denom = Math.sqrt(v[i]) / Math.sqrt(1 - optimizer.beta2 ** t) + optimizer.eps;
          const xi = optimizer.name === 'adamw' ? x[i] * (1 - lr * optimizer.weightDecay) : x[i];
          next[i] = xi - (lr / (1 - optimizer.beta1 ** t)) * (m[i] / denom);
        }
        x = next;
      }
      expect(maxAbsDiff(got, Float32Array.from(x))).toBeLessThan(2e-5);
      expect(maxAbsDiff(got, theta)).toBeGreaterThan(lr); // Adam moves every weight by about lr per step
    });
  }

  it('AdamW state persists per key: two requests of 3 steps equal one of 6; without a key each starts fresh', () => {
    const opt = adamw({ weightDecay: 0.05 });
    const once = paramsOf(learner.computeSync(train(theta, opt, 6), shard, { rng: Rng.seed(0) }));
    const states = new Map<string, AdamState>();
    const first = paramsOf(learner.computeSync(train(theta, opt, 3, { stateKey: 'inner' }), shard, { rng: Rng.seed(0), states }));
    expect(states.get('inner')!.step).toBe(3);
    const second = paramsOf(learner.computeSync(train(first, opt, 3, { stateKey: 'inner' }), shard, { rng: Rng.seed(0), states }));
    expect(states.get('inner')!.step).toBe(6);
    expect(maxAbsDiff(second, once)).toBeLessThan(1e-6);
    // Fresh state: the second half restarts bias correction, a different trajectory.
    const fresh = paramsOf(learner.computeSync(train(first, opt, 3), shard, { rng: Rng.seed(0), states }));
    expect(maxAbsDiff(fresh, once)).toBeGreaterThan(1e-4);
    // Another key is another state; SGD leaves states alone.
    learner.computeSync(train(theta, opt, 1, { stateKey: 'other' }), shard, { rng: Rng.seed(0), states });
    learner.computeSync(train(theta, SGD, 1, { stateKey: 'inner' }), shard, { rng: Rng.seed(0), states });
    expect(states.get('inner')!.step).toBe(6);
    expect(states.get('other')!.step).toBe(1);
  });

  it('loss: forward only, on the seed’s minibatch, at θ or θ ± εz(seed)', () => {
    const at = (params: Float32Array, batch = 0, batchSeed: string | number = 0) => {
      const r = learner.computeSync({ kind: 'loss', params, batch, batchSeed }, shard);
      return r.kind === 'loss' ? r.loss : NaN;
    };
    expect(at(theta)).toBeCloseTo(learner.evaluateSync(theta, shard).loss, 5);
    expect(at(theta, 30, 'b')).toBe(at(theta, 30, 'b'));
    expect(at(theta, 30, 'b')).not.toBe(at(theta, 30, 'c'));
    const eps = 0.05;
    const r = learner.computeSync({ kind: 'loss', params: theta, batch: 30, batchSeed: 'b', perturb: { seed: 77, eps, both: true } }, shard);
    if (r.kind !== 'loss') throw new Error(r.kind);
    expect(r.samples).toBe(30);
    expect(r.loss).toBe(at(addNoise(theta, 77, eps), 30, 'b'));
    expect(r.lossMinus).toBe(at(addNoise(theta, 77, -eps), 30, 'b'));
    expect(r.loss).not.toBe(r.lossMinus);
    const plus = learner.computeSync({ kind: 'loss', params: theta, batch: 30, batchSeed: 'b', perturb: { seed: 77, eps } }, shard);
    expect(plus).toEqual({ kind: 'loss', loss: r.loss, samples: 30 });
  });

  it('refuses malformed requests with an error', () => {
    expect(() => learner.computeSync(train(new Float32Array(3), SGD, 1), shard, { rng: Rng.seed(0) })).toThrow(/params have 3 values/);
    expect(() => learner.computeSync(train(theta, SGD, 1, { lr: -1 }), shard, { rng: Rng.seed(0) })).toThrow(/lr/);
    expect(() => learner.computeSync(train(theta, adamw({ beta1: 1 }), 1), shard, { rng: Rng.seed(0) })).toThrow(/betas/);
    expect(() => learner.computeSync(train(theta, SGD, 1), shard)).toThrow(/rng/);
    expect(() => learner.computeSync(train(theta, { name: 'lion' } as unknown as Optimizer, 1), shard, { rng: Rng.seed(0) })).toThrow(/unknown optimizer lion/);
    expect(() => learner.computeSync({ kind: 'gradient', params: theta, batch: 5 }, shard)).toThrow(/batchSeed/);
    const states = new Map<string, AdamState>([['k', { step: 1, m: new Float32Array(2), v: new Float32Array(2) }]]);
    expect(() => learner.computeSync(train(theta, adamw(), 1, { stateKey: 'k' }), shard, { rng: Rng.seed(0), states })).toThrow(/optimizer state/);
  });

  it('charges work in training samples: forward-only at a third per pass', () => {
    expect(computeWork(train(theta, SGD, 3, { batch: 10 }), 120)).toBe(30);
    expect(computeWork(train(theta, SGD, 0, { epochs: 2, batch: 10 }), 120)).toBe(240);
    expect(computeWork({ kind: 'gradient', params: theta, batch: 0 }, 120)).toBe(120);
    expect(computeWork({ kind: 'gradient', params: theta, batch: 500, batchSeed: 1 }, 120)).toBe(120);
    expect(computeWork({ kind: 'loss', params: theta, batch: 30, batchSeed: 1 }, 120)).toBe(30 * FORWARD_SHARE);
    expect(computeWork({ kind: 'loss', params: theta, batch: 30, batchSeed: 1, perturb: { seed: 1, eps: 1, both: true } }, 120)).toBe(60 * FORWARD_SHARE);
  });
});

describe('SARAH training steps', () => {
  const sarahTrain = (params: Float32Array, anchor: Float32Array, steps: number, o: Partial<ComputeRequest> = {}) => train(params, sarah(anchor), steps, o);
  const fullGradient = (params: Float32Array, data: Split) => gradOf(learner.computeSync({ kind: 'gradient', params, batch: 0 }, data)).gradient;
  const anchorOf = (seed: number) => {
    const rng = Rng.seed(seed);
    return Float32Array.from(theta, () => 0.05 * rng.normal());
  };

  it('one step is x₀ − lr·anchor, touching no data', () => {
    const anchor = anchorOf(3);
    const r = learner.computeSync(sarahTrain(theta, anchor, 1, { lr: 0.3, batch: 8 }), shard, { rng: Rng.seed(0) });
    const expected = Float32Array.from(theta, (w, i) => w - 0.3 * anchor[i]);
    expect(maxAbsDiff(paramsOf(r), expected)).toBeLessThan(1e-7);
    expect(r.kind === 'train' && Number.isNaN(r.loss)).toBe(true);
  });

  it('a hand-computed case: three steps on minibatches equal the recursion written out with gradient requests', () => {
    const lr = 0.2;
    const anchor = anchorOf(4);
    const got = paramsOf(learner.computeSync(sarahTrain(theta, anchor, 3, { lr, batch: 16 }), shard, { rng: Rng.seed(11) }));
    // The same minibatches the learner draws: the batch plan of a 3-step training request.
    const plan = batchPlan(shard.n, 16, { epochs: 1, steps: 3 }, Rng.seed(11));
    const gradOn = (x: Float64Array, rows: Int32Array) => fullGradient(Float32Array.from(x), takeRows(shard, learner.spec.features, rows));
    const x0 = Float64Array.from(theta);
    const step = (x: Float64Array, g: ArrayLike<number>) => x.map((w, i) => w - lr * g[i]);
    // x₁ = x₀ − lr·g₀, g₀ = anchor (plan[0] is drawn, not used).
    const x1 = step(x0, anchor);
    // g₁ = g₀ + ∇f(x₁; B₁) − ∇f(x₀; B₁), x₂ = x₁ − lr·g₁.
    const a1 = gradOn(x1, plan[1]);
    const b1 = gradOn(x0, plan[1]);
    const g1 = Float64Array.from(anchor, (g, i) => g + a1[i] - b1[i]);
    const x2 = step(x1, g1);
    // g₂ = g₁ + ∇f(x₂; B₂) − ∇f(x₁; B₂), x₃ = x₂ − lr·g₂.
    const a2 = gradOn(x2, plan[2]);
    const b2 = gradOn(x1, plan[2]);
    const g2 = g1.map((g, i) => g + a2[i] - b2[i]);
    const x3 = step(x2, g2);
    expect(maxAbsDiff(got, Float32Array.from(x3))).toBeLessThan(2e-6);
    // The correction mattered: plain steps along the anchor end elsewhere.
    expect(maxAbsDiff(got, Float32Array.from(step(step(x1, anchor), anchor)))).toBeGreaterThan(1e-4);
  });

  it('on the full batch, anchored at the true gradient, SARAH is plain gradient descent', () => {
    const steps = 4;
    const got = paramsOf(learner.computeSync(sarahTrain(theta, fullGradient(theta, shard), steps, { lr: 0.5 }), shard, { rng: Rng.seed(0) }));
    const gd = paramsOf(learner.computeSync(train(theta, SGD, steps, { lr: 0.5 }), shard, { rng: Rng.seed(0) }));
    expect(maxAbsDiff(got, gd)).toBeLessThan(2e-6);
    expect(maxAbsDiff(got, theta)).toBeGreaterThan(1e-2);
  });

  it('charges two gradients per batch after the first, and refuses a bad anchor', () => {
    expect(computeWork(sarahTrain(theta, theta, 5, { batch: 10 }), 120)).toBe(2 * 4 * 10);
    expect(computeWork(sarahTrain(theta, theta, 1, { batch: 10 }), 120)).toBe(0);
    expect(computeWork(sarahTrain(theta, theta, 0, { epochs: 1, batch: 50 }), 120)).toBe(2 * (120 - 50));
    expect(() => learner.computeSync(sarahTrain(theta, new Float32Array(3), 2), shard, { rng: Rng.seed(0) })).toThrow(/anchor has 3 values/);
    const bad = theta.slice();
    bad[7] = NaN;
    expect(() => learner.computeSync(sarahTrain(theta, bad, 2), shard, { rng: Rng.seed(0) })).toThrow(/non-finite/);
  });
});
