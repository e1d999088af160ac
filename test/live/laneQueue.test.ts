import { describe, expect, it } from 'vitest';
import { Reassembler, splitFrame } from '../../src/core/wire/chunks.ts';
import { LaneQueue } from '../../src/live/transport/laneQueue.ts';

describe('LaneQueue', () => {
  it('puts a control frame ahead of queued bulk chunks, each lane in order', () => {
    const q = new LaneQueue<string>();
    q.push(['m1.0', 'm1.1', 'm1.2'], 'bulk');
    expect(q.shift()).toBe('m1.0'); // the model has begun
    q.push(['p1'], 'control');
    q.push(['m2.0'], 'bulk');
    q.push(['p2.0', 'p2.1'], 'control');
    const out: string[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
    expect(out).toEqual(['p1', 'p2.0', 'p2.1', 'm1.1', 'm1.2', 'm2.0']);
  });

  it('keeps lanes when whole frames are chunked on open and when moved to a new link', () => {
    const q = new LaneQueue<string>();
    q.push(['M'], 'bulk');
    q.push(['P'], 'control');
    q.expand((f) => [`${f}.0`, `${f}.1`]);
    const moved = q.take();
    expect(q.length).toBe(0);
    moved.push(['Q'], 'control');
    const out: string[] = [];
    for (let x = moved.shift(); x !== undefined; x = moved.shift()) out.push(x);
    expect(out).toEqual(['P.0', 'P.1', 'Q', 'M.0', 'M.1']);
  });

  it('interleaved chunks reassemble: a ping overtaking a half-sent model arrives first, the model intact', () => {
    const model = new Uint8Array(1000).map((_, i) => i % 251);
    const ping = new Uint8Array(20).fill(9);
    const q = new LaneQueue<Uint8Array>();
    q.push(splitFrame(model, 1, 256), 'bulk');
    const r = new Reassembler({ maxFrameBytes: 1 << 20, maxPartial: 4 });
    const got: Uint8Array[] = [];
    const deliver = (c: Uint8Array) => {
      const res = r.push(c, 0);
      expect(res.kind).not.toBe('error');
      if (res.kind === 'frame') got.push(res.frame);
    };
    deliver(q.shift()!);
    deliver(q.shift()!);
    q.push(splitFrame(ping, 2, 256), 'control');
    for (let c = q.shift(); c !== undefined; c = q.shift()) deliver(c);
    expect(got.map((f) => f.byteLength)).toEqual([20, 1000]);
    expect(got[1]).toEqual(model);
  });
});
