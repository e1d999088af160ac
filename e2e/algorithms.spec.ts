import { expect, test } from '@playwright/test';
import { closeAll, openTabs, snapshot, type Tab } from './helpers.ts';

const base = 'dataset=blobs&partition=iid&samples=1200&model=mlp&lr=0.1&batch=10';

async function best(tabs: Tab[]) {
  const snaps = await Promise.all(tabs.map((t) => snapshot(t.page)));
  return snaps.sort((a, b) => b.round - a.round || (b.accuracy ?? 0) - (a.accuracy ?? 0))[0];
}

test.describe('decentralized algorithms, live in six tabs', () => {
  test('MoDeST: a sample of s = 3 trains each round, one aggregates, and the model reaches 85%', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=modest6&algo=modest&nodes=6&rounds=10&s=3&a=1&steps=20&aggTimeout=5000&pingTimeout=2000&autostart=1&${base}`, 6);
    try {
      await expect.poll(async () => (await best(tabs)).round, { timeout: 150_000 }).toBeGreaterThanOrEqual(10);
      await expect.poll(async () => (await best(tabs)).accuracy ?? 0, { timeout: 30_000 }).toBeGreaterThanOrEqual(0.85);
      const snaps = await Promise.all(tabs.map((t) => snapshot(t.page)));
      // Several tabs took part, and nobody needed a full mesh.
      expect(snaps.filter((s) => s.trainedSamples > 0).length).toBeGreaterThanOrEqual(3);
      expect(snaps.every((s) => s.rejectedFrames === 0)).toBe(true);
      for (const t of tabs) expect(t.errors).toEqual([]);
    } finally {
      await closeAll(tabs);
    }
  });

  test('gossip learning with variance-corrected averaging: every tab reaches 85%', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=gossip6&algo=gossip&merge=vca&nodes=6&rounds=16&period=700&steps=10&topology=full&autostart=1&${base}`, 6);
    try {
      await expect.poll(async () => Math.min(...(await Promise.all(tabs.map((t) => snapshot(t.page)))).map((s) => s.round)), { timeout: 150_000 }).toBeGreaterThanOrEqual(16);
      const snaps = await Promise.all(tabs.map((t) => snapshot(t.page)));
      const accuracies = snaps.map((s) => s.accuracy ?? 0);
      expect(Math.min(...accuracies)).toBeGreaterThanOrEqual(0.85);
      expect(snaps.every((s) => s.bytesReceived > 0 && s.rejectedFrames === 0)).toBe(true);
      for (const t of tabs) expect(t.errors).toEqual([]);
    } finally {
      await closeAll(tabs);
    }
  });
});
