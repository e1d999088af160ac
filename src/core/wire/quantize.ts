/**
 * Wire number formats: IEEE half precision and symmetric int8/int4 with one f32 scale per
 * vector. Pure bit and integer arithmetic, so every JS engine gives the same bytes.
 */

export type Dtype = 'f32' | 'f16' | 'i8' | 'i4' | 'u8' | PackedDtype;

/**
 * Unsigned integers of k < 8 bits, packed (`u8` is the 8-bit case, one per byte): level indices
 * such as RQM's, ⌈log₂ m⌉ bits each. Sent and received as a Uint8Array of values below 2^k.
 */
export type PackedDtype = 'u1' | 'u2' | 'u3' | 'u4' | 'u5' | 'u6' | 'u7';
export const PACKED_DTYPES = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'] as const satisfies readonly PackedDtype[];

/** The bits per value of a packed dtype (u8 counts as 8), or 0 for any other dtype. */
export function packedBits(dtype: Dtype): number {
  return dtype === 'u8' ? 8 : (PACKED_DTYPES as readonly string[]).includes(dtype) ? Number(dtype.slice(1)) : 0;
}

/** The dtype that carries unsigned values of `bits` bits (1–8). */
export function packedDtype(bits: number): PackedDtype | 'u8' {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) throw new Error(`no packed dtype of ${bits} bits`);
  return bits === 8 ? 'u8' : (`u${bits}` as PackedDtype);
}

/** Largest quantized magnitude: symmetric ranges [−127, 127] and [−7, 7] (−128 and −8 unused). */
export const QMAX = { i8: 127, i4: 7 } as const;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f16 bit pattern nearest to `x` (round to nearest, ties to even; overflow gives ±Inf, NaN stays NaN). */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // Inf or NaN (kept quiet, non-zero)
  const e = exp - 127 + 15; // rebiased exponent
  if (e >= 0x1f) return sign | 0x7c00; // too large: Inf
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit 1 into place, rounding to even.
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h; // h may carry into the smallest normal, which is the right answer
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // may carry into the exponent, up to Inf: correct
  return sign | h;
}

/** The value of an f16 bit pattern, exactly (every f16 is a float32). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

export function toF16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]);
  return out;
}

export function fromF16(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = f16BitsToF32(bits[i]);
  return out;
}

export interface Quantized {
  /** Integers in [−qmax, qmax]. */
  q: Int8Array;
  /** A positive float32: value ≈ q · scale. */
  scale: number;
}

/**
 * Symmetric quantization: scale = max|x| / qmax (as a float32), q = round(x / scale).
 * The error per value is at most scale / 2 (up to float rounding). An all-zero vector gets
 * scale 1, so a scale on the wire is always finite and positive. Non-finite input gives a
 * non-finite scale, which a receiver refuses.
 */
export function quantize(values: ArrayLike<number>, bits: 8 | 4): Quantized {
  const qmax = bits === 8 ? QMAX.i8 : QMAX.i4;
  let max = 0;
  let bad = false;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (!(a <= Number.MAX_VALUE)) bad = true; // NaN or Inf
    else if (a > max) max = a;
  }
  const q = new Int8Array(values.length);
  if (bad) return { q, scale: NaN };
  if (max === 0) return { q, scale: 1 };
  f32[0] = max / qmax;
  let scale = f32[0];
  if (scale === 0) scale = 2 ** -149; // the smallest float32: values this tiny round to ±qmax or 0
  if (!Number.isFinite(scale)) return { q, scale }; // beyond float32: refused by any receiver
  for (let i = 0; i < values.length; i++) {
    const r = Math.round(values[i] / scale);
    q[i] = r > qmax ? qmax : r < -qmax ? -qmax : r;
  }
  return { q, scale };
}

export function dequantize(q: ArrayLike<number>, scale: number): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scale;
  return out;
}

/** Two signed 4-bit values per byte, the first in the low nibble; an odd count leaves the last high nibble 0. */
export function packI4(q: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(q.length / 2));
  for (let i = 0; i < q.length; i++) out[i >> 1] |= (q[i] & 0xf) << ((i & 1) * 4);
  return out;
}

export function unpackI4(bytes: Uint8Array, n: number): Int8Array {
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const nib = (bytes[i >> 1] >> ((i & 1) * 4)) & 0xf;
    out[i] = nib >= 8 ? nib - 16 : nib;
  }
  return out;
}

/**
 * Values of `bits` bits each as one little-endian bit stream: value i is bits [i·bits, (i+1)·bits),
 * and bit b of the stream is bit (b mod 8) of byte ⌊b/8⌋; the last byte's unused high bits are 0.
 * Throws on a value that does not fit (only a local bug sends one).
 */
export function packBits(values: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((values.length * bits) / 8));
  const limit = 1 << bits;
  let acc = 0;
  let filled = 0;
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v >= limit) throw new Error(`value ${v} at ${i} does not fit ${bits} bits`);
    acc |= v << filled;
    filled += bits;
    while (filled >= 8) {
      out[at++] = acc & 0xff;
      acc >>>= 8;
      filled -= 8;
    }
  }
  if (filled > 0) out[at] = acc & 0xff;
  return out;
}

/** The inverse of packBits: `n` values of `bits` bits from `bytes` (which holds at least ⌈n·bits/8⌉ bytes). */
export function unpackBits(bytes: Uint8Array, n: number, bits: number): Uint8Array {
  const out = new Uint8Array(n);
  const mask = (1 << bits) - 1;
  let acc = 0;
  let filled = 0;
  let at = 0;
  for (let i = 0; i < n; i++) {
    while (filled < bits) {
      acc |= bytes[at++] << filled;
      filled += 8;
    }
    out[i] = acc & mask;
    acc >>>= bits;
    filled -= bits;
  }
  return out;
}

/** Bytes a vector of `n` values takes on the wire: f32 4n, f16 2n, i8 n, i4 ⌈n/2⌉, u8 n, uk ⌈k·n/8⌉, plus 4 for a scale. */
export function vectorBytes(dtype: Dtype, n: number, scaled = false): number {
  const packed = packedBits(dtype);
  const body = dtype === 'f32' ? 4 * n : dtype === 'f16' ? 2 * n : dtype === 'i4' ? Math.ceil(n / 2) : packed ? Math.ceil((packed * n) / 8) : n;
  return body + (scaled ? 4 : 0);
}
