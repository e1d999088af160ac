import { z } from 'zod';
import { keyTypes, validTopology, type ConfigKeySpec } from '../../core/config.ts';
import { validRobust } from '../../core/robust/aggregate.ts';

/**
 * Config keys that more than one algorithm reads. Each module lists the ones it uses; the config
 * registry accepts a key from two modules only when it is this very validator.
 */
export const sharedKeys = {
  roundTimeout: {
    schema: keyTypes.real(1, 1e9).default(30000),
    label: 'Round timeout (ms)',
    help: 'How long a round waits for slow or departed nodes before it goes on without them.',
  },
  serverLr: {
    schema: keyTypes.real(1e-6, 10).default(1),
    label: 'Server learning rate ηg',
    help: 'How far the server moves along the mean of the clients’ updates (1 = all the way).',
  },
  topology: {
    schema: z.string({ error: 'must be text' }).refine(validTopology, { error: 'must be ring, full, exp, or kregular:<k> with k at least 1' }).default('kregular:4'),
    label: 'Topology',
    help: 'Who talks to whom: ring, full (everyone), exp, or kregular:<k> (k neighbours each, k at least 1).',
    suggest: ['ring', 'full', 'exp', 'kregular:2', 'kregular:4'],
  },
  final: {
    schema: keyTypes.oneOf(['none', 'merge']).default('none'),
    label: 'At the end',
    options: ['none', 'merge'],
    help: 'merge: when the run ends, every node’s model is averaged once into one model. The nodes’ models may disagree, yet their average is often much better than any of them. Only the simulator and compare view do this.',
    modes: ['compare'],
  },
  robust: {
    schema: z
      .string({ error: 'must be text' })
      .refine(validRobust, { error: 'must be mean, median, trimmed:<β> with β below 0.5, krum:<f>, mkrum:<f> or cclip:<τ> with τ above 0' })
      .default('mean'),
    label: 'Robust aggregation',
    help: 'How collected models are averaged: mean, or a rule that resists attackers: median, trimmed:<β> (drop the β share at each end), krum:<f>/mkrum:<f> (for f attackers), cclip:<τ> (clip each model to τ around the current one).',
    suggest: ['mean', 'median', 'trimmed:0.2', 'krum:2', 'mkrum:2', 'cclip:1'],
  },
} satisfies Record<string, ConfigKeySpec>;

/** The config type of a module's keys, for its `AlgoConfig` augmentation. */
export type KeysConfig<K extends Readonly<Record<string, ConfigKeySpec>>> = { [P in keyof K]: z.output<K[P]['schema']> };
