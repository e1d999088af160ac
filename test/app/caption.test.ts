import { describe, expect, it } from 'vitest';
import type { RoomView, WatchedNode } from '../../src/live/spectator/roomWatcher.ts';
import { narrate } from '../../src/app/projector/caption.ts';

const node = (id: string, state: string, round = 7, role = ''): WatchedNode => ({ id, name: `Tab ${id}`, state, role, round, accuracy: 0.5, paused: false, attacker: false });
const view = (patch: Partial<RoomView>): RoomView => ({
  room: 'r', connected: true, owns: false, ownerKey: null, config: null, started: true, paused: false, coordinator: null, owner: null, finished: null, run: 'x',
  nodes: [], edges: [], swarm: [], refused: {}, lastError: null, ...patch,
});

describe('projector caption', () => {
  it('narrates from what the tabs report', () => {
    expect(narrate(view({ started: false, nodes: [node('1', 'idle')] }), [], 0, true)).toBe('1 tab joined; waiting for the teacher to start.');
    expect(narrate(view({ paused: true, nodes: [node('1', 'training')] }), [], 0, true)).toMatch(/^Paused by the teacher/);
    const fedavg = view({ coordinator: '1', nodes: [node('1', 'waiting', 7, 'coordinator'), node('2', 'training'), node('3', 'training'), node('4', 'waiting')] });
    expect(narrate(fedavg, [], 0, true)).toBe('Round 7: Tab 1 (the server) waits while 2 of 4 tabs train on their own data.');
    const modest = view({ nodes: [node('1', 'aggregating'), node('2', 'training')] });
    expect(narrate(modest, [], 0, false)).toBe('Round 7: aggregator Tab 1 collects the trained models; 1 of 2 tabs trains.');
    const gossip = view({ nodes: [node('1', 'training'), node('2', 'waiting'), node('3', 'waiting')] });
    const recent = [{ from: '2', to: '1', bytes: 10, frames: 1, at: 900 }, { from: '3', to: '1', bytes: 10, frames: 1, at: 0 }];
    expect(narrate(gossip, recent, 1000, false)).toBe('Round 7: 1 of 3 tabs trains; 1 sent a model in the last second.');
    expect(narrate(view({ finished: { at: 0, summary: { algo: 'fedavg', rounds: 20, nodes: 4, accuracy: { mean: 0.9, min: 0.8, max: 0.95 } } }, nodes: [node('1', 'done')] }), [], 0, true)).toBe(
      "Finished after 20 rounds: the swarm's accuracy is 90.0% (from 80.0% to 95.0%) over 4 tabs.",
    );
  });
});
