import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { uid, watchErrors } from './helpers.ts';
import type { Snapshot } from '../src/live/liveNode.ts';

/**
 * Charts and History (issue 12 part 4): value tooltips, friendly tab names with the peer id on
 * hover, an honest ★, one History row per run, and a History that fits a phone. Small synthetic
 * runs on the cpu backend; tabs of one room are pages of one browser context (one IndexedDB).
 */

const snapshot = (page: Page): Promise<Snapshot> => page.evaluate(() => window.murmuration.snapshot() as unknown as Snapshot);
const SMALL = 'dataset=blobs&partition=iid&samples=300&model=mlp&batch=20&evalSize=200&autostart=1';


/** The History records in this context's IndexedDB, read directly. */
function storedRuns(page: Page): Promise<{ label: string; tabs: number }[]> {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open('murmuration');
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains('runs')) return resolve([]);
          const all = db.transaction('runs').objectStore('runs').getAll();
          all.onsuccess = () => {
            db.close();
            resolve((all.result as { label: string; tabs?: unknown[] }[]).map((r) => ({ label: r.label, tabs: r.tabs?.length ?? 1 })));
          };
          all.onerror = () => reject(all.error);
        };
      }),
  );
}

async function runToDone(page: Page, rounds: number): Promise<void> {
  await expect.poll(async () => (await snapshot(page)).state, { timeout: 120_000 }).toBe('done');
  await expect.poll(async () => (await snapshot(page)).history.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(rounds);
}

test.describe('a one-tab FedAvg room', () => {
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  test.beforeAll(async ({ browser }) => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    errors = watchErrors(page);
    await page.goto(`/#room=charts-fedavg-${uid()}&algo=fedavg&nodes=1&rounds=3&${SMALL}`);
    await runToDone(page, 3);
    await expect(page.getByTestId('history-row')).toHaveCount(1);
  });
  test.afterAll(async () => {
    await context.close();
  });

  test('hovering a chart shows the values there', async () => {
    const acc = page.getByTestId('chart-accuracy');
    await acc.locator('.u-over').hover();
    const tip = page.getByTestId('chart-accuracy-tooltip');
    await expect(tip).toBeVisible();
    await expect(tip).toContainText(/round \d/);
    await expect(tip).toContainText('Tab 1 (this tab)');
    await expect(tip).toContainText(/\d+\.\d%/);
    // Leaving the plot hides it.
    await page.mouse.move(2, 2);
    await expect(tip).toBeHidden();

    await page.getByTestId('chart-bytes').locator('.u-over').hover();
    await expect(page.getByTestId('chart-bytes-tooltip')).toBeVisible();
    await expect(page.getByTestId('chart-bytes-tooltip')).toContainText(/\d+\.\d+ MB/);
    expect(errors).toEqual([]);
  });

  test('FedAvg stars its coordinator and says what the star means', async () => {
    const s = await snapshot(page);
    expect(s.coordinator).toBe(s.nodeId);
    // One global model: no consensus to chart.
    await expect(page.getByTestId('chart-consensus')).toHaveCount(0);
    const me = page.getByTestId('peers').getByTestId('peer-name');
    await expect(me).toHaveText('Tab 1 (this tab) ★');
    await expect(page.getByTestId('peers-legend')).toContainText('★ coordinator');
    await expect(page.getByTestId('peers-legend')).toContainText('averages');
    await expect(page.getByTestId('topology-aggregator-legend')).toContainText('★ coordinator');
    await expect(page.getByTestId('topology').locator(`g[data-id="${s.nodeId}"]`)).toContainText('Tab 1 ★');
  });

  test('a phone-width History entry does not widen the page', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const row = page.getByTestId('history-row');
    await row.scrollIntoViewIfNeeded();
    await expect(row).toBeVisible();
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const box = await row.boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    // The label that wraps there carries the key settings.
    await expect(row).toContainText('fedavg · blobs · iid · 1 tab · lr 0.1 · 3 rounds');
  });
});

test.describe('a two-tab gossip room in one browser', () => {
  let context: BrowserContext;
  let pages: Page[];
  let errors: string[][];
  test.beforeAll(async ({ browser }) => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // Five rounds, not three: under load a tab could finish three before the other's first sketch
    // reached it, leaving no consensus estimate above 0 to chart.
    const hash = `room=charts-gossip-${uid()}&algo=gossip&merge=mean&nodes=2&rounds=5&period=400&${SMALL}`;
    pages = [];
    errors = [];
    // One after the other, so the first page is the room's oldest member (Tab 1).
    for (let i = 0; i < 2; i++) {
      const page = await context.newPage();
      errors.push(watchErrors(page));
      await page.goto(`/#${hash}`);
      await expect.poll(async () => (await snapshot(page)).nodeId, { timeout: 30_000 }).not.toBeNull();
      pages.push(page);
    }
    await Promise.all(pages.map((p) => runToDone(p, 5)));
  });
  test.afterAll(async () => {
    await context.close();
  });

  test('legend, topology and peers table call the tabs "Tab N", with the peer id on hover', async () => {
    const [a, b] = pages;
    const s = await snapshot(a);
    const [idA, idB] = s.roster;
    expect(idA).toBe(s.nodeId);
    expect(idB).toBe((await snapshot(b)).nodeId);

    const names = a.getByTestId('peers').getByTestId('peer-name');
    await expect(names).toHaveText(['Tab 1 (this tab)', 'Tab 2']);
    await expect(names.nth(0)).toHaveAttribute('title', new RegExp(idA));
    await expect(names.nth(1)).toHaveAttribute('title', new RegExp(idB));

    const legend = a.getByTestId('chart-accuracy').getByRole('list', { name: 'legend' });
    await expect(legend.getByText('Tab 1 (this tab)', { exact: true })).toHaveAttribute('title', new RegExp(idA));
    await expect(legend.getByText('Tab 2', { exact: true })).toHaveAttribute('title', new RegExp(idB));
    await expect(legend).not.toContainText(idB);

    const node = a.getByTestId('topology').locator(`g[data-id="${idB}"]`);
    await expect(node).toContainText('Tab 2');
    await node.hover();
    await expect(a.getByTestId('topology').getByRole('tooltip')).toContainText(`peer id ${idB}`);
    // The other tab sees the same names.
    await expect(b.getByTestId('peers').getByTestId('peer-name')).toHaveText(['Tab 1', 'Tab 2 (this tab)']);
    expect(errors.flat()).toEqual([]);
  });

  test('gossip reports the swarm consensus distance, estimated from the tabs\' sketches, in a chart of its own', async () => {
    for (const p of pages) {
      const h = (await snapshot(p)).history;
      // Independent inits: the models start apart, so some point has a positive distance.
      expect(h.some((x) => (x.consensus ?? 0) > 0)).toBe(true);
      expect(h.every((x) => x.consensus !== undefined && Number.isFinite(x.consensus))).toBe(true);
      await expect.poll(() => p.getByTestId('chart-consensus').getAttribute('data-points')).not.toBe('0');
    }
  });

  test('gossip has no coordinator: no ★ and no star legend', async () => {
    for (const p of pages) {
      await expect(p.getByTestId('peers')).not.toContainText('★');
      await expect(p.getByTestId('topology')).not.toContainText('★');
      await expect(p.getByTestId('peers-legend')).toHaveCount(0);
      await expect(p.getByTestId('topology-aggregator-legend')).toHaveCount(0);
    }
  });

  test('both tabs finishing the run leave one History row', async () => {
    const [a, b] = pages;
    // Wait for both tabs' saves: two records today, one record holding both tabs when they merge.
    await expect.poll(async () => (await storedRuns(a)).reduce((n, r) => n + r.tabs, 0), { timeout: 30_000 }).toBe(2);
    expect(await storedRuns(a)).toHaveLength(1);
    for (const p of [a, b]) {
      await expect(p.getByTestId('history-row')).toHaveCount(1);
      await expect(p.getByTestId('history-row')).toContainText('gossip-mean · blobs · iid · 2 tabs · lr 0.1 · 5 rounds');
      await expect(p.getByTestId('history-tabs')).toContainText('Tab 1, Tab 2');
    }
  });
});

test('compare mode: hovering a chart shows each run’s value', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/?view=compare&runs=fedavg,gossip-mean#dataset=blobs&samples=300&nodes=2&rounds=2&batch=20&evalSize=200&period=500');
  await expect(page.getByTestId('play')).toBeEnabled({ timeout: 60_000 });
  await page.getByTestId('play').click();
  await expect(page.getByTestId('compare-done')).toBeVisible({ timeout: 120_000 });
  await page.getByTestId('chart-compare-accuracy').locator('.u-over').hover();
  const tip = page.getByTestId('chart-compare-accuracy-tooltip');
  await expect(tip).toBeVisible();
  await expect(tip).toContainText('FedAvg');
  await expect(tip).toContainText('gossip · mean');
  await expect(tip).toContainText(/\d+\.\d%/);
  expect(errors).toEqual([]);
});
