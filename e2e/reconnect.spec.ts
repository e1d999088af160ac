import { expect, test, type WebSocketRoute } from '@playwright/test';
import { closeAll, openTabs, snapshot, uid, type Tab } from './helpers.ts';

/*
 * A tab whose network drops rejoins its room and catches up without a reload. Playwright's
 * `setOffline` does not cut WebSockets (microsoft/playwright#4910) or WebRTC (#42623), so the
 * cut is made on the tab's signaling socket: every connection to /signal goes through the test
 * (`routeWebSocket`), which closes both ends and refuses new ones for ten seconds. The server
 * then sees the tab leave, as it would after a real drop, and the others carry on without it.
 */

test.describe('reconnects', () => {
  test.setTimeout(240_000);

  test('a tab cut off for 10 s rejoins with its id, without a reload, and finishes the run with the room', async ({ browser }) => {
    // 100 rounds: blobs rounds take a third of a second, and the room must still be running well
    // after the tab is back (with 60 it once finished before the returning tab was sampled again).
    const hash = `room=reconnect-${uid()}&dataset=blobs&autostart=1&nodes=3&rounds=100`;
    const tabs: Tab[] = await openTabs(browser, hash, 2);
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    let cut = false;
    const open = new Map<WebSocketRoute, WebSocketRoute>();
    await page.routeWebSocket('**/signal', (ws) => {
      if (cut) {
        ws.close({ code: 4001, reason: 'network down (test)' });
        return;
      }
      const server = ws.connectToServer();
      open.set(ws, server);
      ws.onClose(() => {
        open.delete(ws);
        void server.close();
      });
    });
    await page.goto(`/#${hash}`);
    tabs.push({ context, page, errors });
    try {
      await expect.poll(async () => (await snapshot(page)).round, { timeout: 90_000 }).toBeGreaterThanOrEqual(3);
      const before = await snapshot(page);
      // A marker in the page: it survives only if the page is never reloaded.
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

      cut = true;
      for (const [ws, server] of [...open]) {
        await server.close({ code: 4001, reason: 'network down (test)' });
        await ws.close({ code: 4001, reason: 'network down (test)' });
      }
      const others = tabs.slice(0, 2);
      for (const t of others) await expect.poll(async () => (await snapshot(t.page)).roster.length, { timeout: 15_000 }).toBe(2);
      await expect.poll(async () => (await snapshot(page)).connection, { timeout: 5_000 }).toBe('reconnecting');
      const during = await snapshot(tabs[0].page);
      await page.waitForTimeout(10_000);
      cut = false;

      await expect.poll(async () => (await snapshot(page)).connection, { timeout: 15_000 }).toBe('online');
      const back = await snapshot(page);
      expect(back.nodeId).toBe(before.nodeId);
      expect(back.reconnects).toBe(1);
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
      for (const t of others) await expect.poll(async () => (await snapshot(t.page)).roster, { timeout: 15_000 }).toContain(before.nodeId);
      // The room went on without it, and it comes back into the run: it trains again after the cut.
      const trainedAtReturn = back.trainedSamples;
      for (const t of tabs) {
        await expect
          .poll(async () => (await snapshot(t.page)).state, { timeout: 180_000 })
          .toBe('done')
          .catch(async (e: unknown) => {
            for (const u of tabs) {
              const s = await snapshot(u.page);
              console.log(`${s.nodeId} ${s.role} ${s.state} round ${s.round} peers ${s.peers.join(',')} roster ${s.roster.join(',')} coordinator ${s.coordinator}\n  ${s.log.slice(-25).join('\n  ')}`);
            }
            throw e;
          });
      }
      const end = await Promise.all(tabs.map((t) => snapshot(t.page)));
      expect(during.round).toBeGreaterThan(before.round - 1);
      expect(end[2].trainedSamples).toBeGreaterThan(trainedAtReturn);
      for (const s of end) {
        expect(s.round).toBe(100);
        expect(s.accuracy!).toBeGreaterThanOrEqual(0.85);
      }
      console.log(`cut at round ${before.round}; the room was at round ${during.round} during the cut; back as ${back.nodeId} at round ${back.round}; final ${end.map((s) => s.accuracy!.toFixed(3)).join(' ')}`);
      for (const t of tabs) expect(t.errors).toEqual([]);
    } finally {
      await closeAll(tabs);
    }
  });

  test('a join the server refuses for now says so and retries, instead of sitting at "connecting"', async ({ browser }) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    let refusals = 1;
    await page.routeWebSocket('**/signal', (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((message) => {
        const msg = JSON.parse(String(message)) as { type: string };
        if (msg.type === 'join' && refusals > 0) {
          refusals--;
          ws.send(JSON.stringify({ type: 'error', code: 'rate-limited', message: 'too many joins with a secret; try again in 2 s' }));
          return;
        }
        server.send(message);
      });
    });
    try {
      await page.goto(`/#room=ratelimit-${uid()}&dataset=blobs`);
      await expect.poll(async () => (await snapshot(page)).notice ?? '', { timeout: 10_000 }).toContain('tries again in 2 s');
      expect((await snapshot(page)).nodeId).toBeNull();
      await expect.poll(async () => (await snapshot(page)).nodeId, { timeout: 10_000 }).not.toBeNull();
    } finally {
      await context.close();
    }
  });
});
