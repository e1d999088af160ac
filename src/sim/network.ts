import type { Rng } from '../core/rng.ts';
import type { NodeId } from '../protocols/protocol.ts';
import type { Lane, Transport } from '../runtime/ports.ts';
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
 *
 * The uplink has two lanes, as the WebRTC transport does at chunk granularity: a 'control'
 * frame starts as soon as the earlier control frames are out, ahead of queued 'bulk' frames
 * (models), and its bytes delay the bulk lane by its transmit time. Bulk frames already
 * scheduled keep their delivery time, so a control frame's bytes are charged to the bulk frames
 * sent after it: the uplink's busy time stays right, the order within the bulk lane too.
 */
export class InMemoryNetwork {
  readonly stats: NetworkStats = { delivered: 0, dropped: 0, undeliverable: 0 };
  private readonly handlers = new Map<NodeId, (from: NodeId, frame: Uint8Array) => void>();
  private readonly up = new Set<NodeId>();
  /** When each node's uplink has sent its queued bulk frames... */
  private readonly bulkFreeAt = new Map<NodeId, number>();
  /** ...and its queued control frames. */
  private readonly controlFreeAt = new Map<NodeId, number>();

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
      send: (to, frame, lane) => this.send(id, to, frame, lane ?? 'bulk'),
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

  private send(from: NodeId, to: NodeId, frame: Uint8Array, lane: Lane): void {
    if (!this.up.has(from)) return;
    const now = this.clock.now();
    const transmit = this.options.bandwidth > 0 ? (frame.byteLength / this.options.bandwidth) * 1000 : 0;
    const controlFree = this.controlFreeAt.get(from) ?? 0;
    const bulkFree = this.bulkFreeAt.get(from) ?? 0;
    let start: number;
    if (lane === 'control') {
      start = Math.max(now, controlFree);
      this.controlFreeAt.set(from, start + transmit);
      if (bulkFree > now) this.bulkFreeAt.set(from, bulkFree + transmit);
    } else {
      start = Math.max(now, bulkFree, controlFree);
      this.bulkFreeAt.set(from, start + transmit);
    }
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
