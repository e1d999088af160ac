import { describe, expect, it } from 'vitest';
import { finishSummary, nextRoomName, summarizeSwarm } from '../../src/live/swarmSummary.ts';
import { FinishSummarySchema } from '../../src/core/signaling/messages.ts';

describe('summarizeSwarm', () => {
  it('reports mean, min and max over every member, and how many are done', () => {
    const s = summarizeSwarm(
      [
        { round: 20, accuracy: 0.937, loss: 0.2, state: 'done' },
        { round: 20, accuracy: 0.987, loss: 0.1, state: 'done' },
        { round: 19, accuracy: 0.977, loss: 0.15, state: 'training' },
      ],
      20,
    );
    expect(s.reporting).toBe(3);
    expect(s.done).toBe(2);
    expect(s.round).toBe(20);
    expect(s.accuracy!.min).toBeCloseTo(0.937);
    expect(s.accuracy!.max).toBeCloseTo(0.987);
    expect(s.accuracy!.mean).toBeCloseTo((0.937 + 0.987 + 0.977) / 3);
  });

  it('bounds peers claims: a round beyond the run and an accuracy outside [0, 1] do not count', () => {
    const s = summarizeSwarm(
      [
        { round: 5, accuracy: 0.8, loss: null, state: 'training' },
        { round: 1e9, accuracy: 1, loss: null, state: 'done' },
        { round: 5, accuracy: 7, loss: null, state: 'done' },
        { round: 5, accuracy: Number.NaN, loss: null, state: 'training' },
      ],
      20,
    );
    expect(s.round).toBe(5);
    expect(s.reporting).toBe(3);
    expect(s.accuracy).toEqual({ mean: 0.8, min: 0.8, max: 0.8 });
  });

  it('gives the server a summary its schema accepts, or none without any accuracy', () => {
    const s = summarizeSwarm([{ round: 3, accuracy: 0.1 + 0.2, loss: 0.5, state: 'done' }, { round: 3, accuracy: 0.3, loss: 0.5, state: 'done' }], 3);
    const f = finishSummary('fedavg', s, 1234.5)!;
    expect(FinishSummarySchema.safeParse(f).success).toBe(true);
    expect(f).toMatchObject({ algo: 'fedavg', rounds: 3, nodes: 2, durationMs: 1235 });
    expect(finishSummary('fedavg', summarizeSwarm([], 3), 0)).toBeNull();
  });
});

describe('nextRoomName', () => {
  it('counts up a trailing number, else appends -2, and stays a valid room name', () => {
    expect(nextRoomName('class1')).toBe('class1-2');
    expect(nextRoomName('class1-2')).toBe('class1-3');
    const long = nextRoomName('x'.repeat(64));
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).toMatch(/^[\w-]{1,64}$/);
  });
});
