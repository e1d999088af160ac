import SimplePeer from 'simple-peer/simplepeer.min.js';
import type { Instance as Peer, SignalData } from 'simple-peer';
import { Reassembler, splitFrame } from '../../core/wire/chunks.ts';
import type { NodeId } from '../../protocols/protocol.ts';
import type { Transport } from '../../runtime/ports.ts';

/** Carries SDP and ICE between two peers: the signaling server's relay. */
export interface SignalRelay {
  sendSignal(to: NodeId, data: unknown): void;
  onSignal(handler: (from: NodeId, data: unknown) => void): void;
}

export interface WebRtcOptions {
  /** Open connections kept at most; idle ones are closed, least recently used first. */
  maxConnections: number;
  connectTimeoutMs: number;
  maxFrameBytes: number;
  iceServers: RTCIceServer[];
}

export const DEFAULT_WEBRTC: WebRtcOptions = {
  maxConnections: 12,
  connectTimeoutMs: 15000,
  maxFrameBytes: 64 * 1024 * 1024,
  iceServers: [],
};

export interface TransportStats {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  chunksSent: number;
  connectionsOpened: number;
  connectionsClosed: number;
  evicted: number;
  /** Frames given up on (peer gone, connect timeout), by reason. */
  dropped: Record<string, number>;
  /** Chunks that failed reassembly, by reason. */
  rejected: Record<string, number>;
}

interface Connection {
  remote: NodeId;
  peer: Peer;
  initiator: boolean;
  open: boolean;
  chunkBytes: number;
  queue: Uint8Array[];
  reassembler: Reassembler;
  lastUsed: number;
  timeout: ReturnType<typeof setTimeout> | null;
  waitingForDrain: boolean;
}

/** Chunks wait in the channel's buffer up to HIGH; below LOW the pump resumes. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
const DEFAULT_CHUNK = 64 * 1024;
const MAX_CHUNK = 256 * 1024;

/**
 * The live transport: one simple-peer data channel per peer, opened on demand when a
 * frame is first sent, with a cap on open connections. Frames are chunked to the
 * channel's max message size, paced by `bufferedAmountLowThreshold`, and reassembled with
 * length checks. A vanished peer costs its queued frames; the next send dials again.
 */
export class WebRtcTransport implements Transport {
  readonly stats: TransportStats = {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    chunksSent: 0,
    connectionsOpened: 0,
    connectionsClosed: 0,
    evicted: 0,
    dropped: {},
    rejected: {},
  };
  private readonly connections = new Map<NodeId, Connection>();
  private handler: (from: NodeId, frame: Uint8Array) => void = () => {};
  private nextMessageId = 1;
  private closed = false;
  onReject: ((from: NodeId, reason: string) => void) | null = null;
  onPeersChanged: (() => void) | null = null;

  constructor(
    readonly self: NodeId,
    private readonly relay: SignalRelay,
    private readonly options: WebRtcOptions = DEFAULT_WEBRTC,
  ) {
    relay.onSignal((from, data) => this.onSignal(from, data as SignalData));
  }

  send(to: NodeId, frame: Uint8Array): void {
    if (this.closed || to === this.self) return;
    const conn = this.connections.get(to) ?? this.dial(to, true);
    conn.lastUsed = Date.now();
    this.stats.framesSent++;
    this.stats.bytesSent += frame.byteLength;
    if (conn.open) conn.queue.push(...splitFrame(frame, this.nextMessageId++, conn.chunkBytes));
    else conn.queue.push(frame); // chunked once the channel's max message size is known
    this.pump(conn);
  }

  onFrame(handler: (from: NodeId, frame: Uint8Array) => void): void {
    this.handler = handler;
  }

  /** Peers with an open data channel. */
  connectedPeers(): NodeId[] {
    return [...this.connections.values()].filter((c) => c.open).map((c) => c.remote).sort();
  }

  /** Drops the connection to a peer that left the room. */
  forget(peer: NodeId): void {
    const conn = this.connections.get(peer);
    if (conn) this.teardown(conn, 'peer-left');
  }

  close(): void {
    this.closed = true;
    for (const conn of [...this.connections.values()]) this.teardown(conn, 'closed');
  }

  private dial(remote: NodeId, initiator: boolean): Connection {
    this.makeRoom();
    const peer = new SimplePeer({ initiator, trickle: true, config: { iceServers: this.options.iceServers } });
    const conn: Connection = {
      remote,
      peer,
      initiator,
      open: false,
      chunkBytes: DEFAULT_CHUNK,
      queue: [],
      reassembler: new Reassembler({ maxFrameBytes: this.options.maxFrameBytes, maxPartial: 4 }),
      lastUsed: Date.now(),
      timeout: null,
      waitingForDrain: false,
    };
    conn.timeout = setTimeout(() => {
      if (!conn.open) this.teardown(conn, 'connect-timeout');
    }, this.options.connectTimeoutMs);
    peer.on('signal', (data: SignalData) => this.relay.sendSignal(remote, data));
    peer.on('connect', () => this.onOpen(conn));
    peer.on('data', (chunk: Uint8Array) => this.onChunk(conn, chunk));
    peer.on('close', () => this.teardown(conn, 'closed-by-peer'));
    peer.on('error', () => this.teardown(conn, 'connection-error'));
    this.connections.set(remote, conn);
    this.stats.connectionsOpened++;
    return conn;
  }

  private onSignal(from: NodeId, data: SignalData): void {
    if (this.closed || !data || typeof data !== 'object') return;
    let conn = this.connections.get(from);
    if (data.type === 'offer' && conn && conn.initiator && !conn.open) {
      // Both sides dialled at once: the smaller id keeps its offer, the other yields.
      if (this.self < from) return;
      const queued = conn.queue;
      this.teardown(conn, 'glare', false);
      conn = this.dial(from, false);
      conn.queue = queued;
    } else if (!conn) {
      if (data.type !== 'offer') return; // a late candidate for a connection we dropped
      conn = this.dial(from, false);
    }
    try {
      conn.peer.signal(data);
    } catch {
      this.teardown(conn, 'bad-signal');
    }
  }

  private onOpen(conn: Connection): void {
    conn.open = true;
    if (conn.timeout) clearTimeout(conn.timeout);
    conn.timeout = null;
    const internals = conn.peer as unknown as { _pc?: RTCPeerConnection; _channel?: RTCDataChannel };
    const max = internals._pc?.sctp?.maxMessageSize;
    conn.chunkBytes = max && max > 0 ? Math.min(max, MAX_CHUNK) : DEFAULT_CHUNK;
    const channel = internals._channel;
    if (channel) {
      channel.bufferedAmountLowThreshold = LOW_WATER;
      channel.addEventListener('bufferedamountlow', () => {
        conn.waitingForDrain = false;
        this.pump(conn);
      });
    }
    // Frames queued before the channel opened are whole; chunk them now.
    conn.queue = conn.queue.flatMap((frame) => splitFrame(frame, this.nextMessageId++, conn.chunkBytes));
    this.onPeersChanged?.();
    this.pump(conn);
  }

  private pump(conn: Connection): void {
    if (!conn.open || conn.waitingForDrain) return;
    const channel = (conn.peer as unknown as { _channel?: RTCDataChannel })._channel;
    while (conn.queue.length > 0) {
      if (channel && channel.bufferedAmount > HIGH_WATER) {
        conn.waitingForDrain = true;
        return;
      }
      const chunk = conn.queue.shift()!;
      try {
        conn.peer.send(chunk);
        this.stats.chunksSent++;
      } catch {
        this.teardown(conn, 'send-failed');
        return;
      }
    }
  }

  private onChunk(conn: Connection, chunk: Uint8Array): void {
    conn.lastUsed = Date.now();
    const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk as ArrayBuffer);
    const result = conn.reassembler.push(bytes);
    if (result.kind === 'frame') {
      this.stats.framesReceived++;
      this.handler(conn.remote, result.frame);
    } else if (result.kind === 'error') {
      this.stats.rejected[result.reason] = (this.stats.rejected[result.reason] ?? 0) + 1;
      this.onReject?.(conn.remote, result.reason);
    }
  }

  /** Keeps open connections under the cap by closing the least recently used idle one. */
  private makeRoom(): void {
    if (this.connections.size < this.options.maxConnections) return;
    const idle = [...this.connections.values()].filter((c) => c.open && c.queue.length === 0 && c.reassembler.inFlight === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    if (idle[0]) {
      this.stats.evicted++;
      this.teardown(idle[0], 'evicted');
    }
  }

  private teardown(conn: Connection, reason: string, notify = true): void {
    if (this.connections.get(conn.remote) !== conn) return;
    this.connections.delete(conn.remote);
    this.stats.connectionsClosed++;
    if (conn.timeout) clearTimeout(conn.timeout);
    if (conn.queue.length > 0 && reason !== 'glare') this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + conn.queue.length;
    conn.queue = [];
    try {
      conn.peer.destroy();
    } catch {
      /* already gone */
    }
    if (notify) this.onPeersChanged?.();
  }
}
