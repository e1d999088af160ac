import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import type { ModelSpec } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import { decodeMessage, encodeMessage, type Message } from '../../src/core/wire/codec.ts';
import '../../src/protocols/index.ts';
import type { NodeId, ProtocolAction } from '../../src/protocols/protocol.ts';
import { tokenSchemas } from '../../src/protocols/token/messages.ts';
import { TokenWalk } from '../../src/protocols/token/token.ts';
import type { Simulation, SimSummary } from '../../src/sim/simulation.ts';
import { blobsWorld, type BlobsWorld } from '../support/blobs.ts';

// ─── a sans-I/O harness: token nodes fed events by hand ──────────────────────────────────────
// Five nodes on a ring (n0 ~ n1, n4; n1 ~ n0, n2; …); roundTimeout T = 8000, so an ack waits
// T/8 = 1000 ms, the holder repeats its beacon every T/3, silence of T/2 makes a node doubt the
// holder, the watchdog fires after T and the recovery unit is T/20 = 400 ms.

const IDS = ['n0', 'n1', 'n2', 'n3', 'n4'];
const T = 8000;

function node(id: NodeId, input: ConfigInput = {}): TokenWalk {
  const config = parseConfig({ algo: 'token', rounds: 20, topology: 'ring', roundTimeout: T, alpha: 5, ...input });
  return new TokenWalk({ id, config, spec: {} as ModelSpec, samples: 10, maxSamples: 10, rng: Rng.seed(1).split(id), initialParams: Float32Array.from([0, 0]), peers: IDS.filter((p) => p !== id) });
}

const vec = (...v: number[]) => Float32Array.from(v);
const msg = (p: TokenWalk, from: NodeId, m: Message, now = 0) => p.handle({ kind: 'message', from, msg: m }, now);
const passMsg = (epoch: number, step: number, visits: Record<string, number>, gone = 0, params = vec(1, 1)): Message => ({
  type: 'token/pass',
  epoch,
  step,
  visits: { ids: Object.keys(visits), n: Object.values(visits) },
  gone,
  params,
});
const beacon = (p: TokenWalk, from: NodeId, epoch: number, step: number, now = 0) => msg(p, from, { type: 'token/beacon', epoch, step }, now);
const timer = (p: TokenWalk, id: string, now: number) => p.handle({ kind: 'timer', id }, now);
const sends = (acts: ProtocolAction[], type: string) => acts.flatMap((a) => (a.kind === 'send' && a.msg.type === type ? [{ to: a.to, msg: a.msg }] : []));
const rejects = (acts: ProtocolAction[]) => acts.flatMap((a) => (a.kind === 'reject' ? [a.reason] : []));
const computes = (acts: ProtocolAction[]) => acts.flatMap((a) => (a.kind === 'compute' ? [a] : []));
const models = (acts: ProtocolAction[]) => acts.flatMap((a) => (a.kind === 'model' ? [a] : []));
const timers = (acts: ProtocolAction[]) => acts.flatMap((a) => (a.kind === 'setTimer' ? [a] : []));
const acks = (acts: ProtocolAction[]) => sends(acts, 'token/ack').map((s) => ({ to: s.to, epoch: s.msg.epoch, step: s.msg.step, taken: s.msg.taken }));
/** Answers the node's (only) pending training with these params. */
function trained(p: TokenWalk, acts: ProtocolAction[], params = vec(2, 2), now = 0): ProtocolAction[] {
  const [c] = computes(acts);
  return p.handle({ kind: 'computed', id: c.id, result: { kind: 'train', params, loss: 0, steps: 1, samplesSeen: 10 } }, now);
}
/** A started node that has heard n0 beacon step 0 and n3 beacon step 1: it knows the walk, and that n3 holds it. */
function follower(id: NodeId, input: ConfigInput = {}): TokenWalk {
  const p = node(id, input);
  p.handle({ kind: 'start' }, 0);
  beacon(p, 'n0', 0, 0);
  beacon(p, 'n3', 0, 1);
  return p;
}
/** The pass n3 makes after training step 1 → 2. */
const fromN3 = () => passMsg(0, 2, { n0: 1, n3: 1 });

describe('token walk (sans-I/O)', () => {
  it('starts at the lowest id, which beacons to everyone and trains; the others wait', () => {
    const first = node('n0');
    const a = first.handle({ kind: 'start' }, 0);
    expect(sends(a, 'token/beacon').map((s) => s.to)).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(computes(a).map((c) => c.round)).toEqual([1]);
    expect(models(a).map((m) => [m.round, m.scope])).toEqual([[0, 'global'], [0, 'global']]);
    const other = node('n2');
    const b = other.handle({ kind: 'start' }, 0);
    expect(computes(b)).toEqual([]);
    expect(sends(b, 'token/beacon')).toEqual([]);
  });

  it('starts at the room coordinator when there is one', () => {
    const p = node('n3');
    p.handle({ kind: 'roster', peers: IDS.filter((x) => x !== 'n3'), coordinator: 'n3' }, 0);
    expect(computes(p.handle({ kind: 'start' }, 0))).toHaveLength(1);
    const q = node('n0');
    q.handle({ kind: 'roster', peers: IDS.filter((x) => x !== 'n0'), coordinator: 'n3' }, 0);
    expect(computes(q.handle({ kind: 'start' }, 0))).toHaveLength(0);
  });

  it('after training counts its visit and hands the token to a ring neighbour, then waits for the ack', () => {
    const p = node('n0');
    const after = trained(p, p.handle({ kind: 'start' }, 0), vec(3, 4));
    const [pass] = sends(after, 'token/pass');
    expect(['n1', 'n4']).toContain(pass.to);
    expect(pass.msg).toMatchObject({ epoch: 0, step: 1, visits: { ids: ['n0'], n: [1] }, gone: 0 });
    expect(Array.from(pass.msg.params!)).toEqual([3, 4]);
    expect(models(after).map((m) => m.round)).toEqual([1]);
    expect(timers(after).map((t) => [t.id, t.afterMs])).toContainEqual(['ack', T / 8]);
    expect(p.lastToken.step).toBe(1);
  });

  it('takes a pass, acks it, beacons to everyone and trains; the walk repels from the visited neighbour', () => {
    const p = node('n2', { alpha: 50 });
    p.handle({ kind: 'start' }, 0);
    const a = msg(p, 'n1', passMsg(0, 6, { n1: 3, n3: 2, n0: 1 }));
    expect(rejects(a)).toEqual([]);
    expect(acks(a)).toEqual([{ to: 'n1', epoch: 0, step: 6, taken: 1 }]);
    expect(sends(a, 'token/beacon').map((s) => s.to)).toEqual(['n0', 'n1', 'n3', 'n4']);
    expect(computes(a).map((c) => c.round)).toEqual([7]);
    const b = trained(p, a);
    const [pass] = sends(b, 'token/pass');
    // n1 was visited 3 times, n3 twice: (4/3)^50 ≈ 2·10⁶ to 1 for n3.
    expect(pass.to).toBe('n3');
    expect(pass.msg).toMatchObject({ step: 7, visits: { ids: ['n0', 'n1', 'n2', 'n3'], n: [1, 3, 1, 2] } });
    expect(p.report().perNode!.counts).toEqual({ n0: 1, n1: 3, n2: 1, n3: 2, n4: 0 });
  });

  it('the ack ends the hand-off and moves the claim to the receiver; a late repeat of the ack is no lie, a made-up one is', () => {
    const p = node('n0');
    const after = trained(p, p.handle({ kind: 'start' }, 0));
    const to = sends(after, 'token/pass')[0].to;
    const a = msg(p, to, { type: 'token/ack', epoch: 0, step: 1, taken: 1 }, 50);
    expect(a).toContainEqual({ kind: 'clearTimer', id: 'ack' });
    expect(p.claim).toEqual({ epoch: 0, step: 1, holder: to });
    expect(rejects(msg(p, to, { type: 'token/ack', epoch: 0, step: 1, taken: 1 }, 60))).toEqual([]);
    expect(rejects(msg(p, 'n2', { type: 'token/ack', epoch: 0, step: 1, taken: 1 }, 60))).toHaveLength(1);
    expect(rejects(msg(p, to, { type: 'token/ack', epoch: 0, step: 5, taken: 1 }, 60))).toHaveLength(1);
  });

  it('refuses claims it cannot believe, and a refused pass changes nothing', () => {
    const p = follower('n2');
    const bad: [NodeId, Message, RegExp][] = [
      ['n4', fromN3(), /neither a neighbour nor the holder of step 1/],
      ['n1', fromN3(), /n1 did not hold step 1 \(n3 did\)/],
      ['n3', passMsg(0, 12, { n3: 12 }), /more than 8 beyond step 1/],
      ['n3', passMsg(0, 21, { n3: 21 }), /beyond the last step 20/],
      ['n3', passMsg(1, 2, { n3: 2 }), /epoch 1 while the walk of epoch 0 is alive/],
      ['n3', passMsg(0, 2, { n3: 1, x9: 1 }), /unknown node x9/],
      ['n3', passMsg(0, 2, { n3: 1 }), /sum to 1, not the step 2/],
      ['n3', passMsg(0, 2, { n3: 1 }, 2), /sum to 3, not the step 2/],
      ['n3', passMsg(0, 2, { n3: 3 }), /3 visits of n3 in 2 steps/],
      ['n3', { ...passMsg(0, 2, {}), visits: { ids: ['n3', 'n3'], n: [1, 1] } }, /n3 twice/],
      ['n3', { type: 'token/beacon', epoch: 0, step: 12 }, /more than 8 beyond/],
      ['n3', { type: 'token/beacon', epoch: 1, step: 0 }, /epoch 1 while/],
      ['n3', { type: 'token/done', epoch: 0, step: 7, params: vec(0, 0) }, /not the last step 20/],
      ['n3', { type: 'token/ack', epoch: 0, step: 1, taken: 1 }, /did not pass/],
      ['n3', { type: 'fedavg/train', round: 1 }, /unexpected/],
    ];
    for (const [from, m, why] of bad) {
      const a = msg(p, from, m, 100);
      const r = rejects(a);
      expect(r, `${m.type} from ${from}`).toHaveLength(1);
      expect(r[0]).toMatch(why);
      expect(computes(a)).toEqual([]);
    }
    // The re-injection it did not believe is answered "not taken", so an honest sender that lost track drops its copy.
    expect(acks(msg(p, 'n3', passMsg(1, 2, { n3: 2 }), 100))).toEqual([{ to: 'n3', epoch: 1, step: 2, taken: 0 }]);
    // The honest pass still goes through.
    const ok = msg(p, 'n3', fromN3(), 100);
    expect(rejects(ok)).toEqual([]);
    expect(computes(ok)).toHaveLength(1);
  });

  it('acks a repeated pass again without training twice; acks a stale one as not taken', () => {
    const p = follower('n2');
    const first = msg(p, 'n3', fromN3(), 10);
    expect(computes(first)).toHaveLength(1);
    const again = msg(p, 'n3', fromN3(), 20);
    expect(acks(again)).toEqual([{ to: 'n3', epoch: 0, step: 2, taken: 1 }]);
    expect(computes(again)).toEqual([]);
    // The same pass after another copy of the walk got further (n1 at step 5): a duplicate that lost the race.
    const q = follower('n2');
    beacon(q, 'n1', 0, 5, 30);
    const stale = msg(q, 'n3', fromN3(), 40);
    expect(rejects(stale)).toEqual([]);
    expect(acks(stale)).toEqual([{ to: 'n3', epoch: 0, step: 2, taken: 0 }]);
    expect(computes(stale)).toEqual([]);
  });

  it('two copies: a holder drops its copy for a fresher claim (later step, or the same step at a lower id)', () => {
    const p = follower('n2');
    const held = msg(p, 'n3', fromN3(), 10);
    expect(p.isHolding).toBe(true);
    expect(beacon(p, 'n1', 0, 3, 20)).toContainEqual({ kind: 'clearTimer', id: 'alive' });
    expect(p.isHolding).toBe(false);
    // The training it dropped finishes: nothing is passed on.
    expect(sends(trained(p, held), 'token/pass')).toEqual([]);
    // Same step: the lower holder id wins, on both sides. (n1 takes n3's pass although n3 is no ring
    // neighbour of it: n3 beaconed step 1, so it held the token.)
    const low = follower('n1');
    expect(computes(msg(low, 'n3', fromN3(), 10))).toHaveLength(1);
    beacon(low, 'n4', 0, 2, 20);
    expect(low.isHolding).toBe(true);
    expect(low.claim?.holder).toBe('n1');
    const high = follower('n4');
    expect(computes(msg(high, 'n3', fromN3(), 10))).toHaveLength(1);
    beacon(high, 'n1', 0, 2, 20);
    expect(high.isHolding).toBe(false);
    expect(high.claim?.holder).toBe('n1');
  });

  it('a pass nobody acks is sent again, then the neighbour is skipped; with both ring neighbours out it goes to any live node', () => {
    const p = node('n0');
    const after = trained(p, p.handle({ kind: 'start' }, 0));
    const first = sends(after, 'token/pass')[0].to;
    const other = first === 'n1' ? 'n4' : 'n1';
    expect(sends(timer(p, 'ack', 1000), 'token/pass').map((s) => s.to)).toEqual([first]);
    expect(sends(timer(p, 'ack', 2000), 'token/pass').map((s) => s.to)).toEqual([first]);
    const next = timer(p, 'ack', 3000);
    expect(sends(next, 'token/pass').map((s) => s.to)).toEqual([other]);
    for (let t = 4000; t <= 5000; t += 1000) timer(p, 'ack', t);
    const far = sends(timer(p, 'ack', 6000), 'token/pass');
    expect(far).toHaveLength(1);
    expect(['n2', 'n3']).toContain(far[0].to);
  });

  it('a holder that leaves the room: its predecessor re-injects its copy first, under the next epoch, and the others stand down', () => {
    const n0 = node('n0');
    const pass = sends(trained(n0, n0.handle({ kind: 'start' }, 0), vec(5, 5)), 'token/pass')[0];
    const holder = pass.to;
    msg(n0, holder, { type: 'token/ack', epoch: 0, step: 1, taken: 1 }, 10);
    const n2 = node('n2');
    n2.handle({ kind: 'start' }, 0);
    beacon(n2, 'n0', 0, 0);
    beacon(n2, holder, 0, 1, 10);
    const roster = IDS.filter((x) => x !== holder);
    const a0 = n0.handle({ kind: 'roster', peers: roster.filter((x) => x !== 'n0') }, 500);
    const a2 = n2.handle({ kind: 'roster', peers: roster.filter((x) => x !== 'n2') }, 500);
    const d0 = timers(a0).find((t) => t.id === 'recover')!.afterMs;
    const d2 = timers(a2).find((t) => t.id === 'recover')!.afterMs;
    // n0's copy is the token as the holder got it (gap 0); n2 has only step 0 (gap 1).
    expect(d0).toBeLessThan(T / 20);
    expect(d2).toBeGreaterThan(T / 20);
    const re = timer(n0, 'recover', 500 + d0);
    expect(sends(re, 'token/beacon').map((s) => s.to).sort()).toEqual(roster.filter((x) => x !== 'n0'));
    expect(sends(re, 'token/beacon')[0].msg).toMatchObject({ epoch: 1, step: 1 });
    expect(models(re).map((m) => Array.from(m.params))).toContainEqual([5, 5]);
    expect(computes(re)).toHaveLength(1);
    // n2 believes the new epoch (the old holder is gone) and stands down.
    const heard = beacon(n2, 'n0', 1, 1, 600);
    expect(rejects(heard)).toEqual([]);
    expect(heard).toContainEqual({ kind: 'clearTimer', id: 'recover' });
    expect(computes(timer(n2, 'recover', 500 + d2))).toEqual([]);
    // A node that has not yet seen the holder leave (the roster comes through the server) believes
    // the predecessor re-injecting exactly the step it handed over, and nobody else.
    const late = node('n3');
    late.handle({ kind: 'start' }, 0);
    beacon(late, 'n0', 0, 0);
    beacon(late, holder, 0, 1, 10);
    expect(rejects(beacon(late, 'n2', 1, 1, 600))[0]).toMatch(/epoch 1 while/);
    expect(rejects(beacon(late, 'n0', 1, 0, 600))[0]).toMatch(/epoch 1 while/);
    expect(rejects(beacon(late, 'n0', 1, 1, 600))).toEqual([]);
    expect(late.claim).toEqual({ epoch: 1, step: 1, holder: 'n0' });
    // The walk goes on from n0, skipping the departed node, with the visits it had.
    const on = sends(trained(n0, re), 'token/pass')[0];
    expect(on.to).not.toBe(holder);
    expect(on.msg).toMatchObject({ epoch: 1, step: 2, visits: { ids: ['n0'], n: [2] } });
    expect(n0.report().values.recoveries).toBe(1);
  });

  it('silence: the watchdog waits roundTimeout, then the delay; a keepalive on the way cancels the recovery', () => {
    const n2 = follower('n2');
    expect(timers(timer(n2, 'watch', T)).map((t) => t.id)).toEqual(['recover']);
    const keep = beacon(n2, 'n3', 0, 1, T + 100);
    expect(timers(keep).map((t) => t.id)).toContain('watch');
    expect(keep).toContainEqual({ kind: 'clearTimer', id: 'recover' });
    expect(computes(timer(n2, 'recover', T + 2000))).toEqual([]);
    // Nothing more is heard: the watchdog fires again and this time the copy (step 0: n2 never held the token) is re-injected.
    const w = timer(n2, 'watch', 2 * T + 100);
    const delay = timers(w).find((t) => t.id === 'recover')!.afterMs;
    expect(delay).toBeGreaterThan(T / 20);
    const re = timer(n2, 'recover', 2 * T + 100 + delay);
    expect(sends(re, 'token/beacon')[0].msg).toMatchObject({ epoch: 1, step: 0 });
  });

  it('a node that lost track of the walk (T/2 of silence) catches up with any step, and believes a re-injection', () => {
    const p = follower('n2');
    expect(rejects(beacon(p, 'n3', 0, 15, T / 2 - 1))).toHaveLength(1);
    expect(rejects(beacon(p, 'n3', 0, 15, T / 2))).toEqual([]);
    expect(p.claim).toEqual({ epoch: 0, step: 15, holder: 'n3' });
    expect(rejects(beacon(p, 'n3', 0, 30, T / 2 + 1))).toHaveLength(1);
    const q = follower('n2');
    expect(rejects(beacon(q, 'n3', 3, 0, T))).toHaveLength(1);
    expect(rejects(beacon(q, 'n3', 2, 0, T))).toEqual([]);
  });

  it('the last holder ends the walk for everyone with the final model; a done from a node that did not hold the last step is refused', () => {
    const p = node('n0', { rounds: 1 });
    const end = trained(p, p.handle({ kind: 'start' }, 0), vec(9, 9));
    expect(sends(end, 'token/done').map((s) => s.to)).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(sends(end, 'token/pass')).toEqual([]);
    expect(models(end).map((m) => m.round)).toEqual([1]);
    expect(end.at(-1)).toEqual({ kind: 'done' });
    const q = node('n2', { rounds: 1 });
    q.handle({ kind: 'start' }, 0);
    beacon(q, 'n0', 0, 0);
    expect(rejects(msg(q, 'n3', { type: 'token/done', epoch: 0, step: 1, params: vec(9, 9) }, 10))[0]).toMatch(/n3 did not hold step 0/);
    const fin = msg(q, 'n0', { type: 'token/done', epoch: 0, step: 1, params: vec(9, 9) }, 10);
    expect(models(fin).map((m) => [m.round, Array.from(m.params)])).toEqual([[1, [9, 9]]]);
    expect(fin.at(-1)).toEqual({ kind: 'done' });
    expect(Array.from(q.currentParams())).toEqual([9, 9]);
  });

  it('every message type survives the codec; acks and beacons are compact frames of 13 and 12 bytes', () => {
    const all: Message[] = [
      passMsg(2, 7, { n0: 4, n10: 2 }, 1, vec(0.5, -1)),
      { type: 'token/ack', epoch: 2, step: 7, taken: 1 },
      { type: 'token/beacon', epoch: 2, step: 7 },
      { type: 'token/done', epoch: 2, step: 7, params: vec(1, 2) },
    ];
    for (const m of all) {
      const frame = encodeMessage(m, tokenSchemas);
      const d = decodeMessage(frame, tokenSchemas, 2);
      expect(d.ok, m.type).toBe(true);
      if (d.ok) expect(d.msg).toEqual(m);
    }
    expect(encodeMessage(all[1], tokenSchemas).length).toBe(13);
    expect(encodeMessage(all[2], tokenSchemas).length).toBe(12);
    const lop = { ...passMsg(0, 1, {}), visits: { ids: ['n0'], n: [1, 2] } };
    expect(decodeMessage(encodeMessage(lop, tokenSchemas), tokenSchemas, 2).ok).toBe(false);
  });
});

// ─── the simulator: 20 tfjs nodes on blobs ────────────────────────────────────────────────────

describe('token walk (simulated)', () => {
  let world: BlobsWorld;
  beforeAll(async () => {
    world = await blobsWorld(2000);
  });

  const base: ConfigInput = { algo: 'token', nodes: 20, rounds: 20, partition: 'dirichlet:0.5' };
  const totalRejected = (s: SimSummary) => Object.values(s.rejected).reduce((a, b) => a + b, 0);
  const visitsOf = (s: SimSummary) => s.visits as Record<string, number>;

  it('reaches 85% on blobs with 20 nodes in 20 steps; the summary has every node’s visits and their CV', () => {
    const sim = world.simulation(base);
    const s = sim.run();
    expect(s.stopReason).toBe('rounds');
    expect(s.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(totalRejected(s)).toBe(0);
    const v = visitsOf(s);
    expect(Object.keys(v)).toHaveLength(20);
    expect(Object.values(v).reduce((a, b) => a + b, 0)).toBe(20);
    const counts = Object.values(v);
    const mean = 1;
    const sd = Math.sqrt(counts.reduce((a, c) => a + (c - mean) ** 2, 0) / counts.length);
    expect(s.visitCv).toBeCloseTo(sd / mean, 12);
    expect(s.recoveries).toBe(0);
  });

  it('α = 5 spreads the visits more evenly than α = 0 over the same steps and seed, seed after seed', () => {
    for (const seed of [1, 2, 3, 4]) {
      const a0 = world.simulation({ ...base, seed, alpha: 0 }).run();
      const a5 = world.simulation({ ...base, seed, alpha: 5 }).run();
      expect(a0.rounds).toBe(a5.rounds);
      expect(a5.visitCv as number, `seed ${seed}`).toBeLessThan(a0.visitCv as number);
    }
  });

  it('is deterministic', () => {
    const strip = (s: SimSummary) => ({ ...s, wallMs: 0 });
    expect(strip(world.simulation(base).run())).toEqual(strip(world.simulation(base).run()));
  });

  /** Runs until a node holds the token at `step` or later, then kills it (and, with `both`, the node that handed it the token). */
  function crashHolderAt(sim: Simulation, step: number, both: boolean): NodeId[] {
    sim.start();
    const walk = (n: Simulation['nodes'][number]) => n.host!.protocol as TokenWalk;
    const holderNow = () => sim.liveNodes().find((n) => walk(n).isHolding && walk(n).lastToken.step >= step);
    while (!holderNow() && sim.advance(1)) {
      /* step */
    }
    const holder = holderNow()!;
    const held = walk(holder).lastToken;
    const victims = [holder.id];
    if (both) {
      // The predecessor's copy is the token exactly as it handed it over.
      const prev = sim.liveNodes().find((n) => n !== holder && walk(n).lastToken.step === held.step && walk(n).lastToken.epoch === held.epoch);
      if (prev) victims.push(prev.id);
    }
    for (const id of victims) sim.nodes.find((n) => n.id === id)!.host!.kill();
    while (sim.advance(1000)) {
      /* run on */
    }
    return victims;
  }

  it('the holder crashes (no goodbye): the walk is recovered and runs to the end, with nothing refused', () => {
    const sim = world.simulation({ ...base, rounds: 30, roundTimeout: 4000 });
    const [dead] = crashHolderAt(sim, 8, false);
    const s = sim.summary();
    expect(s.stopReason).toBe('rounds');
    expect(s.rounds).toBe(30);
    expect(s.recoveries).toBe(1);
    expect(s.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(totalRejected(s)).toBe(0);
    expect(sim.rows.at(-1)!.liveNodes).toBe(19);
    expect(dead).toBeTruthy();
  });

  it('the holder and its predecessor crash together: the next freshest copy takes over', () => {
    const sim = world.simulation({ ...base, rounds: 30, roundTimeout: 4000 });
    const victims = crashHolderAt(sim, 8, true);
    expect(victims).toHaveLength(2);
    const s = sim.summary();
    expect(s.stopReason).toBe('rounds');
    expect(s.recoveries).toBeGreaterThanOrEqual(1);
    expect(totalRejected(s)).toBe(0);
  });

  it('survives 20% frame loss, and churn with joins and rejoins, refusing nothing', () => {
    for (const extra of [{ loss: 0.2 }, { churn: '0.3@10,join:5@20,rejoin@30' }] as ConfigInput[]) {
      const s = world.simulation({ ...base, rounds: 50, roundTimeout: 4000, ...extra }).run();
      expect(s.stopReason, JSON.stringify(extra)).toBe('rounds');
      expect(s.rounds).toBe(50);
      expect(totalRejected(s), JSON.stringify(extra)).toBe(0);
    }
  });
});
