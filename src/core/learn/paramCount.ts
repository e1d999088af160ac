import type { ModelName } from './models.ts';

/**
 * How many parameters a zoo model has, without building it (no tfjs): the setup form needs the
 * size d of an update before any model exists (RQM's ε composes over d). Mirrors `buildModel` in
 * models.ts layer by layer; a test checks both agree for every model.
 */
export function modelParamCount(name: ModelName, features: number, numClasses: number): number {
  const dense = (inputs: number, units: number) => inputs * units + units;
  const conv = (channels: number, filters: number, k: number) => k * k * channels * filters + filters;
  switch (name) {
    case 'mlp':
      return dense(features, 16) + dense(16, 16) + dense(16, numClasses);
    case '2nn':
      return dense(features, 200) + dense(200, 200) + dense(200, numClasses);
    case 'cnn':
    case 'cnn-small': {
      const big = name === 'cnn';
      // 'same' padding keeps the side; each 2×2 max-pool halves it (rounding down).
      const side = Math.floor(Math.floor(Math.round(Math.sqrt(features)) / 2) / 2);
      const [f1, f2, k, hidden] = big ? [32, 64, 5, 512] : [8, 16, 3, 32];
      return conv(1, f1, k) + conv(f1, f2, k) + dense(side * side * f2, hidden) + dense(hidden, numClasses);
    }
  }
}
