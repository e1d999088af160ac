import { expect, test } from '@playwright/test';

test('the WebRTC transport passes the same conformance suite as the in-memory network', async ({ page }) => {
  await page.goto('/harness/transport.html');
  const results = await page.evaluate(() => window.harness.runConformance());
  expect(results.length).toBeGreaterThanOrEqual(6);
  for (const r of results) expect(r, r.name).toMatchObject({ ok: true });
});
