import type { Rng } from '../core/rng.ts';
import type { NodeId } from '../protocols/protocol.ts';
import type { Transport } from '../runtime/ports.ts';
import type { VirtualClock } from './queue.ts';

export interface NetworkOptions {
  /** One-way latency in ms. */
  latency: number;
  /** Uplink bytes per second per node; 0 means unlimited. */
  bandwidth: number;
  /** Fraction of frames dropped. */
  loss: number;
}

export interface NetworkStats {
  delivered: number;
  dropped: number;
  /** Frames addressed to a node that was down when they arrived. */
  undeliverable: number;
}

/**
 * The simulator's in-memory network: latency, a per-node uplink that serialises frames at
 * `bandwidth`, random loss, and nodes that go down. Deterministic given its RNG.
 */
export class InMemoryNetwork {
  readonly stats: NetworkStats = { delivered: 0, dropped: 0, undeliverable: 0 };
  private readonly handlers = new Map<NodeId, (from: NodeId, frame: Uint8Array) => void>();
  private readonly up = new Set<NodeId>();
  private readonly uplinkFreeAt = new Map<NodeId, number>();

  constructor(
    private readonly clock: VirtualClock,
    private readonly options: NetworkOptions,
    private readonly rng: Rng,
  ) {}

  /** A transport for node `id`; the node is up until its transport is closed. */
  attach(id: NodeId): Transport {
    this.up.add(id);
    return {
      self: id,
      send: (to, frame) => this.send(id, to, frame),
      onFrame: (handler) => void this.handlers.set(id, handler),
      close: () => {
        this.up.delete(id);
        this.handlers.delete(id);
      },
    };
  }

  isUp(id: NodeId): boolean {
    return this.up.has(id);
  }

  private send(from: NodeId, to: NodeId, frame: Uint8Array): void {
    if (!this.up.has(from)) return;
    const now = this.clock.now();
    const start = Math.max(now, this.uplinkFreeAt.get(from) ?? 0);
    const transmit = this.options.bandwidth > 0 ? (frame.byteLength / this.options.bandwidth) * 1000 : 0;
    this.uplinkFreeAt.set(from, start + transmit);
    if (this.options.loss > 0 && this.rng.next() < this.options.loss) {
      this.stats.dropped++;
      return;
    }
    this.clock.schedule(start - now + transmit + this.options.latency, () => {
      const handler = this.handlers.get(to);
      if (!handler || !this.up.has(to)) {
        this.stats.undeliverable++;
        return;
      }
      this.stats.delivered++;
      handler(from, frame);
    });
  }
}
