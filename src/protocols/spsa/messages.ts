import { z } from 'zod';
import { round, type SchemaRegistry } from '../../core/wire/codec.ts';

/** The most nodes (slots) one run keeps; a published list has at most this many bytes. */
export const MAX_SLOTS = 1024;
const byte = z.number().int().min(0).max(255);

/**
 * SPSA's messages. Sizes matter here (the point is bytes), so the per-iteration ones are compact
 * frames (codec.ts): `spsa/g` is 9 bytes on the wire, `spsa/s` 11 bytes plus one per slot.
 */
export const spsaSchemas: SchemaRegistry = {
  /** Node → coordinator: its projected gradient of iteration `t`, as one byte (byte.ts). */
  'spsa/g': { header: z.object({ t: round.min(1), g: byte }), vectors: {}, compact: { id: 1, fields: [['t', 'u32'], ['g', 'u8']] } },
  /** Coordinator → every node: iteration t's list of epoch e, one byte per slot, which everybody applies in slot order. */
  'spsa/s': {
    header: z.object({ t: round.min(1), e: byte }),
    vectors: { l: { dtype: 'u8', length: { max: MAX_SLOTS } } },
    compact: { id: 2, fields: [['t', 'u32'], ['e', 'u8']], bytes: 'l' },
  },
  /**
   * Coordinator → a node: your slot, the epoch, and the iteration to probe next (t). With `params`
   * (θ_{t−1}: a late joiner, or a node that lost the stream) the node copies the model once.
   */
  'spsa/w': {
    header: z.object({ t: round.min(1), e: byte, slot: z.number().int().min(0).max(MAX_SLOTS - 1) }),
    vectors: { params: { dtype: 'f32', length: 'model', optional: true } },
  },
  /** Node → coordinator: I have no slot, or lost the stream (applied iteration t in epoch e; e = −1: none). */
  'spsa/hello': { header: z.object({ t: round, e: z.number().int().min(-1).max(255) }), vectors: {} },
};
