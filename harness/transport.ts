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
    harness: { runConformance: typeof runConformance };
  }
}
window.harness = { runConformance };
