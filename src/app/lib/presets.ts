import { allVariants } from '../../protocols/index.ts';
import { configToShortHash, configToStrings, parseConfig, type Config, type ConfigInput } from '../../core/config.ts';

/** A compare-mode run: the shared base config with a few algorithm keys overridden. */
export interface Variant {
  id: string;
  label: string;
  overrides: ConfigInput;
}

/** Every registered algorithm's compare runs (gossip: one per merge rule). */
export const VARIANTS: Variant[] = allVariants();

export const DEFAULT_RUNS = ['fedavg', 'modest', 'gossip-mean', 'gossip-vca'];
export const MAX_RUNS = 4;

export const variantById = (id: string): Variant | undefined => VARIANTS.find((v) => v.id === id);

/** The config of one compare run: base config, then the variant's overrides, validated. */
export function variantConfig(base: Config, variant: Variant): Config {
  return parseConfig({ ...configToStrings(base), ...variant.overrides } as ConfigInput);
}

export interface Preset {
  id: string;
  name: string;
  view: 'live' | 'compare';
  /** Compare mode: which variants run. */
  runs?: string[];
  input: ConfigInput;
}

export const PRESETS: Preset[] = [
  {
    id: 'blobs-fedavg-8',
    name: '8 tabs, blobs, FedAvg',
    view: 'live',
    input: { algo: 'fedavg', dataset: 'blobs', model: 'mlp', nodes: 8, rounds: 30, samples: 2000, partition: 'iid', autostart: '1' },
  },
  {
    id: 'moons-gossip-4',
    name: '4 tabs, moons non-IID, gossip (vca)',
    view: 'live',
    input: { algo: 'gossip', merge: 'vca', dataset: 'moons', model: 'mlp', nodes: 4, rounds: 40, partition: 'dirichlet:0.5', period: 1000, autostart: '1' },
  },
  {
    id: 'mnist-fedavg-4',
    name: '4 tabs, MNIST non-IID (2 shards each), FedAvg 2NN',
    view: 'live',
    input: { algo: 'fedavg', dataset: 'mnist', model: '2nn', nodes: 4, rounds: 20, partition: 'shards:2', steps: 20, batch: 20, evalSize: 1000, autostart: '1' },
  },
  {
    id: 'cmp-four',
    name: 'Compare: FedAvg, MoDeST, gossip mean & vca (moons, non-IID)',
    view: 'compare',
    runs: ['fedavg', 'modest', 'gossip-mean', 'gossip-vca'],
    input: { dataset: 'moons', model: 'mlp', nodes: 8, rounds: 20, samples: 800, partition: 'dirichlet:0.5', s: 4, batch: 20, evalSize: 500 },
  },
  {
    id: 'cmp-mnist',
    name: 'Compare: FedAvg vs MoDeST, MNIST non-IID',
    view: 'compare',
    runs: ['fedavg', 'modest'],
    input: { dataset: 'mnist', model: '2nn', nodes: 10, rounds: 20, partition: 'shards:2', s: 5, steps: 5, batch: 20, evalSize: 500 },
  },
  {
    id: 'cmp-variance',
    name: 'Vanishing variance: gossip mean vs vca (spirals)',
    view: 'compare',
    runs: ['gossip-mean', 'gossip-vca'],
    input: { dataset: 'spirals', model: 'mlp', nodes: 16, rounds: 40, samples: 1600, partition: 'iid', init: 'independent', batch: 20, evalSize: 500, period: 1000 },
  },
  {
    id: 'cmp-rqm',
    name: 'Privacy: FedAvg vs FedAvg with RQM (blobs)',
    view: 'compare',
    runs: ['fedavg', 'fedavg-rqm'],
    input: { dataset: 'blobs', model: 'mlp', nodes: 20, rounds: 20, samples: 2000, partition: 'iid', evalSize: 500 },
  },
  {
    id: 'cmp-merge',
    name: 'One merge at the end: gossip and D-PSGD, very skewed data (blobs)',
    view: 'compare',
    runs: ['gossip-vca', 'dpsgd'],
    input: { dataset: 'blobs', model: 'mlp', nodes: 20, rounds: 10, samples: 2000, partition: 'dirichlet:0.1', final: 'merge', evalSize: 500 },
  },
  {
    id: 'cmp-signflip',
    name: 'Adversaries: FedAvg vs median vs Krum with 20% sign-flippers (MNIST)',
    view: 'compare',
    runs: ['fedavg', 'fedavg-median', 'fedavg-krum'],
    input: { dataset: 'mnist', model: '2nn', nodes: 10, rounds: 15, partition: 'iid', steps: 10, batch: 20, evalSize: 500, byzantine: '0.2:signflip' },
  },
  {
    id: 'cmp-alie',
    name: 'Adversaries: ALIE against the trimmed mean (MNIST)',
    view: 'compare',
    runs: ['fedavg', 'fedavg-trimmed'],
    input: { dataset: 'mnist', model: '2nn', nodes: 10, rounds: 15, partition: 'iid', steps: 10, batch: 20, evalSize: 500, byzantine: '0.2:alie' },
  },
];

const suffix = () => Math.random().toString(36).slice(2, 6);

/** The URL a preset opens: live presets get a fresh room so a class does not collide with another. */
export function presetUrl(p: Preset, keep: Pick<Config, 'backend' | 'hide'>): string {
  const config = parseConfig({ ...p.input, room: `${p.id}-${suffix()}`, backend: keep.backend, hide: keep.hide });
  const hash = configToShortHash(config);
  return p.view === 'compare' ? compareUrl(hash, p.runs ?? DEFAULT_RUNS) : `${location.pathname}#${hash}`;
}

/** The compare view lives at `/?view=compare&runs=a,b#<config>`: `view` and `runs` are UI keys, not config keys. */
export function compareUrl(hash: string, runs: string[], origin = ''): string {
  return `${origin}/?view=compare&runs=${runs.join(',')}#${hash}`;
}

export function liveUrl(hash: string, origin = ''): string {
  return `${origin}/#${hash}`;
}
