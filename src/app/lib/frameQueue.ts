/**
 * Spreads costly drawing over animation frames: each frame runs queued jobs while the next one
 * is expected to fit its budget, and the rest waits for the next frame. A job queued again
 * under the same key before it ran replaces the old one (only the latest model of a panel, the
 * latest rows of a chart, are worth drawing). Twelve boundary panels drawn in one task made a
 * long task of 30–60 ms on every model update; checking the budget only after a job ran still
 * let a frame's drawing reach 15–25 ms, so the expected cost of the next job (the slowest job
 * of the last few frames) is checked before it starts. The first job of a frame always runs.
 */
const FRAME_BUDGET_MS = 6;
/** How fast the expected job cost forgets a slow job: kept per frame, decayed by this factor. */
const DECAY = 0.8;

const jobs = new Map<unknown, () => void>();
let scheduled = false;
let expectedMs = 0;

export function drawSoon(key: unknown, job: () => void): void {
  jobs.delete(key); // re-insert at the end: first queued, first drawn
  jobs.set(key, job);
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(() => runFrame());
  }
}

/** Forgets a job that has not run (its canvas went away). */
export function cancelDraw(key: unknown): void {
  jobs.delete(key);
}

/** Runs one frame's share of the queue; exported for tests (it is requestAnimationFrame's callback). */
export function runFrame(now: () => number = () => performance.now()): void {
  const start = now();
  expectedMs *= DECAY;
  let ran = 0;
  for (const [key, job] of jobs) {
    if (ran > 0 && now() - start + expectedMs > FRAME_BUDGET_MS) break;
    jobs.delete(key);
    const t = now();
    job();
    expectedMs = Math.max(expectedMs, now() - t);
    ran++;
  }
  scheduled = jobs.size > 0;
  if (scheduled) requestAnimationFrame(() => runFrame());
}

/** Jobs waiting for a frame (tests). */
export function queuedDraws(): number {
  return jobs.size;
}
