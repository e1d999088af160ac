import { z } from 'zod';
import { dequantize, f16BitsToF32, packBits, packedBits, packI4, PACKED_DTYPES, QMAX, quantize, toF16, unpackBits, unpackI4, vectorBytes, type Dtype } from './quantize.ts';

export type { Dtype } from './quantize.ts';

/**
 * Binary frames for protocol messages (version 2), in two forms told apart by byte 2.
 *
 * JSON frames (byte 2 = VERSION = 2), for every message type:
 *
 *   magic "MU" | version u8 | vector count u8 | headerLen u32 LE | header JSON (utf-8)
 *   | one 12-byte entry per vector: index u8 | dtype u8 | 0 u16 | start u32 LE | length u32 LE
 *   | the vectors' bodies, in entry order, no padding: [scale f32 LE, for scaled i8/i4] values
 *     (packed u1–u7: one bit stream per vector, see packBits; its unused last bits must be 0)
 *
 * Compact frames (byte 2 = COMPACT_VERSION = 0x80 | VERSION), for small fixed-shape messages
 * whose schema declares `compact` (SPSA's per-iteration bytes, where framing is most of the cost):
 *
 *   magic "MU" | 0x82 | type id u8 | the declared fields, packed LE in declared order
 *   | [payload length u16 LE | payload bytes: the one u8 vector named by `compact.bytes`]
 *
 * A message type's schema declares its header (zod) and its vectors by name. `index` is the
 * vector's position in the schema's `vectors` (entries in increasing order); `start` is 0
 * except for fragments, which cover [start, start + length) of their declared length.
 * Everything is checked against the schema before any protocol sees it: header fields,
 * which vectors are present, dtypes, lengths, fragment bounds, finiteness and magnitude of
 * floats, and the scale of quantized vectors. A compact frame is checked the same way: its id
 * must be in the registry, its length must be exactly the fields plus the payload, the payload
 * length within the vector's bound, and the decoded fields go through the same zod header, so
 * a protocol gets the same message (and a sender the same rejection reasons) from either form.
 * A type with `compact` is always sent compact; its JSON form still decodes.
 * The encoder is deliberately lenient about lengths and values (it sends what it is given), so
 * a misbehaving sender is caught where it matters, at the receiver, and tests can craft bad
 * frames; it only throws where the wire cannot carry a value (a compact field outside its type).
 */

/** One vector a message type carries. */
export interface VectorSchema {
  /** Its wire format, or the formats a sender may choose from (it picks one per message with `{ dtype, values }`). */
  dtype: Dtype | readonly Dtype[];
  /** 'model': the model's parameter count; a number: exactly that many; `{ max }`: any count up to max. */
  length: 'model' | number | { max: number };
  /**
   * i8/i4 only. Scaled: floats sent as q · scale, symmetric, one f32 scale per vector; the
   * sender gives floats, the receiver gets a Float32Array. Unscaled: raw integers (Int8Array;
   * i4 in [−8, 7]).
   */
  scaled?: boolean;
  /** A fragment: values [start, end) of a vector of `length` values (Streaming DiLoCo's parameter fragments). */
  fragment?: boolean;
  /** The message may leave it out. */
  optional?: boolean;
  /** Bound on |value| for float vectors; default MAX_ABS_PARAM. */
  maxAbs?: number;
}

/** Wire types of compact header fields: little-endian integers. */
export type FieldType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32';

/**
 * The compact form of a small message type. `fields` are exactly the zod header's keys (besides
 * `type`), in wire order; `bytes` names the schema's only vector, which must be a plain u8 vector
 * (a fixed length or `{ max }`, at most 65535), sent length-prefixed after the fields.
 */
export interface CompactSchema {
  /** Unique among the compact types of the registry. */
  id: number;
  fields: readonly (readonly [name: string, type: FieldType])[];
  bytes?: string;
}

export interface MessageSchema {
  header: z.ZodType;
  /** The vectors, by field name; `{}` for none. Their order is the wire order. */
  vectors: Readonly<Record<string, VectorSchema>>;
  /** Send this type as a compact frame (see the doc comment above). */
  compact?: CompactSchema;
  /**
   * A small control message (a ping, its answer, a membership announcement): transports send it
   * ahead of queued bulk frames such as models, so it is not stuck behind them on a slow uplink.
   * A property of the type, declared once in the module's schema, rather than a flag on each
   * `send` action: every send of a ping is urgent, and no call site can forget it. Only for small
   * types: a control frame that is itself large would delay the others just the same.
   */
  control?: boolean;
}

export type SchemaRegistry = Readonly<Record<string, MessageSchema>>;

/** The model's parameters as f32: what every model-carrying message of the first four algorithms sends. */
export const MODEL_PARAMS = { params: { dtype: 'f32', length: 'model' } } as const satisfies Record<string, VectorSchema>;

export type VectorArray = Float32Array | Int8Array | Uint8Array;

/** A fragment vector as decoded: values [start, end) of the declared vector. */
export interface Fragment<T extends VectorArray = Float32Array> {
  start: number;
  end: number;
  values: T;
}

/**
 * What a message field holds for a vector when sending: the values, or the values with a
 * fragment start and/or a dtype chosen from the schema's list. Received: the values (a
 * Float32Array for floats and scaled integers), or a `Fragment` for fragment vectors.
 */
export type VectorValue = VectorArray | { values: VectorArray; start?: number; dtype?: Dtype };

export interface Message {
  type: string;
  params?: Float32Array;
  [field: string]: unknown;
}

const MAGIC0 = 0x4d; // 'M'
const MAGIC1 = 0x55; // 'U'
export const VERSION = 2;
/** Byte 2 of a compact frame: the compact flag and the version. */
export const COMPACT_VERSION = 0x80 | VERSION;
/** magic, version, type id. */
const COMPACT_PREFIX = 4;
const PREFIX = 8;
const ENTRY = 12;
/** Wire codes are positions here: append only. */
const DTYPES: readonly Dtype[] = ['f32', 'f16', 'i8', 'i4', 'u8', ...PACKED_DTYPES];
/** Weights beyond this are treated as poison rather than as a model. */
export const MAX_ABS_PARAM = 1e4;
export const MAX_HEADER_BYTES = 256 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const isLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const dtypesOf = (v: VectorSchema): readonly Dtype[] => (typeof v.dtype === 'string' ? [v.dtype] : v.dtype);
const isScaled = (v: VectorSchema, dtype: Dtype) => !!v.scaled && (dtype === 'i8' || dtype === 'i4');

export function schemaFor(registry: SchemaRegistry, type: string): MessageSchema | undefined {
  return Object.hasOwn(registry, type) ? registry[type] : undefined;
}

const FIELD_TYPES: Readonly<Record<FieldType, { size: number; min: number; max: number }>> = {
  u8: { size: 1, min: 0, max: 0xff },
  i8: { size: 1, min: -0x80, max: 0x7f },
  u16: { size: 2, min: 0, max: 0xffff },
  i16: { size: 2, min: -0x8000, max: 0x7fff },
  u32: { size: 4, min: 0, max: 0xffffffff },
  i32: { size: 4, min: -0x80000000, max: 0x7fffffff },
};

function readField(view: DataView, at: number, t: FieldType): number {
  switch (t) {
    case 'u8':
      return view.getUint8(at);
    case 'i8':
      return view.getInt8(at);
    case 'u16':
      return view.getUint16(at, true);
    case 'i16':
      return view.getInt16(at, true);
    case 'u32':
      return view.getUint32(at, true);
    case 'i32':
      return view.getInt32(at, true);
  }
}

function writeField(view: DataView, at: number, t: FieldType, v: number): void {
  switch (t) {
    case 'u8':
      return view.setUint8(at, v);
    case 'i8':
      return view.setInt8(at, v);
    case 'u16':
      return view.setUint16(at, v, true);
    case 'i16':
      return view.setInt16(at, v, true);
    case 'u32':
      return view.setUint32(at, v, true);
    case 'i32':
      return view.setInt32(at, v, true);
  }
}

/** A compact type as the codec uses it: its name, schema and the size of its fixed part. */
interface CompactType {
  type: string;
  schema: MessageSchema;
  compact: CompactSchema;
  /** Fields, plus the u16 payload length if it has a payload. */
  fixed: number;
}

const compactTables = new WeakMap<SchemaRegistry, Map<number, CompactType>>();

/**
 * The registry's compact types by id, checked once per registry: ids unique u8s, the fields
 * exactly the zod header's keys, the payload a plain u8 vector and the type's only vector.
 * Throws on a registry that breaks these (a local bug; `checkSchemas` runs it at registration).
 */
function compactTable(registry: SchemaRegistry): Map<number, CompactType> {
  const cached = compactTables.get(registry);
  if (cached) return cached;
  const table = new Map<number, CompactType>();
  for (const [type, schema] of Object.entries(registry)) {
    const c = schema.compact;
    if (!c) continue;
    const bad = (why: string) => new Error(`${type}: compact form ${why}`);
    if (!Number.isInteger(c.id) || c.id < 0 || c.id > 255) throw bad(`id ${c.id} is not a u8`);
    if (table.has(c.id)) throw bad(`id ${c.id} is also ${table.get(c.id)!.type}'s`);
    const names = c.fields.map(([name]) => name);
    if (new Set(names).size !== names.length || names.includes('type')) throw bad('repeats a field or names one "type"');
    for (const [name, ft] of c.fields) if (!Object.hasOwn(FIELD_TYPES, ft)) throw bad(`field ${name} has no wire type ${String(ft)}`);
    if (schema.header instanceof z.ZodObject) {
      const keys = Object.keys(schema.header.shape).filter((k) => k !== 'type');
      if (keys.length !== names.length || keys.some((k) => !names.includes(k))) throw bad(`fields [${names.join(', ')}] are not the header's [${keys.join(', ')}]`);
    }
    const vectors = Object.keys(schema.vectors);
    if (c.bytes === undefined ? vectors.length > 0 : vectors.length !== 1 || vectors[0] !== c.bytes) throw bad(`cannot carry the vectors [${vectors.join(', ')}]`);
    if (c.bytes !== undefined) {
      const v = schema.vectors[c.bytes];
      const max = typeof v.length === 'object' ? v.length.max : v.length;
      if (v.dtype !== 'u8' || v.fragment || v.optional || max === 'model' || max > 0xffff) throw bad(`payload ${c.bytes} is not a required u8 vector of at most 65535 bytes`);
    }
    let fixed = c.bytes === undefined ? 0 : 2;
    for (const [, ft] of c.fields) fixed += FIELD_TYPES[ft].size;
    table.set(c.id, { type, schema, compact: c, fixed });
  }
  compactTables.set(registry, table);
  return table;
}

/** Checks a registry's compact forms (throws on a bad one); protocol registration calls it. */
export function checkSchemas(registry: SchemaRegistry): void {
  compactTable(registry);
}

function encodeCompact(msg: Message, ct: CompactType): Uint8Array {
  const { type, compact: c, fixed } = ct;
  for (const k of Object.keys(msg)) if (k !== 'type' && k !== c.bytes && !c.fields.some(([name]) => name === k)) throw new Error(`${type}: field ${k} has no place in the compact form`);
  let payload: Uint8Array | null = null;
  if (c.bytes !== undefined) {
    const v = msg[c.bytes];
    if (!(v instanceof Uint8Array)) throw new Error(`${type}.${c.bytes}: u8 takes a Uint8Array`);
    if (v.length > 0xffff) throw new Error(`${type}.${c.bytes}: ${v.length} bytes do not fit a u16 length`);
    payload = v;
  }
  const out = new Uint8Array(COMPACT_PREFIX + fixed + (payload?.length ?? 0));
  const view = new DataView(out.buffer);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = COMPACT_VERSION;
  out[3] = c.id;
  let at = COMPACT_PREFIX;
  for (const [name, ft] of c.fields) {
    const v = msg[name];
    const { size, min, max } = FIELD_TYPES[ft];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Error(`${type}.${name}: ${String(v)} does not fit ${ft}`);
    writeField(view, at, ft, v);
    at += size;
  }
  if (payload) {
    view.setUint16(at, payload.length, true);
    out.set(payload, at + 2);
  }
  return out;
}

function decodeCompact(frame: Uint8Array, registry: SchemaRegistry, paramCount: number): DecodeResult {
  const fail = (reason: RejectReason, detail: string): DecodeResult => ({ ok: false, reason, detail });
  const ct = compactTable(registry).get(frame[3]);
  if (!ct) return fail('unknown-type', `unknown compact type id ${frame[3]}`);
  const { type, schema, compact: c, fixed } = ct;
  if (frame.length < COMPACT_PREFIX + fixed) return fail('malformed', `${type}: compact frame truncated`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const header: Record<string, unknown> = { type };
  let at = COMPACT_PREFIX;
  for (const [name, ft] of c.fields) {
    header[name] = readField(view, at, ft);
    at += FIELD_TYPES[ft].size;
  }
  let payload: Uint8Array | null = null;
  if (c.bytes !== undefined) {
    const length = view.getUint16(at, true);
    at += 2;
    const limit = checkLength(schema.vectors[c.bytes], 0, length, paramCount);
    if (limit) return fail('bad-length', `${type}.${c.bytes}: ${limit}`);
    if (at + length > frame.length) return fail('bad-length', `${type}.${c.bytes}: ${length} values do not fit in the frame`);
    payload = frame.slice(at, at + length);
    at += length;
  }
  if (at !== frame.length) return fail('bad-length', `${type}: ${frame.length - at} trailing bytes`);
  const parsed = schema.header.safeParse(header);
  if (!parsed.success) return fail('bad-header', `${type}: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  const msg = { ...(parsed.data as object), type } as Message;
  for (const name of Object.keys(schema.vectors)) delete msg[name];
  if (payload) msg[c.bytes!] = payload;
  return { ok: true, msg };
}

interface Body {
  index: number;
  dtype: Dtype;
  start: number;
  length: number;
  bytes: Uint8Array;
}

function encodeVector(type: string, name: string, index: number, schema: VectorSchema, value: unknown): Body {
  const wrapped = ArrayBuffer.isView(value) ? { values: value as VectorArray } : (value as { values?: unknown; start?: unknown; dtype?: unknown } | null);
  const values = wrapped?.values;
  if (!ArrayBuffer.isView(values)) throw new Error(`${type}.${name}: not a typed array`);
  const allowed = dtypesOf(schema);
  const dtype = (wrapped!.dtype ?? allowed[0]) as Dtype;
  if (!allowed.includes(dtype)) throw new Error(`${type}.${name}: dtype ${dtype} is not one of ${allowed.join(', ')}`);
  const start = wrapped!.start ?? 0;
  if (!Number.isInteger(start) || (start as number) < 0 || (start !== 0 && !schema.fragment)) throw new Error(`${type}.${name}: bad start ${String(start)}`);
  const v = values as VectorArray;
  const scaled = isScaled(schema, dtype);
  const floats = dtype === 'f32' || dtype === 'f16' || scaled;
  const packed = packedBits(dtype);
  const expected = floats ? Float32Array : packed ? Uint8Array : Int8Array;
  if (!(v instanceof expected)) throw new Error(`${type}.${name}: ${dtype}${scaled ? ' (scaled)' : ''} takes a ${expected.name}`);
  const bytes = new Uint8Array(vectorBytes(dtype, v.length, scaled));
  const view = new DataView(bytes.buffer);
  if (dtype === 'f32') {
    if (isLittleEndian) bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    else for (let i = 0; i < v.length; i++) view.setFloat32(4 * i, v[i], true);
  } else if (dtype === 'f16') {
    const h = toF16(v);
    for (let i = 0; i < h.length; i++) view.setUint16(2 * i, h[i], true);
  } else if (scaled) {
    const { q, scale } = quantize(v, dtype === 'i8' ? 8 : 4);
    view.setFloat32(0, scale, true);
    bytes.set(dtype === 'i8' ? new Uint8Array(q.buffer) : packI4(q), 4);
  } else if (dtype === 'i4') bytes.set(packI4(v));
  else if (packed > 0 && packed < 8) bytes.set(packBits(v as Uint8Array, packed));
  else bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return { index, dtype, start: start as number, length: v.length, bytes };
}

/**
 * Encodes a message of a type in `registry`. Vector fields (by the schema's names) go to the
 * binary part, everything else to the JSON header. Throws on what only a local bug can cause:
 * an unknown type, a missing required vector, a value of the wrong array type or dtype.
 */
export function encodeMessage(msg: Message, registry: SchemaRegistry): Uint8Array {
  const schema = schemaFor(registry, msg.type);
  if (!schema) throw new Error(`encode: unknown message type ${msg.type}`);
  if (schema.compact) return encodeCompact(msg, compactTable(registry).get(schema.compact.id)!);
  const header: Record<string, unknown> = {};
  const bodies: Body[] = [];
  const names = Object.keys(schema.vectors);
  if (names.length > 255) throw new Error(`${msg.type}: at most 255 vectors per message type`);
  for (const [k, v] of Object.entries(msg)) if (!Object.hasOwn(schema.vectors, k)) header[k] = v;
  names.forEach((name, index) => {
    const value = msg[name];
    if (value === undefined) {
      if (!schema.vectors[name].optional) throw new Error(`${msg.type}: vector ${name} missing`);
      return;
    }
    bodies.push(encodeVector(msg.type, name, index, schema.vectors[name], value));
  });
  const json = encoder.encode(JSON.stringify(header));
  let total = PREFIX + json.length + ENTRY * bodies.length;
  for (const b of bodies) total += b.bytes.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = VERSION;
  out[3] = bodies.length;
  view.setUint32(4, json.length, true);
  out.set(json, PREFIX);
  let at = PREFIX + json.length;
  for (const b of bodies) {
    out[at] = b.index;
    out[at + 1] = DTYPES.indexOf(b.dtype);
    view.setUint32(at + 4, b.start, true);
    view.setUint32(at + 8, b.length, true);
    at += ENTRY;
  }
  for (const b of bodies) {
    out.set(b.bytes, at);
    at += b.bytes.length;
  }
  return out;
}

export type DecodeResult = { ok: true; msg: Message } | { ok: false; reason: RejectReason; detail: string };

/** Reasons a frame is refused; counted per reason and shown in the UI. */
export type RejectReason = 'malformed' | 'unknown-type' | 'bad-header' | 'bad-vector' | 'bad-length' | 'non-finite' | 'out-of-range';

export function decodeMessage(frame: Uint8Array, registry: SchemaRegistry, paramCount: number): DecodeResult {
  const fail = (reason: RejectReason, detail: string): DecodeResult => ({ ok: false, reason, detail });
  if (frame.length < COMPACT_PREFIX || frame[0] !== MAGIC0 || frame[1] !== MAGIC1) return fail('malformed', 'not a Murmuration frame');
  if (frame[2] === COMPACT_VERSION) return decodeCompact(frame, registry, paramCount);
  if (frame.length < PREFIX) return fail('malformed', 'not a Murmuration frame');
  if (frame[2] !== VERSION) return fail('malformed', `unsupported frame version ${frame[2]}`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = frame[3];
  const headerLen = view.getUint32(4, true);
  if (headerLen > MAX_HEADER_BYTES || PREFIX + headerLen > frame.length) return fail('malformed', 'header length out of bounds');
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(frame.subarray(PREFIX, PREFIX + headerLen)));
  } catch {
    return fail('malformed', 'header is not UTF-8 JSON');
  }
  const type = (header as { type?: unknown } | null)?.type;
  if (typeof type !== 'string') return fail('bad-header', 'header has no type');
  const schema = schemaFor(registry, type);
  if (!schema) return fail('unknown-type', `unknown message type ${JSON.stringify(type).slice(0, 40)}`);
  const parsed = schema.header.safeParse(header);
  if (!parsed.success) return fail('bad-header', `${type}: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  const msg = { ...(parsed.data as object), type } as Message;
  const names = Object.keys(schema.vectors);
  for (const name of names) delete msg[name]; // a vector comes from the binary part only

  const tableAt = PREFIX + headerLen;
  if (count > names.length) return fail('bad-vector', `${type}: ${count} vectors, schema has ${names.length}`);
  if (tableAt + ENTRY * count > frame.length) return fail('malformed', `${type}: vector table truncated`);
  let at = tableAt + ENTRY * count;
  let previous = -1;
  const present = new Set<string>();
  for (let e = 0; e < count; e++) {
    const entry = tableAt + ENTRY * e;
    const index = frame[entry];
    const code = frame[entry + 1];
    const start = view.getUint32(entry + 4, true);
    const length = view.getUint32(entry + 8, true);
    if (index <= previous || index >= names.length) return fail('bad-vector', `${type}: vector index ${index} out of order or unknown`);
    previous = index;
    const name = names[index];
    const vs = schema.vectors[name];
    const dtype = DTYPES[code];
    if (!dtype || !dtypesOf(vs).includes(dtype)) return fail('bad-vector', `${type}.${name}: dtype ${dtype ?? code} not allowed`);
    const limit = checkLength(vs, start, length, paramCount);
    if (limit) return fail('bad-length', `${type}.${name}: ${limit}`);
    const scaled = isScaled(vs, dtype);
    const bytes = vectorBytes(dtype, length, scaled);
    if (at + bytes > frame.length) return fail('bad-length', `${type}.${name}: ${length} values do not fit in the frame`);
    const decoded = decodeVector(frame.subarray(at, at + bytes), dtype, length, scaled, vs.maxAbs ?? MAX_ABS_PARAM);
    if (typeof decoded === 'object' && 'reason' in decoded) return fail(decoded.reason, `${type}.${name}: ${decoded.detail}`);
    msg[name] = vs.fragment ? ({ start, end: start + length, values: decoded } satisfies Fragment<VectorArray>) : decoded;
    present.add(name);
    at += bytes;
  }
  if (at !== frame.length) return fail('bad-length', `${type}: ${frame.length - at} trailing bytes`);
  for (const name of names) if (!present.has(name) && !schema.vectors[name].optional) return fail('bad-length', `${type}: vector ${name} missing`);
  return { ok: true, msg };
}

/** Why (start, length) does not fit the schema, or null. */
function checkLength(vs: VectorSchema, start: number, length: number, paramCount: number): string | null {
  if (typeof vs.length === 'object') {
    if (start !== 0) return 'a list has no start';
    return length <= vs.length.max ? null : `${length} values, at most ${vs.length.max}`;
  }
  const total = vs.length === 'model' ? paramCount : vs.length;
  if (!vs.fragment) {
    if (start !== 0) return 'not a fragment, start must be 0';
    return length === total ? null : `${length} values, ${vs.length === 'model' ? 'model has' : 'expected'} ${total}`;
  }
  if (length < 1) return 'empty fragment';
  return start + length <= total ? null : `fragment [${start}, ${start + length}) outside [0, ${total})`;
}

type VectorError = { reason: RejectReason; detail: string };

function decodeVector(bytes: Uint8Array, dtype: Dtype, n: number, scaled: boolean, maxAbs: number): VectorArray | VectorError {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'u8') return bytes.slice();
  const packed = packedBits(dtype);
  if (packed) {
    // Unused bits of the last byte must be 0: one value, one encoding.
    const used = (n * packed) % 8;
    if (used !== 0 && bytes[bytes.length - 1] >> used !== 0) return { reason: 'malformed', detail: 'padding bits set after the last value' };
    return unpackBits(bytes, n, packed);
  }
  if ((dtype === 'i8' || dtype === 'i4') && !scaled) return dtype === 'i8' ? new Int8Array(bytes.slice().buffer) : unpackI4(bytes, n);
  let out: Float32Array;
  if (dtype === 'f32') {
    out = new Float32Array(n);
    if (isLittleEndian) new Uint8Array(out.buffer).set(bytes);
    else for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === 'f16') {
    out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32(view.getUint16(2 * i, true));
  } else {
    const scale = view.getFloat32(0, true);
    if (!Number.isFinite(scale) || !(scale > 0)) return { reason: 'out-of-range', detail: `scale ${scale} is not finite and positive` };
    const q = dtype === 'i8' ? new Int8Array(bytes.buffer, bytes.byteOffset + 4, n) : unpackI4(bytes.subarray(4), n);
    const qmax = dtype === 'i8' ? QMAX.i8 : QMAX.i4;
    for (let i = 0; i < n; i++) if (q[i] > qmax || q[i] < -qmax) return { reason: 'out-of-range', detail: `level ${q[i]} outside ±${qmax} at ${i}` };
    out = dequantize(q, scale);
  }
  for (let i = 0; i < n; i++) {
    const v = out[i];
    if (!Number.isFinite(v)) return { reason: 'non-finite', detail: `NaN or Inf at ${i}` };
    if (v > maxAbs || v < -maxAbs) return { reason: 'out-of-range', detail: `|value| > ${maxAbs} at ${i}` };
  }
  return out;
}

/** Common header fields. */
export const round = z.number().int().min(0).max(1e9);
export const nodeId = z.string().min(1).max(64);
