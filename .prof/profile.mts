// Ad-hoc: CPU profile of the compare view at 50 nodes (not part of the repo).
import { chromium } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
const port = Number(process.argv[2] ?? 5391);
const rounds = Number(process.argv[3] ?? 20);
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
const page = await b.newPage();
await page.goto(`http://localhost:${port}/?view=compare&runs=gossip-mean,gossip-vca#dataset=blobs&samples=5000&nodes=50&rounds=${rounds}&batch=20&evalSize=200`);
await page.waitForFunction('!document.querySelector("[data-testid=play]")?.disabled', null, { timeout: 120000 });
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
await cdp.send('Profiler.start');
await page.click('[data-testid=play]');
for (;;) { if (await page.evaluate('document.querySelector("[data-testid=compare-done]") !== null')) break; await new Promise((r) => setTimeout(r, 1000)); }
const { profile } = await cdp.send('Profiler.stop');
writeFileSync('.prof/compare.cpuprofile', JSON.stringify(profile));
const self = new Map<number, number>();
const dt = profile.timeDeltas!;
profile.samples!.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0)));
const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
const agg = new Map<string, number>();
for (const [id, us] of self) { const n = byNode.get(id)!; const cf = n.callFrame; const k = `${cf.functionName || '(anon)'} ${cf.url.split('/').pop()}:${cf.lineNumber}`; agg.set(k, (agg.get(k) ?? 0) + us); }
const total = [...agg.values()].reduce((a, b) => a + b, 0);
console.log('total ms', (total / 1000).toFixed(0));
[...agg].sort((a, b) => b[1] - a[1]).slice(0, 40).forEach(([k, us]) => console.log((us / 1000).toFixed(0).padStart(7), k));
await b.close();
