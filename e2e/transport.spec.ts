import { expect, test } from '@playwright/test';

test('the WebRTC transport passes the same conformance suite as the in-memory network', async ({ page }) => {
  await page.goto('/harness/transport.html');
  const results = await page.evaluate(() => window.harness.runConformance());
  expect(results.length).toBeGreaterThanOrEqual(6);
  for (const r of results) expect(r, r.name).toMatchObject({ ok: true });
});

test('the WebRTC transport keeps under its connection cap by closing idle links, and redials on demand', async ({ page }) => {
  await page.goto('/harness/transport.html');
  const r = await page.evaluate(() => window.harness.runCapCheck());
  expect(r.delivered).toBe(4);
  expect(r.openAtEnd).toBeLessThanOrEqual(2);
  expect(r.evicted).toBeGreaterThanOrEqual(1);
  expect(r.redialOk).toBe(true);
});
