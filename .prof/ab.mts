import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
const ports = process.argv[2].split(',').map(Number);
const rounds = Number(process.argv[3] ?? 20);
const reps = Number(process.argv[4] ?? 2);
const SCRIPT = `
  const m = { longTasks: [], frameGaps: [] };
  window.measured = m;
  new PerformanceObserver((list) => list.getEntries().forEach((e) => m.longTasks.push({ start: e.startTime, duration: e.duration }))).observe({ type: 'longtask', buffered: true });
  let last = 0;
  const tick = (t) => { if (last) m.frameGaps.push(t - last); last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);`;
const q = (xs: number[], p: number) => xs.length ? xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] : 0;
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
for (let r = 0; r < reps; r++) for (const port of (r % 2 ? [...ports].reverse() : ports)) {
  const page = await b.newPage({ viewport: { width: 1400, height: 900 }, reducedMotion: process.env.RM ? 'reduce' : 'no-preference' });
  await page.addInitScript({ content: SCRIPT });
  await page.goto(`http://localhost:${port}/?view=compare&runs=gossip-mean,gossip-vca#dataset=blobs&samples=5000&nodes=50&rounds=${rounds}&batch=20&evalSize=200${process.env.HX ?? ''}`);
  await page.waitForFunction('!document.querySelector("[data-testid=play]")?.disabled', null, { timeout: 120000 });
  const from = await page.evaluate('performance.now()') as number;
  const t0 = Date.now();
  await page.click('[data-testid=play]');
  for (;;) { if (await page.evaluate('document.querySelector("[data-testid=compare-done]") !== null')) break; await new Promise((r) => setTimeout(r, 1000)); }
  const m = await page.evaluate('window.measured') as { longTasks: { start: number; duration: number }[]; frameGaps: number[] };
  const lt = m.longTasks.filter((t) => t.start >= from).map((t) => t.duration).sort((a, b) => a - b);
  const gaps = m.frameGaps.slice().sort((a, b) => a - b);
  console.log(`port ${port}: wall ${((Date.now() - t0) / 1000).toFixed(0)} s, frames ${gaps.length}, p50 ${q(gaps, .5).toFixed(1)} p95 ${q(gaps, .95).toFixed(1)} p99 ${q(gaps, .99).toFixed(1)}; long tasks ${lt.length} median ${q(lt, .5).toFixed(0)} max ${q(lt, 1).toFixed(0)} total ${lt.reduce((a, b) => a + b, 0).toFixed(0)} ms`);
  await page.close();
}
await b.close();
