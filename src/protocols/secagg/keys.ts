import { keyTypes, type Config, type ConfigKeySpec } from '../../core/config.ts';
import { ENVELOPE_BYTES } from '../../core/secagg/envelope.ts';
import { SCALAR_BYTES } from '../../core/secagg/shamir.ts';
import type { RunFact } from '../protocol.ts';
import { KEYS_BYTES, MAX_SECAGG_CLIENTS } from './messages.ts';

const onlyWithSecagg = (values: Readonly<Record<string, string>>) => values.secagg === '1';

/** FedAvg's secure-aggregation keys (a module lists them among its own, as `dpKeys`). */
export const secaggKeys = {
  secagg: {
    schema: keyTypes.int(0, 1).default(0),
    label: 'Secure aggregation',
    options: ['0', '1'],
    // Compare mode simulates in a browser worker, which has no synchronous ECDH (src/sim/nodeKeys.ts).
    modes: ['live'],
    help: '1: secure aggregation. Every tab hides its update under random masks that it agrees on with each other tab by a key exchange; the masks cancel out only when all the updates are added up. The coordinator sees each tab’s public keys, sealed shares it cannot open, masked updates that look like random numbers, and the sum of the updates, which is all it needs for the new model. It cannot see any single tab’s update or how much data that tab has. It still sees who takes part, and since it trains too, it knows the sum of the others’ updates. A tab that closes mid-round is covered by the shares it gave the others. It costs extra messages (keys and shares), and the coordinator can no longer check or filter single updates. Needs https:// or localhost (the browser’s WebCrypto).',
    check: (c: Config): string | undefined => {
      if (c.secagg !== 1) return undefined;
      if (c.robust !== 'mean') return `cannot be 1 with a robust aggregation rule (robust=${c.robust}): the rule needs every update on its own, and secure aggregation shows the coordinator only their sum (choose one of the two)`;
      if (c.dp === 'rqm') return 'cannot be 1 with RQM privacy (dp=rqm): RQM sends level indices that the coordinator decodes one update at a time, and secure aggregation hides single updates (choose one of the two)';
      if (c.nodes < 3) return 'needs at least 3 nodes: the coordinator knows its own update, so a sum of two would give away the other one';
      return undefined;
    },
  },
  secaggThreshold: {
    schema: keyTypes.real(0.5, 1).default(0.66),
    label: 'Secure aggregation threshold',
    help: 'The share of a round’s clients (t = ⌈θ·n⌉, and more than half) that must still be there at the end for the coordinator to unmask the sum. Higher: safer against a coordinator that colludes with clients, but fewer tabs may close mid-round.',
    visible: onlyWithSecagg,
    modes: ['live'],
  },
} satisfies Record<string, ConfigKeySpec>;

/**
 * t for a round of n clients: at least ⌈θ·n⌉, and more than n/2 so that no two disjoint groups
 * of clients could each reveal one half of a client's secrets; at most n.
 */
export function secaggThreshold(n: number, theta: number): number {
  return Math.min(n, Math.max(Math.floor(n / 2) + 1, Math.ceil(theta * n - 1e-9)));
}

/** How many clients a secure round of this config expects: FedAvg's m, capped at MAX_SECAGG_CLIENTS. */
export function secaggClients(config: Config): number {
  return Math.min(MAX_SECAGG_CLIENTS, Math.max(Math.round(config.fraction * config.nodes), 1));
}

/**
 * Bytes one client adds per round to its plain float32 update, with m clients in the round (message payloads; each frame adds a header of a few dozen bytes): its keys up and
 * everyone's down, one envelope per other client each way, one share per client to unmask, and
 * the masked update's extra count word.
 */
export function secaggExtraBytes(m: number): number {
  return KEYS_BYTES * (1 + m) + 2 * ENVELOPE_BYTES * (m - 1) + SCALAR_BYTES * m + 4;
}

const kb = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : b >= 1000 ? `${(b / 1000).toFixed(1)} kB` : `${b} B`);

/** The overhead as a run fact (setup panel, a tab's status, the simulator's summary). */
export function secaggFacts(config: Config, run: { paramCount: number }): RunFact[] {
  if (config.secagg !== 1) return [];
  const m = secaggClients(config);
  const extra = secaggExtraBytes(m);
  const plain = 4 * run.paramCount;
  const text = `${kb(extra)} of keys and shares per client and round with ${m} clients, on top of its update (${kb(plain)} as float32; ${(extra / plain + 1).toFixed(2)}× in all); the coordinator sees only the sum`;
  return [{ key: 'secaggExtraBytes', value: extra, label: 'secure aggregation cost', text }];
}
