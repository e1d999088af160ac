import { describe, expect, it } from 'vitest';
import { CoordinatorFollower, type FollowerHandlers } from '../../src/protocols/common/follower.ts';
import type { ProtocolAction } from '../../src/protocols/protocol.ts';

/** Records which handler each event reached. */
function recorder(): FollowerHandlers & { seen: string[] } {
  const seen: string[] = [];
  const log = (what: string): ProtocolAction[] => (seen.push(what), []);
  return {
    seen,
    onStart: () => log('start'),
    onRoster: (peers, coordinator) => log(`roster ${peers.join(',')} ${coordinator ?? '-'}`),
    onMessage: (from) => log(`message ${from}`),
    onComputed: (id) => log(`computed ${id}`),
    onTimer: (id) => log(`timer ${id}`),
    onStop: () => void seen.push('stop'),
  };
}

describe('CoordinatorFollower', () => {
  it('a node that starts knowing no coordinator leads itself; one that knows one keeps it', () => {
    const alone = new CoordinatorFollower('a', 'client');
    expect(alone.handle({ kind: 'start' }, recorder())).toEqual([]);
    expect([alone.current, alone.leads, alone.role, alone.running]).toEqual(['a', true, 'coordinator', true]);

    const member = new CoordinatorFollower('b', 'worker');
    member.follow('a');
    member.handle({ kind: 'start' }, recorder());
    expect([member.current, member.leads, member.role]).toEqual(['a', false, 'worker']);
  });

  it('routes every event to its handler, and stop answers idle after onStop', () => {
    const f = new CoordinatorFollower('a', 'client');
    const on = recorder();
    f.handle({ kind: 'start' }, on);
    f.handle({ kind: 'roster', peers: ['b'], coordinator: 'b' }, on);
    f.handle({ kind: 'message', from: 'b', msg: { type: 'x' } }, on);
    f.handle({ kind: 'computed', id: 'c1', result: { kind: 'loss', loss: 0 } as never }, on);
    f.handle({ kind: 'timer', id: 't1' }, on);
    expect(f.handle({ kind: 'stop' }, on)).toEqual([{ kind: 'state', state: 'idle' }]);
    expect(on.seen).toEqual(['start', 'roster b b', 'message b', 'computed c1', 'timer t1', 'stop']);
    expect(f.running).toBe(false);
  });

  it('says whether a roster made this node step down or up, and nothing when the coordinator stays', () => {
    const f = new CoordinatorFollower('a', 'client');
    expect(f.follow(undefined)).toBeNull();
    expect(f.follow('a')).toEqual({ stepsDown: false, stepsUp: true });
    expect(f.follow('a')).toBeNull();
    expect(f.follow('b')).toEqual({ stepsDown: true, stepsUp: false });
    expect(f.follow('c')).toEqual({ stepsDown: false, stepsUp: false });
    expect(f.current).toBe('c');
  });

  it("ignores a former coordinator's frame as late, rejects a stranger's, takes the coordinator's", () => {
    const f = new CoordinatorFollower('a', 'client');
    expect(f.screen('x', 'task')).toBeNull(); // no coordinator known yet: anyone may be it
    f.follow('b');
    f.follow('c');
    expect(f.screen('b', 'task')).toEqual({ kind: 'log', text: 'ignored a task from b, no longer the coordinator' });
    expect(f.screen('x', 'task')).toEqual({ kind: 'reject', from: 'x', reason: 'task from a non-coordinator' });
    expect(f.screen('c', 'task')).toBeNull();
    expect([f.foreign('b'), f.foreign('c')]).toEqual([true, false]);
    // Named again, a former coordinator is the coordinator, not late.
    f.follow('b');
    expect(f.screen('b', 'task')).toBeNull();
    expect(f.screen('c', 'task')?.kind).toBe('log');
  });

  it("a node with no roster follows the first coordinator's frame it takes", () => {
    const f = new CoordinatorFollower('a', 'client');
    f.enrol('b');
    f.enrol('c');
    expect([f.current, f.running, f.leads]).toEqual(['b', true, false]);
  });
});
