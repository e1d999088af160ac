import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Rng } from '../../src/core/rng.ts';
import { checkSchemas, COMPACT_VERSION, decodeMessage, encodeMessage, MODEL_PARAMS, VERSION, type Fragment, type RejectReason, type SchemaRegistry } from '../../src/core/wire/codec.ts';

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
  'x/idx': { header: roundHeader, vectors: { levels: { dtype: ['u1', 'u2', 'u3', 'u5'], length: 'model' } } },
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

describe('compact frames', () => {
  const compact: SchemaRegistry = {
    'c/grad': {
      header: z.object({ iter: z.number().int().min(1), epoch: z.number().int().max(1000), g: z.number().int() }),
      vectors: {},
      compact: { id: 7, fields: [['iter', 'u32'], ['epoch', 'u16'], ['g', 'i8']] },
    },
    'c/list': {
      header: z.object({ t: z.number().int().min(1), e: z.number().int() }),
      vectors: { l: { dtype: 'u8', length: { max: 8 } } },
      compact: { id: 8, fields: [['t', 'u32'], ['e', 'u8']], bytes: 'l' },
    },
    'c/fixed': { header: z.object({}), vectors: { k: { dtype: 'u8', length: 3 } }, compact: { id: 0, fields: [], bytes: 'k' } },
    // A JSON type in the same registry.
    'x/ping': { header: roundHeader, vectors: {} },
  };
  const list = (l: number[], t = 5, e = 3) => encodeMessage({ type: 'c/list', t, e, l: Uint8Array.from(l) }, compact);

  it('round-trips: magic, 0x82, the id, packed LE fields and a length-prefixed payload, nothing else', () => {
    const g = encodeMessage({ type: 'c/grad', iter: 0x01020304, epoch: 999, g: -128 }, compact);
    expect(Array.from(g)).toEqual([0x4d, 0x55, COMPACT_VERSION, 7, 4, 3, 2, 1, 0xe7, 0x03, 0x80]);
    expect(decodeMessage(g, compact, 0)).toEqual({ ok: true, msg: { type: 'c/grad', iter: 0x01020304, epoch: 999, g: -128 } });
    const l = list([9, 0, 255]);
    expect(l.length).toBe(4 + 4 + 1 + 2 + 3);
    const d = decodeMessage(l, compact, 0);
    if (!d.ok) throw new Error(d.detail);
    expect(d.msg).toMatchObject({ type: 'c/list', t: 5, e: 3 });
    expect(d.msg.l).toBeInstanceOf(Uint8Array);
    expect(Array.from(d.msg.l as Uint8Array)).toEqual([9, 0, 255]);
    const empty = decodeMessage(list([]), compact, 0);
    expect(empty.ok && (empty.msg.l as Uint8Array).length).toBe(0);
    expect(decodeMessage(encodeMessage({ type: 'c/fixed', k: Uint8Array.from([1, 2, 3]) }, compact), compact, 0).ok).toBe(true);
    // Other types of the registry stay JSON frames.
    const ping = encodeMessage({ type: 'x/ping', round: 1 }, compact);
    expect(ping[2]).toBe(VERSION);
    expect(decodeMessage(ping, compact, 0)).toEqual({ ok: true, msg: { type: 'x/ping', round: 1 } });
  });

  it('the JSON form of a compact type still decodes to the same message', () => {
    const { compact: _, ...json } = compact['c/list'];
    const frame = encodeMessage({ type: 'c/list', t: 5, e: 3, l: Uint8Array.from([1, 2]) }, { 'c/list': json });
    expect(frame[2]).toBe(VERSION);
    const a = decodeMessage(frame, compact, 0);
    const b = decodeMessage(list([1, 2]), compact, 0);
    expect(a).toEqual(b);
  });

  it('refuses unknown ids, truncation, trailing bytes, out-of-range fields and oversized payloads', () => {
    const ok = list([1, 2, 3]);
    const known = new Set([0, 7, 8]);
    for (let id = 0; id < 256; id++) {
      if (known.has(id)) continue;
      const f = ok.slice();
      f[3] = id;
      expect(decodeMessage(f, compact, 0)).toMatchObject({ ok: false, reason: 'unknown-type' });
    }
    const v = ok.slice();
    v[2] = COMPACT_VERSION + 1;
    expect(decodeMessage(v, compact, 0)).toMatchObject({ ok: false, reason: 'malformed' });
    // Truncated: inside the fields or the length → malformed; inside the payload → bad-length.
    for (let cut = 0; cut < ok.length; cut++) {
      expect(decodeMessage(ok.slice(0, cut), compact, 0)).toMatchObject({ ok: false, reason: cut < 4 + 4 + 1 + 2 ? 'malformed' : 'bad-length' });
    }
    const grad = encodeMessage({ type: 'c/grad', iter: 1, epoch: 0, g: 0 }, compact);
    for (const extra of [1, 5]) {
      for (const frame of [ok, grad]) {
        const longer = new Uint8Array(frame.length + extra);
        longer.set(frame);
        expect(decodeMessage(longer, compact, 0)).toMatchObject({ ok: false, reason: 'bad-length', detail: expect.stringMatching(/trailing/) });
      }
    }
    // Fields outside the header's ranges (the wire type holds them, the zod header does not).
    expect(decodeMessage(encodeMessage({ type: 'c/grad', iter: 0, epoch: 0, g: 0 }, compact), compact, 0)).toMatchObject({ ok: false, reason: 'bad-header' });
    expect(decodeMessage(encodeMessage({ type: 'c/grad', iter: 1, epoch: 1001, g: 0 }, compact), compact, 0)).toMatchObject({ ok: false, reason: 'bad-header' });
    expect(decodeMessage(list([1], 0), compact, 0)).toMatchObject({ ok: false, reason: 'bad-header' });
    // Payloads: longer than the schema's max (the encoder sends it), a length beyond the frame, a wrong fixed length.
    expect(decodeMessage(list([1, 2, 3, 4, 5, 6, 7, 8, 9]), compact, 0)).toMatchObject({ ok: false, reason: 'bad-length' });
    const claim = ok.slice();
    new DataView(claim.buffer).setUint16(9, 4, true);
    expect(decodeMessage(claim, compact, 0)).toMatchObject({ ok: false, reason: 'bad-length' });
    new DataView(claim.buffer).setUint16(9, 0xffff, true);
    expect(decodeMessage(claim, compact, 0)).toMatchObject({ ok: false, reason: 'bad-length' });
    expect(decodeMessage(encodeMessage({ type: 'c/fixed', k: Uint8Array.from([1, 2]) }, compact), compact, 0)).toMatchObject({ ok: false, reason: 'bad-length' });
    // A registry without compact types knows no id.
    expect(decodeMessage(ok, schemas, 0)).toMatchObject({ ok: false, reason: 'unknown-type' });
  });

  it('the encoder throws only where the wire cannot carry the message', () => {
    for (const g of [128, -129, 1.5, NaN, undefined, '1']) expect(() => encodeMessage({ type: 'c/grad', iter: 1, epoch: 0, g }, compact)).toThrow(/does not fit i8/);
    expect(() => encodeMessage({ type: 'c/grad', iter: -1, epoch: 0, g: 0 }, compact)).toThrow(/does not fit u32/);
    expect(() => encodeMessage({ type: 'c/grad', iter: 1, epoch: 0, g: 0, extra: 1 }, compact)).toThrow(/no place/);
    expect(() => encodeMessage({ type: 'c/list', t: 1, e: 0, l: [1, 2] }, compact)).toThrow(/Uint8Array/);
  });

  it('a registry must give each compact type its own u8 id, the header’s fields, and one plain u8 payload', () => {
    const grad = compact['c/grad'];
    const bad: SchemaRegistry[] = [
      { a: grad, b: grad },
      { a: { ...grad, compact: { id: 256, fields: grad.compact!.fields } } },
      { a: { ...grad, compact: { id: 1, fields: [['iter', 'u32'], ['epoch', 'u16']] } } },
      { a: { ...grad, compact: { id: 1, fields: [...grad.compact!.fields, ['type', 'u8']] } } },
      { a: { ...grad, compact: { id: 1, fields: [['iter', 'u32'], ['epoch', 'u16'], ['g', 'f64' as never]] } } },
      { a: { ...compact['c/list'], vectors: { l: { dtype: 'i8', length: { max: 8 } } } } },
      { a: { ...compact['c/list'], vectors: { l: { dtype: 'u8', length: 'model' } } } },
      { a: { ...compact['c/list'], vectors: { l: { dtype: 'u8', length: { max: 70000 } } } } },
      { a: { ...compact['c/list'], vectors: { l: { dtype: 'u8', length: { max: 8 } }, params: { dtype: 'f32', length: 'model' } } } },
      { a: { ...grad, vectors: MODEL_PARAMS } },
    ];
    for (const r of bad) expect(() => checkSchemas(r)).toThrow(/compact form/);
    expect(() => checkSchemas(compact)).not.toThrow();
  });

  it('fuzz: a few thousand random mutations of a valid frame never throw, and what passes is valid', () => {
    const rng = Rng.seed('compact-fuzz');
    const base = list([1, 2, 3, 4, 5]);
    const reasons = new Set<RejectReason>(['malformed', 'unknown-type', 'bad-header', 'bad-vector', 'bad-length', 'non-finite', 'out-of-range']);
    const seen: Record<string, number> = {};
    for (let i = 0; i < 5000; i++) {
      let f = Array.from(base);
      for (let m = 1 + rng.int(3); m > 0; m--) {
        const at = rng.int(f.length + 1);
        switch (rng.int(4)) {
          case 0:
            if (at < f.length) f[at] = rng.int(256);
            break;
          case 1:
            f.splice(at, 0, rng.int(256));
            break;
          case 2:
            f.splice(at, 1);
            break;
          default:
            f = f.slice(0, at);
        }
      }
      const frame = Uint8Array.from(f);
      let d: ReturnType<typeof decodeMessage> | undefined;
      expect(() => (d = decodeMessage(frame, compact, 0))).not.toThrow();
      if (d!.ok) {
        const msg = d!.msg;
        seen[msg.type] = (seen[msg.type] ?? 0) + 1;
        if (msg.type === 'c/list') {
          expect(msg.t).toBeGreaterThanOrEqual(1);
          expect((msg.l as Uint8Array).length).toBeLessThanOrEqual(8);
          expect(frame.length).toBe(11 + (msg.l as Uint8Array).length);
        }
      } else {
        expect(reasons.has(d!.reason)).toBe(true);
        seen[d!.reason] = (seen[d!.reason] ?? 0) + 1;
      }
    }
    // The mutations reach valid frames and several rejection paths.
    expect(seen['c/list']).toBeGreaterThan(0);
    for (const r of ['malformed', 'unknown-type', 'bad-length']) expect(seen[r]).toBeGreaterThan(0);
  });

  it('packed indices (u1–u7): round-trip, ⌈k·n/8⌉ bytes, length checked against the model, padding bits must be 0', () => {
    const values = Uint8Array.from([0, 7, 3, 5, 1]);
    const frame = encodeMessage({ type: 'x/idx', round: 2, levels: { dtype: 'u3', values } }, schemas);
    expect(frame.length).toBe(headBytes({ type: 'x/idx', round: 2 }, 1) + 2);
    const d = decodeMessage(frame, schemas, 5);
    expect(d.ok && Array.from(d.msg.levels as Uint8Array)).toEqual([0, 7, 3, 5, 1]);
    expect(decodeMessage(frame, schemas, 6)).toMatchObject({ ok: false, reason: 'bad-length' });
    // 15 bits used of 16: setting the last one is refused.
    const bad = frame.slice();
    bad[bad.length - 1] |= 0x80;
    expect(decodeMessage(bad, schemas, 5)).toMatchObject({ ok: false, reason: 'malformed' });
    // A width the schema does not list.
    expect(() => encodeMessage({ type: 'x/idx', round: 2, levels: { dtype: 'u4', values } }, schemas)).toThrow(/not one of/);
    // A value wider than the chosen width cannot be sent.
    expect(() => encodeMessage({ type: 'x/idx', round: 2, levels: { dtype: 'u2', values } }, schemas)).toThrow(/does not fit/);
  });
});
