import type { Config } from '../../core/config.ts';
import { labelHistogram, loadDataset, numClassesFor, partitionFor } from '../../core/data/index.ts';
import { parseIdxLabels } from '../../core/data/idx.ts';
import { MNIST_FILES } from '../../core/data/mnist.ts';

export type PreviewConfig = Pick<Config, 'dataset' | 'samples' | 'classes' | 'noise' | 'seed' | 'nodes' | 'partition'>;

export interface PartitionPreview {
  numClasses: number;
  /** One label histogram per node, in node order. */
  histograms: number[][];
}

const labelCache = new Map<string, Promise<Uint8Array>>();

/** Training labels only: generated for synthetic data, the 60 KB label file for MNIST (no images). */
export function trainLabels(c: Pick<Config, 'dataset' | 'samples' | 'classes' | 'noise' | 'seed'>): Promise<Uint8Array> {
  const key = c.dataset === 'mnist' ? 'mnist' : `${c.dataset}/${c.samples}/${c.classes}/${c.noise}/${c.seed}`;
  let p = labelCache.get(key);
  if (!p) {
    p =
      c.dataset === 'mnist'
        ? fetch(`/data/mnist/${MNIST_FILES.trainLabels}`).then(async (r) => {
            if (!r.ok) throw new Error(`could not fetch MNIST labels: HTTP ${r.status}`);
            return parseIdxLabels(await r.arrayBuffer());
          })
        : loadDataset(c).then((d) => d.train.y);
    p.catch(() => labelCache.delete(key));
    if (labelCache.size > 8) labelCache.clear();
    labelCache.set(key, p);
  }
  return p;
}

/** Each node's label histogram for the chosen partition, exactly as the nodes will compute it. */
export async function partitionPreview(c: PreviewConfig): Promise<PartitionPreview> {
  const labels = await trainLabels(c);
  const numClasses = numClassesFor(c);
  const shards = partitionFor(c, labels);
  return { numClasses, histograms: shards.map((idx) => labelHistogram(labels, idx, numClasses)) };
}
