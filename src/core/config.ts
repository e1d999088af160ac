import { z } from 'zod';

/**
 * One experiment config, shared by the URL hash (`#algo=fedavg&nodes=8`) and the CLI
 * (`--algo fedavg --nodes 8`). Every value arrives as a string and is parsed here, so a
 * shared link and a CLI run mean exactly the same experiment.
 */

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const real = (min: number, max: number) => z.coerce.number().min(min).max(max);
const flag = z.union([z.boolean(), z.enum(['0', '1', 'true', 'false'])]).transform((v) => v === true || v === '1' || v === 'true');
/** Batch size: a positive integer, or `inf` (B = ∞, full batch), stored as 0. */
const batch = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    if (v === 'inf' || v === 'Infinity' || v === '∞' || v === 0 || v === '0') return 0;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 100000) {
      ctx.addIssue({ code: 'custom', message: 'batch must be a positive integer or "inf"' });
      return z.NEVER;
    }
    return n;
  });

export const PARTITION_RE = /^(iid|dirichlet:(\d+(\.\d+)?|\.\d+)|shards:\d+)$/;
export const TOPOLOGY_RE = /^(ring|full|exp|kregular:\d+)$/;
/** `0.5@10` fails half the nodes at round 10; `join:5@20` adds 5 nodes at round 20; `rejoin@30` brings failed nodes back. */
export const CHURN_EVENT_RE = /^((\d*\.?\d+)@(\d+)|join:(\d+)@(\d+)|rejoin@(\d+))$/;

export const ALGOS = ['fedavg', 'modest', 'gossip', 'dpsgd'] as const;
export const DATASETS = ['blobs', 'moons', 'spirals', 'mnist'] as const;
export const MODELS = ['mlp', '2nn', 'cnn', 'cnn-small'] as const;
export const BACKENDS = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'] as const;

export const configSchema = z
  .object({
    // experiment
    room: z.string().regex(/^[\w-]{1,64}$/, 'room must be 1-64 letters, digits, - or _').default('lobby'),
    algo: z.enum(ALGOS).default('fedavg'),
    dataset: z.enum(DATASETS).default('blobs'),
    model: z.enum(MODELS).default('mlp'),
    partition: z.string().regex(PARTITION_RE, 'partition is iid, dirichlet:<alpha> or shards:<k>').default('iid'),
    nodes: int(1, 100000).default(8),
    rounds: int(1, 1000000).default(20),
    seed: int(0, 2 ** 31 - 1).default(1),
    lr: real(1e-6, 10).default(0.1),
    batch: batch.default(10),
    epochs: int(1, 1000).default(1),
    /** Local SGD steps per round; when > 0 it replaces `epochs`. */
    steps: int(0, 100000).default(0),
    init: z.enum(['auto', 'shared', 'independent']).default('auto'),
    // dataset shape (synthetic datasets)
    samples: int(10, 1000000).default(2000),
    classes: int(2, 10).default(3),
    noise: real(0, 10).default(0.15),
    // evaluation
    evalSize: int(10, 100000).default(1000),
    evalEvery: int(1, 100000).default(1),
    target: real(0, 1).default(0),
    // FedAvg
    fraction: real(0, 1).default(1),
    minClients: int(1, 100000).default(1),
    roundTimeout: real(1, 1e9).default(30000),
    // MoDeST
    s: int(1, 10000).default(10),
    a: int(1, 100).default(1),
    sf: real(0.01, 1).default(1),
    aggTimeout: real(1, 1e9).default(30000),
    pingTimeout: real(1, 1e9).default(5000),
    inactivity: int(1, 100000).default(50),
    weighting: z.enum(['mean', 'samples']).default('mean'),
    // gossip
    merge: z.enum(['mean', 'age', 'vca', 'mu']).default('vca'),
    vca: z.enum(['others', 'self', 'conservative']).default('conservative'),
    c: real(0, 1).default(0.5),
    eps: real(0, 1).default(1e-8),
    period: real(1, 1e9).default(1000),
    // D-PSGD (and gossip peer choice)
    topology: z.string().regex(TOPOLOGY_RE, 'topology is ring, full, exp or kregular:<k>').default('kregular:4'),
    // simulated network and compute
    latency: real(0, 1e7).default(20),
    bandwidth: real(0, 1e12).default(0),
    loss: real(0, 1).default(0),
    churn: z
      .string()
      .refine((s) => s === '' || s.split(',').every((e) => CHURN_EVENT_RE.test(e)), 'churn is a comma list of <fraction>@<round>, join:<n>@<round> or rejoin@<round>')
      .default(''),
    compute: real(0, 1e6).default(0.5),
    stragglers: real(0, 1).default(0),
    slowdown: real(1, 1000).default(5),
    // live
    backend: z.enum(BACKENDS).default('auto'),
    autostart: flag.default(false),
    secret: z.string().max(128).default(''),
    hide: z.string().max(1000).default(''),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type ConfigInput = Partial<Record<keyof Config, string | number | boolean>>;
export const CONFIG_KEYS = Object.keys(configSchema.shape) as (keyof Config)[];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parse and validate; throws ConfigError with one line per problem. */
export function parseConfig(input: ConfigInput): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = i.path.join('.') || '(config)';
      if (i.code === 'unrecognized_keys') return `unknown key(s): ${i.keys.join(', ')}`;
      return `${key}: ${i.message}`;
    });
    throw new ConfigError(`invalid config:\n  ${lines.join('\n  ')}`);
  }
  return result.data;
}

export function defaultConfig(): Config {
  return parseConfig({});
}

/** `#a=1&b=2` or `a=1&b=2` → key/value pairs (last one wins). */
export function hashToInput(hash: string): ConfigInput {
  const text = hash.replace(/^#/, '');
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}

export function parseHash(hash: string): Config {
  return parseConfig(hashToInput(hash));
}

function formatValue(key: keyof Config, value: unknown): string {
  if (key === 'batch' && value === 0) return 'inf';
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}

/** The full config as a hash body, keys in schema order: every experiment is explicit. */
export function configToHash(config: Config): string {
  const params = new URLSearchParams();
  for (const key of CONFIG_KEYS) params.set(key, formatValue(key, config[key]));
  return params.toString();
}

/**
 * Resolved initialization: gossip learning starts every node from its own init (as the
 * gossip and VCA papers do); FedAvg, MoDeST and D-PSGD (Lian et al. 2017) from one shared init.
 */
export function initMode(config: Config): 'shared' | 'independent' {
  if (config.init !== 'auto') return config.init;
  return config.algo === 'gossip' ? 'independent' : 'shared';
}

export type ChurnEvent =
  | { kind: 'fail'; fraction: number; round: number }
  | { kind: 'join'; count: number; round: number }
  | { kind: 'rejoin'; round: number };

export function parseChurn(churn: string): ChurnEvent[] {
  if (!churn) return [];
  return churn.split(',').map((e) => {
    const m = CHURN_EVENT_RE.exec(e);
    if (!m) throw new ConfigError(`bad churn event: ${e}`);
    if (m[2] !== undefined) return { kind: 'fail', fraction: Number(m[2]), round: Number(m[3]) };
    if (m[4] !== undefined) return { kind: 'join', count: Number(m[4]), round: Number(m[5]) };
    return { kind: 'rejoin', round: Number(m[6]) };
  });
}

export type Partition = { kind: 'iid' } | { kind: 'dirichlet'; alpha: number } | { kind: 'shards'; perNode: number };

export function parsePartition(text: string): Partition {
  if (text === 'iid') return { kind: 'iid' };
  const [kind, arg] = text.split(':');
  if (kind === 'dirichlet') return { kind, alpha: Number(arg) };
  if (kind === 'shards') return { kind, perNode: Number(arg) };
  throw new ConfigError(`bad partition: ${text}`);
}
