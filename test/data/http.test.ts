import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { datasetMiddleware, parseRange } from '../../server/datasetMiddleware.ts';
import { parseConfig } from '../../src/core/config.ts';
import { loadDataset, loadNodeShard, partitionFor, testSubset, evalRng } from '../../src/core/data/index.ts';
import { fetchRows, parseByteranges, planRanges } from '../../src/core/data/mnistHttp.ts';
import { mnistDataDir } from '../../src/core/data/mnistNode.ts';
import { takeRows, type Split } from '../../src/core/data/types.ts';
import { firstDiff } from './util.ts';

const TRAIN_IMAGES = 'train-images-idx3-ubyte';
const TEST_IMAGES = 't10k-images-idx3-ubyte';
let server: http.Server;
let base: string;
let testImages: Uint8Array;

beforeAll(async () => {
  const mw = datasetMiddleware();
  server = http.createServer((req, res) =>
    mw(req, res, (err) => {
      res.statusCode = err ? 500 : 404;
      res.end(err ? 'error' : 'next');
    }),
  );
  // Client and server share one event loop here: a long synchronous step could let the
  // default 5 s keep-alive lapse unseen by undici, which then reuses a dead socket.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/data/mnist/`;
  testImages = new Uint8Array(await readFile(path.join(mnistDataDir(), TEST_IMAGES)));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const get = (file: string, headers: Record<string, string> = {}, method = 'GET') => fetch(base + file, { headers, method });
const body = async (res: Response) => new Uint8Array(await res.arrayBuffer());

describe('parseRange', () => {
  it('handles first-last, open and suffix forms, clips, merges overlaps, flags bad input', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'ranges', ranges: [{ start: 0, end: 9 }] });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'ranges', ranges: [{ start: 90, end: 99 }] });
    expect(parseRange('bytes=-5', 100)).toEqual({ kind: 'ranges', ranges: [{ start: 95, end: 99 }] });
    expect(parseRange('bytes=95-500', 100)).toEqual({ kind: 'ranges', ranges: [{ start: 95, end: 99 }] });
    expect(parseRange('bytes=50-60, 0-4,55-70,5-6', 100)).toEqual({
      kind: 'ranges',
      ranges: [
        { start: 0, end: 6 },
        { start: 50, end: 70 },
      ],
    });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=5-1', 100)).toEqual({ kind: 'none' });
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'none' });
    expect(parseRange(`bytes=${Array.from({ length: 1001 }, (_, i) => `${i}-${i}`).join(',')}`, 1e6)).toEqual({ kind: 'too-many', count: 1001 });
  });
});

describe('dataset middleware over http', () => {
  it('single range: 206 with Content-Range and exactly those bytes', async () => {
    const res = await get(TEST_IMAGES, { Range: 'bytes=16-815' });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 16-815/${testImages.length}`);
    expect(res.headers.get('content-length')).toBe('800');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('cache-control')).toMatch(/max-age/);
    expect(firstDiff(await body(res), testImages.subarray(16, 816))).toBe(-1);
  });

  it('suffix range returns the tail of the file', async () => {
    const res = await get(TEST_IMAGES, { Range: 'bytes=-784' });
    expect(res.status).toBe(206);
    expect(firstDiff(await body(res), testImages.subarray(testImages.length - 784))).toBe(-1);
  });

  it('multi-range: 206 multipart/byteranges whose parts match the file', async () => {
    const res = await get(TEST_IMAGES, { Range: 'bytes=0-15, 7840000-7840015,1000-1999' });
    expect(res.status).toBe(206);
    const type = res.headers.get('content-type') ?? '';
    expect(type).toMatch(/^multipart\/byteranges; boundary=/);
    const raw = await body(res);
    expect(Number(res.headers.get('content-length'))).toBe(raw.length);
    const parts = parseByteranges(raw, type);
    expect(parts.map((p) => [p.start, p.bytes.length])).toEqual([
      [0, 16],
      [1000, 1000],
      [7840000, 16],
    ]);
    for (const p of parts) expect(firstDiff(p.bytes, testImages.subarray(p.start, p.start + p.bytes.length))).toBe(-1);
  });

  it('416 for unsatisfiable ranges, 400 for more than 200 ranges', async () => {
    const res = await get(TEST_IMAGES, { Range: `bytes=${testImages.length}-` });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${testImages.length}`);
    const many = Array.from({ length: 201 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',');
    expect((await get(TEST_IMAGES, { Range: `bytes=${many}` })).status).toBe(400);
    const ok = Array.from({ length: 200 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',');
    expect((await get(TEST_IMAGES, { Range: `bytes=${ok}` })).status).toBe(206);
  });

  it('full 200 without Range (and with a malformed one); HEAD has headers only', async () => {
    const res = await get('t10k-labels-idx1-ubyte');
    expect(res.status).toBe(200);
    const labels = await body(res);
    expect(labels.length).toBe(10008);
    expect(labels[8]).toBe(7);
    expect((await get('t10k-labels-idx1-ubyte', { Range: 'bytes=9-3' })).status).toBe(200);
    const head = await get(TRAIN_IMAGES, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('47040016');
    expect((await body(head)).length).toBe(0);
  });

  it('304 on a matching ETag; 404 for unknown files; other paths go to next()', async () => {
    const etag = (await get('t10k-labels-idx1-ubyte', {}, 'HEAD')).headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    expect((await get('t10k-labels-idx1-ubyte', { 'If-None-Match': etag })).status).toBe(304);
    expect((await get('..%2Fpackage.json')).status).toBe(404);
    const other = await fetch(base.replace('/data/mnist/', '/elsewhere'));
    expect(await other.text()).toBe('next');
  });
});

function expectSame(a: Split, b: Split): void {
  expect(a.n).toBe(b.n);
  expect(firstDiff(a.y, b.y)).toBe(-1);
  expect(firstDiff(a.x, b.x)).toBe(-1);
}

/** Counts body bytes independently of the loader's own stats. */
function countingFetch(rewrite?: (headers: Headers) => void) {
  const counter = { bytes: 0, requests: 0 };
  const f: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    rewrite?.(headers);
    const res = await fetch(input, { ...init, headers });
    const buf = await res.arrayBuffer();
    counter.bytes += buf.byteLength;
    counter.requests++;
    return new Response(buf, { status: res.status, headers: res.headers });
  };
  return { f, counter };
}

describe('HTTP shard loader', () => {
  it('fetches exactly the Node loader rows while moving < 10% of the file', async () => {
    const config = parseConfig({ dataset: 'mnist', nodes: 100, partition: 'iid', seed: 4, evalSize: 300 });
    const { f, counter } = countingFetch();
    const http = await loadNodeShard(config, 17, { baseUrl: base, fetch: f });
    const node = await loadNodeShard(config, 17, 'node');
    expect(firstDiff(http.indices, node.indices)).toBe(-1); // same partition from labels alone
    expect(http.dataset.train.n).toBe(600);
    expectSame(http.dataset.train, node.dataset.train);
    expectSame(http.dataset.test, node.dataset.test);

    // and both equal slicing the full dataset
    const full = await loadDataset(config, 'node');
    expect(firstDiff(http.indices, partitionFor(config, full.train.y)[17])).toBe(-1);
    expectSame(http.dataset.train, takeRows(full.train, 784, http.indices));
    expectSame(http.dataset.test, testSubset(full, 300, evalRng(4)));

    expect(http.stats?.bytes).toBe(counter.bytes);
    expect(counter.bytes).toBeLessThan(0.1 * 47040016);
    expect(counter.requests).toBeLessThanOrEqual(2 + 5 + 3); // labels, ≤150 ranges per request
  });

  it('non-iid shard (dirichlet) matches too', async () => {
    const config = parseConfig({ dataset: 'mnist', nodes: 30, partition: 'dirichlet:0.3', seed: 2, evalSize: 50 });
    const http = await loadNodeShard(config, 3, { baseUrl: base });
    const node = await loadNodeShard(config, 3, 'node');
    expect(http.dataset.train.n).toBe(node.dataset.train.n);
    expectSame(http.dataset.train, node.dataset.train);
    expectSame(http.dataset.test, node.dataset.test);
  });

  const rows = [5, 6, 7, 9, 500, 9999, 3000, 5];
  const expected = (r: number) => testImages.subarray(16 + r * 784, 16 + (r + 1) * 784);
  const check = (got: Uint8Array) => rows.forEach((r, i) => expect(firstDiff(got.subarray(i * 784, (i + 1) * 784), expected(r))).toBe(-1));

  it('coalesces nearby rows into one range', () => {
    expect(planRanges([9, 5, 6, 7, 500, 5], 784, 16, 2)).toEqual([
      { start: 16 + 5 * 784, end: 16 + 10 * 784 - 1 },
      { start: 16 + 500 * 784, end: 16 + 501 * 784 - 1 },
    ]);
    expect(planRanges([1, 4], 10, 0, 2)).toHaveLength(1);
    expect(planRanges([1, 5], 10, 0, 2)).toHaveLength(2);
  });

  it('batches ranges: at most maxRanges per request', async () => {
    const { f, counter } = countingFetch();
    const many = Array.from({ length: 40 }, (_, i) => i * 100);
    const got = await fetchRows(base + TEST_IMAGES, many, 784, 16, { fetch: f, maxRanges: 7 });
    expect(counter.requests).toBe(6);
    many.forEach((r, i) => expect(firstDiff(got.subarray(i * 784, (i + 1) * 784), expected(r))).toBe(-1));
  });

  it('works with a server that honours only the first range (206, plain body)', async () => {
    const { f, counter } = countingFetch((h) => {
      const r = h.get('range');
      if (r) h.set('range', r.split(',')[0]);
    });
    check(await fetchRows(base + TEST_IMAGES, rows, 784, 16, { fetch: f }));
    expect(counter.requests).toBe(4); // one multi-range try, then the 3 missing ranges one by one
  });

  it('works with a server that ignores Range (200, whole file)', async () => {
    const { f, counter } = countingFetch((h) => h.delete('range'));
    check(await fetchRows(base + TEST_IMAGES, rows, 784, 16, { fetch: f, maxRanges: 2 }));
    expect(counter.bytes).toBeGreaterThanOrEqual(testImages.length);
  });

  it('fails loudly on HTTP errors', async () => {
    await expect(fetchRows(base + 'nope', [1], 784, 16)).rejects.toThrow(/404/);
  });
});

describe('parseByteranges', () => {
  it('uses Content-Range lengths, so part data containing the boundary is safe; quoted boundary', () => {
    const data = '--xyz\r\n\r\n';
    const text =
      `preamble\r\n--xyz\r\nContent-Type: application/octet-stream\r\ncontent-range: bytes 10-18/100\r\n\r\n${data}` +
      `\r\n--xyz\r\nContent-Range: bytes 50-51/100\r\n\r\nAB\r\n--xyz--\r\n`;
    const parts = parseByteranges(new TextEncoder().encode(text), 'multipart/byteranges; boundary="xyz"');
    expect(parts.map((p) => [p.start, new TextDecoder().decode(p.bytes)])).toEqual([
      [10, data],
      [50, 'AB'],
    ]);
  });

  it('rejects missing boundary, missing Content-Range and truncated parts', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(() => parseByteranges(enc(''), 'multipart/byteranges')).toThrow(/boundary/);
    expect(() => parseByteranges(enc('--b\r\nX: y\r\n\r\nab\r\n--b--'), 'multipart/byteranges; boundary=b')).toThrow(/Content-Range/);
    expect(() => parseByteranges(enc('--b\r\nContent-Range: bytes 0-99/100\r\n\r\nab'), 'multipart/byteranges; boundary=b')).toThrow(/truncated/);
  });
});
