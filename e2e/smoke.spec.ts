import { expect, test } from '@playwright/test';

const snapshot = (page: import('@playwright/test').Page) => page.evaluate(() => window.murmuration.snapshot());

test('the app loads, picks a tfjs backend automatically, shows it and trains one local epoch', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/#room=smoke-auto&algo=fedavg&dataset=blobs&samples=400&model=mlp&nodes=1&rounds=1&epochs=1&batch=20');
  await expect(page.getByTestId('backend')).toHaveText(/backend: (webgpu|webgl|cpu)/);
  await page.getByTestId('start').click();
  await expect.poll(async () => (await snapshot(page)).accuracy, { timeout: 120_000 }).not.toBeNull();
  const snap = await snapshot(page);
  expect(snap.state).toBe('done');
  expect(snap.round).toBe(1);
  expect(snap.trainedSamples).toBe(400);
  expect(snap.accuracy).toBeGreaterThan(0.5);
  // `auto` chooses by speed for the model at hand: the 371-parameter mlp goes to the CPU unmeasured,
  // though WebGPU (SwiftShader, with --enable-unsafe-webgpu) starts first here.
  expect(snap.backend).toBe('cpu');
  expect(snap.backendReason).toBe('auto → cpu: small model (371 parameters < 10,000), CPU is fastest');
  await expect(page.getByTestId('backend-line')).toContainText('small model (371 parameters');
  expect(snap.inWorker).toBe(true);
  expect(errors).toEqual([]);
});

for (const backend of ['webgl', 'cpu'] as const) {
  test(`backend=${backend} in the URL overrides the automatic choice and trains`, async ({ page }) => {
    await page.goto(`/#room=smoke-${backend}&dataset=blobs&samples=600&model=mlp&nodes=1&rounds=2&epochs=1&batch=10&backend=${backend}`);
    await expect(page.getByTestId('backend')).toHaveText(`backend: ${backend}`);
    await page.getByTestId('start').click();
    await expect.poll(async () => (await snapshot(page)).history.length, { timeout: 120_000 }).toBe(2);
    const snap = await snapshot(page);
    expect(snap.backend).toBe(backend);
    expect(snap.backendReason).toBe(`backend=${backend} set in the link`);
    expect(snap.accuracy).toBeGreaterThan(0.8);
    // 2-D data: the tab draws its model's decision boundary over its own points.
    await expect(page.getByTestId('live-boundary')).toHaveAttribute('data-panels', '1');
  });
}
