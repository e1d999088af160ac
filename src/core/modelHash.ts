/**
 * A hash of a model's raw parameter bytes (cyrb53 over the Float32Array's bytes, little-endian
 * float32), as 14 hex digits. Two tabs with the same hash hold the same model bit for bit (up to
 * a 2⁻⁵³ collision chance); anyone can compare `snapshot().modelHash` across tabs.
 */
export function modelHash(params: Float32Array): string {
  const view = new DataView(params.buffer, params.byteOffset, params.byteLength);
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < params.length; i++) {
    // One 32-bit word per value, read little-endian so every machine hashes the same bytes.
    const w = view.getUint32(4 * i, true);
    h1 = Math.imul(h1 ^ w, 2654435761);
    h2 = Math.imul(h2 ^ w, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const n = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return n.toString(16).padStart(14, '0');
}
