import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.ts';
import { liveSampleBound, OWN_DATA_CAP, ownDataProblem, withOwnData } from '../../src/core/data/ownData.ts';
import { createProtocol } from '../../src/runtime/bootstrap.ts';
import { protocolFor } from '../../src/protocols/index.ts';
import type { Split } from '../../src/core/data/types.ts';

const generated: Split = { x: Float32Array.of(0, 0, 1, 1, 2, 2), y: Uint8Array.of(0, 1, 0), n: 3 };
const own: Split = { x: Float32Array.of(-1, 0.5, 0.25, -0.75), y: Uint8Array.of(1, 1), n: 2 };

describe('own data joins the shard', () => {
  it('add: the generated rows, then the own rows; only: the own rows alone (copies either way)', () => {
    const added = withOwnData(generated, own, 'add');
    expect(added.n).toBe(5);
    expect(Array.from(added.x)).toEqual([0, 0, 1, 1, 2, 2, -1, 0.5, 0.25, -0.75]);
    expect(Array.from(added.y)).toEqual([0, 1, 0, 1, 1]);
    const only = withOwnData(generated, own, 'only');
    expect(only).toEqual({ x: own.x, y: own.y, n: 2 });
    expect(only.x).not.toBe(own.x);
  });

  it('refuses rows that are not samples of this dataset', () => {
    expect(ownDataProblem(own, 2, 2)).toBeNull();
    expect(ownDataProblem(own, 784, 10)).toMatch(/4 values for 2 samples of 784 features/);
    expect(ownDataProblem({ ...own, y: Uint8Array.of(1, 2) }, 2, 2)).toMatch(/label 2 of sample 1/);
    expect(ownDataProblem({ ...own, x: Float32Array.of(-1, NaN, 0, 0) }, 2, 2)).toMatch(/not finite/);
    expect(ownDataProblem({ ...own, y: Uint8Array.of(1) }, 2, 2)).toMatch(/1 labels for 2 samples/);
    const big = OWN_DATA_CAP + 1;
    expect(ownDataProblem({ x: new Float32Array(big * 2), y: new Uint8Array(big), n: big }, 2, 2)).toMatch(/at most 500/);
  });
});

describe('the sample-count bound with own data', () => {
  // A FedAvg coordinator built as a live tab builds it, and a client whose shard is the
  // partition's largest plus the most own samples a tab may hold.
  const config = parseConfig({ algo: 'fedavg', dataset: 'blobs', model: 'mlp', fraction: 1, rounds: 3 });
  const spec = { name: 'mlp' as const, features: 2, numClasses: 3, size: 4, tensors: [] };
  const coordinator = (maxSamples: number) => {
    const p = createProtocol({ module: protocolFor('fedavg'), config, id: 'n0', spec, samples: 10, maxSamples, peers: ['n1'], sharedInit: new Float32Array(4) });
    p.handle({ kind: 'start' }, 0);
    return p;
  };
  const update = (samples: number) => ({ type: 'fedavg/update', round: 1, samples, loss: 0.5, params: new Float32Array(4).fill(1) });
  const maxShard = 40;

  it('liveSampleBound admits the largest shard plus OWN_DATA_CAP own samples, and no more', () => {
    expect(liveSampleBound(maxShard)).toBe(maxShard + OWN_DATA_CAP);
    const honest = coordinator(liveSampleBound(maxShard)).handle({ kind: 'message', from: 'n1', msg: update(maxShard + OWN_DATA_CAP) }, 0);
    expect(honest.filter((a) => a.kind === 'reject')).toEqual([]);
    const inflated = coordinator(liveSampleBound(maxShard)).handle({ kind: 'message', from: 'n1', msg: update(maxShard + OWN_DATA_CAP + 1) }, 0);
    expect(inflated.filter((a) => a.kind === 'reject').map((a) => (a as { claim?: string }).claim)).toEqual(['samples']);
  });

  it('with the partition bound alone, an honest tab with own data would be refused (why the bound is raised)', () => {
    const refused = coordinator(maxShard).handle({ kind: 'message', from: 'n1', msg: update(maxShard + 3) }, 0);
    expect(refused.filter((a) => a.kind === 'reject')).toHaveLength(1);
  });
});
