import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.ts';
import { combineTabs, liveRunKey, mergeRun, runLabel, type RunRow, type SavedRun } from '../../src/app/lib/history.ts';

const row = (round: number, accuracy: number, bytesSent: number, t = round * 100): RunRow => ({ round, accuracy, loss: 1 - accuracy, bytesSent, t });

function tabSave(id: string, name: string, rows: RunRow[], savedAt: number): SavedRun {
  return { savedAt, kind: 'live', label: 'fedavg · moons', algo: 'fedavg', hash: 'algo=fedavg', rows, runKey: liveRunKey('room1', 'starter'), tabs: [{ id, name, rows }] };
}

describe('history keying and merging', () => {
  it('keys a live run by room and run id', () => {
    expect(liveRunKey('room1', 'abc')).toBe('room1/abc');
    expect(liveRunKey('room1', 'abc')).not.toBe(liveRunKey('room2', 'abc'));
  });

  it('a second tab of the same run merges into the stored record, keeping its id', () => {
    const stored = { ...tabSave('p1', 'Tab 1', [row(1, 0.5, 100), row(2, 0.7, 200)], 1000), id: 7 };
    const merged = mergeRun(stored, tabSave('p2', 'Tab 2', [row(1, 0.6, 150), row(2, 0.9, 300)], 2000));
    expect(merged.id).toBe(7);
    expect(merged.savedAt).toBe(2000);
    expect(merged.tabs!.map((t) => t.name)).toEqual(['Tab 1', 'Tab 2']);
    expect(merged.rows).toHaveLength(2);
    expect(merged.rows[1].accuracy).toBeCloseTo(0.8);
    expect(merged.rows[1].minAccuracy).toBe(0.7);
    expect(merged.rows[1].maxAccuracy).toBe(0.9);
    expect(merged.rows[1].bytesSent).toBe(500);
  });

  it('saving the same tab again replaces its rows instead of counting it twice', () => {
    const stored = { ...tabSave('p1', 'Tab 1', [row(1, 0.5, 100)], 1000), id: 3 };
    const again = mergeRun(stored, tabSave('p1', 'Tab 1', [row(1, 0.5, 100), row(2, 0.8, 200)], 1500));
    expect(again.tabs).toHaveLength(1);
    expect(again.rows.map((r) => r.round)).toEqual([1, 2]);
    expect(again.rows[1].accuracy).toBe(0.8);
  });

  it('orders tabs by name, numbers numerically', () => {
    let r: SavedRun = { ...tabSave('p10', 'Tab 10', [row(1, 0.1, 1)], 1), id: 1 };
    r = mergeRun(r, tabSave('p2', 'Tab 2', [row(1, 0.2, 1)], 2));
    r = mergeRun(r, tabSave('p1', 'Tab 1', [row(1, 0.3, 1)], 3));
    expect(r.tabs!.map((t) => t.name)).toEqual(['Tab 1', 'Tab 2', 'Tab 10']);
  });
});

describe('combineTabs', () => {
  it('one tab: its rows as they are', () => {
    const rows = [row(1, 0.5, 100), row(2, 0.6, 200)];
    expect(combineTabs([{ id: 'a', name: 'Tab 1', rows }])).toEqual(rows);
  });

  it('rounds only some tabs evaluated: mean of those, bytes held from each tab’s last count', () => {
    const out = combineTabs([
      { id: 'a', name: 'Tab 1', rows: [row(1, 0.4, 100), row(3, 0.8, 300)] },
      { id: 'b', name: 'Tab 2', rows: [row(2, 0.6, 50, 250)] },
    ]);
    expect(out.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(out[0]).toMatchObject({ accuracy: 0.4, bytesSent: 100, minAccuracy: 0.4, maxAccuracy: 0.4 });
    expect(out[1]).toMatchObject({ accuracy: 0.6, bytesSent: 150, t: 250 });
    expect(out[2]).toMatchObject({ accuracy: 0.8, bytesSent: 350 });
  });
});

describe('runLabel', () => {
  it('carries the partition and key settings', () => {
    const c = parseConfig({ algo: 'fedavg', dataset: 'moons', partition: 'dirichlet:0.5', nodes: '6', lr: '0.1', rounds: '20', seed: '1' });
    expect(runLabel(c)).toBe('fedavg · moons · dirichlet:0.5 · 6 tabs · lr 0.1 · 20 rounds · seed 1');
  });

  it('names gossip by its merge rule, a non-MLP model, and simulated nodes', () => {
    const c = parseConfig({ algo: 'gossip', merge: 'vca', dataset: 'mnist', model: '2nn', partition: 'shards:2', nodes: '1', rounds: '1' });
    expect(runLabel(c)).toBe('gossip-vca · mnist 2nn · shards:2 · 1 tab · lr 0.1 · 1 round · seed 1');
    expect(runLabel(c, { unit: 'node', variant: 'gossip-vca' })).toMatch(/^gossip-vca · .* · 1 node · /);
  });
});
