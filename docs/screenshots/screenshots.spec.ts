import { expect, test, type Page } from '@playwright/test';

/**
 * Screenshots of the main views for the README: `npm run screenshots` (not part of `npm test`:
 * it trains a few tabs for real and takes about a minute).
 */

const OUT = 'docs/screenshots';
const snapshot = (page: Page) => page.evaluate(() => window.murmuration.snapshot());
/** The first-visit panel has its own picture; keep it out of the others. */
const seen = () => localStorage.setItem('murmuration.aboutDismissed', '1');

test('a lesson: the owner, a student, the end, and a first visit', async ({ browser }) => {
  test.setTimeout(240_000);
  const room = `class-${Math.random().toString(36).slice(2, 6)}`;
  const teacher = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  await teacher.addInitScript(seen);
  const owner = await teacher.newPage();
  await owner.goto(`/#room=${room}&nodes=4&rounds=15`);
  await expect.poll(async () => (await snapshot(owner)).isOwner, { timeout: 30_000 }).toBe(true);
  const students = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  await students.addInitScript(seen);
  const student = await students.newPage();
  await student.goto(`/#room=${room}&nodes=4&rounds=15&dataset=moons`);
  await expect(student.getByTestId('room-banner')).toBeVisible();
  await student.screenshot({ path: `${OUT}/classroom-member.png` });
  const more = [await students.newPage(), await students.newPage()];
  for (const p of more) await p.goto(`/#room=${room}`);
  await expect(owner.getByTestId('waiting')).toContainText('4 of 4', { timeout: 30_000 });
  await expect(owner.getByTestId('start')).toBeEnabled({ timeout: 60_000 });
  await owner.getByTestId('start').click();
  await expect.poll(async () => (await snapshot(owner)).roomFinished, { timeout: 180_000 }).not.toBeNull();
  await owner.getByTestId('share').scrollIntoViewIfNeeded();
  await owner.getByTestId('share-qr-toggle').click();
  await owner.screenshot({ path: `${OUT}/classroom-finished.png`, fullPage: true });
  await teacher.close();
  await students.close();
  const fresh = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const first = await fresh.newPage();
  await first.goto('/');
  await first.screenshot({ path: `${OUT}/first-visit.png` });
  await fresh.close();
});

test('live room: three tabs, gossip on moons', async ({ browser }) => {
  test.setTimeout(240_000);
  const context = await browser.newContext({ viewport: { width: 1440, height: 1100 } });
  await context.addInitScript(seen);
  const room = `demo-${Math.random().toString(36).slice(2, 6)}`;
  const url = `/#room=${room}&algo=gossip&merge=vca&dataset=moons&nodes=3&rounds=25&period=600&partition=dirichlet:0.5&autostart=1`;
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
  await phone.addInitScript(seen);
  const pp = await phone.newPage();
  await pp.goto(`/#room=${room}-phone&nodes=6`);
  await expect(pp.getByTestId('waiting')).toContainText('1 of 6');
  await pp.screenshot({ path: `${OUT}/phone-waiting.png` });
  await phone.close();
  await context.close();
});

test('compare view: four algorithms, finished', async ({ browser }) => {
  test.setTimeout(240_000);
  const context = await browser.newContext({ viewport: { width: 1440, height: 1100 } });
  await context.addInitScript(seen);
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
  await context.addInitScript(seen);
  const page = await context.newPage();
  await page.goto('/#room=teacher-demo&algo=fedavg&dataset=mnist&model=2nn&nodes=10&partition=shards:2&backend=cpu');
  await page.getByTestId('teacher-toggle').click();
  await page.getByTestId('hide-seed').check();
  await page.getByTestId('hide-lr').check();
  await expect(page.getByTestId('partition-preview')).toHaveAttribute('data-nodes', '10', { timeout: 30_000 });
  await page.locator('aside.setup').screenshot({ path: `${OUT}/setup-teacher.png` });
  await context.close();
});

test('the projector view with the teacher console, six tabs on gossip', async ({ browser }) => {
  test.setTimeout(300_000);
  const room = `proj-${Math.random().toString(36).slice(2, 6)}`;
  const hash = `room=${room}&algo=gossip&merge=vca&dataset=moons&nodes=6&rounds=40&period=700&partition=dirichlet:0.5`;
  const tabs = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await tabs.addInitScript(seen);
  const owner = await tabs.newPage();
  await owner.goto(`/#${hash}`);
  await expect.poll(async () => (await snapshot(owner)).ownerKey, { timeout: 30_000 }).not.toBeNull();
  const key = (await snapshot(owner)).ownerKey!;
  for (let i = 0; i < 5; i++) await (await tabs.newPage()).goto(`/#${hash}`);
  const screen = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const projector = await screen.newPage();
  await projector.goto(`/?view=projector&owner=${key}#${hash}`);
  await expect(projector.getByTestId('console-start')).toBeEnabled({ timeout: 60_000 });
  await expect.poll(async () => projector.evaluate(() => (window as unknown as { murmuration: { room: () => { nodes: unknown[] } } }).murmuration.room().nodes.length), { timeout: 60_000 }).toBe(6);
  await projector.getByTestId('console-start').click();
  await expect.poll(async () => projector.evaluate(() => (window as unknown as { murmuration: { room: () => { swarm: unknown[] } } }).murmuration.room().swarm.length), { timeout: 180_000 }).toBeGreaterThanOrEqual(10);
  await projector.screenshot({ path: `${OUT}/projector.png`, fullPage: true });
  await screen.close();
  await tabs.close();
});
