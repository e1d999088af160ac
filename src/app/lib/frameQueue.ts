/**
 * Spreads costly drawing over animation frames: each frame runs queued jobs until its budget is
 * spent, and the rest waits for the next frame. A job queued again under the same key before it
 * ran replaces the old one (only the latest model of a panel is worth drawing). Twelve boundary
 * panels drawn in one task made a long task of 30–60 ms on every model update.
 */
const FRAME_BUDGET_MS = 8;

const jobs = new Map<unknown, () => void>();
let scheduled = false;

export function drawSoon(key: unknown, job: () => void): void {
  jobs.delete(key); // re-insert at the end: first queued, first drawn
  jobs.set(key, job);
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(runFrame);
  }
}

/** Forgets a job that has not run (its canvas went away). */
export function cancelDraw(key: unknown): void {
  jobs.delete(key);
}

function runFrame(): void {
  const start = performance.now();
  for (const [key, job] of jobs) {
    jobs.delete(key);
    job();
    if (performance.now() - start > FRAME_BUDGET_MS) break;
  }
  scheduled = jobs.size > 0;
  if (scheduled) requestAnimationFrame(runFrame);
}
