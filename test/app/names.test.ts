import { describe, expect, it } from 'vitest';
import { coordinatorLegend, displayName, displayNameSelf, isStarred } from '../../src/app/lib/names.ts';
import { nodeLines } from '../../src/app/components/LiveCharts.tsx';
import type { Snapshot } from '../../src/live/liveNode.ts';

const room = { roster: ['R5skc1d0', 'Xy_9aaaa', 'Qq-12345'], names: {} as Record<string, string> };

describe('displayName', () => {
  it('uses the name the signaling server gave', () => {
    const s = { ...room, names: { R5skc1d0: 'Tab 1', 'Qq-12345': 'Tab 4' } };
    expect(displayName(s, 'R5skc1d0')).toBe('Tab 1');
    // The server's numbering is stable (join order), even when it skips a tab that left.
    expect(displayName(s, 'Qq-12345')).toBe('Tab 4');
  });

  it('falls back to "Tab k" by roster order when the server sent no name', () => {
    expect(displayName(room, 'R5skc1d0')).toBe('Tab 1');
    expect(displayName(room, 'Xy_9aaaa')).toBe('Tab 2');
    expect(displayName({ roster: room.roster }, 'Qq-12345')).toBe('Tab 3');
  });

  it('keeps a departed peer recognisable', () => {
    expect(displayName({ roster: [], names: { gone1234: 'Tab 5' } }, 'gone1234')).toBe('Tab 5');
    expect(displayName({ roster: [] }, 'gone1234xyz')).toBe('left tab gone12');
  });

  it('marks this tab', () => {
    expect(displayNameSelf({ ...room, nodeId: 'Xy_9aaaa' }, 'Xy_9aaaa')).toBe('Tab 2 (this tab)');
    expect(displayNameSelf({ ...room, nodeId: 'Xy_9aaaa' }, 'R5skc1d0')).toBe('Tab 1');
  });

  it('names the chart lines like the peers table, never by raw id', () => {
    const s = { ...room, nodeId: 'Xy_9aaaa', history: [{ round: 1, accuracy: 0.5, loss: 1, bytesSent: 10, t: 5 }] } as unknown as Snapshot;
    const lines = nodeLines(s, { R5skc1d0: [{ round: 1, accuracy: 0.4, loss: 1, bytesSent: 10, t: 5 }] });
    expect(lines.map((l) => [l.id, l.label])).toEqual([
      ['R5skc1d0', 'Tab 1'],
      ['Xy_9aaaa', 'Tab 2 (this tab)'],
    ]);
  });
});

describe('the coordinator star', () => {
  it('only FedAvg has a coordinator, and its legend says what it does', () => {
    expect(coordinatorLegend('fedavg')).toMatch(/^★ coordinator .*average/);
    for (const algo of ['gossip', 'dpsgd', 'modest']) expect(coordinatorLegend(algo)).toBeNull();
  });

  it('stars the coordinator of a FedAvg room only', () => {
    expect(isStarred({ coordinator: 'a', config: { algo: 'fedavg' } }, 'a')).toBe(true);
    expect(isStarred({ coordinator: 'a', config: { algo: 'fedavg' } }, 'b')).toBe(false);
    // MoDeST's starter only started the run; gossip has no central node.
    expect(isStarred({ coordinator: 'a', config: { algo: 'modest' } }, 'a')).toBe(false);
    expect(isStarred({ coordinator: 'a', config: { algo: 'gossip' } }, 'a')).toBe(false);
  });
});
