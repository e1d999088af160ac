import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { Harness, TestClient, until } from './helpers.ts';

let h: Harness;
afterEach(async () => {
  // Every server message seen in the test must match the published schema.
  const invalid = h?.invalidMessages() ?? [];
  await h?.stop();
  expect(invalid).toEqual([]);
});

describe('rooms and roster', () => {
  it('answers join with a welcome carrying a fresh id, the room state and the ICE servers', async () => {
    const iceServers = [{ urls: 'stun:stun.example.org:3478' }];
    h = await Harness.start({ iceServers });
    const a = await h.joined('lobby', { name: 'alice' });
    expect(a.welcome).toMatchObject({ type: 'welcome', room: 'lobby', peers: [], config: null, started: false, coordinator: null, iceServers });
    expect(a.id).toMatch(/^[\w-]{8}$/);
    expect(a.welcome.names).toEqual({ [a.id]: 'alice' });
    const b = await h.joined('lobby');
    expect(b.id).not.toBe(a.id);
    expect(b.welcome.peers).toEqual([a.id]);
    expect(h.signaling.stats()).toMatchObject({ rooms: 1, peers: 2, connections: 2 });
  });

  it('pushes the roster to every member on join, leave and disconnect', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    expect((await a.c.next('roster')).peers).toEqual([a.id]);
    const b = await h.joined('r');
    expect((await a.c.next('roster')).peers).toEqual([a.id, b.id]);
    expect((await b.c.next('roster')).peers).toEqual([a.id, b.id]);

    b.c.send({ type: 'leave' });
    expect((await a.c.next('roster')).peers).toEqual([a.id]);

    const c = await h.joined('r');
    expect((await a.c.next('roster')).peers).toEqual([a.id, c.id]);
    c.c.ws.close();
    expect((await a.c.next('roster')).peers).toEqual([a.id]);

    // The socket that left may join again, with a new id.
    const again = await b.c.join('r');
    expect(again.id).not.toBe(b.id);
    expect(again.peers).toEqual([a.id]);
  });

  it('deletes empty rooms', async () => {
    h = await Harness.start();
    const a = await h.joined('x');
    await h.joined('y');
    expect(h.signaling.stats().rooms).toBe(2);
    a.c.ws.close();
    await until(() => h.signaling.stats().rooms === 1, 2000, 'room x deleted');
    expect(h.signaling.stats().peers).toBe(1);
  });

  it('rejects a second join on the same socket', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    a.c.send({ type: 'join', room: 'other' });
    expect(await a.c.next('error')).toMatchObject({ code: 'already-joined' });
    expect(h.signaling.stats().rooms).toBe(1);
  });
});

describe('signal relay', () => {
  it('relays SDP/ICE payloads between two peers of one room, unchanged and tagged with the sender', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    const b = await h.joined('r');
    const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' };
    a.c.send({ type: 'signal', to: b.id, data: offer });
    expect(await b.c.next('signal')).toEqual({ type: 'signal', from: a.id, data: offer });
    const candidate = { candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0' } };
    b.c.send({ type: 'signal', to: a.id, data: candidate });
    expect(await a.c.next('signal')).toEqual({ type: 'signal', from: b.id, data: candidate });
  });

  it('never lets a signal cross rooms: unknown-peer for the sender, nothing for the target', async () => {
    h = await Harness.start();
    const a = await h.joined('room-a');
    const b = await h.joined('room-b');
    b.c.send({ type: 'signal', to: a.id, data: { type: 'offer', sdp: 'x' } });
    expect(await b.c.next('error')).toMatchObject({ code: 'unknown-peer' });
    await a.c.sync();
    expect(a.c.take('signal')).toEqual([]);
    // Signalling yourself or a made-up id is the same error.
    b.c.send({ type: 'signal', to: b.id, data: {} });
    expect(await b.c.next('error')).toMatchObject({ code: 'unknown-peer' });
    expect(h.signaling.stats().rejected['unknown-peer']).toBe(2);
  });

  it('answers messages sent before join with not-joined', async () => {
    h = await Harness.start();
    const c = await h.client();
    for (const msg of [{ type: 'signal', to: 'abc', data: {} }, { type: 'metrics', data: { loss: 1 } }, { type: 'start' }, { type: 'leave' }]) {
      c.send(msg);
      expect(await c.next('error')).toMatchObject({ code: 'not-joined' });
    }
    await c.sync(); // ping is allowed before join
  });
});

describe('secrets', () => {
  it('keeps a room with a secret apart: another secret, or none, is another room', async () => {
    h = await Harness.start();
    const owner = await h.joined('private', { secret: 'hunter2' });
    const wrong = await h.client();
    // A wrong secret is a room of its own (new and empty), as if the name were free.
    const w = await wrong.join('private', { secret: 'hunter3' });
    expect(w).toMatchObject({ room: 'private', peers: [], owner: w.id });
    wrong.send({ type: 'leave' });
    const none = await wrong.join('private');
    expect(none.peers).toEqual([]);
    const right = await h.joined('private', { secret: 'hunter2' });
    expect(right.welcome.peers).toEqual([owner.id]);

    // An open room stays open; presenting a secret with its name is another room too.
    const open = await h.joined('open');
    const other = await h.joined('open', { secret: 'hunter2' });
    expect(other.welcome.peers).toEqual([]);
    expect((await h.joined('open')).welcome.peers).toEqual([open.id]);
    expect(h.signaling.stats()).toMatchObject({ rooms: 4, rejected: {} });
    // Two of those joins created a room with a secret under a name already in use.
    expect(h.signaling.stats().secretMisses).toBe(2);
  });
});

describe('coordinator, config and start', () => {
  it('keeps the first joiner config, broadcasts config changes and start, and welcomes late joiners into the run', async () => {
    h = await Harness.start();
    const a = await h.joined('exp', { config: { algo: 'fedavg', lr: 0.1 } });
    const b = await h.joined('exp', { config: { algo: 'gossip' } });
    expect(b.welcome.config).toEqual({ algo: 'fedavg', lr: 0.1 });
    const outsider = await h.joined('elsewhere');

    a.c.send({ type: 'config', config: { algo: 'modest' } });
    for (const c of [a.c, b.c]) expect(await c.next('config')).toEqual({ type: 'config', config: { algo: 'modest' }, from: a.id });

    await b.c.sync();
    b.c.take('roster'); // rosters from the joins
    const before = Date.now();
    a.c.send({ type: 'start', config: { algo: 'fedavg', rounds: 5 } });
    for (const c of [a.c, b.c]) {
      const s = await c.next('start');
      expect(s).toMatchObject({ type: 'start', config: { algo: 'fedavg', rounds: 5 }, coordinator: a.id });
      expect(s.startedAt).toBeGreaterThanOrEqual(before);
    }
    expect((await b.c.next('roster')).coordinator).toBe(a.id);

    const late = await h.joined('exp');
    expect(late.welcome).toMatchObject({ started: true, coordinator: a.id, config: { algo: 'fedavg', rounds: 5 } });

    await outsider.c.sync();
    expect(outsider.c.take('start')).toEqual([]);
    expect(outsider.c.take('config')).toEqual([]);
  });

  it("takes a room's config from its owner's join only, and tells the others", async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    expect(a.welcome.config).toBeNull();
    // A student's link cannot set the config of a room whose owner brought none.
    const b = await h.joined('r', { config: { seed: 7 } });
    expect(b.welcome.config).toBeNull();
    // The owner coming back with its key (and a config) sets it, and the others hear of it.
    const a2 = await h.joined('r', { ownerKey: a.welcome.ownerKey, config: { seed: 8 } });
    expect(a2.welcome.config).toEqual({ seed: 8 });
    expect(await b.c.next('config')).toEqual({ type: 'config', config: { seed: 8 }, from: a2.id });
  });

  it('re-elects the oldest remaining member when the coordinator leaves', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    const b = await h.joined('r');
    const c = await h.joined('r');
    a.c.send({ type: 'start' }); // the owner starts and coordinates
    expect((await c.c.next('start')).coordinator).toBe(a.id);

    a.c.send({ type: 'leave' });
    await until(() => c.c.inbox.some((m) => m.type === 'roster' && m.peers.length === 2), 2000, 'roster after leave');
    const afterLeave = c.c.take('roster').at(-1)!;
    expect(afterLeave).toMatchObject({ peers: [b.id, c.id], coordinator: b.id, owner: null });

    b.c.ws.close();
    await until(() => c.c.inbox.some((m) => m.type === 'roster' && m.peers.length === 1), 2000, 'roster after close');
    expect(c.c.take('roster').at(-1)).toMatchObject({ peers: [c.id], coordinator: c.id });

    const d = await h.joined('r');
    expect(d.welcome.coordinator).toBe(c.id);
  });
});

describe('metrics', () => {
  it('fans metrics out to the other members of the room only', async () => {
    h = await Harness.start();
    const a = await h.joined('m');
    const b = await h.joined('m');
    const other = await h.joined('n');
    a.c.send({ type: 'metrics', data: { round: 3, acc: 0.91, backend: 'webgl' } });
    expect(await b.c.next('metrics')).toEqual({ type: 'metrics', from: a.id, data: { round: 3, acc: 0.91, backend: 'webgl' } });
    await a.c.sync();
    await other.c.sync();
    expect(a.c.take('metrics')).toEqual([]);
    expect(other.c.take('metrics')).toEqual([]);
  });

  it('rate-limits metrics per peer and says so', async () => {
    h = await Harness.start({ metricsPerSecond: 20 });
    const a = await h.joined('m');
    const b = await h.joined('m');
    for (let i = 0; i < 40; i++) a.c.send({ type: 'metrics', data: { i } });
    await a.c.sync();
    const limited = a.c.take('error').filter((e) => e.code === 'rate-limited').length;
    await b.c.sync();
    const got = b.c.take('metrics').length;
    expect(limited).toBeGreaterThanOrEqual(15); // burst of 20, plus at most a token or two refilled meanwhile
    expect(got + limited).toBe(40);
    expect(got).toBeLessThanOrEqual(25);
  });

  it('rejects metrics that are not a small flat object of numbers and strings', async () => {
    h = await Harness.start();
    const a = await h.joined('m');
    a.c.send({ type: 'metrics', data: { nested: { x: 1 } } });
    expect(await a.c.next('error')).toMatchObject({ code: 'bad-message' });
    a.c.send({ type: 'metrics', data: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])) });
    expect(await a.c.next('error')).toMatchObject({ code: 'too-complex' }); // counted before parsing
    a.c.send({ type: 'metrics', data: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])) });
    expect(await a.c.next('error')).toMatchObject({ code: 'bad-message' }); // the schema's cap of 64
  });
});

describe('lifecycle', () => {
  it('terminates sockets that stop answering pings and updates the roster', async () => {
    h = await Harness.start({ heartbeatMs: 40 });
    const a = await h.joined('r');
    const b = await h.joined('r');
    await a.c.next('roster');
    b.c.ws.pause(); // stops reading, so no pongs
    await until(() => a.c.inbox.some((m) => m.type === 'roster' && m.peers.length === 1), 2000, 'dead peer removed');
    expect(h.signaling.stats().closed.dead).toBe(1);
    // The healthy peer has answered every ping and is still connected.
    await a.c.sync();
    b.c.ws.resume();
  });

  it('leaves other upgrade paths (e.g. Vite HMR) to their own listeners', async () => {
    h = await Harness.start();
    const other = new WebSocketServer({ noServer: true });
    h.http.on('upgrade', (req, socket, head) => {
      if (req.url === '/hmr') other.handleUpgrade(req, socket, head, (ws) => ws.send('hello from hmr'));
    });
    const hmr = new WebSocket(h.url.replace('/signal', '/hmr'));
    const first = await new Promise<string>((resolve, reject) => {
      hmr.once('message', (d) => resolve(String(d)));
      hmr.once('error', reject);
    });
    expect(first).toBe('hello from hmr');
    expect(h.signaling.stats().connections).toBe(0);
    await h.joined('r');
    hmr.terminate();
    other.close();
  });

  it('closes client sockets with 1001 on close() and refuses new ones', async () => {
    h = await Harness.start();
    const a = await h.joined('r');
    await h.signaling.close();
    expect((await a.c.waitClosed()).code).toBe(1001);
    expect(h.signaling.stats()).toMatchObject({ rooms: 0, peers: 0, connections: 0 });
    // Detached: nothing answers /signal any more, so the upgrade does not complete.
    await expect(TestClient.open(h.url).then((c) => c.ws.terminate())).rejects.toThrow();
  });
});
