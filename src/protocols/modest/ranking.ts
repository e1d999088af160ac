import { hash53 } from '../../core/hash.ts';
import type { NodeId } from '../protocol.ts';

/**
 * MoDeST's sample order. Every node ranks the active ids of its view by H(id ‖ "-" ‖ round)
 * and takes the first responsive ones, so nodes with the same view agree on the sample
 * without talking to each other.
 *
 * Deviation: the reference hashes with MD5 and compares digests. We use cyrb53 (`hash53`),
 * which is synchronous, dependency-free and computed identically by every JS runtime; ties
 * (equal 53-bit keys, practically never) are broken by id, so the order is total.
 */
export function rankKey(id: NodeId, round: number): number {
  return hash53(`${id}-${round}`);
}

/** The order of round `round`: a pure function of (round, set of ids), whatever the input order or duplicates. */
export function ranking(round: number, ids: Iterable<NodeId>): NodeId[] {
  const keyed = [...new Set(ids)].map((id) => ({ id, key: rankKey(id, round) }));
  keyed.sort((a, b) => a.key - b.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return keyed.map((e) => e.id);
}

/** The first `size` ids of the order, before any ping: the sample if everyone answers. */
export function nominalSample(round: number, ids: Iterable<NodeId>, size: number): NodeId[] {
  return ranking(round, ids).slice(0, size);
}
