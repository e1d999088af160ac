import fc from 'fast-check';
import { decodeMessage, encodeMessage, VERSION, type Message, type SchemaRegistry } from '../../src/core/wire/codec.ts';

/**
 * Mutations of valid frames, as fast-check values: a fuzzing peer takes a real frame (recorded
 * from honest traffic) and applies one of these. They cover the codec (bytes, lengths, types)
 * and the protocols (well-formed frames whose header claims are extreme or inconsistent).
 */
export type Mutation =
  | { op: 'field'; key: string | null; value: unknown }
  | { op: 'type'; type: string }
  | { op: 'vector'; at: number; value: number }
  | { op: 'resize'; by: number }
  | { op: 'byte'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'garbage'; bytes: Uint8Array }
  | { op: 'replay' };

/** Values a liar would try: boundaries of every numeric range on the wire, wrong types, prototype names. */
const extremes = fc.constantFrom(0, -1, 1, 2, 1e9, 1e9 + 1, 2 ** 31, 2 ** 32, 2 ** 53, 1e15, 1e308, -1e308, 0.5, -0.5);
const awkward = fc.constantFrom('constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '', 'n0', 'n1', 'J', 'L');
export const headerValue: fc.Arbitrary<unknown> = fc.oneof(
  extremes,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  awkward,
  fc.string({ maxLength: 12 }),
  fc.array(fc.oneof(fc.integer(), awkward), { maxLength: 6 }),
  fc.dictionary(awkward, fc.oneof(fc.integer(), awkward), { maxKeys: 3 }),
);

export function mutationArb(types: string[]): fc.Arbitrary<Mutation> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('field' as const), key: fc.option(awkward, { nil: null }), value: headerValue }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('type' as const), type: fc.oneof(fc.constantFrom(...types), awkward, fc.string({ maxLength: 16 })) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('vector' as const), at: fc.nat(), value: fc.constantFrom(NaN, Infinity, -Infinity, 3e38, -3e38, 1e7, 0) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('resize' as const), by: fc.integer({ min: -8, max: 8 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('garbage' as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'replay' as const }) },
  );
}

/** Bytes before a v2 frame's header JSON: magic (2), version, vector count, u32 JSON length. */
const PREFIX = 8;

/**
 * A v2 frame with its header JSON rewritten and everything else kept, byte for byte: the way a
 * hostile peer writes a header the encoder would never produce (a type named `constructor`).
 * Null for frames that are not v2 or whose header is not an object.
 */
function rewriteHeader(frame: Uint8Array, change: (header: Record<string, unknown>) => Record<string, unknown>): Uint8Array | null {
  if (frame.length < PREFIX || frame[2] !== VERSION) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const length = view.getUint32(4, true);
  if (PREFIX + length > frame.length) return null;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(frame.subarray(PREFIX, PREFIX + length)));
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
  const json = new TextEncoder().encode(JSON.stringify(change(header as Record<string, unknown>)) ?? 'null');
  const out = new Uint8Array(frame.length - length + json.length);
  out.set(frame.subarray(0, PREFIX));
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, PREFIX);
  out.set(frame.subarray(PREFIX + length), PREFIX + json.length);
  return out;
}

/**
 * Applies a mutation to a valid frame. Header and vector mutations decode the frame, change
 * the message and encode it again without validation (the codec's encoder does not check
 * headers); a message the encoder cannot express (a compact frame's field out of its range)
 * falls back to a byte flip, so every mutation yields a frame.
 */
export function mutate(frame: Uint8Array, m: Mutation, schemas: SchemaRegistry, paramCount: number): Uint8Array {
  const byteFlip = (at: number, value: number) => {
    const out = frame.slice();
    if (out.length > 0) out[at % out.length] = value;
    return out;
  };
  const decoded = decodeMessage(frame, schemas, paramCount);
  const reencode = (change: (msg: Message) => Message): Uint8Array => {
    if (!decoded.ok) return byteFlip(0, 0);
    try {
      return encodeMessage(change({ ...decoded.msg }), schemas);
    } catch {
      return byteFlip(frame.length - 1, 0xff);
    }
  };
  switch (m.op) {
    case 'field': {
      const pickKey = (keys: string[]) => m.key ?? keys[(JSON.stringify(m.value)?.length ?? 0) % Math.max(1, keys.length)] ?? 'round';
      const setField = (h: Record<string, unknown>) => ({ ...h, [pickKey(Object.keys(h).filter((k) => k !== 'type'))]: m.value });
      return rewriteHeader(frame, setField) ?? reencode((msg) => setField(msg) as Message);
    }
    case 'type':
      return rewriteHeader(frame, (h) => ({ ...h, type: m.type })) ?? reencode((msg) => ({ ...msg, type: m.type }) as Message);
    case 'vector':
      return reencode((msg) => {
        const name = Object.keys(msg).find((k) => msg[k] instanceof Float32Array);
        if (!name) return { ...msg, type: `${msg.type}` };
        const v = (msg[name] as Float32Array).slice();
        if (v.length > 0) v[m.at % v.length] = m.value;
        return { ...msg, [name]: v } as Message;
      });
    case 'resize':
      return reencode((msg) => {
        const name = Object.keys(msg).find((k) => msg[k] instanceof Float32Array);
        if (!name) return msg;
        const v = msg[name] as Float32Array;
        const out = new Float32Array(Math.max(0, v.length + m.by));
        out.set(v.subarray(0, out.length));
        return { ...msg, [name]: out } as Message;
      });
    case 'byte':
      return byteFlip(m.at, m.value);
    case 'truncate':
      return frame.slice(0, frame.length > 0 ? m.at % frame.length : 0);
    case 'garbage':
      return m.bytes;
    case 'replay':
      return frame;
  }
}
