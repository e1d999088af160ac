import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULTS } from '../../server/signaling.ts';
import { ClientMessageSchema } from '../../src/core/signaling/messages.ts';
import { Harness } from './helpers.ts';

/** Findings of the hardening issue: a cost bound per message (#5). */

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
