import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeMessage, encodeMessage, MODEL_PARAMS, type RejectReason, type SchemaRegistry } from '../../src/core/wire/codec.ts';
import { CHUNK_HEADER, Reassembler, splitFrame } from '../../src/core/wire/chunks.ts';
import { mutate, mutationArb } from './mutate.ts';

const SEED = 20261202;
const REASONS: RejectReason[] = ['malformed', 'unknown-type', 'bad-header', 'bad-vector', 'bad-length', 'non-finite', 'out-of-range'];
const P = 6;
const schemas: SchemaRegistry = {
  'x/model': { header: z.object({ round: z.number().int().min(0).max(1e9) }), vectors: MODEL_PARAMS },
  'x/q': { header: z.object({ t: z.number().int().min(1) }), vectors: { d: { dtype: ['f32', 'f16', 'i8', 'i4'], length: 'model', scaled: true } } },
  'x/c': { header: z.object({ t: z.number().int().min(1).max(1e9), g: z.number().int().min(0).max(255) }), vectors: {}, compact: { id: 9, fields: [['t', 'u32'], ['g', 'u8']] } },
};
const valid = [
  encodeMessage({ type: 'x/model', round: 3, params: Float32Array.from([1, -2, 0.5, 0, 3, 4]) }, schemas),
  encodeMessage({ type: 'x/q', t: 2, d: Float32Array.from([0.1, 0.2, -0.3, 0, 1, -1]) }, schemas),
  encodeMessage({ type: 'x/c', t: 7, g: 200 }, schemas),
];

describe('codec under fuzzing', () => {
  it('never throws on arbitrary bytes, and refuses them with a known reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const d = decodeMessage(bytes, schemas, P);
        if (!d.ok) expect(REASONS).toContain(d.reason);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('never throws on mutated valid frames; whatever it accepts is finite and of the declared length', () => {
    fc.assert(
      fc.property(fc.nat(), mutationArb(Object.keys(schemas)), (pick, m) => {
        const frame = mutate(valid[pick % valid.length], m, schemas, P);
        const d = decodeMessage(frame, schemas, P);
        if (!d.ok) {
          expect(REASONS).toContain(d.reason);
          return;
        }
        for (const v of Object.values(d.msg)) {
          if (v instanceof Float32Array) {
            expect(v.length).toBe(P);
            expect(v.every(Number.isFinite)).toBe(true);
          }
        }
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

describe('chunk reassembler under fuzzing', () => {
  const limits = { maxFrameBytes: 4096, maxPartial: 4, maxBufferedBytes: 8192, partialTimeoutMs: 1000 };

  it('never throws, never holds more than its byte budget, and still delivers an honest frame afterwards', () => {
    const chunkArb = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // Well-formed headers with hostile values: huge totals, wrong indices, many ids.
      fc.tuple(fc.nat({ max: 20 }), fc.nat({ max: 8 }), fc.nat({ max: 8 }), fc.oneof(fc.nat({ max: 8192 }), fc.constant(2 ** 31)), fc.uint8Array({ maxLength: 200 })).map(([id, index, count, total, body]) => {
        const c = new Uint8Array(CHUNK_HEADER + body.length);
        const v = new DataView(c.buffer);
        v.setUint32(0, id, true);
        v.setUint32(4, index, true);
        v.setUint32(8, count, true);
        v.setUint32(12, total >>> 0, true);
        c.set(body, CHUNK_HEADER);
        return c;
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(chunkArb, fc.nat({ max: 300 })), { maxLength: 60 }), (chunks) => {
        const r = new Reassembler(limits);
        let now = 0;
        for (const [chunk, dt] of chunks) {
          now += dt;
          r.push(chunk, now);
          expect(r.bufferedBytes).toBeLessThanOrEqual(limits.maxBufferedBytes);
          expect(r.inFlight).toBeLessThanOrEqual(limits.maxPartial);
        }
        // Garbage expires; an honest message then gets through.
        now += limits.partialTimeoutMs + 1;
        const frame = new Uint8Array(3000).map((_, i) => i % 251);
        const parts = splitFrame(frame, 999, 1024);
        let out: Uint8Array | null = null;
        for (const p of parts) {
          const res = r.push(p, now);
          if (res.kind === 'frame') out = res.frame;
        }
        expect(out).toEqual(frame);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});
