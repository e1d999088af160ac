import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { datasetMiddleware, type DatasetMiddlewareOptions } from '../../server/datasetMiddleware.ts';
import { fetchRows, parseByteranges } from '../../src/core/data/mnistHttp.ts';
import { mnistDataDir } from '../../src/core/data/mnistNode.ts';
import { firstDiff } from './util.ts';

/** Finding 8 of the hardening issue: the dataset route under clients that do not play along. Real sockets throughout. */

const TRAIN_IMAGES = 'train-images-idx3-ubyte';
const TEST_IMAGES = 't10k-images-idx3-ubyte';

let server: http.Server | null = null;
const sockets: net.Socket[] = [];

async function start(opts: DatasetMiddlewareOptions = {}): Promise<number> {
  const mw = datasetMiddleware(opts);
  server = http.createServer((req, res) => mw(req, res, () => ((res.statusCode = 404), res.end())));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = null;
});

/** A GET that is sent and then never read: the socket is paused for good. Resolves with the status line once the headers arrive. */
function stalledGet(port: number, file: string, opts: { localAddress?: string; range?: string } = {}): Promise<{ socket: net.Socket; status: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: opts.localAddress });
    sockets.push(socket);
    socket.on('error', () => {});
    socket.once('connect', () => socket.write(`GET /data/mnist/${file} HTTP/1.1\r\nHost: x\r\n${opts.range ? `Range: ${opts.range}\r\n` : ''}\r\n`));
    socket.once('data', (chunk: Buffer) => {
      socket.pause(); // and never resume
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 0);
      resolve({ socket, status });
    });
    socket.once('close', () => reject(new Error('closed before any answer')));
  });
}

const openConnections = () => new Promise<number>((resolve) => server!.getConnections((_e, n) => resolve(n)));
const openFds = () => readdirSync('/proc/self/fd').length;

async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('dataset route limits (hardening #8)', () => {
  it('drops clients that stop reading (a write deadline), with one file handle per file instead of one per request', async () => {
    const port = await start({ writeTimeoutMs: 300 });
    const before = openFds();
    const stalled = await Promise.all(Array.from({ length: 20 }, () => stalledGet(port, TRAIN_IMAGES)));
    expect(stalled.every((s) => s.status === 200)).toBe(true);
    // Each connection is two descriptors here (client and server end, one process); the file is opened once.
    expect(openFds() - before).toBeLessThanOrEqual(2 * 20 + 2);
    // None of them reads, so each is dropped when its write deadline passes.
    await until(async () => (await openConnections()) === 0, 5000, 'stalled clients dropped');
    // A reading client is served in full meanwhile.
    const res = await fetch(`http://127.0.0.1:${port}/data/mnist/t10k-labels-idx1-ubyte`);
    expect((await res.arrayBuffer()).byteLength).toBe(10008);
  });

  it('caps concurrent responses (503 + Retry-After), and serves again once a slot frees', async () => {
    const port = await start({ maxConnections: 3, writeTimeoutMs: 60_000 });
    const stalled = await Promise.all(Array.from({ length: 3 }, () => stalledGet(port, TRAIN_IMAGES)));
    const busy = await fetch(`http://127.0.0.1:${port}/data/mnist/${TEST_IMAGES}`, { headers: { Range: 'bytes=0-15' } });
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toMatch(/^\d+$/);
    await busy.arrayBuffer();
    stalled[0].socket.destroy();
    await until(async () => (await fetch(`http://127.0.0.1:${port}/data/mnist/${TEST_IMAGES}`, { headers: { Range: 'bytes=0-15' } })).status === 206, 3000, 'a free slot');
  });

  it('caps concurrent responses per client address (429), leaving other addresses alone', async () => {
    const port = await start({ maxConnectionsPerAddress: 2, writeTimeoutMs: 60_000 });
    for (let i = 0; i < 2; i++) expect((await stalledGet(port, TRAIN_IMAGES)).status).toBe(200);
    expect((await stalledGet(port, TEST_IMAGES, { range: 'bytes=0-15' })).status).toBe(429);
    expect((await stalledGet(port, TEST_IMAGES, { range: 'bytes=0-15', localAddress: '127.0.0.2' })).status).toBe(206);
  });

  it('refuses more than 200 ranges with 400 (before reading the file), merges overlaps, 416 when nothing is satisfiable', async () => {
    const port = await start();
    const url = `http://127.0.0.1:${port}/data/mnist/${TEST_IMAGES}`;
    const size = (await readFile(path.join(mnistDataDir(), TEST_IMAGES))).length;
    const ranges = (n: number) => 'bytes=' + Array.from({ length: n }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',');
    for (const n of [1000, 201]) {
      const res = await fetch(url, { headers: { Range: ranges(n) } });
      expect(res.status, `${n} ranges`).toBe(400);
      expect(await res.text()).toMatch(/too many ranges/);
    }
    // 200 small ranges close together (sent with a few reads and writes) and two far apart: byte-exact.
    const file = new Uint8Array(await readFile(path.join(mnistDataDir(), TEST_IMAGES)));
    const ok = await fetch(url, { headers: { Range: ranges(198) + `,5000000-5100000,${size - 5}-` } });
    expect(ok.status).toBe(206);
    const type = ok.headers.get('content-type') ?? '';
    const body = new Uint8Array(await ok.arrayBuffer());
    expect(Number(ok.headers.get('content-length'))).toBe(body.length);
    const parts = parseByteranges(body, type);
    expect(parts.map((p) => p.start)).toEqual([...Array.from({ length: 198 }, (_, i) => i * 10), 5000000, size - 5]);
    for (const p of parts) expect(firstDiff(p.bytes, file.subarray(p.start, p.start + p.bytes.length))).toBe(-1);
    // Overlapping and repeated ranges are merged into one part, so repeats cannot multiply the answer.
    const merged = await fetch(url, { headers: { Range: 'bytes=0-99,50-149,0-149,100-100,0-149' } });
    expect(merged.status).toBe(206);
    expect(merged.headers.get('content-range')).toBe(`bytes 0-149/${size}`);
    expect((await merged.arrayBuffer()).byteLength).toBe(150);
    for (const r of [`bytes=${size}-`, `bytes=${size}-${size + 10},${size + 20}-`]) {
      const res = await fetch(url, { headers: { Range: r } });
      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${size}`);
    }
  });

  it('the shard loader waits and retries when the route is busy (503/429 with Retry-After)', async () => {
    const port = await start({ maxConnections: 1 });
    const url = `http://127.0.0.1:${port}/data/mnist/${TEST_IMAGES}`;
    const images = new Uint8Array(await readFile(path.join(mnistDataDir(), TEST_IMAGES)));
    const rows = Array.from({ length: 40 }, (_, i) => i * 240);
    const statuses: number[] = [];
    const f: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      statuses.push(res.status);
      return res;
    };
    const got = await fetchRows(url, rows, 784, 16, { fetch: f, maxRanges: 5, concurrency: 4 });
    rows.forEach((r, i) => expect(firstDiff(got.subarray(i * 784, (i + 1) * 784), images.subarray(16 + r * 784, 16 + (r + 1) * 784))).toBe(-1));
    expect(statuses.filter((s) => s === 206)).toHaveLength(8);
  });
});
