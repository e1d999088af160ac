import { chromium, expect, test, type Browser, type BrowserContextOptions, type Page } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { closeAll, openTab, openTabs, snapshot } from './helpers.ts';

/*
 * A newcomer's defaults: no backend= in any link. `auto` must choose by measured speed for the
 * model at hand, so six tabs on two cores finish a run (a software WebGPU adapter stalled them).
 */

const uid = () => Math.random().toString(36).slice(2, 8);

/** What this browser's WebGPU offers: null when there is no adapter at all. */
function adapterInfo(page: Page): Promise<{ isFallbackAdapter: boolean; architecture: string } | null> {
  return page.evaluate(async () => {
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(o?: object): Promise<{ info?: { isFallbackAdapter?: boolean; architecture?: string }; isFallbackAdapter?: boolean } | null> } }).gpu;
    if (!gpu) return null;
    const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!a) return null;
    return { isFallbackAdapter: Boolean(a.info?.isFallbackAdapter ?? a.isFallbackAdapter), architecture: a.info?.architecture ?? '' };
  });
}

/**
 * Tabs with only room/dataset/autostart/nodes in the link: every tab finishes FedAvg at >= 85%,
 * having trained and sent real bytes with no frame refused (with six, this is also the six-tab
 * FedAvg swarm test).
 */
async function tabsOnDefaults(browser: Browser, label: string, count: number, options?: BrowserContextOptions): Promise<void> {
  const room = `defaults-${label}-${uid()}`;
  const t0 = Date.now();
  const tabs = await openTabs(browser, `room=${room}&dataset=blobs&autostart=1&nodes=${count}`, count, options);
  const opened = Date.now();
  try {
    const first = await snapshot(tabs[0].page);
    expect(first.config.backend).toBe('auto');
    for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 240_000 }).toBe('done');
    const done = Date.now();
    const snaps = await Promise.all(tabs.map((t) => snapshot(t.page)));
    for (const s of snaps) {
      expect(s.accuracy).not.toBeNull();
      expect(s.accuracy!).toBeGreaterThanOrEqual(0.85);
      // Every tab trained and exchanged real bytes over its data channels, and refused nothing.
      expect(s.trainedSamples).toBeGreaterThan(0);
      expect(s.bytesSent).toBeGreaterThan(0);
      expect(s.rejectedFrames).toBe(0);
      expect(s.backend).not.toBeNull();
      expect(s.backendReason).toMatch(new RegExp(`^auto → ${s.backend}: `));
    }
    const coord = snaps.find((s) => s.coordinator === s.nodeId)!;
    expect(coord.round).toBe(coord.config.rounds);
    // The coordinator talked to all the others directly.
    expect(coord.peers.length).toBe(count - 1);
    for (const t of tabs) expect(t.errors).toEqual([]);
    console.log(
      `[${label}] ${count} tabs, ${coord.config.rounds} rounds: open ${((opened - t0) / 1000).toFixed(1)} s, run ${((done - opened) / 1000).toFixed(1)} s; ` +
        `backends ${[...new Set(snaps.map((s) => s.backend))].join(',')}; reason "${snaps[0].backendReason}"; accuracy ${snaps.map((s) => s.accuracy!.toFixed(3)).join(' ')}`,
    );
  } finally {
    await closeAll(tabs);
  }
}

test.describe('defaults in many tabs', () => {
  test.setTimeout(360_000);

  test('six tabs on the defaults finish FedAvg (WebGPU present, as this browser has it)', async ({ browser }) => {
    await tabsOnDefaults(browser, 'webgpu-flag', 6);
  });

  // Three tabs in `npm test` (CI has 15 minutes for everything; the six-tab case is the test above); NO_WEBGPU_TABS=6 for six.
  test('tabs on the defaults finish FedAvg with WebGPU unavailable; a big model then skips it as absent', async () => {
    const args = [...CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'), '--disable-features=WebGPU'];
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args });
    const options = { baseURL: test.info().project.use.baseURL };
    try {
      const probe = await browser.newPage(options);
      await probe.goto('/harness/transport.html');
      expect(await adapterInfo(probe)).toBeNull();
      await probe.close();
      await tabsOnDefaults(browser, 'no-webgpu', Number(process.env.NO_WEBGPU_TABS ?? 3), options);

      const big = await openTab(browser, `room=defaults-nogpu-2nn-${uid()}&model=2nn&dataset=mnist`, options);
      try {
        await expect.poll(async () => (await snapshot(big.page)).backendReason, { timeout: 60_000 }).not.toBe('');
        const s = await snapshot(big.page);
        expect(s.backend).not.toBe('webgpu');
        expect(s.backendReason).toContain('webgpu skipped: no adapter');
        expect(s.backendReason).toMatch(/samples\/s/);
        console.log(`[no-webgpu] 2nn/mnist: ${s.backend}: ${s.backendReason}`);
      } finally {
        await closeAll([big]);
      }
    } finally {
      await browser.close();
    }
  });

  test('six tabs probing a big model at once each decide within a bounded time, none on the software adapter', async ({ browser }) => {
    const hash = `room=defaults-probe6-${uid()}&model=2nn&dataset=mnist&nodes=6`;
    const t0 = Date.now();
    // All at once, not one after another: the probes overlap on the two cores.
    const tabs = await Promise.all(Array.from({ length: 6 }, () => openTab(browser, hash)));
    try {
      const decided: number[] = [];
      await Promise.all(
        tabs.map(async (t) => {
          await expect.poll(async () => (await snapshot(t.page)).backendReason, { timeout: 90_000 }).not.toBe('');
          decided.push(Date.now() - t0);
        }),
      );
      const adapter = await adapterInfo(tabs[0].page);
      const software = adapter !== null && (adapter.isFallbackAdapter || /swiftshader/i.test(adapter.architecture));
      const snaps = await Promise.all(tabs.map((t) => snapshot(t.page)));
      for (const s of snaps) {
        expect(s.backendReason).toMatch(new RegExp(`^auto → ${s.backend}: `));
        // Every probed candidate shows a rate or why it has none.
        expect(s.backendReason).toMatch(/samples\/s|no rate within/);
        if (software) expect(s.backend).not.toBe('webgpu');
      }
      for (const t of tabs) expect(t.errors).toEqual([]);
      console.log(`[probe6] decided after ${decided.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s`);
      for (const s of snaps) console.log(`[probe6] ${s.backend}: ${s.backendReason}`);
      // Two candidates (webgl, cpu) at a 4 s cap each, plus loading tfjs and the MNIST shard.
      expect(Math.max(...decided)).toBeLessThan(60_000);
    } finally {
      await closeAll(tabs);
    }
  });

  test('a big model is measured: the reason names the speeds, a software WebGPU adapter is skipped, and a reload uses the cache', async ({ browser }) => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const hash = `room=defaults-2nn-${uid()}&model=2nn&dataset=mnist`;
      const t0 = Date.now();
      await page.goto(`/#${hash}`);
      await expect.poll(async () => (await snapshot(page)).backendReason, { timeout: 60_000 }).not.toBe('');
      const probeMs = Date.now() - t0;
      const s = await snapshot(page);
      const adapter = await adapterInfo(page);
      // The reason is this probe's own: the winner first with its rate, then every other candidate's.
      expect(s.backendReason).toMatch(new RegExp(`^auto → ${s.backend}: [\\d,]+ samples/s vs `));
      const rates = [...s.backendReason.matchAll(/\b(webgpu|webgl|cpu) ([\d,]+)\b/g)].map((m) => m[1]);
      expect(new Set([s.backend, ...rates]).size).toBeGreaterThanOrEqual(2);
      if (adapter === null) expect(s.backendReason).toContain('webgpu skipped: no adapter');
      else if (adapter.isFallbackAdapter || /swiftshader/i.test(adapter.architecture)) {
        expect(s.backend).not.toBe('webgpu');
        expect(s.backendReason).toContain('webgpu skipped: software adapter');
      }
      console.log(`[2nn] adapter ${JSON.stringify(adapter)}; ${s.backend} in ${(probeMs / 1000).toFixed(1)} s: ${s.backendReason}`);

      // The badge says which and why: on hover, and on tap.
      await expect(page.getByTestId('backend')).toHaveText(`backend: ${s.backend}`);
      await expect(page.getByTestId('backend-line')).toContainText(s.backendReason);
      const tip = page.getByTestId('backend-reason');
      await expect(tip).toBeHidden();
      await page.getByTestId('backend').hover();
      await expect(tip).toBeVisible();
      await expect(tip).toHaveText(s.backendReason);
      await page.mouse.move(0, 400);
      await expect(tip).toBeHidden();
      await page.getByTestId('backend').click();
      await page.mouse.move(0, 400);
      await expect(tip).toBeVisible();

      // A second load in the same browser context reads the probe from localStorage.
      const t1 = Date.now();
      await page.reload();
      await expect.poll(async () => (await snapshot(page)).backendReason, { timeout: 60_000 }).not.toBe('');
      const again = await snapshot(page);
      expect(again.backend).toBe(s.backend);
      expect(again.backendReason).toMatch(/^cached probe from \d{4}-\d\d-\d\d \d\d:\d\d UTC: /);
      expect(again.backendReason).toContain(s.backendReason);
      console.log(`[2nn] reload in ${((Date.now() - t1) / 1000).toFixed(1)} s: ${again.backendReason}`);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
