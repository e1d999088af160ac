import type { Clock } from './ports.ts';

/** The real clock, for live nodes. */
export class WallClock implements Clock {
  private timers = new Map<string, ReturnType<typeof setTimeout>>();

  now(): number {
    return Date.now();
  }

  setTimer(id: string, afterMs: number, fire: () => void): void {
    this.clearTimer(id);
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        fire();
      }, afterMs),
    );
  }

  clearTimer(id: string): void {
    const t = this.timers.get(id);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(id);
  }

  clearAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
