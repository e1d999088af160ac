import { keyTypes } from '../../core/config.ts';
import { DEFAULT_LINK_BUDGET } from '../common/budgets.ts';
import { sharedKeys, type KeysConfig } from '../common/keys.ts';
import { dpFacts, dpKeys } from '../common/privacy.ts';
import { secaggSchemas } from '../secagg/messages.ts';
import { secaggFacts, secaggKeys } from '../secagg/keys.ts';
import type { ProtocolModule } from '../protocol.ts';
import { FedAvg } from './fedavg.ts';
import { fedavgSchemas } from './messages.ts';

const keys = {
  fraction: { schema: keyTypes.real(0, 1).default(1), label: 'Client fraction C', help: 'The share of nodes the coordinator picks each round (1 = all of them).' },
  minClients: { schema: keyTypes.int(1, 100000).default(1), label: 'Minimum clients', help: 'A round that times out still counts if at least this many picked clients answered.' },
  roundTimeout: sharedKeys.roundTimeout,
  ...dpKeys,
  robust: sharedKeys.robust,
  ...secaggKeys,
};

declare module '../../core/config.ts' {
  interface AlgoConfig extends KeysConfig<typeof keys> {}
}

export const fedavg: ProtocolModule = {
  name: 'fedavg',
  config: keys,
  schemas: { ...fedavgSchemas, ...secaggSchemas },
  evaluates: 'global',
  init: 'shared',
  coordinator: true,
  // The coordinator talks to every sampled client each round.
  linkBudget: (c) => Math.max(DEFAULT_LINK_BUDGET, c.nodes),
  roundBudgetMs: (c) => c.roundTimeout,
  ui: {
    label: 'FedAvg',
    explain: 'A coordinator sends the model to some of the nodes; each trains it on its own data, and the coordinator averages what comes back, weighted by how much data each node has.',
    paper: 'McMahan et al., Communication-Efficient Learning of Deep Networks from Decentralized Data, AISTATS 2017',
    coordinatorLegend: '★ coordinator (samples clients, averages their models each round)',
    topologyCaption: 'Ringed: the clients picked this round; orange ring: the coordinator (server).',
    // RQM privacy, and robust aggregation against attackers (byzantine=): the rules compare mode's adversary presets pit against the mean.
    variants: [
      { id: 'fedavg', label: 'FedAvg', overrides: { algo: 'fedavg', robust: 'mean' } },
      { id: 'fedavg-rqm', label: 'FedAvg · RQM privacy', overrides: { algo: 'fedavg', dp: 'rqm' } },
      { id: 'fedavg-median', label: 'FedAvg · median', overrides: { algo: 'fedavg', robust: 'median' } },
      { id: 'fedavg-krum', label: 'FedAvg · Krum (f = 2)', overrides: { algo: 'fedavg', robust: 'krum:2' } },
      { id: 'fedavg-trimmed', label: 'FedAvg · trimmed mean (β = 0.2)', overrides: { algo: 'fedavg', robust: 'trimmed:0.2' } },
    ],
    tag: (c) => `fedavg${c.dp === 'rqm' ? '-rqm' : ''}${c.secagg === 1 ? '-secagg' : ''}${c.robust === 'mean' ? '' : `-${c.robust}`}`,
  },
  facts: (c, run) => [...dpFacts(c, run), ...secaggFacts(c, run)],
  create: (ctx) => new FedAvg(ctx),
};
