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
    expect(r.push(chunks[2])).toMatchObject({ kind: 'error', reason: expect.stringMatching(/expected 1/) });
    expect(r.push(splitFrame(frame(6000), 2, 1000)[0])).toMatchObject({ kind: 'error', reason: expect.stringMatching(/exceeds/) });
    expect(r.push(splitFrame(frame(100), 3, 64)[0]).kind).toBe('partial');
    expect(r.push(splitFrame(frame(100), 4, 64)[0])).toMatchObject({ kind: 'error', reason: 'too many messages in flight' });
    const lying = splitFrame(frame(100), 5, 1000)[0];
    new DataView(lying.buffer).setUint32(12, 200, true); // declares 200 bytes, carries 100
    const r2 = new Reassembler({ maxFrameBytes: 5000, maxPartial: 4 });
    expect(r2.push(lying).kind).toBe('error');
    expect(r2.push(new Uint8Array(3)).kind).toBe('error');
  });
});
