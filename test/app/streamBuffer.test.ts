import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StreamBuffer, type Patch } from '../../src/app/lib/streamBuffer.ts';

interface Run {
  rows: number[];
  params: number | null;
}

describe('StreamBuffer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function harness() {
    const runs: Run[] = [
      { rows: [], params: null },
      { rows: [], params: null },
    ];
    let applies = 0;
    const buffer = new StreamBuffer<Run>(100, 500, (patches: Map<number, Patch<Run>>) => {
      applies++;
      for (const [i, p] of patches) runs[i] = { ...runs[i], ...p(runs[i]) };
    });
    return { runs, buffer, applies: () => applies };
  }

  it('hands a burst of rows on in one update, in arrival order, per run', () => {
    const { runs, buffer, applies } = harness();
    for (let r = 1; r <= 50; r++) buffer.add(r % 2, (run) => ({ rows: [...run.rows, r] }));
    expect(applies()).toBe(0);
    vi.advanceTimersByTime(100);
    expect(applies()).toBe(1);
    expect(runs[1].rows).toEqual(Array.from({ length: 25 }, (_, i) => 2 * i + 1));
    expect(runs[0].rows).toEqual(Array.from({ length: 25 }, (_, i) => 2 * i + 2));
  });

  it('keeps only the latest model per run, handed on at the slow pace', () => {
    const { runs, buffer, applies } = harness();
    for (let k = 1; k <= 10; k++) buffer.addSlow(0, () => ({ params: k }));
    vi.advanceTimersByTime(499);
    expect(runs[0].params).toBeNull();
    vi.advanceTimersByTime(1);
    expect(runs[0].params).toBe(10);
    expect(applies()).toBe(1);
  });

  it('flush() applies everything at once; cancel() drops what waits', () => {
    const { runs, buffer } = harness();
    buffer.add(0, (run) => ({ rows: [...run.rows, 1] }));
    buffer.addSlow(1, () => ({ params: 7 }));
    buffer.flush();
    expect(runs[0].rows).toEqual([1]);
    expect(runs[1].params).toBe(7);
    buffer.add(0, (run) => ({ rows: [...run.rows, 2] }));
    buffer.cancel();
    vi.advanceTimersByTime(1000);
    expect(runs[0].rows).toEqual([1]);
  });
});
