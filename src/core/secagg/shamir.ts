/**
 * Shamir secret sharing over GF(q), q the order of P-256's group (a 256-bit prime). That field
 * holds a P-256 private key as it is, so secure aggregation shares its mask keys and its
 * self-mask seeds (drawn below q) without any conversion; a share is one field element, 32 bytes.
 *
 * A secret s is the constant term of a random polynomial f of degree t − 1; the holder at x gets
 * f(x). Any t shares give s back by Lagrange interpolation at 0; fewer say nothing about it.
 */

/** The order of P-256's base point (SEC 2, secp256r1 n). */
export const Q = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
/** A field element (a share, a P-256 private key, a self-mask seed) on the wire: 32 bytes, big-endian. */
export const SCALAR_BYTES = 32;
/** Bytes reduced mod q to draw a near-uniform element: 48 leave a bias below 2^-128. */
export const UNIFORM_BYTES = 48;

const mod = (a: bigint): bigint => {
  const r = a % Q;
  return r < 0n ? r + Q : r;
};

/** a^(q−2) = a⁻¹ (Fermat; q is prime). */
function inverse(a: bigint): bigint {
  let result = 1n;
  let base = mod(a);
  if (base === 0n) throw new Error('no inverse of 0');
  for (let e = Q - 2n; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * base) % Q;
    base = (base * base) % Q;
  }
  return result;
}

export function bytesToBigint(bytes: Uint8Array): bigint {
  let x = 0n;
  for (const b of bytes) x = (x << 8n) | BigInt(b);
  return x;
}

/** An element as 32 big-endian bytes. */
export function scalarToBytes(x: bigint): Uint8Array {
  if (x < 0n || x >= Q) throw new Error('not a field element');
  const out = new Uint8Array(SCALAR_BYTES);
  for (let i = SCALAR_BYTES - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** 32 big-endian bytes as an element, or null when they are not below q (a share a peer made up). */
export function bytesToScalar(bytes: Uint8Array): bigint | null {
  if (bytes.length !== SCALAR_BYTES) return null;
  const x = bytesToBigint(bytes);
  return x < Q ? x : null;
}

/** A near-uniform element from UNIFORM_BYTES random bytes. */
export function uniformScalar(bytes: Uint8Array): bigint {
  if (bytes.length < UNIFORM_BYTES) throw new Error(`need ${UNIFORM_BYTES} random bytes`);
  return mod(bytesToBigint(bytes.subarray(0, UNIFORM_BYTES)));
}

/**
 * Shares of `secret` for the holders at `xs` (distinct, 1 ≤ x < q): f(x) with
 * f(X) = secret + c₁X + … + c_{t−1}X^{t−1}, `coefficients` being c₁…c_{t−1} (uniform, secret).
 */
export function split(secret: bigint, coefficients: readonly bigint[], xs: readonly number[]): bigint[] {
  if (secret < 0n || secret >= Q) throw new Error('secret is not a field element');
  if (new Set(xs).size !== xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error('share points must be distinct positive integers');
  return xs.map((x) => {
    const X = BigInt(x);
    // Horner: ((c_{t−1}X + c_{t−2})X + …)X + secret.
    let y = 0n;
    for (let i = coefficients.length - 1; i >= 0; i--) y = (y * X + coefficients[i]) % Q;
    return (y * X + secret) % Q;
  });
}

/**
 * The secret from shares (x, f(x)) by Lagrange interpolation at 0. With at least t shares of a
 * degree t − 1 polynomial this is f(0); with fewer it is some unrelated element (nothing tells).
 */
export function combine(shares: readonly { x: number; y: bigint }[]): bigint {
  if (shares.length === 0) throw new Error('no shares');
  if (new Set(shares.map((s) => s.x)).size !== shares.length) throw new Error('two shares at one point');
  let secret = 0n;
  for (let i = 0; i < shares.length; i++) {
    const xi = BigInt(shares[i].x);
    let num = 1n;
    let den = 1n;
    for (let j = 0; j < shares.length; j++) {
      if (j === i) continue;
      const xj = BigInt(shares[j].x);
      // λ_i(0) = Π_{j≠i} (0 − x_j) / (x_i − x_j)
      num = (num * mod(-xj)) % Q;
      den = (den * mod(xi - xj)) % Q;
    }
    secret = (secret + shares[i].y * ((num * inverse(den)) % Q)) % Q;
  }
  return secret;
}
