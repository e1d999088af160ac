import { afterEach, describe, expect, it } from 'vitest';
import type { FinishSummary } from '../../src/core/signaling/messages.ts';
import { Harness, until } from './helpers.ts';

/**
 * Room rules on top of the relay: the owner, names, secrets that are never echoed, metrics
 * replayed to late tabs, and the finish / reset records.
 */

let h: Harness;
afterEach(async () => {
  const invalid = h?.invalidMessages() ?? [];
  await h?.stop();
  expect(invalid).toEqual([]);
});

const summary: FinishSummary = { algo: 'fedavg', rounds: 10, nodes: 3, accuracy: { mean: 0.9, min: 0.85, max: 0.93 } };

describe('room owner', () => {
  it('answers start, config and reset from anyone but the owner with not-owner, and counts them', async () => {
    h = await Harness.start();
    const a = await h.joined('class', { config: { algo: 'fedavg' } });
    const b = await h.joined('class');
    expect(a.welcome.owner).toBe(a.id);
    expect(b.welcome.owner).toBe(a.id);
    expect((await b.c.next('roster')).owner).toBe(a.id);

    for (const msg of [{ type: 'start' }, { type: 'config', config: { algo: 'gossip' } }, { type: 'reset' }]) {
      b.c.send(msg);
      expect(await b.c.next('error'), msg.type).toMatchObject({ code: 'not-owner' });
    }
    expect(h.signaling.stats().rejected['not-owner']).toBe(3);
    // Nothing reached anyone, and the room is untouched.
    await a.c.sync();
    expect(a.c.take('start')).toEqual([]);
    expect(a.c.take('config')).toEqual([]);
    expect(a.c.take('reset')).toEqual([]);
    const late = await h.joined('class');
    expect(late.welcome).toMatchObject({ started: false, coordinator: null, config: { algo: 'fedavg' } });

    // The owner may do all three.
    a.c.send({ type: 'config', config: { algo: 'gossip' } });
    expect(await b.c.next('config')).toMatchObject({ config: { algo: 'gossip' }, from: a.id });
    a.c.send({ type: 'start' });
    expect(await b.c.next('start')).toMatchObject({ coordinator: a.id });
    a.c.send({ type: 'reset' });
    expect(await b.c.next('reset')).toEqual({ type: 'reset', from: a.id });
  });

  it('sends the owner key in the creator’s welcome and in no other frame to anyone', async () => {
    h = await Harness.start();
    const a = await h.joined('class');
    const key = a.welcome.ownerKey!;
    expect(key).toMatch(/^[\w-]{43}$/); // 256 bits, base64url
    const b = await h.joined('class');
    expect(b.welcome).not.toHaveProperty('ownerKey');
    // The owner coming back with the key is told it owns the room, not told the key again.
    const a2 = await h.joined('class', { ownerKey: key });
    expect(a2.welcome.owner).toBe(a2.id);
    expect(a2.welcome).not.toHaveProperty('ownerKey');
    // A second room gets its own key.
    const other = await h.joined('other');
    expect(other.welcome.ownerKey).toMatch(/^[\w-]{43}$/);
    expect(other.welcome.ownerKey).not.toBe(key);

    a.c.send({ type: 'metrics', data: { round: 1 } });
    a2.c.send({ type: 'start' });
    for (const c of [a.c, b.c, a2.c]) await c.sync();
    const frames = h.clients.flatMap((c) => c.raw);
    const withKey = frames.filter((f) => f.includes(key));
    expect(withKey).toHaveLength(1);
    expect(JSON.parse(withKey[0])).toMatchObject({ type: 'welcome', id: a.id });
    expect(a.c.raw.filter((f) => f.includes(key))).toEqual(withKey);
  });

  it('makes a join with the owner key the owner: the teacher reloads, or opens the link on another device', async () => {
    h = await Harness.start();
    const a = await h.joined('class');
    const key = a.welcome.ownerKey!;
    const b = await h.joined('class');

    // Another device with the key: ownership moves there (one owner at a time).
    const phone = await h.joined('class', { ownerKey: key });
    expect(phone.welcome.owner).toBe(phone.id);
    await until(() => b.c.inbox.some((m) => m.type === 'roster' && m.owner === phone.id), 2000, 'roster with the new owner');
    a.c.send({ type: 'start' });
    expect(await a.c.next('error')).toMatchObject({ code: 'not-owner' });

    // The owner closes its tabs before starting: the room waits, nobody else can start it.
    phone.c.ws.close();
    a.c.ws.close();
    await until(() => b.c.inbox.some((m) => m.type === 'roster' && m.peers.length === 1 && m.owner === null), 2000, 'owner gone');
    b.c.send({ type: 'start' });
    expect(await b.c.next('error')).toMatchObject({ code: 'not-owner' });

    // A wrong key still joins, as a plain member, and says why it has no rights.
    const wrong = await h.joined('class', { ownerKey: 'x'.repeat(43) });
    expect(wrong.welcome.owner).toBeNull();
    expect(await wrong.c.next('error')).toMatchObject({ code: 'bad-owner-key' });

    // The teacher reloads with the key and gets its rights back.
    const back = await h.joined('class', { ownerKey: key });
    expect(back.welcome).toMatchObject({ owner: back.id, started: false });
    back.c.send({ type: 'start' });
    expect(await b.c.next('start')).toMatchObject({ coordinator: back.id });
    expect(h.signaling.stats().rejected).toMatchObject({ 'not-owner': 2, 'bad-owner-key': 1 });
  });

  it('hands out a fresh key when an emptied room is created again, even to a tab presenting the old key', async () => {
    h = await Harness.start();
    const a = await h.joined('class');
    const old = a.welcome.ownerKey!;
    a.c.ws.close();
    await until(() => h.signaling.stats().rooms === 0, 2000, 'room deleted');
    const b = await h.joined('class', { ownerKey: old });
    expect(b.welcome.owner).toBe(b.id);
    expect(b.welcome.ownerKey).toMatch(/^[\w-]{43}$/);
    expect(b.welcome.ownerKey).not.toBe(old);
  });
});

describe('names', () => {
  it('names unnamed members "Tab N" by join order, stable and never reused after someone leaves', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    const b = await h.joined('r');
    expect(b.welcome.names).toEqual({ [a.id]: 'Tab 1', [b.id]: 'Tab 2' });
    a.c.send({ type: 'leave' });
    await until(() => b.c.inbox.some((m) => m.type === 'roster' && m.peers.length === 1), 2000, 'a left');
    expect(b.c.take('roster').at(-1)!.names).toEqual({ [b.id]: 'Tab 2' });

    const c = await h.joined('r');
    const d = await h.joined('r', { name: '  Ada  ' });
    const e = await h.joined('r', { name: '   ' });
    expect(e.welcome.names).toEqual({ [b.id]: 'Tab 2', [c.id]: 'Tab 3', [d.id]: 'Ada', [e.id]: 'Tab 5' });
    expect((await b.c.next('roster')).names[c.id]).toBe('Tab 3');
    // The first socket joins again: a new member, a new number.
    const again = await a.c.join('r');
    expect(again.names[again.id]).toBe('Tab 6');
  });

  it('rejects names with control characters', async () => {
    h = await Harness.start();
    const c = await h.client();
    c.send({ type: 'join', room: 'r', name: 'bad\nname' });
    expect(await c.next('error')).toMatchObject({ code: 'bad-message' });
  });
});

describe('secrets are never echoed', () => {
  it('strips secret and ownerKey from every stored and relayed config, and from metrics', async () => {
    h = await Harness.start();
    const secret = 'hunter2-room-secret';
    const a = await h.joined('private', { secret, config: { algo: 'fedavg', secret, ownerKey: 'planted-key', deep: { secret, keep: 1 } } });
    const key = a.welcome.ownerKey!;
    expect(a.welcome.config).toEqual({ algo: 'fedavg', deep: { keep: 1 } });
    const b = await h.joined('private', { secret, config: { algo: 'gossip', secret } });
    expect(b.welcome.config).toEqual({ algo: 'fedavg', deep: { keep: 1 } });

    a.c.send({ type: 'config', config: { algo: 'modest', secret, ownerKey: key, list: [{ secret }, 'x'] } });
    expect(await b.c.next('config')).toEqual({ type: 'config', config: { algo: 'modest', list: [{}, 'x'] }, from: a.id });
    a.c.send({ type: 'start', config: { algo: 'fedavg', secret, ownerKey: key } });
    expect((await b.c.next('start')).config).toEqual({ algo: 'fedavg' });
    a.c.send({ type: 'metrics', data: { round: 1, secret, ownerKey: key } });
    expect((await b.c.next('metrics')).data).toEqual({ round: 1 });
    const late = await h.joined('private', { secret, name: 'late' });
    expect(late.welcome.config).toEqual({ algo: 'fedavg' });
    expect(late.welcome.metrics).toEqual({ [a.id]: { round: 1 } });

    for (const c of h.clients) await c.sync();
    for (const c of h.clients) {
      for (const frame of c.raw) {
        expect(frame).not.toContain(secret);
        expect(frame).not.toContain('planted-key');
        expect(frame).not.toMatch(/"secret"\s*:/);
        const creatorWelcome = c === a.c && JSON.parse(frame).type === 'welcome';
        if (!creatorWelcome) expect(frame).not.toMatch(/"ownerKey"\s*:/);
        if (c !== a.c) expect(frame).not.toContain(key);
      }
    }
    // The only frame holding the owner key is the creator's own welcome.
    expect(a.c.raw.filter((f) => f.includes(key)).map((f) => JSON.parse(f).type)).toEqual(['welcome']);
  });
});

describe('metrics replay', () => {
  it("gives a newcomer every member's last metrics in its welcome, and forgets members that left", async () => {
    h = await Harness.start();
    const a = await h.joined('m');
    const b = await h.joined('m');
    a.c.send({ type: 'metrics', data: { round: 1, accuracy: 0.5, state: 'training' } });
    a.c.send({ type: 'metrics', data: { round: 2, accuracy: 0.7, state: 'waiting' } });
    b.c.send({ type: 'metrics', data: { round: 2, accuracy: 0.6, state: 'training' } });
    await until(() => b.c.inbox.filter((m) => m.type === 'metrics').length === 2 && a.c.inbox.some((m) => m.type === 'metrics'), 2000, 'metrics relayed');

    const c = await h.joined('m');
    expect(c.welcome.metrics).toEqual({
      [a.id]: { round: 2, accuracy: 0.7, state: 'waiting' },
      [b.id]: { round: 2, accuracy: 0.6, state: 'training' },
    });
    a.c.send({ type: 'leave' });
    await until(() => c.c.inbox.some((m) => m.type === 'roster' && m.peers.length === 2), 2000, 'a left');
    const d = await h.joined('m');
    expect(d.welcome.metrics).toEqual({ [b.id]: { round: 2, accuracy: 0.6, state: 'training' } });
  });

  it('clears the remembered metrics when a new run starts or the room is reset', async () => {
    h = await Harness.start();
    const a = await h.joined('m');
    const b = await h.joined('m');
    b.c.send({ type: 'metrics', data: { round: 9 } });
    await a.c.next('metrics');
    a.c.send({ type: 'start' });
    await b.c.next('start');
    expect((await h.joined('m')).welcome.metrics).toEqual({});
    b.c.send({ type: 'metrics', data: { round: 1 } });
    await a.c.next('metrics');
    a.c.send({ type: 'reset' });
    await b.c.next('reset');
    expect((await h.joined('m')).welcome.metrics).toEqual({});
  });
});

describe('finish', () => {
  it('is accepted from the coordinator, broadcast to everyone, and shown in every later welcome', async () => {
    h = await Harness.start();
    const owner = await h.joined('f');
    const b = await h.joined('f');
    const c = await h.joined('f');
    expect(owner.welcome.finished).toBeNull();

    // Nothing to finish before the start, even for the owner.
    owner.c.send({ type: 'finish', summary });
    expect(await owner.c.next('error')).toMatchObject({ code: 'bad-state' });

    owner.c.send({ type: 'start' });
    await c.c.next('start');
    // The owner leaves; b (the oldest left) coordinates now and is the one that may finish.
    owner.c.send({ type: 'leave' });
    await until(() => c.c.inbox.some((m) => m.type === 'roster' && m.coordinator === b.id), 2000, 'b coordinates');
    c.c.send({ type: 'finish', summary });
    expect(await c.c.next('error')).toMatchObject({ code: 'not-coordinator' });

    const before = Date.now();
    b.c.send({ type: 'finish', summary });
    for (const x of [b.c, c.c]) {
      const f = await x.next('finished');
      expect(f).toMatchObject({ type: 'finished', from: b.id, summary });
      expect(f.at).toBeGreaterThanOrEqual(before);
    }
    // Once is enough: a second claim is refused.
    b.c.send({ type: 'finish', summary: { ...summary, rounds: 99 } });
    expect(await b.c.next('error')).toMatchObject({ code: 'bad-state' });

    const late = await h.joined('f');
    expect(late.welcome.started).toBe(true);
    expect(late.welcome.finished).toMatchObject({ summary });
    expect(h.signaling.stats().rejected).toMatchObject({ 'bad-state': 2, 'not-coordinator': 1 });
  });

  it('is accepted from the owner when someone else coordinates', async () => {
    h = await Harness.start();
    const a = await h.joined('f');
    const key = a.welcome.ownerKey!;
    const b = await h.joined('f');
    a.c.send({ type: 'start' });
    await b.c.next('start');
    a.c.ws.close(); // b coordinates now
    await until(() => b.c.inbox.some((m) => m.type === 'roster' && m.coordinator === b.id), 2000, 'b coordinates');
    const teacher = await h.joined('f', { ownerKey: key });
    expect(teacher.welcome).toMatchObject({ owner: teacher.id, coordinator: b.id });
    teacher.c.send({ type: 'finish', summary });
    expect(await b.c.next('finished')).toMatchObject({ from: teacher.id, summary });
  });

  it('rejects summaries that are not small and plausible', async () => {
    h = await Harness.start();
    const a = await h.joined('f');
    a.c.send({ type: 'start' });
    await a.c.next('start');
    const bad: unknown[] = [
      { ...summary, accuracy: { mean: 1.5, min: 0, max: 2 } },
      { ...summary, accuracy: { mean: 0.2, min: 0.5, max: 0.9 } },
      { ...summary, rounds: -1 },
      { ...summary, rounds: 2.5 },
      { ...summary, nodes: 1e9 },
      { ...summary, algo: 'x'.repeat(33) },
      { ...summary, algo: '<script>' },
      { ...summary, extra: 'field' },
      { algo: 'fedavg' },
    ];
    for (const s of bad) {
      a.c.send({ type: 'finish', summary: s });
      expect((await a.c.next('error')).code, JSON.stringify(s)).toBe('bad-message');
    }
    // A mean that floating point put a hair above the max is still fine.
    a.c.send({ type: 'finish', summary: { ...summary, accuracy: { mean: 0.9 + 1e-15, min: 0.9, max: 0.9 }, loss: { mean: 0.3, min: 0.2, max: 0.4 }, durationMs: 1234 } });
    expect((await a.c.next('finished')).summary.durationMs).toBe(1234);
  });

  it('remembers a finished room after everyone left, for the next tab that opens the link', async () => {
    h = await Harness.start();
    const a = await h.joined('done');
    const b = await h.joined('done');
    a.c.send({ type: 'start' });
    await b.c.next('start');
    a.c.send({ type: 'finish', summary });
    const { at } = await b.c.next('finished');
    a.c.ws.close();
    b.c.ws.close();
    await until(() => h.signaling.stats().rooms === 0, 2000, 'room deleted');
    expect(h.signaling.stats().finishedRooms).toBe(1);

    // The room is created again, empty; the newcomer owns it and learns how the last run ended.
    const late = await h.joined('done');
    expect(late.welcome).toMatchObject({ peers: [], started: false, owner: late.id, finished: { at, summary } });
    expect(late.welcome.ownerKey).toMatch(/^[\w-]{43}$/);
    expect((await h.joined('done')).welcome.finished).toEqual({ at, summary });
    // A new run clears it.
    late.c.send({ type: 'start' });
    await late.c.next('start');
    expect((await h.joined('done')).welcome.finished).toBeNull();
  });

  it('hands a remembered record only to a creator with the same secret, and forgets after the TTL and beyond the cap', async () => {
    h = await Harness.start({ finishedTtlMs: 300, maxFinishedRooms: 2 });
    const finishAndEmpty = async (room: string, extra: Record<string, unknown> = {}) => {
      const a = await h.joined(room, extra);
      a.c.send({ type: 'start' });
      await a.c.next('start');
      a.c.send({ type: 'finish', summary });
      await a.c.next('finished');
      a.c.send({ type: 'leave' });
      await a.c.sync();
    };
    await finishAndEmpty('secret-room', { secret: 's3cret' });
    const stranger = await h.joined('secret-room');
    expect(stranger.welcome.finished).toBeNull();
    stranger.c.send({ type: 'leave' });
    await stranger.c.sync();
    const member = await h.joined('secret-room', { secret: 's3cret' });
    expect(member.welcome.finished).toMatchObject({ summary });
    member.c.send({ type: 'leave' });
    await member.c.sync();

    // Cap of 2: a third finished room pushes out the oldest.
    await finishAndEmpty('r1');
    await finishAndEmpty('r2');
    expect(h.signaling.stats().finishedRooms).toBe(2);
    expect((await h.joined('secret-room', { secret: 's3cret' })).welcome.finished).toBeNull();
    // TTL.
    await new Promise((r) => setTimeout(r, 350));
    expect(h.signaling.stats().finishedRooms).toBe(0);
    expect((await h.joined('r2')).welcome.finished).toBeNull();
  });
});

describe('reset', () => {
  it('puts a started, finished room back to the lobby for everyone', async () => {
    h = await Harness.start();
    const a = await h.joined('r', { config: { algo: 'fedavg' } });
    const b = await h.joined('r');
    a.c.send({ type: 'start' });
    await b.c.next('start');
    a.c.send({ type: 'finish', summary });
    await b.c.next('finished');
    await b.c.sync();
    b.c.take('roster');

    a.c.send({ type: 'reset' });
    for (const c of [a.c, b.c]) expect(await c.next('reset')).toEqual({ type: 'reset', from: a.id });
    expect(await b.c.next('roster')).toMatchObject({ coordinator: null, owner: a.id });
    const late = await h.joined('r');
    expect(late.welcome).toMatchObject({ started: false, coordinator: null, finished: null, config: { algo: 'fedavg' } });
    // And it can run again.
    a.c.send({ type: 'start' });
    expect(await late.c.next('start')).toMatchObject({ coordinator: a.id });
  });
});

describe('run ids', () => {
  it('names every run afresh at its start, and tells late tabs the current one', async () => {
    h = await Harness.start();
    const a = await h.joined('runs', { config: { algo: 'fedavg' } });
    expect(a.welcome.run).toBeNull();
    a.c.send({ type: 'start' });
    const first = (await a.c.next('start')).run;
    expect(first).toMatch(/^[\w-]{8}$/);
    const late = await h.joined('runs');
    expect(late.welcome.run).toBe(first);
    // A reset and a new start: a new run, so History keeps the two apart.
    a.c.send({ type: 'reset' });
    await a.c.next('reset');
    a.c.send({ type: 'start' });
    const second = (await a.c.next('start')).run;
    expect(second).not.toBe(first);
    expect((await late.c.next('start')).run).toBe(second);
  });
});

describe('resume after a dropped connection', () => {
  it('gives a member that comes back with its token its old id and name, and tells the others', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    const b = await h.joined('r');
    expect(b.welcome.resume).toMatch(/^[\w-]{20,}$/);
    b.c.ws.terminate(); // the network drops: no `leave`
    await until(() => a.c.inbox.some((m) => m.type === 'roster' && m.peers.length === 1), 2000, 'b dropped');
    const back = await h.joined('r', { resume: b.welcome.resume });
    expect(back.id).toBe(b.id);
    expect(back.welcome.names[b.id]).toBe('Tab 2');
    expect(back.welcome.peers).toEqual([a.id]);
    await until(() => a.c.inbox.some((m) => m.type === 'roster' && m.peers.includes(b.id)), 2000, 'b back in the roster');
    // A token works once: the next tab presenting it is a new member.
    const again = await h.joined('r', { resume: b.welcome.resume });
    expect(again.id).not.toBe(b.id);
    expect(again.welcome.names[again.id]).toBe('Tab 3');
  });

  it('hands the id over from a connection the server still thinks alive, closing the old one', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    const b = await h.joined('r');
    const back = await h.joined('r', { resume: b.welcome.resume });
    expect(back.id).toBe(b.id);
    await b.c.waitClosed();
    expect(back.welcome.peers).toEqual([a.id]);
    // Resuming the only member of a room keeps the room.
    const solo = await h.joined('solo');
    const soloBack = await h.joined('solo', { resume: solo.welcome.resume });
    expect(soloBack.id).toBe(solo.id);
    expect(soloBack.welcome.names[solo.id]).toBe('Tab 1');
  });

  it('forgets a departure after the window, and never resumes a member that left on purpose or a wrong token', async () => {
    h = await Harness.start({ resumeWindowMs: 100 });
    const a = await h.joined('r');
    const b = await h.joined('r');
    const c = await h.joined('r');
    b.c.ws.terminate();
    c.c.send({ type: 'leave' });
    await until(() => a.c.inbox.some((m) => m.type === 'roster' && m.peers.length === 1), 2000, 'b and c gone');
    expect((await h.joined('r', { resume: c.welcome.resume })).id).not.toBe(c.id);
    expect((await h.joined('r', { resume: 'x'.repeat(32) })).id).not.toBe(b.id);
    await new Promise((r) => setTimeout(r, 150));
    expect((await h.joined('r', { resume: b.welcome.resume })).id).not.toBe(b.id);
  });
});
