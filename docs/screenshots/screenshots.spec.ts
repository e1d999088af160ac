import { expect, test, type Page } from '@playwright/test';

/**
 * Screenshots of the main views for the README: `npm run screenshots` (not part of `npm test`:
 * it trains a few tabs for real and takes about a minute).
 */

const OUT = 'docs/screenshots';
const snapshot = (page: Page) => page.evaluate(() => window.murmuration.snapshot());

test('live room: three tabs, gossip on moons', async ({ browser }) => {
  test.setTimeout(240_000);
  const context = await browser.newContext({ viewport: { width: 1440, height: 1100 } });
  const room = `demo-${Math.random().toString(36).slice(2, 6)}`;
  const url = `/#room=${room}&algo=gossip&merge=vca&dataset=moons&nodes=3&rounds=25&period=600&partition=dirichlet:0.5&backend=cpu&autostart=1`;
  const pages: Page[] = [];
  for (let i = 0; i < 3; i++) {
    const p = await context.newPage();
    await p.goto(url);
    await expect(p.getByTestId('room')).toHaveText(`room ${room}`);
    pages.push(p);
  }
  const main = pages[0];
  await expect.poll(async () => (await snapshot(main)).history.length, { timeout: 120_000 }).toBeGreaterThanOrEqual(12);
  await expect.poll(async () => Object.keys((await snapshot(main)).swarm).length).toBeGreaterThanOrEqual(2);
  await main.getByTestId('topology').locator('g.topo-node').nth(1).hover();
  await main.screenshot({ path: `${OUT}/live-room.png`, fullPage: true });
  const phone = await context.browser()!.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const pp = await phone.newPage();
  await pp.goto(`/#room=${room}-phone&algo=fedavg&dataset=blobs&nodes=6&backend=cpu`);
  await expect(pp.getByTestId('waiting')).toContainText('1 of 6');
  await pp.screenshot({ path: `${OUT}/phone-waiting.png` });
  await phone.close();
  await context.close();
});

test('compare view: four algorithms, finished', async ({ browser }) => {
  test.setTimeout(240_000);
  const context = await browser.newContext({ viewport: { width: 1440, height: 1100 } });
  const page = await context.newPage();
  await page.goto('/?view=compare&runs=fedavg,modest,gossip-mean,gossip-vca#dataset=moons&nodes=8&rounds=20&samples=800&partition=dirichlet:0.5&s=4&batch=20&evalSize=500');
  await expect(page.getByTestId('play')).toBeEnabled({ timeout: 60_000 });
  await page.getByTestId('play').click();
  await expect(page.getByTestId('compare-done')).toBeVisible({ timeout: 200_000 });
  await page.getByText('gossip-vca', { exact: true }).click();
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${OUT}/compare.png`, fullPage: true });
  await page.getByTestId('boundaries').screenshot({ path: `${OUT}/decision-boundaries.png` });
  await context.close();
});

test('setup panel in teacher mode, with the partition preview', async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  await page.goto('/#room=teacher-demo&algo=fedavg&dataset=mnist&model=2nn&nodes=10&partition=shards:2&backend=cpu');
  await page.getByTestId('teacher-toggle').click();
  await page.getByTestId('hide-seed').check();
  await page.getByTestId('hide-lr').check();
  await expect(page.getByTestId('partition-preview')).toHaveAttribute('data-nodes', '10', { timeout: 30_000 });
  await page.locator('aside.setup').screenshot({ path: `${OUT}/setup-teacher.png` });
  await context.close();
});
