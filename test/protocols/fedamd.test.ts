import { beforeAll, describe, expect, it } from 'vitest';
import { configToShortHash, parseConfig, parseHash, type ConfigInput } from '../../src/core/config.ts';
import type { ComputeRequest } from '../../src/core/learn/compute.ts';
import type { ModelSpec } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { maxAbsDiff } from '../../src/core/vector.ts';
import { decodeMessage, encodeMessage } from '../../src/core/wire/codec.ts';
import { anchorObjective, drawRoles, meanBullseye, optimalAnchorProb, serverStep } from '../../src/protocols/fedamd/anchors.ts';
import { FedAMD } from '../../src/protocols/fedamd/fedamd.ts';
import { fedamdSchemas } from '../../src/protocols/fedamd/messages.ts';
import '../../src/protocols/index.ts';
import type { NodeId, ProtocolAction } from '../../src/protocols/protocol.ts';
import type { Simulation } from '../../src/sim/simulation.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

// ─── a sans-I/O harness: one FedAMD node fed events by hand ──────────────────────────────────

const THETA0 = [1, 2];
const vec = (...v: number[]) => Float32Array.from(v);

function node(id: NodeId, peers: NodeId[], input: ConfigInput = {}): FedAMD {
  const config = parseConfig({ algo: 'fedamd', rounds: 10, ...input });
  return new FedAMD({ id, config, spec: {} as ModelSpec, samples: 10, maxSamples: 10, rng: Rng.seed(1).split(id), initialParams: Float32Array.from(THETA0), peers });
}

interface SentTask {
  to: NodeId;
  at: number;
  phase: number;
  role: 'anchor' | 'miner';
  params: Float32Array;
  v?: Float32Array;
}
const tasksIn = (acts: ProtocolAction[]): SentTask[] =>
  acts.flatMap((a) => (a.kind === 'send' && a.msg.type === 'fedamd/task' ? [{ to: a.to, ...(a.msg as unknown as Omit<SentTask, 'to'>) }] : []));
const computes = (acts: ProtocolAction[]) => acts.flatMap((a) => (a.kind === 'compute' ? [a] : []));
const rejects = (acts: ProtocolAction[]) => acts.flatMap((a) => (a.kind === 'reject' ? [a.reason] : []));
const models = (acts: ProtocolAction[]) => acts.flatMap((a) => (a.kind === 'model' ? [a] : []));
const bullseye = (p: FedAMD, from: NodeId, phase: number, gradient: Float32Array) => p.handle({ kind: 'message', from, msg: { type: 'fedamd/bullseye', phase, gradient } }, 0);
const delta = (p: FedAMD, from: NodeId, phase: number, d: Float32Array) => p.handle({ kind: 'message', from, msg: { type: 'fedamd/delta', phase, delta: d } }, 0);
const task = (p: FedAMD, from: NodeId, t: Partial<SentTask> & { at: number; phase: number }) =>
  p.handle({ kind: 'message', from, msg: { type: 'fedamd/task', role: 'anchor', params: vec(...THETA0), ...t } }, 0);

/**
 * Drives a server whose clients answer at once: anchors with the bullseye `bullseyeOf(id, round)`,
 * miners with `deltaOf(id, round)`, the server itself through its own compute requests. Keeps the
 * bullseyes the test expects the server to hold, and checks every miner task's v against their mean.
 */
class Room {
  readonly expected = new Map<NodeId, Float32Array>();
  readonly rounds: { anchors: NodeId[]; miners: NodeId[]; before: Float32Array; after: Float32Array; deltas: Float32Array[] }[] = [];
  private queue: ProtocolAction[] = [];

  constructor(
    readonly server: FedAMD,
    readonly bullseyeOf: (id: NodeId, round: number) => Float32Array,
    readonly deltaOf: (id: NodeId, round: number) => Float32Array,
  ) {}

  /** Starts the server and runs it to the end; returns the start's actions. */
  start(): ProtocolAction[] {
    const start = this.server.handle({ kind: 'start' }, 0);
    this.queue = start;
    this.drain();
    return start;
  }

  private drain(): void {
    while (this.queue.length) {
      const acts = this.queue;
      this.queue = [];
      expect(rejects(acts)).toEqual([]);
      const work: { id: NodeId; role: 'anchor' | 'miner'; phase: number; at: number; v?: Float32Array; compute?: string; params: Float32Array }[] = [];
      for (const t of tasksIn(acts)) work.push({ id: t.to, role: t.role, phase: t.phase, at: t.at, v: t.v, params: t.params });
      for (const c of computes(acts)) {
        const r = c.request as ComputeRequest & { optimizer?: { name: string; anchor?: Float32Array } };
        const role = r.kind === 'gradient' ? 'anchor' : 'miner';
        work.push({ id: 's', role, phase: -1, at: c.round - 1, v: r.kind === 'train' ? r.optimizer.anchor : undefined, compute: c.id, params: r.params });
      }
      if (work.length === 0) continue;
      const round = work[0].at + 1;
      const miners = work.filter((w) => w.role === 'miner');
      const v = meanBullseye(this.expected);
      for (const m of miners) expect(Array.from(m.v!)).toEqual(Array.from(v!));
      const before = this.server.currentParams();
      const deltas: Float32Array[] = [];
      for (const w of work.sort((a, b) => (a.id < b.id ? -1 : 1))) {
        if (w.role === 'anchor') {
          const b = this.bullseyeOf(w.id, round);
          this.expected.set(w.id, b);
          this.queue.push(...(w.compute ? this.server.handle({ kind: 'computed', id: w.compute, result: { kind: 'gradient', gradient: b, loss: 0, samples: 10 } }, 0) : bullseye(this.server, w.id, w.phase, b)));
        } else {
          const d = this.deltaOf(w.id, round);
          deltas.push(d);
          const params = w.params.map((x, i) => x - d[i]);
          this.queue.push(...(w.compute ? this.server.handle({ kind: 'computed', id: w.compute, result: { kind: 'train', params, loss: 0, steps: 1, samplesSeen: 10 } }, 0) : delta(this.server, w.id, w.phase, d)));
        }
      }
      this.rounds.push({ anchors: work.filter((w) => w.role === 'anchor').map((w) => w.id), miners: miners.map((w) => w.id), before, after: this.server.currentParams(), deltas });
    }
  }
}

describe('FedAMD server arithmetic', () => {
  it('v is the plain mean of the bullseyes, whatever order they came in', () => {
    const a = new Map([
      ['n2', vec(3, 0)],
      ['n10', vec(0, 6)],
      ['n1', vec(3, 3)],
    ]);
    expect(Array.from(meanBullseye(a)!)).toEqual([2, 3]);
    expect(meanBullseye(new Map())).toBeNull();
  });

  it('the server step is θ − η_g · mean(Δ)', () => {
    expect(Array.from(serverStep(vec(1, 1), [vec(2, 0), vec(0, 4)], 0.5))).toEqual([0.5, 0]);
    expect(() => serverStep(vec(1, 1), [], 1)).toThrow(/miner/);
  });

  it('roles: p = 0 makes every client with a bullseye a miner, p = 1 every client an anchor; a client without one is always an anchor', () => {
    const has = (id: string) => id !== 'new';
    const rng = () => Rng.seed(3);
    expect([...drawRoles(['a', 'b', 'new'], has, 0, rng()).entries()]).toEqual([
      ['a', 'miner'],
      ['b', 'miner'],
      ['new', 'anchor'],
    ]);
    expect([...drawRoles(['a', 'b'], has, 1, rng()).values()]).toEqual(['anchor', 'anchor']);
    // Over many draws, about p of the clients are anchors.
    let anchors = 0;
    const ids = Array.from({ length: 2000 }, (_, i) => `c${i}`);
    for (const r of drawRoles(ids, () => true, 0.2, rng()).values()) if (r === 'anchor') anchors++;
    expect(anchors / ids.length).toBeGreaterThan(0.17);
    expect(anchors / ids.length).toBeLessThan(0.23);
  });

  it('the optimal p minimizes the reference objective (about 0.81 for 10 of 20 clients)', () => {
    for (const [n, a] of [
      [20, 10],
      [100, 10],
      [4, 2],
      [5, 1],
      [8, 8],
    ]) {
      const p = optimalAnchorProb(n, a);
      let best = Infinity;
      let arg = NaN;
      for (let x = 0.0005; x < 1; x += 0.0005) {
        const f = anchorObjective(x, n, a);
        if (f < best) [best, arg] = [f, x];
      }
      expect(Math.abs(p - arg)).toBeLessThan(1e-3);
      expect(anchorObjective(p, n, a)).toBeLessThanOrEqual(best + 1e-9);
    }
    expect(optimalAnchorProb(20, 10)).toBeCloseTo(0.81, 2);
  });
});

describe('FedAMD keys', () => {
  it('anchorProb is a probability or auto, and a link carries either back exactly', () => {
    expect(parseConfig({ algo: 'fedamd' }).anchorProb).toBe('auto');
    for (const value of ['auto', '0.35', '0', '1']) {
      const c = parseConfig({ algo: 'fedamd', anchorProb: value });
      expect(c.anchorProb).toBe(value === 'auto' ? 'auto' : Number(value));
      expect(parseHash(configToShortHash(c))).toEqual(c);
    }
    for (const bad of ['2', '-0.1', 'x', '']) expect(() => parseConfig({ algo: 'fedamd', anchorProb: bad })).toThrow('anchorProb must be auto or a number from 0 to 1');
  });
});

describe('FedAMD rounds (sans-I/O)', () => {
  const peers = ['a', 'b', 'c'];
  const bullseyeOf = (id: NodeId, round: number) => vec(id.charCodeAt(0) + round, -round);
  const deltaOf = (id: NodeId, round: number) => vec(0.01 * id.charCodeAt(0), 0.001 * round);

  it('opens with every client an anchor at θ₀, no update; miners then carry the mean of the bullseyes', () => {
    const s = node('s', peers, { participation: 1, anchorProb: 0 });
    const room = new Room(s, bullseyeOf, deltaOf);
    const start = room.start();
    expect(tasksIn(start).map((t) => [t.to, t.role, t.at, t.v])).toEqual([
      ['a', 'anchor', 0, undefined],
      ['b', 'anchor', 0, undefined],
      ['c', 'anchor', 0, undefined],
    ]);
    expect(computes(start).map((c) => c.request.kind)).toEqual(['gradient']);
    expect(models(start)).toEqual([]);
    // p = 0 and everyone sampled: after the bullseye phase every round is all miners.
    expect(room.rounds[0].anchors.sort()).toEqual(['a', 'b', 'c', 's']);
    expect(room.rounds[0].after).toEqual(room.rounds[0].before);
    for (const r of room.rounds.slice(1)) expect(r.miners.sort()).toEqual(['a', 'b', 'c', 's']);
    expect(s.round).toBe(10);
  });

  it('anchors replace their bullseyes (v follows), and θ moves by η_g times the mean of the miners’ deltas only', () => {
    const s = node('s', peers, { participation: 0.75, anchorProb: 0.5, serverLr: 0.5, rounds: 30 });
    const room = new Room(s, bullseyeOf, deltaOf);
    room.start();
    expect(s.round).toBe(30);
    const regular = room.rounds.slice(1);
    expect(regular).toHaveLength(30);
    // The Room checked each miner's v against the bullseyes it sent; make sure that check had teeth.
    const mixed = regular.filter((r) => r.anchors.length > 0 && r.miners.length > 0);
    expect(mixed.length).toBeGreaterThan(5);
    for (const r of regular) {
      expect(r.anchors.length + r.miners.length).toBe(3);
      const expected = r.deltas.length ? serverStep(r.before, r.deltas, 0.5) : r.before;
      // The server's own Δ is θ − (θ − Δ) in float32: equal to a few ulps.
      expect(maxAbsDiff(r.after, expected)).toBeLessThan(1e-6);
    }
    const onlyAnchors = regular.filter((r) => r.miners.length === 0);
    for (const r of onlyAnchors) expect(r.after).toEqual(r.before);
  });

  it('refuses answers from clients it did not sample, for another task, of the wrong kind, twice, or malformed', () => {
    const s = node('s', peers, { participation: 1, anchorProb: 0 });
    const start = s.handle({ kind: 'start' }, 0);
    const phase0 = tasksIn(start)[0].phase;
    expect(rejects(bullseye(s, 'x', phase0, vec(1, 1)))).toEqual(['bullseye from a node this server has no task out for']);
    expect(rejects(bullseye(s, 'a', phase0 + 5, vec(1, 1)))).toEqual([`bullseye for task ${phase0 + 5}, which this server did not give this client lately`]);
    expect(rejects(delta(s, 'a', phase0, vec(1, 1)))).toEqual(['update from a client sampled as an anchor']);
    expect(rejects(bullseye(s, 'a', phase0, vec(1, NaN)))).toEqual(['bullseye with 2 values, or non-finite ones']);
    expect(rejects(bullseye(s, 'a', phase0, vec(1, 2, 3)))).toEqual(['bullseye with 3 values, or non-finite ones']);
    expect(rejects(bullseye(s, 'a', phase0, vec(1, 1)))).toEqual([]);
    expect(rejects(bullseye(s, 'a', phase0, vec(1, 1)))).toEqual([`duplicate bullseye for task ${phase0}`]);
    // None of the refused ones counted: the phase still waits for b, c and the server.
    for (const id of ['b', 'c']) bullseye(s, id, phase0, vec(1, 1));
    expect(s.round).toBe(0);
    const own = computes(start)[0];
    const next = s.handle({ kind: 'computed', id: own.id, result: { kind: 'gradient', gradient: vec(1, 1), loss: 0, samples: 10 } }, 0);
    const miners = tasksIn(next);
    expect(miners.map((t) => t.role)).toEqual(['miner', 'miner', 'miner']);
    // An anchor's answer from a miner; a non-coordinator takes no answers.
    expect(rejects(bullseye(s, 'b', miners[1].phase, vec(1, 1)))).toEqual(['bullseye from a client sampled as a miner']);
    const a = node('a', ['s', 'b']);
    a.handle({ kind: 'roster', peers: ['s', 'b'], coordinator: 's' }, 0);
    expect(rejects(delta(a, 'b', 0, vec(1, 1)))).toEqual(['update sent to a non-coordinator']);
  });

  it('a client takes tasks only from its coordinator, newer, within the run, with v exactly when it mines', () => {
    const a = node('a', ['s', 'b']);
    a.handle({ kind: 'roster', peers: ['s', 'b'], coordinator: 's' }, 0);
    expect(rejects(task(a, 'b', { at: 0, phase: 0 }))).toEqual(['task from a non-coordinator']);
    expect(rejects(task(a, 's', { at: 10, phase: 0 }))).toEqual(['task at round 10, the run has 10 rounds']);
    expect(rejects(task(a, 's', { at: 0, phase: 0, role: 'miner' }))).toEqual(['miner task without the mean bullseye']);
    expect(rejects(task(a, 's', { at: 0, phase: 0, v: vec(1, 1) }))).toEqual(['anchor task carrying a mean bullseye']);
    const ok = task(a, 's', { at: 3, phase: 4 });
    expect(rejects(ok)).toEqual([]);
    expect(computes(ok).map((c) => c.request.kind)).toEqual(['gradient']);
    expect(rejects(task(a, 's', { at: 3, phase: 4 }))).toEqual(['task 4, not newer than the last one (4)']);
    expect(rejects(task(a, 's', { at: 2, phase: 5 }))).toEqual(["task at round 2, behind the last task's round 3"]);
    const mine = task(a, 's', { at: 3, phase: 6, role: 'miner', v: vec(0.5, -0.5) });
    expect(rejects(mine)).toEqual([]);
    const req = computes(mine)[0].request;
    expect(req.kind === 'train' && req.optimizer).toEqual({ name: 'sarah', anchor: vec(0.5, -0.5) });
    expect(req).toMatchObject({ steps: 10, batch: 10 });
    // minerSteps = 0: the room's own local work (here one epoch).
    const b = node('b', ['s'], { minerSteps: 0, batch: 5 });
    b.handle({ kind: 'roster', peers: ['s'], coordinator: 's' }, 0);
    expect(computes(task(b, 's', { at: 0, phase: 0, role: 'miner', v: vec(0, 0) }))[0].request).toMatchObject({ steps: 0, epochs: 1, batch: 5 });
    expect(a.round).toBe(3);
    expect(rejects(a.handle({ kind: 'message', from: 'b', msg: { type: 'fedamd/done', round: 10, params: vec(0, 0) } }, 0))).toEqual(['done from a non-coordinator']);
    expect(rejects(a.handle({ kind: 'message', from: 's', msg: { type: 'fedamd/done', round: 4, params: vec(0, 0) } }, 0))).toEqual(['done at round 4, the run has 10 rounds']);
  });

  it('a miner sends Δ = θ − x_K and an anchor its gradient, for the task they were given', () => {
    const a = node('a', ['s']);
    a.handle({ kind: 'roster', peers: ['s'], coordinator: 's' }, 0);
    const mine = computes(task(a, 's', { at: 2, phase: 7, role: 'miner', params: vec(1, 1), v: vec(1, 1) }))[0];
    const sent = a.handle({ kind: 'computed', id: mine.id, result: { kind: 'train', params: vec(0.75, 1.5), loss: 0, steps: 3, samplesSeen: 30 } }, 0);
    expect(sent).toContainEqual({ kind: 'send', to: 's', msg: { type: 'fedamd/delta', phase: 7, delta: vec(0.25, -0.5) } });
    const anchor = computes(task(a, 's', { at: 3, phase: 8 }))[0];
    const b = a.handle({ kind: 'computed', id: anchor.id, result: { kind: 'gradient', gradient: vec(3, 4), loss: 0, samples: 10 } }, 0);
    expect(b).toContainEqual({ kind: 'send', to: 's', msg: { type: 'fedamd/bullseye', phase: 8, gradient: vec(3, 4) } });
    // A result that is not finite is not sent.
    const again = computes(task(a, 's', { at: 3, phase: 9 }))[0];
    const nan = a.handle({ kind: 'computed', id: again.id, result: { kind: 'gradient', gradient: vec(NaN, 4), loss: 0, samples: 10 } }, 0);
    expect(nan.filter((x) => x.kind === 'send')).toEqual([]);
  });

  it('the codec refuses a non-finite or wrongly sized answer before the protocol sees it', () => {
    const bad = encodeMessage({ type: 'fedamd/delta', phase: 0, delta: vec(1, NaN) }, fedamdSchemas);
    expect(decodeMessage(bad, fedamdSchemas, 2)).toMatchObject({ ok: false, reason: 'non-finite' });
    const short = encodeMessage({ type: 'fedamd/bullseye', phase: 0, gradient: vec(1) }, fedamdSchemas);
    expect(decodeMessage(short, fedamdSchemas, 2)).toMatchObject({ ok: false, reason: 'bad-length' });
    const role = encodeMessage({ type: 'fedamd/task', at: 0, phase: 0, role: 'boss', params: vec(1, 1) }, fedamdSchemas);
    expect(decodeMessage(role, fedamdSchemas, 2)).toMatchObject({ ok: false, reason: 'bad-header' });
    const good = encodeMessage({ type: 'fedamd/task', at: 1, phase: 2, role: 'miner', params: vec(1, 1), v: vec(0, 1) }, fedamdSchemas);
    expect(decodeMessage(good, fedamdSchemas, 2)).toMatchObject({ ok: true, msg: { role: 'miner', v: vec(0, 1) } });
  });
});

describe('FedAMD churn (sans-I/O)', () => {
  /** A server past its bullseye phase (everyone answered with b = (1, 1)), with the first round's tasks. */
  function pastBullseyes(input: ConfigInput): { s: FedAMD; round1: ProtocolAction[] } {
    const s = node('s', ['a', 'b', 'c'], { participation: 1, anchorProb: 0, roundTimeout: 500, ...input });
    const start = s.handle({ kind: 'start' }, 0);
    const phase = tasksIn(start)[0].phase;
    for (const id of ['a', 'b', 'c']) bullseye(s, id, phase, vec(1, 1));
    const round1 = s.handle({ kind: 'computed', id: computes(start)[0].id, result: { kind: 'gradient', gradient: vec(1, 1), loss: 0, samples: 10 } }, 0);
    return { s, round1 };
  }
  const ownDelta = (s: FedAMD, acts: ProtocolAction[], d: Float32Array) => {
    const c = computes(acts)[0];
    const params = (c.request as { params: Float32Array }).params.map((x, i) => x - d[i]);
    return s.handle({ kind: 'computed', id: c.id, result: { kind: 'train', params, loss: 0, steps: 1, samplesSeen: 10 } }, 0);
  };

  it('a sampled client that leaves mid-round is not waited for; its bullseye leaves v', () => {
    const { s, round1 } = pastBullseyes({});
    const [ta, tb] = tasksIn(round1);
    delta(s, 'a', ta.phase, vec(0.5, 0.5));
    delta(s, 'b', tb.phase, vec(0.5, 0.5));
    ownDelta(s, round1, vec(0.5, 0.5));
    expect(s.round).toBe(0);
    const r = s.handle({ kind: 'roster', peers: ['a', 'b'], coordinator: 's' }, 0);
    expect(models(r).map((m) => m.round)).toEqual([1]);
    expect(Array.from(s.currentParams())).toEqual([0.5, 1.5]);
    expect(tasksIn(r).map((t) => t.to)).toEqual(['a', 'b']);
    // c's answer, if it still came, is not taken.
    expect(rejects(delta(s, 'c', tasksIn(round1)[2].phase, vec(1, 1)))).toEqual(['update from a node this server has no task out for']);
  });

  it('a silent client: the round goes on at the timeout with who answered; its late update is dropped, not refused', () => {
    const { s, round1 } = pastBullseyes({});
    const [ta, tb, tc] = tasksIn(round1);
    expect(round1).toContainEqual({ kind: 'setTimer', id: `phase:${ta.phase}`, afterMs: 500 });
    delta(s, 'a', ta.phase, vec(1, 1));
    delta(s, 'b', tb.phase, vec(3, 3));
    const t = s.handle({ kind: 'timer', id: `phase:${ta.phase}` }, 500);
    expect(models(t).map((m) => m.round)).toEqual([1]);
    expect(Array.from(s.currentParams())).toEqual([-1, 0]);
    const late = delta(s, 'c', tc.phase, vec(9, 9));
    expect(rejects(late)).toEqual([]);
    expect(s.lateAnswers).toBe(1);
    expect(Array.from(s.currentParams())).toEqual([-1, 0]);
  });

  it('a round nobody answered is sampled again, not counted', () => {
    const { s, round1 } = pastBullseyes({});
    const phase = tasksIn(round1)[0].phase;
    const t = s.handle({ kind: 'timer', id: `phase:${phase}` }, 500);
    expect(models(t)).toEqual([]);
    expect(s.round).toBe(0);
    const again = tasksIn(t);
    expect(again).toHaveLength(3);
    expect(again[0].phase).toBeGreaterThan(phase);
    // An answer to the abandoned task is late: dropped, not refused; the new task still waits for its own.
    expect(rejects(delta(s, 'a', phase, vec(1, 1)))).toEqual([]);
    expect(s.lateAnswers).toBe(1);
    expect(s.round).toBe(0);
    expect(rejects(delta(s, 'a', again[0].phase, vec(1, 1)))).toEqual([]);
  });

  it('a joiner has no bullseye yet: it is an anchor whenever it is sampled, until it sent one', () => {
    const { s, round1 } = pastBullseyes({});
    s.handle({ kind: 'roster', peers: ['a', 'b', 'c', 'j'], coordinator: 's' }, 0);
    for (const t of tasksIn(round1)) delta(s, t.to, t.phase, vec(0, 0));
    const round2 = ownDelta(s, round1, vec(0, 0));
    const tasks = tasksIn(round2);
    expect(tasks.find((t) => t.to === 'j')?.role).toBe('anchor');
    expect(tasks.filter((t) => t.to !== 'j').every((t) => t.role === 'miner')).toBe(true);
    // v is still the mean over the three clients and the server: (1, 1).
    expect(Array.from(tasks.find((t) => t.to === 'a')!.v!)).toEqual([1, 1]);
  });

  it('when the coordinator leaves, the new one opens with a bullseye phase at the last model it saw', () => {
    const c = node('c', ['s', 'a', 'b']);
    c.handle({ kind: 'roster', peers: ['s', 'a', 'b'], coordinator: 's' }, 0);
    c.handle({ kind: 'start' }, 0);
    task(c, 's', { at: 3, phase: 9, params: vec(7, 8) });
    const r = c.handle({ kind: 'roster', peers: ['a', 'b'], coordinator: 'c' }, 0);
    expect(r).toContainEqual({ kind: 'log', text: 'became the server at round 3' });
    expect(tasksIn(r).map((t) => [t.to, t.role, t.at, Array.from(t.params)])).toEqual([
      ['a', 'anchor', 3, [7, 8]],
      ['b', 'anchor', 3, [7, 8]],
    ]);
    expect(c.round).toBe(3);
    // A client follows the new coordinator from its first task; the old one's late tasks are ignored.
    const a = node('a', ['s', 'c', 'b']);
    a.handle({ kind: 'roster', peers: ['s', 'c', 'b'], coordinator: 's' }, 0);
    task(a, 's', { at: 3, phase: 9 });
    a.handle({ kind: 'roster', peers: ['c', 'b'], coordinator: 'c' }, 0);
    expect(rejects(task(a, 'c', { at: 3, phase: 0 }))).toEqual([]);
    const late = task(a, 's', { at: 4, phase: 10 });
    expect(rejects(late)).toEqual([]);
    expect(computes(late)).toEqual([]);
  });
});

// ─── the simulator, real tfjs training ────────────────────────────────────────────────────────

let world: BlobsWorld;

beforeAll(async () => {
  world = await blobsWorld(800);
});

function globalsOf(input: ConfigInput): { sim: Simulation; globals: Map<number, Float32Array> } {
  const sim = world.simulation(input);
  const globals = new Map<number, Float32Array>();
  sim.onAction = (n, a) => {
    if (n === sim.coordinator && a.kind === 'model' && a.scope === 'global') globals.set(a.round, a.params);
  };
  sim.run();
  expect(sim.summary().rejected).toEqual({});
  return { sim, globals };
}

describe('FedAMD oracles (real tfjs training)', () => {
  it('K = 1, every client a miner, v the true mean gradient: round 1 is one full-batch gradient step (FedSGD)', () => {
    const base = { nodes: 4, rounds: 2, partition: 'iid', lr: 0.3 } as const;
    const fedsgd = globalsOf({ ...base, algo: 'fedavg', fraction: 1, epochs: 1, batch: 'inf' });
    const amd = globalsOf({ ...base, algo: 'fedamd', participation: 1, anchorProb: 0, minerSteps: 1, batch: 10 });
    expect(new Set(amd.sim.nodes.map((n) => n.shard.n)).size).toBe(1);
    const a = fedsgd.globals.get(1)!;
    const b = amd.globals.get(1)!;
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
    expect(maxAbsDiff(b, amd.sim.sharedInit)).toBeGreaterThan(1e-3);
  });

  it('with more steps the miners’ SARAH correction matters: K = 5 is not five steps along v', () => {
    const amd = globalsOf({ nodes: 4, rounds: 1, partition: 'iid', lr: 0.3, algo: 'fedamd', participation: 1, anchorProb: 0, minerSteps: 5, batch: 10 });
    const one = globalsOf({ nodes: 4, rounds: 1, partition: 'iid', lr: 0.3, algo: 'fedamd', participation: 1, anchorProb: 0, minerSteps: 1, batch: 10 });
    // Five steps along v alone would move exactly five times as far as one.
    const init = amd.sim.sharedInit;
    const alongV = init.map((w, i) => w + 5 * (one.globals.get(1)![i] - w));
    expect(maxAbsDiff(amd.globals.get(1)!, alongV)).toBeGreaterThan(1e-4);
  });
});

describe('FedAMD in the simulator', () => {
  for (const partition of ['dirichlet:0.5', 'dirichlet:0.1']) {
    it(`reaches at least 85% on ${partition} blobs with 20 nodes and the default keys`, () => {
      const sim = world.simulation({ algo: 'fedamd', nodes: 20, partition });
      sim.run();
      expect(sim.summary().rejected).toEqual({});
      expect(sim.rows.map((r) => r.round)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(sim.rows.at(-1)!.accuracy).toBeGreaterThanOrEqual(0.85);
    });
  }

  it('nodes that vanish mid-run: rounds go on after the timeout; joiners take part', () => {
    const worked = new Set<string>();
    const sim = world.simulation({ algo: 'fedamd', nodes: 10, rounds: 10, participation: 0.6, churn: '0.5@2,join:3@4', roundTimeout: 2000 });
    sim.onAction = (n, a) => {
      if (a.kind === 'compute') worked.add(n);
    };
    sim.run();
    const s = sim.summary();
    expect(s.rejected).toEqual({});
    expect(s.stopReason).toBe('rounds');
    expect(sim.rows.map((r) => r.round)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(sim.rows.at(-1)!.liveNodes).toBe(8);
    for (const id of ['n10', 'n11', 'n12']) expect(worked.has(id)).toBe(true);
    expect(sim.rows.at(-1)!.accuracy).toBeGreaterThanOrEqual(0.85);
  });

  it('the coordinator leaving mid-run: another node takes over from its last model and every survivor ends done', () => {
    const sim = world.simulation({ algo: 'fedamd', nodes: 6, rounds: 8 });
    let tookOver = -1;
    sim.onRow((row) => {
      if (row.round !== 3) return;
      sim.nodes[0].host!.kill();
      const live = sim.liveNodes().map((n) => n.id);
      for (const n of sim.liveNodes()) n.host!.roster(live.filter((p) => p !== n.id), 'n1');
      tookOver = sim.nodes[1].host!.protocol.round;
    });
    const done = new Set<string>();
    sim.onAction = (n, a) => {
      if (a.kind === 'done') done.add(n);
    };
    sim.run();
    for (let i = 0; i < 1000 && sim.clock.step(); i++);
    expect(tookOver).toBeGreaterThanOrEqual(0);
    expect(tookOver).toBeLessThanOrEqual(3);
    expect(sim.summary().rejected).toEqual({});
    expect(sim.rows.map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...done].sort()).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    const last = sim.nodes[1].host!.protocol.currentParams()!;
    for (const n of sim.liveNodes()) expect(maxAbsDiff(n.host!.protocol.currentParams()!, last)).toBe(0);
  });
});
