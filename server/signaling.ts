import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { addressKey } from './clientAddress.ts';
import { z } from 'zod';
import {
  KICKED_CLOSE_CODE,
  MAX_SPECTATORS,
  CLIENT_MESSAGE_TYPES,
  ClientMessageSchema,
  jsonShape,
  MAX_JSON_DEPTH,
  MAX_JSON_MEMBERS,
  MESSAGE_LIMITS,
  withoutSecrets,
  type ClientMessage,
  type ClientMessageOf,
  type ErrorCode,
  type FinishedRecord,
  type IceServer,
  type ServerMessage,
} from '../src/core/signaling/messages.ts';

export { addressKey };

/**
 * The signaling server: rooms, peer ids, SDP/ICE relay, roster, start and metrics fan-out.
 * Browser tabs only use it to find each other; model weights travel peer to peer over WebRTC.
 *
 * Every input is untrusted: each frame is size-checked, its keys and depth counted on the raw
 * text (so a costly message is refused before it is parsed), then parsed and schema-validated;
 * any problem is answered with an `error` message and counted, never thrown. A socket that keeps
 * misbehaving is closed with 1008; one that does not join in time is closed too. Each client
 * address has its own caps on open sockets, rooms created and secret guesses, so one host cannot
 * take the server's global limits for itself. No message ever leaves the sender's room.
 *
 * Room rules (owner, names, secrets, metrics replay, finish and reset) are described with the
 * messages in src/core/signaling/messages.ts.
 */

export interface SignalingOptions {
  /** URL path the WebSocket endpoint answers on. */
  path?: string;
  /** Largest accepted message (bytes). Frames up to 2× this get a `too-big` reply; larger ones close the socket (ws `maxPayload`, code 1009). */
  maxMessageBytes?: number;
  maxPeersPerRoom?: number;
  maxRooms?: number;
  /** Open sockets (joined or not); further upgrades get HTTP 503. */
  maxConnections?: number;
  /** Open sockets from one client address (an IPv6 /64 counts as one); further upgrades from it get HTTP 429. */
  maxConnectionsPerAddress?: number;
  /** Rooms that sockets from one client address created and that still exist; more get `too-many-rooms`. */
  maxRoomsPerAddress?: number;
  /** A socket that is not in a room this long after connecting (or after leaving one) is closed with 1008 'join timeout'. */
  joinTimeoutMs?: number;
  /** Joins with a secret that create a room (guesses, as far as the server can tell) one client address may make per window before a lockout. */
  secretAttemptsPerAddress?: number;
  /** The same, per room name, from all addresses together. */
  secretAttemptsPerRoom?: number;
  /** The window those attempts are counted in (ms). */
  secretWindowMs?: number;
  /** How long an address or a room name stays locked (ms): every join with a secret from it or to it is refused, unless it presents the owner key. */
  secretLockoutMs?: number;
  /** Handed to every peer in `welcome` so all tabs use the same STUN/TURN servers. */
  iceServers?: IceServer[];
  /** Ping interval; a socket that has not answered the previous ping is terminated. */
  heartbeatMs?: number;
  /** How long a member whose connection dropped can come back with its resume token and keep its id and name. */
  resumeWindowMs?: number;
  /** Error replies a socket may collect (they leak away at 1/s) before it is closed with 1008. */
  maxErrors?: number;
  /** Per-peer `metrics` rate (messages/s, also the burst size). */
  metricsPerSecond?: number;
  /** Per-peer rate for all messages (messages/s); the burst is 2 s worth, enough for a newcomer's offers to a full room. */
  messagesPerSecond?: number;
  /**
   * Per-socket byte budget (bytes/s of incoming messages). A socket over budget is not answered
   * with errors: the server stops reading it until the budget refills, so TCP slows the sender down
   * and its bytes cost no CPU meanwhile.
   */
  bytesPerSecond?: number;
  /** Bytes a socket may send at once before the byte budget applies. */
  byteBurst?: number;
  /** A peer whose outgoing buffer grows past this (it stopped reading) is terminated rather than buffered without bound. */
  maxBufferedBytes?: number;
  /** Finished rooms remembered after they empty (oldest forgotten first). */
  maxFinishedRooms?: number;
  /** How long a finished room that emptied is remembered (ms). */
  finishedTtlMs?: number;
  /** Attach to this HTTP server right away (same as calling `attach`). */
  server?: HttpServer;
  log?: (line: string) => void;
}

export interface SignalingStats {
  rooms: number;
  /** Joined peers. */
  peers: number;
  /** Open sockets, joined or not. */
  connections: number;
  /** Finished rooms that emptied and are remembered for late visitors. */
  finishedRooms: number;
  /** Distinct client addresses with open sockets. */
  addresses: number;
  /** Rejections by error code (plus `too-many-connections` and `too-many-connections-from-address` for refused upgrades). */
  rejected: Record<string, number>;
  /** Sockets closed by the server, by reason: `abuse`, `too-big`, `dead`, `slow`, `idle` (did not join in time). */
  closed: Record<string, number>;
  /** Times a socket went over its byte budget and was read more slowly. */
  throttled: number;
  /** Joins with a secret that created a room while another room of that name existed (someone may be guessing). */
  secretMisses: number;
  /** Client addresses and room names locked out of joins with a secret right now. */
  lockedOut: { addresses: number; rooms: number };
  uptimeSec: number;
}

export interface SignalingServer {
  readonly path: string;
  /** Listen for 'upgrade' on `server`, for `path` only; other upgrades (e.g. Vite HMR) are left alone. Returns a detach function. */
  attach(server: HttpServer | Http2SecureServer): () => void;
  /** For callers with their own 'upgrade' listener: returns false (socket untouched) if the URL is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  stats(): SignalingStats;
  /** Close every socket (1001), detach from servers, stop the heartbeat. */
  close(): Promise<void>;
}

export const DEFAULTS = {
  path: '/signal',
  maxMessageBytes: 64 * 1024,
  maxPeersPerRoom: 64,
  maxRooms: 256,
  maxConnections: 4096,
  // A classroom behind one NAT shares an address: 256 sockets and 16 rooms leave room for a whole
  // school there, while 16 hosts are needed to fill the server's 4096 sockets and 16 its 256 rooms.
  maxConnectionsPerAddress: 256,
  maxRoomsPerAddress: 16,
  // A tab joins right after its socket opens.
  joinTimeoutMs: 10_000,
  // A teacher creates a room with a secret once per lesson; a guesser gets 10 tries per address
  // and 30 per room name in 10 minutes, then waits 10 minutes: days for a 4-digit secret.
  secretAttemptsPerAddress: 10,
  secretAttemptsPerRoom: 30,
  secretWindowMs: 10 * 60 * 1000,
  secretLockoutMs: 10 * 60 * 1000,
  heartbeatMs: 15_000,
  resumeWindowMs: 120_000,
  maxErrors: 50,
  metricsPerSecond: 20,
  messagesPerSecond: 500,
  // Honest tabs send a few KB/s (a newcomer's offers to a full room, about 200 KB, fit in the
  // burst); at 500 messages/s a socket could otherwise push 32 MB/s of 64 KB messages.
  bytesPerSecond: 64 * 1024,
  byteBurst: 1024 * 1024,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxFinishedRooms: 256,
  finishedTtlMs: 60 * 60 * 1000,
} as const;

/** Marks an http server that already has a signaling endpoint, so the dev plugin is never mounted twice. */
const ATTACHED = Symbol.for('murmuration.signaling.attached');

export function isSignalingAttached(server: object): boolean {
  return (server as { [ATTACHED]?: boolean })[ATTACHED] === true;
}

const ERROR_DECAY_MS = 1000;
/** Entries an attempt table keeps; when it is full of live entries, further guesses are refused (fail closed). */
const MAX_ATTEMPT_ENTRIES = 65_536;

/**
 * Counts attempts per key in a fixed window; the attempt that reaches `max` locks the key for
 * `lockoutMs`. Memory is bounded: stale entries are pruned, and a table full of live entries
 * refuses new keys (`record` returns false) rather than forgetting a lockout.
 */
class AttemptTable {
  private readonly entries = new Map<string, { count: number; since: number; lockedUntil: number }>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly lockoutMs: number,
  ) {}

  /** Milliseconds the key stays locked (0: not locked). */
  lockedFor(key: string, now: number): number {
    const e = this.entries.get(key);
    return e && e.lockedUntil > now ? e.lockedUntil - now : 0;
  }

  /** Counts one attempt; false if the table is full and the attempt cannot be counted. */
  record(key: string, now: number): boolean {
    let e = this.entries.get(key);
    if (e && e.lockedUntil <= now && now - e.since >= this.windowMs) e = undefined;
    if (!e) {
      if (this.entries.size >= MAX_ATTEMPT_ENTRIES) this.prune(now);
      if (this.entries.size >= MAX_ATTEMPT_ENTRIES) return false;
      e = { count: 0, since: now, lockedUntil: 0 };
      this.entries.set(key, e);
    }
    e.count++;
    if (e.count >= this.max) {
      e.lockedUntil = now + this.lockoutMs;
      e.count = 0;
      e.since = e.lockedUntil; // a new window starts when the lockout ends
    }
    return true;
  }

  prune(now: number): void {
    for (const [key, e] of this.entries) if (e.lockedUntil <= now && now - e.since >= this.windowMs) this.entries.delete(key);
  }

  locked(now: number): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.lockedUntil > now) n++;
    return n;
  }
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

interface Bucket {
  tokens: number;
  at: number;
  readonly rate: number;
  readonly burst: number;
}
function bucket(rate: number, burst: number, now: number): Bucket {
  return { tokens: burst, at: now, rate, burst };
}
function take(b: Bucket, now: number): boolean {
  b.tokens = Math.min(b.burst, b.tokens + ((now - b.at) * b.rate) / 1000);
  b.at = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

interface Peer {
  readonly ws: WebSocket;
  readonly remote: string;
  /** What per-client limits are counted under (`addressKey`). */
  readonly address: string;
  /** Closes the socket if it is still not in a room; armed on connect and after `leave`. */
  joinTimer: ReturnType<typeof setTimeout> | null;
  id: string | null;
  room: Room | null;
  /** Display name: the one given at join, or "Tab N". */
  name: string;
  /** The last `metrics` data this member sent in its current run (replayed to newcomers); null if none. */
  lastMetrics: Record<string, number | string | boolean> | null;
  alive: boolean;
  closing: boolean;
  strikes: number;
  strikesAt: number;
  readonly messages: Bucket;
  readonly metrics: Bucket;
  /** Byte budget; may go negative, which pauses reading until it refills. */
  readonly bytes: Bucket;
  paused: boolean;
  /** sha256 of this member's resume token (see `join.resume`); null before it joins. */
  resumeHash: Buffer | null;
  /** A spectator (projector view): in `room.spectators`, never in `room.members` or a roster. */
  spectator: boolean;
  /** A spectator with the owner's rights (it presented the owner key, or created the room). */
  owns: boolean;
}

/** A member whose connection dropped: its id and name wait here for a `join` with its resume token. */
interface Departed {
  readonly id: string;
  readonly name: string;
  readonly until: number;
}

interface Room {
  readonly name: string;
  /** sha256 of the creator's secret; null = open room. */
  readonly secretHash: Buffer | null;
  /** The key in `rooms`: the name and the secret's hash (see `roomKey`). */
  readonly key: string;
  /** Address key of the socket that created it (for the per-address room cap). */
  readonly creator: string;
  /** sha256 of the owner key handed to the creator; the key itself is never stored. */
  readonly ownerKeyHash: Buffer;
  /** Peer id of the owner, or null while no key holder is connected (the room then waits for one). */
  owner: string | null;
  /** Insertion order is join order, so the first entry is the oldest member. */
  readonly members: Map<string, Peer>;
  /** Joins so far, for "Tab N" names; never decreases, so a name is never reused in the room. */
  joins: number;
  /** Without `secret`/`ownerKey` keys. */
  config: Record<string, unknown> | null;
  started: boolean;
  /** A fresh random id per start: with the room name it names a run (History merges a run's tabs by it). */
  run: string | null;
  coordinator: string | null;
  finished: FinishedRecord | null;
  /** Members whose connection dropped, by resume-token hash (hex); expired entries are pruned on join. */
  readonly departed: Map<string, Departed>;
  /** Projector views watching the room: they get every broadcast, and the members' traffic reports. */
  readonly spectators: Set<Peer>;
  /** Paused by the owner: every node holds its events and timers until it is resumed. */
  paused: boolean;
}

/** A finished room that emptied, kept so a late visitor still learns how it ended. */
interface Remembered {
  readonly record: FinishedRecord;
  /** The room's secret hash: the record is only handed to a new creator presenting the same secret. */
  readonly secretHash: Buffer | null;
  readonly until: number;
}

class Rejection {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
  ) {}
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time equality of two sha256 digests; null (no secret) only matches null. */
function sameDigest(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return timingSafeEqual(a, b);
}

/**
 * Rooms are keyed by name and secret: a join with another secret (or none) is another room, so the
 * answer to a wrong secret cannot tell that the name is taken. Room names cannot hold '#'.
 */
function roomKey(name: string, secretHash: Buffer | null): string {
  return secretHash ? `${name}#${secretHash.toString('base64url')}` : name;
}

/** 256 random bits, base64url (43 characters). */
function newOwnerKey(): string {
  return randomBytes(32).toString('base64url');
}

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

function toBytes(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return data;
}

function short(s: string, n = 300): string {
  return s.length <= n ? s : `${s.slice(0, n)}…`;
}

export function createSignalingServer(options: SignalingOptions = {}): SignalingServer {
  const opt = { ...DEFAULTS, ...stripUndefined(options) };
  for (const key of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    const v = opt[key];
    if (typeof v === 'number' && !(Number.isFinite(v) && v > 0)) throw new RangeError(`signaling option ${key} must be a positive number, got ${v}`);
  }
  if (!opt.path.startsWith('/')) throw new RangeError(`signaling option path must start with '/', got '${opt.path}'`);
  const log = options.log ?? (() => {});
  const iceServers = options.iceServers ?? [];
  const startedAt = Date.now();

  const rooms = new Map<string, Room>();
  /** Insertion order is expiry order (constant TTL), so pruning stops at the first live entry. */
  const finishedRooms = new Map<string, Remembered>();
  const peers = new Set<Peer>();
  const ids = new Map<string, Peer>();
  const rejected: Record<string, number> = {};
  const closedCounts: Record<string, number> = {};
  /** Open sockets per address key (counted from the upgrade until the TCP socket closes). */
  const socketsByAddress = new Map<string, number>();
  /** Existing rooms per creator address key. */
  const roomsByAddress = new Map<string, number>();
  /** Existing rooms per name (a name can hold an open room and rooms with different secrets). */
  const roomsByName = new Map<string, number>();
  const secretByAddress = new AttemptTable(opt.secretAttemptsPerAddress, opt.secretWindowMs, opt.secretLockoutMs);
  const secretByRoom = new AttemptTable(opt.secretAttemptsPerRoom, opt.secretWindowMs, opt.secretLockoutMs);
  let secretMisses = 0;
  let throttled = 0;
  const detachers = new Set<() => void>();
  let closed = false;

  // maxPayload is the hard cut (ws closes with 1009 before buffering more); the soft limit below it
  // lets a client that sent a slightly too big message get a readable error and carry on.
  const wss = new WebSocketServer({ noServer: true, maxPayload: opt.maxMessageBytes * 2, clientTracking: false });

  const count = (table: Record<string, number>, key: string) => {
    table[key] = (table[key] ?? 0) + 1;
  };

  const newId = (): string => {
    for (;;) {
      const id = randomBytes(6).toString('base64url');
      if (!ids.has(id)) return id;
    }
  };

  const sendRaw = (peer: Peer, text: string) => {
    if (peer.ws.readyState !== WebSocket.OPEN) return;
    if (peer.ws.bufferedAmount > opt.maxBufferedBytes) {
      // It stopped reading; buffering more would let one tab exhaust the server's memory.
      if (!peer.closing) {
        peer.closing = true;
        count(closedCounts, 'slow');
        log(`signal: terminating slow consumer ${peer.id ?? peer.remote}`);
        peer.ws.terminate();
      }
      return;
    }
    peer.ws.send(text);
  };
  const send = (peer: Peer, msg: ServerMessage) => sendRaw(peer, JSON.stringify(msg));
  const broadcast = (room: Room, msg: ServerMessage, except?: Peer) => {
    const text = JSON.stringify(msg);
    for (const p of room.members.values()) if (p !== except) sendRaw(p, text);
    for (const p of room.spectators) if (p !== except) sendRaw(p, text);
  };
  const toSpectators = (room: Room, msg: ServerMessage) => {
    if (room.spectators.size === 0) return;
    const text = JSON.stringify(msg);
    for (const p of room.spectators) sendRaw(p, text);
  };

  const names = (room: Room): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [id, p] of room.members) out[id] = p.name;
    return out;
  };
  const metricsOf = (room: Room, except: Peer): Record<string, Record<string, number | string | boolean>> => {
    const out: Record<string, Record<string, number | string | boolean>> = {};
    for (const [id, p] of room.members) if (p !== except && p.lastMetrics) out[id] = p.lastMetrics;
    return out;
  };
  const pushRoster = (room: Room) =>
    broadcast(room, { type: 'roster', peers: [...room.members.keys()], coordinator: room.coordinator, names: names(room), owner: room.owner });

  const pruneFinished = (now: number) => {
    for (const [name, r] of finishedRooms) {
      if (r.until > now && finishedRooms.size <= opt.maxFinishedRooms) break;
      finishedRooms.delete(name);
    }
  };
  const rememberFinished = (room: Room) => {
    if (!room.finished) return;
    const now = Date.now();
    finishedRooms.delete(room.key); // re-insert at the end: insertion order stays expiry order
    finishedRooms.set(room.key, { record: room.finished, secretHash: room.secretHash, until: now + opt.finishedTtlMs });
    pruneFinished(now);
  };
  /** The remembered record of a room being recreated, if its creator presents the same secret (or none, for an open room). */
  const recallFinished = (key: string, secretHash: Buffer | null): FinishedRecord | null => {
    pruneFinished(Date.now());
    const r = finishedRooms.get(key);
    if (!r || !sameDigest(r.secretHash, secretHash)) return null;
    finishedRooms.delete(key); // the new room holds it now, and hands it back if it empties again
    return r.record;
  };

  /** A new run or a reset: the members' last numbers describe a run that is over. */
  const clearRun = (room: Room) => {
    room.finished = null;
    for (const p of room.members.values()) p.lastMetrics = null;
  };
  const requireOwner = (room: Room, peer: Peer, what: string) => {
    if (room.owner !== peer.id && !peer.owns) throw new Rejection('not-owner', `only the room's owner may ${what}`);
  };
  const requireMember = (peer: Peer, what: string) => {
    if (peer.spectator) throw new Rejection('bad-state', `a spectator cannot ${what}`);
  };

  const reject = (peer: Peer, code: ErrorCode, message: string) => {
    count(rejected, code);
    send(peer, { type: 'error', code, message });
    const now = Date.now();
    peer.strikes = Math.max(0, peer.strikes - (now - peer.strikesAt) / ERROR_DECAY_MS) + 1;
    peer.strikesAt = now;
    if (peer.strikes > opt.maxErrors && !peer.closing) {
      peer.closing = true;
      count(closedCounts, 'abuse');
      log(`signal: closing ${peer.id ?? peer.remote} after too many errors`);
      peer.ws.close(1008, 'too many errors');
    }
  };

  const closeIdle = (peer: Peer) => {
    peer.joinTimer = null;
    if (peer.room || peer.closing) return;
    peer.closing = true;
    count(closedCounts, 'idle');
    log(`signal: closing ${peer.remote}: no join within ${opt.joinTimeoutMs} ms`);
    peer.ws.close(1008, 'join timeout');
  };
  const armJoinTimer = (peer: Peer) => {
    if (peer.joinTimer) clearTimeout(peer.joinTimer);
    peer.joinTimer = peer.closing ? null : setTimeout(() => closeIdle(peer), opt.joinTimeoutMs);
  };
  const clearJoinTimer = (peer: Peer) => {
    if (peer.joinTimer) clearTimeout(peer.joinTimer);
    peer.joinTimer = null;
  };

  const deleteRoom = (room: Room) => {
    // The owner key dies with the room; the next tab to open the link creates and owns a new one.
    rooms.delete(room.key);
    decrement(roomsByAddress, room.creator);
    decrement(roomsByName, room.name);
    rememberFinished(room);
    log(`signal: room '${room.name}' is empty, deleted`);
  };

  /** `dropped`: the connection went away without a `leave`, so the member may resume (see `join.resume`). */
  /** Forgets a socket's place in its room; the caller removes it from the room's members or spectators. */
  const detach = (peer: Peer, id: string) => {
    ids.delete(id);
    peer.room = null;
    peer.id = null;
    peer.resumeHash = null;
    peer.spectator = false;
    peer.owns = false;
  };

  const leaveRoom = (peer: Peer, dropped = false) => {
    const room = peer.room;
    const id = peer.id;
    if (!room || id === null) return;
    if (peer.spectator) {
      room.spectators.delete(peer);
      detach(peer, id);
      if (room.members.size === 0 && room.spectators.size === 0) deleteRoom(room);
      return;
    }
    if (dropped && peer.resumeHash) {
      room.departed.set(peer.resumeHash.toString('hex'), { id, name: peer.name, until: Date.now() + opt.resumeWindowMs });
      while (room.departed.size > opt.maxPeersPerRoom) room.departed.delete(room.departed.keys().next().value!);
    }
    room.members.delete(id);
    detach(peer, id);
    peer.lastMetrics = null;
    // An owner that leaves keeps no rights in the room: until a tab joins with the owner key, the
    // room has no owner, so nobody can start, configure or reset it (a run already going carries on).
    if (room.owner === id) room.owner = null;
    if (room.members.size === 0 && room.spectators.size === 0) {
      deleteRoom(room);
      return;
    }
    if (room.coordinator === id) {
      // The oldest remaining member has seen the most of the run, so it is the natural successor.
      room.coordinator = room.members.keys().next().value ?? null;
    }
    pushRoster(room);
  };

  /**
   * The id and name a resume token held in `room`, if any: from a departure within the window,
   * or from a member still connected (the server has not noticed its dead connection yet), whose
   * old socket is closed now. Tokens are 192 random bits, so this answers no guess.
   */
  const resumeMember = (room: Room, hash: Buffer, now: number): Departed | null => {
    for (const [k, d] of room.departed) if (d.until <= now) room.departed.delete(k);
    for (const [id, p] of room.members) {
      if (!p.resumeHash || !sameDigest(p.resumeHash, hash)) continue;
      // A quiet hand-over: the member keeps its place (and the room is not emptied on the way).
      log(`signal: ${id} resumed on a new connection; closing the old one`);
      room.members.delete(id);
      detach(p, id);
      p.closing = true;
      p.ws.terminate();
      return { id, name: p.name, until: now };
    }
    const key = hash.toString('hex');
    const d = room.departed.get(key);
    if (!d || ids.has(d.id)) return null;
    room.departed.delete(key);
    return d;
  };

  const joinAsSpectator = (peer: Peer, room: Room, owns: boolean, ownerKey: string | undefined, badOwnerKey: boolean) => {
    const id = newId();
    peer.id = id;
    peer.room = room;
    peer.name = 'projector';
    peer.spectator = true;
    peer.owns = owns;
    ids.set(id, peer);
    room.spectators.add(peer);
    send(peer, {
      type: 'welcome',
      id,
      room: room.name,
      peers: [...room.members.keys()],
      config: room.config,
      started: room.started,
      run: room.run,
      coordinator: room.coordinator,
      iceServers: [],
      names: names(room),
      owner: room.owner,
      ...(ownerKey === undefined ? {} : { ownerKey }),
      paused: room.paused,
      spectator: true,
      owns,
      metrics: metricsOf(room, peer),
      finished: room.finished,
    });
    if (badOwnerKey) reject(peer, 'bad-owner-key', `the owner key does not match room '${room.name}'; watching without owner rights`);
  };

  const onJoin = (peer: Peer, msg: ClientMessageOf<'join'>) => {
    if (peer.room) throw new Rejection('already-joined', `already in room '${peer.room.name}'; send {"type":"leave"} first`);
    const now = Date.now();
    const secretHash = msg.secret === undefined ? null : sha256(msg.secret);
    const key = roomKey(msg.room, secretHash);
    let room = rooms.get(key);
    const keyHolder = room !== undefined && msg.ownerKey !== undefined && sameDigest(room.ownerKeyHash, sha256(msg.ownerKey));
    if (secretHash && !keyHolder) {
      // Every answer below depends only on this name-and-secret pair, the caps and the lockouts,
      // never on other rooms of the same name. A lockout refuses right and wrong secrets alike, so
      // it answers nothing about a guess; an owner key (256 random bits) is no guess and passes.
      const wait = Math.max(secretByAddress.lockedFor(peer.address, now), secretByRoom.lockedFor(msg.room, now));
      if (wait > 0) throw new Rejection('rate-limited', `too many joins with a secret; try again in ${Math.ceil(wait / 1000)} s`);
      if (!room) {
        // A secret nobody holds: a guess, or a new room. Counted before any cap, or a guesser at a
        // cap would get free tries.
        const counted = secretByAddress.record(peer.address, now) && secretByRoom.record(msg.room, now);
        if (!counted) throw new Rejection('rate-limited', `too many joins with a secret; try again in ${Math.ceil(opt.secretWindowMs / 1000)} s`);
        if (roomsByName.has(msg.room)) secretMisses++;
      }
    }
    /** Set only for the creator of a new room: the one time the key is ever sent. */
    let ownerKey: string | undefined;
    let isOwner: boolean;
    let badOwnerKey = false;
    if (room && msg.spectate) {
      if (room.spectators.size >= MAX_SPECTATORS) throw new Rejection('room-full', `room '${msg.room}' has ${MAX_SPECTATORS} spectators already`);
      isOwner = keyHolder;
      badOwnerKey = msg.ownerKey !== undefined && !isOwner;
    } else if (room) {
      if (room.members.size >= opt.maxPeersPerRoom) throw new Rejection('room-full', `room '${msg.room}' is full (${opt.maxPeersPerRoom} peers)`);
      isOwner = keyHolder;
      badOwnerKey = msg.ownerKey !== undefined && !isOwner;
    } else {
      if (rooms.size >= opt.maxRooms) throw new Rejection('too-many-rooms', `the server has reached its limit of ${opt.maxRooms} rooms`);
      if ((roomsByAddress.get(peer.address) ?? 0) >= opt.maxRoomsPerAddress) {
        throw new Rejection('too-many-rooms', `your address has created ${opt.maxRoomsPerAddress} rooms that are still open; join one of them or close one`);
      }
      // The creator owns the room whatever key it presents (a stale teacher link recreating an
      // emptied room): it gets a fresh key.
      ownerKey = newOwnerKey();
      isOwner = true;
      room = {
        name: msg.room,
        secretHash,
        key,
        creator: peer.address,
        ownerKeyHash: sha256(ownerKey),
        owner: null,
        members: new Map(),
        joins: 0,
        config: null,
        started: false,
        run: null,
        coordinator: null,
        finished: recallFinished(key, secretHash),
        departed: new Map(),
        spectators: new Set(),
        paused: false,
      };
      rooms.set(key, room);
      increment(roomsByAddress, peer.address);
      increment(roomsByName, room.name);
      log(`signal: room '${room.name}' created${room.secretHash ? ' (with secret)' : ''}${room.finished ? ' (it had finished before)' : ''}`);
    }
    clearJoinTimer(peer);
    if (msg.spectate) return joinAsSpectator(peer, room, isOwner, ownerKey, badOwnerKey);
    const resumed = msg.resume === undefined ? null : resumeMember(room, sha256(msg.resume), now);
    const others = [...room.members.keys()];
    const id = resumed?.id ?? newId();
    if (!resumed) room.joins += 1;
    const resume = randomBytes(24).toString('base64url');
    peer.resumeHash = sha256(resume);
    peer.id = id;
    peer.room = room;
    peer.name = resumed?.name ?? (msg.name?.trim() || `Tab ${room.joins}`);
    peer.lastMetrics = null;
    ids.set(id, peer);
    room.members.set(id, peer);
    // One owner at a time: a tab presenting the key takes over from an earlier holder (the teacher
    // moved to another device), which keeps "owner === id" the whole truth for every tab.
    if (isOwner) room.owner = id;
    // Only the owner's join can set the room's config, so a student's link cannot steer the room.
    const configFromJoin = isOwner && room.config === null && msg.config !== undefined;
    if (configFromJoin && msg.config) room.config = withoutSecrets(msg.config);
    send(peer, {
      type: 'welcome',
      id,
      room: room.name,
      peers: others,
      config: room.config,
      started: room.started,
      run: room.run,
      coordinator: room.coordinator,
      iceServers,
      names: names(room),
      owner: room.owner,
      ...(ownerKey === undefined ? {} : { ownerKey }),
      resume,
      paused: room.paused,
      metrics: metricsOf(room, peer),
      finished: room.finished,
    });
    // Joined anyway, as a plain member: a stale teacher link still gets the tab into the room.
    if (badOwnerKey) reject(peer, 'bad-owner-key', `the owner key does not match room '${room.name}'; joined without owner rights`);
    if (configFromJoin && room.config && others.length > 0) broadcast(room, { type: 'config', config: room.config, from: id }, peer);
    pushRoster(room);
  };

  const handle = (peer: Peer, msg: ClientMessage) => {
    if (msg.type === 'ping') return send(peer, { type: 'pong' });
    if (msg.type === 'join') return onJoin(peer, msg);
    const room = peer.room;
    const id = peer.id;
    if (!room || id === null) throw new Rejection('not-joined', `send {"type":"join","room":...} before '${msg.type}'`);
    switch (msg.type) {
      case 'leave':
        leaveRoom(peer);
        return armJoinTimer(peer);
      case 'signal': {
        requireMember(peer, 'signal');
        const target = msg.to === id ? undefined : room.members.get(msg.to);
        if (!target) throw new Rejection('unknown-peer', `no peer '${msg.to}' in this room`);
        return send(target, { type: 'signal', from: id, data: msg.data });
      }
      case 'config': {
        requireOwner(room, peer, 'change its config');
        const config = withoutSecrets(msg.config);
        room.config = config;
        return broadcast(room, { type: 'config', config, from: id });
      }
      case 'start': {
        requireOwner(room, peer, 'start it');
        // The starting tab coordinates; from the projector, the owner's tab does (or the oldest member).
        const coordinator = peer.spectator ? (room.owner ?? room.members.keys().next().value ?? null) : id;
        if (coordinator === null) throw new Rejection('bad-state', 'the room has no members to run');
        if (msg.config) room.config = withoutSecrets(msg.config);
        room.started = true;
        room.paused = false;
        room.run = randomBytes(6).toString('base64url');
        clearRun(room);
        const changed = room.coordinator !== coordinator;
        room.coordinator = coordinator;
        broadcast(room, { type: 'start', config: room.config, coordinator, startedAt: Date.now(), run: room.run });
        if (changed) pushRoster(room);
        return;
      }
      case 'reset': {
        requireOwner(room, peer, 'reset it');
        room.started = false;
        room.paused = false;
        room.coordinator = null;
        clearRun(room);
        broadcast(room, { type: 'reset', from: id });
        return pushRoster(room);
      }
      case 'finish': {
        // The coordinator (set at start, re-elected when it leaves) knows when the run is over;
        // the owner may end it too. Anyone else's "done" is a claim we do not take.
        if (room.coordinator !== id && room.owner !== id && !peer.owns) throw new Rejection('not-coordinator', `only the coordinator or the owner may finish the run`);
        if (!room.started) throw new Rejection('bad-state', `the room has not started; nothing to finish`);
        if (room.finished) throw new Rejection('bad-state', `the run already finished at ${new Date(room.finished.at).toISOString()}; start or reset first`);
        room.finished = { at: Date.now(), summary: msg.summary };
        return broadcast(room, { type: 'finished', from: id, ...room.finished });
      }
      case 'pause': {
        requireOwner(room, peer, 'pause it');
        room.paused = msg.paused;
        return broadcast(room, { type: 'paused', paused: msg.paused, from: id });
      }
      case 'kick': {
        requireOwner(room, peer, 'remove a tab');
        const target = room.members.get(msg.id);
        if (!target) throw new Rejection('unknown-peer', `no peer '${msg.id}' in this room`);
        log(`signal: ${msg.id} removed from '${room.name}' by the owner`);
        // Not a drop: no resume. The close code tells the tab not to reconnect.
        leaveRoom(target);
        target.closing = true;
        target.ws.close(KICKED_CLOSE_CODE, 'removed by the teacher');
        return;
      }
      case 'traffic': {
        requireMember(peer, 'report traffic');
        if (!take(peer.metrics, Date.now())) throw new Rejection('rate-limited', `at most ${opt.metricsPerSecond} metrics and traffic messages per second`);
        const edges = msg.edges.filter(([to]) => room.members.has(to));
        return toSpectators(room, { type: 'traffic', from: id, at: Date.now(), edges });
      }
      case 'metrics': {
        requireMember(peer, 'report metrics');
        if (!take(peer.metrics, Date.now())) throw new Rejection('rate-limited', `at most ${opt.metricsPerSecond} metrics messages per second`);
        const data = withoutSecrets(msg.data);
        peer.lastMetrics = data;
        return broadcast(room, { type: 'metrics', from: id, data }, peer);
      }
    }
  };

  /** Charges a message's bytes; over budget, the socket is not read until the budget is back to zero. */
  const chargeBytes = (peer: Peer, size: number, now: number) => {
    const b = peer.bytes;
    b.tokens = Math.min(b.burst, b.tokens + ((now - b.at) * b.rate) / 1000) - size;
    b.at = now;
    if (b.tokens >= 0 || peer.paused || peer.closing) return;
    peer.paused = true;
    throttled++;
    peer.ws.pause();
    setTimeout(() => {
      peer.paused = false;
      if (!peer.closing) peer.ws.resume();
    }, (-b.tokens / b.rate) * 1000).unref();
  };

  const onMessage = (peer: Peer, data: RawData, isBinary: boolean) => {
    if (peer.closing) return;
    peer.alive = true;
    chargeBytes(peer, byteLength(data), Date.now());
    try {
      if (!take(peer.messages, Date.now())) throw new Rejection('rate-limited', `at most ${opt.messagesPerSecond} messages per second`);
      if (isBinary) throw new Rejection('bad-message', 'binary frames are not supported; send JSON text');
      const size = byteLength(data);
      if (size > opt.maxMessageBytes) throw new Rejection('too-big', `message is ${size} bytes; the limit is ${opt.maxMessageBytes}`);
      // The cost bound: count keys and depth on the raw bytes (linear, no allocation) before
      // parsing, so thousands of keys are refused for the price of a scan.
      const bytes = toBytes(data);
      const shape = jsonShape(bytes, MAX_JSON_DEPTH, MAX_JSON_MEMBERS);
      if (shape.depth > MAX_JSON_DEPTH) throw new Rejection('too-complex', `message is nested deeper than ${MAX_JSON_DEPTH} levels`);
      if (shape.members > MAX_JSON_MEMBERS) throw new Rejection('too-complex', `message has more than ${MAX_JSON_MEMBERS} keys and array elements`);
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch {
        throw new Rejection('bad-json', 'message is not valid JSON');
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value) || typeof (value as { type?: unknown }).type !== 'string') {
        throw new Rejection('bad-message', 'expected a JSON object with a string "type"');
      }
      const type = (value as { type: string }).type;
      if (!(CLIENT_MESSAGE_TYPES as readonly string[]).includes(type)) {
        throw new Rejection('unknown-type', `unknown message type '${short(type, 40)}'; expected one of ${CLIENT_MESSAGE_TYPES.join(', ')}`);
      }
      const limit = MESSAGE_LIMITS[type as ClientMessage['type']];
      if (size > limit.bytes) throw new Rejection('too-big', `a '${type}' message may be at most ${limit.bytes} bytes; this one is ${size}`);
      if (shape.members > limit.members) {
        throw new Rejection('too-complex', `a '${type}' message may have at most ${limit.members} keys and array elements; this one has ${shape.members}`);
      }
      const parsed = ClientMessageSchema.safeParse(value);
      if (!parsed.success) throw new Rejection('bad-message', short(`invalid '${type}': ${z.prettifyError(parsed.error)}`));
      handle(peer, parsed.data);
    } catch (err) {
      if (err instanceof Rejection) return reject(peer, err.code, err.message);
      log(`signal: internal error handling a message from ${peer.id ?? peer.remote}: ${String(err)}`);
      reject(peer, 'internal', 'the server could not handle this message');
    }
  };

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const now = Date.now();
    const peer: Peer = {
      ws,
      remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
      address: addressKey(req.socket.remoteAddress),
      joinTimer: null,
      id: null,
      room: null,
      name: '',
      lastMetrics: null,
      alive: true,
      closing: false,
      strikes: 0,
      strikesAt: now,
      messages: bucket(opt.messagesPerSecond, opt.messagesPerSecond * 2, now),
      metrics: bucket(opt.metricsPerSecond, opt.metricsPerSecond, now),
      bytes: bucket(opt.bytesPerSecond, opt.byteBurst, now),
      paused: false,
      resumeHash: null,
      spectator: false,
      owns: false,
    };
    peers.add(peer);
    armJoinTimer(peer);
    ws.on('message', (data, isBinary) => onMessage(peer, data, isBinary));
    ws.on('pong', () => {
      peer.alive = true;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already decided to close the socket; we only count why. Without this listener the error would crash the process.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        count(rejected, 'too-big');
        count(closedCounts, 'too-big');
      } else {
        log(`signal: socket error from ${peer.id ?? peer.remote}: ${err.message}`);
      }
    });
    ws.on('close', () => {
      peer.closing = true;
      clearJoinTimer(peer);
      leaveRoom(peer, true);
      peers.delete(peer);
    });
  });

  const heartbeat = setInterval(() => {
    const now = Date.now();
    secretByAddress.prune(now);
    secretByRoom.prune(now);
    for (const peer of peers) {
      if (!peer.alive) {
        count(closedCounts, 'dead');
        log(`signal: terminating unresponsive ${peer.id ?? peer.remote}`);
        peer.ws.terminate();
        continue;
      }
      peer.alive = false;
      try {
        peer.ws.ping();
      } catch {
        // Socket already closing; the 'close' handler cleans up.
      }
    }
  }, opt.heartbeatMs);
  heartbeat.unref();

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      return false;
    }
    if (pathname !== opt.path) return false;
    if (closed || peers.size >= opt.maxConnections) {
      count(rejected, 'too-many-connections');
      socket.on('error', () => {});
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return true;
    }
    const address = addressKey(req.socket.remoteAddress);
    if ((socketsByAddress.get(address) ?? 0) >= opt.maxConnectionsPerAddress) {
      count(rejected, 'too-many-connections-from-address');
      socket.on('error', () => {});
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return true;
    }
    // Counted until the TCP socket closes, whatever happens to the handshake.
    increment(socketsByAddress, address);
    socket.once('close', () => decrement(socketsByAddress, address));
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    return true;
  };

  const attach = (server: HttpServer | Http2SecureServer) => {
    const marked = server as unknown as { [ATTACHED]?: boolean };
    if (marked[ATTACHED]) throw new Error(`a signaling server is already attached to this HTTP server`);
    marked[ATTACHED] = true;
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      handleUpgrade(req, socket, head);
    };
    server.on('upgrade', listener);
    const detach = () => {
      server.off('upgrade', listener);
      delete marked[ATTACHED];
      detachers.delete(detach);
    };
    detachers.add(detach);
    return detach;
  };

  if (options.server) attach(options.server);

  const stats = (): SignalingStats => {
    const now = Date.now();
    pruneFinished(now);
    return {
      rooms: rooms.size,
      peers: ids.size,
      connections: peers.size,
      addresses: socketsByAddress.size,
      finishedRooms: finishedRooms.size,
      rejected: { ...rejected },
      closed: { ...closedCounts },
      throttled,
      secretMisses,
      lockedOut: { addresses: secretByAddress.locked(now), rooms: secretByRoom.locked(now) },
      uptimeSec: Math.round((Date.now() - startedAt) / 1000),
    };
  };

  const close = async () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const detach of [...detachers]) detach();
    const pending = [...peers].map(
      (peer) =>
        new Promise<void>((resolve) => {
          if (peer.ws.readyState === WebSocket.CLOSED) return resolve();
          peer.ws.once('close', () => resolve());
          peer.ws.close(1001, 'server shutting down');
          // Do not wait on clients that never finish the closing handshake.
          setTimeout(() => peer.ws.terminate(), 1000).unref();
        }),
    );
    await Promise.all(pending);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };

  return { path: opt.path, attach, handleUpgrade, stats, close };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
