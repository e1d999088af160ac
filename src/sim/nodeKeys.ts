import type { Rng } from '../core/rng.ts';
import { AGREED_BYTES, SEED_BYTES, type KeyPair, type KeyRequest, type KeyResult } from '../core/secagg/keys.ts';
import { scalarToBytes, uniformScalar, UNIFORM_BYTES } from '../core/secagg/shamir.ts';
import type { KeyAgreement } from '../runtime/ports.ts';

type NodeCrypto = typeof import('node:crypto');

/**
 * node:crypto when the simulator runs in Node, null in a browser worker (compare mode). Loaded
 * through `process.getBuiltinModule`, not a static import, because the page's bundle holds the
 * simulator too and must not pull in a Node module; and synchronously, because the simulator's
 * loop is synchronous (WebCrypto, the only ECDH a browser has, answers with promises).
 */
export function nodeCrypto(): NodeCrypto | null {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return (p?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined) ?? null;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * One key request served with node:crypto, deterministically: the secrets come from `rng` (a
 * simulated node's seeded stream), so the same seed gives the same keys, masks and run.
 */
export function serveKeys(crypto: NodeCrypto, rng: Rng, request: KeyRequest): KeyResult {
  if (request.op === 'generate') {
    const pairs: KeyPair[] = [];
    for (let i = 0; i < request.pairs; i++) {
      const d = uniformScalar(randomBytes(rng, UNIFORM_BYTES)) || 1n;
      const secret = scalarToBytes(d);
      const ecdh = crypto.createECDH('prime256v1');
      ecdh.setPrivateKey(secret);
      pairs.push({ secret, publicKey: new Uint8Array(ecdh.getPublicKey()) });
    }
    const seeds = Array.from({ length: request.seeds }, () => randomBytes(rng, SEED_BYTES));
    return { op: 'generate', pairs, seeds };
  }
  const ecdh = crypto.createECDH('prime256v1');
  try {
    ecdh.setPrivateKey(request.secret);
  } catch (e) {
    return { op: 'error', message: `not a P-256 private key: ${(e as Error).message}` };
  }
  if (!sameBytes(new Uint8Array(ecdh.getPublicKey()), request.publicKey)) return { op: 'error', message: 'the secret is not the private key of the given public key' };
  const keys = request.peers.map((peer) => {
    let shared: Buffer;
    try {
      shared = ecdh.computeSecret(peer);
    } catch {
      return null;
    }
    return new Uint8Array(crypto.hkdfSync('sha256', shared, request.salt, request.info, AGREED_BYTES));
  });
  return { op: 'agree', keys };
}

/**
 * A simulated node's key-agreement port: each request is served when the virtual clock next
 * runs (`later`), at no virtual cost (an ECDH costs well under a millisecond; the simulator
 * charges time for training and links only). Where node:crypto is missing (the simulator in a
 * browser worker) every request fails, and the node stops with that message.
 */
export function nodeKeyAgreement(rng: Rng, later: (run: () => void) => void): KeyAgreement {
  const crypto = nodeCrypto();
  return {
    run(request, done, fail) {
      later(() => {
        if (!crypto) fail('secure aggregation needs node:crypto in the simulator (run it with the CLI, or live in tabs; compare mode cannot)');
        else done(serveKeys(crypto, rng, request));
      });
    },
  };
}
