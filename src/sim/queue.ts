/** A virtual clock with a binary-heap event queue; ties run in scheduling order. */
export class VirtualClock {
  private heap: { at: number; seq: number; fire: () => void; key?: string }[] = [];
  private seq = 0;
  private time = 0;
  /** key → seq of the live timer with that key (cleared or replaced timers are skipped). */
  private live = new Map<string, number>();

  now(): number {
    return this.time;
  }

  get pending(): number {
    return this.heap.length;
  }

  schedule(afterMs: number, fire: () => void, key?: string): void {
    const entry = { at: this.time + Math.max(0, afterMs), seq: this.seq++, fire, key };
    if (key !== undefined) this.live.set(key, entry.seq);
    this.heap.push(entry);
    this.up(this.heap.length - 1);
  }

  setTimer(id: string, afterMs: number, fire: () => void): void {
    this.schedule(afterMs, fire, id);
  }

  clearTimer(id: string): void {
    this.live.delete(id);
  }

  /** Runs the next event; false when the queue is empty or the next event is past `until`. */
  step(until = Infinity): boolean {
    while (this.heap.length > 0) {
      if (this.heap[0].at > until) return false;
      const e = this.pop();
      if (e.key !== undefined) {
        if (this.live.get(e.key) !== e.seq) continue;
        this.live.delete(e.key);
      }
      this.time = e.at;
      e.fire();
      return true;
    }
    return false;
  }

  private pop() {
    const top = this.heap[0];
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
    return top;
  }

  private less(i: number, j: number): boolean {
    const a = this.heap[i];
    const b = this.heap[j];
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      [this.heap[i], this.heap[p]] = [this.heap[p], this.heap[i]];
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      [this.heap[i], this.heap[m]] = [this.heap[m], this.heap[i]];
      i = m;
    }
  }
}
