import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';
import { INFO_MASK, type KeyRequest, type KeyResult } from '../../src/core/secagg/keys.ts';
import { openShares, sealShares } from '../../src/core/secagg/envelope.ts';
import { webCryptoKeys } from '../../src/live/webCryptoKeys.ts';
import { nodeCrypto, serveKeys } from '../../src/sim/nodeKeys.ts';

const crypto = nodeCrypto()!;
const web = webCryptoKeys();
const ask = (request: KeyRequest) => new Promise<KeyResult>((done, fail) => web.run(request, done, fail));
const salt = new TextEncoder().encode('salt');

function generate(rng: Rng, pairs: number) {
  const r = serveKeys(crypto, rng, { op: 'generate', pairs, seeds: 1 });
  if (r.op !== 'generate') throw new Error('no keys');
  return r;
}

describe('key agreement ports', () => {
  it('the simulator port is deterministic in its stream, and both sides of a pair agree on one key', () => {
    const a = generate(Rng.seed('a'), 2);
    expect(generate(Rng.seed('a'), 2)).toEqual(a);
    expect(generate(Rng.seed('b'), 2).pairs[0].secret).not.toEqual(a.pairs[0].secret);
    const [u, v] = a.pairs;
    const uv = serveKeys(crypto, Rng.seed('x'), { op: 'agree', secret: u.secret, publicKey: u.publicKey, peers: [v.publicKey], salt, info: INFO_MASK });
    const vu = serveKeys(crypto, Rng.seed('x'), { op: 'agree', secret: v.secret, publicKey: v.publicKey, peers: [u.publicKey], salt, info: INFO_MASK });
    expect(uv.op).toBe('agree');
    expect(uv).toEqual(vu);
  });

  it("WebCrypto (the tabs' port) derives exactly what node:crypto (the simulator's) derives, from the same keys", async () => {
    const [u, v, w] = generate(Rng.seed('c'), 3).pairs;
    const request: KeyRequest = { op: 'agree', secret: u.secret, publicKey: u.publicKey, peers: [v.publicKey, w.publicKey], salt, info: INFO_MASK };
    const fromNode = serveKeys(crypto, Rng.seed('x'), request);
    const fromWeb = await ask(request);
    expect(fromWeb).toEqual(fromNode);
    // WebCrypto's own fresh keys agree with node's on the other side.
    const fresh = await ask({ op: 'generate', pairs: 1, seeds: 2 });
    if (fresh.op !== 'generate') throw new Error('no keys');
    expect(fresh.seeds.map((s) => s.length)).toEqual([48, 48]);
    const mine = fresh.pairs[0];
    const a = await ask({ op: 'agree', secret: mine.secret, publicKey: mine.publicKey, peers: [v.publicKey], salt, info: INFO_MASK });
    const b = serveKeys(crypto, Rng.seed('x'), { op: 'agree', secret: v.secret, publicKey: v.publicKey, peers: [mine.publicKey], salt, info: INFO_MASK });
    expect(a).toEqual(b);
  });

  it('both ports refuse a secret that is not the public key’s, and answer null for a peer key off the curve', async () => {
    const [u, v] = generate(Rng.seed('d'), 2).pairs;
    const wrong: KeyRequest = { op: 'agree', secret: v.secret, publicKey: u.publicKey, peers: [v.publicKey], salt, info: INFO_MASK };
    expect(serveKeys(crypto, Rng.seed('x'), wrong).op).toBe('error');
    expect((await ask(wrong)).op).toBe('error');
    const offCurve = v.publicKey.slice();
    offCurve[40] ^= 1;
    const bad: KeyRequest = { op: 'agree', secret: u.secret, publicKey: u.publicKey, peers: [offCurve, v.publicKey], salt, info: INFO_MASK };
    for (const r of [serveKeys(crypto, Rng.seed('x'), bad), await ask(bad)]) {
      if (r.op !== 'agree') throw new Error(r.op);
      expect(r.keys[0]).toBeNull();
      expect(r.keys[1]).toHaveLength(32);
    }
  });

  it('an envelope opens only under its key and its label', () => {
    const key = new Uint8Array(32).fill(7);
    const label = { round: 3, attempt: 1, dealer: 'n1', holder: 'n2' };
    const sealed = sealShares(key, label, { seed: 5n, key: 9n });
    expect(openShares(key, label, sealed)).toEqual({ seed: 5n, key: 9n });
    expect(openShares(key, { ...label, attempt: 2 }, sealed)).toBeNull();
    expect(openShares(key, { ...label, dealer: 'n2', holder: 'n1' }, sealed)).toBeNull();
    expect(openShares(new Uint8Array(32), label, sealed)).toBeNull();
    const flipped = sealed.slice();
    flipped[10] ^= 1;
    expect(openShares(key, label, flipped)).toBeNull();
  });
});
