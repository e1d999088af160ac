import { z } from 'zod';

/**
 * Binary frames for protocol messages:
 *   magic "MU" | version u8 | flags u8 | headerLen u32 LE | header JSON (utf-8) | pad to 4 | f32 LE params
 * The header is validated against the message type's schema; the params against the
 * model's size and for finiteness, before any protocol sees them.
 */

export interface Message {
  type: string;
  params?: Float32Array;
  [field: string]: unknown;
}

export interface MessageSchema {
  header: z.ZodType;
  /** Whether the message carries a parameter vector of the model's size. */
  params: boolean;
}

export type SchemaRegistry = Readonly<Record<string, MessageSchema>>;

const MAGIC0 = 0x4d; // 'M'
const MAGIC1 = 0x55; // 'U'
const VERSION = 1;
const FLAG_PARAMS = 1;
const PREFIX = 8;
/** Weights beyond this are treated as poison rather than as a model. */
export const MAX_ABS_PARAM = 1e4;
export const MAX_HEADER_BYTES = 256 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeMessage(msg: Message): Uint8Array {
  const { params, ...header } = msg;
  const json = encoder.encode(JSON.stringify(header));
  const headerEnd = PREFIX + json.length;
  const paramsAt = (headerEnd + 3) & ~3;
  const total = paramsAt + (params ? params.length * 4 : 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = VERSION;
  out[3] = params ? FLAG_PARAMS : 0;
  view.setUint32(4, json.length, true);
  out.set(json, PREFIX);
  if (params) {
    if (isLittleEndian) out.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), paramsAt);
    else for (let i = 0; i < params.length; i++) view.setFloat32(paramsAt + 4 * i, params[i], true);
  }
  return out;
}

export type DecodeResult = { ok: true; msg: Message } | { ok: false; reason: RejectReason; detail: string };

/** Reasons a frame is refused; counted per reason and shown in the UI. */
export type RejectReason = 'malformed' | 'unknown-type' | 'bad-header' | 'bad-length' | 'non-finite' | 'out-of-range';

const isLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function decodeMessage(frame: Uint8Array, registry: SchemaRegistry, paramCount: number): DecodeResult {
  const fail = (reason: RejectReason, detail: string): DecodeResult => ({ ok: false, reason, detail });
  if (frame.length < PREFIX || frame[0] !== MAGIC0 || frame[1] !== MAGIC1) return fail('malformed', 'not a Murmuration frame');
  if (frame[2] !== VERSION) return fail('malformed', `unsupported frame version ${frame[2]}`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
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
  const schema = registry[type];
  if (!schema) return fail('unknown-type', `unknown message type ${JSON.stringify(type).slice(0, 40)}`);
  const parsed = schema.header.safeParse(header);
  if (!parsed.success) return fail('bad-header', `${type}: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  const hasParams = (frame[3] & FLAG_PARAMS) !== 0;
  const paramsAt = (PREFIX + headerLen + 3) & ~3;
  const msg = { ...(parsed.data as object), type } as Message;
  if (schema.params !== hasParams) return fail('bad-length', `${type}: params ${schema.params ? 'missing' : 'unexpected'}`);
  if (!hasParams) {
    if (frame.length !== paramsAt && frame.length !== PREFIX + headerLen) return fail('bad-length', `${type}: trailing bytes`);
    return { ok: true, msg };
  }
  const bytes = frame.length - paramsAt;
  if (bytes !== paramCount * 4) return fail('bad-length', `${type}: ${bytes / 4} params, model has ${paramCount}`);
  const params = new Float32Array(paramCount);
  if (isLittleEndian) new Uint8Array(params.buffer).set(frame.subarray(paramsAt));
  else for (let i = 0; i < paramCount; i++) params[i] = view.getFloat32(paramsAt + 4 * i, true);
  for (let i = 0; i < paramCount; i++) {
    const v = params[i];
    if (!Number.isFinite(v)) return fail('non-finite', `${type}: NaN or Inf at ${i}`);
    if (v > MAX_ABS_PARAM || v < -MAX_ABS_PARAM) return fail('out-of-range', `${type}: |w| > ${MAX_ABS_PARAM} at ${i}`);
  }
  msg.params = params;
  return { ok: true, msg };
}

/** Common header fields. */
export const round = z.number().int().min(0).max(1e9);
export const nodeId = z.string().min(1).max(64);
