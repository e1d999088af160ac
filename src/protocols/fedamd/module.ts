import { z } from 'zod';
import { keyTypes } from '../../core/config.ts';
import { DEFAULT_LINK_BUDGET } from '../common/budgets.ts';
import { sharedKeys, type KeysConfig } from '../common/keys.ts';
import type { ProtocolModule } from '../protocol.ts';
import { FedAMD } from './fedamd.ts';
import { fedamdSchemas } from './messages.ts';

const PROB_ERROR = 'must be auto or a number from 0 to 1';
/** A probability, or `auto`: the reference code's optimal one for the room's N and A. */
const anchorProb = z.union([z.number(), z.string()], { error: PROB_ERROR }).transform((v, ctx) => {
  if (v === 'auto') return 'auto' as const;
  const p = typeof v === 'string' && v.trim() === '' ? NaN : Number(v);
  if (p >= 0 && p <= 1) return p;
  ctx.addIssue({ code: 'custom', message: PROB_ERROR });
  return z.NEVER;
});

const keys = {
  // The reference code's default samples 10 of 20 clients.
  participation: {
    schema: keyTypes.real(0, 1).default(0.5),
    label: 'Participation A/N',
    help: 'The share of nodes the server picks each round (at least one).',
  },
  anchorProb: {
    // Not the paper's 0.2: with a stale v, miners keep stepping along old bullseyes. On blobs in a
    // room of 4 tabs (A = 2, K = 10) p = 0.2 left 1 seed of 8 stuck at 67% after 20 rounds where auto
    // (p ≈ 0.64) brought all 8 to 100%; README and BENCHMARKS.md have the numbers.
    schema: anchorProb.default('auto'),
    label: 'Anchor probability p',
    help: 'The chance that a picked node is an anchor (sends a fresh bullseye) rather than a miner (trains). auto: the value that minimizes the reference code’s bound for this many nodes and picks (about 0.65 for 2 of 4, 0.81 for 10 of 20); the paper’s experiments use 0.2.',
    suggest: ['auto', '0.2', '0.5'],
  },
  // The reference code's K. Each round a miner moves about K·lr along v, so K·lr must be a stable
  // gradient step on the whole room's loss: a room's default epoch is about 40 steps on 4 tabs.
  minerSteps: {
    schema: keyTypes.int(0, 100000).default(10),
    label: 'Miner steps K',
    help: 'How many small-batch steps a miner takes each round (0: the local epochs or steps set above).',
  },
  anchorBatch: {
    schema: keyTypes.int(0, 100000).default(0),
    label: 'Anchor batch (0 = all)',
    help: 'How many of its samples an anchor computes its bullseye on; 0 uses its whole slice.',
  },
  serverLr: sharedKeys.serverLr,
  roundTimeout: sharedKeys.roundTimeout,
};

declare module '../../core/config.ts' {
  interface AlgoConfig extends KeysConfig<typeof keys> {}
}

export const fedamd: ProtocolModule = {
  name: 'fedamd',
  config: keys,
  schemas: fedamdSchemas,
  evaluates: 'global',
  init: 'shared',
  coordinator: true,
  // The server talks to every client (the opening bullseye phase asks them all).
  linkBudget: (c) => Math.max(DEFAULT_LINK_BUDGET, c.nodes),
  roundBudgetMs: (c) => c.roundTimeout,
  ui: {
    label: 'FedAMD (anchor sampling)',
    explain:
      'Each round a server picks some nodes: some are anchors, which measure which way their whole dataset wants the model to move (a bullseye), and the others are miners, which train a few steps steered by the average of everyone’s latest bullseye. The server moves the model by the miners’ average change, and because every miner aims at the same average bullseye, nodes with very different data do not pull the model apart.',
    paper: 'Wu et al., Anchor Sampling for Federated Learning with Partial Client Participation, ICML 2023',
    coordinatorLegend: '★ server (picks anchors and miners, keeps every node’s bullseye, averages the miners’ changes)',
    topologyCaption: 'Ringed: the miners of the latest round; orange ring: the server.',
  },
  create: (ctx) => new FedAMD(ctx),
};
