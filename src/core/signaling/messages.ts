import { z } from 'zod';

/**
 * The signaling protocol: JSON text frames over one WebSocket at `/signal`.
 *
 * This file has no Node imports, so the browser client can import the schemas and types
 * (and validate what the server sends, too: the server is a peer it should not blindly trust).
 *
 * Conventions:
 * - `welcome.peers` lists the *other* members already in the room (oldest first): the peers a
 *   newcomer should connect to. `roster.peers` lists *all* members including the recipient,
 *   oldest first, so everyone sees the same order (the coordinator fallback is the oldest).
 * - `metrics` is fanned out to the other members only (the sender already knows its numbers).
 * - `config` and `start` are sent to every member, sender included (an echo doubles as an ack).
 * - A new peer id is issued on every `join`; after `leave` the socket may `join` again.
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

const roomName = z.string().regex(ROOM_RE, 'room must be 1-64 letters, digits, - or _');
const peerId = z.string().regex(PEER_ID_RE, 'peer id must be 1-32 letters, digits, - or _');
/** An opaque JSON object (not an array, not null). The server never looks inside. */
const jsonObject = z.record(z.string(), z.unknown());
const config = jsonObject.refine((c) => JSON.stringify(c).length <= MAX_CONFIG_CHARS, {
  message: `config must be at most ${MAX_CONFIG_CHARS} characters of JSON`,
});
const metricValue = z.union([z.number(), z.string().max(256), z.boolean()]);
const metricsData = z
  .record(z.string().max(64), metricValue)
  .refine((d) => Object.keys(d).length <= MAX_METRIC_KEYS, { message: `metrics may have at most ${MAX_METRIC_KEYS} keys` });

export const IceServerSchema = z.object({
  urls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export const IceServersSchema = z.array(IceServerSchema);
export type IceServer = z.infer<typeof IceServerSchema>;

// ---------------------------------------------------------------- client → server

export const JoinSchema = z.object({
  type: z.literal('join'),
  room: roomName,
  /** Set by the room's first joiner; later joiners must present the same one. */
  secret: z.string().min(1).max(MAX_SECRET_CHARS).optional(),
  /** Becomes the room's config if the room has none yet; ignored otherwise. */
  config: config.optional(),
  /** Display name shown to the others (optional). */
  name: z.string().max(MAX_NAME_CHARS).optional(),
});
export const SignalSchema = z.object({ type: z.literal('signal'), to: peerId, data: jsonObject });
export const ConfigSchema = z.object({ type: z.literal('config'), config });
export const StartSchema = z.object({ type: z.literal('start'), config: config.optional() });
export const MetricsSchema = z.object({ type: z.literal('metrics'), data: metricsData });
export const LeaveSchema = z.object({ type: z.literal('leave') });
export const PingSchema = z.object({ type: z.literal('ping') });

export const ClientMessageSchema = z.discriminatedUnion('type', [
  JoinSchema,
  SignalSchema,
  ConfigSchema,
  StartSchema,
  MetricsSchema,
  LeaveSchema,
  PingSchema,
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
export const CLIENT_MESSAGE_TYPES: readonly ClientMessageType[] = ['join', 'signal', 'config', 'start', 'metrics', 'leave', 'ping'];

// ---------------------------------------------------------------- server → client

const names = z.record(z.string(), z.string());

export const WelcomeSchema = z.object({
  type: z.literal('welcome'),
  id: peerId,
  room: roomName,
  /** The other members already in the room, oldest first (not including `id`). */
  peers: z.array(peerId),
  config: jsonObject.nullable(),
  started: z.boolean(),
  coordinator: peerId.nullable(),
  iceServers: IceServersSchema,
  /** Display names of members that gave one (including this peer's own). */
  names,
});
export const RosterSchema = z.object({
  type: z.literal('roster'),
  /** All members including the recipient, oldest first. */
  peers: z.array(peerId),
  coordinator: peerId.nullable(),
  names,
});
export const RelayedSignalSchema = z.object({ type: z.literal('signal'), from: peerId, data: jsonObject });
export const RoomConfigSchema = z.object({ type: z.literal('config'), config: jsonObject, from: peerId });
export const StartedSchema = z.object({
  type: z.literal('start'),
  config: jsonObject.nullable(),
  coordinator: peerId,
  startedAt: z.number(),
});
export const RelayedMetricsSchema = z.object({ type: z.literal('metrics'), from: peerId, data: z.record(z.string(), metricValue) });

export const ERROR_CODES = [
  'bad-json',
  'bad-message',
  'unknown-type',
  'too-big',
  'room-full',
  'too-many-rooms',
  'bad-secret',
  'not-joined',
  'already-joined',
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
  RelayedMetricsSchema,
  ErrorSchema,
  PongSchema,
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
export type Welcome = z.infer<typeof WelcomeSchema>;
export type Roster = z.infer<typeof RosterSchema>;
export type ErrorMessage = z.infer<typeof ErrorSchema>;

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
