import { z } from 'zod';
import { MODEL_PARAMS, round, type SchemaRegistry } from '../../core/wire/codec.ts';
import { RQM_VECTORS } from '../common/privacy.ts';
import { wireViewSchema } from './view.ts';

const nonce = z.number().int().min(0).max(2 ** 31 - 1);

export const pingHeader = z.object({ round, nonce });

/**
 * A pong reports the sender's round estimate (as in the reference) and, beyond the reference,
 * the sender's own progress, so a node about to hand a model over can skip targets that
 * would ignore it (see `accepts` in modest.ts).
 */
export const pongHeader = z.object({
  round,
  nonce,
  /** Highest round this node was asked to train. */
  trained: round,
  /** Highest round whose trained models this node collected as an aggregator... */
  aggregating: round,
  /** ...and whether that aggregation is complete. */
  aggregated: z.boolean(),
});

export const modelHeader = z.object({
  /**
   * kind 'train' (aggregator → trainer): train round `round` from these params (w_{round-1}).
   * kind 'aggregate' (trainer → aggregator): these params were trained in round `round`.
   */
  kind: z.enum(['train', 'aggregate']),
  round: round.min(1),
  /** 'aggregate': the trainer's n_k; 'train': Σ n_k over the models averaged. */
  samples: z.number().int().min(1).max(1e12),
  view: wireViewSchema,
});

/**
 * JOIN / LEAVE announcements: the sender's round estimate and a view of exactly one entry,
 * the sender's own (its counter and status). The reference sends (round, counter, change);
 * this is the same information in the view's format. A view describing anyone else is
 * refused by the protocol: a node announces only itself.
 */
export const announceHeader = z.object({ round, view: wireViewSchema });

export type PingMsg = z.infer<typeof pingHeader>;
export type PongMsg = z.infer<typeof pongHeader>;
/** `levels`: kind 'aggregate' under dp=rqm, where `params` is then the model the trainer started from (common/privacy.ts). */
export type ModelMsg = z.infer<typeof modelHeader> & { params: Float32Array; levels?: Uint8Array };
export type AnnounceMsg = z.infer<typeof announceHeader>;

/**
 * Pings, pongs and announcements are control frames (MessageSchema.control): they go ahead of
 * queued models. A ping stuck behind models on a slow uplink would time out, and the candidate
 * it asks would be skipped as if it were gone.
 */
export const modestSchemas: SchemaRegistry = {
  'modest/ping': { header: pingHeader, vectors: {}, control: true },
  'modest/pong': { header: pongHeader, vectors: {}, control: true },
  'modest/model': { header: modelHeader, vectors: { ...MODEL_PARAMS, ...RQM_VECTORS } },
  'modest/join': { header: announceHeader, vectors: {}, control: true },
  'modest/leave': { header: announceHeader, vectors: {}, control: true },
};
