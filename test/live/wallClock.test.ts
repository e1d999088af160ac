import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WallClock } from '../../src/runtime/wallClock.ts';

describe('WallClock pause', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('stops time for its timers: each keeps what it had left and fires that long after resume', () => {
    const clock = new WallClock();
    const fired: string[] = [];
    clock.setTimer('a', 1000, () => fired.push('a'));
    clock.setTimer('b', 3000, () => fired.push('b'));
    vi.advanceTimersByTime(400);
    clock.pause();
    vi.advanceTimersByTime(60_000);
    expect(fired).toEqual([]);
    // A timer set while paused waits for the resume too.
    clock.setTimer('c', 100, () => fired.push('c'));
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual([]);
    clock.resume();
    vi.advanceTimersByTime(99);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['c']);
    vi.advanceTimersByTime(500);
    expect(fired).toEqual(['c', 'a']);
    clock.clearTimer('b');
    vi.advanceTimersByTime(10_000);
    expect(fired).toEqual(['c', 'a']);
  });
});
