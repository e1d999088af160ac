import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// The frame queue's budget: a frame runs jobs while the next is expected to fit in 6 ms.
// requestAnimationFrame and the clock are fakes, so frames run when the test says.

let frames: (() => void)[] = [];
let clock = 0;

beforeEach(() => {
  frames = [];
  clock = 0;
  vi.stubGlobal('requestAnimationFrame', (cb: () => void) => frames.push(cb));
  vi.resetModules();
});
afterEach(() => vi.unstubAllGlobals());

async function queue() {
  const q = await import('../../src/app/lib/frameQueue.ts');
  const ran: string[] = [];
  const job = (name: string, ms: number) => () => {
    ran.push(name);
    clock += ms;
  };
  const frame = () => {
    const cb = frames.shift();
    expect(cb, 'a frame was requested').toBeDefined();
    q.runFrame(() => clock);
  };
  return { q, ran, job, frame };
}

describe('frameQueue', () => {
  it('runs cheap jobs together and spreads a slow kind over frames, one a frame', async () => {
    const { q, ran, job, frame } = await queue();
    for (let i = 0; i < 4; i++) q.drawSoon(`cheap${i}`, job(`cheap${i}`, 1));
    frame();
    expect(ran).toEqual(['cheap0', 'cheap1', 'cheap2', 'cheap3']);
    for (let i = 0; i < 3; i++) q.drawSoon(`slow${i}`, job(`slow${i}`, 5));
    frame(); // the first job of a frame always runs; after a 5 ms job the next would not fit
    expect(ran.slice(4)).toEqual(['slow0']);
    frame();
    frame();
    expect(ran.slice(4)).toEqual(['slow0', 'slow1', 'slow2']);
    expect(q.queuedDraws()).toBe(0);
    expect(frames).toHaveLength(0); // no frame requested once the queue is empty
  });

  it('does not start a job expected to overrun the budget after a slow one was seen', async () => {
    const { q, ran, job, frame } = await queue();
    q.drawSoon('slow', job('slow', 12));
    frame();
    // 1 ms jobs now, but the last frame saw a 12 ms job: only one runs until the estimate decays.
    for (let i = 0; i < 3; i++) q.drawSoon(`j${i}`, job(`j${i}`, 1));
    frame();
    expect(ran).toEqual(['slow', 'j0']);
    while (q.queuedDraws() > 0) frame();
    expect(ran).toEqual(['slow', 'j0', 'j1', 'j2']);
  });

  it('keeps only the latest job of a key, and forgets a cancelled one', async () => {
    const { q, ran, job, frame } = await queue();
    q.drawSoon('panel', job('old', 1));
    q.drawSoon('panel', job('new', 1));
    q.drawSoon('gone', job('gone', 1));
    q.cancelDraw('gone');
    frame();
    expect(ran).toEqual(['new']);
  });
});
