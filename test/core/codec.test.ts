import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeMessage, encodeMessage, MODEL_PARAMS, VERSION, type Fragment, type SchemaRegistry } from '../../src/core/wire/codec.ts';

const roundHeader = z.object({ round: z.number().int().min(0) });
const schemas: SchemaRegistry = {
  'x/model': { header: roundHeader, vectors: MODEL_PARAMS },
  'x/ping': { header: roundHeader, vectors: {} },
  /** Several vectors: a quantized delta, raw bytes, an optional f16 extra. */
  'x/multi': {
    header: roundHeader,
    vectors: {
      delta: { dtype: 'i4', length: 'model', scaled: true },
      votes: { dtype: 'u8', length: { max: 8 } },
      extra: { dtype: 'f16', length: 3, optional: true },
    },
  },
  'x/any': { header: roundHeader, vectors: { delta: { dtype: ['f32', 'f16', 'i8', 'i4'], length: 'model', scaled: true } } },
  'x/frag': { header: roundHeader, vectors: { part: { dtype: 'f32', length: 'model', fragment: true } } },
  'x/raw': { header: roundHeader, vectors: { q: { dtype: 'i8', length: 4 }, small: { dtype: 'f32', length: 2, maxAbs: 1 } } },
};

/** Bytes before the vector bodies: prefix, header JSON and one 12-byte entry per vector. */
const headBytes = (header: object, vectors: number) => 8 + new TextEncoder().encode(JSON.stringify(header)).length + 12 * vectors;

describe('wire codec', () => {
  it('round-trips a message with params exactly', () => {
    const params = Float32Array.from([1.5, -2, 3e-8, 0]);
    const frame = encodeMessage({ type: 'x/model', round: 3, params }, schemas);
    expect(frame[2]).toBe(VERSION);
    expect(frame.length).toBe(headBytes({ type: 'x/model', round: 3 }, 1) + 16);
    const d = decodeMessage(frame, schemas, 4);
    expect(d.ok).toBe(true);
    if (d.ok) {
      expect(d.msg.round).toBe(3);
      expect(Array.from(d.msg.params!)).toEqual(Array.from(params));
    }
  });

  it('a message without vectors is its header only', () => {
    const frame = encodeMessage({ type: 'x/ping', round: 1 }, schemas);
    expect(frame.length).toBe(headBytes({ type: 'x/ping', round: 1 }, 0));
    expect(decodeMessage(frame, schemas, 4)).toEqual({ ok: true, msg: { type: 'x/ping', round: 1 } });
  });

  it('rejects wrong length, NaN, huge values, unknown types, bad headers and garbage', () => {
    const ok = encodeMessage({ type: 'x/model', round: 1, params: new Float32Array(4) }, schemas);
    expect(decodeMessage(ok, schemas, 5)).toMatchObject({ ok: false, reason: 'bad-length' });
    expect(decodeMessage(encodeMessage({ type: 'x/model', round: 1, params: Float32Array.from([0, NaN, 0, 0]) }, schemas), schemas, 4)).toMatchObject({ ok: false, reason: 'non-finite' });
    expect(decodeMessage(encodeMessage({ type: 'x/model', round: 1, params: Float32Array.from([0, 1e9, 0, 0]) }, schemas), schemas, 4)).toMatchObject({ ok: false, reason: 'out-of-range' });
    const other: SchemaRegistry = { nope: { header: roundHeader, vectors: {} } };
    expect(decodeMessage(encodeMessage({ type: 'nope', round: 1 }, other), schemas, 4)).toMatchObject({ ok: false, reason: 'unknown-type' });
    expect(decodeMessage(encodeMessage({ type: 'x/ping', round: -1 }, schemas), schemas, 4)).toMatchObject({ ok: false, reason: 'bad-header' });
    // A vector where the schema has none.
    const withParams: SchemaRegistry = { 'x/ping': { header: roundHeader, vectors: MODEL_PARAMS } };
    expect(decodeMessage(encodeMessage({ type: 'x/ping', round: 1, params: new Float32Array(4) }, withParams), schemas, 4)).toMatchObject({ ok: false, reason: 'bad-vector' });
    // The required vector left out.
    const without: SchemaRegistry = { 'x/model': { header: roundHeader, vectors: {} } };
    expect(decodeMessage(encodeMessage({ type: 'x/model', round: 1 }, without), schemas, 4)).toMatchObject({ ok: false, reason: 'bad-length' });
    expect(decodeMessage(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), schemas, 4)).toMatchObject({ ok: false, reason: 'malformed' });
    for (const cut of [12, ok.length - 30, ok.length - 1]) expect(decodeMessage(ok.slice(0, cut), schemas, 4).ok).toBe(false);
    const longer = new Uint8Array(ok.length + 1);
    longer.set(ok);
    expect(decodeMessage(longer, schemas, 4)).toMatchObject({ ok: false, reason: 'bad-length' });
    const v1 = ok.slice();
    v1[2] = 1;
    expect(decodeMessage(v1, schemas, 4)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('refuses types named like inherited properties instead of throwing', () => {
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      const frame = encodeMessage({ type, round: 1 }, { [type]: { header: roundHeader, vectors: {} } });
      // JSON.stringify drops nothing here: the type is a plain string field.
      expect(() => decodeMessage(frame, schemas, 4)).not.toThrow();
      expect(decodeMessage(frame, schemas, 4)).toMatchObject({ ok: false, reason: 'unknown-type' });
      expect(() => encodeMessage({ type, round: 1 }, schemas)).toThrow(/unknown message type/);
    }
  });

  it('carries several vectors: scaled i4, a byte list and an optional f16; sizes are as encoded', () => {
    const delta = Float32Array.from([0.7, -0.35, 0, 0.1, -0.7]);
    const votes = Uint8Array.from([1, 255, 0]);
    const extra = Float32Array.from([1, 0.5, -2048]);
    const frame = encodeMessage({ type: 'x/multi', round: 2, delta, votes, extra }, schemas);
    // i4 of 5 values: ⌈5/2⌉ = 3 bytes + 4 for the scale; u8 of 3: 3 bytes; f16 of 3: 6 bytes.
    expect(frame.length).toBe(headBytes({ type: 'x/multi', round: 2 }, 3) + 7 + 3 + 6);
    const d = decodeMessage(frame, schemas, 5);
    if (!d.ok) throw new Error(d.detail);
    const got = d.msg.delta as Float32Array;
    expect(got).toBeInstanceOf(Float32Array);
    const scale = 0.7 / 7;
    for (let i = 0; i < 5; i++) expect(Math.abs(got[i] - delta[i])).toBeLessThanOrEqual(scale / 2 + 1e-7);
    expect(Array.from(d.msg.votes as Uint8Array)).toEqual([1, 255, 0]);
    expect(Array.from(d.msg.extra as Float32Array)).toEqual([1, 0.5, -2048]);
    // The optional one may be left out; the list may be empty but not longer than its max.
    const short = decodeMessage(encodeMessage({ type: 'x/multi', round: 2, delta, votes: new Uint8Array(0) }, schemas), schemas, 5);
    expect(short.ok && short.msg.extra === undefined && (short.msg.votes as Uint8Array).length === 0).toBe(true);
    expect(decodeMessage(encodeMessage({ type: 'x/multi', round: 2, delta, votes: new Uint8Array(9) }, schemas), schemas, 5)).toMatchObject({ ok: false, reason: 'bad-length' });
  });

  it('a sender picks one of the allowed dtypes; each decodes to floats within its precision', () => {
    const delta = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 0.3);
    const sizes: Record<string, number> = {};
    for (const [dtype, tol] of [
      ['f32', 0],
      ['f16', 0.3 * 2 ** -11],
      ['i8', 0.3 / 127 / 2 + 1e-7],
      ['i4', 0.3 / 7 / 2 + 1e-7],
    ] as const) {
      const frame = encodeMessage({ type: 'x/any', round: 0, delta: { dtype, values: delta } }, schemas);
      sizes[dtype] = frame.length - headBytes({ type: 'x/any', round: 0 }, 1);
      const d = decodeMessage(frame, schemas, 64);
      if (!d.ok) throw new Error(d.detail);
      const got = d.msg.delta as Float32Array;
      for (let i = 0; i < 64; i++) expect(Math.abs(got[i] - delta[i])).toBeLessThanOrEqual(tol);
    }
    expect(sizes).toEqual({ f32: 256, f16: 128, i8: 68, i4: 36 });
    expect(() => encodeMessage({ type: 'x/model', round: 0, params: { dtype: 'f16', values: delta } as unknown as Float32Array }, schemas)).toThrow(/not one of/);
  });

  it('checks the dtype code and the entry order against the schema', () => {
    const frame = encodeMessage({ type: 'x/multi', round: 2, delta: new Float32Array(2), votes: new Uint8Array(1) }, schemas);
    const table = headBytes({ type: 'x/multi', round: 2 }, 0);
    const wrongDtype = frame.slice();
    wrongDtype[table + 1] = 0; // f32 where the schema says i4
    expect(decodeMessage(wrongDtype, schemas, 2)).toMatchObject({ ok: false, reason: 'bad-vector' });
    const unknownDtype = frame.slice();
    unknownDtype[table + 1] = 9;
    expect(decodeMessage(unknownDtype, schemas, 2)).toMatchObject({ ok: false, reason: 'bad-vector' });
    const duplicate = frame.slice();
    duplicate[table + 12] = 0; // the second entry names the first vector again
    expect(decodeMessage(duplicate, schemas, 2)).toMatchObject({ ok: false, reason: 'bad-vector' });
  });

  it('refuses a bad scale, and levels outside the symmetric range', () => {
    const delta = Float32Array.from([1, -0.5, 0.25, 0]);
    const frame = encodeMessage({ type: 'x/any', round: 0, delta: { dtype: 'i8', values: delta } }, schemas);
    const body = headBytes({ type: 'x/any', round: 0 }, 1);
    for (const scale of [0, -1, NaN, Infinity]) {
      const bad = frame.slice();
      new DataView(bad.buffer).setFloat32(body, scale, true);
      expect(decodeMessage(bad, schemas, 4)).toMatchObject({ ok: false, reason: 'out-of-range' });
    }
    const level = frame.slice();
    level[body + 4] = 0x80; // −128
    expect(decodeMessage(level, schemas, 4)).toMatchObject({ ok: false, reason: 'out-of-range' });
    // A huge scale makes the decoded values exceed the magnitude bound.
    const huge = frame.slice();
    new DataView(huge.buffer).setFloat32(body, 1e6, true);
    expect(decodeMessage(huge, schemas, 4)).toMatchObject({ ok: false, reason: 'out-of-range' });
    // f16 overflow arrives as Inf.
    expect(decodeMessage(encodeMessage({ type: 'x/any', round: 0, delta: { dtype: 'f16', values: Float32Array.from([1e5, 0, 0, 0]) } }, schemas), schemas, 4)).toMatchObject({
      ok: false,
      reason: 'non-finite',
    });
  });

  it('fragments: the entry carries [start, end); length and bounds are checked', () => {
    const values = Float32Array.from([1, 2, 3]);
    const d = decodeMessage(encodeMessage({ type: 'x/frag', round: 1, part: { start: 4, values } }, schemas), schemas, 10);
    if (!d.ok) throw new Error(d.detail);
    const part = d.msg.part as Fragment;
    expect(part.start).toBe(4);
    expect(part.end).toBe(7);
    expect(Array.from(part.values)).toEqual([1, 2, 3]);
    expect(decodeMessage(encodeMessage({ type: 'x/frag', round: 1, part: { start: 8, values } }, schemas), schemas, 10)).toMatchObject({ ok: false, reason: 'bad-length' });
    expect(decodeMessage(encodeMessage({ type: 'x/frag', round: 1, part: { start: 7, values } }, schemas), schemas, 10).ok).toBe(true);
    expect(decodeMessage(encodeMessage({ type: 'x/frag', round: 1, part: { start: 0, values: new Float32Array(0) } }, schemas), schemas, 10)).toMatchObject({ ok: false, reason: 'bad-length' });
    // Only a fragment may have a start: a params vector with start 1 is refused.
    expect(() => encodeMessage({ type: 'x/model', round: 1, params: { start: 1, values: new Float32Array(3) } as unknown as Float32Array }, schemas)).toThrow(/bad start/);
    const frame = encodeMessage({ type: 'x/model', round: 1, params: new Float32Array(4) }, schemas);
    new DataView(frame.buffer).setUint32(headBytes({ type: 'x/model', round: 1 }, 0) + 4, 1, true);
    expect(decodeMessage(frame, schemas, 4)).toMatchObject({ ok: false, reason: 'bad-length' });
  });

  it('raw int8 stays integers; a per-vector magnitude bound applies; the header cannot smuggle a vector', () => {
    const frame = encodeMessage({ type: 'x/raw', round: 0, q: Int8Array.from([-128, 0, 5, 127]), small: Float32Array.from([0.5, -1]) }, schemas);
    const d = decodeMessage(frame, schemas, 4);
    expect(d.ok && Array.from(d.msg.q as Int8Array)).toEqual([-128, 0, 5, 127]);
    expect(decodeMessage(encodeMessage({ type: 'x/raw', round: 0, q: new Int8Array(4), small: Float32Array.from([0, 1.5]) }, schemas), schemas, 4)).toMatchObject({
      ok: false,
      reason: 'out-of-range',
    });
    expect(() => encodeMessage({ type: 'x/raw', round: 0, q: new Uint8Array(4), small: new Float32Array(2) }, schemas)).toThrow(/Int8Array/);
    // A header field named like a vector never becomes one, even with a header schema that lets it through.
    const receiver: SchemaRegistry = { 'x/ping': { header: roundHeader.passthrough(), vectors: { params: { dtype: 'f32', length: 'model', optional: true } } } };
    const sneaky = encodeMessage({ type: 'x/ping', round: 0, params: [1, 2, 3, 4] as unknown as Float32Array }, { 'x/ping': { header: roundHeader, vectors: {} } });
    const got = decodeMessage(sneaky, receiver, 4);
    expect(got.ok && got.msg.params).toBeUndefined();
    expect(decodeMessage(sneaky, { 'x/ping': { header: roundHeader.passthrough(), vectors: MODEL_PARAMS } }, 4)).toMatchObject({ ok: false, reason: 'bad-length' });
  });
});
