/**
 * Splits frames into data-channel-sized chunks and reassembles them.
 * Chunk header (16 bytes, LE): messageId u32 | index u32 | count u32 | totalBytes u32.
 * There is no limit on the chunk count; there is one on the reassembled size and on the
 * number of half-received messages per peer, so a hostile peer cannot exhaust memory.
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
  maxFrameBytes: number;
  maxPartial: number;
}

export type ChunkResult = { kind: 'frame'; frame: Uint8Array } | { kind: 'partial' } | { kind: 'error'; reason: string };

interface Partial {
  count: number;
  total: number;
  next: number;
  buffer: Uint8Array;
  filled: number;
}

/** One reassembler per peer; chunks of one message arrive in order on a reliable, ordered channel. */
export class Reassembler {
  private partial = new Map<number, Partial>();

  constructor(private readonly limits: ReassemblerLimits) {}

  push(chunk: Uint8Array): ChunkResult {
    if (chunk.length < CHUNK_HEADER) return { kind: 'error', reason: 'chunk shorter than its header' };
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const id = view.getUint32(0, true);
    const index = view.getUint32(4, true);
    const count = view.getUint32(8, true);
    const total = view.getUint32(12, true);
    const body = chunk.subarray(CHUNK_HEADER);
    if (count === 0 || index >= count) return this.fail(id, 'chunk index out of range');
    if (total > this.limits.maxFrameBytes) return this.fail(id, `frame of ${total} bytes exceeds ${this.limits.maxFrameBytes}`);
    let p = this.partial.get(id);
    if (!p) {
      if (index !== 0) return this.fail(id, 'message does not start at chunk 0');
      if (this.partial.size >= this.limits.maxPartial) return this.fail(id, 'too many messages in flight');
      p = { count, total, next: 0, buffer: new Uint8Array(total), filled: 0 };
      this.partial.set(id, p);
    }
    if (count !== p.count || total !== p.total) return this.fail(id, 'chunk header disagrees with its message');
    if (index !== p.next) return this.fail(id, `chunk ${index} arrived, expected ${p.next}`);
    if (p.filled + body.length > p.total) return this.fail(id, 'chunks longer than the declared total');
    p.buffer.set(body, p.filled);
    p.filled += body.length;
    p.next++;
    if (p.next < p.count) return { kind: 'partial' };
    this.partial.delete(id);
    if (p.filled !== p.total) return { kind: 'error', reason: `reassembled ${p.filled} bytes, declared ${p.total}` };
    return { kind: 'frame', frame: p.buffer };
  }

  get inFlight(): number {
    return this.partial.size;
  }

  private fail(id: number, reason: string): ChunkResult {
    this.partial.delete(id);
    return { kind: 'error', reason };
  }
}
