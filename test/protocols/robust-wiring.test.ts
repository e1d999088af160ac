import { describe, expect, it } from 'vitest';
import type { TensorSpec } from '../../src/core/learn/models.ts';
import { centeredClip } from '../../src/core/robust/rules.ts';
import { moments } from '../../src/core/vector.ts';
import { dpsgdUpdate } from '../../src/protocols/dpsgd/mixing.ts';
import { fedavgAggregate } from '../../src/protocols/fedavg/aggregate.ts';
import { merge, varianceCorrect, vcaTargets, type MergeOptions } from '../../src/protocols/gossip/merge.ts';

const v = (...x: number[]) => Float32Array.from(x);
const FAR = 1e6;

describe('robust= in FedAvg', () => {
  const honest = [v(1, 2), v(1.2, 2.2), v(0.8, 1.8), v(1.1, 2.1)];
  const updates = [...honest, v(FAR, -FAR)].map((params) => ({ params, samples: 10 }));

  it('mean follows the outlier; median, trimmed mean and Krum do not', () => {
    expect(fedavgAggregate(updates)[0]).toBeGreaterThan(1000);
    for (const rule of ['median', 'trimmed:0.2', 'krum:1', 'mkrum:1']) {
      const out = fedavgAggregate(updates, rule);
      expect(out[0]).toBeGreaterThanOrEqual(0.8);
      expect(out[0]).toBeLessThanOrEqual(1.2);
    }
  });

  it('cclip starts from the previous global model, so the outlier moves it by at most its weight × τ per iteration', () => {
    const out = fedavgAggregate(updates, 'cclip:1', v(1, 2));
    expect(Math.hypot(out[0] - 1, out[1] - 2)).toBeLessThan(0.2 * 1 * 3 + 0.2);
  });
});

describe('robust= in the D-PSGD merge', () => {
  it('the median of the neighbours and itself ignores one far neighbour', () => {
    const row = new Map([['a', 0.25], ['b', 0.25], ['c', 0.25], ['d', 0.25]]);
    const received = new Map([['b', v(1.1)], ['c', v(0.9)], ['d', v(FAR)]]);
    const own = v(1);
    expect(dpsgdUpdate('a', own, own, received, row)[0]).toBeGreaterThan(1000);
    expect(dpsgdUpdate('a', own, own, received, row, 'median')[0]).toBeCloseTo(1.05, 5);
  });
});

describe('robust= in the gossip merge, and with variance correction', () => {
  const tensors: TensorSpec[] = [{ name: 'w', shape: [2, 2], offset: 0, size: 4, kind: 'kernel' }];
  const own = { params: v(1, -1, 0.5, -0.5), age: 10 };
  const attacker = { params: v(FAR, -FAR, FAR, 3), age: 10 };
  const opts = (rule: MergeOptions['rule'], robust: string): MergeOptions => ({ rule, variant: 'conservative', c: 0.5, eps: 1e-8, robust });

  it('cclip bounds what one received model does to the mean merge', () => {
    const out = merge(own, [attacker], tensors, opts('mean', 'cclip:0.5'));
    const moved = Math.hypot(...out.params.map((x, i) => x - own.params[i]));
    expect(moved).toBeLessThanOrEqual(0.5 * 0.5 * 3 + 1e-5);
    expect(merge(own, [attacker], tensors, opts('mean', 'mean')).params[0]).toBeGreaterThan(1000);
  });

  it('VCA composes as robust average first, then the variance correction to the usual targets', () => {
    const out = merge(own, [attacker], tensors, opts('vca', 'cclip:0.5')).params;
    // The same steps by hand: cclip with VCA's conservative weights (c, 1 − c) around the own model, then rescale.
    const avg = centeredClip([own.params, attacker.params], [0.5, 0.5], own.params, 0.5);
    // The targets, capped: the attacker's huge variance would otherwise blow the tensor up.
    const uncapped = vcaTargets(own.params, [attacker.params], tensors, 'conservative', 0.5);
    const cap = Math.max(moments(own.params).variance, moments(avg).variance);
    expect(uncapped[0]).toBeGreaterThan(1e9);
    const expected = varianceCorrect(avg.slice(), tensors, [cap], 1e-8);
    expect([...out]).toEqual([...expected]);
    // The correction keeps the robust average's mean, and the spread stays that of an honest model.
    expect(moments(out).mean).toBeCloseTo(moments(avg).mean, 5);
    expect(moments(out).variance).toBeCloseTo(cap, 5);
  });

  it('with robust=mean every merge rule is unchanged', () => {
    for (const rule of ['mean', 'age', 'vca'] as const) {
      const honest = { params: v(0.9, -0.8, 0.4, -0.6), age: 5 };
      const a = merge(own, [honest], tensors, opts(rule, 'mean'));
      const b = merge(own, [honest], tensors, { rule, variant: 'conservative', c: 0.5, eps: 1e-8 });
      expect([...a.params]).toEqual([...b.params]);
    }
  });
});
