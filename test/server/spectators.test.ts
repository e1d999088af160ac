import { afterEach, describe, expect, it } from 'vitest';
import { KICKED_CLOSE_CODE, MAX_SPECTATORS } from '../../src/core/signaling/messages.ts';
import { Harness, until } from './helpers.ts';

/** The projector view: a spectator that sees the room and the members' traffic, and with the owner key runs it. */

let h: Harness;
afterEach(async () => {
  const invalid = h?.invalidMessages() ?? [];
  await h?.stop();
  expect(invalid).toEqual([]);
});

describe('spectators', () => {
  it('see the room but are in no roster; only they get traffic reports, with edges to members only', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    const b = await h.joined('r');
    const p = await h.joined('r', { spectate: true });
    expect(p.welcome).toMatchObject({ spectator: true, owns: false, peers: [a.id, b.id] });
    a.c.send({ type: 'metrics', data: { round: 3, accuracy: 0.5 } });
    expect(await p.c.next('metrics')).toMatchObject({ from: a.id, data: { round: 3 } });
    a.c.send({ type: 'traffic', edges: [[b.id, 1000, 2], ['nobody', 5, 1]] });
    expect(await p.c.next('traffic')).toMatchObject({ from: a.id, edges: [[b.id, 1000, 2]] });
    await b.c.sync();
    expect(b.c.inbox.some((m) => m.type === 'traffic')).toBe(false);
    // No roster change for the spectator, and it cannot signal, report or start without the key.
    expect(b.c.take('roster').every((r) => !r.peers.includes(p.id))).toBe(true);
    p.c.send({ type: 'metrics', data: { round: 1 } });
    expect(await p.c.next('error')).toMatchObject({ code: 'bad-state' });
    for (const msg of [{ type: 'start' }, { type: 'pause', paused: true }, { type: 'kick', id: a.id }]) {
      p.c.send(msg);
      expect(await p.c.next('error')).toMatchObject({ code: 'not-owner' });
    }
  });

  it('with the owner key: start (the owner tab coordinates), pause and resume, reset, and remove a tab, which cannot resume', async () => {
    h = await Harness.start();
    const owner = await h.joined('r');
    const key = owner.welcome.ownerKey!;
    const b = await h.joined('r');
    const p = await h.joined('r', { spectate: true, ownerKey: key });
    expect(p.welcome.owns).toBe(true);
    p.c.send({ type: 'start' });
    expect(await b.c.next('start')).toMatchObject({ coordinator: owner.id });
    p.c.send({ type: 'pause', paused: true });
    expect(await b.c.next('paused')).toMatchObject({ paused: true, from: p.id });
    const late = await h.joined('r');
    expect(late.welcome.paused).toBe(true);
    p.c.send({ type: 'pause', paused: false });
    expect(await b.c.next('paused')).toMatchObject({ paused: false });
    p.c.send({ type: 'kick', id: b.id });
    expect((await b.c.waitClosed()).code).toBe(KICKED_CLOSE_CODE);
    await until(() => owner.c.inbox.some((m) => m.type === 'roster' && !m.peers.includes(b.id)), 2000, 'b removed');
    expect((await h.joined('r', { resume: b.welcome.resume })).id).not.toBe(b.id);
    p.c.send({ type: 'reset' });
    expect(await owner.c.next('reset')).toMatchObject({ from: p.id });
  });

  it('keep an emptied room open while they watch, and are capped per room', async () => {
    h = await Harness.start();
    const p = await h.joined('r', { spectate: true });
    expect(p.welcome.owns).toBe(true); // it created the room
    const a = await h.joined('r');
    a.c.send({ type: 'leave' });
    const b = await h.joined('r');
    expect(b.welcome.finished).toBeNull();
    expect(h.signaling.stats().rooms).toBe(1);
    for (let i = 1; i < MAX_SPECTATORS; i++) await h.joined('r', { spectate: true });
    const c = await h.client();
    c.send({ type: 'join', room: 'r', spectate: true });
    expect(await c.next('error')).toMatchObject({ code: 'room-full' });
  });
});
