import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { addressKey, DEFAULTS } from '../../server/signaling.ts';
import { ClientMessageSchema, type ServerMessage } from '../../src/core/signaling/messages.ts';
import { Harness, TestClient, until } from './helpers.ts';

/** Findings 5, 6 and 7 of the hardening issue: cost per message, per-client limits, secrets. */

let h: Harness;
afterEach(async () => {
  vi.restoreAllMocks();
  const invalid = h?.invalidMessages() ?? [];
  await h?.stop();
  expect(invalid).toEqual([]);
});

const manyKeys = (n: number, value: unknown) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value]));

describe('a cost bound per message, checked before parsing (#5)', () => {
  it('rejects a valid 62 KB signal with 5,000 keys without parsing it, and still relays honest SDP', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    const b = await h.joined('r');
    const text = JSON.stringify({ type: 'signal', to: b.id, data: manyKeys(5000, 'v') });
    expect(text.length).toBeGreaterThan(50_000);
    expect(text.length).toBeLessThan(DEFAULTS.maxMessageBytes);
    const parse = vi.spyOn(JSON, 'parse');
    for (let i = 0; i < 5; i++) a.c.send(text);
    for (let i = 0; i < 5; i++) expect(await a.c.next('error')).toMatchObject({ code: 'too-complex' });
    expect(parse.mock.calls.filter(([s]) => typeof s === 'string' && s.includes('"k4999"'))).toEqual([]);
    parse.mockRestore();
    await b.c.sync();
    expect(b.c.take('signal')).toEqual([]);

    // SDP and ICE payloads are a few KB: a 20 KB one is too big for a signal, though under the socket's cap.
    a.c.send({ type: 'signal', to: b.id, data: { type: 'offer', sdp: 'x'.repeat(20_000) } });
    expect(await a.c.next('error')).toMatchObject({ code: 'too-big', message: expect.stringContaining("'signal'") });
    const offer = { type: 'offer', sdp: 'a=candidate:1 1 udp 2122260223 192.168.1.2 54321 typ host\r\n'.repeat(60) };
    a.c.send({ type: 'signal', to: b.id, data: offer });
    expect((await b.c.next('signal')).data).toEqual(offer);
    expect(h.signaling.stats().rejected).toMatchObject({ 'too-complex': 5, 'too-big': 1 });
  });

  it('rejects invalid metrics with 4,000 entries before schema validation, and still relays honest metrics', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    const b = await h.joined('r');
    const text = JSON.stringify({ type: 'metrics', data: manyKeys(4000, null) });
    const validate = vi.spyOn(ClientMessageSchema, 'safeParse');
    for (let i = 0; i < 5; i++) a.c.send(text);
    for (let i = 0; i < 5; i++) expect(await a.c.next('error')).toMatchObject({ code: 'too-complex' });
    expect(validate).not.toHaveBeenCalled();
    validate.mockRestore();
    // 64 keys is the schema's cap for metrics; 100 is turned away by the count alone.
    a.c.send({ type: 'metrics', data: manyKeys(100, 1) });
    expect(await a.c.next('error')).toMatchObject({ code: 'too-complex', message: expect.stringContaining("'metrics'") });
    a.c.send({ type: 'metrics', data: { round: 3, accuracy: 0.91, state: 'training', sketch: 'x'.repeat(200) } });
    expect((await b.c.next('metrics')).data).toMatchObject({ round: 3 });
    expect(h.signaling.stats().rejected['too-complex']).toBe(6);
  });

  it('measures nesting on the raw text too: deep or wide JSON never reaches the parser', async () => {
    h = await Harness.start();
    const c = await h.client();
    const parse = vi.spyOn(JSON, 'parse');
    c.send('{"type":"ping","x":' + '['.repeat(5000) + ']'.repeat(5000) + '}');
    expect(await c.next('error')).toMatchObject({ code: 'too-complex' });
    c.send(`{"type":"ping","x":[${'0,'.repeat(9000)}0]}`);
    expect(await c.next('error')).toMatchObject({ code: 'too-complex' });
    // Brackets and commas inside strings (with escaped quotes) are text, not structure.
    c.send(JSON.stringify({ type: 'join', room: 'r', name: 'a "[[[,,,]]]" b', config: { note: '{'.repeat(3000) + '\\"' + ','.repeat(3000) } }));
    expect((await c.next(['welcome', 'error'])).type).toBe('welcome');
    expect(parse.mock.calls.filter(([s]) => typeof s === 'string' && s.length > 9000 && s.includes('[[[[[[['))).toEqual([]);
  });
});

describe('a byte budget per socket (#5)', () => {
  it('reads a socket that sends more bytes than its budget more slowly (TCP backpressure), without errors or cost to others', async () => {
    h = await Harness.start({ bytesPerSecond: 200_000, byteBurst: 200_000 });
    const hog = await h.client();
    const other = await h.client('127.0.0.2');
    // Ten 50 KB messages (too big for a ping, so each is answered with an error): 500 KB against a
    // 200 KB burst and 200 KB/s.
    const big = JSON.stringify({ type: 'ping', pad: 'x'.repeat(50_000) });
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) hog.send(big);
    // Meanwhile another socket is served at once.
    const t1 = Date.now();
    await other.sync();
    expect(Date.now() - t1).toBeLessThan(500);
    for (let i = 0; i < 10; i++) expect(await hog.next('error', 5000)).toMatchObject({ code: 'too-big' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800); // ~1.25 s in theory; frames ws had already read still come through
    expect(hog.ws.readyState).toBe(WebSocket.OPEN);
    expect(h.signaling.stats().throttled).toBeGreaterThan(0);
    await hog.sync();
  });
});

describe('per-client limits (#6)', () => {
  it('keeps one host from taking every room', async () => {
    h = await Harness.start({ maxRooms: 8, maxRoomsPerAddress: 3 });
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push(await h.joined(`mine-${i}`));
    const c = await h.client();
    c.send({ type: 'join', room: 'mine-3' });
    expect(await c.next('error')).toMatchObject({ code: 'too-many-rooms' });
    // It may still join rooms that exist, and other hosts still create theirs.
    await c.join('mine-0');
    await h.joined('theirs', {}, '127.0.0.2');
    // A room it created that empties frees a slot.
    mine[1].c.ws.close();
    await until(() => h.signaling.stats().rooms === 3, 2000, 'mine-1 deleted');
    await h.joined('mine-3');
    expect(h.signaling.stats().rejected['too-many-rooms']).toBe(1);
    expect(DEFAULTS.maxRoomsPerAddress).toBeLessThan(DEFAULTS.maxRooms / 4);
  });

  it('caps open sockets per client address (HTTP 429), and frees the slot when one closes', async () => {
    h = await Harness.start({ maxConnectionsPerAddress: 4 });
    for (let i = 0; i < 4; i++) await h.client();
    await expect(TestClient.open(h.url)).rejects.toThrow(/HTTP 429/);
    await h.client('127.0.0.2');
    h.clients[0].ws.close();
    await until(() => h.signaling.stats().connections === 4, 2000, 'socket closed');
    await h.client();
    expect(h.signaling.stats().rejected['too-many-connections-from-address']).toBe(1);
    expect(DEFAULTS.maxConnectionsPerAddress).toBeLessThan(DEFAULTS.maxConnections / 4);
  });

  it('closes sockets that do not join in time (counted), so idle sockets cannot fill the server', async () => {
    h = await Harness.start({ joinTimeoutMs: 300, maxConnections: 4 });
    const idle = await h.client('127.0.0.2');
    const pinger = await h.client('127.0.0.3');
    const member = await h.joined('r');
    const leaver = await h.joined('r');
    await expect(TestClient.open(h.url)).rejects.toThrow(/HTTP 503/); // full
    leaver.c.send({ type: 'leave' });
    const pings = setInterval(() => pinger.ws.readyState === WebSocket.OPEN && pinger.send({ type: 'ping' }), 50);
    try {
      // Pings are answered but do not count as joining; leaving restarts the clock.
      for (const c of [idle, pinger, leaver.c]) expect(await c.waitClosed(3000)).toEqual({ code: 1008, reason: 'join timeout' });
    } finally {
      clearInterval(pings);
    }
    expect(pinger.take('pong').length).toBeGreaterThan(0);
    expect(member.c.ws.readyState).toBe(WebSocket.OPEN);
    await member.c.sync();
    expect(h.signaling.stats().closed.idle).toBe(3);
    // The freed slots serve newcomers.
    await h.joined('r');
    expect(DEFAULTS.joinTimeoutMs).toBeLessThanOrEqual(30_000);
  });

  it('makes brute force of a 4-digit secret slow: attempts are limited per address, with a lockout', async () => {
    h = await Harness.start();
    const teacher = await h.joined('class1', { secret: '4711' });
    const answers: string[] = [];
    for (let i = 0; i < 60; i++) {
      // A fresh socket per guess: error limits per socket would not stop this.
      const c = await h.client('127.0.0.2');
      c.send({ type: 'join', room: 'class1', secret: String(i).padStart(4, '0') });
      const m = await c.next(['welcome', 'error']);
      answers.push(m.type === 'error' ? m.code : m.peers.length > 0 ? 'in' : 'empty');
      c.ws.terminate();
    }
    const refused = answers.filter((a) => a === 'rate-limited').length;
    expect(refused).toBeGreaterThanOrEqual(45);
    // Locked out: even the right secret is refused from that address, so the lockout is no oracle.
    const again = await h.client('127.0.0.2');
    again.send({ type: 'join', room: 'class1', secret: '4711' });
    expect(await again.next(['welcome', 'error'])).toMatchObject({ type: 'error', code: 'rate-limited' });
    // The class goes on: a student elsewhere with the secret joins.
    const student = await h.joined('class1', { secret: '4711' }, '127.0.0.3');
    expect(student.welcome.peers).toEqual([teacher.id]);
    // At the default rates, the 10,000 secrets take days from one address.
    const perHour = (DEFAULTS.secretAttemptsPerAddress * 3600_000) / (DEFAULTS.secretWindowMs + DEFAULTS.secretLockoutMs);
    expect(5000 / perHour).toBeGreaterThan(24);
  });

  it('locks a room name after too many attempts from many addresses; the owner key still gets in', async () => {
    // The teacher's creation is the name's first attempt; six guesses from two hosts make seven.
    h = await Harness.start({ secretAttemptsPerAddress: 3, secretAttemptsPerRoom: 7, secretLockoutMs: 400 });
    const teacher = await h.joined('class1', { secret: '4711' });
    const key = teacher.welcome.ownerKey!;
    const guess = async (addr: string, room: string, secret: string) => {
      const c = await h.client(addr);
      c.send({ type: 'join', room, secret });
      const m = await c.next(['welcome', 'error']);
      c.ws.terminate();
      return m.type === 'error' ? m.code : 'welcome';
    };
    for (const addr of ['127.0.0.2', '127.0.0.3']) for (let i = 0; i < 3; i++) expect(await guess(addr, 'class1', `g${addr}${i}`)).toBe('welcome');
    // A third host with its own budget is refused at this name, whatever it presents, but not elsewhere.
    expect(await guess('127.0.0.4', 'class1', 'g4')).toBe('rate-limited');
    expect(await guess('127.0.0.4', 'class1', '4711')).toBe('rate-limited');
    expect(await guess('127.0.0.4', 'class2', 's')).toBe('welcome');
    const owner = await h.client('127.0.0.5');
    const back = await owner.join('class1', { secret: '4711', ownerKey: key });
    expect(back.owner).toBe(back.id);
    // After the lockout the name is open to the right secret again.
    await new Promise((r) => setTimeout(r, 450));
    expect(await guess('127.0.0.4', 'class1', '4711')).toBe('welcome');
  });
});

describe('a wrong secret does not reveal that a room exists (#7)', () => {
  /** A welcome without what differs between any two welcomes (ids, names, the new key). */
  const shape = (m: ServerMessage) =>
    m.type === 'welcome' ? { ...m, id: '*', room: '*', names: Object.keys(m.names).length, owner: m.owner === m.id, ownerKey: typeof m.ownerKey, resume: typeof m.resume } : m;

  it('answers a wrong secret exactly like a room that does not exist: a new, empty room', async () => {
    h = await Harness.start();
    const owner = await h.joined('private', { secret: 'right' });
    const probe = async (room: string, extra: Record<string, unknown>) => {
      const c = await h.client('127.0.0.2');
      c.send({ type: 'join', room, ...extra });
      return c.next(['welcome', 'error']);
    };
    const wrong = await probe('private', { secret: 'wrong' });
    const none = await probe('nobody-here', { secret: 'wrong' });
    expect(wrong).toMatchObject({ type: 'welcome', peers: [] });
    expect(shape(wrong)).toEqual(shape(none));
    // Without a secret, the name is an open room of its own (an open room just joins).
    const open = await probe('private', {});
    expect(open).toMatchObject({ type: 'welcome', peers: [] });
    expect((await probe('private', {})).type === 'welcome' && (await h.clients.at(-1)!.sync(), true)).toBe(true);
    // The owner's room never saw any of them.
    await owner.c.sync();
    expect(owner.c.take('roster').every((r) => r.peers.length === 1)).toBe(true);
    expect(h.signaling.stats().rooms).toBe(4);
    // The right secret still finds it.
    expect((await h.joined('private', { secret: 'right' }, '127.0.0.3')).welcome.peers).toEqual([owner.id]);
  });

  it('refuses the same way when no room can be created, whether the name is taken or not', async () => {
    h = await Harness.start({ maxRooms: 2 });
    await h.joined('private', { secret: 'right' });
    await h.joined('filler');
    const c = await h.client('127.0.0.2');
    c.send({ type: 'join', room: 'private', secret: 'wrong' });
    const wrong = await c.next(['welcome', 'error']);
    c.send({ type: 'join', room: 'nobody-here', secret: 'wrong' });
    const none = await c.next(['welcome', 'error']);
    expect(wrong).toMatchObject({ type: 'error', code: 'too-many-rooms' });
    expect(none).toEqual(wrong);
  });

  it('never echoes a secret or an owner key, in any frame to anyone or in the log, on any path', async () => {
    const logs: string[] = [];
    h = await Harness.start({ log: (l) => logs.push(l), secretAttemptsPerAddress: 4, maxRooms: 6 });
    const secret = 'Sesame-7319';
    const wrongSecret = 'Wrong-8812';
    const a = await h.joined('vault', { secret, name: 'teacher', config: { algo: 'fedavg', secret, nested: { ownerKey: 'planted' } } });
    const key = a.welcome.ownerKey!;
    const b = await h.joined('vault', { secret, ownerKey: 'not-the-key' }, '127.0.0.3');
    const c = await h.client('127.0.0.2');
    const sends: unknown[] = [
      { type: 'join', room: 'vault', secret: wrongSecret },
      { type: 'join', room: 'vault', secret: wrongSecret }, // already joined
      { type: 'leave' },
      { type: 'join', room: 'vault', secret: wrongSecret, name: 'bad\nname' },
      { type: 'join', room: 'bad room', secret: wrongSecret },
      { type: 'join', room: 'vault', secret: wrongSecret.repeat(40) },
      { type: 'join', room: 'vault', secret, ownerKey: key.slice(0, 20) + 'x' },
      { type: 'leave' },
      { type: 'join', room: 'vault', secret: wrongSecret, config: { blob: 'x'.repeat(30_000) } },
      { type: 'join', room: 'vault', secret: wrongSecret, config: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) },
      { type: 'join', room: 'vault2', secret: wrongSecret },
      { type: 'leave' },
      { type: 'join', room: 'vault3', secret: wrongSecret },
      { type: 'leave' },
      { type: 'join', room: 'vault4', secret: wrongSecret }, // locked out by now
      { type: 'join', room: 'vault', secret },
      { type: 'config', config: { secret, ownerKey: key } },
      { type: 'metrics', data: { secret, ownerKey: key, round: 1 } },
    ];
    for (const m of sends) {
      c.send(m);
      await c.sync();
    }
    a.c.send({ type: 'config', config: { algo: 'gossip', secret, ownerKey: key } });
    a.c.send({ type: 'start', config: { algo: 'gossip', secret } });
    a.c.send({ type: 'metrics', data: { secret, ownerKey: key, round: 2 } });
    for (const x of h.clients) await x.sync();
    expect(c.raw.length).toBeGreaterThan(sends.length);
    for (const x of h.clients) {
      for (const frame of x.raw) {
        for (const s of [secret, wrongSecret, 'planted']) expect(frame).not.toContain(s);
        expect(frame).not.toMatch(/"secret"\s*:/);
        if (x !== a.c) expect(frame).not.toContain(key);
      }
    }
    expect(a.c.raw.filter((f) => f.includes(key)).map((f) => JSON.parse(f).type)).toEqual(['welcome']);
    for (const line of logs) for (const s of [secret, wrongSecret, key, 'planted']) expect(line).not.toContain(s);
    void b;
  });
});

describe('addressKey', () => {
  it('counts IPv4 (also IPv4-mapped) by address and IPv6 by its /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('?');
  });
});
