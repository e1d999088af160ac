import fc from 'fast-check';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import type { OptimizerStates } from '../../src/core/learn/compute.ts';
import { Rng } from '../../src/core/rng.ts';
import { decodeMessage, type RejectReason } from '../../src/core/wire/codec.ts';
import type { NodeId, ProtocolAction, ProtocolModule } from '../../src/protocols/protocol.ts';
import { bootNode } from '../../src/runtime/bootstrap.ts';
import { nodeKeyAgreement } from '../../src/sim/nodeKeys.ts';
import { VirtualClock } from '../../src/sim/queue.ts';
import { Simulation } from '../../src/sim/simulation.ts';
import type { BlobsWorld } from '../support/blobs.ts';
import { mutate, mutationArb } from './mutate.ts';

/** Reasons the codec gives; every frame it refuses must be counted under exactly one of them. */
const CODEC_REASONS: RejectReason[] = ['malformed', 'unknown-type', 'bad-header', 'bad-vector', 'bad-length', 'non-finite', 'out-of-range'];
const codecRejections = (r: Record<string, number>) => CODEC_REASONS.reduce((s, k) => s + (r[k] ?? 0), 0);

/** Small, fast runs of each algorithm, long enough to send every message type. */
export const FUZZ_CONFIG: ConfigInput = { nodes: 4, rounds: 6, evalEvery: 1, roundTimeout: 2000, aggTimeout: 2000, pingTimeout: 500, period: 500, s: 3 };

/** Valid frames of every type an honest run of `module` sends, by type (at most `perType` each). */
export function recordCorpus(world: BlobsWorld, module: ProtocolModule, perType = 40, overrides: ConfigInput = {}): Map<string, Uint8Array[]> {
  const corpus = new Map<string, Uint8Array[]>();
  const config = parseConfig({ dataset: 'blobs', model: 'mlp', partition: 'iid', samples: world.dataset.train.n, seed: 5, ...FUZZ_CONFIG, ...overrides, algo: module.name });
  const sim = new Simulation(config, world.dataset, world.learner, world.dataset.test, {
    strict: true,
    tamper: (_from, to, frame) => {
      const d = decodeMessage(frame, module.schemas, world.learner.spec.size);
      if (d.ok) {
        const list = corpus.get(d.msg.type) ?? corpus.set(d.msg.type, []).get(d.msg.type)!;
        if (list.length < perType) list.push(frame);
      }
      return [{ to, frame }];
    },
  });
  sim.run();
  return corpus;
}

export interface HostFuzzResult {
  frames: number;
  codecRefused: number;
  /** Codec refusals the host counted; must equal `codecRefused`. */
  codecCounted: number;
  protocolErrors: number;
  nonFiniteModels: number;
  modelsSeen: number;
}

/**
 * One node of `module` (the coordinator or a client) fed `frames` mutated corpus frames from
 * its peers, with its timers and trainings running in between. Nothing may throw out of the
 * host (no try/catch here: a throw fails the test), every frame the codec refuses is counted,
 * and no model the node emits or trains holds NaN or Inf.
 */
export function fuzzHost(world: BlobsWorld, module: ProtocolModule, corpus: Map<string, Uint8Array[]>, role: 'coordinator' | 'client', frames: number, seed: number, overrides: ConfigInput = {}): HostFuzzResult {
  const config = parseConfig({ dataset: 'blobs', model: 'mlp', partition: 'iid', samples: world.dataset.train.n, seed: 5, ...FUZZ_CONFIG, ...overrides, algo: module.name });
  const ids = ['n0', 'n1', 'n2', 'n3'];
  const self = role === 'coordinator' ? 'n0' : 'n1';
  const clock = new VirtualClock();
  const shard = world.dataset.train;
  const states: OptimizerStates = new Map();
  const result: HostFuzzResult = { frames: 0, codecRefused: 0, codecCounted: 0, protocolErrors: 0, nonFiniteModels: 0, modelsSeen: 0 };
  const finite = (v: Float32Array) => v.every(Number.isFinite);
  const check = (a: ProtocolAction) => {
    if (a.kind === 'model') {
      result.modelsSeen++;
      if (!finite(a.params)) result.nonFiniteModels++;
    }
    if (a.kind === 'compute' && 'params' in a.request && !finite(a.request.params)) result.nonFiniteModels++;
  };
  let trainings = 0;
  const host = bootNode({
    module,
    config,
    id: self,
    spec: world.learner.spec,
    samples: shard.n,
    maxSamples: shard.n,
    peers: ids,
    clock,
    transport: { self, send: () => {}, onFrame: () => {}, close: () => {} },
    compute: (train) => ({
      run: (request, done) => {
        const rng = request.kind === 'train' ? train.split(trainings++) : undefined;
        clock.schedule(5, () => done(world.learner.computeSync(request, shard, { rng, states })));
      },
    }),
    keys: (rng) => nodeKeyAgreement(rng, (run) => clock.schedule(1, run)),
    observer: { onAction: (_h, a) => check(a) },
  });
  host.roster(ids.filter((p) => p !== self), module.coordinator ? 'n0' : undefined);
  host.start();
  const types = [...corpus.keys()];
  const all = [...corpus.values()].flat();
  const plans = fc.sample(fc.tuple(fc.nat(), fc.nat(), mutationArb(types), fc.integer({ min: 0, max: 400 })), { numRuns: frames, seed });
  const rng = Rng.seed(seed);
  for (const [pick, sender, mutation, waitMs] of plans) {
    const frame = mutate(all[pick % all.length], mutation, module.schemas, world.learner.spec.size);
    const from = ids[sender % ids.length];
    const refused = !decodeMessage(frame, module.schemas, world.learner.spec.size).ok;
    const before = codecRejections(host.stats.rejected);
    host.receive(from === self && rng.next() < 0.9 ? ids[(sender + 1) % ids.length] : from, frame);
    result.frames++;
    if (refused) result.codecRefused++;
    result.codecCounted += codecRejections(host.stats.rejected) - before;
    clock.step(clock.now() + waitMs);
  }
  result.protocolErrors = host.stats.rejected['protocol-error'] ?? 0;
  return result;
}

/**
 * An honest swarm in which node n1 is a fuzzing peer: it follows the protocol, and with every
 * frame it sends it also sends `perSend` mutated corpus frames to random nodes. `nonFinite`
 * counts the non-finite models of nodes that are not attackers (`byzantine=` in `overrides`).
 */
export function fuzzSwarm(world: BlobsWorld, module: ProtocolModule, corpus: Map<string, Uint8Array[]>, perSend: number, seed: number, overrides: ConfigInput = {}): { sim: Simulation; injected: number; nonFinite: number } {
  const config = parseConfig({ dataset: 'blobs', model: 'mlp', partition: 'iid', samples: world.dataset.train.n, seed: 5, ...FUZZ_CONFIG, nodes: 5, ...overrides, algo: module.name });
  const ids = Array.from({ length: 5 }, (_, i) => `n${i}`);
  const all = [...corpus.values()].flat();
  const plans = fc.sample(fc.tuple(fc.nat(), fc.nat(), mutationArb([...corpus.keys()])), { numRuns: 2000, seed });
  let next = 0;
  let injected = 0;
  let nonFinite = 0;
  const sim = new Simulation(config, world.dataset, world.learner, world.dataset.test, {
    tamper: (from: NodeId, to: NodeId, frame: Uint8Array) => {
      const out = [{ to, frame }];
      if (from !== 'n1') return out;
      for (let k = 0; k < perSend; k++) {
        const [pick, target, mutation] = plans[next++ % plans.length];
        out.push({ to: ids[target % ids.length], frame: mutate(all[pick % all.length], mutation, module.schemas, world.learner.spec.size) });
        injected++;
      }
      return out;
    },
  });
  // An attacker's own model is its own business (a gossip sign-flipper's diverges); the honest nodes' must stay finite.
  sim.onAction = (id, a) => {
    if (a.kind === 'model' && !sim.attackers.has(id) && !a.params.every(Number.isFinite)) nonFinite++;
  };
  sim.run();
  return { sim, injected, nonFinite };
}
