import type { Clock } from './ports.ts';

/** The real clock, for live nodes. */
export class WallClock implements Clock {
  private timers = new Map<string, { handle: ReturnType<typeof setTimeout> | null; due: number; fire: () => void; left: number }>();
  private pausedAt: number | null = null;

  now(): number {
    return Date.now();
  }

  setTimer(id: string, afterMs: number, fire: () => void): void {
    this.clearTimer(id);
    const t = { handle: null as ReturnType<typeof setTimeout> | null, due: Date.now() + afterMs, fire, left: afterMs };
    this.timers.set(id, t);
    if (this.pausedAt === null) this.arm(id, t);
  }

  private arm(id: string, t: { handle: ReturnType<typeof setTimeout> | null; due: number; fire: () => void; left: number }): void {
    t.due = Date.now() + t.left;
    t.handle = setTimeout(() => {
      this.timers.delete(id);
      t.fire();
    }, t.left);
  }

  clearTimer(id: string): void {
    const t = this.timers.get(id);
    if (t?.handle != null) clearTimeout(t.handle);
    this.timers.delete(id);
  }

  clearAll(): void {
    for (const t of this.timers.values()) if (t.handle !== null) clearTimeout(t.handle);
    this.timers.clear();
  }

  /** Time stands still for the timers: each keeps what it had left, and runs on after `resume`. */
  pause(): void {
    if (this.pausedAt !== null) return;
    this.pausedAt = Date.now();
    for (const t of this.timers.values()) {
      if (t.handle !== null) clearTimeout(t.handle);
      t.handle = null;
      t.left = Math.max(0, t.due - this.pausedAt);
    }
  }

  resume(): void {
    if (this.pausedAt === null) return;
    this.pausedAt = null;
    for (const [id, t] of this.timers) this.arm(id, t);
  }
}
