import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfigByKey, type ConfigInput } from '../../src/core/config.ts';
import { decodeSum, encodeContribution, fixedScale } from '../../src/core/secagg/fixedPoint.ts';
import { bytesToWords } from '../../src/core/secagg/masks.ts';
import { decodeMessage } from '../../src/core/wire/codec.ts';
import { maxAbsDiff } from '../../src/core/vector.ts';
import { protocolFor } from '../../src/protocols/index.ts';
import type { NodeId, ProtocolAction } from '../../src/protocols/protocol.ts';
import { secaggExtraBytes, secaggThreshold } from '../../src/protocols/secagg/keys.ts';
import { SecAggClient } from '../../src/protocols/secagg/client.ts';
import { KEYS_BYTES } from '../../src/protocols/secagg/messages.ts';
import { Rng } from '../../src/core/rng.ts';
import { nodeCrypto, serveKeys } from '../../src/sim/nodeKeys.ts';
import type { Simulation } from '../../src/sim/simulation.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

let world: BlobsWorld;
const fedavg = protocolFor('fedavg');

beforeAll(async () => {
  world = await blobsWorld(800);
});

interface Audit {
  plain: { round: number; attempt: number; print: number }[];
  seen?: { round: number; attempt: number; from: NodeId; print: number }[];
  sums?: { round: number; attempt: number; survivors: NodeId[]; dropped: NodeId[]; print: number }[];
}
const audit = (sim: Simulation, id: NodeId) => sim.nodes.find((n) => n.id === id)!.host!.protocol.report!()!.audit as unknown as Audit;

/** Frames of `type` as they left each node, decoded. */
function capture(sim: Simulation, type: string): { from: NodeId; msg: Record<string, unknown> }[] {
  const out: { from: NodeId; msg: Record<string, unknown> }[] = [];
  sim.onAction = (from, a) => {
    if (a.kind === 'send' && a.msg.type === type) out.push({ from, msg: a.msg });
  };
  return out;
}

/** Kills `node` just after it sends its first `type` frame of round `round` (the frame still arrives). */
function killAfter(sim: Simulation, node: NodeId, type: string, round: number, also?: (from: NodeId, a: ProtocolAction) => void): void {
  let done = false;
  sim.onAction = (from, a) => {
    also?.(from, a);
    if (done || from !== node || a.kind !== 'send' || a.msg.type !== type || a.msg.round !== round) return;
    done = true;
    sim.clock.schedule(0, () => sim.nodes.find((n) => n.id === node)!.host!.kill());
  };
}

/** Pearson's χ² of the 16 nibble values over a byte string (15 degrees of freedom; 37.7 is p = 0.001). */
function nibbleChiSquare(bytes: Uint8Array): number {
  const counts = new Array(16).fill(0);
  for (const b of bytes) {
    counts[b & 15]++;
    counts[b >> 4]++;
  }
  const expected = (2 * bytes.length) / 16;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

const sumPrints = (prints: number[]) => prints.reduce((s, p) => (s + p) >>> 0, 0);

describe('secure aggregation: the sum is exact', () => {
  it("round 1's global model equals plain FedAvg's within the fixed-point rounding, and nobody refused anything", () => {
    const input: ConfigInput = { nodes: 4, fraction: 1, rounds: 1, partition: 'dirichlet:0.5', epochs: 2 };
    const globals: Float32Array[] = [];
    for (const secagg of [0, 1]) {
      const sim = world.simulation({ ...input, secagg });
      sim.onAction = (node, a) => {
        if (node === sim.coordinator && a.kind === 'model' && a.scope === 'global' && a.round === 1) globals.push(a.params);
      };
      sim.run();
      expect(sim.summary().rejected).toEqual({});
    }
    const [plain, secure] = globals;
    const sim = world.simulation(input);
    const shards = sim.nodes.map((n) => n.shard.n);
    const total = shards.reduce((a, b) => a + b, 0);
    const maxSamples = Math.max(...shards);
    const bound = ((4 / (2 * fixedScale(4))) * maxSamples) / total;
    const diff = maxAbsDiff(plain, secure);
    expect(diff).toBeLessThan(bound + 1e-6);
    expect(maxAbsDiff(plain, sim.sharedInit)).toBeGreaterThan(0.01);
  });

  it('the unmasked sum is exactly the sum of the survivors’ plain contributions (fingerprints), and no masked one is a plain one', () => {
    const sim = world.simulation({ nodes: 5, fraction: 1, rounds: 3, secagg: 1 });
    sim.run();
    expect(sim.summary().rejected).toEqual({});
    const coordinator = audit(sim, sim.coordinator);
    const plains = sim.nodes.flatMap((n) => audit(sim, n.id).plain.map((p) => ({ ...p, from: n.id })));
    expect(coordinator.sums).toHaveLength(3);
    for (const s of coordinator.sums!) {
      const mine = plains.filter((p) => p.round === s.round && p.attempt === s.attempt && s.survivors.includes(p.from));
      expect(mine).toHaveLength(s.survivors.length);
      expect(sumPrints(mine.map((p) => p.print))).toBe(s.print);
    }
    const plainPrints = new Set(plains.map((p) => p.print));
    expect(coordinator.seen).toHaveLength(15);
    for (const seen of coordinator.seen!) expect(plainPrints.has(seen.print)).toBe(false);
  });
});

describe("secure aggregation: the coordinator's view", () => {
  it('each masked contribution looks uniform (nibble χ² below p = 0.001); the same update in plain fixed point does not', () => {
    const input: ConfigInput = { nodes: 4, fraction: 1, rounds: 1 };
    const secure = world.simulation({ ...input, secagg: 1 });
    const masked = capture(secure, 'secagg/masked');
    secure.run();
    const plainSim = world.simulation(input);
    const updates = capture(plainSim, 'fedavg/update');
    plainSim.run();
    expect(masked).toHaveLength(3);
    expect(updates).toHaveLength(3);
    for (const m of masked) expect(nibbleChiSquare(m.msg.masked as Uint8Array)).toBeLessThan(37.7);
    // The plain runs' updates, encoded as the clients would before masking.
    const base = plainSim.sharedInit;
    const maxSamples = Math.max(...plainSim.nodes.map((n) => n.shard.n));
    for (const u of updates) {
      const params = u.msg.params as Float32Array;
      const change = params.map((p, i) => p - base[i]);
      const { words } = encodeContribution(change, u.msg.samples as number, maxSamples, fixedScale(4));
      const bytes = new Uint8Array(words.buffer);
      expect(nibbleChiSquare(bytes)).toBeGreaterThan(1000);
      // and the float32 update itself fails too
      expect(nibbleChiSquare(new Uint8Array(params.buffer))).toBeGreaterThan(100);
    }
  });

  it("every secure frame's payload is what the protocol says, and the summary's extra bytes are what was measured, up to frame headers", () => {
    const input: ConfigInput = { nodes: 10, fraction: 1, rounds: 3 };
    const plain = world.simulation(input);
    plain.run();
    const secure = world.simulation({ ...input, secagg: 1 });
    secure.run();
    const s = secure.summary();
    expect(s.secaggExtraBytes).toBe(secaggExtraBytes(10));
    // 9 remote clients a round (the coordinator's own messages stay inside its tab).
    const measured = (s.bytesSent - plain.summary().bytesSent) / (3 * 9);
    expect(measured).toBeGreaterThan(secaggExtraBytes(10) * 0.85);
    expect(measured).toBeLessThan(secaggExtraBytes(10) * 1.25);
  });
});

describe('secure aggregation: dropouts', () => {
  it('a client that leaves after dealing its shares is unmasked from the survivors’ shares of its mask key, and the run goes on', () => {
    const sim = world.simulation({ nodes: 4, fraction: 1, rounds: 4, secagg: 1, roundTimeout: 5000 });
    killAfter(sim, 'n3', 'secagg/shares', 2);
    sim.run();
    const s = sim.summary();
    expect(s.rejected).toEqual({});
    expect(s.rounds).toBe(4);
    expect(s.secaggRecovered).toBe(1);
    expect(s.secaggAborted).toBe(0);
    expect(s.accuracy).toBeGreaterThanOrEqual(0.85);
    const round2 = audit(sim, 'n0').sums!.find((x) => x.round === 2)!;
    expect(round2.dropped).toEqual(['n3']);
    expect(round2.survivors).toEqual(['n0', 'n1', 'n2']);
    const prints = ['n0', 'n1', 'n2'].map((id) => audit(sim, id).plain.find((p) => p.round === 2)!.print);
    expect(sumPrints(prints)).toBe(round2.print);
  });

  it('a client that leaves after its masked update is unmasked from the survivors’ shares of its self-mask seed', () => {
    const sim = world.simulation({ nodes: 4, fraction: 1, rounds: 3, secagg: 1, roundTimeout: 5000 });
    killAfter(sim, 'n2', 'secagg/masked', 2);
    sim.run();
    const s = sim.summary();
    expect(s.rejected).toEqual({});
    expect(s.rounds).toBe(3);
    const round2 = audit(sim, 'n0').sums!.find((x) => x.round === 2)!;
    // n2's update is in the sum (it arrived); its reveal is not needed: 3 of 4 reach t = 3.
    expect(round2.survivors).toEqual(['n0', 'n1', 'n2', 'n3']);
    expect(round2.dropped).toEqual([]);
    const prints = ['n0', 'n1', 'n2', 'n3'].map((id) => audit(sim, id).plain.find((p) => p.round === 2)!.print);
    expect(sumPrints(prints)).toBe(round2.print);
  });

  it('fewer survivors than t abort the attempt cleanly, and the round is sampled again from who is left', () => {
    // 5 clients: t = ⌈0.66·5⌉ = 4. Two leave after dealing: 3 masked updates < 4.
    const sim = world.simulation({ nodes: 5, fraction: 1, rounds: 3, secagg: 1, roundTimeout: 5000 });
    let killed = 0;
    sim.onAction = (from, a) => {
      if ((from === 'n3' || from === 'n4') && a.kind === 'send' && a.msg.type === 'secagg/shares' && a.msg.round === 2) {
        killed++;
        sim.clock.schedule(0, () => sim.nodes.find((n) => n.id === from)!.host!.kill());
      }
    };
    sim.run();
    const s = sim.summary();
    expect(killed).toBe(2);
    expect(s.rejected).toEqual({});
    expect(s.secaggAborted).toBeGreaterThanOrEqual(1);
    expect(s.rounds).toBe(3);
    expect(s.stopReason).toBe('rounds');
    const sums = audit(sim, 'n0').sums!;
    const round2 = sums.find((x) => x.round === 2)!;
    expect(round2.attempt).toBeGreaterThan(0);
    expect(round2.survivors).toEqual(['n0', 'n1', 'n2']);
  });

  it('t follows the rule: more than half, at least ⌈θn⌉, at most n', () => {
    expect([3, 4, 5, 10, 20].map((n) => secaggThreshold(n, 0.66))).toEqual([2, 3, 4, 7, 14]);
    expect(secaggThreshold(4, 0.5)).toBe(3);
    expect(secaggThreshold(4, 1)).toBe(4);
  });
});

describe('secure aggregation: learning', () => {
  it('FedAvg with secagg=1 reaches 85% on blobs, and two runs with the same seed are identical', () => {
    const rows: string[] = [];
    for (let i = 0; i < 2; i++) {
      const sim = world.simulation({ nodes: 8, fraction: 1, rounds: 6, secagg: 1, partition: 'dirichlet:0.5' });
      sim.run();
      expect(sim.summary().rejected).toEqual({});
      expect(sim.rows.at(-1)!.accuracy).toBeGreaterThanOrEqual(0.85);
      rows.push(JSON.stringify(sim.rows.map(({ wallMs: _w, ...r }) => r)));
    }
    expect(rows[0]).toBe(rows[1]);
  });
});

describe('secure aggregation: config', () => {
  it('refuses secagg with RQM privacy and with fewer than 3 nodes, with a plain sentence, and keeps the other keys', () => {
    const both = parseConfigByKey({ algo: 'fedavg', secagg: '1', dp: 'rqm', nodes: '4' });
    expect(both.errors.secagg).toMatch(/cannot be 1 with RQM privacy/);
    expect(both.config.secagg).toBe(0);
    expect(both.config.dp).toBe('rqm');
    expect(parseConfigByKey({ algo: 'fedavg', secagg: '1', nodes: '2' }).errors.secagg).toMatch(/at least 3 nodes/);
    expect(parseConfigByKey({ algo: 'fedavg', secagg: '1', nodes: '3' }).errors).toEqual({});
  });

  it('refuses secagg with a robust rule (it needs the single updates that secagg hides)', () => {
    const robust = parseConfigByKey({ algo: 'fedavg', secagg: '1', robust: 'median', nodes: '4' });
    expect(robust.errors.secagg).toMatch(/cannot be 1 with a robust aggregation rule \(robust=median\)/);
    expect(robust.config.secagg).toBe(0);
    expect(parseConfigByKey({ algo: 'fedavg', secagg: '1', robust: 'mean', nodes: '4' }).errors).toEqual({});
  });
});

describe('secure aggregation: claims', () => {
  it('a coordinator refuses a contribution of the wrong length, a second one from the same client, and a plain update', () => {
    const sim = world.simulation({ nodes: 4, fraction: 1, rounds: 2, secagg: 1 });
    const injected: { from: NodeId; to: NodeId; msg: Record<string, unknown> }[] = [];
    let sent = false;
    sim.onAction = (from, a) => {
      if (sent || a.kind !== 'send' || a.msg.type !== 'secagg/masked') return;
      sent = true;
      const m = a.msg as unknown as { type: string; round: number; attempt: number; masked: Uint8Array };
      injected.push(
        { from, to: 'n0', msg: { ...m, masked: m.masked.subarray(4) } },
        { from, to: 'n0', msg: m },
        { from, to: 'n0', msg: { type: 'fedavg/update', round: m.round, samples: 3, loss: null, params: new Float32Array(world.learner.spec.size) } },
      );
    };
    sim.start();
    while (sim.advance(1) && injected.length === 0) {
      /* run until the first masked contribution */
    }
    const host = sim.nodes[0].host!;
    for (const i of injected) host.dispatch({ kind: 'message', from: i.from, msg: i.msg as never });
    // The honest one arrives later too; the wrong-length copy and the plain update are refused now, the duplicate once the honest one is in.
    while (sim.advance(1000)) {
      /* to the end */
    }
    const r = sim.summary().rejected;
    expect(r).toEqual({ protocol: 2, 'claim: sender': 1 });
    expect(sim.summary().rounds).toBe(2);
    expect(sim.summary().secaggRounds).toBe(2);
  });

  it("a client refuses a roster that is unsorted, lacks it, lists other keys for it or has the wrong length, and then sits the attempt out", () => {
    const crypto = nodeCrypto()!;
    const config = parseConfigByKey({ algo: 'fedavg', secagg: '1', nodes: '4' }).config;
    const fresh = () => {
      const c = new SecAggClient({ id: 'n1', config, samples: 10, maxSamples: 20 });
      const [ask] = c.begin(1, 0, 'n0');
      if (ask.kind !== 'keys') throw new Error('no key request');
      const sent = c.keysReady(ask.id, serveKeys(crypto, Rng.seed('k'), ask.request));
      const keys = (sent[0] as unknown as { msg: { keys: Uint8Array } }).msg.keys;
      return { c, keys };
    };
    const others = (n: number) => {
      const r = serveKeys(crypto, Rng.seed('o'), { op: 'generate', pairs: 2 * n, seeds: 0 });
      if (r.op !== 'generate') throw new Error('no keys');
      return Array.from({ length: n }, (_, i) => Uint8Array.from([...r.pairs[2 * i].publicKey, ...r.pairs[2 * i + 1].publicKey]));
    };
    const roster = (ids: string[], keys: Uint8Array[]) => ({ round: 1, attempt: 0, ids, keys: Uint8Array.from(keys.flatMap((k) => [...k])) });
    const cases: [string, (mine: Uint8Array) => ReturnType<typeof roster>][] = [
      ['unsorted', (mine) => roster(['n2', 'n1', 'n0'], [others(1)[0], mine, others(1)[0]])],
      ['without it', (mine) => roster(['n0', 'n2', 'n3'], [mine, ...others(2)])],
      ['other keys for it', () => roster(['n0', 'n1', 'n2'], others(3))],
      ['short', (mine) => ({ ...roster(['n0', 'n1', 'n2'], [others(1)[0], mine, others(1)[0]]), keys: new Uint8Array(3 * KEYS_BYTES - 1) })],
    ];
    for (const [name, make] of cases) {
      const { c, keys } = fresh();
      const out = c.onRoster('n0', make(keys));
      expect(out.filter((a) => a.kind === 'reject'), name).toHaveLength(1);
      expect(c.phase, name).toBe('out');
      // Out of the attempt: later messages of it are ignored, not answered.
      expect(c.onDeal('n0', { round: 1, attempt: 0, from: ['n0'], envelopes: new Uint8Array(80) })).toEqual([]);
    }
    const { c, keys } = fresh();
    const good = c.onRoster('n0', roster(['n0', 'n1', 'n2'], [others(1)[0], keys, others(2)[1]]));
    expect(good.map((a) => a.kind)).toEqual(['keys', 'keys']);
    // A message for an attempt this client was never in is a refused claim.
    expect(c.onUnmask('n0', { round: 5, attempt: 0, survivors: ['n1'] })[0]).toMatchObject({ kind: 'reject', claim: 'round' });
  });

  it('decodeSum refuses a sum whose masks did not cancel', () => {
    const words = bytesToWords(new Uint8Array(4 * 11).map((_, i) => (i * 97) & 255));
    expect(decodeSum(words, 3, 500, fixedScale(3)).ok).toBe(false);
  });

  it('the secure frames decode with the module’s schemas (fedavg + secagg)', () => {
    const sim = world.simulation({ nodes: 4, fraction: 1, rounds: 1, secagg: 1 });
    const types = new Set<string>();
    sim.onAction = (_from, a) => {
      if (a.kind === 'send') types.add(a.msg.type);
    };
    sim.run();
    expect([...types].sort()).toEqual(['fedavg/done', 'fedavg/train', 'secagg/deal', 'secagg/keys', 'secagg/masked', 'secagg/reveal', 'secagg/roster', 'secagg/shares', 'secagg/unmask']);
    expect(Object.keys(fedavg.schemas)).toEqual(expect.arrayContaining([...types]));
    expect(decodeMessage(new Uint8Array([1, 2, 3]), fedavg.schemas, 4).ok).toBe(false);
  });
});
