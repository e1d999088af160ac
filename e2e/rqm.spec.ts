import { expect, test } from '@playwright/test';
import { closeAll, coordinatorTab, openTabs, snapshot } from './helpers.ts';

// FedAvg with RQM updates between real tabs: 2-bit level indices over WebRTC, decoded by the
// coordinator tab; every tab shows the privacy it has spent.
const room = (name: string) => `${name}-${Date.now().toString(36)}`;

test('four tabs run FedAvg with dp=rqm on blobs to 85%, and each shows its privacy ε', async ({ browser }) => {
  const tabs = await openTabs(browser, `room=${room('rqm4')}&algo=fedavg&dp=rqm&nodes=4&dataset=blobs&partition=iid&samples=1200&rounds=10&autostart=1`, 4);
  try {
    await expect.poll(async () => (await snapshot(tabs[0].page)).coordinator, { timeout: 30_000 }).not.toBeNull();
    const server = await coordinatorTab(tabs);
    await expect.poll(async () => (await snapshot(server.page)).state, { timeout: 150_000 }).toBe('done');
    expect((await snapshot(server.page)).accuracy).toBeGreaterThanOrEqual(0.85);
    for (const t of tabs) {
      await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 30_000 }).toBe('done');
      const s = await snapshot(t.page);
      expect(s.trainings).toBe(10);
      expect(s.rejectedFrames).toBe(0);
      await expect(t.page.getByTestId('run-facts-status')).toContainText(/This tab’s privacy ε: ε = [\d.]+ at δ = 0.00001 after 10 updates of 371 numbers/);
      expect(t.errors).toEqual([]);
    }
  } finally {
    await closeAll(tabs);
  }
});

test('compare mode: FedAvg · RQM lists its ε, gossip with final=merge its merged accuracy and a merged series', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/?view=compare&runs=fedavg-rqm,gossip-vca#dataset=blobs&samples=300&nodes=4&rounds=3&batch=20&evalSize=200&period=500&final=merge');
  await expect(page.getByTestId('play')).toBeEnabled({ timeout: 60_000 });
  await page.getByTestId('play').click();
  await expect(page.getByTestId('compare-done')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('run-extra-fedavg-rqm')).toHaveText(/^ε [\d.e+]+$/);
  await expect(page.getByTestId('run-extra-gossip-vca')).toHaveText(/^merged \d/);
  // Two runs and gossip's merged line.
  await expect.poll(async () => Number(await page.getByTestId('chart-compare-accuracy').getAttribute('data-series'))).toBe(3);
  expect(errors).toEqual([]);
});
