import { beforeAll, describe, expect, it } from 'vitest';
import { alieZ, normalQuantile, parseByzantine, poison, validByzantine } from '../../src/core/byzantine/attacks.ts';
import type { ComputeRequest, ComputeResult, TrainRequest } from '../../src/core/learn/compute.ts';
import { SGD } from '../../src/core/learn/compute.ts';
import { Rng } from '../../src/core/rng.ts';
import { byzantineCompute, roomRoles, UpdatePool, type ByzantineRole } from '../../src/runtime/byzantine.ts';
import type { Compute } from '../../src/runtime/ports.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

const v = (...x: number[]) => Float32Array.from(x);

describe('byzantine= values', () => {
  it('parses fraction, attack and strength, and refuses the rest', () => {
    expect(parseByzantine('')).toBeNull();
    expect(parseByzantine('0.2:signflip')).toEqual({ fraction: 0.2, name: 'signflip' });
    expect(parseByzantine('.25:scale:3')).toEqual({ fraction: 0.25, name: 'scale', strength: 3 });
    for (const ok of ['', '0.2:alie', '1:noise:2', '0.1:labelflip']) expect(validByzantine(ok)).toBe(true);
    for (const bad of ['0.2', 'signflip', '1.5:signflip', '0.2:backdoor', '0.2:labelflip:3', '-0.1:scale']) expect(validByzantine(bad)).toBe(false);
  });
});

describe('attacks', () => {
  const start = v(1, 1, 1);
  const trained = v(2, 0, 1.5); // δ = (1, −1, 0.5)
  const rng = new Rng('t');

  it('signflip sends start − k·δ, scale start + k·δ', () => {
    expect([...poison({ name: 'signflip' }, start, trained, rng)]).toEqual([-3, 5, -1]);
    expect([...poison({ name: 'signflip', strength: 1 }, start, trained, rng)]).toEqual([0, 2, 0.5]);
    expect([...poison({ name: 'scale', strength: 2 }, start, trained, rng)]).toEqual([3, -1, 2]);
  });

  it('noise sends a random update with the norm of k·δ', () => {
    const out = poison({ name: 'noise', strength: 2 }, start, trained, rng);
    const norm = Math.sqrt(out.reduce((s, x, i) => s + (x - start[i]) ** 2, 0));
    expect(norm).toBeCloseTo(2 * Math.sqrt(2.25), 4);
  });

  it('ALIE sends μ − zσ of the honest updates, per coordinate', () => {
    const honest = [v(1, 0, 0), v(3, 0, 2)]; // μ = (2, 0, 1), σ = (1, 0, 1)
    expect([...poison({ name: 'alie' }, start, trained, rng, honest, 1.5)]).toEqual([1 + 2 - 1.5, 1, 1 + 1 - 1.5]);
  });

  it('ALIE’s z follows Baruch et al.: n = 50, f = 12 gives s = 14, z = Φ⁻¹(36/50) ≈ 0.58', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.96, 3);
    expect(alieZ(50, 12)).toBeCloseTo(normalQuantile(36 / 50), 6);
    expect(alieZ(50, 12)).toBeCloseTo(0.583, 2);
  });
});

/** A compute port that "trains" by adding 1 to every parameter, and remembers what it was asked. */
function fakeCompute(seen: ComputeRequest[]): Compute {
  return {
    run(request, done) {
      seen.push(request);
      const params = Float32Array.from(request.params, (x) => x + 1);
      done({ kind: 'train', params, loss: 0, steps: 1, samplesSeen: 1 } as ComputeResult);
    },
  };
}

const train = (params: Float32Array): TrainRequest => ({ kind: 'train', params, epochs: 1, steps: 0, batch: 1, lr: 0.1, optimizer: SGD });

describe('the byzantine compute hook', () => {
  const role = (attack: ByzantineRole['attack'], pool: UpdatePool | null = null, key = 'a'): ByzantineRole => ({ attack, pool, key, rng: new Rng('r'), z: 1 });
  const run = (compute: Compute, params: Float32Array) => {
    let out: Float32Array | null = null;
    compute.run(train(params), (r) => (out = r.kind === 'train' ? r.params : null), () => {});
    return out!;
  };

  it('changes only what an attacker’s training returns', () => {
    const seen: ComputeRequest[] = [];
    expect([...run(byzantineCompute(fakeCompute(seen), role({ name: 'signflip' })), v(0, 0))]).toEqual([-4, -4]);
    expect([...run(byzantineCompute(fakeCompute(seen), role(null)), v(0, 0))]).toEqual([1, 1]);
    expect(seen.every((r) => r.kind === 'train' && !r.flipLabels)).toBe(true);
  });

  it('asks the learner to flip labels for labelflip, and sends that training as is', () => {
    const seen: ComputeRequest[] = [];
    expect([...run(byzantineCompute(fakeCompute(seen), role({ name: 'labelflip' })), v(0, 0))]).toEqual([1, 1]);
    expect((seen[0] as TrainRequest).flipLabels).toBe(true);
  });

  it('reports honest updates to the pool, which ALIE uses', () => {
    const pool = new UpdatePool(1);
    run(byzantineCompute(fakeCompute([]), role(null, pool, 'h1')), v(0, 0));
    pool.record('h2', v(3, 1));
    // Pool: h1 (1, 1), h2 (3, 1), and the attacker's own honest δ (1, 1): μ = (5/3, 1), σ = (0.943, 0).
    const out = run(byzantineCompute(fakeCompute([]), role({ name: 'alie', strength: 1 }, pool, 'z')), v(0, 0));
    expect(out[0]).toBeCloseTo(5 / 3 - Math.sqrt(8 / 9), 5);
    expect(out[1]).toBeCloseTo(1, 6);
  });
});

describe('choosing attackers', () => {
  const ids = Array.from({ length: 10 }, (_, i) => `n${i}`);

  it('draws round(fraction · eligible) attackers from the seed, never the trusted coordinator', () => {
    const roles = roomRoles('0.3:signflip', 7, ids, 'n0')!;
    const attackers = [...roles].filter(([, r]) => r.attack).map(([id]) => id);
    expect(attackers).toHaveLength(3);
    expect(attackers).not.toContain('n0');
    const again = [...roomRoles('0.3:signflip', 7, ids, 'n0')!].filter(([, r]) => r.attack).map(([id]) => id);
    expect(again).toEqual(attackers);
    const other = [...roomRoles('0.3:signflip', 8, ids, 'n0')!].filter(([, r]) => r.attack).map(([id]) => id);
    expect(other).not.toEqual(attackers);
    expect(roomRoles('', 7, ids)).toBeNull();
  });
});

describe('attackers in a simulated FedAvg room (blobs)', () => {
  let world: BlobsWorld;
  beforeAll(async () => {
    world = await blobsWorld(1200);
  });
  const run = (input: Record<string, string | number>) => {
    const sim = world.simulation({ algo: 'fedavg', nodes: 10, rounds: 4, lr: 0.1, batch: 10, steps: 10, noise: 1, ...input });
    return { summary: sim.run(), sim };
  };

  it('sign-flippers wreck the plain mean, and the median and Krum resist them', () => {
    const honest = run({}).summary.accuracy;
    const attacked = run({ byzantine: '0.3:signflip' });
    expect(attacked.summary.attackers).toHaveLength(3);
    const median = run({ byzantine: '0.3:signflip', robust: 'median' }).summary.accuracy;
    const krum = run({ byzantine: '0.3:signflip', robust: 'krum:3' }).summary.accuracy;
    expect(attacked.summary.accuracy).toBeLessThan(honest - 0.2);
    expect(median).toBeGreaterThan(honest - 0.1);
    expect(krum).toBeGreaterThan(honest - 0.1);
  });
});

describe('label flipping in the learner', () => {
  it('trains exactly as on a copy of the shard with every label y replaced by C − 1 − y', async () => {
    const world = await blobsWorld(300);
    const { learner, dataset } = world;
    const shard = dataset.train;
    const flipped = { x: shard.x, y: shard.y.map((y) => dataset.numClasses - 1 - y), n: shard.n };
    const start = learner.computeSync({ ...train(new Float32Array(learner.spec.size)), steps: 1 }, shard, { rng: new Rng('init') });
    const params = start.kind === 'train' ? start.params : new Float32Array(0);
    const req: TrainRequest = { ...train(params), steps: 3, batch: 10 };
    const viaFlag = learner.computeSync({ ...req, flipLabels: true }, shard, { rng: new Rng('b') });
    const viaCopy = learner.computeSync(req, flipped, { rng: new Rng('b') });
    const honest = learner.computeSync(req, shard, { rng: new Rng('b') });
    if (viaFlag.kind !== 'train' || viaCopy.kind !== 'train' || honest.kind !== 'train') throw new Error('expected training results');
    expect([...viaFlag.params]).toEqual([...viaCopy.params]);
    expect([...viaFlag.params]).not.toEqual([...honest.params]);
  });
});
