import { z } from 'zod';
import { round, type SchemaRegistry } from '../../core/wire/codec.ts';

/** The most nodes (slots) one run keeps; a published list has at most this many bytes after its 4-byte prefix. */
export const MAX_SLOTS = 1024;
/** A published list: t (24 bits, little-endian), the epoch, then one byte per slot. */
export const LIST_PREFIX = 4;
const byte = z.number().int().min(0).max(255);

/**
 * SPSA's messages. Sizes matter here (the point is bytes), so the per-iteration ones are lean:
 * `spsa/g` is header only, `spsa/s` carries its iteration and epoch in its byte vector.
 */
export const spsaSchemas: SchemaRegistry = {
  /** Node → coordinator: its projected gradient of iteration `t`, as one byte (byte.ts). */
  'spsa/g': { header: z.object({ t: round.min(1), g: byte }), vectors: {} },
  /** Coordinator → every node: iteration t's list, which everybody applies in slot order. */
  'spsa/s': { header: z.object({}), vectors: { l: { dtype: 'u8', length: { max: LIST_PREFIX + MAX_SLOTS } } } },
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
