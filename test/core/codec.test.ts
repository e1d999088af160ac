import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeMessage, encodeMessage, type SchemaRegistry } from '../../src/core/wire/codec.ts';

const schemas: SchemaRegistry = {
  'x/model': { header: z.object({ round: z.number().int().min(0) }), params: true },
  'x/ping': { header: z.object({ round: z.number().int().min(0) }), params: false },
};

describe('wire codec', () => {
  it('round-trips a message with params exactly', () => {
    const params = Float32Array.from([1.5, -2, 3e-8, 0]);
    const frame = encodeMessage({ type: 'x/model', round: 3, params });
    const d = decodeMessage(frame, schemas, 4);
    expect(d.ok).toBe(true);
    if (d.ok) {
      expect(d.msg.round).toBe(3);
      expect(Array.from(d.msg.params!)).toEqual(Array.from(params));
    }
  });

  it('rejects wrong length, NaN, huge values, unknown types, bad headers and garbage', () => {
    const ok = encodeMessage({ type: 'x/model', round: 1, params: new Float32Array(4) });
    expect(decodeMessage(ok, schemas, 5)).toMatchObject({ ok: false, reason: 'bad-length' });
    expect(decodeMessage(encodeMessage({ type: 'x/model', round: 1, params: Float32Array.from([0, NaN, 0, 0]) }), schemas, 4)).toMatchObject({ ok: false, reason: 'non-finite' });
    expect(decodeMessage(encodeMessage({ type: 'x/model', round: 1, params: Float32Array.from([0, 1e9, 0, 0]) }), schemas, 4)).toMatchObject({ ok: false, reason: 'out-of-range' });
    expect(decodeMessage(encodeMessage({ type: 'nope', round: 1 }), schemas, 4)).toMatchObject({ ok: false, reason: 'unknown-type' });
    expect(decodeMessage(encodeMessage({ type: 'x/ping', round: -1 }), schemas, 4)).toMatchObject({ ok: false, reason: 'bad-header' });
    expect(decodeMessage(encodeMessage({ type: 'x/ping', round: 1, params: new Float32Array(4) }), schemas, 4)).toMatchObject({ ok: false, reason: 'bad-length' });
    expect(decodeMessage(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), schemas, 4)).toMatchObject({ ok: false, reason: 'malformed' });
    const truncated = ok.slice(0, 12);
    expect(decodeMessage(truncated, schemas, 4).ok).toBe(false);
  });
});
