import type { Lane } from '../../runtime/ports.ts';

/**
 * A link's send queue with two lanes: items of 'control' frames (pings, their answers,
 * announcements) wait ahead of every 'bulk' item (chunks of models), each lane in order.
 *
 * Chunks of a control frame may so be sent between two chunks of a bulk frame that has begun:
 * the receiver's Reassembler keeps messages apart by their message id, and since each lane is
 * sent in order and a control frame's chunks are kept together, at most one bulk and one control
 * message are unfinished at a time, well within its `maxPartial`.
 */
export class LaneQueue<T> {
  private items: T[] = [];
  /** The first `control` items belong to control frames. */
  private control = 0;

  get length(): number {
    return this.items.length;
  }

  /** Queues one frame's items (its chunks, or the whole frame) on its lane. */
  push(items: readonly T[], lane: Lane): void {
    if (lane === 'control') {
      this.items.splice(this.control, 0, ...items);
      this.control += items.length;
    } else this.items.push(...items);
  }

  shift(): T | undefined {
    if (this.items.length === 0) return undefined;
    if (this.control > 0) this.control--;
    return this.items.shift();
  }

  /** Replaces every item by its expansion (whole frames by their chunks), lanes kept. */
  expand(f: (item: T) => T[]): void {
    const control = this.items.slice(0, this.control).flatMap(f);
    const bulk = this.items.slice(this.control).flatMap(f);
    this.items = [...control, ...bulk];
    this.control = control.length;
  }

  /** Empties the queue; returns a queue holding its items, lanes kept. */
  take(): LaneQueue<T> {
    const out = new LaneQueue<T>();
    out.items = this.items;
    out.control = this.control;
    this.items = [];
    this.control = 0;
    return out;
  }
}
