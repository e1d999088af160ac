import { beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/core/config.ts';
import { allProtocols, protocolFor } from '../../src/protocols/index.ts';
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

/** Every registered protocol, and the options that bring message types of their own (secure aggregation's seven). */
const CASES: [string, ProtocolModule, ConfigInput][] = [...allProtocols().map((m): [string, ProtocolModule, ConfigInput] => [m.name, m, {}]), ['fedavg secagg=1', protocolFor('fedavg'), { secagg: 1 }]];

describe.each(CASES)('fuzzing %s', (_name, module, input) => {
  let corpus: Map<string, Uint8Array[]>;
  beforeAll(() => {
    corpus = recordCorpus(world, module, 40, input);
  });

  it('records every message type the protocol declares that an honest run sends', () => {
    expect(corpus.size).toBeGreaterThan(0);
    for (const type of corpus.keys()) expect(Object.keys(module.schemas)).toContain(type);
    if (input.secagg) expect([...corpus.keys()].filter((t) => t.startsWith('secagg/')).sort()).toEqual(['secagg/deal', 'secagg/keys', 'secagg/masked', 'secagg/reveal', 'secagg/roster', 'secagg/shares', 'secagg/unmask']);
  });

  for (const role of ['coordinator', 'client'] as const) {
    it(`as ${role}: nothing throws out of the host, every refused frame is counted, no model holds NaN or Inf`, () => {
      const r = fuzzHost(world, module, corpus, role, FRAMES, SEED + role.length, input);
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
  it.each([['fedavg', {}], ['modest', {}], ['gossip', {}], ['dpsgd', {}], ['fedavg', { secagg: 1 }]] as [string, ConfigInput][])('%s %o: an honest swarm with one fuzzing peer still converges', (name, input) => {
    const module = allProtocols().find((m) => m.name === name)!;
    const corpus = recordCorpus(world, module, 40, input);
    const honest = fuzzSwarm(world, module, corpus, 0, SEED, input);
    const fuzzed = fuzzSwarm(world, module, corpus, 12, SEED, input);
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
