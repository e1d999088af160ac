import type { Rng } from '../rng.ts';
import type { Dataset, Split } from './types.ts';

/** Small 2-D datasets, generated (never downloaded), deterministic for a given Rng. */

export const SYNTHETIC_NAMES = ['blobs', 'moons', 'spirals'] as const;
export type SyntheticName = (typeof SYNTHETIC_NAMES)[number];

export interface SyntheticShape {
  samples: number;
  classes: number;
  noise: number;
}

export function isSynthetic(name: string): name is SyntheticName {
  return (SYNTHETIC_NAMES as readonly string[]).includes(name);
}

/** The test split is separate and at least 500 rows, so accuracy is not noisy on tiny `samples`. */
export function syntheticTestSize(samples: number): number {
  return Math.max(500, Math.floor(samples / 2));
}

type Point = (cls: number, rng: Rng) => [number, number];

/** Centers on the unit circle; std shrinks with the gap between neighbours so many classes stay separable. */
function blobs(classes: number, noise: number): Point {
  const gap = 2 * Math.sin(Math.PI / classes); // distance between adjacent centers
  const std = (noise * gap) / Math.sqrt(3); // = noise at 3 classes
  return (c, rng) => {
    const a = (2 * Math.PI * c) / classes;
    return [Math.cos(a) + std * rng.normal(), Math.sin(a) + std * rng.normal()];
  };
}

/** sklearn make_moons (noise included), centered and scaled by 0.8 so noisy points stay within ±1.5. */
function moons(noise: number): Point {
  const k = 0.8;
  return (c, rng) => {
    const t = Math.PI * rng.next();
    const [x, y] = c === 0 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    return [k * (x - 0.5 + noise * rng.normal()), k * (y - 0.25 + noise * rng.normal())];
  };
}

/** TensorFlow Playground spirals, generalised to k arms, radius up to 1.3. */
function spirals(classes: number, noise: number): Point {
  const turns = 1.25;
  const std = noise * 0.25; // arms of k spirals are only 1.3 / (turns·k) apart
  return (c, rng) => {
    const s = rng.next();
    const r = 0.05 + 1.25 * s;
    const t = 2 * Math.PI * (turns * s + c / classes);
    return [r * Math.sin(t) + std * rng.normal(), r * Math.cos(t) + std * rng.normal()];
  };
}

function generate(n: number, classes: number, point: Point, rng: Rng): Split {
  // Labels i mod k, then a shuffle: every class gets n/k rows (±1) in random order.
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  rng.split('order').shuffle(order);
  const pts = rng.split('points');
  const x = new Float32Array(n * 2);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = order[i];
    const c = i % classes;
    const [px, py] = point(c, pts);
    x[row * 2] = px;
    x[row * 2 + 1] = py;
    y[row] = c;
  }
  return { x, y, n };
}

export function makeSynthetic(name: SyntheticName, shape: SyntheticShape, rng: Rng): Dataset {
  const classes = name === 'moons' ? 2 : Math.max(2, Math.floor(shape.classes));
  const noise = Math.max(0, shape.noise);
  const point = name === 'blobs' ? blobs(classes, noise) : name === 'moons' ? moons(noise) : spirals(classes, noise);
  const samples = Math.max(1, Math.floor(shape.samples));
  return {
    name,
    features: 2,
    numClasses: classes,
    train: generate(samples, classes, point, rng.split('train')),
    test: generate(syntheticTestSize(samples), classes, point, rng.split('test')),
  };
}
