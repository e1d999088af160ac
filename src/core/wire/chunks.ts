/**
 * Splits frames into data-channel-sized chunks and reassembles them.
 * Chunk header (16 bytes, LE): messageId u32 | index u32 | count u32 | totalBytes u32.
 *
 * There is no limit on the chunk count. The header's `totalBytes` is only a claim: the
 * reassembler checks it against `maxFrameBytes` but allocates nothing for it; it keeps the
 * chunks that actually arrived and joins them at the end. So the memory a peer can pin is what
 * it really sent, bounded by `maxBufferedBytes` for all of its unfinished messages together and
 * by `maxPartial` messages. An unfinished message that gets no chunk for `partialTimeoutMs` is
 * dropped (reason `expired`), so a peer that stops half way cannot block later messages.
 */

export const CHUNK_HEADER = 16;

export function splitFrame(frame: Uint8Array, messageId: number, maxChunkBytes: number): Uint8Array[] {
  const payload = maxChunkBytes - CHUNK_HEADER;
  if (payload <= 0) throw new Error(`chunk size ${maxChunkBytes} leaves no room for data`);
  const count = Math.max(1, Math.ceil(frame.length / payload));
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const body = frame.subarray(i * payload, Math.min(frame.length, (i + 1) * payload));
    const chunk = new Uint8Array(CHUNK_HEADER + body.length);
    const view = new DataView(chunk.buffer);
    view.setUint32(0, messageId >>> 0, true);
    view.setUint32(4, i, true);
    view.setUint32(8, count, true);
    view.setUint32(12, frame.length, true);
    chunk.set(body, CHUNK_HEADER);
    chunks.push(chunk);
  }
  return chunks;
}

export interface ReassemblerLimits {
  /** Largest frame a chunk header may declare. */
  maxFrameBytes: number;
  /** Unfinished messages held at once. */
  maxPartial: number;
  /** Bytes received and held for all unfinished messages together; default `maxFrameBytes`. */
  maxBufferedBytes?: number;
  /** An unfinished message that gets no chunk for this long is dropped; default 30 s. */
  partialTimeoutMs?: number;
}

export const DEFAULT_PARTIAL_TIMEOUT_MS = 30_000;

/** Why a chunk (or an unfinished message) was rejected: a fixed set, so counters by reason stay bounded. */
export type ChunkRejectReason =
  | 'short-chunk'
  | 'bad-index'
  | 'too-big'
  | 'bad-start'
  | 'too-many-partial'
  | 'header-mismatch'
  | 'out-of-order'
  | 'overrun'
  | 'buffered-bytes'
  | 'length-mismatch'
  | 'expired';

export type ChunkResult =
  | { kind: 'frame'; frame: Uint8Array }
  | { kind: 'partial' }
  | { kind: 'error'; reason: ChunkRejectReason; detail: string };

export interface ExpiredMessage {
  id: number;
  received: number;
  declared: number;
}

interface Partial {
  count: number;
  total: number;
  next: number;
  parts: Uint8Array[];
  filled: number;
  lastChunkAt: number;
}

/** One reassembler per peer; chunks of one message arrive in order on a reliable, ordered channel. */
export class Reassembler {
  /** Unfinished messages dropped by their deadline so far. */
  expired = 0;
  private partial = new Map<number, Partial>();
  private buffered = 0;
  private readonly maxBuffered: number;
  private readonly timeoutMs: number;

  constructor(private readonly limits: ReassemblerLimits) {
    this.maxBuffered = limits.maxBufferedBytes ?? limits.maxFrameBytes;
    this.timeoutMs = limits.partialTimeoutMs ?? DEFAULT_PARTIAL_TIMEOUT_MS;
  }

  /**
   * Takes one chunk. Unfinished messages past their deadline are dropped first (see `expire`;
   * their count is in `expiredCount`), so a dead message never blocks a live one.
   */
  push(chunk: Uint8Array, now: number = Date.now()): ChunkResult {
    this.expire(now);
    if (chunk.length < CHUNK_HEADER) return { kind: 'error', reason: 'short-chunk', detail: `chunk of ${chunk.length} bytes is shorter than its header` };
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const id = view.getUint32(0, true);
    const index = view.getUint32(4, true);
    const count = view.getUint32(8, true);
    const total = view.getUint32(12, true);
    const body = chunk.subarray(CHUNK_HEADER);
    if (count === 0 || index >= count) return this.fail(id, 'bad-index', `chunk ${index} of ${count}`);
    if (total > this.limits.maxFrameBytes) return this.fail(id, 'too-big', `frame of ${total} bytes exceeds ${this.limits.maxFrameBytes}`);
    let p = this.partial.get(id);
    if (!p) {
      if (index !== 0) return this.fail(id, 'bad-start', `message starts at chunk ${index}, not 0`);
      if (this.partial.size >= this.limits.maxPartial) return this.fail(id, 'too-many-partial', `${this.partial.size} messages already in flight`);
      p = { count, total, next: 0, parts: [], filled: 0, lastChunkAt: now };
      this.partial.set(id, p);
    }
    if (count !== p.count || total !== p.total) return this.fail(id, 'header-mismatch', `chunk says ${count} chunks/${total} bytes, message ${p.count}/${p.total}`);
    if (index !== p.next) return this.fail(id, 'out-of-order', `chunk ${index} arrived, expected ${p.next}`);
    if (p.filled + body.length > p.total) return this.fail(id, 'overrun', `chunks longer than the declared ${p.total} bytes`);
    if (this.buffered + body.length > this.maxBuffered) {
      return this.fail(id, 'buffered-bytes', `${this.buffered + body.length} bytes of unfinished messages exceed ${this.maxBuffered}`);
    }
    p.parts.push(body);
    p.filled += body.length;
    this.buffered += body.length;
    p.next++;
    p.lastChunkAt = now;
    if (p.next < p.count) return { kind: 'partial' };
    this.drop(id);
    if (p.filled !== p.total) return { kind: 'error', reason: 'length-mismatch', detail: `reassembled ${p.filled} bytes, declared ${p.total}` };
    const frame = new Uint8Array(p.total);
    let at = 0;
    for (const part of p.parts) {
      frame.set(part, at);
      at += part.length;
    }
    return { kind: 'frame', frame };
  }

  /** Drops unfinished messages that got no chunk for `partialTimeoutMs`; returns them (each one a rejection to count). */
  expire(now: number = Date.now()): ExpiredMessage[] {
    const out: ExpiredMessage[] = [];
    for (const [id, p] of this.partial) {
      if (now - p.lastChunkAt < this.timeoutMs) continue;
      out.push({ id, received: p.filled, declared: p.total });
      this.drop(id);
    }
    this.expired += out.length;
    return out;
  }

  get inFlight(): number {
    return this.partial.size;
  }

  /** Bytes held for unfinished messages. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** True if no unfinished message got a chunk within `partialTimeoutMs` (also when there is none). */
  isStale(now: number = Date.now()): boolean {
    for (const p of this.partial.values()) if (now - p.lastChunkAt < this.timeoutMs) return false;
    return true;
  }

  private drop(id: number): void {
    const p = this.partial.get(id);
    if (!p) return;
    this.buffered -= p.filled;
    this.partial.delete(id);
  }

  private fail(id: number, reason: ChunkRejectReason, detail: string): ChunkResult {
    this.drop(id);
    return { kind: 'error', reason, detail };
  }
}
