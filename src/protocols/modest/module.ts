import { keyTypes } from '../../core/config.ts';
import { DEFAULT_LINK_BUDGET } from '../common/budgets.ts';
import { sharedKeys, type KeysConfig } from '../common/keys.ts';
import { dpFacts, dpKeys } from '../common/privacy.ts';
import type { ProtocolModule } from '../protocol.ts';
import { modestSchemas } from './messages.ts';
import { Modest } from './modest.ts';

const keys = {
  s: { schema: keyTypes.int(1, 10000).default(10), label: 'Sample size s', help: 'How many nodes MoDeST picks to train each round.' },
  a: { schema: keyTypes.int(1, 100).default(1), label: 'Aggregators a', help: 'How many nodes average the trained models each round.' },
  sf: { schema: keyTypes.real(0.01, 1).default(1), label: 'Success fraction sf', help: 'The share of picked nodes that must answer before a round can finish (an aggregator waits for ⌈s·sf⌉ models).' },
  aggTimeout: { schema: keyTypes.real(1, 1e9).default(30000), label: 'Aggregation timeout (ms)', help: 'How long an aggregator waits for models before it goes on with what it has.' },
  pingTimeout: { schema: keyTypes.real(1, 1e9).default(5000), label: 'Ping timeout (ms)', help: 'How long a node waits for a candidate to answer before it picks the next one.' },
  inactivity: { schema: keyTypes.int(1, 100000).default(50), label: 'Inactivity limit', help: 'Rounds without news after which a node counts as gone.' },
  rejoin: {
    schema: keyTypes.oneOf(['announce', 'reference']).default('announce'),
    label: 'Rejoin',
    options: ['announce', 'reference'],
    help: 'announce: each trainer pings one node that is about to drop out of the ranking (or has), so the inactivity limit cannot drop a live node for good, trainers rank the next aggregators by the view their model came with (so they agree), and a node the roster already announced sends no JOIN of its own; reference: the reference rule, where a node nobody contacted drops out of the ranking with no way back (and an uncontacted node announces JOIN to 10·s peers, up to three times).',
  },
  weighting: { schema: keyTypes.oneOf(['mean', 'samples']).default('mean'), label: 'Weighting', options: ['mean', 'samples'], help: 'mean: every model counts the same; samples: weighted by data size.' },
  ...dpKeys,
  robust: sharedKeys.robust,
};

declare module '../../core/config.ts' {
  interface AlgoConfig extends KeysConfig<typeof keys> {}
}

export const modest: ProtocolModule = {
  name: 'modest',
  config: keys,
  schemas: modestSchemas,
  evaluates: 'global',
  init: 'shared',
  coordinator: false,
  linkBudget: () => DEFAULT_LINK_BUDGET,
  roundBudgetMs: (c) => Math.max(c.aggTimeout, c.pingTimeout * 4),
  ui: {
    label: 'MoDeST',
    explain: 'No server: each round a small random sample of nodes trains, and a few of them average the results and pass the model on. Nodes that leave or fail are simply skipped.',
    paper: 'de Vos, Dhasade, Kermarrec et al., Epidemic Learning / MoDeST (arXiv 2302.13837)',
    topologyCaption: 'Ringed: this round’s sample; thick orange ring: aggregators.',
  },
  facts: dpFacts,
  create: (ctx) => new Modest(ctx),
};
