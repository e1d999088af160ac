import { DEFAULT_LINK_BUDGET } from '../common/budgets.ts';
import { sharedKeys, type KeysConfig } from '../common/keys.ts';
import type { ProtocolModule } from '../protocol.ts';
import { DPSGD } from './dpsgd.ts';
import { dpsgdSchemas } from './messages.ts';

const keys = {
  topology: sharedKeys.topology,
  final: sharedKeys.final,
  roundTimeout: sharedKeys.roundTimeout,
  robust: sharedKeys.robust,
};

declare module '../../core/config.ts' {
  interface AlgoConfig extends KeysConfig<typeof keys> {}
}

export const dpsgd: ProtocolModule = {
  name: 'dpsgd',
  config: keys,
  schemas: dpsgdSchemas,
  evaluates: 'nodes',
  // Lian et al. 2017 start every node from the same model.
  init: 'shared',
  coordinator: false,
  linkBudget: () => DEFAULT_LINK_BUDGET,
  roundBudgetMs: (c) => c.roundTimeout,
  ui: {
    label: 'D-PSGD',
    explain: 'Every round each node trains, sends its model to its neighbours in a fixed graph, and averages what its neighbours sent with fixed weights.',
    paper: 'Lian et al., Can Decentralized Algorithms Outperform Centralized Algorithms?, NeurIPS 2017',
    topologyCaption: 'Arrows: models sent to neighbours during the current round.',
  },
  create: (ctx) => new DPSGD(ctx),
};
