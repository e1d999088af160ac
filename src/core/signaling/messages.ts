import { z } from 'zod';

/**
 * The signaling protocol: JSON text frames over one WebSocket at `/signal`.
 *
 * This file has no Node imports, so the browser client (src/live/signaling) and the server
 * (server/signaling.ts) share the schemas and the types inferred from them. The client validates
 * what the server sends, too: the server is a peer it should not blindly trust.
 *
 * Client → server
 *   join     { room, secret?, ownerKey?, config?, name? }
 *   signal   { to, data }                      SDP/ICE for one member of the room, relayed unchanged
 *   config   { config }                        owner only
 *   start    { config? }                       owner only; the sender becomes the coordinator
 *   reset    {}                                owner only; back to "not started" (see below)
 *   finish   { summary }                       the coordinator or the owner, once per run
 *   metrics  { data }                          this tab's latest numbers (flat, ≤ 64 keys)
 *   leave    {}
 *   ping     {}
 *
 * Server → client
 *   welcome  { id, room, peers, config, started, coordinator, iceServers, names, owner,
 *              ownerKey?, resume?, metrics, finished }
 *   roster   { peers, coordinator, names, owner }
 *   signal   { from, data }
 *   config   { config, from }
 *   start    { config, coordinator, startedAt }
 *   reset    { from }
 *   finished { from, at, summary }
 *   metrics  { from, data }
 *   error    { code, message }
 *   pong     {}
 *
 * Conventions:
 * - `welcome.peers` lists the *other* members already in the room (oldest first): the peers a
 *   newcomer should connect to. `roster.peers` lists *all* members including the recipient,
 *   oldest first, so everyone sees the same order (the coordinator fallback is the oldest).
 * - A new peer id is issued on every `join`; after `leave` the socket may `join` again. A socket
 *   that is not in a room 10 s (the server's `joinTimeoutMs`) after connecting or leaving is closed
 *   with 1008 'join timeout'.
 * - Each message type has a size and a member cap (`MESSAGE_LIMITS`), checked on the raw text
 *   before parsing: `too-big` / `too-complex`.
 * - Names: every member has a display name. A `join` without `name` gets "Tab N", where N counts
 *   the room's joins (1, 2, 3…; never reused in that room). `welcome.names` and `roster.names`
 *   map every member's id to its name.
 * - Owner: the tab whose `join` creates a room owns it. Its `welcome` (and no other message, to
 *   anyone) carries `ownerKey`, a random 256-bit base64url string. A later `join` presenting that
 *   key makes the joiner the owner (a teacher reloading, or opening the teacher link on another
 *   device); ownership then moves to that newest holder, so there is one owner at a time. A wrong
 *   key still joins, as a plain member, followed by an `error` `bad-owner-key`. `owner` in
 *   `welcome`/`roster` is the owner's peer id, or null while no key holder is connected; a tab
 *   is the owner iff `owner === id`. Only the owner may `start`, `config` or `reset` (others get
 *   `not-owner`), and only the owner's `join.config` can become the room's config.
 *   If the owner leaves before starting, the room simply waits: nobody else can start it, and
 *   the owner gets its rights back by joining again with the key. A room that empties is
 *   deleted, key included; whoever creates it next owns the new room.
 * - Secrets: a room is named by its name *and* its secret. `join { room, secret }` enters the room
 *   with that name and secret if there is one, else creates it; a join without a secret enters or
 *   creates the open room of that name. So a wrong secret is answered exactly like a name nobody
 *   uses (a new, empty room this tab owns): the answer never tells whether someone else holds the
 *   name with another secret. Joins with a secret that create a room are guesses as far as the
 *   server can tell; they are limited per client address and per room name, and past the limit
 *   every join with a secret from that address (or to that name) is refused with `rate-limited`
 *   for a while, the right secret included (else the lockout would answer the guess). Presenting
 *   the room's owner key passes a lockout.
 * - The server never echoes a `secret` or `ownerKey` key found in a config (stripped at any depth
 *   before the config is stored or relayed) or in metrics data, nor a join's secret.
 * - `config`, `start`, `reset` and `finished` are sent to every member, sender included (an echo
 *   doubles as an ack). `start` clears the room's finished record and remembered metrics: a new
 *   run begins.
 * - `metrics` is fanned out to the other members only (the sender already knows its numbers).
 *   The server keeps each member's last `metrics` data and replays them all in a newcomer's
 *   `welcome.metrics` (keyed by peer id), so a late tab sees every peer's state at once.
 * - `finish` records the run's summary: accepted from the room's coordinator or owner, only while
 *   the room is started and not yet finished (else `not-coordinator` / `bad-state`). The server
 *   stores `{ at, summary }`, broadcasts `finished`, and puts it in every later `welcome.finished`
 *   (null before). When a finished room empties, the server remembers its record (at most 256
 *   rooms, for 1 hour), so a tab that opens the link after everyone left still learns how it
 *   ended: the room is recreated empty (this tab owns it) and its `welcome.finished` is the
 *   remembered record. A remembered record is only handed to a creator presenting the same room
 *   secret (or none, for an open room).
 * - `reset` (owner): `started` = false, `coordinator` = null, finished record and remembered
 *   metrics cleared; broadcast as `reset` to everyone, followed by a roster.
 */

/** Same rule as `room` in src/core/config.ts, so a room name in a shared URL is always valid here. */
export const ROOM_RE = /^[\w-]{1,64}$/;
/** Server-issued ids are 8 base64url characters; accept a little more so the rule is not brittle. */
export const PEER_ID_RE = /^[\w-]{1,32}$/;
/** Configs are small (a few hundred bytes); the cap keeps a room's stored state bounded. Measured in JSON characters. */
export const MAX_CONFIG_CHARS = 16 * 1024;
export const MAX_METRIC_KEYS = 64;
export const MAX_NAME_CHARS = 64;
export const MAX_SECRET_CHARS = 256;
export const MAX_OWNER_KEY_CHARS = 128;
/** Peers one `traffic` report may name (a tab reports what it sent twice a second). */
export const MAX_TRAFFIC_EDGES = 64;
/** Spectators (projector views) one room may have. */
export const MAX_SPECTATORS = 8;
/** WebSocket close code for a tab the owner removed: it must not reconnect. */
export const KICKED_CLOSE_CODE = 4003;
/** Nesting deeper than this is rejected before parsing; nothing we relay needs more. */
export const MAX_JSON_DEPTH = 32;

/**
 * What one message of each type may cost, checked on the raw text before it is parsed or
 * validated: its size in bytes (UTF-8) and its members (object keys plus array elements, at any
 * depth). Honest messages are far below: an SDP offer for a data channel is about 1 KB with a
 * handful of keys, a config about 700 bytes with 46 keys, a tab's metrics a few hundred bytes.
 * Parsing and validating cost grows with the members, so a message with thousands of keys is
 * turned away by counting (about a microsecond per KB) instead of parsing and validating it.
 */
export const MESSAGE_LIMITS: Readonly<Record<ClientMessageType, { bytes: number; members: number }>> = {
  join: { bytes: 20 * 1024, members: 256 },
  config: { bytes: 20 * 1024, members: 256 },
  start: { bytes: 20 * 1024, members: 256 },
  signal: { bytes: 16 * 1024, members: 64 },
  // { type, data } with at most MAX_METRIC_KEYS keys in data: 66 members.
  metrics: { bytes: 8 * 1024, members: MAX_METRIC_KEYS + 6 },
  finish: { bytes: 2 * 1024, members: 32 },
  // { type, edges: [[to, bytes, frames] × MAX_TRAFFIC_EDGES] }: 4 members per edge.
  traffic: { bytes: 4 * 1024, members: 4 * MAX_TRAFFIC_EDGES + 4 },
  pause: { bytes: 256, members: 8 },
  kick: { bytes: 256, members: 8 },
  reset: { bytes: 256, members: 8 },
  leave: { bytes: 256, members: 8 },
  ping: { bytes: 256, members: 8 },
};
/** The most members any message type may have: more is rejected before parsing. */
export const MAX_JSON_MEMBERS = Math.max(...Object.values(MESSAGE_LIMITS).map((l) => l.members));

/**
 * Depth and members (object keys plus array elements) of JSON text, counted on its UTF-8 bytes
 * without parsing: a container counts one, each comma outside strings one more. Stops counting
 * as soon as either limit is passed. Exact for valid JSON; for invalid JSON it is whatever the
 * bytes say, and the parser rejects it afterwards.
 */
export function jsonShape(bytes: Uint8Array, maxDepth: number, maxMembers: number): { depth: number; members: number } {
  let depth = 0;
  let deepest = 0;
  let members = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++; // backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
      continue;
    }
    if (b === 0x22) {
      inString = true;
    } else if (b === 0x7b || b === 0x5b) {
      // { [
      depth++;
      members++;
      if (depth > deepest) deepest = depth;
      if (deepest > maxDepth || members > maxMembers) break;
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
    } else if (b === 0x2c) {
      members++;
      if (members > maxMembers) break;
    }
  }
  return { depth: deepest, members };
}

/** Keys the server removes from configs and metrics before storing or relaying them. */
export const SECRET_KEYS: readonly string[] = ['secret', 'ownerKey'];

const roomName = z.string().regex(ROOM_RE, 'room must be 1-64 letters, digits, - or _');
const peerId = z.string().regex(PEER_ID_RE, 'peer id must be 1-32 letters, digits, - or _');
/** An opaque JSON object (not an array, not null). The server never looks inside (beyond stripping secrets). */
const jsonObject = z.record(z.string(), z.unknown());
const config = jsonObject.refine((c) => JSON.stringify(c).length <= MAX_CONFIG_CHARS, {
  message: `config must be at most ${MAX_CONFIG_CHARS} characters of JSON`,
});
const metricValue = z.union([z.number(), z.string().max(256), z.boolean()]);
const metricsData = z
  .record(z.string().max(64), metricValue)
  .refine((d) => Object.keys(d).length <= MAX_METRIC_KEYS, { message: `metrics may have at most ${MAX_METRIC_KEYS} keys` });
// Control characters are exactly what this rule looks for: names must not carry them.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const displayName = z
  .string()
  .max(MAX_NAME_CHARS)
  .refine((s) => !CONTROL_RE.test(s), { message: 'name must not contain control characters' });

export const IceServerSchema = z.object({
  urls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export const IceServersSchema = z.array(IceServerSchema);
export type IceServer = z.infer<typeof IceServerSchema>;

/** Accuracy or loss across the swarm at the end of a run. */
const spread = (max: number) =>
  z
    .object({ mean: z.number().min(0).max(max), min: z.number().min(0).max(max), max: z.number().min(0).max(max) })
    .strict()
    // A mean computed in floating point can land a hair outside [min, max]; allow for that.
    .refine((s) => s.min <= s.max && s.mean >= s.min - 1e-9 * Math.max(1, s.min) && s.mean <= s.max + 1e-9 * Math.max(1, s.max), {
      message: 'need min <= mean <= max',
    });

/**
 * What `finish` claims about a run. Every field is bounded: it is stored by the server and shown
 * to every later visitor of the room, so it must stay small and plausible.
 */
export const FinishSummarySchema = z
  .object({
    /** Algorithm name as in the config (`fedavg`, `modest`, …). */
    algo: z.string().regex(/^[\w-]{1,32}$/, 'algo must be 1-32 letters, digits, - or _'),
    /** Rounds completed. */
    rounds: z.number().int().min(0).max(1_000_000),
    /** Nodes that took part. */
    nodes: z.number().int().min(0).max(100_000),
    /** Test accuracy across the nodes (fractions, 0..1). */
    accuracy: spread(1),
    /** Test loss across the nodes (optional). */
    loss: spread(1e9).optional(),
    /** Wall time of the run (optional, at most a week). */
    durationMs: z.number().int().min(0).max(7 * 24 * 3600 * 1000).optional(),
  })
  .strict();
export type FinishSummary = z.infer<typeof FinishSummarySchema>;

// ---------------------------------------------------------------- client → server

export const JoinSchema = z.object({
  type: z.literal('join'),
  room: roomName,
  /** Set by the room's first joiner; later joiners must present the same one. */
  secret: z.string().min(1).max(MAX_SECRET_CHARS).optional(),
  /** The owner key from the creator's `welcome`: joining with it makes this tab the room's owner. */
  ownerKey: z.string().min(1).max(MAX_OWNER_KEY_CHARS).optional(),
  /** Becomes the room's config if the room has none yet and the joiner is its owner; ignored otherwise. */
  config: config.optional(),
  /** Display name shown to the others (optional; the server assigns "Tab N" without one). */
  name: displayName.optional(),
  /**
   * The resume token from this tab's last `welcome` in this room: after a dropped connection it
   * gets the tab its old id and name back (within RESUME_WINDOW_MS), so its run carries on.
   */
  resume: z.string().min(1).max(64).optional(),
  /**
   * A spectator (the projector view): it sees the room (roster, metrics, traffic) but is no
   * member, trains nothing and is in no roster. With the owner key it may run the room.
   */
  spectate: z.literal(true).optional(),
});
export const SignalSchema = z.object({ type: z.literal('signal'), to: peerId, data: jsonObject });
export const ConfigSchema = z.object({ type: z.literal('config'), config });
export const StartSchema = z.object({ type: z.literal('start'), config: config.optional() });
export const ResetSchema = z.object({ type: z.literal('reset') });
export const FinishSchema = z.object({ type: z.literal('finish'), summary: FinishSummarySchema });
export const MetricsSchema = z.object({ type: z.literal('metrics'), data: metricsData });
export const LeaveSchema = z.object({ type: z.literal('leave') });
/** What this tab sent since its last report: [peer id, bytes, frames] per peer. Relayed to spectators only. */
export const TrafficSchema = z.object({
  type: z.literal('traffic'),
  edges: z.array(z.tuple([peerId, z.number().int().min(0).max(1e10), z.number().int().min(0).max(1e7)])).max(MAX_TRAFFIC_EDGES),
});
/** Owner only: pause (or resume) every node of the room. */
export const PauseSchema = z.object({ type: z.literal('pause'), paused: z.boolean() });
/** Owner only: remove a member; its connection is closed and it cannot resume. */
export const KickSchema = z.object({ type: z.literal('kick'), id: peerId });
export const PingSchema = z.object({ type: z.literal('ping') });

export const ClientMessageSchema = z.discriminatedUnion('type', [
  JoinSchema,
  SignalSchema,
  ConfigSchema,
  StartSchema,
  ResetSchema,
  FinishSchema,
  MetricsSchema,
  LeaveSchema,
  PingSchema,
  TrafficSchema,
  PauseSchema,
  KickSchema,
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
/** One client message type, inferred from its schema: `ClientMessageOf<'join'>`. */
export type ClientMessageOf<T extends ClientMessageType> = Extract<ClientMessage, { type: T }>;
export const CLIENT_MESSAGE_TYPES: readonly ClientMessageType[] = ClientMessageSchema.options.map((o) => o.shape.type.value);

// ---------------------------------------------------------------- server → client

const names = z.record(z.string(), z.string());
const metricsByPeer = z.record(z.string(), z.record(z.string(), metricValue));
/** A finished run as the server stores it: when (epoch ms) and the summary the coordinator or owner sent. */
export const FinishedRecordSchema = z.object({ at: z.number(), summary: FinishSummarySchema });
export type FinishedRecord = z.infer<typeof FinishedRecordSchema>;

export const WelcomeSchema = z.object({
  type: z.literal('welcome'),
  id: peerId,
  room: roomName,
  /** The other members already in the room, oldest first (not including `id`). */
  peers: z.array(peerId),
  config: jsonObject.nullable(),
  started: z.boolean(),
  /** The current run's id (null before the first start). */
  run: peerId.nullable(),
  coordinator: peerId.nullable(),
  iceServers: IceServersSchema,
  /** Display name of every member, this peer included. */
  names,
  /** The owner's peer id; null while the owner is not connected. This tab owns the room iff `owner === id`. */
  owner: peerId.nullable(),
  /** Only in the welcome of the tab that created the room: present it in a later `join` to be the owner again. */
  ownerKey: z.string().optional(),
  /** This member's resume token (see `join.resume`); only ever sent to this member. */
  resume: z.string().max(64).optional(),
  /** Whether the owner paused the room. */
  paused: z.boolean().optional(),
  /** This connection is a spectator (it joined with `spectate`): it is not in `peers` or any roster. */
  spectator: z.boolean().optional(),
  /** A spectator with the owner's rights (it presented the owner key, or created the room). */
  owns: z.boolean().optional(),
  /** The last `metrics` data of each other member that sent any, by peer id. */
  metrics: metricsByPeer,
  /** How the room's last run ended, or null (also a remembered record of a room that had emptied). */
  finished: FinishedRecordSchema.nullable(),
});
export const RosterSchema = z.object({
  type: z.literal('roster'),
  /** All members including the recipient, oldest first. */
  peers: z.array(peerId),
  coordinator: peerId.nullable(),
  names,
  owner: peerId.nullable(),
});
export const RelayedSignalSchema = z.object({ type: z.literal('signal'), from: peerId, data: jsonObject });
export const RoomConfigSchema = z.object({ type: z.literal('config'), config: jsonObject, from: peerId });
export const StartedSchema = z.object({
  type: z.literal('start'),
  config: jsonObject.nullable(),
  coordinator: peerId,
  startedAt: z.number(),
  /** A fresh id for this run (each start, so each reset's next run too): room + run names a run in History. */
  run: peerId,
});
export const RoomResetSchema = z.object({ type: z.literal('reset'), from: peerId });
export const FinishedSchema = z.object({ type: z.literal('finished'), from: peerId, at: z.number(), summary: FinishSummarySchema });
export const RelayedTrafficSchema = z.object({ type: z.literal('traffic'), from: peerId, at: z.number(), edges: TrafficSchema.shape.edges });
export const PausedSchema = z.object({ type: z.literal('paused'), paused: z.boolean(), from: peerId });
export const RelayedMetricsSchema = z.object({ type: z.literal('metrics'), from: peerId, data: z.record(z.string(), metricValue) });

export const ERROR_CODES = [
  'bad-json',
  'bad-message',
  'unknown-type',
  'too-big',
  /** Too many keys and array elements, or too deep, for the message's type (measured on the raw text, before parsing). */
  'too-complex',
  'room-full',
  'too-many-rooms',
  /** No longer sent: a wrong secret joins a room of its own (see "Secrets"). Kept so older clients still validate. */
  'bad-secret',
  'bad-owner-key',
  'not-joined',
  'already-joined',
  'not-owner',
  'not-coordinator',
  'bad-state',
  'unknown-peer',
  'rate-limited',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
export const ErrorSchema = z.object({ type: z.literal('error'), code: z.enum(ERROR_CODES), message: z.string() });
export const PongSchema = z.object({ type: z.literal('pong') });

export const ServerMessageSchema = z.discriminatedUnion('type', [
  WelcomeSchema,
  RosterSchema,
  RelayedSignalSchema,
  RoomConfigSchema,
  StartedSchema,
  RoomResetSchema,
  FinishedSchema,
  RelayedMetricsSchema,
  RelayedTrafficSchema,
  PausedSchema,
  ErrorSchema,
  PongSchema,
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;
export type Welcome = z.infer<typeof WelcomeSchema>;
export type Roster = z.infer<typeof RosterSchema>;
export type ErrorMessage = z.infer<typeof ErrorSchema>;

/**
 * A copy of a JSON value without any `secret` or `ownerKey` key, at any depth. Iterative (the
 * server has already bounded the depth, but this must not recurse on untrusted input either).
 */
export function withoutSecrets<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const root: unknown = Array.isArray(value) ? [] : {};
  const stack: Array<[from: object, to: Record<string, unknown> | unknown[]]> = [[value as object, root as Record<string, unknown>]];
  while (stack.length > 0) {
    const [from, to] = stack.pop()!;
    for (const [k, v] of Object.entries(from)) {
      if (!Array.isArray(from) && SECRET_KEYS.includes(k)) continue;
      let copy: unknown = v;
      if (v !== null && typeof v === 'object') {
        copy = Array.isArray(v) ? [] : {};
        stack.push([v, copy as Record<string, unknown>]);
      }
      if (Array.isArray(to)) to.push(copy);
      // defineProperty, not assignment: a parsed "__proto__" key must stay a plain key.
      else Object.defineProperty(to, k, { value: copy, enumerable: true, writable: true, configurable: true });
    }
  }
  return root as T;
}

/** Parse `MURMURATION_ICE_SERVERS` / `--ice` JSON. Throws an Error with a readable message. */
export function parseIceServers(json: string): IceServer[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error(`ICE servers must be JSON, e.g. '[{"urls":"stun:stun.example.org:3478"}]'`);
  }
  // Accept a single server object as a convenience.
  const res = IceServersSchema.safeParse(Array.isArray(value) ? value : [value]);
  if (!res.success) throw new Error(`invalid ICE servers: ${z.prettifyError(res.error)}`);
  return res.data;
}

/** Nesting depth of a parsed JSON value, computed without recursion; stops counting at `limit + 1`. */
export function jsonDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
  }
  return max;
}
