import { parseConfig, configToHash, hashToInput, type Config } from '../core/config.ts';
import { labelHistogram, loadNodeShard, numClassesFor, type NodeShard } from '../core/data/index.ts';
import { MNIST_FEATURES } from '../core/data/mnist.ts';
import { liveSampleBound, ownDataProblem, withOwnData, type OwnDataMode } from '../core/data/ownData.ts';
import type { ModelSpec } from '../core/learn/models.ts';
import type { Split } from '../core/data/types.ts';
import { protocolFor } from '../protocols/index.ts';
import type { NodeId, NodeState, ProtocolAction, ProtocolModule, ProtocolReport } from '../protocols/protocol.ts';
import { bootNode } from '../runtime/bootstrap.ts';
import { tabRole } from '../runtime/byzantine.ts';
import { webCryptoKeys } from './webCryptoKeys.ts';
import type { NodeHost } from '../runtime/host.ts';
import { WallClock } from '../runtime/wallClock.ts';
import type { FinishedRecord, ServerMessage } from '../core/signaling/messages.ts';
import { KICKED_CLOSE_CODE } from '../core/signaling/messages.ts';
import { SignalingClient } from './signaling/signalingClient.ts';
import { TrafficReporter } from './trafficReporter.ts';
import { liveCompute } from './liveCompute.ts';
import { startTraining, type TrainingClient } from './training/trainingClient.ts';
import { DEFAULT_WEBRTC, WebRtcTransport } from './transport/webrtcTransport.ts';
import { consensusDistance } from '../core/vector.ts';
import { modelHash } from '../core/modelHash.ts';
import { decodeSketch, encodeSketch, sketch } from '../core/sketch.ts';
import { finishSummary, summarizeSwarm, type MemberReport, type SwarmSummary } from './swarmSummary.ts';

export interface HistoryPoint {
  round: number;
  accuracy: number;
  loss: number;
  bytesSent: number;
  /** ms since this tab started its run. */
  t: number;
  /**
   * The swarm's consensus distance as this tab saw it at this point: estimated from every
   * member's last sketch (src/core/sketch.ts); 0 for algorithms with one global model.
   */
  consensus?: number;
}

export interface PeerMetrics {
  round: number;
  accuracy: number;
  loss: number;
  bytesSent: number;
  state: string;
  backend: string;
  /** The member says it attacks (its "this tab attacks" box): for the topology and projector views. */
  attacker: boolean;
}

/** The scripting contract: `window.murmuration.snapshot()`. Plain JSON. */
export interface Snapshot {
  nodeId: string | null;
  room: string;
  algo: string;
  role: string;
  state: NodeState;
  round: number;
  backend: string | null;
  /** Why this backend: "auto → cpu: small model (…)", measured speeds, a cached probe, or the link. */
  backendReason: string;
  inWorker: boolean;
  accuracy: number | null;
  loss: number | null;
  /** A hash of the raw bytes of the model `accuracy` was measured on (src/core/modelHash.ts); equal hashes, equal models. */
  modelHash: string | null;
  bytesSent: number;
  bytesReceived: number;
  /** Peers with an open data channel. */
  peers: string[];
  /** Everyone in the room, oldest first (this tab included). */
  roster: string[];
  coordinator: string | null;
  /** Display names by peer id, from the signaling server's welcome/roster (kept for peers that left). */
  names: Record<string, string>;
  /** The run's id, the same in every tab of the room (late joiners too): the server names each run at its start. */
  runId: string | null;
  started: boolean;
  rejectedFrames: number;
  rejected: Record<string, number>;
  nodeIndex: number;
  shardSize: number;
  labelHistogram: number[];
  trainedSamples: number;
  samplesPerSecond: number;
  /** Trainings this tab ran in this run (each ends in at most one update sent: what RQM's ε composes over). */
  trainings: number;
  /** The model's parameter count, once the model is known. */
  paramCount: number | null;
  error: string | null;
  config: Config;
  /** Keys where this tab's link asked for something other than what the room runs (the room wins). */
  overriddenByRoom: string[];
  /** The room's owner (may start, reconfigure, reset), or null while no owner is connected. */
  owner: string | null;
  isOwner: boolean;
  /** The owner's key, on the owner's own tab only: its teacher link carries it. */
  ownerKey: string | null;
  /** Set when the room's run has finished (also for a tab that arrives afterwards). */
  roomFinished: FinishedRecord | null;
  /** This tab's view of the swarm: own numbers plus every member's last report. */
  swarmSummary: SwarmSummary;
  /** The algorithm's own facts as this tab knows them (token: visits per tab, who holds the token), or null. */
  report: ProtocolReport | null;
  /** A message for the user about something the room refused (e.g. only the owner may start). */
  notice: string | null;
  /** The link to the signaling server: `reconnecting` after a drop, until the room took this tab back. */
  connection: 'connecting' | 'online' | 'reconnecting';
  /** Times this tab rejoined its room after its connection dropped. */
  reconnects: number;
  /** The room's owner paused the run: this node holds its events and timers. */
  paused: boolean;
  /** The student's own samples (they never leave the tab; see setOwnData). */
  ownData: OwnDataStatus;
  /** "This tab attacks": from its next start, this tab sends poisoned models (see runtime/byzantine.ts). */
  attacker: boolean;
  history: HistoryPoint[];
  swarm: Record<string, PeerMetrics>;
  log: string[];
}

export interface OwnDataStatus {
  /** Own samples this tab holds (clicked points or drawn digits). */
  samples: number;
  mode: OwnDataMode;
  /** Own samples in the shard of the run going on (0 before a start, or without own data). */
  inRun: number;
  /** Changed after the run started (it keeps the shard it started with): used from the next start on. */
  pending: boolean;
}

/** A tab's own samples, as the student left them. */
export interface OwnData {
  data: Split;
  mode: OwnDataMode;
}

export interface LiveNodeOptions {
  signalUrl: string;
  dataUrl: string;
  preferWorker?: boolean;
  /** An owner key from a teacher link (`?owner=`); else the one this browser kept for the room. */
  ownerKey?: string;
  /** Where owner keys are kept across reloads (the page passes localStorage). */
  keyStore?: Pick<Storage, 'getItem' | 'setItem'>;
}

/** At most one state report per this many ms (the server allows 20 metrics messages a second). */
const STATE_REPORT_MS = 250;
/** How long a coordinator waits for the other members' final reports before recording the run. */
const FINISH_WAIT_MS = 20_000;
/** Keys that are this tab's own business, not the experiment's. */
const LOCAL_KEYS = ['backend', 'hide', 'secret', 'autostart'] as const;

/**
 * A learning node in a tab: signaling client, WebRTC transport, a training worker and the
 * room's protocol, run by the same NodeHost as the simulator's virtual nodes.
 */
export class LiveNode {
  private snap: Snapshot;
  private signaling: SignalingClient;
  private transport: WebRtcTransport | null = null;
  private host: NodeHost | null = null;
  private module: ProtocolModule | null = null;
  private training: TrainingClient | null = null;
  private shard: NodeShard | null = null;
  private prepared: Promise<void> | null = null;
  private readonly clock = new WallClock();
  private listeners = new Set<(s: Snapshot) => void>();
  private startedAt = 0;
  private evaluating = false;
  private pendingEval: { round: number; params: Float32Array } | null = null;
  private lastEvaluatedRound = -1;
  private notifyQueued = false;
  /** The config this tab's link asked for, before the room's replaced it. */
  private readonly linkConfig: Config;
  /** The shard this tab loaded: re-partitioned when the run starts with a different count. */
  private preparedFor: { nodes: number; index: number } | null = null;
  private finishTimer: ReturnType<typeof setTimeout> | null = null;
  /** The room's current run id, from the server (welcome, start). */
  private roomRun: string | null = null;
  private ownSketch: Float32Array | null = null;
  private readonly peerSketches = new Map<string, Float32Array>();
  private finishSent = false;
  /** The student's own samples, and those the training engine holds now (applied at a start only). */
  private own: OwnData | null = null;
  private ownInEngine: OwnData | null = null;
  /**
   * Labels of the rows the engine trains on (the generated shard, or it with or replaced by own
   * samples): their count is the run's sample count. The rows themselves live in the engine.
   */
  private trainLabels: Uint8Array | null = null;

  constructor(
    config: Config,
    private readonly options: LiveNodeOptions,
  ) {
    this.signaling = new SignalingClient(options.signalUrl);
    this.linkConfig = config;
    this.snap = {
      nodeId: null,
      room: config.room,
      algo: config.algo,
      role: 'idle',
      state: 'idle',
      round: 0,
      backend: null,
      backendReason: '',
      inWorker: false,
      accuracy: null,
      loss: null,
      modelHash: null,
      bytesSent: 0,
      bytesReceived: 0,
      peers: [],
      roster: [],
      coordinator: null,
      names: {},
      runId: null,
      started: false,
      rejectedFrames: 0,
      rejected: {},
      nodeIndex: -1,
      shardSize: 0,
      labelHistogram: [],
      trainedSamples: 0,
      samplesPerSecond: 0,
      trainings: 0,
      paramCount: null,
      error: null,
      config,
      overriddenByRoom: [],
      owner: null,
      isOwner: false,
      ownerKey: null,
      roomFinished: null,
      swarmSummary: summarizeSwarm([], config.rounds),
      report: null,
      notice: null,
      connection: 'connecting',
      reconnects: 0,
      paused: false,
      ownData: { samples: 0, mode: 'add', inRun: 0, pending: false },
      attacker: false,
      history: [],
      swarm: {},
      log: [],
    };
  }

  get config(): Config {
    return this.snap.config;
  }

  snapshot(): Snapshot {
    this.refreshStats();
    return structuredClone(this.snap);
  }

  subscribe(listener: (s: Snapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async join(): Promise<void> {
    this.update({ state: 'connecting', connection: 'connecting' });
    this.signaling.on((m) => this.onServer(m));
    this.signaling.onClose((reason, code) => {
      if (this.leaving) return;
      if (code === KICKED_CLOSE_CODE) {
        this.log('removed from the room by its owner');
        this.update({ notice: 'The teacher removed this tab from the room. Open the link again to rejoin.', connection: 'connecting' });
        this.leave();
        return;
      }
      this.log(`signaling closed: ${reason}; reconnecting (data channels stay up)`);
      this.update({ connection: 'reconnecting', notice: 'Lost the connection to the room; reconnecting…' });
    });
    // Back after a drop: rejoin with the resume token, so the room gives this tab its id back and its run carries on.
    this.signaling.onReopen(() => this.sendJoin());
    try {
      await this.signaling.connect();
    } catch (e) {
      this.fail((e as Error).message);
      return;
    }
    this.sendJoin();
  }

  private sendJoin(): void {
    if (this.joinRetry) clearTimeout(this.joinRetry);
    this.joinRetry = null;
    const c = this.snap.config;
    const ownerKey = this.options.ownerKey || this.options.keyStore?.getItem(ownerKeySlot(c.room)) || undefined;
    this.sentOwnerKey = ownerKey ?? null;
    const resume = this.resumeToken ?? undefined;
    this.signaling.send({ type: 'join', room: c.room, ...(c.secret ? { secret: c.secret } : {}), ...(ownerKey ? { ownerKey } : {}), ...(resume ? { resume } : {}), config: roomConfigInput(c) });
  }

  private sentOwnerKey: string | null = null;
  private readonly traffic = new TrafficReporter((edges) => this.signaling.send({ type: 'traffic', edges }));
  /** From the last welcome: presented when rejoining after a drop. */
  private resumeToken: string | null = null;
  private joinRetry: ReturnType<typeof setTimeout> | null = null;
  private leaving = false;
  /** Whether this tab is in its room (between a welcome and a drop). */
  private joined = false;

  /**
   * "This tab attacks": takes effect when this tab's node boots (the next start), since the
   * hook wraps the node's compute port. The room hears it with this tab's metrics.
   */
  setAttacker(on: boolean): void {
    if (this.snap.attacker === on) return;
    this.update({ attacker: on });
    this.log(on ? `this tab will attack (${tabRole(this.snap.config, this.snap.nodeId ?? 'tab').attack!.name}) from its next start` : 'this tab will play fair from its next start');
    if (this.snap.nodeId) this.reportMetrics(this.snap.round, this.snap.accuracy, this.snap.loss);
  }

  /** Starts the room's run; this tab becomes the coordinator where the algorithm has one. */
  requestStart(): void {
    if (this.snap.started || this.snap.roomFinished) return;
    if (!this.snap.isOwner) {
      this.update({ notice: "Only the room's owner can start the run." });
      return;
    }
    // Starting with fewer tabs than planned: split the data over the tabs that are here, and
    // record the true count, so every shard is used and History says how many really ran.
    const nodes = Math.max(1, this.snap.roster.length);
    this.signaling.send({ type: 'start', config: roomConfigInput({ ...this.snap.config, nodes: Math.min(nodes, this.snap.config.nodes) }) });
  }

  /** Owner only: clears the finished run so the same room (same tabs, same links) can run again. */
  requestReset(): void {
    if (!this.snap.isOwner) {
      this.update({ notice: "Only the room's owner can reset the room." });
      return;
    }
    this.signaling.send({ type: 'reset' });
  }

  /** Leaving on purpose (the tab closes): the protocol says goodbye first (MoDeST's LEAVE), then everything stops. */
  leave(): void {
    this.leaving = true;
    this.traffic.stop();
    if (this.joinRetry) clearTimeout(this.joinRetry);
    if (this.finishTimer) clearTimeout(this.finishTimer);
    this.host?.dispatch({ kind: 'stop' });
    this.host?.kill();
    this.transport?.close();
    this.signaling.close();
    this.clock.clearAll();
    this.training?.dispose();
  }

  /**
   * This tab's model, its layout and its training points (for decision-boundary views): `points`
   * from the generated shard (none when training on own samples only), `own` the student's.
   */
  modelView(): { spec: ModelSpec; params: Float32Array; points: Split; own: Split | null } | null {
    const params = this.host?.protocol.currentParams();
    if (!params || !this.training || !this.shard) return null;
    const own = this.ownInEngine;
    const points = own?.mode === 'only' ? { x: new Float32Array(0), y: new Uint8Array(0), n: 0 } : this.shard.dataset.train;
    return { spec: this.training.spec, params, points, own: own?.data ?? null };
  }

  /** The generated shard's training rows, once loaded (the own-data editor draws them for reference). */
  generatedPoints(): Split | null {
    return this.shard?.dataset.train ?? null;
  }

  /**
   * The student's own samples (rows like the dataset's: 2 coordinates, or 784 MNIST pixels in
   * [0, 1]), alone (`only`) or after the generated shard (`add`). They stay in this tab: the
   * training engine reads them, and only model frames leave. Used when a run starts: a run going
   * on keeps the shard (and the sample count its peers were told) it started with.
   */
  setOwnData(data: Split, mode: OwnDataMode): void {
    const c = this.snap.config;
    const problem = ownDataProblem(data, c.dataset === 'mnist' ? MNIST_FEATURES : 2, numClassesFor(c));
    if (problem) throw new RangeError(`own data refused: ${problem}`);
    this.own = { data: { x: data.x.slice(), y: data.y.slice(), n: data.n }, mode };
    // A run (going on or finished) keeps the shard it started with.
    this.update({ ownData: { ...this.snap.ownData, samples: data.n, mode, pending: this.snap.started } });
  }

  /** The student's own samples as last set (a copy), or null. */
  ownData(): OwnData | null {
    return this.own && { data: { x: this.own.data.x.slice(), y: this.own.data.y.slice(), n: this.own.data.n }, mode: this.own.mode };
  }

  /** For tests and demos: send raw bytes to a peer, bypassing the codec (a misbehaving peer). */
  sendRaw(to: NodeId, bytes: Uint8Array): void {
    this.ensureTransport().send(to, bytes);
  }

  private onServer(m: ServerMessage): void {
    switch (m.type) {
      case 'welcome': {
        if (this.snap.nodeId !== null) {
          this.onRejoined(m);
          break;
        }
        this.joined = true;
        this.resumeToken = m.resume ?? null;
        this.update({ connection: 'online', notice: null });
        this.setPaused(m.paused ?? false);
        this.adoptRoomConfig(m.config);
        const roster = [...m.peers, m.id];
        const isOwner = m.owner === m.id;
        const ownerKey = isOwner ? (m.ownerKey ?? this.sentOwnerKey) : null;
        if (ownerKey) this.options.keyStore?.setItem(ownerKeySlot(m.room), ownerKey);
        for (const [id, data] of Object.entries(m.metrics)) this.recordMetrics(id, data);
        this.update({ state: 'idle', nodeId: m.id, roster, coordinator: m.coordinator, owner: m.owner, isOwner, ownerKey, roomFinished: m.finished, names: { ...this.snap.names, ...m.names }, nodeIndex: m.peers.length % this.snap.config.nodes });
        this.iceServers = m.iceServers as RTCIceServer[];
        this.roomRun = m.run;
        if (m.finished) {
          // The run is over: say so and how it ended; there is nothing to train or join.
          this.log(`this room finished at ${new Date(m.finished.at).toLocaleTimeString()}`);
          break;
        }
        this.prepared = this.prepare();
        if (m.started && m.coordinator) void this.begin(m.coordinator);
        else this.maybeAutostart();
        break;
      }
      case 'roster': {
        const left = this.snap.roster.filter((p) => !m.peers.includes(p));
        for (const p of left) this.transport?.forget(p);
        this.update({ roster: m.peers, coordinator: m.coordinator, owner: m.owner, isOwner: m.owner === this.snap.nodeId, names: { ...this.snap.names, ...m.names } });
        this.host?.roster(this.otherPeers(), m.coordinator ?? undefined);
        this.maybeAutostart();
        this.maybeFinish();
        break;
      }
      case 'finished':
        if (this.finishTimer) clearTimeout(this.finishTimer);
        this.finishSent = true;
        this.update({ roomFinished: { at: m.at, summary: m.summary } });
        break;
      case 'reset':
        this.resetRun();
        break;
      case 'paused':
        this.setPaused(m.paused);
        break;
      case 'traffic':
        break;
      case 'signal':
        this.signalHandler?.(m.from, m.data);
        break;
      case 'config':
        if (!this.snap.started) this.adoptRoomConfig(m.config);
        break;
      case 'start':
        this.setPaused(false);
        this.adoptRoomConfig(m.config);
        this.roomRun = m.run;
        void this.begin(m.coordinator);
        break;
      case 'metrics':
        this.recordMetrics(m.from, m.data);
        this.maybeFinish();
        this.notify();
        break;
      case 'error':
        this.log(`signaling error ${m.code}: ${m.message}`);
        if (m.code === 'bad-secret' || m.code === 'room-full' || m.code === 'too-many-rooms') this.fail(m.message);
        if (m.code === 'rate-limited' && !this.joined) this.retryJoin(m.message);
        if (m.code === 'not-owner') this.update({ notice: "Only the room's owner can start, change or reset this room." });
        if (m.code === 'bad-owner-key') this.update({ notice: 'The owner key in this link is not valid for this room; you joined as a member.' });
        break;
      case 'pong':
        break;
    }
  }

  /**
   * A join the server refused for now (too many joins from this address, or with a secret):
   * say so and try again when the server says, instead of sitting at "connecting".
   */
  private retryJoin(message: string): void {
    const seconds = Math.min(600, Math.max(2, Number(/in (\d+) s/.exec(message)?.[1] ?? 5)));
    this.update({ notice: `The server is busy: ${message}. This tab tries again in ${seconds} s.` });
    if (this.joinRetry) clearTimeout(this.joinRetry);
    this.joinRetry = setTimeout(() => this.sendJoin(), seconds * 1000);
  }

  /**
   * The room took this tab back after a dropped connection. With its old id (the server kept it
   * for RESUME_WINDOW), the protocol never stopped: it only needs the roster. With a new id (the
   * window passed), it starts over as a late joiner on the data it already has, without a reload.
   */
  private onRejoined(m: Extract<ServerMessage, { type: 'welcome' }>): void {
    const sameId = m.id === this.snap.nodeId;
    this.joined = true;
    this.resumeToken = m.resume ?? null;
    this.iceServers = m.iceServers as RTCIceServer[];
    for (const [id, data] of Object.entries(m.metrics)) this.recordMetrics(id, data);
    this.log(sameId ? 'back in the room with the same id; the run carries on' : `back in the room as a new member (${m.id}); catching up as a late joiner`);
    const runChanged = this.host !== null && m.run !== this.roomRun;
    if (!sameId || runChanged || (this.host && !m.started)) {
      // Another id, or the run this tab was in is over: drop the old protocol instance.
      this.host?.kill();
      this.host = null;
      this.transport?.close();
      this.transport = null;
      this.earlyFrames = [];
    }
    this.transport?.redialPending();
    this.update({
      nodeId: m.id,
      roster: [...m.peers, m.id],
      coordinator: m.coordinator,
      owner: m.owner,
      isOwner: m.owner === m.id,
      names: { ...this.snap.names, ...m.names },
      roomFinished: m.finished,
      connection: 'online',
      reconnects: this.snap.reconnects + 1,
      notice: null,
      ...(runChanged || (!m.started && this.snap.started) ? { started: false, runId: null } : {}),
    });
    this.roomRun = m.run;
    if (m.finished) return;
    if (m.started && m.coordinator) void this.begin(m.coordinator);
    else this.maybeAutostart();
  }

  /** The owner paused or resumed the room: time stands still for this node's protocol (NodeHost.pause). */
  private setPaused(paused: boolean): void {
    if (paused === this.snap.paused) return;
    this.holdTime(paused);
    this.log(paused ? 'paused by the teacher' : 'resumed by the teacher');
    this.update({ paused });
    this.queueStateReport();
  }

  /** Stops (or restarts) time for this node's protocol: its host holds events, its clock keeps each timer's remaining time. */
  private holdTime(paused: boolean): void {
    if (!this.host) return;
    if (paused) {
      this.host.pause();
      this.clock.pause();
    } else {
      this.clock.resume();
      this.host.resume();
    }
  }

  private iceServers: RTCIceServer[] = [];
  private earlyFrames: [NodeId, Uint8Array][] = [];
  private signalHandler: ((from: NodeId, data: unknown) => void) | null = null;

  private ensureTransport(): WebRtcTransport {
    if (!this.transport) {
      this.transport = new WebRtcTransport(
        this.snap.nodeId!,
        {
          sendSignal: (to, data) => this.signaling.send({ type: 'signal', to, data: data as Record<string, unknown> }),
          onSignal: (handler) => (this.signalHandler = handler),
        },
        // The algorithm says how many links a tab needs (FedAvg's coordinator talks to every sampled client).
        { ...DEFAULT_WEBRTC, iceServers: this.iceServers, maxConnections: protocolFor(this.snap.config.algo).linkBudget(this.snap.config) },
      );
      // Frames can arrive before this tab has built its protocol (the coordinator starts at once); keep them.
      this.transport.onFrame((from, frame) => {
        if (this.earlyFrames.length < 64) this.earlyFrames.push([from, frame]);
      });
      this.transport.onPeersChanged = () => this.notify();
      this.transport.onReject = (from, reason) => this.log(`rejected chunk from ${from}: ${reason}`);
    }
    return this.transport;
  }

  private adoptRoomConfig(config: Record<string, unknown> | null): void {
    if (!config) return;
    try {
      const roomConfig = parseConfig(config as Record<string, string>);
      const keepLocal = Object.fromEntries(LOCAL_KEYS.map((k) => [k, this.snap.config[k]])) as Partial<Config>;
      const next = { ...roomConfig, ...keepLocal } as Config;
      const overriddenByRoom = (Object.keys(next) as (keyof Config)[]).filter((k) => !LOCAL_KEYS.includes(k as (typeof LOCAL_KEYS)[number]) && next[k] !== this.linkConfig[k]);
      this.update({ config: next, algo: roomConfig.algo, overriddenByRoom });
    } catch (e) {
      this.log(`ignored the room's config: ${(e as Error).message}`);
    }
  }

  /** A peer's report, as relayed by the server: a claim, kept as plain numbers and bounded when summarized. */
  private recordMetrics(from: string, d: Record<string, unknown>): void {
    if (from === this.snap.nodeId) return;
    const sk = decodeSketch(d.sketch);
    if (sk) this.peerSketches.set(from, sk);
    this.snap.swarm[from] = {
      round: Number(d.round ?? 0),
      accuracy: Number(d.accuracy ?? NaN),
      loss: Number(d.loss ?? NaN),
      bytesSent: Number(d.bytesSent ?? 0),
      state: String(d.state ?? ''),
      backend: String(d.backend ?? ''),
      attacker: d.attacker === true,
    };
  }

  private otherPeers(): NodeId[] {
    return this.snap.roster.filter((p) => p !== this.snap.nodeId);
  }

  private maybeAutostart(): void {
    const c = this.snap.config;
    if (!c.autostart || this.snap.started || this.snap.roomFinished || !this.snap.nodeId) return;
    if (this.snap.roster.length >= c.nodes && this.snap.isOwner) this.requestStart();
  }

  /** This tab's shard position: its place in the room's roster (oldest first), as of the start. */
  private shardIndex(): number {
    const i = this.snap.roster.indexOf(this.snap.nodeId ?? '');
    return (i < 0 ? this.snap.nodeIndex : i) % this.snap.config.nodes;
  }

  /** Loads this tab's shard and starts its training engine. */
  private async prepare(): Promise<void> {
    const c = this.snap.config;
    this.preparedFor = { nodes: c.nodes, index: this.snap.nodeIndex };
    try {
      this.training?.dispose();
      this.training = null;
      this.ensureTransport();
      this.shard = await loadNodeShard(c, this.snap.nodeIndex, { baseUrl: this.options.dataUrl });
      const d = this.shard.dataset;
      this.ownInEngine = null;
      this.trainLabels = d.train.y;
      this.training = await startTraining(
        { model: c.model, features: d.features, numClasses: d.numClasses, backend: c.backend, batch: c.batch, shard: d.train, evalSet: d.test },
        this.options.preferWorker ?? true,
      );
      this.update({
        backend: this.training.backend,
        backendReason: this.training.backendReason,
        inWorker: this.training.inWorker,
        shardSize: d.train.n,
        labelHistogram: labelHistogram(d.train.y, Int32Array.from({ length: d.train.n }, (_, i) => i), d.numClasses),
      });
      this.log(`shard ${this.snap.nodeIndex}: ${d.train.n} samples; training on ${this.training.backend}${this.training.inWorker ? ' in a worker' : ' in the page'} (${this.training.backendReason})`);
    } catch (e) {
      this.fail(`could not prepare: ${(e as Error).message}`);
      throw e;
    }
  }

  private async begin(coordinator: NodeId): Promise<void> {
    if (this.host) {
      this.host.roster(this.otherPeers(), coordinator);
      return;
    }
    // The run's name, the same in every tab of the room (late joiners too): the server counts the room's starts.
    this.update({ started: true, coordinator, runId: this.snap.runId ?? this.roomRun ?? coordinator, notice: null });
    // Started with fewer (or more) tabs than planned: re-split the data over the tabs that are here.
    const index = this.shardIndex();
    if (this.prepared && this.preparedFor && (this.preparedFor.nodes !== this.snap.config.nodes || this.preparedFor.index !== index)) {
      const before = this.prepared;
      this.snap.nodeIndex = index;
      this.log(`re-partitioning: shard ${index} of ${this.snap.config.nodes}`);
      this.prepared = before.catch(() => undefined).then(() => this.prepare());
    }
    try {
      await this.prepared;
    } catch {
      return;
    }
    try {
      await this.applyOwnData();
    } catch (e) {
      this.fail(`could not train on this tab's own data: ${(e as Error).message}`);
      return;
    }
    if (this.host || !this.training || !this.shard || !this.trainLabels) return;
    const c = this.snap.config;
    const id = this.snap.nodeId!;
    this.module = protocolFor(c.algo);
    const training = this.training;
    this.startedAt = Date.now();
    this.snap.paramCount = training.spec.size;
    this.host = bootNode({
      module: this.module,
      config: c,
      id,
      spec: training.spec,
      samples: this.trainLabels.length,
      // Any tab may have added up to OWN_DATA_CAP own samples: honest counts stay under this bound.
      maxSamples: liveSampleBound(this.shard.maxShard),
      peers: this.otherPeers(),
      clock: this.clock,
      ...(this.snap.attacker ? { byzantine: tabRole(c, id) } : {}),
      transport: this.traffic.wrap(this.ensureTransport()),
      compute: (trainRng) =>
        liveCompute(training, trainRng, (samplesSeen, ms) => {
          this.snap.trainedSamples += samplesSeen;
          this.snap.samplesPerSecond = ms > 0 ? (samplesSeen / ms) * 1000 : 0;
        }),
      keys: () => webCryptoKeys(),
      observer: {
        onAction: (_h, a) => this.onAction(a),
        onReject: (_h, from, reason, detail) => this.log(`rejected ${reason} from ${from}: ${detail}`),
        onError: (_h, message) => this.fail(message),
      },
    });
    this.host.roster(this.otherPeers(), this.snap.coordinator ?? coordinator);
    if (this.snap.paused) this.holdTime(true);
    this.host.start();
    this.traffic.start();
    for (const [from, frame] of this.earlyFrames.splice(0)) this.host.receive(from, frame);
    this.notify();
  }

  /** Gives the training engine the shard this run uses: the generated one, with or without the student's own samples. */
  private async applyOwnData(): Promise<void> {
    if (!this.training || !this.shard) return;
    const d = this.shard.dataset;
    let own = this.own && this.own.data.n > 0 ? this.own : null;
    const problem = own && ownDataProblem(own.data, d.features, d.numClasses);
    if (problem) {
      this.log(`own data not used (${problem}): the room's dataset is not the one it was made for`);
      own = null;
    }
    if (own !== this.ownInEngine) {
      const train = own ? withOwnData(d.train, own.data, own.mode) : d.train;
      await this.training.setShard(train);
      this.ownInEngine = own;
      this.trainLabels = train.y;
      if (own) this.log(`training on ${own.mode === 'only' ? `own samples only (${own.data.n})` : `the generated shard (${d.train.n}) and ${own.data.n} own samples`}`);
    }
    const labels = this.trainLabels ?? d.train.y;
    this.update({
      shardSize: labels.length,
      labelHistogram: labelHistogram(labels, Int32Array.from({ length: labels.length }, (_, i) => i), d.numClasses),
      ownData: { ...this.snap.ownData, inRun: own?.data.n ?? 0, pending: false },
    });
  }

  private onAction(a: ProtocolAction): void {
    switch (a.kind) {
      case 'state':
        this.update({ state: a.state, ...(a.role ? { role: a.role } : {}) });
        this.queueStateReport();
        break;
      case 'round':
        this.update({ round: Math.max(this.snap.round, a.round) });
        if (this.module?.evaluates === 'nodes') {
          const params = this.host?.protocol.currentParams();
          if (params) this.queueEval(a.round, params);
        }
        break;
      case 'model':
        if (a.scope === 'global' || this.module?.evaluates === 'nodes') {
          this.update({ round: Math.max(this.snap.round, a.round) });
          this.queueEval(a.round, a.params);
        }
        break;
      case 'done':
        this.update({ state: 'done' });
        // Report "done" with the final model's numbers: if its evaluation is still running, that report follows it.
        if (!this.evaluating && !this.pendingEval) this.reportMetrics(this.snap.round, this.snap.accuracy, this.snap.loss);
        this.maybeFinish();
        break;
      case 'log':
        this.log(a.text);
        break;
      case 'compute':
        if (a.request.kind === 'train') this.update({ trainings: this.snap.trainings + 1 });
        break;
      default:
        break;
    }
  }

  /** Evaluates the newest model, skipping ones superseded while the worker was busy. */
  private queueEval(round: number, params: Float32Array): void {
    if (round <= this.lastEvaluatedRound) return;
    this.pendingEval = { round, params };
    if (this.evaluating) return;
    void this.drainEval();
  }

  private async drainEval(): Promise<void> {
    this.evaluating = true;
    while (this.pendingEval && this.training) {
      const { round, params } = this.pendingEval;
      this.pendingEval = null;
      if (round <= this.lastEvaluatedRound) continue;
      try {
        // Hashed before the await: these are the bytes the accuracy below belongs to.
        const hash = modelHash(params);
        const r = await this.training.evaluate(params);
        this.lastEvaluatedRound = round;
        this.refreshStats();
        this.ownSketch = sketch(params, this.snap.config.seed);
        this.snap.history.push({ round, accuracy: r.accuracy, loss: r.loss, bytesSent: this.snap.bytesSent, t: Date.now() - this.startedAt, consensus: this.estimateConsensus() });
        this.update({ accuracy: r.accuracy, loss: r.loss, modelHash: hash });
        this.reportMetrics(round, r.accuracy, r.loss);
      } catch (e) {
        this.log(`evaluation failed: ${(e as Error).message}`);
      }
    }
    this.evaluating = false;
    this.maybeFinish();
  }

  /**
   * A state change (training, waiting, aggregating…) is reported too, at most every
   * STATE_REPORT_MS, so the projector colours every node by what it is doing now.
   */
  private queueStateReport(): void {
    if (this.stateReport) return;
    this.stateReport = setTimeout(() => {
      this.stateReport = null;
      if (!this.leaving) this.reportMetrics(this.snap.round, this.snap.accuracy, this.snap.loss);
    }, STATE_REPORT_MS);
  }

  private stateReport: ReturnType<typeof setTimeout> | null = null;

  /** This tab's numbers for everyone else's room table and swarm chart (relayed by the server). */
  private reportMetrics(round: number, accuracy: number | null, loss: number | null): void {
    this.refreshStats();
    this.signaling.send({
      type: 'metrics',
      data: {
        round,
        // Only finite numbers: NaN would travel as null, which the server's schema refuses.
        ...(accuracy !== null && Number.isFinite(accuracy) ? { accuracy } : {}),
        ...(loss !== null && Number.isFinite(loss) ? { loss } : {}),
        bytesSent: this.snap.bytesSent,
        state: this.snap.state,
        role: this.snap.role,
        paused: this.snap.paused,
        attacker: this.snap.attacker,
        backend: this.snap.backend ?? '',
        ...(this.ownSketch ? { sketch: encodeSketch(this.ownSketch) } : {}),
      },
    });
  }

  /** Consensus distance over the members' latest sketches (this tab's included); 0 with one global model. */
  private estimateConsensus(): number {
    if (!this.module || this.module.evaluates === 'global' || !this.ownSketch) return 0;
    const sketches = [this.ownSketch];
    for (const id of this.otherPeers()) {
      const sk = this.peerSketches.get(id);
      if (sk) sketches.push(sk);
    }
    return consensusDistance(sketches);
  }

  /**
   * The coordinator records how the run ended, once: when this tab is done with its final model
   * evaluated and every other member reports done, or FINISH_WAIT_MS after its own end.
   */
  private maybeFinish(): void {
    const s = this.snap;
    if (this.finishSent || s.state !== 'done' || s.roomFinished || !s.nodeId) return;
    const recorder = s.coordinator ?? s.owner;
    if (recorder !== s.nodeId) return;
    if (this.evaluating || this.pendingEval) return;
    const others = this.otherPeers();
    const allDone = others.every((p) => s.swarm[p]?.state === 'done');
    if (!allDone && !this.finishTimer) {
      this.finishTimer = setTimeout(() => {
        this.finishTimer = null;
        this.sendFinish();
      }, FINISH_WAIT_MS);
    }
    if (allDone) this.sendFinish();
  }

  private sendFinish(): void {
    if (this.finishSent || this.snap.roomFinished) return;
    if (this.finishTimer) clearTimeout(this.finishTimer);
    this.finishTimer = null;
    const summary = finishSummary(this.snap.algo, this.currentSwarmSummary(), Date.now() - this.startedAt);
    if (!summary) return;
    this.finishSent = true;
    this.signaling.send({ type: 'finish', summary });
  }

  private currentSwarmSummary(): SwarmSummary {
    const s = this.snap;
    const members: MemberReport[] = [{ round: s.round, accuracy: s.accuracy, loss: s.loss, state: s.state }];
    for (const id of s.roster) {
      const m = s.swarm[id];
      if (id === s.nodeId || !m) continue;
      members.push({ round: m.round, accuracy: Number.isFinite(m.accuracy) ? m.accuracy : null, loss: Number.isFinite(m.loss) ? m.loss : null, state: m.state });
    }
    return summarizeSwarm(members, s.config.rounds);
  }

  /** The owner reset the room: back to "not started", keeping the room, the links and the loaded data. */
  private resetRun(): void {
    if (this.finishTimer) clearTimeout(this.finishTimer);
    this.finishTimer = null;
    this.finishSent = false;
    this.host?.kill(); // also closes the data channels; the next run dials again
    this.host = null;
    this.module = null;
    // A reset (or a new start) also ends a pause: the server clears it with the run.
    this.clock.resume();
    this.snap.paused = false;
    this.transport = null;
    this.earlyFrames = [];
    this.pendingEval = null;
    this.lastEvaluatedRound = -1;
    this.snap.history = [];
    this.snap.swarm = {};
    this.ownSketch = null;
    this.peerSketches.clear();
    this.update({ started: false, runId: null, state: 'idle', role: 'idle', round: 0, accuracy: null, loss: null, modelHash: null, roomFinished: null, notice: null, trainedSamples: 0, trainings: 0, ownData: { ...this.snap.ownData, inRun: 0, pending: false } });
    this.ensureTransport();
    this.log('the owner reset the room');
    this.maybeAutostart();
  }

  private refreshStats(): void {
    const h = this.host?.stats;
    const t = this.transport?.stats;
    const rejected: Record<string, number> = { ...(h?.rejected ?? {}) };
    for (const [k, v] of Object.entries(t?.rejected ?? {})) rejected[`chunk: ${k}`] = v;
    this.snap.bytesSent = h?.bytesSent ?? 0;
    this.snap.bytesReceived = h?.bytesReceived ?? 0;
    this.snap.rejected = rejected;
    this.snap.rejectedFrames = Object.values(rejected).reduce((s, v) => s + v, 0);
    this.snap.peers = this.transport?.connectedPeers() ?? [];
    this.snap.swarmSummary = this.currentSwarmSummary();
    this.snap.report = this.host?.protocol.report?.() ?? null;
  }

  private fail(message: string): void {
    this.log(`error: ${message}`);
    this.update({ state: 'error', error: message });
  }

  private log(text: string): void {
    this.snap.log.push(`${new Date().toISOString().slice(11, 19)} ${text}`);
    if (this.snap.log.length > 200) this.snap.log.splice(0, this.snap.log.length - 200);
    this.notify();
  }

  private update(patch: Partial<Snapshot>): void {
    Object.assign(this.snap, patch);
    this.notify();
  }

  /** Coalesces bursts of changes into one listener call per microtask. */
  private notify(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      if (this.listeners.size === 0) return;
      const s = this.snapshot();
      for (const l of this.listeners) l(s);
    });
  }
}

function ownerKeySlot(room: string): string {
  return `murmuration.ownerKey.${room}`;
}

/** The config as the room stores it: string values, and never the room secret (the server strips it too). */
function roomConfigInput(c: Config): Record<string, unknown> {
  const input = hashToInput(configToHash(c)) as Record<string, unknown>;
  delete input.secret;
  return input;
}
