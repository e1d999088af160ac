import { readFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { uid, watchErrors } from './helpers.ts';
import { configToShortHash, parseHash } from '../src/core/config.ts';
import '../src/protocols/index.ts';

/** UI tests: small synthetic data and the cpu backend keep each test to seconds. */

const snapshot = (page: Page) => page.evaluate(() => window.murmuration.snapshot());
const points = async (page: Page, id: string) => Number(await page.getByTestId(id).getAttribute('data-points'));
const seriesWithPoints = async (page: Page, id: string) => Number(await page.getByTestId(id).getAttribute('data-series'));


test('a preset loads; start; the charts receive points', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto(`/#room=ui-preset-${uid()}&backend=cpu`);
  await page.getByTestId('preset-blobs-fedavg-8').click();
  await expect(page.locator('select[name=algo]')).toHaveValue('fedavg');
  await expect(page.locator('input[name=nodes]')).toHaveValue('8');
  await expect(page.locator('select[name=dataset]')).toHaveValue('blobs');
  const config = (await snapshot(page)).config;
  expect(config).toMatchObject({ algo: 'fedavg', dataset: 'blobs', nodes: 8, rounds: 30, autostart: true, backend: 'cpu' });
  expect(config.room).toMatch(/^blobs-fedavg-8-/);
  // The partition preview shows all 8 nodes' label histograms.
  await expect(page.getByTestId('partition-preview')).toHaveAttribute('data-nodes', '8');
  await expect(page.getByTestId('waiting')).toContainText('1 of 8 tabs joined');
  await expect(page.getByTestId('chart-accuracy')).toHaveAttribute('data-points', '0');

  await page.getByTestId('start').click();
  await expect.poll(() => points(page, 'chart-accuracy'), { timeout: 90_000 }).toBeGreaterThanOrEqual(2);
  await expect.poll(() => points(page, 'chart-bytes')).toBeGreaterThanOrEqual(2);
  expect(await seriesWithPoints(page, 'chart-accuracy')).toBeGreaterThanOrEqual(1);
  // Switching the x axis to time keeps the points.
  await page.getByTestId('chart-accuracy').getByText('time', { exact: true }).click();
  await expect.poll(() => points(page, 'chart-accuracy')).toBeGreaterThanOrEqual(2);
  // Each chart exports to PNG.
  const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('chart-accuracy-png').click()]);
  expect(png.suggestedFilename()).toBe('accuracy.png');
  expect((await readFile((await png.path())!)).subarray(1, 4).toString()).toBe('PNG');
  expect(errors).toEqual([]);
});

test('the share link round-trips the config exactly', async ({ page, context }) => {
  const input = `room=ui-share-${uid()}&algo=gossip&merge=mean&dataset=moons&nodes=3&rounds=7&seed=42&lr=0.05&batch=inf&partition=dirichlet:0.3&period=700&backend=cpu&hide=seed`;
  await page.goto(`/#${input}`);
  const link = await page.getByTestId('share-link').inputValue();
  const url = new URL(link);
  expect(url.search).toBe('');
  const fromLink = parseHash(url.hash);
  const expected = parseHash(input);
  expect(fromLink).toEqual(expected);
  expect(fromLink).toEqual((await snapshot(page)).config);
  // The link is short: the link version, the room and only the keys that differ from the defaults.
  expect(url.hash.slice(1)).toBe(configToShortHash(expected));
  expect(link.length).toBeLessThan(200);

  const other = await context.newPage();
  await other.goto(link);
  await expect(other.getByTestId('room')).toHaveText(`room ${expected.room}`);
  expect((await snapshot(other)).config).toEqual(expected);
  expect(await other.getByTestId('share-link').inputValue()).toBe(link);
  await expect(other.locator('input[name=lr]')).toHaveValue('0.05');
  await expect(other.locator('input[name=batch]')).toHaveValue('inf');
});

test('teacher mode: hidden controls survive the link', async ({ page, context }) => {
  await page.goto(`/#room=ui-teacher-${uid()}`);
  await expect(page.locator('input[name=seed]')).toBeVisible();
  await page.getByTestId('teacher-toggle').click();
  await page.getByTestId('hide-seed').check();
  await page.getByTestId('hide-lr').check();
  await page.getByTestId('hide-presets').check();
  const link = await page.getByTestId('share-link').inputValue();
  expect(parseHash(new URL(link).hash).hide).toBe('lr,presets,seed');
  // Teacher sees everything; students do not.
  await expect(page.locator('input[name=seed]')).toBeVisible();
  await page.getByTestId('teacher-toggle').click();
  await expect(page.locator('input[name=seed]')).toHaveCount(0);

  const student = await context.newPage();
  await student.goto(link);
  await expect(student.locator('input[name=rounds]')).toBeVisible();
  await expect(student.locator('input[name=seed]')).toHaveCount(0);
  await expect(student.locator('input[name=lr]')).toHaveCount(0);
  await expect(student.getByTestId('preset-blobs-fedavg-8')).toHaveCount(0);
  expect((await snapshot(student)).config.hide).toBe('lr,presets,seed');
  // Applying an edit keeps the hidden set in the new link.
  await student.locator('input[name=rounds]').fill('9');
  await student.getByTestId('apply').click();
  await expect.poll(() => student.evaluate(() => location.hash)).toContain('rounds=9');
  await expect(student.locator('input[name=rounds]')).toHaveValue('9');
  expect(parseHash(await student.evaluate(() => location.hash)).hide).toBe('lr,presets,seed');
  await expect(student.locator('input[name=seed]')).toHaveCount(0);
});

test('a finished run: CSV has one row per evaluated round; history survives a reload', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto(`/#room=ui-history-${uid()}&dataset=blobs&samples=300&model=mlp&nodes=1&rounds=3&batch=20&backend=cpu`);
  await expect(page.getByTestId('history-empty')).toBeVisible();
  await page.getByTestId('start').click();
  await expect.poll(async () => (await snapshot(page)).state, { timeout: 90_000 }).toBe('done');
  await expect.poll(async () => (await snapshot(page)).history.length).toBe(3);
  const rounds = 3;

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  // `# run:` and `# config:` lines come before the header.
  const csv = (await readFile((await download.path())!, 'utf8')).trim().split('\n').filter((l) => !l.startsWith('#'));
  expect(csv[0].split(',')).toEqual(expect.arrayContaining(['round', 'accuracy', 'loss', 'bytesSent', 't']));
  expect(csv.length - 1).toBe(rounds);
  expect(csv.slice(1).map((l) => Number(l.split(',')[0]))).toEqual([1, 2, 3]);

  await expect(page.getByTestId('history-row')).toHaveCount(1);
  await page.reload();
  await expect(page.getByTestId('history-row')).toHaveCount(1);
  await expect(page.getByTestId('history-row')).toContainText('fedavg · blobs');
  // Overlaying the past run adds its series to the accuracy chart.
  await page.getByTestId('history-row').getByRole('checkbox').check();
  await expect.poll(() => seriesWithPoints(page, 'chart-accuracy')).toBe(1);
  await expect.poll(() => points(page, 'chart-accuracy')).toBe(3);
  expect(errors).toEqual([]);
});

test('compare mode runs four algorithms in a worker and overlays four series', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/?view=compare&runs=fedavg,modest,gossip-mean,gossip-vca#dataset=blobs&samples=300&nodes=4&rounds=3&s=3&batch=20&evalSize=200&period=500');
  await expect(page.getByTestId('play')).toBeEnabled({ timeout: 60_000 });
  await page.getByTestId('step').click();
  await expect.poll(() => page.evaluate(() => window.murmurationCompare!.state().runs.map((r) => r.rows)), { timeout: 60_000 }).toEqual([1, 1, 1, 1]);
  await page.getByTestId('play').click();
  await expect(page.getByTestId('compare-done')).toBeVisible({ timeout: 120_000 });
  const state = await page.evaluate(() => window.murmurationCompare!.state());
  expect(state.runs.map((r) => r.key)).toEqual(['fedavg', 'modest', 'gossip-mean', 'gossip-vca']);
  for (const r of state.runs) expect(r.rows).toBe(3);
  await expect.poll(() => seriesWithPoints(page, 'chart-compare-accuracy')).toBe(4);
  await expect.poll(() => seriesWithPoints(page, 'chart-compare-bytes')).toBe(4);
  // The topology shows the focused run's nodes; the decision boundaries one panel per node.
  await expect(page.getByTestId('topology')).toHaveAttribute('data-nodes', '4');
  await expect(page.getByTestId('boundaries')).toHaveAttribute('data-panels', '4');
  // Each finished run went to the history.
  await expect(page.getByTestId('history-row')).toHaveCount(4);
  expect(errors).toEqual([]);
});
