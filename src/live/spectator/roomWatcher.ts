import type { FinishedRecord, ServerMessage } from '../../core/signaling/messages.ts';
import { decodeSketch } from '../../core/sketch.ts';
import { consensusDistance } from '../../core/vector.ts';
import { SignalingClient } from '../signaling/signalingClient.ts';

/**
 * A spectator of one room (the projector view): it joins with `spectate`, so it trains nothing,
 * is in no roster and counts as no node. Everything it shows comes from the room itself: the
 * roster, each member's metrics (state, round, accuracy, its model's sketch) and each member's
 * traffic reports, which the server relays to spectators only. With the owner key it may also
 * run the room (start, pause, reset, reconfigure, remove a tab): the server checks that.
 */

export interface WatchedNode {
  id: string;
  name: string;
  state: string;
  role: string;
  round: number;
  accuracy: number | null;
  paused: boolean;
  /** The tab says it attacks ("this tab attacks", or chosen by the room's byzantine=). */
  attacker: boolean;
}

/** One reported transfer: what `from` sent to `to` in its last report interval. */
export interface Transfer {
  from: string;
  to: string;
  bytes: number;
  frames: number;
  /** When this spectator received the report (its own clock, ms): the picture animates from there. */
  at: number;
}

export interface SwarmPoint {
  round: number;
  mean: number;
  min: number;
  max: number;
  /** Consensus distance estimated from the members' sketches (0 for one global model). */
  consensus: number | null;
}

export interface RoomView {
  room: string;
  connected: boolean;
  /** This spectator may run the room (owner key, or it created the room). */
  owns: boolean;
  /** Only when this spectator created the room: the key that makes a tab its owner. */
  ownerKey: string | null;
  config: Record<string, unknown> | null;
  started: boolean;
  paused: boolean;
  coordinator: string | null;
  owner: string | null;
  finished: FinishedRecord | null;
  run: string | null;
  /** Members, oldest first. */
  nodes: WatchedNode[];
  /** Cumulative transfers of this run, per directed pair. */
  edges: { from: string; to: string; bytes: number; frames: number }[];
  swarm: SwarmPoint[];
  /** Refusals from the server (e.g. `not-owner`), by code. */
  refused: Record<string, number>;
  lastError: string | null;
}

/** Transfers kept for drawing (the picture shows the last few seconds). */
const RECENT_TRANSFERS = 2000;

export class RoomWatcher {
  private readonly client: SignalingClient;
  private view: RoomView;
  private readonly names = new Map<string, string>();
  private readonly latest = new Map<string, WatchedNode>();
  private readonly sketches = new Map<string, Float32Array>();
  /** Accuracy reports by round, by node (the swarm chart). */
  private readonly byRound = new Map<number, Map<string, number>>();
  private readonly consensusByRound = new Map<number, number>();
  private readonly pairs = new Map<string, { from: string; to: string; bytes: number; frames: number }>();
  private listeners = new Set<() => void>();
  /** Recent transfers, oldest first: the projector animates them. */
  readonly recent: Transfer[] = [];

  constructor(
    url: string,
    private readonly join: { room: string; secret?: string; ownerKey?: string },
  ) {
    this.client = new SignalingClient(url);
    this.view = emptyView(join.room);
  }

  async connect(): Promise<void> {
    this.client.on((m) => this.onServer(m));
    this.client.onClose(() => this.update({ connected: false }));
    this.client.onReopen(() => this.sendJoin());
    await this.client.connect();
    this.sendJoin();
  }

  private sendJoin(): void {
    const { room, secret, ownerKey } = this.join;
    this.client.send({ type: 'join', room, spectate: true, ...(secret ? { secret } : {}), ...(ownerKey ? { ownerKey } : {}) });
  }

  close(): void {
    this.client.close();
  }

  snapshot(): RoomView {
    return structuredClone(this.view);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- the owner's console (the server refuses these from anyone else, and says so) ----

  start(config?: Record<string, unknown>): void {
    this.client.send({ type: 'start', ...(config ? { config } : {}) });
  }
  pause(paused: boolean): void {
    this.client.send({ type: 'pause', paused });
  }
  reset(): void {
    this.client.send({ type: 'reset' });
  }
  configure(config: Record<string, unknown>): void {
    this.client.send({ type: 'config', config });
  }
  remove(id: string): void {
    this.client.send({ type: 'kick', id });
  }

  private onServer(m: ServerMessage): void {
    switch (m.type) {
      case 'welcome':
        for (const [id, name] of Object.entries(m.names)) this.names.set(id, name);
        this.view.ownerKey = m.ownerKey ?? this.view.ownerKey;
        this.update({ connected: true, owns: m.owns ?? false, config: m.config, started: m.started, paused: m.paused ?? false, coordinator: m.coordinator, owner: m.owner, finished: m.finished, run: m.run });
        this.setRoster(m.peers);
        for (const [id, data] of Object.entries(m.metrics)) this.onMetrics(id, data);
        break;
      case 'roster':
        for (const [id, name] of Object.entries(m.names)) this.names.set(id, name);
        this.update({ coordinator: m.coordinator, owner: m.owner });
        this.setRoster(m.peers);
        break;
      case 'config':
        this.update({ config: m.config });
        break;
      case 'start':
        this.clearRun();
        this.update({ started: true, paused: false, config: m.config, coordinator: m.coordinator, run: m.run, finished: null });
        break;
      case 'reset':
        this.clearRun();
        this.update({ started: false, paused: false, finished: null });
        break;
      case 'paused':
        this.update({ paused: m.paused });
        break;
      case 'finished':
        this.update({ finished: { at: m.at, summary: m.summary } });
        break;
      case 'metrics':
        this.onMetrics(m.from, m.data);
        this.notify();
        break;
      case 'traffic':
        this.onTraffic(m.from, Date.now(), m.edges);
        break;
      case 'error':
        this.view.refused[m.code] = (this.view.refused[m.code] ?? 0) + 1;
        this.update({ lastError: m.message });
        break;
      default:
        break;
    }
  }

  private setRoster(ids: string[]): void {
    this.view.nodes = ids.map((id) => this.latest.get(id) ?? { id, name: this.names.get(id) ?? id, state: 'idle', role: '', round: 0, accuracy: null, paused: false, attacker: false });
    for (const n of this.view.nodes) n.name = this.names.get(n.id) ?? n.name;
    this.notify();
  }

  private onMetrics(from: string, d: Record<string, unknown>): void {
    const accuracy = typeof d.accuracy === 'number' && Number.isFinite(d.accuracy) ? d.accuracy : null;
    const node: WatchedNode = {
      id: from,
      name: this.names.get(from) ?? from,
      state: String(d.state ?? ''),
      role: String(d.role ?? ''),
      round: Math.max(0, Math.min(1e9, Number(d.round) || 0)),
      accuracy,
      paused: d.paused === true,
      attacker: d.attacker === true,
    };
    this.latest.set(from, node);
    const i = this.view.nodes.findIndex((n) => n.id === from);
    if (i >= 0) this.view.nodes[i] = node;
    const sk = decodeSketch(d.sketch);
    if (sk) this.sketches.set(from, sk);
    if (accuracy !== null) {
      const round = node.round;
      const at = this.byRound.get(round) ?? this.byRound.set(round, new Map()).get(round)!;
      at.set(from, accuracy);
      if (this.sketches.size > 1) this.consensusByRound.set(round, consensusDistance([...this.sketches.values()]));
      this.view.swarm = this.swarmPoints();
    }
  }

  private swarmPoints(): SwarmPoint[] {
    const rounds = [...this.byRound.keys()].sort((a, b) => a - b);
    return rounds.map((round) => {
      const values = [...this.byRound.get(round)!.values()];
      return {
        round,
        mean: values.reduce((s, v) => s + v, 0) / values.length,
        min: Math.min(...values),
        max: Math.max(...values),
        consensus: this.consensusByRound.get(round) ?? null,
      };
    });
  }

  private onTraffic(from: string, at: number, edges: [string, number, number][]): void {
    for (const [to, bytes, frames] of edges) {
      this.recent.push({ from, to, bytes, frames, at });
      const key = `${from}>${to}`;
      const p = this.pairs.get(key) ?? this.pairs.set(key, { from, to, bytes: 0, frames: 0 }).get(key)!;
      p.bytes += bytes;
      p.frames += frames;
    }
    if (this.recent.length > RECENT_TRANSFERS) this.recent.splice(0, this.recent.length - RECENT_TRANSFERS);
    this.view.edges = [...this.pairs.values()];
    this.notify();
  }

  private clearRun(): void {
    this.byRound.clear();
    this.consensusByRound.clear();
    this.pairs.clear();
    this.recent.length = 0;
    this.view.swarm = [];
    this.view.edges = [];
  }

  private update(patch: Partial<RoomView>): void {
    Object.assign(this.view, patch);
    this.notify();
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}

function emptyView(room: string): RoomView {
  return { room, connected: false, owns: false, ownerKey: null, config: null, started: false, paused: false, coordinator: null, owner: null, finished: null, run: null, nodes: [], edges: [], swarm: [], refused: {}, lastError: null };
}
