import SimplePeer from 'simple-peer/simplepeer.min.js';
import type { Instance as Peer, SignalData } from 'simple-peer';
import { DEFAULT_PARTIAL_TIMEOUT_MS, Reassembler, splitFrame, type ChunkRejectReason } from '../../core/wire/chunks.ts';
import type { NodeId } from '../../protocols/protocol.ts';
import type { Lane, Transport } from '../../runtime/ports.ts';
import { LaneQueue } from './laneQueue.ts';

/** Carries SDP and ICE between two peers: the signaling server's relay. */
export interface SignalRelay {
  sendSignal(to: NodeId, data: unknown): void;
  onSignal(handler: (from: NodeId, data: unknown) => void): void;
}

export interface WebRtcOptions {
  /** Open connections kept at most; idle ones are closed, least recently used first. */
  maxConnections: number;
  connectTimeoutMs: number;
  /** Largest frame a peer may announce in a chunk header; bigger ones are rejected (`too-big`) before any byte is kept. */
  maxFrameBytes: number;
  /** Bytes of unfinished messages kept per link (all of them together); beyond it the message is rejected (`buffered-bytes`). */
  maxBufferedBytes: number;
  /** An unfinished message that gets no chunk for this long is dropped and counted (`expired`); its link may then be evicted. */
  partialTimeoutMs: number;
  iceServers: RTCIceServer[];
}

/**
 * The largest frame we send is a cnn model: 1,663,370 f32 parameters, about 6.7 MB. 16 MiB holds
 * two such vectors plus headers (a message with the model and a second model-sized vector, like a
 * control variate), and stops a header from claiming up to 4 GiB. An honest peer sends the chunks
 * of one frame back to back on an ordered channel, so one link never needs more than one frame in
 * flight: the per-link byte cap is one maximal frame.
 */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export const DEFAULT_WEBRTC: WebRtcOptions = {
  maxConnections: 12,
  connectTimeoutMs: 15000,
  maxFrameBytes: MAX_FRAME_BYTES,
  maxBufferedBytes: MAX_FRAME_BYTES,
  partialTimeoutMs: DEFAULT_PARTIAL_TIMEOUT_MS,
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
  /** Chunks that failed reassembly and unfinished messages that expired, by reason (a fixed set: `ChunkRejectReason`). */
  rejected: Record<string, number>;
}

interface Connection {
  remote: NodeId;
  peer: Peer;
  initiator: boolean;
  open: boolean;
  chunkBytes: number;
  /** Whole frames until the channel opens, then chunks; control frames' ahead of models' (LaneQueue). */
  queue: LaneQueue<Uint8Array>;
  reassembler: Reassembler;
  lastUsed: number;
  /** When this side created the link (for glare: an offer unanswered this long was probably lost). */
  dialedAt: number;
  timeout: ReturnType<typeof setTimeout> | null;
  waitingForDrain: boolean;
}

/** Chunks wait in the channel's buffer up to HIGH; below LOW the pump resumes. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
const DEFAULT_CHUNK = 64 * 1024;
/** How long a dial waits for its answer before a crossing offer from the peer wins the glare. */
const GLARE_PATIENCE_MS = 3000;
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
  private sweeper: ReturnType<typeof setInterval> | null = null;
  onReject: ((from: NodeId, reason: ChunkRejectReason, detail: string) => void) | null = null;
  onPeersChanged: (() => void) | null = null;

  constructor(
    readonly self: NodeId,
    private readonly relay: SignalRelay,
    private readonly options: WebRtcOptions = DEFAULT_WEBRTC,
  ) {
    relay.onSignal((from, data) => this.onSignal(from, data as SignalData));
    // Unfinished messages on a link that went quiet are dropped even if no chunk ever comes again.
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, options.partialTimeoutMs / 2));
    (this.sweeper as { unref?: () => void }).unref?.();
  }

  send(to: NodeId, frame: Uint8Array, lane: Lane = 'bulk'): void {
    if (this.closed || to === this.self) return;
    const conn = this.connections.get(to) ?? this.dial(to, true);
    conn.lastUsed = Date.now();
    this.stats.framesSent++;
    this.stats.bytesSent += frame.byteLength;
    if (conn.open) conn.queue.push(splitFrame(frame, this.nextMessageId++, conn.chunkBytes), lane);
    else conn.queue.push([frame], lane); // chunked once the channel's max message size is known
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

  /**
   * Our signaling came back after a drop: offers and candidates sent meanwhile were lost, so links
   * still being dialled would only time out. Dial them again, with the frames they hold.
   */
  redialPending(): void {
    for (const conn of [...this.connections.values()]) {
      if (conn.open) continue;
      const queued = conn.queue.take();
      this.teardown(conn, 'redial', false);
      if (queued.length === 0) continue;
      this.dial(conn.remote, true).queue = queued;
    }
  }

  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
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
      queue: new LaneQueue(),
      reassembler: new Reassembler({
        maxFrameBytes: this.options.maxFrameBytes,
        maxPartial: 4,
        maxBufferedBytes: this.options.maxBufferedBytes,
        partialTimeoutMs: this.options.partialTimeoutMs,
      }),
      lastUsed: Date.now(),
      dialedAt: Date.now(),
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
      // Both sides dialled at once: the smaller id keeps its offer, the other yields. Unless ours
      // went unanswered for a while: then it was probably lost (sent while our signaling was
      // down), the peer never saw it, and waiting would only end in a connect timeout.
      if (this.self < from && Date.now() - conn.dialedAt < GLARE_PATIENCE_MS) return;
      conn = this.redial(conn);
    } else if (data.type === 'offer' && conn) {
      // A fresh offer on a link we hold (open, or one we were answering): the peer dropped its
      // side, for example after its signaling reconnected, and dials again. Our side is stale and
      // would never carry a frame again; answer the new offer on a new connection.
      conn = this.redial(conn);
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

  /**
   * Replaces a link by an answering one. Whole frames queued on a link that never opened wait for
   * the new one; chunks queued on an open link belong to messages the peer's new side cannot
   * reassemble, so they are dropped and counted (`replaced`).
   */
  private redial(conn: Connection): Connection {
    const queued = conn.open ? new LaneQueue<Uint8Array>() : conn.queue.take();
    this.teardown(conn, conn.open ? 'replaced' : 'glare', false);
    const fresh = this.dial(conn.remote, false);
    fresh.queue = queued;
    return fresh;
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
    conn.queue.expand((frame) => splitFrame(frame, this.nextMessageId++, conn.chunkBytes));
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
    const now = Date.now();
    conn.lastUsed = now;
    this.expire(conn, now);
    const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk as ArrayBuffer);
    const result = conn.reassembler.push(bytes, now);
    if (result.kind === 'frame') {
      this.stats.framesReceived++;
      this.handler(conn.remote, result.frame);
    } else if (result.kind === 'error') {
      this.reject(conn, result.reason, result.detail);
    }
  }

  private reject(conn: Connection, reason: ChunkRejectReason, detail: string): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.onReject?.(conn.remote, reason, detail);
  }

  /** Drops (and counts) the link's unfinished messages that are past their deadline. */
  private expire(conn: Connection, now: number): void {
    for (const m of conn.reassembler.expire(now)) {
      this.reject(conn, 'expired', `message ${m.id}: ${m.received} of ${m.declared} bytes, no chunk for ${this.options.partialTimeoutMs} ms`);
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const conn of this.connections.values()) this.expire(conn, now);
  }

  /**
   * Keeps open connections under the cap by closing the least recently used idle one. A link
   * whose unfinished messages are all past their deadline counts as idle: a peer that stopped
   * half way through a message cannot pin its link (the dropped messages are counted).
   */
  private makeRoom(): void {
    if (this.connections.size < this.options.maxConnections) return;
    const now = Date.now();
    const idle = [...this.connections.values()]
      .filter((c) => c.open && c.queue.length === 0 && c.reassembler.isStale(now))
      .sort((a, b) => a.lastUsed - b.lastUsed);
    if (idle[0]) {
      this.expire(idle[0], now);
      this.stats.evicted++;
      this.teardown(idle[0], 'evicted');
    }
  }

  private teardown(conn: Connection, reason: string, notify = true): void {
    if (this.connections.get(conn.remote) !== conn) return;
    this.connections.delete(conn.remote);
    this.stats.connectionsClosed++;
    if (conn.timeout) clearTimeout(conn.timeout);
    if (conn.queue.length > 0 && reason !== 'glare' && reason !== 'redial') this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + conn.queue.length;
    conn.queue.take();
    try {
      conn.peer.destroy();
    } catch {
      /* already gone */
    }
    if (notify) this.onPeersChanged?.();
  }
}
