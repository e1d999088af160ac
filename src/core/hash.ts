/**
 * cyrb53: a fast, well-mixed 53-bit string hash that every JS runtime computes identically.
 * Used instead of MD5 (the MoDeST reference) because it is synchronous and dependency-free;
 * any hash every node computes the same way keeps the ranking a pure function.
 */
export function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Four 32-bit words derived from a string, for seeding a PRNG. */
export function hash128(text: string): [number, number, number, number] {
  const a = hash53(text, 1);
  const b = hash53(text, 2);
  return [a >>> 0, (a / 4294967296) >>> 0, b >>> 0, (b / 4294967296) >>> 0 || 0x9e3779b9];
}
