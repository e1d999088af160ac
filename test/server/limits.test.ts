import { afterEach, describe, expect, it } from 'vitest';
import { Harness, TestClient, until } from './helpers.ts';

let h: Harness;
afterEach(async () => {
  const invalid = h?.invalidMessages() ?? [];
  await h?.stop();
  expect(invalid).toEqual([]);
});

describe('malformed input', () => {
  it('answers bad JSON and schema-invalid messages with errors and keeps serving', async () => {
    h = await Harness.start();
    const peer = await h.joined('r');
    const c = await h.client();
    const cases: Array<[unknown, string]> = [
      ['not json {', 'bad-json'],
      ['', 'bad-json'],
      ['[1,2,3]', 'bad-message'],
      ['"join"', 'bad-message'],
      [{ room: 'r' }, 'bad-message'],
      [{ type: 42 }, 'bad-message'],
      [{ type: 'hello' }, 'unknown-type'],
      [{ type: 'join' }, 'bad-message'],
      [{ type: 'join', room: 'has spaces' }, 'bad-message'],
      [{ type: 'join', room: 'x'.repeat(65) }, 'bad-message'],
      [{ type: 'join', room: 'r', config: [1, 2] }, 'bad-message'],
      [{ type: 'join', room: 'r', config: { blob: 'x'.repeat(20_000) } }, 'bad-message'],
      [{ type: 'join', room: 'r', name: 7 }, 'bad-message'],
      [{ type: 'signal', to: 'abc' }, 'bad-message'],
      [{ type: 'join', room: 'r', config: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }, 'too-complex'],
    ];
    for (const [msg, code] of cases) {
      c.send(msg);
      const err = await c.next('error');
      expect(err.code, JSON.stringify(msg).slice(0, 60)).toBe(code);
      expect(err.message.length).toBeGreaterThan(0);
    }
    c.ws.send(Buffer.from(JSON.stringify({ type: 'ping' })), { binary: true });
    expect(await c.next('error')).toMatchObject({ code: 'bad-message' });

    // Still open, still served, and the room was never touched by the rejected joins.
    const welcome = await c.join('r');
    expect(welcome.peers).toEqual([peer.id]);
    await peer.c.sync();
    const stats = h.signaling.stats();
    expect(stats.rejected['bad-json']).toBe(2);
    expect(stats.rejected['unknown-type']).toBe(1);
    expect(stats.rejected['bad-message']).toBe(12); // 11 cases + the binary frame
    expect(stats.rejected['too-complex']).toBe(1);
    expect(stats.rooms).toBe(1);
  });

  it('closes a socket with 1008 after repeated errors, without affecting others', async () => {
    h = await Harness.start({ maxErrors: 50 });
    const good = await h.joined('r');
    const bad = await h.client();
    for (let i = 0; i < 60; i++) bad.send('garbage');
    const { code } = await bad.waitClosed();
    expect(code).toBe(1008);
    expect(bad.take('error').length).toBe(51); // one reply per error up to the one that tipped it over
    expect(h.signaling.stats().closed.abuse).toBe(1);
    await good.c.sync();
  });
});

describe('size limits', () => {
  it('answers a moderately oversized message with too-big and keeps the socket', async () => {
    h = await Harness.start({ maxMessageBytes: 1024 });
    const a = await h.joined('r');
    const b = await h.joined('r');
    a.c.send({ type: 'signal', to: b.id, data: { sdp: 'x'.repeat(1500) } });
    expect(await a.c.next('error')).toMatchObject({ code: 'too-big' });
    await b.c.sync();
    expect(b.c.take('signal')).toEqual([]);
    a.c.send({ type: 'signal', to: b.id, data: { sdp: 'x'.repeat(500) } });
    expect((await b.c.next('signal')).from).toBe(a.id);
  });

  it('cuts off a grossly oversized message (1009) and keeps serving everyone else', async () => {
    h = await Harness.start(); // 64 KiB default
    const a = await h.joined('r');
    const b = await h.joined('r');
    a.c.send({ type: 'signal', to: b.id, data: { sdp: 'x'.repeat(1024 * 1024) } });
    expect((await a.c.waitClosed()).code).toBe(1009);
    // b sees a leave and keeps working; a newcomer is served normally.
    await until(() => b.c.inbox.some((m) => m.type === 'roster' && m.peers.length === 1), 2000, 'roster without a');
    const c = await h.joined('r');
    expect(c.welcome.peers).toEqual([b.id]);
    expect(h.signaling.stats().rejected['too-big']).toBe(1);
  });
});

describe('flood', () => {
  it('holds maxPeersPerRoom and maxRooms under 200 joins and still serves a normal client', async () => {
    const maxPeersPerRoom = 5;
    const maxRooms = 4;
    h = await Harness.start({ maxPeersPerRoom, maxRooms });
    const clients = await Promise.all(Array.from({ length: 200 }, () => TestClient.open(h.url)));
    h.clients.push(...clients);
    const replies = await Promise.all(
      clients.map((c, i) => {
        c.send({ type: 'join', room: `room-${i % 10}` });
        return c.next(['welcome', 'error'], 5000);
      }),
    );
    const count = (pred: (m: (typeof replies)[number]) => boolean) => replies.filter(pred).length;
    // Whichever 4 room names arrive first become rooms; each takes exactly 5 of its 20 joiners.
    expect(count((m) => m.type === 'welcome')).toBe(maxRooms * maxPeersPerRoom);
    expect(count((m) => m.type === 'error' && m.code === 'room-full')).toBe(maxRooms * (20 - maxPeersPerRoom));
    expect(count((m) => m.type === 'error' && m.code === 'too-many-rooms')).toBe((10 - maxRooms) * 20);
    expect(h.signaling.stats()).toMatchObject({ rooms: maxRooms, peers: maxRooms * maxPeersPerRoom, connections: 200 });

    // A newcomer is still answered right away (here: politely refused a fifth room).
    const newcomer = await h.client();
    newcomer.send({ type: 'join', room: 'fresh' });
    expect(await newcomer.next('error')).toMatchObject({ code: 'too-many-rooms' });

    for (const c of clients) c.ws.close();
    await until(() => h.signaling.stats().rooms === 0, 5000, 'flood rooms emptied');
    const welcome = await newcomer.join('fresh');
    expect(welcome.peers).toEqual([]);
  });

  it('rate-limits a message flood from one socket', async () => {
    h = await Harness.start({ messagesPerSecond: 50, maxErrors: 1000 });
    const a = await h.client();
    for (let i = 0; i < 150; i++) a.send({ type: 'ping' });
    await until(() => a.inbox.length >= 150, 3000, '150 replies');
    const pongs = a.take('pong').length;
    const limited = a.take('error').filter((e) => e.code === 'rate-limited').length;
    expect(pongs + limited).toBe(150);
    expect(limited).toBeGreaterThanOrEqual(40); // burst is 2 s worth = 100
  });
});
