import { expect, test } from '@playwright/test';
import { closeAll, openTabs, snapshot, type Tab } from './helpers.ts';

const room = (name: string) => `${name}-${Date.now().toString(36)}`;
const visitsSeen = (counts: Record<string, number> | undefined) => Object.values(counts ?? {}).reduce((a, b) => a + b, 0);

test.describe('token walk live in four tabs', () => {
  // Newcomer defaults, blobs pinned: 20 steps of the walk over four tabs.
  test('four tabs run the token on blobs to at least 85%, and every tab ends on the final model', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=${room('tok4')}&algo=token&nodes=4&dataset=blobs&autostart=1`, 4);
    try {
      for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 150_000 }).toBe('done');
      const snaps = await Promise.all(tabs.map((t) => snapshot(t.page)));
      for (const [i, s] of snaps.entries()) {
        await expect.poll(async () => (await snapshot(tabs[i].page)).history.at(-1)?.round, { timeout: 30_000 }).toBe(20);
        expect((await snapshot(tabs[i].page)).accuracy).toBeGreaterThanOrEqual(0.85);
        // The walk visited every tab (α = 5 on four tabs: each gets its turns).
        expect(s.trainedSamples).toBeGreaterThan(0);
        expect(s.rejectedFrames).toBe(0);
        expect(tabs[i].errors).toEqual([]);
      }
      // The tab that trained the last step holds visit counts of the whole walk.
      expect(Math.max(...snaps.map((s) => visitsSeen(s.report?.perNode?.counts)))).toBe(20);
      const hashes = new Set(snaps.map((s) => s.modelHash));
      expect(hashes.size).toBe(1);
    } finally {
      await closeAll(tabs);
    }
  });

  test('a tab closed while it holds the token does not end the walk: its predecessor re-injects the token', async ({ browser }) => {
    // Long visits (2000 local steps), so the holder is still training when its tab closes.
    const tabs = await openTabs(browser, `room=${room('tokchurn')}&algo=token&nodes=4&dataset=blobs&partition=iid&rounds=10&steps=2000&roundTimeout=8000&autostart=1`, 4);
    try {
      await expect.poll(async () => Math.max(...(await Promise.all(tabs.map((t) => snapshot(t.page)))).map((s) => s.round)), { timeout: 90_000 }).toBeGreaterThanOrEqual(3);
      let holder: Tab | null = null;
      await expect
        .poll(
          async () => {
            for (const t of tabs) {
              const s = await snapshot(t.page);
              if (s.state === 'training' && s.report?.focus?.node === s.nodeId) holder = t;
            }
            return holder !== null;
          },
          { timeout: 60_000, intervals: [20] },
        )
        .toBe(true);
      const doomed = holder!;
      const doomedId = (await snapshot(doomed.page)).nodeId;
      await closeAll([doomed]);
      const survivors = tabs.filter((t) => t !== doomed);
      for (const t of survivors) await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 150_000 }).toBe('done');
      for (const t of survivors) {
        await expect.poll(async () => (await snapshot(t.page)).history.at(-1)?.round, { timeout: 30_000 }).toBe(10);
        const s = await snapshot(t.page);
        expect(s.roster).not.toContain(doomedId);
        expect(s.accuracy).toBeGreaterThanOrEqual(0.85);
        // The walk went on under a new epoch: the token was re-injected, not just handed on.
        expect(s.report?.values.recoveries).toBeGreaterThanOrEqual(1);
        expect(s.rejectedFrames).toBe(0);
        expect(t.errors).toEqual([]);
      }
      expect((await Promise.all(survivors.map((t) => snapshot(t.page)))).some((s) => s.log.some((l) => l.includes('re-injecting the token')))).toBe(true);
    } finally {
      await closeAll(tabs);
    }
  });
});
