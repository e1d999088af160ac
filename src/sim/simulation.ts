import { consensusDistance, mean } from '../core/vector.ts';
import { parseChurn, parsePartition, type ChurnEvent, type Config } from '../core/config.ts';
import { partition } from '../core/data/partition.ts';
import { takeRows, type Dataset, type Split } from '../core/data/types.ts';
import { computeWork, type OptimizerStates } from '../core/learn/compute.ts';
import type { Learner } from '../core/learn/learner.ts';
import { Rng } from '../core/rng.ts';
import { protocolFor } from '../protocols/index.ts';
import type { NodeId, ProtocolAction, ProtocolModule, ProtocolReport } from '../protocols/protocol.ts';
import { bootNode, sharedInit } from '../runtime/bootstrap.ts';
import type { NodeHost } from '../runtime/host.ts';
import { roomRoles, type ByzantineRole } from '../runtime/byzantine.ts';
import type { Compute, Transport } from '../runtime/ports.ts';
import { InMemoryNetwork } from './network.ts';
import { nodeKeyAgreement } from './nodeKeys.ts';
import { VirtualClock } from './queue.ts';
import { DeferredCompute } from './compute/deferred.ts';
import { SequentialExecutor, type ComputeExecutor } from './compute/executor.ts';

export interface SimulationOptions {
  /** Fail loudly (tests): protocol exceptions and failed compute requests are thrown out of run()/advance() instead of counted. */
  strict?: boolean;
  /** Run this protocol module instead of the registry's for `config.algo` (tests; an algorithm not registered yet). */
  module?: ProtocolModule;
  /**
   * Every frame a node sends passes through this (tests: a fuzzing or lying peer); the frames
   * it returns are delivered instead, each to its own recipient.
   */
  tamper?: (from: NodeId, to: NodeId, frame: Uint8Array) => { to: NodeId; frame: Uint8Array }[];
  /** Runs the nodes' compute requests; default one after another on the simulation's learner. */
  executor?: ComputeExecutor;
}

/** One evaluated round. `wallMs` is the only field that differs between identical runs. */
export interface SimRow {
  round: number;
  accuracy: number;
  loss: number;
  /** Cumulative over all nodes. */
  bytesSent: number;
  simTimeMs: number;
  /** For decentralized algorithms: spread over live nodes' models. */
  minAccuracy?: number;
  maxAccuracy?: number;
  liveNodes: number;
  /** Mean squared L2 distance of the live nodes' models from their average; 0 with one global model. */
  consensus: number;
  /** `final=merge`: the accuracy and loss of the average of the live nodes' models, were the run to end here. */
  mergedAccuracy?: number;
  mergedLoss?: number;
  wallMs: number;
}

/** `final=merge`: every live node's model averaged once at the end, against the models it averages. */
export interface MergeResult {
  mergedAccuracy: number;
  mergedLoss: number;
  /** The mean accuracy of the local models that were averaged. */
  localAccuracy: number;
  /** Their consensus distance: what the merge removes (the merged model is one model, at distance 0). */
  consensusRemoved: number;
}

export interface SimSummary {
  summary: true;
  algo: string;
  rounds: number;
  accuracy: number;
  loss: number;
  bytesSent: number;
  simTimeMs: number;
  target: number | null;
  roundsToTarget: number | null;
  bytesToTarget: number | null;
  simTimeToTarget: number | null;
  nodes: number;
  liveNodes: number;
  dropped: number;
  rejected: Record<string, number>;
  /** Nodes stopped by a failed compute request, with the message (empty in a healthy run). */
  errors: Record<NodeId, string>;
  stopReason: 'rounds' | 'target' | 'done' | 'stalled' | 'time-limit';
  /** `final=merge` (gossip, D-PSGD): the one global merge at the end of the run. */
  mergedAccuracy?: number;
  mergedLoss?: number;
  localAccuracy?: number;
  consensusRemoved?: number;
  /** `dp=rqm`: the (ε, δ) of the node that sent the most updates (ProtocolModule.facts); ε is null in JSON when infinite. */
  epsilon?: number;
  delta?: number;
  wallMs: number;
  /** Frames sent, by message type (what a protocol's traffic is made of: pings, announcements, models). */
  messages: Record<string, number>;
  /**
   * Sample diversity: distinct nodes that started training in rounds [diversityFrom, diversityTo],
   * the last DIVERSITY_WINDOW rounds. A sampling protocol that keeps picking the same few nodes shows it here.
   */
  distinctTrainers: number;
  diversityFrom: number;
  diversityTo: number;
  /** The attacking nodes (`byzantine=`), when there are any. */
  attackers?: NodeId[];
  /** The algorithm's own facts from the newest report of a live node (token: `visits` per node, `visitCv`), flat so `jq .visitCv` works. */
  [fact: string]: unknown;
}

/** A report as summary fields: its values, and its per-node counts under their label. */
function reportFacts(r: ProtocolReport | null): Record<string, unknown> {
  if (!r) return {};
  return { ...(r.perNode ? { [r.perNode.label]: r.perNode.counts } : {}), ...r.values };
}

interface SimNode {
  id: NodeId;
  index: number;
  shard: Split;
  host: NodeHost | null;
  /** ms of compute per training sample (stragglers are slower); other work is charged in training samples (computeWork). */
  costPerSample: number;
  /** Training requests so far: each one's batch order is the node's `train` stream split by this count. */
  trainCount: number;
}

/** Rounds over which the summary counts distinct trainers (sample diversity): the last 30, as in issue 10's rounds 61–90 of 90. */
export const DIVERSITY_WINDOW = 30;

/**
 * N virtual nodes in one process: the same protocol code and node host as a live tab,
 * with a virtual clock, an in-memory network and tfjs training charged as virtual time.
 * Deterministic: the same config and data give the same rows, bit for bit.
 */
export class Simulation {
  readonly module: ProtocolModule;
  readonly clock = new VirtualClock();
  readonly network: InMemoryNetwork;
  readonly nodes: SimNode[] = [];
  readonly rows: SimRow[] = [];
  readonly evalSet: Split;
  private readonly root: Rng;
  /** The largest shard: the bound on a claimed sample count (ProtocolContext.maxSamples). */
  private readonly maxShard: number;
  private readonly churn: ChurnEvent[];
  readonly sharedInit: Float32Array;
  private simRound = 0;
  private retiredBytes = 0;
  private lastGlobal: { round: number; params: Float32Array } | null = null;
  private readonly nodeRounds = new Map<NodeId, number>();
  /** Training requests per node id, across reboots (one client, one privacy budget). */
  private readonly trainings = new Map<NodeId, number>();
  /** Training round → the nodes that started training it: the sample diversity. */
  private readonly trainers = new Map<number, Set<NodeId>>();
  private readonly messages: Record<string, number> = {};
  /** Whether the run ends with one global merge (`final=merge`, per-node algorithms that have the key). */
  readonly merges: boolean;
  /** Each node's byzantine role (`byzantine=`), null in an honest room. */
  private readonly roles: Map<NodeId, ByzantineRole> | null;
  /** The attacking nodes: left out of per-node accuracy and the final merge, which are the honest nodes'. */
  readonly attackers: ReadonlySet<NodeId>;
  private readonly errors: Record<NodeId, string> = {};
  private readonly deferred: DeferredCompute;
  private stopReason: SimSummary['stopReason'] | null = null;
  private reachedTarget: SimRow | null = null;
  private readonly startedAt = Date.now();
  private readonly listeners: ((row: SimRow) => void)[] = [];
  /** Called on every protocol action of every node (the UI's topology view listens here). */
  onAction: ((node: NodeId, action: ProtocolAction, now: number) => void) | null = null;

  constructor(
    readonly config: Config,
    readonly dataset: Dataset,
    readonly learner: Learner,
    evalSet: Split,
    private readonly options: SimulationOptions = {},
  ) {
    this.module = options.module ?? protocolFor(config.algo);
    this.merges = this.module.evaluates === 'nodes' && Object.hasOwn(this.module.config, 'final') && config.final === 'merge';
    this.root = Rng.seed(config.seed);
    this.evalSet = evalSet;
    this.churn = parseChurn(config.churn).sort((a, b) => a.round - b.round);
    this.network = new InMemoryNetwork(this.clock, { latency: config.latency, bandwidth: config.bandwidth, loss: config.loss }, this.root.split('network'));
    this.sharedInit = sharedInit(config, learner.spec);
    this.deferred = new DeferredCompute(options.executor ?? new SequentialExecutor(learner));

    const joins = this.churn.reduce((s, e) => s + (e.kind === 'join' ? e.count : 0), 0);
    const total = config.nodes + joins;
    const shards = partition(dataset.train.y, dataset.numClasses, total, parsePartition(config.partition), this.root.split('partition'));
    this.maxShard = Math.max(...shards.map((s) => s.length));
    const speed = this.root.split('stragglers');
    for (let i = 0; i < total; i++) {
      const straggler = speed.next() < config.stragglers;
      this.nodes.push({
        id: `n${i}`,
        index: i,
        shard: takeRows(dataset.train, dataset.features, shards[i]),
        host: null,
        costPerSample: config.compute * (straggler ? config.slowdown : 1),
        trainCount: 0,
      });
    }
    this.roles = roomRoles(config.byzantine, config.seed, this.nodes.map((n) => n.id), this.module.coordinator ? this.coordinator : undefined);
    this.attackers = new Set([...(this.roles ?? [])].filter(([, r]) => r.attack).map(([id]) => id));
  }

  onRow(listener: (row: SimRow) => void): void {
    this.listeners.push(listener);
  }

  get coordinator(): NodeId {
    return 'n0';
  }

  liveNodes(): SimNode[] {
    return this.nodes.filter((n) => n.host?.running);
  }

  /** Starts the first `nodes` nodes. */
  start(): void {
    const initial = this.nodes.slice(0, this.config.nodes);
    for (const node of initial) this.boot(node, initial.map((n) => n.id));
    for (const node of initial) node.host!.start();
  }

  /** Runs until done; returns the summary. Synchronous: tfjs on cpu/wasm trains synchronously. */
  run(): SimSummary {
    this.start();
    while (this.advance(1000)) {
      /* keep going */
    }
    return this.summary();
  }

  /** Runs up to `maxEvents` events; false once the run is over. Lets a UI or worker interleave. */
  advance(maxEvents: number): boolean {
    if (this.stopReason) return false;
    const limit = this.timeLimit();
    for (let i = 0; i < maxEvents && !this.stopReason; i++) {
      if (!this.clock.step(limit)) {
        this.stopReason = this.clock.pending > 0 ? 'time-limit' : 'stalled';
        break;
      }
    }
    return !this.stopReason;
  }

  summary(): SimSummary {
    const last = this.rows[this.rows.length - 1];
    const rejected: Record<string, number> = {};
    for (const n of this.nodes) for (const [k, v] of Object.entries(n.host?.stats.rejected ?? {})) rejected[k] = (rejected[k] ?? 0) + v;
    const trainings = Math.max(0, ...this.trainings.values());
    const facts = this.module.facts?.(this.config, { paramCount: this.learner.spec.size, trainings }) ?? [];
    return {
      summary: true,
      algo: this.config.algo,
      rounds: this.simRound,
      accuracy: last?.accuracy ?? NaN,
      loss: last?.loss ?? NaN,
      bytesSent: this.bytesSent(),
      simTimeMs: this.clock.now(),
      target: this.config.target > 0 ? this.config.target : null,
      roundsToTarget: this.reachedTarget?.round ?? null,
      bytesToTarget: this.reachedTarget?.bytesSent ?? null,
      simTimeToTarget: this.reachedTarget?.simTimeMs ?? null,
      nodes: this.nodes.filter((n) => n.host).length,
      liveNodes: this.liveNodes().length,
      dropped: this.network.stats.dropped,
      rejected,
      errors: { ...this.errors },
      stopReason: this.stopReason ?? 'rounds',
      ...(this.merges ? this.finalMerge() : {}),
      ...(this.attackers.size > 0 ? { attackers: [...this.attackers] } : {}),
      ...Object.fromEntries(facts.map((f) => [f.key, f.value])),
      wallMs: Date.now() - this.startedAt,
      messages: { ...this.messages },
      ...this.diversity(),
      ...reportFacts(this.report()),
    };
  }

  private diversity(): { distinctTrainers: number; diversityFrom: number; diversityTo: number } {
    const to = this.simRound;
    const from = Math.max(1, to - DIVERSITY_WINDOW + 1);
    const seen = new Set<NodeId>();
    for (let r = from; r <= to; r++) for (const id of this.trainers.get(r) ?? []) seen.add(id);
    return { distinctTrainers: seen.size, diversityFrom: from, diversityTo: to };
  }

  /** The newest of the live nodes' reports (ProtocolReport), or null for algorithms that make none. */
  report(): ProtocolReport | null {
    let best: ProtocolReport | null = null;
    for (const n of this.liveNodes()) {
      const r = n.host!.protocol.report?.() ?? null;
      if (r && (!best || r.round > best.round)) best = r;
    }
    return best;
  }

  /**
   * The live honest nodes' models as they are now (a node with none yet counts with the shared init):
   * what per-node accuracy and the final merge measure. Attackers (`byzantine=`) are left out; a room
   * of attackers only is measured as it is.
   */
  private liveModels(): Float32Array[] {
    const live = this.liveNodes();
    const honest = live.filter((n) => !this.attackers.has(n.id));
    return (honest.length > 0 ? honest : live).map((n) => n.host!.protocol.currentParams() ?? this.sharedInit);
  }

  /** Averages every live node's final model once (exact: the simulator holds them all) and evaluates it. */
  finalMerge(): MergeResult {
    const models = this.liveModels();
    const merged = this.learner.evaluateSync(mean(models), this.evalSet);
    const local = models.map((m) => this.learner.evaluateSync(m, this.evalSet).accuracy);
    return {
      mergedAccuracy: merged.accuracy,
      mergedLoss: merged.loss,
      localAccuracy: local.reduce((a, b) => a + b, 0) / local.length,
      consensusRemoved: consensusDistance(models),
    };
  }

  bytesSent(): number {
    let total = this.retiredBytes;
    for (const n of this.nodes) total += n.host?.stats.bytesSent ?? 0;
    return total;
  }

  private timeLimit(): number {
    const c = this.config;
    // A safety net against a run that never ends, not a schedule: generous on purpose.
    const perRound = Math.max(this.module.roundBudgetMs(c), 30_000);
    return c.rounds * perRound * 10 + 60_000;
  }

  private boot(node: SimNode, bootstrap: NodeId[]): void {
    node.host = bootNode({
      module: this.module,
      config: this.config,
      id: node.id,
      spec: this.learner.spec,
      samples: node.shard.n,
      maxSamples: this.maxShard,
      peers: bootstrap,
      sharedInit: this.sharedInit,
      clock: this.clock,
      transport: this.transportFor(node.id),
      compute: (trainRng) => this.computeFor(node, trainRng),
      keys: (keysRng) => nodeKeyAgreement(keysRng, (run) => this.clock.schedule(0, () => node.host?.running && run())),
      strict: this.options.strict,
      byzantine: this.roles?.get(node.id),
      observer: {
        onAction: (host, action) => this.observe(host, action),
        onError: (host, message) => (this.errors[host.id] = message),
      },
    });
    node.host.roster(bootstrap.filter((p) => p !== node.id), this.module.coordinator ? this.coordinator : undefined);
  }

  private transportFor(id: NodeId): Transport {
    const transport = this.network.attach(id);
    const tamper = this.options.tamper;
    if (!tamper) return transport;
    return { ...transport, send: (to, frame, lane) => tamper(id, to, frame).forEach((f) => transport.send(f.to, f.frame, lane)) };
  }

  /**
   * A virtual node's compute: each request is answered after its virtual time, computeWork(request)
   * × the node's ms per training sample. It runs on the executor with every other request waiting
   * when the first of them is due (see DeferredCompute). The node's optimizer states live here,
   * one map per boot (a rebooted node starts fresh); batch orders continue across reboots.
   */
  private computeFor(node: SimNode, trainRng: Rng): Compute {
    const states: OptimizerStates = new Map();
    return {
      run: (request, done, fail) => {
        const rng = request.kind === 'train' ? trainRng.split(node.trainCount++) : undefined;
        const host = node.host;
        const live = () => host !== null && node.host === host && host.running;
        const outcome = this.deferred.submit({ node: node.index, request, shard: node.shard, rng, states }, live);
        // Deliver when the virtual compute time has passed, so a node that dies first gets nothing.
        this.clock.schedule(computeWork(request, node.shard.n) * node.costPerSample, () => {
          if (!live()) return;
          const o = outcome();
          if (o.ok) done(o.result);
          else fail(o.error);
        });
      },
    };
  }

  private observe(host: NodeHost, action: ProtocolAction): void {
    this.onAction?.(host.id, action, this.clock.now());
    if (action.kind === 'compute' && action.request.kind === 'train') {
      this.trainings.set(host.id, (this.trainings.get(host.id) ?? 0) + 1);
      (this.trainers.get(action.round) ?? this.trainers.set(action.round, new Set()).get(action.round)!).add(host.id);
    }
    if (action.kind === 'send') this.messages[action.msg.type] = (this.messages[action.msg.type] ?? 0) + 1;
    if (action.kind === 'model' && action.scope === 'global' && this.module.evaluates === 'global') {
      if (!this.lastGlobal || action.round > this.lastGlobal.round) {
        this.lastGlobal = { round: action.round, params: action.params };
        this.advanceRound(action.round);
      }
    } else if (action.kind === 'round' && this.module.evaluates === 'nodes') {
      this.nodeRounds.set(host.id, action.round);
      let min = Infinity;
      for (const n of this.liveNodes()) min = Math.min(min, this.nodeRounds.get(n.id) ?? 0);
      if (Number.isFinite(min)) this.advanceRound(min);
    } else if (action.kind === 'done' && host.id === this.coordinator && this.module.evaluates === 'global') {
      // For per-node protocols (gossip, D-PSGD) n0 is no coordinator: the run ends when every live node reached `rounds`.
      this.stopReason ??= 'done';
    }
  }

  private advanceRound(round: number): void {
    while (this.simRound < round && !this.stopReason) {
      this.simRound++;
      const r = this.simRound;
      if (r % this.config.evalEvery === 0 || r === this.config.rounds) this.evaluate(r);
      this.applyChurn(r);
      if (r >= this.config.rounds) this.stopReason ??= 'rounds';
    }
  }

  private evaluate(round: number): void {
    const live = this.liveNodes();
    let accuracy: number;
    let loss: number;
    let minAccuracy: number | undefined;
    let maxAccuracy: number | undefined;
    let consensus = 0;
    let merged: { accuracy: number; loss: number } | undefined;
    if (this.module.evaluates === 'global') {
      const r = this.learner.evaluateSync(this.lastGlobal!.params, this.evalSet);
      accuracy = r.accuracy;
      loss = r.loss;
    } else {
      const models = this.liveModels();
      consensus = consensusDistance(models);
      if (this.merges) merged = this.learner.evaluateSync(mean(models), this.evalSet);
      const results = models.map((m) => this.learner.evaluateSync(m, this.evalSet));
      accuracy = results.reduce((s, r) => s + r.accuracy, 0) / results.length;
      loss = results.reduce((s, r) => s + r.loss, 0) / results.length;
      minAccuracy = Math.min(...results.map((r) => r.accuracy));
      maxAccuracy = Math.max(...results.map((r) => r.accuracy));
    }
    const row: SimRow = {
      round,
      accuracy,
      loss,
      bytesSent: this.bytesSent(),
      simTimeMs: this.clock.now(),
      ...(minAccuracy !== undefined ? { minAccuracy, maxAccuracy } : {}),
      liveNodes: live.length,
      consensus,
      ...(merged ? { mergedAccuracy: merged.accuracy, mergedLoss: merged.loss } : {}),
      wallMs: Date.now() - this.startedAt,
    };
    this.rows.push(row);
    for (const l of this.listeners) l(row);
    if (this.config.target > 0 && accuracy >= this.config.target && !this.reachedTarget) {
      this.reachedTarget = row;
      this.stopReason = 'target';
    }
  }

  private applyChurn(round: number): void {
    const rng = this.root.split('churn').split(round);
    for (const event of this.churn.filter((e) => e.round === round)) {
      if (event.kind === 'fail') {
        // The FedAvg coordinator plays the server and is kept; every other node may fail.
        const candidates = this.liveNodes().filter((n) => !(this.module.coordinator && n.id === this.coordinator));
        const count = Math.round(event.fraction * this.liveNodes().length);
        for (const n of rng.sample(candidates, count)) n.host!.kill();
      } else if (event.kind === 'join') {
        const fresh = this.nodes.filter((n) => !n.host).slice(0, event.count);
        this.bring(fresh);
      } else {
        this.bring(this.nodes.filter((n) => n.host && !n.host.running));
      }
    }
  }

  /** Starts nodes mid-run and tells everyone the new roster, as the signaling server would. */
  private bring(nodes: SimNode[]): void {
    if (nodes.length === 0) return;
    const rosterIds = () => this.liveNodes().map((n) => n.id);
    for (const n of nodes) {
      // A rebooted node gets a fresh host; keep what its old one sent in the totals.
      if (n.host) this.retiredBytes += n.host.stats.bytesSent;
      n.host = null;
      this.boot(n, [...rosterIds(), ...nodes.map((x) => x.id)]);
    }
    const ids = rosterIds();
    for (const n of this.liveNodes()) n.host!.roster(ids.filter((p) => p !== n.id), this.module.coordinator ? this.coordinator : undefined);
    for (const n of nodes) n.host!.start();
  }
}
