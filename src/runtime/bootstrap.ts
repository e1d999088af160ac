import type { Config } from '../core/config.ts';
import { initMode } from '../protocols/registry.ts';
import { initialParams, type ModelSpec } from '../core/learn/models.ts';
import { Rng } from '../core/rng.ts';
import type { NodeId, Protocol, ProtocolModule } from '../protocols/protocol.ts';
import { NodeHost, type HostObserver } from './host.ts';
import type { Clock, Compute, KeyAgreement, Transport } from './ports.ts';
import { byzantineCompute, type ByzantineRole } from './byzantine.ts';

/**
 * How a node starts, the same in a tab and in the simulator: its random streams and starting
 * model come from the run's seed and its id only, so a shared link reproduces the experiment.
 */

/**
 * A node's private streams: the protocol's randomness, the batch orders of its trainings (split by
 * training count), and the simulator's stand-in for the secret randomness of key agreement (a live
 * tab's keys come from the OS's CSPRNG instead: anyone with the link could compute these streams).
 */
export function nodeStreams(config: Config, id: NodeId): { protocol: Rng; train: Rng; keys: Rng } {
  const node = Rng.seed(config.seed).split('node').split(id);
  return { protocol: node.split('protocol'), train: node.split('train'), keys: node.split('keys') };
}

/** The room's one shared initial model. */
export function sharedInit(config: Config, spec: ModelSpec): Float32Array {
  return initialParams(spec, Rng.seed(config.seed).split('init'));
}

/** This node's starting model: the shared init, or its own (independent init, per `initMode`). */
export function startingParams(config: Config, spec: ModelSpec, id: NodeId, shared?: Float32Array): Float32Array {
  if (initMode(config) === 'shared') return shared ?? sharedInit(config, spec);
  return initialParams(spec, Rng.seed(config.seed).split('init').split(id));
}

export interface NodeSetup {
  module: ProtocolModule;
  config: Config;
  id: NodeId;
  spec: ModelSpec;
  /** Size of this node's local dataset (n_k). */
  samples: number;
  /** The largest shard of the room's partition (see ProtocolContext.maxSamples). */
  maxSamples: number;
  /** Ids known at start; this node's own id is left out if present. */
  peers: NodeId[];
  /** The shared init, when the caller has computed it already (the simulator does, once). */
  sharedInit?: Float32Array;
}

export function createProtocol(s: NodeSetup): Protocol {
  return s.module.create({
    id: s.id,
    config: s.config,
    spec: s.spec,
    samples: s.samples,
    maxSamples: Math.max(s.samples, s.maxSamples),
    rng: nodeStreams(s.config, s.id).protocol,
    initialParams: startingParams(s.config, s.spec, s.id, s.sharedInit),
    peers: s.peers.filter((p) => p !== s.id),
  });
}

export interface NodeBoot extends NodeSetup {
  clock: Clock;
  transport: Transport;
  /** The driver's compute port, given this node's training stream (batch order of the n-th training: `train.split(n)`). */
  compute: (train: Rng) => Compute;
  /** The driver's key-agreement port, given this node's `keys` stream (only the simulator's uses it). */
  keys?: (keys: Rng) => KeyAgreement;
  observer?: HostObserver;
  strict?: boolean;
  /** Whether this node attacks (and where honest updates are reported, for ALIE); absent in an honest room. */
  byzantine?: ByzantineRole;
}

/** Creates a node's protocol and the host that runs it. Not started: the driver sends the roster and `start()`. */
export function bootNode(b: NodeBoot): NodeHost {
  const streams = nodeStreams(b.config, b.id);
  return new NodeHost({
    id: b.id,
    protocol: createProtocol(b),
    schemas: b.module.schemas,
    paramCount: b.spec.size,
    clock: b.clock,
    transport: b.transport,
    compute: b.byzantine ? byzantineCompute(b.compute(streams.train), b.byzantine) : b.compute(streams.train),
    keys: b.keys?.(streams.keys),
    observer: b.observer,
    strict: b.strict,
  });
}
