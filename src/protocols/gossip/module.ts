import { keyTypes } from '../../core/config.ts';
import { DEFAULT_LINK_BUDGET } from '../common/budgets.ts';
import { sharedKeys, type KeysConfig } from '../common/keys.ts';
import type { ProtocolModule } from '../protocol.ts';
import { Gossip } from './gossip.ts';
import { gossipSchemas } from './messages.ts';

const MERGES = ['mean', 'age', 'vca', 'mu'] as const;
const keys = {
  merge: {
    schema: keyTypes.oneOf(MERGES).default('vca'),
    label: 'Merge rule',
    options: MERGES,
    help: 'How a node combines a model it receives with its own: mean averages them, age weights by experience, vca also keeps the models from shrinking towards each other too fast, mu averages the arrival with the previous arrival.',
  },
  vca: { schema: keyTypes.oneOf(['others', 'self', 'conservative']).default('conservative'), label: 'VCA variant', options: ['others', 'self', 'conservative'], help: 'Which variance the merged model is corrected to: the received models’, its own, or a c-weighted mix.' },
  c: { schema: keyTypes.real(0, 1).default(0.5), label: 'VCA c', help: 'Conservative VCA: the weight of the node’s own model, in the average and in the variance target.' },
  eps: { schema: keyTypes.real(0, 1).default(1e-8), label: 'VCA eps', help: 'Added to variances before dividing, so constant tensors stay put.' },
  period: { schema: keyTypes.real(1, 1e9).default(1000), label: 'Period Δ (ms)', help: 'How often, in milliseconds, each node sends its model to a peer.' },
  topology: sharedKeys.topology,
  final: sharedKeys.final,
  robust: sharedKeys.robust,
};

declare module '../../core/config.ts' {
  interface AlgoConfig extends KeysConfig<typeof keys> {}
}

export const gossip: ProtocolModule = {
  name: 'gossip',
  config: keys,
  schemas: gossipSchemas,
  evaluates: 'nodes',
  // The gossip and VCA papers start every node from its own init.
  init: 'independent',
  coordinator: false,
  linkBudget: () => DEFAULT_LINK_BUDGET,
  roundBudgetMs: (c) => c.period * 2,
  ui: {
    label: 'gossip learning',
    explain: 'Every node keeps its own model. Now and then it sends it to a random neighbour, who merges it with its own and trains on: the models drift together without any server.',
    paper: 'Ormándi, Hegedűs, Jelasity 2013; variance-corrected averaging: Tian et al., arXiv 2404.04616',
    topologyCaption: 'Arrows: models gossiped during the current round.',
    variants: MERGES.map((m) => ({ id: `gossip-${m}`, label: `gossip · ${m}`, overrides: { algo: 'gossip', merge: m } })),
    tag: (c) => `gossip-${c.merge}`,
  },
  create: (ctx) => new Gossip(ctx),
};
