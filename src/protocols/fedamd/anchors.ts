import type { Rng } from '../../core/rng.ts';
import { axpy, mean } from '../../core/vector.ts';
import { compareIds } from '../topology.ts';

/**
 * FedAMD's server-side arithmetic, pure (Wu et al., ICML 2023; read against the authors' code,
 * github.com/HarliWu/FedAMD).
 */

export type Role = 'anchor' | 'miner';

/**
 * v = the plain mean of the bullseyes held (the reference averages over all clients with weight
 * 1/N each), summed in id order so the bits do not depend on arrival order; null when none is held.
 */
export function meanBullseye(bullseyes: ReadonlyMap<string, Float32Array>): Float32Array | null {
  if (bullseyes.size === 0) return null;
  return mean([...bullseyes.keys()].sort(compareIds).map((id) => bullseyes.get(id)!));
}

/** θ ← θ − η_g · mean(Δ) over the miners' updates (given in a fixed order). */
export function serverStep(theta: Float32Array, deltas: readonly Float32Array[], serverLr: number): Float32Array {
  if (deltas.length === 0) throw new Error('a server step needs at least one miner update');
  return axpy(-serverLr, mean(deltas), theta);
}

/**
 * Each sampled client's role: an anchor with probability p, else a miner. A client the server
 * holds no bullseye for yet (a joiner, or every client after a new server took over) is always an
 * anchor: a miner's steps need v, and v should include every client that takes part.
 */
export function drawRoles(sampled: readonly string[], hasBullseye: (id: string) => boolean, p: number, rng: Rng): Map<string, Role> {
  const roles = new Map<string, Role>();
  for (const id of [...sampled].sort(compareIds)) {
    const coin = rng.next();
    roles.set(id, !hasBullseye(id) || coin < p ? 'anchor' : 'miner');
  }
  return roles;
}

/**
 * The objective the reference code minimizes over the anchor probability p (its `--opta` option)
 * for N clients of which A are sampled a round: 1/(1 − p^A) + 2N/(A·p·√(1 − p^A)). The first term
 * grows as rounds with no miner at all (no update) become likely; the second as bullseyes go stale
 * (a client is refreshed about every N/(A·p) rounds).
 */
export function anchorObjective(p: number, clients: number, sampled: number): number {
  if (!(p > 0 && p < 1)) return Infinity;
  const q = 1 - p ** sampled;
  return 1 / q + (2 * clients) / (sampled * p * Math.sqrt(q));
}

/**
 * The p in (0, 1) minimizing `anchorObjective` (`anchorProb=auto`), by golden-section search
 * (the reference calls scipy's fmin from 0.5). About 0.81 for the reference's 10 of 20 clients.
 */
export function optimalAnchorProb(clients: number, sampled: number): number {
  if (!(clients >= 1 && sampled >= 1)) throw new Error(`optimalAnchorProb needs clients and sampled ≥ 1, got ${clients}, ${sampled}`);
  const f = (p: number) => anchorObjective(p, clients, sampled);
  const phi = (Math.sqrt(5) - 1) / 2;
  let lo = 1e-9;
  let hi = 1 - 1e-9;
  let a = hi - phi * (hi - lo);
  let b = lo + phi * (hi - lo);
  let fa = f(a);
  let fb = f(b);
  for (let i = 0; i < 100 && hi - lo > 1e-10; i++) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - phi * (hi - lo);
      fa = f(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + phi * (hi - lo);
      fb = f(b);
    }
  }
  return (lo + hi) / 2;
}
