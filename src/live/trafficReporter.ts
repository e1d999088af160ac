import { MAX_TRAFFIC_EDGES } from '../core/signaling/messages.ts';
import type { NodeId } from '../protocols/protocol.ts';
import type { Transport } from '../runtime/ports.ts';

/** How often a tab reports what it sent (the projector draws each report as it arrives). */
export const TRAFFIC_REPORT_MS = 500;

/**
 * Counts what this tab's protocol sends, per peer, and reports it to the signaling server every
 * TRAFFIC_REPORT_MS (only when something was sent). The server relays reports to the room's
 * spectators, so the projector draws the real transfers, not a guess.
 */
export class TrafficReporter {
  private sent = new Map<NodeId, [bytes: number, frames: number]>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly report: (edges: [NodeId, number, number][]) => void) {}

  /** `transport`, counting every frame sent through it. */
  wrap(transport: Transport): Transport {
    return {
      get self() {
        return transport.self;
      },
      send: (to, frame, lane) => {
        const c = this.sent.get(to) ?? [0, 0];
        this.sent.set(to, [c[0] + frame.byteLength, c[1] + 1]);
        transport.send(to, frame, lane);
      },
      onFrame: (handler) => transport.onFrame(handler),
      close: () => transport.close(),
    };
  }

  start(): void {
    this.timer ??= setInterval(() => this.flush(), TRAFFIC_REPORT_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sent.clear();
  }

  private flush(): void {
    if (this.sent.size === 0) return;
    const edges = [...this.sent].slice(0, MAX_TRAFFIC_EDGES).map(([to, [bytes, frames]]) => [to, bytes, frames] as [NodeId, number, number]);
    this.sent.clear();
    this.report(edges);
  }
}
