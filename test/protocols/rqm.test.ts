import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import type { ModelSpec } from '../../src/core/learn/models.ts';
import { rqmLevels } from '../../src/core/privacy/rqm.ts';
import { Rng } from '../../src/core/rng.ts';
import { decodeMessage, encodeMessage } from '../../src/core/wire/codec.ts';
import { openUpdate, rqmParams, UpdateSealer } from '../../src/protocols/common/privacy.ts';
import { FedAvg } from '../../src/protocols/fedavg/fedavg.ts';
import { fedavgSchemas } from '../../src/protocols/fedavg/messages.ts';
import { protocolFor } from '../../src/protocols/index.ts';
import type { ProtocolAction, ProtocolContext } from '../../src/protocols/protocol.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

let world: BlobsWorld;

beforeAll(async () => {
  world = await blobsWorld(2000);
});

const spec: ModelSpec = { name: 'mlp', features: 2, numClasses: 2, size: 4, tensors: [{ name: 'k', shape: [2, 2], offset: 0, size: 4, kind: 'kernel' }] };
const vec = (...v: number[]) => Float32Array.from(v);

describe('RQM updates (dp=rqm) on the wire', () => {
  const config = parseConfig({ algo: 'fedavg', dp: 'rqm', rqmClip: 1, rqmDelta: 1, rqmLevels: 3 });

  it('a sealed update is ⌈log₂ m⌉-bit level indices of the clipped change; the receiver rebuilds base + levels', () => {
    const base = vec(0.5, 0.5, 0.5, 0.5);
    const sealed = new UpdateSealer(config, Rng.seed(1)).seal(base, vec(0.5, 3, -0.2, 0.9));
    expect('levels' in sealed.fields && sealed.fields.levels.dtype).toBe('u2');
    const frame = encodeMessage({ type: 'fedavg/update', round: 1, samples: 5, loss: null, ...sealed.fields }, fedavgSchemas);
    const d = decodeMessage(frame, fedavgSchemas, 4);
    if (!d.ok) throw new Error(d.detail);
    expect(d.msg.params).toBeUndefined();
    const opened = openUpdate(config, { base, levels: d.msg.levels as Uint8Array });
    expect(opened).toEqual({ ok: true, params: sealed.params });
    // Each coordinate moved from the base by one of the levels −2, 0, 2.
    const B = Array.from(rqmLevels(rqmParams(config)));
    if (opened.ok) for (let i = 0; i < 4; i++) expect(B).toContain(Math.round((opened.params[i] - base[i]) * 1e6) / 1e6);
  });

  it('the receiver refuses an index ≥ m, levels in a room without privacy, and a plain model in a dp=rqm room', () => {
    const base = vec(0, 0, 0, 0);
    expect(openUpdate(config, { base, levels: Uint8Array.from([0, 1, 3, 2]) })).toEqual({ ok: false, reason: 'RQM: level index 3 at 2, only 3 levels' });
    expect(openUpdate(config, { base, params: vec(1, 1, 1, 1) })).toMatchObject({ ok: false, reason: /without RQM levels/ });
    const plain = parseConfig({ algo: 'fedavg' });
    expect(openUpdate(plain, { base, params: vec(1, 1, 1, 1), levels: Uint8Array.from([0, 0, 0, 0]) })).toMatchObject({ ok: false, reason: /without privacy/ });
    expect(openUpdate(plain, { base, params: vec(1, 1, 1, 1) })).toEqual({ ok: true, params: vec(1, 1, 1, 1) });
  });

  it('a FedAvg coordinator counts a bad index as a rejection and does not use the update', () => {
    const ctx: ProtocolContext = { id: 'n0', config: { ...config, nodes: 2, fraction: 1 }, spec, samples: 10, maxSamples: 10, rng: Rng.seed(1), initialParams: vec(0, 0, 0, 0), peers: ['n1'] };
    const f = new FedAvg(ctx);
    f.handle({ kind: 'start' }, 0);
    const bad = f.handle({ kind: 'message', from: 'n1', msg: { type: 'fedavg/update', round: 1, samples: 5, loss: null, levels: Uint8Array.from([0, 3, 0, 0]) } }, 1);
    expect(bad).toEqual([{ kind: 'reject', from: 'n1', reason: 'RQM: level index 3 at 1, only 3 levels' }] satisfies ProtocolAction[]);
    // A good one from the same client is still taken afterwards (the bad one did not count as its answer).
    const good = f.handle({ kind: 'message', from: 'n1', msg: { type: 'fedavg/update', round: 1, samples: 5, loss: null, levels: Uint8Array.from([1, 1, 1, 1]) } }, 2);
    expect(good.some((a) => a.kind === 'reject')).toBe(false);
  });
});

describe('FedAvg and MoDeST with dp=rqm (real training on blobs, 20 nodes)', () => {
  const run = (input: ConfigInput) => {
    const sim = world.simulation({ nodes: 20, rounds: 20, ...input });
    const summary = sim.run();
    expect(summary.rejected).toEqual({});
    return summary;
  };

  it('FedAvg: reaches 85%, sends fewer bytes than float32 FedAvg, and reports a finite ε for the given δ', () => {
    const plain = run({ algo: 'fedavg' });
    const rqm = run({ algo: 'fedavg', dp: 'rqm' });
    expect(rqm.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(rqm.bytesSent).toBeLessThan(plain.bytesSent);
    expect(Number.isFinite(rqm.epsilon)).toBe(true);
    expect(rqm.epsilon).toBeGreaterThan(0);
    expect(rqm.delta).toBe(1e-5);
    expect(plain.epsilon).toBeUndefined();
    // Every node trained every round (C = 1): ε is that of 20 updates of the model's size.
    const facts = protocolFor('fedavg').facts!(parseConfig({ algo: 'fedavg', dp: 'rqm' }), { paramCount: world.learner.spec.size, trainings: 20 });
    expect(facts.find((f) => f.key === 'epsilon')!.value).toBe(rqm.epsilon);
  });

  it('MoDeST: reaches 85% with RQM updates, and reports ε', () => {
    const s = run({ algo: 'modest', dp: 'rqm', s: 5 });
    expect(s.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(Number.isFinite(s.epsilon)).toBe(true);
  });

  it('q = 1 is plain stochastic rounding: no guarantee once a level lies inside [−c, c], a finite one while none does', () => {
    // m = 3: level 0 is inside, and an input on it always comes out as itself.
    expect(run({ algo: 'fedavg', dp: 'rqm', rqmKeep: 1, rqmLevels: 3, rounds: 3 }).epsilon).toBe(Infinity);
    // m = 4, Δ = 4c: every input lies between the same two levels, so rounding alone is a randomized response.
    expect(Number.isFinite(run({ algo: 'fedavg', dp: 'rqm', rqmKeep: 1, rqmLevels: 4, rounds: 3 }).epsilon)).toBe(true);
  });
});
