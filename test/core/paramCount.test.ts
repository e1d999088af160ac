import { beforeAll, describe, expect, it } from 'vitest';
import { MODELS } from '../../src/core/config.ts';
import { featuresFor, numClassesFor } from '../../src/core/data/index.ts';
import { describeModel } from '../../src/core/learn/models.ts';
import { modelParamCount } from '../../src/core/learn/paramCount.ts';
import { useNodeBackend } from '../../src/sim/nodeBackend.ts';

beforeAll(async () => {
  await useNodeBackend('cpu', 'mlp');
});

describe('modelParamCount', () => {
  it('agrees with the built tfjs model for every zoo model and dataset shape', () => {
    for (const model of MODELS) {
      for (const dataset of model.startsWith('cnn') ? (['mnist'] as const) : (['blobs', 'mnist'] as const)) {
        const f = featuresFor({ dataset });
        const k = numClassesFor({ dataset, classes: 3 });
        expect(modelParamCount(model, f, k), `${model} on ${dataset}`).toBe(describeModel(model, f, k).size);
      }
    }
    // The FedAvg paper's numbers.
    expect(modelParamCount('2nn', 784, 10)).toBe(199_210);
    expect(modelParamCount('cnn', 784, 10)).toBe(1_663_370);
  });
});
