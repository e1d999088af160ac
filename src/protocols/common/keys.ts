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
  topology: {
    schema: z.string({ error: 'must be text' }).refine(validTopology, { error: 'must be ring, full, exp, or kregular:<k> with k at least 1' }).default('kregular:4'),
    label: 'Topology',
    help: 'Who talks to whom: ring, full (everyone), exp, or kregular:<k> (k neighbours each, k at least 1).',
    suggest: ['ring', 'full', 'exp', 'kregular:2', 'kregular:4'],
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
