import { describe, expect, it } from 'vitest';
import { dequantize, f16BitsToF32, f32ToF16Bits, fromF16, packI4, quantize, toF16, unpackI4, vectorBytes } from '../../src/core/wire/quantize.ts';
import { Rng } from '../../src/core/rng.ts';

describe('f16', () => {
  it('every finite f16 survives f16 → f32 → f16 exactly; NaN stays NaN', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = f16BitsToF32(h);
      if (Number.isNaN(x)) {
        expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(x)))).toBe(true);
        continue;
      }
      expect(f32ToF16Bits(x)).toBe(h);
    }
  });

  it('known values: 1, −2, max, smallest subnormal, infinities', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
  });

  it('rounds to nearest, ties to even; overflows to Inf', () => {
    expect(f16BitsToF32(f32ToF16Bits(1 + 2 ** -11))).toBe(1); // tie between 1 and 1+2^-10: even is 1
    expect(f16BitsToF32(f32ToF16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 * 2 ** -10); // tie: even is 1+2^-9
    expect(f16BitsToF32(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20))).toBe(1 + 2 ** -10); // above the tie
    expect(f16BitsToF32(f32ToF16Bits(65519))).toBe(65504);
    expect(f16BitsToF32(f32ToF16Bits(65520))).toBe(Infinity);
    expect(f16BitsToF32(f32ToF16Bits(1e-9))).toBe(0);
    expect(f16BitsToF32(f32ToF16Bits(3 * 2 ** -26))).toBe(2 ** -24); // subnormal: 0.75 ulp rounds up
  });

  it('relative error at most 2^-11 on normal values, absolute 2^-25 on subnormal ones', () => {
    const rng = Rng.seed(1);
    const xs = Float32Array.from({ length: 20000 }, (_, i) => (rng.next() * 2 - 1) * 10 ** ((i % 12) - 7));
    const back = fromF16(toF16(xs));
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      const err = Math.abs(back[i] - x);
      if (Math.abs(x) >= 2 ** -14) expect(err).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11);
      else expect(err).toBeLessThanOrEqual(2 ** -25);
    }
  });
});

describe('symmetric int8 / int4', () => {
  for (const bits of [8, 4] as const) {
    it(`int${bits}: error at most scale/2, max|x| maps to ±qmax, zero vector has scale 1`, () => {
      const qmax = bits === 8 ? 127 : 7;
      const rng = Rng.seed(bits);
      for (let trial = 0; trial < 20; trial++) {
        const mag = 10 ** (trial % 7 - 3);
        const xs = Float32Array.from({ length: 257 }, () => rng.normal() * mag);
        const { q, scale } = quantize(xs, bits);
        expect(scale).toBeGreaterThan(0);
        expect(scale).toBe(Math.fround(scale));
        let maxAbs = 0;
        for (const x of xs) maxAbs = Math.max(maxAbs, Math.abs(x));
        expect(scale).toBeCloseTo(maxAbs / qmax, 5 - Math.log10(mag));
        expect(Math.max(...Array.from(q, Math.abs))).toBe(qmax);
        const back = dequantize(q, scale);
        for (let i = 0; i < xs.length; i++) {
          expect(Math.abs(q[i])).toBeLessThanOrEqual(qmax);
          expect(Math.abs(back[i] - xs[i])).toBeLessThanOrEqual((scale / 2) * (1 + 1e-6));
        }
      }
      const zero = quantize(new Float32Array(5), bits);
      expect(zero.scale).toBe(1);
      expect(Array.from(zero.q)).toEqual([0, 0, 0, 0, 0]);
      expect(quantize(Float32Array.from([1, NaN]), bits).scale).toBeNaN();
    });
  }

  it('packs two int4 per byte, low nibble first, for even and odd counts', () => {
    const all = Int8Array.from({ length: 16 }, (_, i) => i - 8);
    expect(Array.from(unpackI4(packI4(all), 16))).toEqual(Array.from(all));
    const odd = Int8Array.from([1, -1, 7]);
    const packed = packI4(odd);
    expect(Array.from(packed)).toEqual([0xf1, 0x07]);
    expect(Array.from(unpackI4(packed, 3))).toEqual([1, -1, 7]);
  });

  it('byte sizes: f32 4n, f16 2n, i8 n (+4 scaled), i4 ⌈n/2⌉ (+4 scaled), u8 n', () => {
    expect(vectorBytes('f32', 7)).toBe(28);
    expect(vectorBytes('f16', 7)).toBe(14);
    expect(vectorBytes('i8', 7, true)).toBe(11);
    expect(vectorBytes('i4', 7, true)).toBe(8);
    expect(vectorBytes('i4', 8, true)).toBe(8);
    expect(vectorBytes('i4', 7)).toBe(4);
    expect(vectorBytes('u8', 7)).toBe(7);
  });
});

describe('packed unsigned integers (u1–u7)', () => {
  it('pack and unpack round-trip for every width and odd lengths; bytes are ⌈k·n/8⌉', async () => {
    const { packBits, unpackBits, vectorBytes, packedDtype } = await import('../../src/core/wire/quantize.ts');
    for (let bits = 1; bits <= 8; bits++) {
      for (const n of [0, 1, 7, 8, 9, 33]) {
        const values = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) % (1 << bits));
        const packed = packBits(values, bits);
        expect(packed.length).toBe(Math.ceil((n * bits) / 8));
        expect(vectorBytes(packedDtype(bits), n)).toBe(packed.length);
        expect(Array.from(unpackBits(packed, n, bits))).toEqual(Array.from(values));
      }
    }
    // Little-endian bit order: 3-bit values 5, 2, 7 are the stream 101 010 111 from bit 0 up.
    expect(Array.from(packBits(Uint8Array.from([5, 2, 7]), 3))).toEqual([0b11010101, 0b1]);
    expect(() => packBits(Uint8Array.from([4]), 2)).toThrow(/does not fit/);
  });
});
