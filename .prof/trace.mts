import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
const port = Number(process.argv[2] ?? 5392);
const rounds = Number(process.argv[3] ?? 10);
const url = process.argv[4] ?? `/?view=compare&runs=gossip-mean,gossip-vca#dataset=blobs&samples=5000&nodes=50&rounds=${rounds}&batch=20&evalSize=200`;
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
const page = await b.newPage({ viewport: { width: 1400, height: 900 }, reducedMotion: process.env.RM ? 'reduce' : 'no-preference' });
await page.goto(`http://localhost:${port}${url}`);
await page.waitForFunction('!document.querySelector("[data-testid=play]")?.disabled', null, { timeout: 120000 });
await b.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'blink'] });
await page.click('[data-testid=play]');
for (;;) { if (await page.evaluate('document.querySelector("[data-testid=compare-done]") !== null')) break; await new Promise((r) => setTimeout(r, 1000)); }
const buf = await b.stopTracing();
const events = JSON.parse(buf.toString()).traceEvents as { name: string; ph: string; dur?: number; pid: number; tid: number; ts: number }[];
// main thread of the renderer: the thread with most RunTask? use thread_name metadata
const names = events.filter((e) => e.name === 'thread_name') as unknown as { pid: number; tid: number; args: { name: string } }[];
const main = names.filter((n) => n.args.name === 'CrRendererMain').map((n) => `${n.pid}:${n.tid}`);
const agg = new Map<string, number>();
for (const e of events) {
  if (e.ph !== 'X' || !e.dur || !main.includes(`${e.pid}:${e.tid}`)) continue;
  agg.set(e.name, (agg.get(e.name) ?? 0) + e.dur);
}
[...agg].sort((a, b) => b[1] - a[1]).slice(0, 30).forEach(([k, us]) => console.log((us / 1000).toFixed(0).padStart(8), k));
// long tasks: top-level RunTask > 50ms: what's inside
const tasks = events.filter((e) => e.ph === 'X' && e.name === 'RunTask' && main.includes(`${e.pid}:${e.tid}`) && (e.dur ?? 0) > 50000);
console.log('long RunTasks', tasks.length);
const inside = new Map<string, number>();
for (const t of tasks) for (const e of events) if (e.ph === 'X' && e.pid === t.pid && e.tid === t.tid && e.ts >= t.ts && e.ts + (e.dur ?? 0) <= t.ts + t.dur! && e !== t) inside.set(e.name, (inside.get(e.name) ?? 0) + (e.dur ?? 0));
[...inside].sort((a, b) => b[1] - a[1]).slice(0, 20).forEach(([k, us]) => console.log('  in long:', (us / 1000).toFixed(0).padStart(8), k));
await b.close();
