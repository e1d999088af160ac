import { parseIdxLabels, pixelsToFloat } from './idx.ts';
import {
  DEFAULT_MNIST_URL,
  MNIST_FEATURES,
  MNIST_FILES,
  MNIST_IMAGE_HEADER,
  type MnistFileKey,
  type MnistFiles,
  type MnistHttpSource,
} from './mnist.ts';
import type { Split } from './types.ts';

/**
 * MNIST over HTTP for a browser tab: download the small label files whole, then only the
 * image rows this node needs, as multi-range requests (`Range: bytes=a-b,c-d`). Works with
 * servers that only do single ranges (206 plain body) or ignore Range (200 full body).
 */

export interface RangeOptions extends MnistHttpSource {
  /** Ranges per request; keeps the Range header a few KB (servers cap header size). */
  maxRanges?: number;
  /** Merge two runs of rows when at most this many unwanted rows lie between them. */
  gapRows?: number;
  /** Requests in flight at once. */
  concurrency?: number;
}

export interface TransferStats {
  requests: number;
  /** Response body bytes received. */
  bytes: number;
}

export interface ByteRange {
  start: number;
  /** Inclusive, as in HTTP. */
  end: number;
}

interface Chunk {
  start: number;
  bytes: Uint8Array;
}

const DEFAULTS = { maxRanges: 150, gapRows: 2, concurrency: 4 };

export function fileUrl(baseUrl: string | undefined, file: string): string {
  const base = baseUrl ?? DEFAULT_MNIST_URL;
  return base.endsWith('/') ? base + file : `${base}/${file}`;
}

function fetchOf(src: MnistHttpSource): typeof fetch {
  return src.fetch ?? ((...args) => globalThis.fetch(...args));
}

interface Got {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** Tries after a 503/429 (the server's cap on downloads in flight) before giving up. */
const BUSY_RETRIES = 10;

async function get(url: string, src: MnistHttpSource, stats: TransferStats, range?: string): Promise<Got> {
  let res = await fetchOf(src)(url, range ? { headers: { Range: range } } : undefined);
  stats.requests++;
  // Busy (too many downloads at once, in all or from this address): wait as told, with jitter so
  // a classroom does not come back in lockstep, and try again.
  for (let attempt = 1; (res.status === 503 || res.status === 429) && attempt <= BUSY_RETRIES; attempt++) {
    await res.arrayBuffer().catch(() => undefined);
    const told = Number(res.headers.get('retry-after'));
    const waitMs = (Number.isFinite(told) && told > 0 ? Math.min(told, 10) * 1000 : 1000) * (0.5 + Math.random());
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    res = await fetchOf(src)(url, range ? { headers: { Range: range } } : undefined);
    stats.requests++;
  }
  if (res.status !== 200 && res.status !== 206) throw new Error(`GET ${url}${range ? ' (ranges)' : ''}: HTTP ${res.status}`);
  const body = new Uint8Array(await res.arrayBuffer());
  stats.bytes += body.length;
  return { status: res.status, headers: res.headers, body };
}

/** A whole file (used for the 60 KB / 10 KB label files). */
export async function fetchFile(url: string, src: MnistHttpSource = {}, stats: TransferStats = { requests: 0, bytes: 0 }): Promise<Uint8Array> {
  return (await get(url, src, stats)).body;
}

export async function fetchMnistFiles(src: MnistHttpSource = {}): Promise<MnistFiles> {
  const keys = Object.keys(MNIST_FILES) as MnistFileKey[];
  const bufs = await Promise.all(keys.map((k) => fetchFile(fileUrl(src.baseUrl, MNIST_FILES[k]), src)));
  const files = {} as MnistFiles;
  keys.forEach((k, i) => (files[k] = bufs[i]));
  return files;
}

export async function fetchLabels(set: 'train' | 'test', src: MnistHttpSource = {}, stats?: TransferStats): Promise<Uint8Array> {
  const file = set === 'train' ? MNIST_FILES.trainLabels : MNIST_FILES.testLabels;
  return parseIdxLabels(await fetchFile(fileUrl(src.baseUrl, file), src, stats));
}

/** Sorted distinct rows → byte ranges, merging runs separated by at most `gapRows` rows. */
export function planRanges(rows: ArrayLike<number>, rowBytes: number, headerBytes: number, gapRows: number): ByteRange[] {
  const sorted = Int32Array.from(rows).sort();
  const out: ByteRange[] = [];
  let i = 0;
  while (i < sorted.length) {
    const first = sorted[i];
    let last = first;
    while (i + 1 < sorted.length && sorted[i + 1] - last - 1 <= gapRows) last = sorted[++i];
    i++;
    out.push({ start: headerBytes + first * rowBytes, end: headerBytes + (last + 1) * rowBytes - 1 });
  }
  return out;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const last = hay.length - needle.length;
  outer: for (let i = from; i <= last; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const latin1 = (b: Uint8Array) => String.fromCharCode(...b);

/** `bytes a-b/total` (or `bytes a-b/*`). */
export function parseContentRange(value: string | null): ByteRange | null {
  const m = /^\s*bytes\s+(\d+)-(\d+)\s*\/\s*(\d+|\*)\s*$/i.exec(value ?? '');
  if (!m) return null;
  const r = { start: Number(m[1]), end: Number(m[2]) };
  return r.end >= r.start ? r : null;
}

/**
 * RFC 7233 multipart/byteranges. Each part's length comes from its Content-Range, not from
 * searching for the next boundary, so pixel bytes that happen to look like a boundary are safe.
 */
export function parseByteranges(body: Uint8Array, contentType: string): Chunk[] {
  const m = /boundary=(?:"([^"]+)"|([^;,\s]+))/i.exec(contentType);
  if (!m) throw new Error(`multipart/byteranges without boundary: ${contentType}`);
  const delim = ascii(`--${m[1] ?? m[2]}`);
  const crlf2 = ascii('\r\n\r\n');
  const out: Chunk[] = [];
  let pos = indexOf(body, delim, 0);
  while (pos >= 0) {
    pos += delim.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing `--boundary--`
    const headEnd = indexOf(body, crlf2, pos);
    if (headEnd < 0) throw new Error('multipart/byteranges: part headers not terminated');
    const headers = latin1(body.subarray(pos, headEnd));
    const cr = /content-range:([^\r\n]*)/i.exec(headers);
    const range = parseContentRange(cr ? cr[1] : null);
    if (!range) throw new Error(`multipart/byteranges: part without a valid Content-Range`);
    const start = headEnd + 4;
    const len = range.end - range.start + 1;
    if (start + len > body.length) throw new Error('multipart/byteranges: truncated part');
    out.push({ start: range.start, bytes: body.subarray(start, start + len) });
    pos = indexOf(body, delim, start + len);
  }
  return out;
}

/** Turn one response into placed byte chunks (empty when it cannot be placed). */
function chunksOf(res: Got, asked: ByteRange[]): { chunks: Chunk[]; full: boolean } {
  if (res.status === 200) return { chunks: [{ start: 0, bytes: res.body }], full: true };
  const type = res.headers.get('content-type') ?? '';
  if (/^\s*multipart\/byteranges/i.test(type)) return { chunks: parseByteranges(res.body, type), full: false };
  const range = parseContentRange(res.headers.get('content-range'));
  if (range) return { chunks: [{ start: range.start, bytes: res.body.subarray(0, range.end - range.start + 1) }], full: false };
  // No Content-Range (e.g. hidden by CORS): only a single-range answer can be trusted.
  if (asked.length === 1 && res.body.length === asked[0].end - asked[0].start + 1) return { chunks: [{ start: asked[0].start, bytes: res.body }], full: false };
  return { chunks: [], full: false };
}

async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

/**
 * Bytes of fixed-size rows `rows` (in the given order, repeats allowed) from a file at `url`.
 * First pass: batched multi-range requests. Rows the server did not return (e.g. it only
 * honoured the first range) are fetched again one range per request.
 */
export async function fetchRows(
  url: string,
  rows: ArrayLike<number>,
  rowBytes: number,
  headerBytes: number,
  opts: RangeOptions = {},
  stats: TransferStats = { requests: 0, bytes: 0 },
): Promise<Uint8Array> {
  const o = { ...DEFAULTS, ...opts };
  const chunks: Chunk[] = [];
  let full = false;

  const run = async (ranges: ByteRange[], perRequest: number) => {
    const batches: ByteRange[][] = [];
    for (let i = 0; i < ranges.length; i += perRequest) batches.push(ranges.slice(i, i + perRequest));
    await pool(
      batches.map((batch) => async () => {
        if (full) return; // a 200 already gave us the whole file
        const header = 'bytes=' + batch.map((r) => `${r.start}-${r.end}`).join(',');
        const got = chunksOf(await get(url, opts, stats, header), batch);
        full ||= got.full;
        chunks.push(...got.chunks);
      }),
      o.concurrency,
    );
  };

  const out = new Uint8Array(rows.length * rowBytes);
  /** Copies every row it can; returns the rows still missing. */
  const place = (): number[] => {
    chunks.sort((a, b) => a.start - b.start);
    const missing = new Set<number>();
    for (let i = 0; i < rows.length; i++) {
      const off = headerBytes + rows[i] * rowBytes;
      // last chunk starting at or before `off`; earlier chunks may be longer, so walk back too
      let lo = 0;
      let hi = chunks.length - 1;
      let at = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (chunks[mid].start <= off) {
          at = mid;
          lo = mid + 1;
        }
        else hi = mid - 1;
      }
      let done = false;
      for (let c = at; c >= 0 && !done; c--) {
        const ch = chunks[c];
        if (off + rowBytes <= ch.start + ch.bytes.length) {
          out.set(ch.bytes.subarray(off - ch.start, off - ch.start + rowBytes), i * rowBytes);
          done = true;
        }
      }
      if (!done) missing.add(rows[i]);
    }
    return [...missing];
  };

  for (let i = 0; i < rows.length; i++) if (!(Number.isInteger(rows[i]) && rows[i] >= 0)) throw new RangeError(`bad row ${rows[i]}`);
  if (rows.length === 0) return out;
  await run(planRanges(rows, rowBytes, headerBytes, o.gapRows), o.maxRanges);
  let missing = place();
  if (missing.length > 0 && !full) {
    await run(planRanges(missing, rowBytes, headerBytes, o.gapRows), 1);
    missing = place();
  }
  if (missing.length > 0) throw new Error(`${url}: ${missing.length} rows not returned by the server (first: ${missing[0]})`);
  return out;
}

export interface MnistShard {
  train: Split;
  test: Split;
  stats: TransferStats;
}

export interface ShardRequest extends RangeOptions {
  /** Training rows of this node. */
  train: ArrayLike<number>;
  /** Test rows (the evaluation subset). */
  test: ArrayLike<number>;
  /** Label files already fetched (e.g. to compute the partition); fetched here otherwise. */
  trainLabels?: Uint8Array;
  testLabels?: Uint8Array;
  stats?: TransferStats;
}

async function rowsSplit(set: 'train' | 'test', rows: ArrayLike<number>, labels: Uint8Array, req: ShardRequest, stats: TransferStats): Promise<Split> {
  for (let i = 0; i < rows.length; i++) if (rows[i] >= labels.length) throw new RangeError(`MNIST ${set}: row ${rows[i]} >= ${labels.length}`);
  const file = set === 'train' ? MNIST_FILES.trainImages : MNIST_FILES.testImages;
  const url = fileUrl(req.baseUrl, file);
  const pixels = await fetchRows(url, rows, MNIST_FEATURES, MNIST_IMAGE_HEADER, req, stats);
  const y = new Uint8Array(rows.length);
  for (let i = 0; i < rows.length; i++) y[i] = labels[rows[i]];
  return { x: pixelsToFloat(pixels), y, n: rows.length };
}

/** One node's rows of train and test, in the order given; the same values a full load would give. */
export async function fetchMnistShard(req: ShardRequest): Promise<MnistShard> {
  const stats = req.stats ?? { requests: 0, bytes: 0 };
  const [trainLabels, testLabels] = await Promise.all([
    req.trainLabels ?? fetchLabels('train', req, stats),
    req.testLabels ?? fetchLabels('test', req, stats),
  ]);
  const [train, test] = await Promise.all([rowsSplit('train', req.train, trainLabels, req, stats), rowsSplit('test', req.test, testLabels, req, stats)]);
  return { train, test, stats };
}
