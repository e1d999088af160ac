import { keyTypes } from '../../core/config.ts';
import { sharedKeys, type KeysConfig } from '../common/keys.ts';
import { DEFAULT_LINK_BUDGET } from '../common/budgets.ts';
import type { ProtocolModule } from '../protocol.ts';
import { spsaSchemas } from './messages.ts';
import { Spsa } from './spsa.ts';

const keys = {
  spsaLr: {
    schema: keyTypes.real(1e-6, 100).default(0.2),
    label: 'SPSA learning rate',
    help: 'Step size of θ ← θ − lr·ĝ·z. Zeroth-order steps are noisy: with the mean over nodes, 0.2 suits the small mlp.',
  },
  spsaEps: {
    schema: keyTypes.real(1e-9, 1).default(1e-3),
    label: 'SPSA perturbation ε',
    help: 'How far each node moves the model along its random direction z to measure the loss on both sides.',
  },
  spsaBatch: {
    schema: keyTypes.int(0, 100000).default(32),
    label: 'SPSA batch',
    help: 'Examples per probe (0: the whole local shard). Both losses use the same minibatch.',
  },
  spsaReduce: {
    schema: keyTypes.oneOf(['mean', 'sum']).default('mean'),
    label: 'SPSA combine',
    options: ['mean', 'sum'],
    help: 'mean divides each step by the number of gradients of the iteration (the reference code); sum applies every gradient at full lr.',
  },
  roundTimeout: sharedKeys.roundTimeout,
};

declare module '../../core/config.ts' {
  interface AlgoConfig extends KeysConfig<typeof keys> {}
}

export const spsa: ProtocolModule = {
  name: 'spsa',
  config: keys,
  schemas: spsaSchemas,
  // Every node holds the model; the consensus column shows that they are the same model.
  evaluates: 'nodes',
  init: 'shared',
  coordinator: true,
  // The coordinator collects a byte from, and sends the list to, every node.
  linkBudget: (c) => Math.max(DEFAULT_LINK_BUDGET, c.nodes),
  roundBudgetMs: (c) => c.roundTimeout,
  ui: {
    label: 'SPSA (one byte)',
    explain:
      'Each node nudges the model along a random direction that everyone can regenerate from a shared seed, measures whether its own data likes it better one way or the other, and sends just that one number as a single byte. Every node applies everybody’s bytes in the same order, so all models stay exactly the same.',
    paper: 'Zelikman et al., Just One Byte (per gradient): Low-Bandwidth Decentralized Language Model Finetuning Using Shared Randomness, arXiv 2306.10015 (on MeZO, Malladi et al. 2023)',
    coordinatorLegend: '★ coordinator (collects one byte per node, publishes the list everybody applies)',
    topologyCaption: 'Arrows: one-byte gradients to the coordinator and the list it publishes each iteration.',
  },
  create: (ctx) => new Spsa(ctx),
};
