import { expect, test } from '@playwright/test';
import { closeAll, coordinatorTab, openTabs, snapshot, type Tab } from './helpers.ts';

// Newcomer defaults (no backend=, the default partition, samples and rounds), blobs pinned: each
// round the server picks 2 of the 4 tabs, each an anchor or a miner.
const base = 'algo=fedamd&nodes=4&dataset=blobs&autostart=1';
const room = (name: string) => `${name}-${Date.now().toString(36)}`;

async function coordinatorOf(tabs: Tab[]): Promise<Tab> {
  await expect.poll(async () => (await snapshot(tabs[0].page)).coordinator, { timeout: 30_000 }).not.toBeNull();
  return coordinatorTab(tabs);
}

test.describe('FedAMD live in four tabs', () => {
  test('four tabs run FedAMD on blobs to at least 85%', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=${room('amd4')}&${base}`, 4);
    try {
      const server = await coordinatorOf(tabs);
      await expect.poll(async () => (await snapshot(server.page)).state, { timeout: 180_000 }).toBe('done');
      await expect.poll(async () => (await snapshot(server.page)).history.at(-1)?.round, { timeout: 30_000 }).toBe(20);
      expect((await snapshot(server.page)).accuracy).toBeGreaterThanOrEqual(0.85);
      for (const t of tabs) {
        await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 30_000 }).toBe('done');
        const s = await snapshot(t.page);
        // Every tab sent its opening bullseye at least.
        expect(s.bytesSent).toBeGreaterThan(0);
        expect(s.rejectedFrames).toBe(0);
        expect(t.errors).toEqual([]);
      }
    } finally {
      await closeAll(tabs);
    }
  });

  test('a client tab closed mid-run leaves the rest going to the end', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=${room('amdchurn')}&roundTimeout=4000&${base}`, 4);
    try {
      const server = await coordinatorOf(tabs);
      await expect.poll(async () => (await snapshot(server.page)).round, { timeout: 90_000 }).toBeGreaterThanOrEqual(4);
      const doomed = tabs.find((t) => t !== server)!;
      await closeAll([doomed]);
      const survivors = tabs.filter((t) => t !== doomed);
      await expect.poll(async () => (await snapshot(server.page)).roster.length, { timeout: 30_000 }).toBe(3);
      await expect.poll(async () => (await snapshot(server.page)).state, { timeout: 180_000 }).toBe('done');
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
