import { expect, test, type Page } from '@playwright/test';
import { uid, watchErrors } from './helpers.ts';
import { encode } from 'uqr';
import { configToStrings, defaultConfig, parseHash } from '../src/core/config.ts';
import '../src/protocols/index.ts';

/**
 * The setup form, the share link and the first-visit panel. No test starts a run: the cpu
 * backend only keeps a joining tab light.
 */

const snapshot = (page: Page) => page.evaluate(() => window.murmuration.snapshot());
const hashOf = (page: Page) => page.evaluate(() => location.hash);


test('a link with one bad value keeps the room and the good values, and marks only the bad field', async ({ page }) => {
  const errors = watchErrors(page);
  const room = `forms-bad-${uid()}`;
  await page.goto(`/#room=${room}&algo=gossip&dataset=moons&nodes=abc&lr=0.05&backend=cpu`);
  await expect(page.getByTestId('config-error')).toBeVisible();
  await expect(page.getByTestId('config-error')).toContainText('Nodes must be a whole number from 1 to 100,000');
  // The good values survive, the room above all.
  await expect(page.getByTestId('room')).toHaveText(`room ${room}`);
  await expect(page.locator('input[name=room]')).toHaveValue(room);
  await expect(page.locator('select[name=algo]')).toHaveValue('gossip');
  await expect(page.locator('select[name=dataset]')).toHaveValue('moons');
  await expect(page.locator('input[name=lr]')).toHaveValue('0.05');
  // The bad value is shown as the link had it, marked; nothing else is.
  const nodes = page.locator('input[name=nodes]');
  await expect(nodes).toHaveValue('abc');
  await expect(nodes).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId('error-nodes')).toHaveText('Nodes must be a whole number from 1 to 100,000');
  await expect(page.locator('[aria-invalid="true"]')).toHaveCount(1);
  await expect(page.locator('.field-error')).toHaveCount(1);
  // The tab does not join, and does not claim to be loading.
  await expect(page.getByTestId('not-joined')).toBeVisible();
  await expect(page.getByTestId('status')).not.toContainText('loading');
  expect((await snapshot(page)).nodeId).toBeNull();

  // Fixing the field clears its mark; Apply joins the same room with the good values.
  await nodes.fill('3');
  await expect(nodes).not.toHaveAttribute('aria-invalid');
  await expect(page.getByTestId('error-nodes')).toHaveCount(0);
  await page.getByTestId('apply').click();
  await expect.poll(() => hashOf(page)).toContain('nodes=3');
  const config = parseHash(await hashOf(page));
  expect(config).toMatchObject({ room, algo: 'gossip', dataset: 'moons', nodes: 3, lr: 0.05, backend: 'cpu' });
  await expect(page.getByTestId('config-error')).toHaveCount(0);
  await expect.poll(async () => (await snapshot(page)).nodeId, { timeout: 30_000 }).not.toBeNull();
  await expect(page.getByTestId('room')).toHaveText(`room ${room}`);
  expect(errors).toEqual([]);
});

test('editing a field to a bad value marks it with a plain sentence; fixing it clears the mark', async ({ page }) => {
  await page.goto(`/#room=forms-edit-${uid()}&backend=cpu`);
  const nodes = page.locator('input[name=nodes]');
  await expect(nodes).toHaveValue('4');
  await expect(page.locator('[aria-invalid="true"]')).toHaveCount(0);

  await nodes.fill('0');
  await expect(nodes).toHaveAttribute('aria-invalid', 'true');
  const message = page.getByTestId('error-nodes');
  await expect(message).toHaveText('Nodes must be a whole number from 1 to 100,000');
  await expect(message).not.toContainText(/Too small|expected/);
  // The sentence is tied to the field for screen readers, and the field has a red border.
  const describedBy = (await nodes.getAttribute('aria-describedby')) ?? '';
  expect(describedBy.split(' ')).toContain(await message.getAttribute('id'));
  const border = await nodes.evaluate((el) => getComputedStyle(el).borderTopColor);
  const [r, g, b] = border.match(/\d+/g)!.map(Number);
  expect(r).toBeGreaterThan(150);
  expect(g + b).toBeLessThan(120);

  // A second bad field, in words too; Apply refuses and goes to the first bad field.
  await page.locator('input[name=lr]').fill('fast');
  await expect(page.getByTestId('error-lr')).toHaveText('Learning rate must be a number from 0.000001 to 10');
  const before = await hashOf(page);
  await page.getByTestId('apply').click();
  await expect(page.getByTestId('setup-error')).toContainText('Fix the marked settings first.');
  await expect(nodes).toBeFocused();
  expect(await hashOf(page)).toBe(before);

  // Fixing clears each mark at once, and the summary with it.
  await nodes.fill('5');
  await expect(nodes).not.toHaveAttribute('aria-invalid');
  await expect(page.getByTestId('error-nodes')).toHaveCount(0);
  await expect(page.getByTestId('error-lr')).toBeVisible();
  await page.locator('input[name=lr]').fill('0.2');
  await expect(page.locator('[aria-invalid="true"]')).toHaveCount(0);
  await expect(page.locator('.field-error')).toHaveCount(0);
  await expect(page.getByTestId('setup-error')).toHaveText('');
});

test('dirichlet:0 and shards:0 are rejected; dirichlet:0.3 is applied', async ({ page }) => {
  await page.goto(`/#room=forms-partition-${uid()}&backend=cpu`);
  const partition = page.locator('input[name=partition]');
  const before = await hashOf(page);
  for (const bad of ['dirichlet:0', 'shards:0']) {
    await partition.fill(bad);
    await expect(partition).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByTestId('error-partition')).toContainText('Partition must be iid, dirichlet:<alpha> with alpha above 0');
    await page.getByTestId('apply').click();
    await expect(page.getByTestId('setup-error')).toContainText('Fix the marked settings first.');
    expect(await hashOf(page)).toBe(before);
  }
  await partition.fill('dirichlet:0.3');
  await expect(page.getByTestId('error-partition')).toHaveCount(0);
  await page.getByTestId('apply').click();
  await expect.poll(() => hashOf(page)).toContain('partition=dirichlet:0.3');
  await expect(page.locator('input[name=partition]')).toHaveValue('dirichlet:0.3');
});

test('the share link holds only the non-default keys and reproduces the config', async ({ page, context }) => {
  const input = `room=forms-share-${uid()}&algo=gossip&merge=mean&dataset=moons&nodes=3&rounds=7&seed=42&lr=0.05&batch=inf&partition=dirichlet:0.3&period=700&backend=cpu&hide=seed`;
  await page.goto(`/#${input}`);
  const link = await page.getByTestId('share-link').inputValue();
  const url = new URL(link);
  expect(url.search).toBe('');
  expect(link.length).toBeLessThan(200);
  const expected = parseHash(input);
  const fromLink = parseHash(url.hash);
  expect(fromLink).toEqual(expected);
  expect(fromLink).toEqual((await snapshot(page)).config);
  // Only the link version, the room and the keys that differ from the defaults.
  const defaults = configToStrings(defaultConfig());
  const mine = configToStrings(expected);
  const differing = Object.keys(mine).filter((k) => k === 'room' || mine[k as keyof typeof mine] !== defaults[k as keyof typeof defaults]);
  const keys = [...new URLSearchParams(url.hash.slice(1)).keys()];
  expect(keys[0]).toBe('v');
  expect(keys.slice(1).sort()).toEqual(differing.sort());
  expect(url.hash).toContain('partition=dirichlet:0.3');

  const other = await context.newPage();
  await other.goto(link);
  await expect(other.getByTestId('room')).toHaveText(`room ${expected.room}`);
  expect((await snapshot(other)).config).toEqual(expected);
  expect(await other.getByTestId('share-link').inputValue()).toBe(link);
  await expect(other.locator('input[name=lr]')).toHaveValue('0.05');
  await expect(other.locator('input[name=batch]')).toHaveValue('inf');
  await expect(other.locator('input[name=seed]')).toHaveCount(0);
});

test('the share link has a QR code, and on localhost says how to let other devices join', async ({ page }) => {
  await page.goto(`/#room=forms-qr-${uid()}&backend=cpu`);
  await expect(page.getByTestId('share-localhost')).toContainText('npm start -- --host');
  await expect(page.getByTestId('share-qr')).toHaveCount(0);
  await page.getByTestId('share-qr-toggle').click();
  await expect(page.getByTestId('share-qr-toggle')).toHaveAttribute('aria-pressed', 'true');
  const qr = page.getByTestId('share-qr');
  await expect(qr).toBeVisible();
  expect(await qr.evaluate((el) => el.tagName.toLowerCase())).toBe('svg');
  expect(await qr.locator('rect, path').count()).toBeGreaterThan(50);
  const box = (await qr.boundingBox())!;
  expect(box.width).toBeGreaterThan(120);
  // The drawn modules are exactly the QR code of the link.
  const link = await page.getByTestId('share-link').inputValue();
  const want = encode(link, { ecc: 'M', border: 4 }).data.map((row) => row.map((on) => (on ? '#' : '.')).join(''));
  const drawn = await qr.evaluate((svg) => {
    const size = Number(svg.getAttribute('viewBox')!.split(' ')[2]);
    const grid = Array.from({ length: size }, () => Array<string>(size).fill('.'));
    for (const r of svg.querySelectorAll('rect[fill="#000"]')) {
      const [x, y, w] = ['x', 'y', 'width'].map((a) => Number(r.getAttribute(a)));
      for (let i = 0; i < w; i++) grid[y][x + i] = '#';
    }
    return grid.map((row) => row.join(''));
  });
  expect(drawn).toEqual(want);
  await page.getByTestId('share-qr-toggle').click();
  await expect(page.getByTestId('share-qr')).toHaveCount(0);
});

test('field help opens on click', async ({ page }) => {
  await page.goto(`/#room=forms-help-${uid()}&backend=cpu`);
  const button = page.getByTestId('help-partition');
  await expect(page.getByTestId('help-text-partition')).toHaveCount(0);
  await button.click();
  await expect(page.getByTestId('help-text-partition')).toContainText('dirichlet:<alpha>');
  await expect(button).toHaveAttribute('aria-expanded', 'true');
  await button.click();
  await expect(page.getByTestId('help-text-partition')).toHaveCount(0);
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

  test('field help opens by tap', async ({ page }) => {
    await page.goto(`/#room=forms-tap-${uid()}&backend=cpu`);
    await page.getByTestId('help-nodes').tap();
    await expect(page.getByTestId('help-text-nodes')).toBeVisible();
    await expect(page.getByTestId('help-text-nodes')).toContainText('How many learning nodes');
    await page.getByTestId('help-nodes').tap();
    await expect(page.getByTestId('help-text-nodes')).toHaveCount(0);
  });

  test('the live page with its setup panel does not scroll sideways at 390 px', async ({ page }) => {
    await page.goto(`/#room=forms-narrow-${uid()}&algo=gossip&backend=cpu`);
    await expect(page.getByTestId('first-visit')).toBeVisible();
    await expect(page.getByTestId('share-link')).toBeVisible();
    const width = () => page.evaluate(() => document.documentElement.scrollWidth);
    expect(await width()).toBeLessThanOrEqual(390);
    // With help, a field error, the QR code and the first-visit panel all open.
    await page.getByTestId('help-partition').tap();
    await page.locator('input[name=lr]').fill('not a number at all, really not');
    await expect(page.getByTestId('error-lr')).toBeVisible();
    await page.getByTestId('share-qr-toggle').tap();
    await expect(page.getByTestId('share-qr')).toBeVisible();
    expect(await width()).toBeLessThanOrEqual(390);
  });

  test('a bad link at 390 px: banner and marked field fit the width', async ({ page }) => {
    await page.goto(`/#room=forms-narrow-bad-${uid()}&backend=cpu&nodes=abc&partition=dirichlet:0`);
    await expect(page.getByTestId('error-partition')).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  });
});

test('the first-visit panel shows once, and About brings it back', async ({ page }) => {
  await page.goto(`/#room=forms-about-${uid()}&backend=cpu`);
  const panel = page.getByTestId('first-visit');
  await expect(panel).toBeVisible();
  await expect(panel).toContainText('learning node');
  await expect(panel).toContainText('Start');
  await page.getByTestId('first-visit-close').click();
  await expect(panel).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('share-link')).toBeVisible();
  await expect(panel).toHaveCount(0);
  await page.getByTestId('about').click();
  await expect(panel).toBeVisible();
  await expect(page.getByTestId('about')).toHaveAttribute('aria-expanded', 'true');
  await page.getByTestId('about').click();
  await expect(panel).toHaveCount(0);
});
