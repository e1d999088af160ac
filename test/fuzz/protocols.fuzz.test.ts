import { beforeAll, describe, expect, it } from 'vitest';
import { allProtocols } from '../../src/protocols/index.ts';
import type { ProtocolModule } from '../../src/protocols/protocol.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';
import { fuzzHost, fuzzSwarm, recordCorpus } from './harness.ts';

/**
 * Property-based fuzzing of every registered protocol through its real host and codec, with a
 * fixed seed (SEED) so CI is reproducible; `npm run bench -- --suite fuzz` runs longer, with
 * other seeds. Frames: valid ones recorded from an honest run, then mutated (mutate.ts).
 */
const SEED = 20261202;
/** Frames per (protocol, role): with nine protocols and two roles, 10,800 in all. */
const FRAMES = 600;

let world: BlobsWorld;
let total = 0;

beforeAll(async () => {
  world = await blobsWorld(600);
});

describe.each(allProtocols().map((m) => [m.name, m] as [string, ProtocolModule]))('fuzzing %s', (_name, module) => {
  let corpus: Map<string, Uint8Array[]>;
  beforeAll(() => {
    corpus = recordCorpus(world, module);
  });

  it('records every message type the protocol declares that an honest run sends', () => {
    expect(corpus.size).toBeGreaterThan(0);
    for (const type of corpus.keys()) expect(Object.keys(module.schemas)).toContain(type);
  });

  for (const role of ['coordinator', 'client'] as const) {
    it(`as ${role}: nothing throws out of the host, every refused frame is counted, no model holds NaN or Inf`, () => {
      const r = fuzzHost(world, module, corpus, role, FRAMES, SEED + role.length);
      total += r.frames;
      expect(r.frames).toBe(FRAMES);
      // The mutations reach both the codec and the protocol: some frames are refused, many are not.
      expect(r.codecRefused).toBeGreaterThan(FRAMES / 10);
      expect(r.codecRefused).toBeLessThan(FRAMES);
      expect(r.codecCounted).toBe(r.codecRefused);
      expect(r.protocolErrors).toBe(0);
      expect(r.nonFiniteModels).toBe(0);
    });
  }
});

describe('fuzzing a swarm', () => {
  it.each(['fedavg', 'modest', 'gossip', 'dpsgd'])('%s: an honest swarm with one fuzzing peer still converges', (name) => {
    const module = allProtocols().find((m) => m.name === name)!;
    const corpus = recordCorpus(world, module);
    const honest = fuzzSwarm(world, module, corpus, 0, SEED);
    const fuzzed = fuzzSwarm(world, module, corpus, 12, SEED);
    total += fuzzed.injected;
    expect(fuzzed.injected).toBeGreaterThan(50);
    expect(fuzzed.nonFinite).toBe(0);
    const summary = fuzzed.sim.summary();
    expect(summary.rejected['protocol-error'] ?? 0).toBe(0);
    expect(summary.stopReason).toBe(honest.sim.summary().stopReason);
    expect(fuzzed.sim.rows.at(-1)!.accuracy).toBeGreaterThanOrEqual(Math.min(0.85, honest.sim.rows.at(-1)!.accuracy - 0.05));
  });

  it('ran at least 10,000 fuzzed frames in all', () => {
    expect(total).toBeGreaterThanOrEqual(10_000);
  });
});
