import { describe, expect, it } from 'vitest';
import { mnistFromInk } from '../../src/core/data/digitInk.ts';
import { readMnistFilesNode } from '../../src/core/data/mnist.ts';
import { parseIdxImages } from '../../src/core/data/idx.ts';

/** A `size`² grid with ink 1 inside the rectangle [c0, c1) × [r0, r1). */
function rect(size: number, c0: number, c1: number, r0: number, r1: number): Float32Array {
  const ink = new Float32Array(size * size);
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) ink[r * size + c] = 1;
  return ink;
}

function box(img: Float32Array) {
  let c0 = 28, c1 = -1, r0 = 28, r1 = -1, mass = 0, mx = 0, my = 0;
  for (let r = 0; r < 28; r++)
    for (let c = 0; c < 28; c++) {
      const v = img[r * 28 + c];
      if (v <= 0.05) continue;
      c0 = Math.min(c0, c); c1 = Math.max(c1, c); r0 = Math.min(r0, r); r1 = Math.max(r1, r);
      mass += v; mx += v * (c + 0.5); my += v * (r + 0.5);
    }
  return { w: c1 - c0 + 1, h: r1 - r0 + 1, cx: mx / mass, cy: my / mass, mass };
}

describe('a drawn digit, preprocessed like MNIST', () => {
  it('nothing drawn: null; a wrong grid size throws', () => {
    expect(mnistFromInk(new Float32Array(224 * 224), 224)).toBeNull();
    expect(() => mnistFromInk(new Float32Array(10), 224)).toThrow(RangeError);
  });

  it('fits the ink into 20×20, aspect kept, values in [0, 1], centred by mass', () => {
    // A tall bar in a corner of a 224 pad: 40 wide, 160 high.
    const img = mnistFromInk(rect(224, 10, 50, 30, 190), 224)!;
    expect(img).toHaveLength(784);
    expect(Math.min(...img)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...img)).toBeLessThanOrEqual(1);
    const b = box(img);
    expect(b.h).toBe(20);
    expect(b.w).toBeGreaterThanOrEqual(5); // 5 px of ink, on a half-pixel boundary
    expect(b.w).toBeLessThanOrEqual(6);
    expect(Math.abs(b.cx - 14.5)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(b.cy - 14.5)).toBeLessThanOrEqual(0.5);
    // Area kept: 5×20 pixels of full ink.
    expect(b.mass).toBeCloseTo(100, 0);
  });

  it('a tiny drawing is scaled up to the same 20-pixel box (where it sits on the pad does not matter)', () => {
    const a = mnistFromInk(rect(224, 100, 110, 100, 110), 224)!;
    const b = mnistFromInk(rect(224, 0, 10, 200, 210), 224)!;
    expect(box(a).w).toBe(20);
    expect(box(a).h).toBe(20);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('an MNIST digit, redrawn at 8× on the pad, comes back as itself (up to a half-pixel of centring)', async () => {
    const imgs = parseIdxImages((await readMnistFilesNode()).testImages);
    const cosines: number[] = [];
    for (let k = 0; k < 100; k++) {
      const row = Float32Array.from(imgs.pixels.subarray(k * 784, (k + 1) * 784), (v) => v / 255);
      const ink = new Float32Array(224 * 224);
      for (let r = 0; r < 224; r++) for (let c = 0; c < 224; c++) ink[r * 224 + c] = row[(r >> 3) * 28 + (c >> 3)];
      const back = mnistFromInk(ink, 224)!;
      let dot = 0, n0 = 0, n1 = 0;
      for (let i = 0; i < 784; i++) {
        dot += row[i] * back[i];
        n0 += row[i] * row[i];
        n1 += back[i] * back[i];
      }
      cosines.push(dot / Math.sqrt(n0 * n1));
    }
    // MNIST's digits are already fitted to 20 px and centred by mass on pixel 14: redoing it
    // gives them back exactly, except that an odd-width box lands half a pixel off.
    expect(cosines.filter((c) => c > 0.999).length).toBeGreaterThanOrEqual(60);
    expect(Math.min(...cosines)).toBeGreaterThan(0.85);
  });
});
