import type { NodeId } from '../protocol.ts';

/**
 * What peers claim about the run's progress, kept per peer so that no single peer can move a
 * node: a round far ahead of a node's own counts only once a second peer has claimed it too.
 *
 * Why a second witness and not a fixed window around the node's own round: an honest late
 * joiner (or a node its neighbours timed out on) is legitimately many rounds behind, and must
 * catch up on what the room says. One liar can claim anything, but it is one peer; ids are
 * the signaling server's (one per connection), so a second witness is another connection.
 * A room of two nodes has no second witness, and no honest majority to protect either.
 */
export class PeerClaims {
  private readonly latest = new Map<NodeId, number>();

  /** Memory stays bounded: beyond `capacity` peers the lowest claim is forgotten. */
  constructor(private readonly capacity = 4096) {}

  /** Records that `peer` claims the run reached `round` (only its highest claim is kept). */
  note(peer: NodeId, round: number): void {
    if (!(round > (this.latest.get(peer) ?? -1))) return;
    this.latest.set(peer, round);
    if (this.latest.size > this.capacity) {
      let low: NodeId | null = null;
      for (const [p, r] of this.latest) if (low === null || r < this.latest.get(low)!) low = p;
      this.latest.delete(low!);
    }
  }

  forget(peer: NodeId): void {
    this.latest.delete(peer);
  }

  /** How many distinct peers claim at least `round`. */
  atLeast(round: number): number {
    let n = 0;
    for (const r of this.latest.values()) if (r >= round) n++;
    return n;
  }

  /**
   * The highest round that `witnesses` distinct peers all claim (0 if fewer peers claimed
   * anything): the `witnesses`-th highest claim.
   */
  corroborated(witnesses = 2): number {
    if (this.latest.size < witnesses) return 0;
    return [...this.latest.values()].sort((a, b) => b - a)[witnesses - 1];
  }
}

/**
 * A weight-like claim (a model's age, a sample count) clipped to `cap`: the value to use, and
 * whether it was clipped (the caller counts that by reason).
 */
export function clip(claim: number, cap: number): { value: number; clipped: boolean } {
  return claim > cap ? { value: cap, clipped: true } : { value: claim, clipped: false };
}
