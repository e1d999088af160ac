import { z } from 'zod';
import { nodeId, round, type SchemaRegistry } from '../../core/wire/codec.ts';
import { ENVELOPE_BYTES } from '../../core/secagg/envelope.ts';
import { PUBLIC_KEY_BYTES } from '../../core/secagg/keys.ts';
import { SCALAR_BYTES } from '../../core/secagg/shamir.ts';

/** The most clients one secure round takes: bounds every list and vector below. */
export const MAX_SECAGG_CLIENTS = 1000;
/** A masked update is 4 bytes per parameter plus 4; at most what one frame may hold (the chunk reassembler's 16 MiB). */
export const MAX_MASKED_BYTES = 16 * 2 ** 20;
/** A client's two public keys: the one that seals shares, then the one its pairwise masks come from. */
export const KEYS_BYTES = 2 * PUBLIC_KEY_BYTES;

/** Re-sampling a round makes a new attempt; every secure-aggregation message names both. */
export const attempt = z.number().int().min(0).max(1e6);
/** A list of clients: sorted, no repeats (checked by the receiver), at most MAX_SECAGG_CLIENTS. */
const clients = z.array(nodeId).min(1).max(MAX_SECAGG_CLIENTS);

/**
 * Secure aggregation's messages (Bonawitz et al. 2017), all through the coordinator, which plays
 * the server. One round attempt: the coordinator's `fedavg/train` opens it; then keys → roster
 * → shares → deal → masked → unmask → reveal.
 */
export const secaggSchemas: SchemaRegistry = {
  /** Client → coordinator: its two fresh public keys for this attempt. */
  'secagg/keys': {
    header: z.object({ round, attempt }),
    vectors: { keys: { dtype: 'u8', length: KEYS_BYTES } },
    compact: { id: 1, fields: [['round', 'u32'], ['attempt', 'u32']], bytes: 'keys' },
  },
  /** Coordinator → each client that sent keys (U1): the sorted list and everyone's keys in its order. */
  'secagg/roster': {
    header: z.object({ round, attempt, ids: clients }),
    vectors: { keys: { dtype: 'u8', length: { max: MAX_SECAGG_CLIENTS * KEYS_BYTES } } },
  },
  /** Client → coordinator: one sealed envelope of shares per other member of U1, in U1's order. */
  'secagg/shares': {
    header: z.object({ round, attempt }),
    vectors: { envelopes: { dtype: 'u8', length: { max: (MAX_SECAGG_CLIENTS - 1) * ENVELOPE_BYTES } } },
  },
  /** Coordinator → each client that sent shares (U2): the envelopes dealt to it, from the other members of U2 (`from`, sorted). */
  'secagg/deal': {
    header: z.object({ round, attempt, from: clients }),
    vectors: { envelopes: { dtype: 'u8', length: { max: (MAX_SECAGG_CLIENTS - 1) * ENVELOPE_BYTES } } },
  },
  /** Client → coordinator: its masked contribution, (d + 1) words of Z_{2^32}, little-endian. */
  'secagg/masked': {
    header: z.object({ round, attempt }),
    vectors: { masked: { dtype: 'u8', length: { max: MAX_MASKED_BYTES } } },
  },
  /** Coordinator → each client whose masked contribution arrived (U3): who survived (sorted). */
  'secagg/unmask': { header: z.object({ round, attempt, survivors: clients }), vectors: {} },
  /** Client → coordinator: for each member of U2 in order, its share of that member's seed b (a survivor) or mask key (dropped). */
  'secagg/reveal': {
    header: z.object({ round, attempt }),
    vectors: { shares: { dtype: 'u8', length: { max: MAX_SECAGG_CLIENTS * SCALAR_BYTES } } },
    compact: { id: 2, fields: [['round', 'u32'], ['attempt', 'u32']], bytes: 'shares' },
  },
};
