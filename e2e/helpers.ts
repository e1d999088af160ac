import { expect, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from '@playwright/test';
import type { Snapshot } from '../src/live/liveNode.ts';

export interface Tab {
  context: BrowserContext;
  page: Page;
  errors: string[];
}

/** One tab in its own browser context, joined to the room in `hash`. `options`: for a browser launched by hand (give it a baseURL). */
export async function openTab(browser: Browser, hash: string, options?: BrowserContextOptions): Promise<Tab> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`/#${hash}`);
  await expect.poll(async () => (await snapshot(page)).nodeId, { timeout: 30_000 }).not.toBeNull();
  return { context, page, errors };
}

/** Opens tabs one after another, so each gets the next shard. */
export async function openTabs(browser: Browser, hash: string, count: number, options?: BrowserContextOptions): Promise<Tab[]> {
  const tabs: Tab[] = [];
  for (let i = 0; i < count; i++) tabs.push(await openTab(browser, hash, options));
  return tabs;
}

export function snapshot(page: Page): Promise<Snapshot> {
  return page.evaluate(() => window.murmuration.snapshot() as unknown as Snapshot);
}

export async function closeAll(tabs: Tab[]): Promise<void> {
  await Promise.all(tabs.map((t) => t.context.close().catch(() => {})));
}

/** The tab whose node id is the room's coordinator. */
export async function coordinatorTab(tabs: Tab[]): Promise<Tab> {
  for (const t of tabs) {
    const s = await snapshot(t.page).catch(() => null);
    if (s && s.coordinator && s.coordinator === s.nodeId) return t;
  }
  throw new Error('no tab is the coordinator');
}

/** A short random suffix, so every test gets rooms of its own. */
export const uid = (): string => Math.random().toString(36).slice(2, 8);

/** Collects the page's uncaught errors; a test ends by expecting none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}
