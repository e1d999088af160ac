import type { NodeId } from '../protocols/protocol.ts';
import type { Transport } from './ports.ts';

/**
 * One behavioural suite for every Transport: the simulator's in-memory network (Vitest)
 * and the live WebRTC transport (in Chromium). Each case throws on failure.
 */
export interface TransportWorld {
  /** Three connected-capable transports, ids in `ids`. */
  transports: [Transport, Transport, Transport];
  /** Lets time pass (virtual or real) until `done()` holds; false on timeout. */
  settle(done: () => boolean, timeoutMs: number): Promise<boolean>;
  dispose(): void;
}

export interface ConformanceCase {
  name: string;
  run(world: TransportWorld): Promise<void>;
}

type Received = { from: NodeId; frame: Uint8Array }[];

function record(t: Transport): Received {
  const got: Received = [];
  t.onFrame((from, frame) => got.push({ from, frame: frame.slice() }));
  return got;
}

function pattern(length: number, salt: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = salt * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

export const conformanceCases: ConformanceCase[] = [
  {
    name: 'delivers a small frame intact, with the sender id',
    async run({ transports: [a, b], settle }) {
      const got = record(b);
      const frame = pattern(100, 1);
      a.send(b.self, frame);
      check(await settle(() => got.length === 1, 20000), `expected 1 frame, got ${got.length}`);
      check(got[0].from === a.self, `sender ${got[0].from}, expected ${a.self}`);
      check(sameBytes(got[0].frame, frame), 'frame bytes differ');
    },
  },
  {
    name: 'delivers a 3 MB frame, far beyond one data-channel message, intact',
    async run({ transports: [a, b], settle }) {
      const got = record(b);
      const frame = pattern(3 * 1024 * 1024 + 17, 2);
      a.send(b.self, frame);
      check(await settle(() => got.length === 1, 60000), `expected 1 frame, got ${got.length}`);
      check(sameBytes(got[0].frame, frame), 'large frame bytes differ');
    },
  },
  {
    name: 'keeps the order of frames between two peers',
    async run({ transports: [a, b], settle }) {
      const got = record(b);
      const frames = Array.from({ length: 30 }, (_, i) => pattern(1000 + i * 5000, 10 + i));
      for (const f of frames) a.send(b.self, f);
      check(await settle(() => got.length === frames.length, 60000), `expected ${frames.length} frames, got ${got.length}`);
      frames.forEach((f, i) => check(sameBytes(got[i].frame, f), `frame ${i} out of order or corrupted`));
    },
  },
  {
    name: 'talks to several peers at once, in both directions',
    async run({ transports: [a, b, c], settle }) {
      const gotA = record(a);
      const gotB = record(b);
      const gotC = record(c);
      a.send(b.self, pattern(500, 3));
      a.send(c.self, pattern(600, 4));
      c.send(a.self, pattern(700, 5));
      b.send(c.self, pattern(800, 6));
      check(await settle(() => gotA.length === 1 && gotB.length === 1 && gotC.length === 2, 30000), `got ${gotA.length}/${gotB.length}/${gotC.length}`);
      check(gotA[0].from === c.self && gotB[0].from === a.self, 'wrong senders');
      check(new Set(gotC.map((g) => g.from)).size === 2, 'c should hear from a and b');
      check(sameBytes(gotC.find((g) => g.from === b.self)!.frame, pattern(800, 6)), 'b→c bytes differ');
    },
  },
  {
    name: 'sending to an unknown peer or to itself neither throws nor delivers',
    async run({ transports: [a, b], settle }) {
      const got = record(b);
      a.send('nobody-here', pattern(10, 7));
      a.send(a.self, pattern(10, 8));
      a.send(b.self, pattern(10, 9));
      check(await settle(() => got.length === 1, 20000), 'the valid frame did not arrive');
      await settle(() => false, 300);
      check(got.length === 1, `expected exactly 1 frame, got ${got.length}`);
    },
  },
  {
    name: 'a closed transport receives nothing, and sending to it does not throw',
    async run({ transports: [a, b, c], settle }) {
      const got = record(c);
      const gotB = record(b);
      a.send(c.self, pattern(10, 11));
      check(await settle(() => got.length === 1, 20000), 'first frame did not arrive');
      c.close();
      a.send(c.self, pattern(10, 12));
      a.send(b.self, pattern(10, 13));
      check(await settle(() => gotB.length === 1, 20000), 'the surviving peer stopped receiving');
      await settle(() => false, 500);
      check(got.length === 1, 'a closed transport received a frame');
    },
  },
];
