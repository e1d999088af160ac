import { keyTypes } from '../../core/config.ts';
import { DEFAULT_LINK_BUDGET } from '../common/budgets.ts';
import { sharedKeys, type KeysConfig } from '../common/keys.ts';
import type { ProtocolModule } from '../protocol.ts';
import { tokenSchemas } from './messages.ts';
import { TokenWalk } from './token.ts';

const keys = {
  // ALGORITHMS.md gives no default; 5 evens the visits out clearly within a short run (BENCHMARKS.md, `token`).
  alpha: {
    schema: keyTypes.real(0, 100).default(5),
    label: 'Self-repellence α',
    help: 'How strongly the token avoids nodes it has visited often: 0 is the plain (Metropolis–Hastings) random walk, larger spreads the visits out more evenly.',
  },
  topology: sharedKeys.topology,
  roundTimeout: sharedKeys.roundTimeout,
};

declare module '../../core/config.ts' {
  interface AlgoConfig extends KeysConfig<typeof keys> {}
}

export const token: ProtocolModule = {
  name: 'token',
  config: keys,
  schemas: tokenSchemas,
  // The token is the run's one model: every node reports the last token it held.
  evaluates: 'global',
  init: 'shared',
  coordinator: false,
  // Passes go to graph neighbours, but every holder beacons to everyone, and the last one sends everyone the final model.
  linkBudget: (c) => Math.max(DEFAULT_LINK_BUDGET, c.nodes),
  roundBudgetMs: (c) => c.roundTimeout,
  ui: {
    label: 'token (random walk)',
    explain:
      'There is only one model, the token, and it walks from node to node: whoever holds it trains it on their own data and hands it to a neighbour. The walk avoids nodes it has already visited often (self-repellence α), so every node’s data gets its turn sooner.',
    paper: 'Hu, Doshi, Eun, Accelerating Distributed Stochastic Optimization via Self-Repellent Random Walks, ICLR 2024 (Doshi et al., Self-Repellent Random Walks on General Graphs, ICML 2023)',
    topologyCaption: 'Ringed: the node that holds the token; arrows: the token handed on, and the holder’s beacons. Numbers: visits so far.',
    variants: [
      { id: 'token-a0', label: 'token · α = 0 (plain walk)', overrides: { algo: 'token', alpha: 0 } },
      { id: 'token-a5', label: 'token · α = 5', overrides: { algo: 'token', alpha: 5 } },
    ],
    tag: (c) => `token-a${c.alpha}`,
  },
  create: (ctx) => new TokenWalk(ctx),
};
