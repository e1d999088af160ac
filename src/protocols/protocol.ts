import type { Config, ConfigKeySpec } from '../core/config.ts';
import type { Rng } from '../core/rng.ts';
import type { Message, SchemaRegistry } from '../core/wire/codec.ts';
import type { ModelSpec } from '../core/learn/models.ts';
import type { ComputeRequest, ComputeResult } from '../core/learn/compute.ts';
import type { KeyRequest, KeyResult } from '../core/secagg/keys.ts';

export type { ComputeRequest, ComputeResult } from '../core/learn/compute.ts';
export type { KeyRequest, KeyResult } from '../core/secagg/keys.ts';

export type NodeId = string;

/** What a driver tells a protocol. Messages arrive already decoded and validated. */
export type ProtocolEvent =
  | { kind: 'start' }
  | { kind: 'timer'; id: string }
  | { kind: 'message'; from: NodeId; msg: Message }
  /** The answer to this node's `compute` action with the same id. */
  | { kind: 'computed'; id: string; result: ComputeResult }
  /** The room's membership as the signaling server (or simulator) sees it. */
  | { kind: 'roster'; peers: NodeId[]; coordinator?: NodeId }
  | { kind: 'stop' };

/** What a protocol asks its driver to do. */
export type ProtocolAction =
  | { kind: 'send'; to: NodeId; msg: Message }
  | { kind: 'setTimer'; id: string; afterMs: number }
  | { kind: 'clearTimer'; id: string }
  /**
   * Work for this node's learner (train, loss, gradient); the driver answers with a `computed`
   * event carrying the same id, later (after virtual compute time, or when the worker is done).
   * Ids are the protocol's own: the driver does not interpret them. `round` labels the work for
   * observers (UI, tests); the driver ignores it too.
   */
  | { kind: 'compute'; id: string; round: number; request: ComputeRequest }
  /** Key agreement for secure aggregation; the driver answers through `Protocol.keysReady` with the same id. */
  | { kind: 'keys'; id: string; request: KeyRequest }
  /** A new model. `global`: an aggregate that stands for the whole run (FedAvg, MoDeST). */
  | { kind: 'model'; round: number; params: Float32Array; scope: 'global' | 'local' }
  /** This node finished its round `round`. */
  | { kind: 'round'; round: number }
  | { kind: 'state'; state: NodeState; role?: string }
  /** A message that decoded fine but made no sense here (stale round, wrong sender...). */
  | { kind: 'reject'; from: NodeId; reason: string; claim?: Claim }
  /** A weight-like claim (an age, a sample count) was used, but clipped to what the protocol can know. */
  | { kind: 'clipped'; from: NodeId; claim: Claim }
  | { kind: 'log'; text: string }
  | { kind: 'done' };

/**
 * Which claim of a peer a protocol refused or clipped: a fixed set, so counters by reason stay
 * bounded (the free-text reason goes to the log).
 */
export type Claim = 'round' | 'age' | 'samples' | 'view' | 'sender' | 'buffer' | 'shares';

export type NodeState = 'idle' | 'connecting' | 'training' | 'aggregating' | 'waiting' | 'done' | 'error';

export interface ProtocolContext {
  id: NodeId;
  config: Config;
  spec: ModelSpec;
  /** Size of this node's local dataset (n_k). */
  samples: number;
  /**
   * The largest shard of the room's partition: an upper bound on any honest peer's n_k, which
   * every node can compute from the shared config, so a claimed sample count is checked against it.
   */
  maxSamples: number;
  /** This node's private, seeded randomness. */
  rng: Rng;
  /** The starting model: shared by all nodes, or this node's own (independent init). */
  initialParams: Float32Array;
  /** Ids known at start (bootstrap peers), excluding this node. */
  peers: NodeId[];
}

/**
 * Facts only some algorithms have, as this node knows them (token: the visit counts of the last
 * token it held and where the token is now). The simulator's summary and the topology views
 * show them without naming the algorithm.
 */
export interface ProtocolReport {
  /** How fresh these facts are (token: the step of the walk they describe): of several nodes' reports, drivers show the highest. */
  round: number;
  /** Scalars for the simulator's summary (token: `visitCv`, `recoveries`). */
  values: Record<string, number>;
  /** One count per node (token: visits), under the summary key and tooltip label `label`. */
  perNode?: { label: string; counts: Record<NodeId, number> };
  /** The node the topology view rings (token: the holder), with its legend text. */
  focus?: { node: NodeId; legend: string };
  /**
   * Plain JSON for tests and scripts, which drivers pass on and views do not draw (secure
   * aggregation: fingerprints of the plain and masked updates, so an e2e test can check that the
   * coordinator never held a plain one).
   */
  audit?: Record<string, unknown>;
}

/**
 * A sans-I/O learning protocol: events in, actions out. No clock, sockets or tfjs inside;
 * `now` is given, randomness comes from the context's RNG. The live tab and the simulator
 * run exactly this code.
 */
export interface Protocol {
  handle(event: ProtocolEvent, now: number): ProtocolAction[];
  /** This node's current model, for evaluation; null before it has one. */
  currentParams(): Float32Array | null;
  /** The round this node is in. */
  readonly round: number;
  /** This algorithm's own facts, if it has any (see ProtocolReport). */
  report?(): ProtocolReport | null;
  /**
   * The answer to this node's `keys` action with the same id (secure aggregation). A method of
   * its own rather than an event kind, so that protocols that never ask for keys need no case
   * for it in their event switch.
   */
  keysReady?(id: string, result: KeyResult, now: number): ProtocolAction[];
}

/** A compare-mode run of this algorithm: the shared base config with a few keys overridden. */
export interface ProtocolVariant {
  id: string;
  label: string;
  overrides: Record<string, string | number>;
}

/**
 * Everything about one algorithm, in its own folder: its config keys, its messages, how drivers
 * run it and how the UI explains it. Drivers, the CLI, the URL schema, the setup panel, compare
 * mode and presets read these fields; none of them names an algorithm.
 */
export interface ProtocolModule {
  name: string;
  /** Its config keys (URL, CLI flags, setup form): validator with default, label and help. */
  config: Readonly<Record<string, ConfigKeySpec>>;
  schemas: SchemaRegistry;
  /** Whether accuracy is that of one global model (FedAvg, MoDeST) or the mean over nodes. */
  evaluates: 'global' | 'nodes';
  /** The starting model with `init=auto`: one shared init, or each node its own. */
  init: 'shared' | 'independent';
  /** Whether the room's coordinator (the tab that started the run; n0 in the simulator) runs the rounds. */
  coordinator: boolean;
  /** How many WebRTC links a tab may keep open for this algorithm. */
  linkBudget(config: Config): number;
  /** Virtual time one round may take at most (the simulator stops a run at rounds × 10 × this). */
  roundBudgetMs(config: Config): number;
  ui: {
    label: string;
    /** For students: what the algorithm does, in two plain sentences. */
    explain: string;
    paper: string;
    /** What the ★ next to the coordinator means, if there is one. */
    coordinatorLegend?: string;
    /** The compare-mode topology caption. */
    topologyCaption: string;
    /** Compare-mode runs (default: one run named after the algorithm). */
    variants?: ProtocolVariant[];
    /** A short tag for History and exports, when a key changes the algorithm's behaviour (gossip-vca). */
    tag?(config: Config): string;
  };
  /**
   * Numbers this algorithm reports about a run beyond accuracy and bytes (the simulator's summary,
   * a tab's status), from what every driver knows: the model's size and how many trainings a node
   * ran (the simulator passes the busiest node's count).
   */
  facts?(config: Config, run: { paramCount: number; trainings: number }): RunFact[];
  create(ctx: ProtocolContext): Protocol;
}

/** One reported number: `key` in the simulator's JSON summary; `label` and `text`, if given, for a tab's status. */
export interface RunFact {
  key: string;
  value: number;
  label?: string;
  text?: string;
}
