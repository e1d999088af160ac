import { z } from 'zod';
import { MODEL_PARAMS, nodeId, round, type SchemaRegistry } from '../../core/wire/codec.ts';

/**
 * The visit counts a token carries: parallel arrays, nodes with at least one visit only (so a node
 * that joined after the token last passed by is simply absent). The codec bounds the shape; the
 * protocol checks the ids against the nodes it knows and the counts against the token's step.
 */
export const MAX_VISIT_ENTRIES = 100_000;
const count = z.number().int().min(1).max(1e9);
export const wireVisitsSchema = z
  .object({ ids: z.array(nodeId).max(MAX_VISIT_ENTRIES), n: z.array(count).max(MAX_VISIT_ENTRIES) })
  .refine((v) => v.ids.length === v.n.length, { error: 'ids and n differ in length' });
export type WireVisits = z.infer<typeof wireVisitsSchema>;

/** A claim about the walk: `epoch` counts re-injections after a lost token, `step` the trainings applied. */
const claim = { epoch: round, step: round };

export const tokenSchemas: SchemaRegistry = {
  /**
   * The token, handed to a neighbour: θ after `step` trainings, its visit counts, and `gone`,
   * the visits of nodes that have left the room (so Σ n + gone = step, which the receiver checks).
   */
  'token/pass': { header: z.object({ ...claim, step: round.min(1), visits: wireVisitsSchema, gone: round }), vectors: MODEL_PARAMS },
  /** Receiver → sender: the pass of (epoch, step) arrived; `taken` 0 when the receiver knows a fresher walk and dropped it. */
  'token/ack': {
    header: z.object({ ...claim, taken: z.number().int().min(0).max(1) }),
    vectors: {},
    compact: { id: 1, fields: [['epoch', 'u32'], ['step', 'u32'], ['taken', 'u8']] },
  },
  /** Holder → everyone: "I hold the token at (epoch, step) and am training it" (also repeated as a keepalive). */
  'token/beacon': { header: z.object({ ...claim }), vectors: {}, compact: { id: 2, fields: [['epoch', 'u32'], ['step', 'u32']] } },
  /** The last holder → everyone: the walk is over; the final model, so every tab ends on it. */
  'token/done': { header: z.object({ ...claim }), vectors: MODEL_PARAMS },
};
