import { z } from 'zod';
import { keyTypes } from '../../core/config.ts';
import { DEFAULT_LINK_BUDGET } from '../common/budgets.ts';
import { sharedKeys, type KeysConfig } from '../common/keys.ts';
import type { ProtocolModule } from '../protocol.ts';
import { DiLoCo } from './diloco.ts';
import { dilocoSchemas } from './messages.ts';
import { QUANT_BITS, type QuantBits } from './outer.ts';

const quantBits = keyTypes
  .int(4, 32)
  .refine((b) => (QUANT_BITS as readonly number[]).includes(b), { error: 'must be 32, 16, 8 or 4' })
  .transform((b) => b as QuantBits)
  .default(32) as z.ZodType<QuantBits, QuantBits | undefined>;

const keys = {
  innerSteps: { schema: keyTypes.int(1, 100000).default(20), label: 'Inner steps H', help: 'Local optimizer steps each worker takes between two synchronizations of the same fragment (an outer step).' },
  innerLr: { schema: keyTypes.real(1e-7, 10).default(0.01), label: 'Inner learning rate', help: 'The learning rate of the workers’ own optimizer (AdamW by default).' },
  innerOpt: {
    schema: keyTypes.oneOf(['adamw', 'sgd']).default('adamw'),
    label: 'Inner optimizer',
    options: ['adamw', 'sgd'],
    help: 'adamw, with its moments kept on the worker across outer steps (the paper), or plain sgd (then DiLoCo with outer lr 1 and no momentum is FedAvg).',
  },
  outerLr: { schema: keyTypes.real(0, 10).default(0.7), label: 'Outer learning rate η', help: 'How far the coordinator moves the shared model along the workers’ mean change each outer step (1 with no momentum: plain averaging).' },
  outerMomentum: { schema: keyTypes.real(0, 0.999).default(0.9), label: 'Outer momentum μ', help: 'Nesterov momentum of the outer optimizer.' },
  fragments: { schema: keyTypes.int(1, 64).default(1), label: 'Fragments P', help: 'Streaming DiLoCo: the model is cut into P parts, synchronized one at a time, staggered by H/P inner steps (1 = DiLoCo).' },
  overlap: { schema: keyTypes.int(0, 100000).default(0), label: 'Overlap τ (inner steps)', help: 'Streaming DiLoCo: inner steps a worker keeps training after sending a fragment before it merges the averaged one (capped at H/P).' },
  mixAlpha: { schema: keyTypes.real(0, 1).default(0), label: 'Mix α', help: 'Streaming DiLoCo: a merged fragment becomes α·own + (1 − α)·global (0 = take the global one, as DiLoCo; the Streaming paper uses 0.5).' },
  quant: { schema: quantBits, label: 'Bits per value', options: ['32', '16', '8', '4'], help: 'Precision of the outer gradients and outer steps on the wire: 32 (float), 16 (half), 8 or 4 (integers with one scale).' },
  roundTimeout: sharedKeys.roundTimeout,
};

declare module '../../core/config.ts' {
  interface AlgoConfig extends KeysConfig<typeof keys> {}
}

export const diloco: ProtocolModule = {
  name: 'diloco',
  config: keys,
  schemas: dilocoSchemas,
  evaluates: 'global',
  init: 'shared',
  coordinator: true,
  // The coordinator talks to every worker at every sync.
  linkBudget: (c) => Math.max(DEFAULT_LINK_BUDGET, c.nodes),
  roundBudgetMs: (c) => c.roundTimeout * c.fragments,
  ui: {
    label: 'DiLoCo',
    explain:
      'Every node trains the shared model on its own data for many steps with its own AdamW optimizer; then a coordinator averages how far the nodes moved and takes one momentum step in that direction. Streaming DiLoCo sends one slice of the model at a time, squeezed to a few bits, so the network is never flooded.',
    paper: 'Douillard et al., DiLoCo: Distributed Low-Communication Training of Language Models, arXiv 2311.08105; Streaming DiLoCo, arXiv 2501.18512',
    coordinatorLegend: '★ coordinator (outer optimizer: averages the workers’ outer gradients, Nesterov step)',
    topologyCaption: 'Arrows: outer gradients to the coordinator (orange ring) and outer steps back.',
    variants: [
      { id: 'diloco', label: 'DiLoCo', overrides: { algo: 'diloco' } },
      { id: 'diloco-stream4', label: 'Streaming DiLoCo · 4 fragments, 4 bits', overrides: { algo: 'diloco', fragments: 4, overlap: 1, mixAlpha: 0.5, quant: 4 } },
    ],
    tag: (c) => (c.fragments > 1 ? `diloco-stream${c.fragments}` : 'diloco') + (c.quant !== 32 ? `-q${c.quant}` : ''),
  },
  create: (ctx) => new DiLoCo(ctx),
};
