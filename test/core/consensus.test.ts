import { describe, expect, it } from 'vitest';
import { decodeSketch, encodeSketch, sketch, SKETCH_SIZE } from '../../src/core/sketch.ts';
import { Rng } from '../../src/core/rng.ts';
import { consensusDistance } from '../../src/core/vector.ts';

describe('consensus distance', () => {
  it('is the mean squared distance to the average, 0 for equal models', () => {
    const a = Float32Array.from([0, 0]);
    const b = Float32Array.from([2, 0]);
    // average (1, 0): distances² 1 and 1 → mean 1
    expect(consensusDistance([a, b])).toBeCloseTo(1, 12);
    expect(consensusDistance([b, b, b])).toBe(0);
    expect(consensusDistance([a])).toBe(0);
  });

  it('is estimated from sketches, without sending the models', () => {
    const rng = Rng.seed(3);
    const n = 5000;
    const models = Array.from({ length: 6 }, () => Float32Array.from({ length: n }, () => rng.normal() * 0.1));
    const exact = consensusDistance(models);
    const estimate = consensusDistance(models.map((m) => sketch(m, 7)));
    expect(estimate / exact).toBeGreaterThan(0.6);
    expect(estimate / exact).toBeLessThan(1.4);
    // Same seed, same sketch: every tab projects alike.
    expect(sketch(models[0], 7)).toEqual(sketch(models[0], 7));
    expect(sketch(models[0], 8)).not.toEqual(sketch(models[0], 7));
  });

  it('travels as base64 and rejects anything that is not a finite sketch', () => {
    const s = sketch(Float32Array.from({ length: 100 }, (_, i) => i / 100), 1);
    const text = encodeSketch(s);
    expect(text.length).toBeLessThanOrEqual(256);
    expect(decodeSketch(text)).toEqual(s);
    expect(decodeSketch('abc')).toBeNull();
    expect(decodeSketch(42)).toBeNull();
    const bad = new Float32Array(SKETCH_SIZE).fill(Number.NaN);
    expect(decodeSketch(encodeSketch(bad))).toBeNull();
  });
});
