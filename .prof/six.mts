import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
const ctx = await b.newContext({ viewport: { width: 1400, height: 1000 } });
const pages = [];
const room = `six${Date.now() % 100000}`;
for (let i = 0; i < 6; i++) { const p = await ctx.newPage(); await p.goto(`http://localhost:5392/#room=${room}&autostart=1`); pages.push(p); }
const t0 = Date.now();
for (;;) {
  const st = await Promise.all(pages.map((p) => p.evaluate('window.murmuration?.snapshot().state')));
  if (st.every((s) => s === 'done') || Date.now() - t0 > 240000) { console.log(st, (Date.now() - t0) / 1000); break; }
  await new Promise((r) => setTimeout(r, 1000));
}
await pages[0].screenshot({ path: '/tmp/six-0.png', fullPage: false });
await pages[3].screenshot({ path: '/tmp/six-3.png', fullPage: false });
await b.close();
