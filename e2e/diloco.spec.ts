import { expect, test } from '@playwright/test';
import { closeAll, coordinatorTab, openTabs, snapshot, type Tab } from './helpers.ts';

// Newcomer defaults (no backend=): small blobs on four tabs; the first tab owns the room and starts it.
const base = 'dataset=blobs&partition=iid&samples=1200&model=mlp&batch=10&algo=diloco&innerSteps=10';

async function coordinator(tabs: Tab[]): Promise<Tab> {
  await expect.poll(async () => (await snapshot(tabs[0].page)).coordinator, { timeout: 30_000 }).not.toBeNull();
  return coordinatorTab(tabs);
}

test.describe('DiLoCo live in four tabs', () => {
  test('four tabs run DiLoCo (4-bit outer gradients) on blobs to at least 85%', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=diloco4&nodes=4&rounds=6&quant=4&autostart=1&${base}`, 4);
    try {
      const coord = await coordinator(tabs);
      await expect.poll(async () => (await snapshot(coord.page)).state, { timeout: 150_000 }).toBe('done');
      const s = await snapshot(coord.page);
      expect(s.history.at(-1)?.round).toBe(6);
      expect(s.accuracy).toBeGreaterThanOrEqual(0.85);
      for (const t of tabs) {
        const x = await snapshot(t.page);
        expect(x.trainedSamples).toBeGreaterThan(0);
        expect(x.bytesSent).toBeGreaterThan(0);
        expect(x.rejectedFrames).toBe(0);
        expect(t.errors).toEqual([]);
      }
    } finally {
      await closeAll(tabs);
    }
  });

  test('a worker tab closed mid-run leaves the rest going to the end', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=dilocochurn&nodes=4&rounds=10&roundTimeout=4000&fragments=2&overlap=1&mixAlpha=0.5&autostart=1&${base}`, 4);
    try {
      const coord = await coordinator(tabs);
      await expect.poll(async () => (await snapshot(coord.page)).round, { timeout: 90_000 }).toBeGreaterThanOrEqual(3);
      const doomed = tabs.find((t) => t !== coord)!;
      await closeAll([doomed]);
      const survivors = tabs.filter((t) => t !== doomed);
      await expect.poll(async () => (await snapshot(coord.page)).state, { timeout: 150_000 }).toBe('done');
      const s = await snapshot(coord.page);
      expect(s.history.at(-1)?.round).toBe(10);
      expect(s.accuracy).toBeGreaterThanOrEqual(0.85);
      expect(s.roster.length).toBe(3);
      for (const t of survivors) {
        await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 30_000 }).toBe('done');
        expect((await snapshot(t.page)).rejectedFrames).toBe(0);
        expect(t.errors).toEqual([]);
      }
    } finally {
      await closeAll(tabs);
    }
  });
});
