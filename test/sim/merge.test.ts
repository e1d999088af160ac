import { beforeAll, describe, expect, it } from 'vitest';
import { mean } from '../../src/core/vector.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

let world: BlobsWorld;

beforeAll(async () => {
  world = await blobsWorld(2000, { nodes: 20, partition: 'dirichlet:0.1', evalSize: 500 });
});

describe('final=merge: one global average at the end of a decentralized run', () => {
  it('gossip on blobs, dirichlet:0.1: the merged model scores at least the local models’ mean accuracy (seeds 1–3)', () => {
    for (const seed of [1, 2, 3]) {
      const sim = world.simulation({ algo: 'gossip', final: 'merge', rounds: 10, seed });
      const s = sim.run();
      expect(s.rejected).toEqual({});
      expect(s.mergedAccuracy).toBeGreaterThanOrEqual(s.localAccuracy!);
      // The local mean is the run's own accuracy at its end; the models disagree, and the merge removes that.
      expect(s.localAccuracy).toBeCloseTo(s.accuracy, 12);
      expect(s.consensusRemoved).toBeGreaterThan(0);
      expect(s.consensusRemoved).toBeCloseTo(sim.rows.at(-1)!.consensus, 6);
    }
  });

  it('D-PSGD too; the merge is exactly the average of the live models, and every evaluated round shows it', () => {
    const sim = world.simulation({ algo: 'dpsgd', final: 'merge', rounds: 6, seed: 2 });
    const s = sim.run();
    expect(s.mergedAccuracy).toBeGreaterThanOrEqual(s.localAccuracy!);
    const models = sim.liveNodes().map((n) => n.host!.protocol.currentParams()!);
    const direct = world.learner.evaluateSync(mean(models), sim.evalSet);
    expect(s.mergedAccuracy).toBe(direct.accuracy);
    expect(s.mergedLoss).toBe(direct.loss);
    expect(sim.rows.every((r) => r.mergedAccuracy !== undefined)).toBe(true);
    expect(sim.rows.at(-1)!.mergedAccuracy).toBe(s.mergedAccuracy);
  });

  it('without final=merge, or for an algorithm with one global model, nothing is merged or reported', () => {
    const plain = world.simulation({ algo: 'gossip', rounds: 2 });
    expect(plain.run().mergedAccuracy).toBeUndefined();
    expect(plain.rows.some((r) => r.mergedAccuracy !== undefined)).toBe(false);
    const fedavg = world.simulation({ algo: 'fedavg', final: 'merge', rounds: 2 });
    expect(fedavg.merges).toBe(false);
    expect(fedavg.run().mergedAccuracy).toBeUndefined();
  });
});
