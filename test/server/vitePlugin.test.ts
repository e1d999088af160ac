import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, preview, type Connect, type PreviewServer, type ViteDevServer } from 'vite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { murmurationServer } from '../../server/vitePlugin.ts';
import { MNIST_FILE_NAMES } from '../../src/core/data/mnist.ts';
import { TestClient } from './helpers.ts';

let root: string;
let server: ViteDevServer | PreviewServer | undefined;
const clients: TestClient[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'murmuration-plugin-'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>dev</title>');
  mkdirSync(join(root, 'dist'));
  writeFileSync(join(root, 'dist', 'index.html'), '<!doctype html><title>built</title>');
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await server?.close();
  server = undefined;
  rmSync(root, { recursive: true, force: true });
});

const hello: Connect.NextHandleFunction = (req, res, next) => {
  if (req.url !== '/data/hello') return next();
  res.end('hello from middleware');
};
const origin = (s: ViteDevServer | PreviewServer) => `127.0.0.1:${(s.httpServer!.address() as AddressInfo).port}`;

async function twoPeersRelay(host: string): Promise<void> {
  const a = await TestClient.open(`ws://${host}/signal`);
  const b = await TestClient.open(`ws://${host}/signal`);
  clients.push(a, b);
  const wa = await a.join('room');
  const wb = await b.join('room');
  expect(wb.peers).toEqual([wa.id]);
  expect(wb.iceServers).toEqual([{ urls: 'stun:example.org' }]);
  b.send({ type: 'signal', to: wa.id, data: { type: 'offer', sdp: 'v=0' } });
  expect(await a.next('signal')).toEqual({ type: 'signal', from: wb.id, data: { type: 'offer', sdp: 'v=0' } });
}

describe('murmurationServer() Vite plugin', () => {
  it('serves the app, extra middlewares, /signal and HMR from one dev server', async () => {
    const dev = await createServer({
      configFile: false,
      root,
      logLevel: 'silent',
      plugins: [murmurationServer({ middlewares: [hello], iceServers: [{ urls: 'stun:example.org' }] })],
      server: { port: 0, host: '127.0.0.1' },
    });
    server = dev;
    await dev.listen();
    const host = origin(dev);
    expect(await (await fetch(`http://${host}/data/hello`)).text()).toBe('hello from middleware');
    expect(await (await fetch(`http://${host}/`)).text()).toContain('<title>dev</title>');
    // The MNIST file server (server/datasetMiddleware.ts) is mounted by default, with Range support.
    const shard = await fetch(`http://${host}/data/mnist/${MNIST_FILE_NAMES[0]}`, { headers: { range: 'bytes=0-7' } });
    expect(shard.status).toBe(206);
    expect((await shard.arrayBuffer()).byteLength).toBe(8);
    await twoPeersRelay(host);

    // Vite's HMR socket shares the server and still works next to /signal.
    const hmr = new WebSocket(`ws://${host}/`, 'vite-hmr');
    const first = await new Promise<string>((resolve, reject) => {
      hmr.once('message', (d) => resolve(String(d)));
      hmr.once('error', reject);
    });
    expect(JSON.parse(first)).toMatchObject({ type: 'connected' });
    hmr.terminate();
  });

  it('mounts the same endpoint on the preview server', async () => {
    const pv = await preview({
      configFile: false,
      root,
      logLevel: 'silent',
      plugins: [murmurationServer({ middlewares: [hello], iceServers: [{ urls: 'stun:example.org' }] })],
      preview: { port: 0, host: '127.0.0.1' },
    });
    server = pv;
    const host = origin(pv);
    expect(await (await fetch(`http://${host}/`)).text()).toContain('<title>built</title>');
    expect(await (await fetch(`http://${host}/data/hello`)).text()).toBe('hello from middleware');
    expect((await fetch(`http://${host}/data/mnist/${MNIST_FILE_NAMES[0]}`, { method: 'HEAD' })).headers.get('accept-ranges')).toBe('bytes');
    await twoPeersRelay(host);
  });

  it('mounts only once when added twice (vite.config.ts plus npm start)', async () => {
    const dev = await createServer({
      configFile: false,
      root,
      logLevel: 'silent',
      plugins: [murmurationServer({ iceServers: [{ urls: 'stun:example.org' }] }), murmurationServer({ iceServers: [] })],
      server: { port: 0, host: '127.0.0.1' },
    });
    server = dev;
    await dev.listen();
    // Two attached instances would both answer the upgrade and break the handshake.
    await twoPeersRelay(origin(dev));
  });
});
