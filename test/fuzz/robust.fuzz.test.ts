import { beforeAll, describe, expect, it } from 'vitest';
import { allProtocols } from '../../src/protocols/index.ts';
import type { ProtocolModule } from '../../src/protocols/protocol.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';
import { fuzzHost, fuzzSwarm, recordCorpus } from './harness.ts';

/**
 * The robust rules (robust=) do their own arithmetic on peers' models (sorting, distances,
 * clipping), and byzantine= rooms poison models on purpose: the same mutated frames as
 * protocols.fuzz.test.ts, through the protocols that take robust=, under each rule.
 */
const SEED = 20261203;
/** Frames per (protocol, rule, role): fewer than the main suite's, which covers robust=mean. */
const FRAMES = 60;
const RULES = ['median', 'trimmed:0.2', 'krum:1', 'mkrum:1', 'cclip:1'];

const robustModules = allProtocols().filter((m) => Object.hasOwn(m.config, 'robust'));

let world: BlobsWorld;

beforeAll(async () => {
  world = await blobsWorld(600);
});

describe('the protocols that take robust=', () => {
  it('are FedAvg, MoDeST, gossip and D-PSGD', () => {
    expect(robustModules.map((m) => m.name).sort()).toEqual(['dpsgd', 'fedavg', 'gossip', 'modest']);
  });
});

describe.each(robustModules.map((m) => [m.name, m] as [string, ProtocolModule]))('fuzzing %s under robust rules', (_name, module) => {
  let corpus: Map<string, Uint8Array[]>;
  beforeAll(() => {
    corpus = recordCorpus(world, module);
  });

  for (const robust of RULES) {
    for (const role of ['coordinator', 'client'] as const) {
      it(`robust=${robust}, as ${role}: nothing throws, every refused frame is counted, no model holds NaN or Inf`, () => {
        const r = fuzzHost(world, module, corpus, role, FRAMES, SEED + role.length, { robust });
        expect(r.frames).toBe(FRAMES);
        expect(r.codecCounted).toBe(r.codecRefused);
        expect(r.protocolErrors).toBe(0);
        expect(r.nonFiniteModels).toBe(0);
        expect(r.modelsSeen + r.codecRefused).toBeGreaterThan(0);
      });
    }
  }

  it('a byzantine room (25% sign-flippers, median) with one fuzzing peer: no protocol error, no NaN in an honest node, the run ends as it would without the fuzzer', () => {
    const overrides = { robust: 'median', byzantine: '0.25:signflip' };
    const honest = fuzzSwarm(world, module, corpus, 0, SEED, overrides);
    const fuzzed = fuzzSwarm(world, module, corpus, 12, SEED, overrides);
    expect(fuzzed.sim.attackers.size).toBe(1);
    expect(fuzzed.injected).toBeGreaterThan(20);
    expect(fuzzed.nonFinite).toBe(0);
    const summary = fuzzed.sim.summary();
    expect(summary.rejected['protocol-error'] ?? 0).toBe(0);
    expect(summary.stopReason).toBe(honest.sim.summary().stopReason);
  });
});
