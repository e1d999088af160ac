import { keyTypes } from '../../core/config.ts';
import { DEFAULT_LINK_BUDGET } from '../common/budgets.ts';
import { sharedKeys, type KeysConfig } from '../common/keys.ts';
import type { ProtocolModule } from '../protocol.ts';
import { FedBuff } from './fedbuff.ts';
import { fedbuffSchemas } from './messages.ts';

const keys = {
  concurrency: {
    schema: keyTypes.int(1, 100000).default(10),
    label: 'Concurrency',
    help: 'How many nodes train at the same time (at most the number of nodes there are).',
  },
  // K = 3 below the default room of 4 tabs, so a default room really runs asynchronously (with K ≥ the
  // number of tabs every version waits for all of them, which is FedAvg); the paper uses K = 10 of
  // concurrency 100 or more.
  bufferSize: {
    schema: keyTypes.int(1, 100000).default(3),
    label: 'Buffer size K',
    help: 'The server updates the model after this many client updates have arrived (buffered mode).',
  },
  serverLr: sharedKeys.serverLr,
  maxStaleness: {
    schema: keyTypes.int(0, 1000000).default(20),
    label: 'Max staleness',
    help: 'Updates trained on a model more than this many versions old are dropped.',
  },
  aggEvery: {
    schema: keyTypes.real(0, 1e9).default(0),
    label: 'Aggregate every (ms)',
    help: '0: aggregate after K updates (FedBuff). Above 0: aggregate every this many milliseconds with whatever arrived (fixed period, FedFix).',
  },
  roundTimeout: sharedKeys.roundTimeout,
};

declare module '../../core/config.ts' {
  interface AlgoConfig extends KeysConfig<typeof keys> {}
}

export const fedbuff: ProtocolModule = {
  name: 'fedbuff',
  config: keys,
  schemas: fedbuffSchemas,
  evaluates: 'global',
  init: 'shared',
  coordinator: true,
  // The server hands work to every client over time.
  linkBudget: (c) => Math.max(DEFAULT_LINK_BUDGET, c.nodes),
  roundBudgetMs: (c) => Math.max(c.roundTimeout, c.aggEvery),
  ui: {
    label: 'FedBuff (async)',
    explain:
      'A server hands the model to a few nodes at a time; whoever finishes sends back its change and gets the newest model at once, so nobody waits for the slowest. The server applies the changes K at a time, trusting late ones (trained on an older model) a little less.',
    paper: 'Nguyen et al., Federated Learning with Buffered Asynchronous Aggregation, AISTATS 2022',
    coordinatorLegend: '★ server (hands out the model, buffers the updates, applies them K at a time)',
    topologyCaption: 'Ringed: the clients handed the newest model version; orange ring: the server.',
    variants: [
      { id: 'fedbuff', label: 'FedBuff', overrides: { algo: 'fedbuff' } },
      { id: 'fedbuff-fix', label: 'FedBuff · fixed period', overrides: { algo: 'fedbuff', aggEvery: 1000 } },
    ],
    tag: (c) => (c.aggEvery > 0 ? 'fedbuff-fix' : 'fedbuff'),
  },
  create: (ctx) => new FedBuff(ctx),
};
