import { describe, expect, it } from 'vitest';
import { describeModel, initialParams, type TensorSpec } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { moments } from '../../src/core/vector.ts';
import { ageMerge, merge, muMerge, tensorVariances, vcaMerge, varianceCorrect, type MergeOptions } from '../../src/protocols/gossip/merge.ts';

/** A layout with a kernel, a bias and a scalar. */
const tensors: TensorSpec[] = [
  { name: 'k', shape: [10, 20], offset: 0, size: 200, kind: 'kernel' },
  { name: 'b', shape: [20], offset: 200, size: 20, kind: 'bias' },
  { name: 's', shape: [1], offset: 220, size: 1, kind: 'bias' },
];
const SIZE = 221;

function randomModel(rng: Rng, scale: number, shift: number): Float32Array {
  const out = new Float32Array(SIZE);
  for (let i = 0; i < SIZE; i++) out[i] = shift + scale * rng.normal();
  return out;
}

const slice = (v: Float32Array, t: TensorSpec) => v.subarray(t.offset, t.offset + t.size);
const opts = (o: Partial<MergeOptions>): MergeOptions => ({ rule: 'vca', variant: 'conservative', c: 0.5, eps: 0, ...o });

describe('variance-corrected averaging (oracle 4)', () => {
  const rng = Rng.seed(1).split('vca');
  const own = randomModel(rng, 0.3, 0.1);
  const a = randomModel(rng, 1.0, -0.2);
  const b = randomModel(rng, 0.5, 0.4);
  const c = randomModel(rng, 2.0, 0);

  it('ε = 0: each tensor takes the target variance and keeps its mean', () => {
    const cases: { variant: MergeOptions['variant']; received: Float32Array[]; target: (i: number) => number }[] = [
      // conservative, c = ½, one received model: the mean of the two inputs' variances.
      { variant: 'conservative', received: [a], target: (i) => (tensorVariances(own, tensors)[i] + tensorVariances(a, tensors)[i]) / 2 },
      { variant: 'others', received: [a, b, c], target: (i) => [a, b, c].reduce((s, m) => s + tensorVariances(m, tensors)[i], 0) / 3 },
      { variant: 'self', received: [a, b], target: (i) => tensorVariances(own, tensors)[i] },
    ];
    for (const { variant, received, target } of cases) {
      const out = vcaMerge(own, received, tensors, { variant, c: 0.5, eps: 0 });
      const avg = new Float32Array(SIZE).map((_, k) => [own, ...received].reduce((s, m) => s + m[k], 0) / (received.length + 1));
      tensors.forEach((t, i) => {
        const m = moments(slice(out, t));
        const before = moments(slice(avg, t));
        if (t.size === 1) {
          expect(out[t.offset]).toBeCloseTo(avg[t.offset], 6); // scalars are not rescaled
          return;
        }
        expect(m.variance / target(i)).toBeCloseTo(1, 5);
        expect(m.mean).toBeCloseTo(before.mean, 6);
        // The average itself had lost variance; the correction restored it.
        if (variant !== 'self') expect(before.variance).toBeLessThan(target(i) * 0.9);
      });
    }
  });

  it('conservative: c·Var(self) + (1 − c)·mean Var(received)', () => {
    const out = vcaMerge(own, [a, b], tensors, { variant: 'conservative', c: 0.8, eps: 0 });
    const vs = tensorVariances(own, tensors)[0];
    const vr = (tensorVariances(a, tensors)[0] + tensorVariances(b, tensors)[0]) / 2;
    expect(moments(slice(out, tensors[0])).variance).toBeCloseTo(0.8 * vs + 0.2 * vr, 5);
  });

  it('conservative averages c·self + (1 − c)·mean(received) and targets c·Var(self) + (1 − c)·mean Var(received), the same c', () => {
    // c = 0.2 with 3 received models: the plain mean of all four would give self ¼, not 0.2.
    const received = [a, b, c];
    const out = vcaMerge(own, received, tensors, { variant: 'conservative', c: 0.2, eps: 0 });
    const w = new Float32Array(SIZE).map((_, k) => 0.2 * own[k] + (0.8 * (a[k] + b[k] + c[k])) / 3);
    // The scalar is not variance-corrected, so it shows the average itself.
    expect(out[220]).toBeCloseTo(w[220], 6);
    const plainMean = (own[220] + a[220] + b[220] + c[220]) / 4;
    expect(Math.abs(w[220] - plainMean)).toBeGreaterThan(1e-3);
    for (const [i, t] of tensors.entries()) {
      if (t.size === 1) continue;
      const target = 0.2 * tensorVariances(own, tensors)[i] + (0.8 * received.reduce((s, m) => s + tensorVariances(m, tensors)[i], 0)) / 3;
      const before = moments(slice(w, t));
      const after = moments(slice(out, t));
      expect(after.mean).toBeCloseTo(before.mean, 6);
      expect(after.variance / target).toBeCloseTo(1, 5);
      // out is W̄ rescaled around its mean: (W̄ − m)·sqrt(target/Var(W̄)) + m, element by element.
      const scale = Math.sqrt(target / before.variance);
      for (let k = t.offset; k < t.offset + t.size; k++) expect(out[k]).toBeCloseTo((w[k] - before.mean) * scale + before.mean, 5);
    }
    // c = 1 keeps this node's model; c = 0 takes the received models' mean, corrected to their mean variance.
    expect(vcaMerge(own, received, tensors, { variant: 'conservative', c: 1, eps: 0 })).toEqual(own);
    const zero = vcaMerge(own, received, tensors, { variant: 'conservative', c: 0, eps: 0 });
    expect(zero[220]).toBeCloseTo((a[220] + b[220] + c[220]) / 3, 6);
  });

  it('others and self average with the plain mean of own + received', () => {
    for (const variant of ['others', 'self'] as const) {
      const out = vcaMerge(own, [a, b, c], tensors, { variant, c: 0.2, eps: 0 });
      expect(out[220]).toBeCloseTo((own[220] + a[220] + b[220] + c[220]) / 4, 6);
    }
  });

  it('two independent Glorot layers: average ≈ σ²/2, corrected ≈ σ² (2nn)', () => {
    const spec = describeModel('2nn', 784, 10);
    const x = initialParams(spec, Rng.seed(1).split('a'));
    const y = initialParams(spec, Rng.seed(1).split('b'));
    const avg = merge({ params: x, age: 0 }, [{ params: y, age: 0 }], spec.tensors, opts({ rule: 'mean' })).params;
    const vca = merge({ params: x, age: 0 }, [{ params: y, age: 0 }], spec.tensors, opts({ rule: 'vca' })).params;
    for (const t of spec.tensors) {
      if (t.kind === 'bias') {
        // Zero biases have no variance to restore; they stay zero.
        expect(moments(slice(vca, t)).variance).toBe(0);
        continue;
      }
      const fanIn = t.shape[0];
      const fanOut = t.shape[1];
      const sigma2 = 2 / (fanIn + fanOut); // Glorot uniform: limit²/3 = 6/(fanIn+fanOut)/3
      const tol = t.size > 10000 ? 0.03 : 0.1;
      expect(moments(slice(x, t)).variance / sigma2).toBeCloseTo(1, 0);
      expect(Math.abs(moments(slice(avg, t)).variance / (sigma2 / 2) - 1)).toBeLessThan(tol);
      expect(Math.abs(moments(slice(vca, t)).variance / sigma2 - 1)).toBeLessThan(tol);
      // Exactly the mean of the two inputs' variances, with ε = 0.
      const target = (moments(slice(x, t)).variance + moments(slice(y, t)).variance) / 2;
      expect(moments(slice(vca, t)).variance / target).toBeCloseTo(1, 5);
    }
  });

  it('ε damps the correction of small variances (why ε is exposed)', () => {
    const small = (m: Float32Array) => m.map((v) => v * 1e-3);
    const big = vcaMerge(small(own), [small(a)], tensors, { variant: 'conservative', c: 0.5, eps: 1e-4 });
    const tiny = vcaMerge(small(own), [small(a)], tensors, { variant: 'conservative', c: 0.5, eps: 1e-12 });
    const target = (tensorVariances(small(own), tensors)[0] + tensorVariances(small(a), tensors)[0]) / 2;
    expect(moments(slice(tiny, tensors[0])).variance / target).toBeCloseTo(1, 4);
    expect(moments(slice(big, tensors[0])).variance / target).toBeLessThan(0.9);
  });

  it('leaves constant tensors alone and never produces NaN', () => {
    const zeros = new Float32Array(SIZE);
    const out = varianceCorrect(zeros.slice(), tensors, [1, 1, 1], 0);
    expect(Array.from(out).every((v) => v === 0)).toBe(true);
  });
});

describe('gossip merge rules (oracle 5)', () => {
  const rng = Rng.seed(2).split('merge');
  const x = randomModel(rng, 0.7, 0.05);
  const y = randomModel(rng, 0.2, -0.3);

  it('merging a model with itself returns it unchanged, for every rule', () => {
    for (const rule of ['mean', 'age', 'vca', 'mu'] as const)
      for (const variant of ['others', 'self', 'conservative'] as const)
        for (const age of [0, 37]) {
          const out = merge({ params: x, age }, [{ params: x.slice(), age }], tensors, { rule, variant, c: 0.3, eps: 1e-8 }, { params: x.slice(), age });
          expect(out.params).toEqual(x);
          expect(out.age).toBe(age);
        }
  });

  it('ages 0 and 0 give the plain mean', () => {
    const out = merge({ params: x, age: 0 }, [{ params: y, age: 0 }], tensors, opts({ rule: 'age' }));
    for (let i = 0; i < SIZE; i++) expect(out.params[i]).toBeCloseTo((x[i] + y[i]) / 2, 6);
    expect(out.age).toBe(0);
  });

  it('age weighting: (t·x + t′·x′)/(t + t′), age max(t, t′)', () => {
    const out = merge({ params: x, age: 100 }, [{ params: y, age: 300 }], tensors, opts({ rule: 'age' }));
    for (let i = 0; i < SIZE; i++) expect(out.params[i]).toBeCloseTo(0.25 * x[i] + 0.75 * y[i], 6);
    expect(out.age).toBe(300);
    // A fresh model (age 0) does not move an old one.
    const fresh = ageMerge([{ params: x, age: 50 }, { params: y, age: 0 }]);
    expect(fresh.params).toEqual(x);
  });

  it('mean is 0.5/0.5 and many-way merges weigh every input equally', () => {
    const out = merge({ params: x, age: 5 }, [{ params: y, age: 9 }], tensors, opts({ rule: 'mean' }));
    for (let i = 0; i < SIZE; i++) expect(out.params[i]).toBeCloseTo((x[i] + y[i]) / 2, 6);
    expect(out.age).toBe(9);
    const z = randomModel(rng, 1, 1);
    const three = merge({ params: x, age: 0 }, [{ params: y, age: 0 }, { params: z, age: 0 }], tensors, opts({ rule: 'mean' }));
    for (let i = 0; i < SIZE; i++) expect(three.params[i]).toBeCloseTo((x[i] + y[i] + z[i]) / 3, 6);
  });

  it('mu merges the arrival with the last-seen model, not with this node’s own (Ormándi et al. 2013)', () => {
    const own = randomModel(rng, 3, 5); // this node's current model: no part of the result
    const last = randomModel(rng, 0.4, 0.1);
    const out = merge({ params: own, age: 900 }, [{ params: y, age: 20 }], tensors, opts({ rule: 'mu' }), { params: last, age: 50 });
    for (let i = 0; i < SIZE; i++) expect(out.params[i]).toBeCloseTo((y[i] + last[i]) / 2, 6);
    expect(out.age).toBe(50); // max over the two merged models; this node's age 900 is dropped with its model
    expect(() => merge({ params: own, age: 0 }, [{ params: y, age: 0 }], tensors, opts({ rule: 'mu' }))).toThrow(/last-seen/);
    // The next arrival is merged with this one.
    const first = muMerge({ params: last, age: 50 }, [{ params: y, age: 20 }]);
    expect(first.lastSeen.params).toBe(y);
    const z = randomModel(rng, 1, -1);
    const second = muMerge(first.lastSeen, [{ params: z, age: 7 }]);
    for (let i = 0; i < SIZE; i++) expect(second.merged.params[i]).toBeCloseTo((y[i] + z[i]) / 2, 6);
    expect(second.merged.age).toBe(20);
    // Several at once are taken in arrival order, one after another: the mean of the last two.
    const batch = muMerge({ params: last, age: 50 }, [{ params: x, age: 1 }, { params: y, age: 2 }, { params: z, age: 3 }]);
    for (let i = 0; i < SIZE; i++) expect(batch.merged.params[i]).toBeCloseTo((y[i] + z[i]) / 2, 6);
    expect(batch.merged.age).toBe(3);
    expect(batch.lastSeen.params).toBe(z);
  });

  it('refuses mismatched lengths', () => {
    expect(() => merge({ params: x, age: 0 }, [{ params: new Float32Array(3), age: 0 }], tensors, opts({}))).toThrow();
  });
});
