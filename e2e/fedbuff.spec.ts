import { expect, test } from '@playwright/test';
import { closeAll, coordinatorTab, openTabs, snapshot, type Tab } from './helpers.ts';

// Newcomer defaults (no backend=), small data. K = 2 of 4 tabs: the server aggregates whenever two
// updates are in, so the tabs really run asynchronously.
const base = 'algo=fedbuff&nodes=4&dataset=blobs&partition=iid&samples=1200&concurrency=4&bufferSize=2&autostart=1';
const room = (name: string) => `${name}-${Date.now().toString(36)}`;

async function coordinatorOf(tabs: Tab[]): Promise<Tab> {
  await expect.poll(async () => (await snapshot(tabs[0].page)).coordinator, { timeout: 30_000 }).not.toBeNull();
  return coordinatorTab(tabs);
}

test.describe('FedBuff live in four tabs', () => {
  test('four tabs run FedBuff on blobs to at least 85%', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=${room('fb4')}&rounds=12&${base}`, 4);
    try {
      const server = await coordinatorOf(tabs);
      await expect.poll(async () => (await snapshot(server.page)).state, { timeout: 150_000 }).toBe('done');
      await expect.poll(async () => (await snapshot(server.page)).history.at(-1)?.round, { timeout: 30_000 }).toBe(12);
      expect((await snapshot(server.page)).accuracy).toBeGreaterThanOrEqual(0.85);
      for (const t of tabs) {
        await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 30_000 }).toBe('done');
        const s = await snapshot(t.page);
        expect(s.trainedSamples).toBeGreaterThan(0);
        expect(s.rejectedFrames).toBe(0);
        expect(t.errors).toEqual([]);
      }
    } finally {
      await closeAll(tabs);
    }
  });

  test('a client tab closed mid-run leaves the rest going to the end', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=${room('fbchurn')}&rounds=20&roundTimeout=4000&${base}`, 4);
    try {
      const server = await coordinatorOf(tabs);
      await expect.poll(async () => (await snapshot(server.page)).round, { timeout: 90_000 }).toBeGreaterThanOrEqual(4);
      const doomed = tabs.find((t) => t !== server)!;
      await closeAll([doomed]);
      const survivors = tabs.filter((t) => t !== doomed);
      await expect.poll(async () => (await snapshot(server.page)).roster.length, { timeout: 30_000 }).toBe(3);
      await expect.poll(async () => (await snapshot(server.page)).state, { timeout: 150_000 }).toBe('done');
      const end = await snapshot(server.page);
      expect(end.round).toBe(20);
      expect(end.accuracy).toBeGreaterThanOrEqual(0.85);
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
