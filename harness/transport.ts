import { conformanceCases, type TransportWorld } from '../src/runtime/transportConformance.ts';
import { WebRtcTransport, DEFAULT_WEBRTC, type SignalRelay } from '../src/live/transport/webrtcTransport.ts';

/**
 * A test page, not part of the app: three WebRtcTransports in one page, joined by an
 * in-page signal relay, so the conformance suite drives real RTCPeerConnections.
 */
function webrtcWorld(prefix: string): TransportWorld {
  const handlers = new Map<string, (from: string, data: unknown) => void>();
  const relayFor = (self: string): SignalRelay => ({
    sendSignal: (to, data) => setTimeout(() => handlers.get(to)?.(self, JSON.parse(JSON.stringify(data))), 0),
    onSignal: (h) => void handlers.set(self, h),
  });
  const ids = ['a', 'b', 'c'].map((x) => `${prefix}-${x}`);
  const transports = ids.map((id) => new WebRtcTransport(id, relayFor(id), { ...DEFAULT_WEBRTC })) as [WebRtcTransport, WebRtcTransport, WebRtcTransport];
  return {
    transports,
    settle: (done, timeoutMs) =>
      new Promise((resolve) => {
        const until = performance.now() + timeoutMs;
        const tick = () => {
          if (done()) resolve(true);
          else if (performance.now() > until) resolve(done());
          else setTimeout(tick, 10);
        };
        tick();
      }),
    dispose: () => transports.forEach((t) => t.close()),
  };
}

/** The cap on open connections: idle links are closed least-recently-used first, and redialled on demand. */
async function runCapCheck(): Promise<{ delivered: number; openAtEnd: number; evicted: number; redialOk: boolean }> {
  const handlers = new Map<string, (from: string, data: unknown) => void>();
  const relay = (self: string): SignalRelay => ({
    sendSignal: (to, data) => setTimeout(() => handlers.get(to)?.(self, JSON.parse(JSON.stringify(data))), 0),
    onSignal: (h) => void handlers.set(self, h),
  });
  const a = new WebRtcTransport('cap-a', relay('cap-a'), { ...DEFAULT_WEBRTC, maxConnections: 2 });
  const others = ['cap-b', 'cap-c', 'cap-d'].map((id) => new WebRtcTransport(id, relay(id), { ...DEFAULT_WEBRTC }));
  let delivered = 0;
  others.forEach((t) => t.onFrame(() => delivered++));
  const wait = async (done: () => boolean) => {
    for (let i = 0; i < 2000 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  };
  for (const [i, t] of others.entries()) {
    a.send(t.self, new Uint8Array([i]));
    await wait(() => delivered === i + 1);
  }
  const openAtEnd = a.connectedPeers().length;
  a.send('cap-b', new Uint8Array([9])); // b was evicted first: this redials
  await wait(() => delivered === 4);
  const result = { delivered, openAtEnd, evicted: a.stats.evicted, redialOk: delivered === 4 };
  [a, ...others].forEach((t) => t.close());
  return result;
}

export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
  ms: number;
}

async function runConformance(): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  let n = 0;
  for (const c of conformanceCases) {
    const world = webrtcWorld(`w${n++}`);
    const t0 = performance.now();
    try {
      await c.run(world);
      results.push({ name: c.name, ok: true, ms: performance.now() - t0 });
    } catch (e) {
      results.push({ name: c.name, ok: false, error: (e as Error).message, ms: performance.now() - t0 });
    } finally {
      world.dispose();
    }
  }
  document.getElementById('out')!.textContent = JSON.stringify(results, null, 2);
  return results;
}

declare global {
  interface Window {
    harness: { runConformance: typeof runConformance; runCapCheck: typeof runCapCheck; runTransferBench?: (frameBytes?: number, frames?: number, reps?: number) => Promise<TransferResult> };
  }
}
window.harness = { runConformance, runCapCheck };

export interface TransferResult {
  frames: number;
  frameBytes: number;
  ourMs: number;
  rawMs: number;
  ourMBps: number;
  rawMBps: number;
  ratio: number;
}

/** Goodput of our transport (chunking, pacing, reassembly) against a bare data channel sending the same bytes. */
async function runTransferBench(frameBytes = 797 * 1024, frames = 20, reps = 3): Promise<TransferResult> {
  const payload = new Uint8Array(frameBytes).map((_, i) => i & 255);
  const ours: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < reps; r++) {
    ours.push(await timeOurs(payload, frames, r));
    raw.push(await timeRaw(payload, frames));
  }
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ourMs = median(ours);
  const rawMs = median(raw);
  const mb = (frameBytes * frames) / 1e6;
  return { frames, frameBytes, ourMs, rawMs, ourMBps: mb / (ourMs / 1000), rawMBps: mb / (rawMs / 1000), ratio: rawMs / ourMs };
}

async function timeOurs(payload: Uint8Array, frames: number, rep: number): Promise<number> {
  const world = webrtcWorld(`bench${rep}`);
  const [a, b] = world.transports;
  let got = 0;
  b.onFrame(() => got++);
  // Warm up: open the connection before the clock starts, as the raw channel below does.
  a.send(b.self, new Uint8Array(8));
  await world.settle(() => got === 1, 20000);
  got = 0;
  const t0 = performance.now();
  for (let i = 0; i < frames; i++) a.send(b.self, payload);
  await world.settle(() => got === frames, 120000);
  const ms = performance.now() - t0;
  world.dispose();
  return ms;
}

async function timeRaw(payload: Uint8Array, frames: number): Promise<number> {
  const p1 = new RTCPeerConnection();
  const p2 = new RTCPeerConnection();
  p1.onicecandidate = (e) => e.candidate && p2.addIceCandidate(e.candidate);
  p2.onicecandidate = (e) => e.candidate && p1.addIceCandidate(e.candidate);
  const ch = p1.createDataChannel('raw');
  ch.binaryType = 'arraybuffer';
  let received = 0;
  const total = payload.length * frames;
  const done = new Promise<void>((resolve) => {
    p2.ondatachannel = (e) => {
      e.channel.binaryType = 'arraybuffer';
      e.channel.onmessage = (m) => {
        received += (m.data as ArrayBuffer).byteLength;
        if (received >= total) resolve();
      };
    };
  });
  await p1.setLocalDescription(await p1.createOffer());
  await p2.setRemoteDescription(p1.localDescription!);
  await p2.setLocalDescription(await p2.createAnswer());
  await p1.setRemoteDescription(p2.localDescription!);
  await new Promise<void>((resolve) => (ch.onopen = () => resolve()));
  const size = Math.min(p1.sctp?.maxMessageSize || 65536, 256 * 1024);
  ch.bufferedAmountLowThreshold = 256 * 1024;
  const t0 = performance.now();
  for (let f = 0; f < frames; f++) {
    for (let off = 0; off < payload.length; off += size) {
      if (ch.bufferedAmount > 1024 * 1024) await new Promise((r) => ch.addEventListener('bufferedamountlow', r, { once: true }));
      ch.send(payload.subarray(off, Math.min(payload.length, off + size)) as Uint8Array<ArrayBuffer>);
    }
  }
  await done;
  const ms = performance.now() - t0;
  p1.close();
  p2.close();
  return ms;
}

window.harness.runTransferBench = runTransferBench;
