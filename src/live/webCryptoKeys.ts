import { AGREED_BYTES, SEED_BYTES, type KeyPair, type KeyRequest, type KeyResult } from '../core/secagg/keys.ts';
import type { KeyAgreement } from '../runtime/ports.ts';

/**
 * A tab's key-agreement port: WebCrypto's ECDH on P-256 and HKDF-SHA256, and the OS's CSPRNG for
 * seeds (never the run's seeded streams: anyone with the link could compute those). WebCrypto
 * exists only on secure pages (https:// or localhost); on a plain-http LAN address secure
 * aggregation cannot run, and the tab says so.
 */

const ECDH = { name: 'ECDH', namedCurve: 'P-256' } as const;
/** WebCrypto takes bytes on a plain ArrayBuffer: a copy. */
const own = (b: Uint8Array) => new Uint8Array(b);

const b64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
function unb64url(text: string): Uint8Array {
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** The uncompressed generator point G of P-256 (SEC 2): ECDH(d, G) is the x-coordinate of d's own public key. */
const GENERATOR = Uint8Array.from(
  '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5'.match(/../g)!,
  (h) => parseInt(h, 16),
);

async function generate(subtle: SubtleCrypto, pairs: number, seeds: number): Promise<KeyResult> {
  const out: KeyPair[] = [];
  for (let i = 0; i < pairs; i++) {
    const k = (await subtle.generateKey(ECDH, true, ['deriveBits'])) as CryptoKeyPair;
    const jwk = await subtle.exportKey('jwk', k.privateKey);
    out.push({ secret: unb64url(jwk.d!), publicKey: new Uint8Array(await subtle.exportKey('raw', k.publicKey)) });
  }
  return { op: 'generate', pairs: out, seeds: Array.from({ length: seeds }, () => crypto.getRandomValues(new Uint8Array(SEED_BYTES))) };
}

async function agree(subtle: SubtleCrypto, r: Extract<KeyRequest, { op: 'agree' }>): Promise<KeyResult> {
  const pub = r.publicKey;
  let privateKey: CryptoKey;
  try {
    const jwk: JsonWebKey = { kty: 'EC', crv: 'P-256', d: b64url(r.secret), x: b64url(pub.subarray(1, 33)), y: b64url(pub.subarray(33, 65)), ext: true };
    privateKey = await subtle.importKey('jwk', jwk, ECDH, false, ['deriveBits']);
    // WebCrypto need not check that d and (x, y) belong together; d·G must have x's x-coordinate.
    const g = await subtle.importKey('raw', GENERATOR, ECDH, false, []);
    const x = new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: g }, privateKey, 256));
    if (!x.every((b, i) => b === pub[1 + i])) return { op: 'error', message: 'the secret is not the private key of the given public key' };
  } catch (e) {
    return { op: 'error', message: `not a P-256 key pair: ${(e as Error).message}` };
  }
  const keys: (Uint8Array | null)[] = [];
  for (const peer of r.peers) {
    try {
      const peerKey = await subtle.importKey('raw', own(peer), ECDH, false, []);
      const shared = await subtle.deriveBits({ name: 'ECDH', public: peerKey }, privateKey, 256);
      const ikm = await subtle.importKey('raw', shared, 'HKDF', false, ['deriveBits']);
      const bits = await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: own(r.salt), info: new TextEncoder().encode(r.info) }, ikm, 8 * AGREED_BYTES);
      keys.push(new Uint8Array(bits));
    } catch {
      keys.push(null);
    }
  }
  return { op: 'agree', keys };
}

export function webCryptoKeys(): KeyAgreement {
  return {
    run(request, done, fail) {
      const subtle = globalThis.crypto?.subtle;
      if (!subtle) {
        // Answer later, never from inside run (the port contract).
        queueMicrotask(() => fail('secure aggregation needs WebCrypto, which browsers give only to secure pages (https:// or localhost); this page is not one'));
        return;
      }
      (request.op === 'generate' ? generate(subtle, request.pairs, request.seeds) : agree(subtle, request)).then(done, (e: unknown) => fail(e instanceof Error ? e.message : String(e)));
    },
  };
}
