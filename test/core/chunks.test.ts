import { describe, expect, it } from 'vitest';
import { Reassembler, splitFrame } from '../../src/core/wire/chunks.ts';

const frame = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);

describe('chunking', () => {
  it('splits into as many chunks as needed and reassembles exactly', () => {
    const f = frame(1_000_003);
    const chunks = splitFrame(f, 9, 1024);
    expect(chunks.length).toBe(Math.ceil(f.length / (1024 - 16)));
    const r = new Reassembler({ maxFrameBytes: 2e6, maxPartial: 2 });
    const results = chunks.map((c) => r.push(c));
    expect(results.slice(0, -1).every((x) => x.kind === 'partial')).toBe(true);
    const last = results.at(-1)!;
    expect(last.kind).toBe('frame');
    if (last.kind === 'frame') expect(Buffer.from(last.frame).equals(Buffer.from(f))).toBe(true);
    expect(r.inFlight).toBe(0);
  });

  it('sends an empty frame as one chunk', () => {
    const r = new Reassembler({ maxFrameBytes: 10, maxPartial: 1 });
    const res = r.push(splitFrame(new Uint8Array(0), 1, 64)[0]);
    expect(res.kind).toBe('frame');
  });

  it('rejects lies about length, order and size, and bounds messages in flight', () => {
    const r = new Reassembler({ maxFrameBytes: 5000, maxPartial: 1 });
    const chunks = splitFrame(frame(3000), 1, 1000);
    expect(r.push(chunks[1]).kind).toBe('error'); // does not start at 0
    expect(r.push(chunks[0]).kind).toBe('partial');
    expect(r.push(chunks[2])).toMatchObject({ kind: 'error', reason: 'out-of-order', detail: expect.stringMatching(/expected 1/) });
    expect(r.push(splitFrame(frame(6000), 2, 1000)[0])).toMatchObject({ kind: 'error', reason: 'too-big', detail: expect.stringMatching(/exceeds/) });
    expect(r.push(splitFrame(frame(100), 3, 64)[0]).kind).toBe('partial');
    expect(r.push(splitFrame(frame(100), 4, 64)[0])).toMatchObject({ kind: 'error', reason: 'too-many-partial' });
    const lying = splitFrame(frame(100), 5, 1000)[0];
    new DataView(lying.buffer).setUint32(12, 200, true); // declares 200 bytes, carries 100
    const r2 = new Reassembler({ maxFrameBytes: 5000, maxPartial: 4 });
    expect(r2.push(lying)).toMatchObject({ kind: 'error', reason: 'length-mismatch' });
    expect(r2.push(new Uint8Array(3))).toMatchObject({ kind: 'error', reason: 'short-chunk' });
  });
});

/** A first chunk (index 0 of `count`) that declares `total` bytes and carries `body` bytes. */
function firstChunk(id: number, count: number, total: number, body = 0): Uint8Array {
  const c = new Uint8Array(16 + body);
  const v = new DataView(c.buffer);
  v.setUint32(0, id, true);
  v.setUint32(4, 0, true);
  v.setUint32(8, count, true);
  v.setUint32(12, total, true);
  return c;
}

describe('hostile chunk headers (hardening #3)', () => {
  it('allocates only what arrived: four 16-byte chunks declaring 64 MiB each pin nothing', () => {
    const MiB = 1024 * 1024;
    const r = new Reassembler({ maxFrameBytes: 64 * MiB, maxPartial: 4, maxBufferedBytes: 256 * MiB });
    const before = process.memoryUsage().arrayBuffers;
    for (let id = 1; id <= 4; id++) expect(r.push(firstChunk(id, 2, 64 * MiB))).toEqual({ kind: 'partial' });
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(r.inFlight).toBe(4);
    // Before the fix each declaration was a `new Uint8Array(total)`: 256 MiB held here.
    expect(grown).toBeLessThan(MiB);
    expect(r.bufferedBytes).toBe(0);
  });

  it('caps the bytes of unfinished messages per link, all messages together', () => {
    const r = new Reassembler({ maxFrameBytes: 10_000, maxPartial: 4, maxBufferedBytes: 3_000 });
    const a = splitFrame(frame(3000), 1, 1016); // 1000-byte bodies
    const b = splitFrame(frame(4000), 2, 1016);
    expect(r.push(a[0]).kind).toBe('partial');
    expect(r.push(b[0]).kind).toBe('partial');
    expect(r.push(a[1]).kind).toBe('partial');
    expect(r.bufferedBytes).toBe(3000);
    expect(r.push(b[1])).toMatchObject({ kind: 'error', reason: 'buffered-bytes' });
    expect(r.bufferedBytes).toBe(2000); // message 2 was dropped with its bytes
    // Message 1 can still finish.
    expect(r.push(a[2]).kind).toBe('frame');
    expect(r.bufferedBytes).toBe(0);
  });

  it('expires unfinished messages after the deadline, so they stop blocking the link', () => {
    const r = new Reassembler({ maxFrameBytes: 10_000, maxPartial: 1, partialTimeoutMs: 1000 });
    const stuck = splitFrame(frame(3000), 1, 1016);
    expect(r.push(stuck[0], 0).kind).toBe('partial');
    expect(r.push(stuck[1], 900).kind).toBe('partial'); // a chunk restarts the clock
    const honest = splitFrame(frame(500), 2, 1016)[0];
    expect(r.push(honest, 1800)).toMatchObject({ kind: 'error', reason: 'too-many-partial' });
    expect(r.isStale(1800)).toBe(false);
    expect(r.isStale(1900)).toBe(true);
    // 1 s after its last chunk the stuck message is gone, and the honest one goes through.
    const res = r.push(honest, 1900);
    expect(res.kind).toBe('frame');
    expect(r.expired).toBe(1);
    expect(r.inFlight).toBe(0);
    expect(r.bufferedBytes).toBe(0);
    // expire() reports what it dropped, for counting.
    expect(r.push(stuck[0], 2000).kind).toBe('partial');
    expect(r.expire(2500)).toEqual([]);
    expect(r.expire(3000)).toEqual([{ id: 1, received: 1000, declared: 3000 }]);
    expect(r.expired).toBe(2);
  });
});
