import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ComputeRequest, ComputeResult } from '../../src/core/learn/compute.ts';
import { SGD } from '../../src/core/learn/compute.ts';
import { Rng } from '../../src/core/rng.ts';
import { encodeMessage, MODEL_PARAMS, type SchemaRegistry } from '../../src/core/wire/codec.ts';
import { liveCompute } from '../../src/live/liveCompute.ts';
import type { KeyResult, Protocol, ProtocolAction, ProtocolEvent } from '../../src/protocols/protocol.ts';
import { MAX_HELD_EVENTS, NodeHost, type NodeHostOptions } from '../../src/runtime/host.ts';
import type { Compute, KeyAgreement } from '../../src/runtime/ports.ts';
import { InMemoryNetwork } from '../../src/sim/network.ts';
import { VirtualClock } from '../../src/sim/queue.ts';

const schemas: SchemaRegistry = { 'p/model': { header: z.object({}), vectors: MODEL_PARAMS } };
const trainReq = (params: Float32Array): ComputeRequest => ({ kind: 'train', params, epochs: 1, steps: 0, batch: 0, lr: 0.1, optimizer: SGD });

/** A protocol that asks for the work it is told to and records every event. */
class Probe implements Protocol {
  readonly events: ProtocolEvent[] = [];
  round = 0;
  constructor(private readonly onStart: ProtocolAction[]) {}
  handle(event: ProtocolEvent): ProtocolAction[] {
    this.events.push(event);
    if (event.kind === 'start') return this.onStart;
    if (event.kind === 'message' && event.msg.type === 'boom') throw new Error('protocol bug');
    return [];
  }
  currentParams(): Float32Array | null {
    return null;
  }
}

function setup(protocol: Protocol, compute: Compute, extra: Partial<NodeHostOptions> = {}) {
  const clock = new VirtualClock();
  const net = new InMemoryNetwork(clock, { latency: 1, bandwidth: 0, loss: 0 }, Rng.seed(1));
  const seen: ProtocolAction[] = [];
  const errors: string[] = [];
  const host = new NodeHost({
    id: 'a',
    protocol,
    schemas,
    paramCount: 2,
    clock,
    transport: net.attach('a'),
    compute,
    observer: { onAction: (_h, a) => seen.push(a), onError: (_h, m) => errors.push(m) },
    ...extra,
  });
  return { clock, net, host, seen, errors };
}

const run = (clock: VirtualClock) => {
  while (clock.step()) {
    /* drain */
  }
};

describe('NodeHost compute', () => {
  it('answers each compute action with a computed event of the same id', () => {
    const protocol = new Probe([
      { kind: 'compute', id: 'x', round: 1, request: trainReq(Float32Array.from([1, 2])) },
      { kind: 'compute', id: 'y', round: 1, request: { kind: 'loss', params: Float32Array.from([3, 4]), batch: 0, batchSeed: 0 } },
    ]);
    let clock!: VirtualClock;
    const compute: Compute = {
      run: (req, done) =>
        clock.schedule(req.kind === 'train' ? 10 : 5, () =>
          done(req.kind === 'train' ? { kind: 'train', params: req.params.map((v) => v * 2), loss: 1, steps: 1, samplesSeen: 3 } : { kind: 'loss', loss: req.params[0], samples: 7 }),
        ),
    };
    const s = setup(protocol, compute);
    clock = s.clock;
    s.host.start();
    run(s.clock);
    const computed = protocol.events.filter((e): e is Extract<ProtocolEvent, { kind: 'computed' }> => e.kind === 'computed');
    expect(computed.map((e) => e.id)).toEqual(['y', 'x']);
    expect(computed[0].result).toEqual({ kind: 'loss', loss: 3, samples: 7 });
    expect(Array.from((computed[1].result as Extract<ComputeResult, { kind: 'train' }>).params)).toEqual([2, 4]);
    expect(s.host.error).toBeNull();
  });

  it('a failed compute stops the node with an error instead of leaving it waiting', () => {
    const protocol = new Probe([
      { kind: 'setTimer', id: 't', afterMs: 100 },
      { kind: 'compute', id: 'x', round: 1, request: trainReq(new Float32Array(2)) },
    ]);
    let clock!: VirtualClock;
    const s = setup(protocol, { run: (_req, _done, fail) => clock.schedule(10, () => fail('out of memory')) });
    clock = s.clock;
    s.host.start();
    run(s.clock);
    expect(s.host.running).toBe(false);
    expect(s.host.error).toBe('train failed: out of memory');
    expect(s.errors).toEqual(['train failed: out of memory']);
    expect(s.seen).toContainEqual({ kind: 'state', state: 'error' });
    // Nothing reaches the protocol afterwards: the timer is gone, and so are frames.
    expect(protocol.events.map((e) => e.kind)).toEqual(['start']);
  });

  it('a message the codec cannot encode is a counted protocol error, not a crash', () => {
    const protocol = new Probe([
      { kind: 'send', to: 'b', msg: { type: 'p/model' } },
      { kind: 'send', to: 'b', msg: { type: 'p/unknown' } },
      { kind: 'send', to: 'b', msg: { type: 'p/model', params: new Float32Array(2) } },
    ]);
    const s = setup(protocol, { run: () => undefined });
    const got: Uint8Array[] = [];
    s.net.attach('b').onFrame((_f, frame) => got.push(frame));
    s.host.start();
    run(s.clock);
    expect(s.host.stats.rejected).toEqual({ 'protocol-error': 2 });
    expect(s.host.stats.framesSent).toBe(1);
    expect(got).toHaveLength(1);
  });
});

describe('NodeHost strict mode', () => {
  class Throws extends Probe {
    override handle(event: ProtocolEvent): ProtocolAction[] {
      if (event.kind === 'timer') throw new Error('protocol bug');
      return super.handle(event);
    }
  }
  const start: ProtocolAction[] = [{ kind: 'setTimer', id: 't', afterMs: 5 }];

  it('counts a protocol exception by default, and throws it in strict mode', () => {
    const lenient = setup(new Throws(start), { run: () => undefined });
    lenient.host.start();
    run(lenient.clock);
    expect(lenient.host.stats.rejected).toEqual({ 'protocol-error': 1 });

    const strict = setup(new Throws(start), { run: () => undefined }, { strict: true });
    strict.host.start();
    expect(() => run(strict.clock)).toThrow('protocol bug');
  });

  it('throws an unencodable message and a failed compute in strict mode', () => {
    const bad = setup(new Probe([{ kind: 'send', to: 'b', msg: { type: 'p/unknown' } }]), { run: () => undefined }, { strict: true });
    expect(() => bad.host.start()).toThrow(/unknown message type/);
    let clock!: VirtualClock;
    const failing = setup(new Probe([{ kind: 'compute', id: 'x', round: 1, request: trainReq(new Float32Array(2)) }]), { run: (_r, _d, fail) => clock.schedule(1, () => fail('nope')) }, { strict: true });
    clock = failing.clock;
    failing.host.start();
    expect(() => run(failing.clock)).toThrow('a: train failed: nope');
  });

  it('still counts frames the codec refuses (they come from peers, not from this protocol)', () => {
    const s = setup(new Probe([]), { run: () => undefined }, { strict: true });
    s.host.receive('b', Uint8Array.from([1, 2, 3]));
    expect(s.host.stats.rejected).toEqual({ malformed: 1 });
  });
});

describe('live compute port', () => {
  const trainRng = Rng.seed(3).split('node').split('p1').split('train');
  const result: ComputeResult = { kind: 'train', params: new Float32Array(2), loss: 0.5, steps: 2, samplesSeen: 20 };

  it('sends requests to the training client with the node’s batch-order keys, and reports trained samples', async () => {
    const keys: string[] = [];
    const trained: number[] = [];
    const port = liveCompute(
      {
        compute: async (req, rngKey) => {
          keys.push(`${req.kind} ${rngKey}`);
          return req.kind === 'train' ? { result, ms: 40 } : { result: { kind: 'loss', loss: 1, samples: 5 }, ms: 1 };
        },
      },
      trainRng,
      (samples, ms) => trained.push(samples / ms),
    );
    const answers: ComputeResult[] = [];
    await new Promise<void>((resolve) => {
      port.run(trainReq(new Float32Array(2)), (r) => answers.push(r), () => undefined);
      port.run({ kind: 'loss', params: new Float32Array(2), batch: 0, batchSeed: 0 }, (r) => answers.push(r), () => undefined);
      port.run(trainReq(new Float32Array(2)), (r) => (answers.push(r), resolve()), () => undefined);
    });
    // The same keys a tab used before the contract changed: seed:S/node/ID/train/<n-th training>.
    expect(keys).toEqual(['train seed:3/node/p1/train/0', 'loss seed:3/node/p1/train', 'train seed:3/node/p1/train/1']);
    expect(answers.map((a) => a.kind)).toEqual(['train', 'loss', 'train']);
    expect(trained).toEqual([0.5, 0.5]);
  });

  it('a rejected request puts the host in its error state', async () => {
    const port = liveCompute({ compute: () => Promise.reject(new Error('WebGPU device lost')) }, trainRng);
    const protocol = new Probe([{ kind: 'compute', id: 'x', round: 1, request: trainReq(new Float32Array(2)) }]);
    let resolve!: () => void;
    const failed = new Promise<void>((r) => (resolve = r));
    const s = setup(protocol, port, { observer: { onError: () => resolve() } });
    s.host.start();
    await failed;
    expect(s.host.running).toBe(false);
    expect(s.host.error).toBe('train failed: WebGPU device lost');
  });
});

describe('NodeHost pause', () => {
  it('holds frames, timer firings and compute results while paused, and delivers them in order on resume', () => {
    const probe = new Probe([{ kind: 'setTimer', id: 't', afterMs: 5 }, { kind: 'compute', id: 'c', round: 1, request: trainReq(Float32Array.from([1, 2])) }]);
    let finish: (() => void) | null = null;
    const compute: Compute = { run: (_r, done) => (finish = () => done({ kind: 'train', params: Float32Array.from([3, 4]), loss: 0, steps: 1, samplesSeen: 1 })) };
    const { clock, net, host } = setup(probe, compute);
    host.start();
    expect(probe.events.map((e) => e.kind)).toEqual(['start']);
    host.pause();
    net.attach('b').send('a', encodeMessage({ type: 'p/model', params: Float32Array.from([5, 6]) }, schemas));
    run(clock); // the frame arrives at 1 ms, the timer fires at 5 ms: both held
    finish!(); // the training that was under way finishes: held too
    expect(probe.events.map((e) => e.kind)).toEqual(['start']);
    expect(host.isPaused).toBe(true);
    host.resume();
    expect(probe.events.map((e) => e.kind)).toEqual(['start', 'message', 'timer', 'computed']);
  });

  it('keeps at most MAX_HELD_EVENTS frames while paused and counts the rest', () => {
    const probe = new Probe([]);
    const { clock, net, host } = setup(probe, { run: () => {} });
    host.start();
    host.pause();
    const peer = net.attach('b');
    const frame = encodeMessage({ type: 'p/model', params: Float32Array.from([5, 6]) }, schemas);
    for (let i = 0; i < MAX_HELD_EVENTS + 10; i++) peer.send('a', frame);
    run(clock);
    expect(host.stats.rejected['held-while-paused']).toBe(10);
    host.resume();
    expect(probe.events.filter((e) => e.kind === 'message')).toHaveLength(MAX_HELD_EVENTS);
  });
});

describe('NodeHost key agreement', () => {
  /** A Probe that also takes the port's answers. */
  class KeyProbe extends Probe {
    readonly answers: [string, KeyResult][] = [];
    keysReady(id: string, result: KeyResult): ProtocolAction[] {
      this.answers.push([id, result]);
      return [];
    }
  }
  const generate: ProtocolAction = { kind: 'keys', id: 'k1', request: { op: 'generate', pairs: 1, seeds: 0 } };
  const noCompute: Compute = { run: () => {} };

  it('answers a keys action through Protocol.keysReady with the same id, after the port answers, and holds it while paused', () => {
    const protocol = new KeyProbe([generate]);
    let clock!: VirtualClock;
    const keys: KeyAgreement = { run: (_r, done) => clock.schedule(3, () => done({ op: 'generate', pairs: [], seeds: [] })) };
    const s = setup(protocol, noCompute, { keys });
    clock = s.clock;
    s.host.start();
    s.host.pause();
    run(s.clock);
    expect(protocol.answers).toEqual([]);
    s.host.resume();
    expect(protocol.answers).toEqual([['k1', { op: 'generate', pairs: [], seeds: [] }]]);
  });

  it('a node without a port, or whose port fails, stops with an error instead of waiting forever', () => {
    const a = setup(new KeyProbe([generate]), noCompute);
    a.host.start();
    expect(a.host.running).toBe(false);
    expect(a.errors[0]).toMatch(/no key-agreement port/);
    let clock!: VirtualClock;
    const b = setup(new KeyProbe([generate]), noCompute, { keys: { run: (_r, _done, fail) => clock.schedule(1, () => fail('no WebCrypto here')) } });
    clock = b.clock;
    b.host.start();
    run(b.clock);
    expect(b.errors).toEqual(['key agreement failed: no WebCrypto here']);
  });
});
