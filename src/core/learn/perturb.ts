import { Rng } from '../rng.ts';

/**
 * z ~ N(0, I) over all parameters, regenerated from a seed and never sent (SPSA / MeZO).
 *
 * Every node must get the same z bit for bit, in Node and in any browser. Math.log, Math.cos
 * and friends are not specified to the last bit across engines, so the normals here use only
 * +, −, ×, ÷ and Math.sqrt (all correctly rounded by IEEE 754) on top of our seeded sfc32
 * stream: Box–Muller with our own logarithm and sine/cosine series.
 */

const LN2 = 0.6931471805599453;
const SQRT2 = 1.4142135623730951;
const TWO_PI = 6.283185307179586;
const bits = new DataView(new ArrayBuffer(8));
/** 1/(2k+1) and 1/k!, each one correctly rounded division. */
const INV_ODD = Array.from({ length: 12 }, (_, k) => 1 / (2 * k + 1));
const INV_FACT: number[] = [];
for (let i = 0, f = 1; i <= 23; i++, f *= i) INV_FACT[i] = 1 / f;

/** ln(x) for x > 0 (finite), from the float's exponent and an atanh series; within a few ulps of Math.log. */
export function detLn(x: number): number {
  bits.setFloat64(0, x);
  const hi = bits.getUint32(0);
  let e = ((hi >>> 20) & 0x7ff) - 1023;
  bits.setUint32(0, (hi & 0x800fffff) | (1023 << 20)); // mantissa in [1, 2)
  let m = bits.getFloat64(0);
  if (m > SQRT2) {
    m /= 2;
    e += 1;
  }
  const s = (m - 1) / (m + 1); // |s| ≤ 0.172
  const s2 = s * s;
  // 2·atanh(s) = 2(s + s³/3 + s⁵/5 + ...): 12 terms leave < 1e-19.
  let sum = 0;
  for (let k = 11; k >= 0; k--) sum = sum * s2 + INV_ODD[k];
  return e * LN2 + 2 * s * sum;
}

/** [sin, cos] of a ∈ [0, π/4], by Taylor series to below 1e-17. */
function sinCosSmall(a: number): [number, number] {
  const a2 = a * a;
  let sin = 0;
  let cos = 0;
  // sin a = a Σ (−a²)^k/(2k+1)!, cos a = Σ (−a²)^k/(2k)!, k ≤ 11, by Horner from the top.
  for (let k = 11; k >= 0; k--) {
    sin = sin * -a2 + INV_FACT[2 * k + 1];
    cos = cos * -a2 + INV_FACT[2 * k];
  }
  return [a * sin, cos];
}

/** [sin, cos] of 2π·v for v ∈ [0, 1): folded into [0, π/4] by octant. */
export function detSinCos2Pi(v: number): [number, number] {
  const oct = Math.floor(v * 8); // 0..7
  const r = v * 8 - oct; // position in the octant, [0, 1)
  // Within an even octant the angle from its start is r·π/4; in an odd one, measure from its end.
  const a = ((oct & 1 ? 1 - r : r) * TWO_PI) / 8;
  const [s, c] = sinCosSmall(a);
  // Angle = q·π/2 + b with b ∈ [0, π/2): b = a for even octants, π/2 − a for odd ones.
  const q = oct >> 1;
  const [sb, cb] = oct & 1 ? [c, s] : [s, c];
  switch (q) {
    case 0:
      return [sb, cb];
    case 1:
      return [cb, -sb];
    case 2:
      return [-sb, -cb];
    default:
      return [-cb, sb];
  }
}

/** The stream of standard normals for a seed: Box–Muller pairs from one Rng. */
class Normals {
  private readonly rng: Rng;
  private spare: number | null = null;
  constructor(seed: string | number) {
    this.rng = new Rng(`z:${seed}`);
  }
  next(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    const u1 = (this.rng.nextU32() + 1) / 4294967296; // (0, 1]
    const u2 = this.rng.nextU32() / 4294967296; // [0, 1)
    const r = Math.sqrt(-2 * detLn(u1));
    const [s, c] = detSinCos2Pi(u2);
    this.spare = r * s;
    return r * c;
  }
}

/** z(seed): n standard normals as float32. */
export function gaussianVector(seed: string | number, n: number): Float32Array {
  const z = new Float32Array(n);
  const g = new Normals(seed);
  for (let i = 0; i < n; i++) z[i] = g.next();
  return z;
}

/**
 * out = params + scale·z(seed), each value rounded once to float32 (z itself is rounded to
 * float32 first, as gaussianVector gives it). `out` may be `params` itself (MeZO's in-place
 * +ε, −2ε, +ε probe, which restores θ up to rounding). SPSA's update θ ← θ − lr·ĝ·z is
 * `addNoise(θ, seed, −lr·ĝ)`: plain float arithmetic, the same on every node.
 */
export function addNoise(params: Float32Array, seed: string | number, scale: number, out: Float32Array = new Float32Array(params.length)): Float32Array {
  const g = new Normals(seed);
  const z = new Float32Array(1);
  for (let i = 0; i < params.length; i++) {
    z[0] = g.next();
    out[i] = params[i] + scale * z[0];
  }
  return out;
}
