import { alieZ, chooseAttackers, parseByzantine, poison, type Attack } from '../core/byzantine/attacks.ts';
import type { Config } from '../core/config.ts';
import { Rng } from '../core/rng.ts';
import type { Compute } from './ports.ts';

/**
 * Honest updates (trained − start) as an ALIE attacker may know them: the latest `perKey` per
 * key. The simulator shares one pool among all its nodes (an omniscient attacker sees the
 * honest updates of the round, as in Baruch et al.'s threat model); a tab has only its own
 * updates, its recent ones standing in for the room's spread.
 */
export class UpdatePool {
  private readonly updates = new Map<string, Float32Array[]>();

  constructor(private readonly perKey = 1) {}

  record(key: string, update: Float32Array): void {
    const list = this.updates.get(key) ?? [];
    list.push(update);
    if (list.length > this.perKey) list.shift();
    this.updates.set(key, list);
  }

  all(): Float32Array[] {
    return [...this.updates.keys()].sort().flatMap((k) => this.updates.get(k)!);
  }
}

/** What a node is, byzantine-wise: an attacker (with its attack) or honest, and the pool it reports to. */
export interface ByzantineRole {
  attack: Attack | null;
  /** Where honestly computed updates go (for ALIE); null when nobody needs them. */
  pool: UpdatePool | null;
  /** This node's key in the pool. */
  key: string;
  /** The attack's randomness (noise). */
  rng: Rng;
  /** ALIE's default shift for this room (alieZ). */
  z: number;
}

/**
 * The byzantine hook, where a node's model is made: it wraps the node's compute port, so every
 * protocol's attackers follow their protocol and only the model their training returns changes
 * (start + attack(δ)). Label flipping is asked of the learner (TrainRequest.flipLabels).
 * Honest nodes are wrapped only to report their updates to the pool.
 */
export function byzantineCompute(inner: Compute, role: ByzantineRole): Compute {
  const { attack } = role;
  return {
    run(request, done, fail) {
      if (request.kind !== 'train') return inner.run(request, done, fail);
      const req = attack?.name === 'labelflip' ? { ...request, flipLabels: true } : request;
      inner.run(
        req,
        (result) => {
          if (result.kind !== 'train') return done(result);
          const start = request.params;
          if (role.pool && attack?.name !== 'labelflip') role.pool.record(role.key, Float32Array.from(result.params, (x, i) => x - start[i]));
          if (!attack) return done(result);
          done({ ...result, params: poison(attack, start, result.params, role.rng, role.pool?.all() ?? [], role.z) });
        },
        fail,
      );
    },
  };
}

/**
 * The roles of a room's nodes under `byzantine=<fraction>:<attack>`: round(fraction · |eligible|)
 * attackers drawn from the seed among `ids` minus `trusted` (a coordinator plays the trusted
 * server), the others honest. One ALIE pool for the whole room (omniscient attackers); null
 * in an honest room.
 */
export function roomRoles(spec: string, seed: number, ids: readonly string[], trusted?: string): Map<string, ByzantineRole> | null {
  const parsed = parseByzantine(spec);
  if (!parsed || parsed.fraction === 0) return null;
  const root = Rng.seed(seed).split('byzantine');
  const attackers = chooseAttackers(parsed.fraction, ids.filter((id) => id !== trusted), root.split('who'));
  const attack: Attack = { name: parsed.name, ...(parsed.strength !== undefined ? { strength: parsed.strength } : {}) };
  const pool = attack.name === 'alie' ? new UpdatePool(1) : null;
  const z = alieZ(ids.length, attackers.size);
  return new Map(ids.map((id) => [id, { attack: attackers.has(id) ? attack : null, pool, key: id, rng: root.split(id), z }]));
}

/** Own updates a tab's ALIE keeps to estimate the spread it hides in (it sees no one else's). */
export const TAB_ALIE_HISTORY = 8;

/**
 * A tab that ticked "this tab attacks": the room's `byzantine=` attack (signflip when the room
 * sets none), its own pool of recent updates for ALIE, and z = 1 (a tab does not know f).
 */
export function tabRole(config: Pick<Config, 'byzantine' | 'seed'>, id: string): ByzantineRole {
  const parsed = parseByzantine(config.byzantine);
  const attack: Attack = parsed ? { name: parsed.name, ...(parsed.strength !== undefined ? { strength: parsed.strength } : {}) } : { name: 'signflip' };
  return { attack, pool: attack.name === 'alie' ? new UpdatePool(TAB_ALIE_HISTORY) : null, key: id, rng: Rng.seed(config.seed).split('byzantine').split(id), z: 1 };
}
