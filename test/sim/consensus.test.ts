import { beforeAll, describe, expect, it } from 'vitest';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

let world: BlobsWorld;
beforeAll(async () => {
  world = await blobsWorld(600);
});

describe('consensus in every simulated row', () => {
  it('is 0 for one global model (FedAvg)', () => {
    const sim = world.simulation({ algo: 'fedavg', nodes: 4, rounds: 3 });
    sim.run();
    expect(sim.rows.map((r) => r.consensus)).toEqual([0, 0, 0]);
  });

  it('is positive for gossip from independent inits, and shrinks as the models mix', () => {
    const sim = world.simulation({ algo: 'gossip', merge: 'mean', nodes: 6, rounds: 8, topology: 'full' });
    sim.run();
    const c = sim.rows.map((r) => r.consensus);
    expect(c.every((x) => x > 0)).toBe(true);
    expect(c.at(-1)!).toBeLessThan(c[0] / 2);
  });
});
