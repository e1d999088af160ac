import { z } from 'zod';
import { ATTACKS, validByzantine } from './byzantine/attacks.ts';

/**
 * One experiment config, shared by the URL hash (`#algo=fedavg&nodes=8`) and the CLI
 * (`--algo fedavg --nodes 8`). Every value arrives as a string and is parsed here, so a
 * shared link and a CLI run mean exactly the same experiment.
 */

/** 100000 → "100,000"; 0.000001 stays "0.000001". */
const fmtNum = (n: number) => (Number.isInteger(n) ? n.toLocaleString('en-US') : String(n));
/** An empty field is an error, not a silent 0 (Number('') is 0). */
const blankToNaN = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? NaN : v);
/*
 * Messages are plain predicates ("must be a whole number from 1 to 100,000"): the CLI puts
 * the key before them, the setup form the field's name (see errorSentence).
 */
const int = (min: number, max: number) => {
  const error = `must be a whole number from ${fmtNum(min)} to ${fmtNum(max)}`;
  return z.preprocess(blankToNaN, z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error }));
};
const real = (min: number, max: number) => {
  const error = `must be a number from ${fmtNum(min)} to ${fmtNum(max)}`;
  return z.preprocess(blankToNaN, z.coerce.number({ error }).min(min, { error }).max(max, { error }));
};
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `must be one of ${values.join(', ')}` });
const flag = z
  .union([z.boolean(), z.enum(['0', '1', 'true', 'false'])], { error: 'must be 0 or 1' })
  .transform((v) => v === true || v === '1' || v === 'true');
const text = (max: number) => z.string({ error: 'must be text' }).max(max, { error: `must be at most ${fmtNum(max)} characters` });
/** Batch size: a positive integer, or `inf` (B = ∞, full batch), stored as 0. */
const batch = z
  .union([z.number(), z.string()], { error: 'must be a whole number from 1 to 100,000, or inf (the full batch)' })
  .transform((v, ctx) => {
    if (v === 'inf' || v === 'Infinity' || v === '∞' || v === 0 || v === '0') return 0;
    const n = typeof v === 'string' && v.trim() === '' ? NaN : Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 100000) {
      ctx.addIssue({ code: 'custom', message: 'must be a whole number from 1 to 100,000, or inf (the full batch)' });
      return z.NEVER;
    }
    return n;
  });

/** Syntax only; `validPartition` also checks the numbers (alpha > 0, k ≥ 1). */
export const PARTITION_RE = /^(iid|dirichlet:(\d+(\.\d+)?|\.\d+)|shards:\d+)$/;
export const TOPOLOGY_RE = /^(ring|full|exp|kregular:\d+)$/;
/** `0.5@10` fails half the nodes at round 10; `join:5@20` adds 5 nodes at round 20; `rejoin@30` brings failed nodes back. */
export const CHURN_EVENT_RE = /^((\d*\.?\d+)@(\d+)|join:(\d+)@(\d+)|rejoin@(\d+))$/;

/** iid, dirichlet:<alpha> with alpha > 0 (dirichlet:0 has no distribution), or shards:<k> with k ≥ 1. */
export function validPartition(text: string): boolean {
  if (!PARTITION_RE.test(text)) return false;
  const p = parsePartition(text);
  if (p.kind === 'dirichlet') return p.alpha > 0 && Number.isFinite(p.alpha);
  if (p.kind === 'shards') return Number.isInteger(p.perNode) && p.perNode >= 1;
  return true;
}

/** ring, full, exp, or kregular:<k> with k ≥ 1. */
export function validTopology(text: string): boolean {
  if (!TOPOLOGY_RE.test(text)) return false;
  return !text.startsWith('kregular:') || Number(text.slice('kregular:'.length)) >= 1;
}

export const DATASETS = ['blobs', 'moons', 'spirals', 'mnist'] as const;
export const MODELS = ['mlp', '2nn', 'cnn', 'cnn-small'] as const;
export const BACKENDS = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'] as const;

/** Names of the registered algorithms (`registerAlgorithm`, called by src/protocols/registry.ts). */
const algorithms = new Set<string>();

/**
 * The experiment's own keys. Each algorithm's keys are not here: a protocol module owns them and
 * registers them (src/protocols/registry.ts → `registerConfigKeys`), so adding an algorithm needs
 * no edit in this file.
 */
const baseSchema = z
  .object({
    // experiment
    room: z.string({ error: 'must be text' }).regex(/^[\w-]{1,64}$/, { error: 'must be 1 to 64 letters, digits, - or _ (no spaces)' }).default('lobby'),
    algo: z
      .string({ error: 'must be text' })
      .refine((a) => algorithms.has(a), { error: () => `must be one of ${[...algorithms].join(', ') || '(no algorithm is registered: import src/protocols/index.ts)'}` })
      .default('fedavg'),
    // The default experiment shows learning over several rounds (non-IID 2-class spirals climb from
    // about 55% to above 90% in 10–20 FedAvg rounds); blobs reach 100% in round 1.
    dataset: oneOf(DATASETS).default('spirals'),
    model: oneOf(MODELS).default('mlp'),
    partition: z
      .string({ error: 'must be text' })
      .refine(validPartition, { error: 'must be iid, dirichlet:<alpha> with alpha above 0, or shards:<k> with k at least 1' })
      .default('dirichlet:0.5'),
    nodes: int(1, 100000).default(4),
    rounds: int(1, 1000000).default(20),
    seed: int(0, 2 ** 31 - 1).default(1),
    lr: real(1e-6, 10).default(0.1),
    batch: batch.default(10),
    epochs: int(1, 1000).default(1),
    /** Local SGD steps per round; when > 0 it replaces `epochs`. */
    steps: int(0, 100000).default(0),
    init: oneOf(['auto', 'shared', 'independent']).default('auto'),
    // dataset shape (synthetic datasets)
    samples: int(10, 1000000).default(2000),
    classes: int(2, 10).default(3),
    noise: real(0, 10).default(0.15),
    // evaluation
    evalSize: int(10, 100000).default(1000),
    evalEvery: int(1, 100000).default(1),
    target: real(0, 1).default(0),
    // simulated network and compute
    latency: real(0, 1e7).default(20),
    bandwidth: real(0, 1e12).default(0),
    loss: real(0, 1).default(0),
    churn: z
      .string({ error: 'must be text' })
      .refine((s) => s === '' || s.split(',').every((e) => CHURN_EVENT_RE.test(e)), { error: 'must be empty or a comma list of <fraction>@<round>, join:<n>@<round> or rejoin@<round>' })
      .default(''),
    compute: real(0, 1e6).default(0.5),
    stragglers: real(0, 1).default(0),
    slowdown: real(1, 1000).default(5),
    // adversaries (src/core/byzantine): who attacks, and how
    byzantine: z
      .string({ error: 'must be text' })
      .refine(validByzantine, { error: `must be empty or <fraction>:<attack>[:<strength>] with a fraction from 0 to 1 and an attack among ${ATTACKS.join(', ')} (labelflip takes no strength)` })
      .default(''),
    // live
    backend: oneOf(BACKENDS).default('auto'),
    autostart: flag.default(false),
    secret: text(128).default(''),
    hide: text(1000).default(''),
  })
  .strict();

export type BaseConfig = z.output<typeof baseSchema>;
/**
 * The algorithms' keys, typed by the modules themselves: each protocol folder augments this
 * interface (`declare module '…/core/config.ts' { interface AlgoConfig { fraction: number } }`).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AlgoConfig {}
export type Config = BaseConfig & AlgoConfig;
export type ConfigInput = Partial<Record<keyof Config, string | number | boolean>>;

/** Every key's validator: the base keys, then the registered algorithms' keys in registration order. */
const shape: Record<string, z.ZodType> = { ...baseSchema.shape };
/** All keys in link order. Grows as algorithms register (a live array: importers see new keys). */
export const CONFIG_KEYS = Object.keys(shape) as (keyof Config)[];
/** The registered keys' checks against the other keys (ConfigKeySpec.check), in registration order. */
const crossChecks = new Map<string, (config: Config) => string | undefined>();

/** How an algorithm describes one of its keys: the validator (with its default) and what the setup form shows. */
export interface ConfigKeySpec {
  schema: z.ZodType;
  label: string;
  help?: string;
  options?: readonly string[];
  suggest?: readonly string[];
  /** The setup form shows the key only when this says so, given the form's current values (RQM's keys only with dp=rqm). */
  visible?(values: Readonly<Record<string, string>>): boolean;
  /** The setup form shows the key only in these views (a key only the simulator acts on: compare). */
  modes?: readonly ('live' | 'compare')[];
  /**
   * What is wrong with this key's value given the other keys (secure aggregation with RQM privacy),
   * as a predicate like the validators' ("cannot be 1 with dp=rqm: …"), or undefined. A key that
   * fails its check costs only itself: it falls back to its default, as a bad value does.
   */
  check?(config: Config): string | undefined;
}

export function registerAlgorithm(name: string): void {
  if (!/^[a-z][\w-]{0,31}$/.test(name)) throw new Error(`bad algorithm name '${name}'`);
  algorithms.add(name);
}

export function registeredAlgorithms(): string[] {
  return [...algorithms];
}

/**
 * Adds an algorithm's keys to the config (URL, CLI, setup form). Two algorithms may share a key
 * (D-PSGD's and gossip's `topology`) only by passing the very same validator.
 */
export function registerConfigKeys(keys: Readonly<Record<string, ConfigKeySpec>>): void {
  for (const [key, spec] of Object.entries(keys)) {
    const existing = shape[key];
    if (existing && existing !== spec.schema) throw new Error(`config key '${key}' is already defined differently`);
    if (!existing) {
      shape[key] = spec.schema;
      (CONFIG_KEYS as string[]).push(key);
      if (spec.check) crossChecks.set(key, spec.check);
    }
    (KEY_NAMES as Record<string, string>)[key] = spec.label;
  }
}

/** Shared validators for algorithm keys (so modules that share a key share its rule). */
export const keyTypes = { int, real, oneOf, text };

/** A plain name per key, for messages a student reads ("Nodes must be …"). */
export const KEY_NAMES: Record<string, string> = {
  room: 'Room',
  algo: 'Algorithm',
  dataset: 'Dataset',
  model: 'Model',
  partition: 'Partition',
  nodes: 'Nodes',
  rounds: 'Rounds',
  seed: 'Seed',
  lr: 'Learning rate',
  batch: 'Batch size',
  epochs: 'Local epochs',
  steps: 'Local steps',
  init: 'Initialisation',
  samples: 'Samples',
  classes: 'Classes',
  noise: 'Noise',
  evalSize: 'Eval set size',
  evalEvery: 'Eval every',
  target: 'Target accuracy',
  latency: 'Latency',
  bandwidth: 'Bandwidth',
  loss: 'Packet loss',
  churn: 'Churn',
  compute: 'Compute time',
  stragglers: 'Stragglers',
  slowdown: 'Straggler slowdown',
  byzantine: 'Attackers',
  backend: 'Backend',
  autostart: 'Autostart',
  secret: 'Secret',
  hide: 'Hidden controls',
};

/** Per key, what is wrong with its value: a predicate such as "must be a whole number from 1 to 100,000". */
export type ConfigErrors = Partial<Record<string, string>>;

export class ConfigError extends Error {
  /** Per key, what is wrong (empty for errors that are not about one key). */
  readonly errors: ConfigErrors;
  constructor(message: string, errors: ConfigErrors = {}) {
    super(message);
    this.name = 'ConfigError';
    this.errors = errors;
  }
}

export const UNKNOWN_KEY = 'is not a known setting';

/**
 * Parse key by key: a bad value costs only its own key. Returns the config with every good
 * value and the default for each bad key, and per bad (or unknown) key what is wrong with it.
 * A link with one typo keeps its room and everything else.
 */
export function parseConfigByKey(input: Readonly<Record<string, unknown>>): { config: Config; errors: ConfigErrors } {
  const values: Record<string, unknown> = {};
  const errors: ConfigErrors = {};
  for (const key of CONFIG_KEYS) {
    const result = shape[key].safeParse(input[key]);
    if (result.success) values[key] = result.data;
    else {
      errors[key] = result.error.issues[0]?.message ?? 'is not valid';
      values[key] = shape[key].parse(undefined);
    }
  }
  for (const key of Object.keys(input)) {
    if ((CONFIG_KEYS as string[]).includes(key)) continue;
    errors[key] = key === 'v' ? `is a link version this app does not know (it reads ${Object.keys(LINK_DEFAULTS).join(', ')}): the link may come from a newer Murmuration` : UNKNOWN_KEY;
  }
  // Dataset-specific defaults, for keys the input left out.
  const perDataset = DATASET_DEFAULTS[values.dataset as Config['dataset']] ?? {};
  for (const [key, value] of Object.entries(perDataset)) if (input[key] === undefined && errors[key] === undefined) values[key] = value;
  for (const [key, check] of crossChecks) {
    const problem = errors[key] === undefined ? check(values as unknown as Config) : undefined;
    if (problem) {
      errors[key] = problem;
      values[key] = shape[key].parse(undefined);
    }
  }
  return { config: values as unknown as Config, errors };
}

/**
 * Defaults that depend on the dataset, applied where the input does not set the key. Spirals
 * are learnable by the small mlp with two arms at a larger step; three arms need far more
 * rounds (measured with `npm run sim -- --dataset spirals`: 3 classes at lr 0.1 reach 60–98%
 * after 30 rounds depending on the seed, 2 classes at lr 0.2 reach 96–99% in 20).
 */
export const DATASET_DEFAULTS: Partial<Record<Config['dataset'], Partial<Config>>> = {
  spirals: { classes: 2, lr: 0.2 },
};

/** "Nodes must be a whole number from 1 to 100,000": the key's plain name, then the problem. */
export function errorSentence(key: string, problem: string): string {
  if (problem === UNKNOWN_KEY) return `"${key}" ${problem}`;
  return `${KEY_NAMES[key as keyof Config] ?? key} ${problem}`;
}

/** One line per problem, for the CLI and the page's banner: `nodes must be … (got "abc")`. */
export function describeErrors(errors: ConfigErrors, input: Readonly<Record<string, unknown>> = {}, name: (key: string) => string = (k) => k): string[] {
  const unknown = Object.keys(errors).filter((k) => errors[k] === UNKNOWN_KEY);
  const lines = Object.entries(errors)
    .filter(([, problem]) => problem !== UNKNOWN_KEY)
    .map(([key, problem]) => `${name(key)} ${problem}${input[key] !== undefined ? ` (got ${JSON.stringify(String(input[key]))})` : ''}`);
  if (unknown.length) lines.push(`unknown key(s): ${unknown.join(', ')}`);
  return lines;
}

/** Parse and validate; throws ConfigError with one line per problem. */
export function parseConfig(input: ConfigInput): Config {
  const { config, errors } = parseConfigByKey(input);
  if (Object.keys(errors).length) throw new ConfigError(`invalid config:\n  ${describeErrors(errors, input).join('\n  ')}`, errors);
  return config;
}

export function defaultConfig(): Config {
  return parseConfig({});
}

/**
 * Short links (`#v=1&room=x&nodes=4`) leave out every key whose value equals the defaults of
 * their version, so a link made today means the same experiment after the defaults change.
 * Changing a default in the schema: add version N+1 here with the new defaults (the unit test
 * comparing LINK_DEFAULTS[LINK_VERSION] with defaultConfig() says when); never edit an old one.
 * A key registered after a version was frozen (a newer algorithm's) is not in its table and
 * means its schema default, so adding an algorithm needs no edit here.
 */
/** Version 1 (the first short links): blobs, iid, 8 tabs. */
const LINK_V1: Readonly<Record<string, string>> = {
  room: 'lobby', algo: 'fedavg', dataset: 'blobs', model: 'mlp', partition: 'iid', nodes: '8', rounds: '20', seed: '1', lr: '0.1', batch: '10',
  epochs: '1', steps: '0', init: 'auto', samples: '2000', classes: '3', noise: '0.15', evalSize: '1000', evalEvery: '1', target: '0', fraction: '1',
  minClients: '1', roundTimeout: '30000', s: '10', a: '1', sf: '1', aggTimeout: '30000', pingTimeout: '5000', inactivity: '50', weighting: 'mean',
  merge: 'vca', vca: 'conservative', c: '0.5', eps: '1e-8', period: '1000', topology: 'kregular:4', latency: '20', bandwidth: '0', loss: '0', churn: '',
  compute: '0.5', stragglers: '0', slowdown: '5', backend: 'auto', autostart: '0', secret: '', hide: '',
};
const LINK_DEFAULTS: Record<string, Readonly<Record<string, string>>> = {
  '1': LINK_V1,
  // Version 2: the default experiment became non-IID 2-class spirals on 4 tabs (classes and lr from DATASET_DEFAULTS).
  '2': { ...LINK_V1, dataset: 'spirals', partition: 'dirichlet:0.5', nodes: '4', lr: '0.2', classes: '2' },
};
export const LINK_VERSION = '2';

/** The defaults a short link of this version leaves out (undefined for an unknown version). */
export function linkDefaults(version: string = LINK_VERSION): Readonly<Record<keyof Config, string>> | undefined {
  if (!Object.hasOwn(LINK_DEFAULTS, version)) return undefined;
  return { ...configToStrings(defaultConfig()), ...LINK_DEFAULTS[version] };
}

/**
 * `#a=1&b=2` or `a=1&b=2` → key/value pairs (last one wins). A short link (`v=1&…`) comes
 * back whole: the keys it leaves out get its version's defaults. An unknown version keeps
 * `v` in the result, so parsing reports it.
 */
export function hashToInput(hash: string): ConfigInput {
  const text = hash.replace(/^#/, '');
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  if (out.v !== undefined) {
    const base = linkDefaults(out.v);
    if (base) {
      delete out.v;
      return { ...base, ...out };
    }
  }
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

/** The config as strings, as a link or the setup form writes them (batch 0 → "inf", true → "1"). */
export function configToStrings(config: Config): Record<keyof Config, string> {
  return Object.fromEntries(CONFIG_KEYS.map((k) => [k, formatValue(k, config[k])])) as Record<keyof Config, string>;
}

/** The full config as a hash body, keys in schema order: every experiment is explicit. */
export function configToHash(config: Config): string {
  const params = new URLSearchParams();
  for (const key of CONFIG_KEYS) params.set(key, formatValue(key, config[key]));
  return params.toString();
}

/** Escapes what a hash value needs escaped, but leaves `:`, `,` and `@` readable (partition=dirichlet:0.5). */
const encodeValue = (v: string) => encodeURIComponent(v).replace(/%3A/gi, ':').replace(/%2C/gi, ',').replace(/%40/gi, '@');

/**
 * The short hash for share links: `v=1`, the room, then only the keys that differ from the
 * version's defaults, in schema order. `parseHash` of it gives back exactly `config`.
 */
export function configToShortHash(config: Config): string {
  const base = linkDefaults(LINK_VERSION)!;
  const parts = [`v=${LINK_VERSION}`];
  for (const key of CONFIG_KEYS) {
    const value = formatValue(key, config[key]);
    // A key the version's table does not list (an algorithm added later) reads back as its own default.
    const fallback = Object.hasOwn(base, key) ? base[key] : formatValue(key, shape[key].parse(undefined));
    if (key === 'room' || value !== fallback) parts.push(`${key}=${encodeValue(value)}`);
  }
  return parts.join('&');
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
