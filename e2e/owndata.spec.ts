import { expect, test, type Browser, type Page, type WebSocket } from '@playwright/test';
import { closeAll, snapshot, uid, type Tab } from './helpers.ts';
import { recordSent, scanSent, type ScanResult } from './leakScan.ts';

/**
 * Students' own data: digits drawn on the pad (MNIST) and points clicked on the plane (blobs)
 * become a tab's shard, the run trains on them, and no frame the tab sends (data channels,
 * signaling) carries them.
 */

interface RecordingTab extends Tab {
  /** Text frames the page sent on its WebSockets, as Playwright saw them (independent of the page's own hook). */
  wsSent: string[];
}

async function openRecordingTab(browser: Browser, hash: string): Promise<RecordingTab> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  await context.addInitScript(recordSent);
  const page = await context.newPage();
  const errors: string[] = [];
  const wsSent: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('websocket', (ws: WebSocket) => ws.on('framesent', (f) => wsSent.push(typeof f.payload === 'string' ? f.payload : f.payload.toString('latin1'))));
  await page.goto(`/#${hash}`);
  await expect.poll(async () => (await snapshot(page)).nodeId, { timeout: 30_000 }).not.toBeNull();
  return { context, page, errors, wsSent };
}

/** The tab's own samples, as it holds them (rows of features). */
function ownRows(page: Page, features: number): Promise<number[][]> {
  return page.evaluate((f) => {
    const own = window.murmuration.node.ownData();
    if (!own) return [];
    return Array.from({ length: own.data.n }, (_, i) => Array.from(own.data.x.subarray(i * f, (i + 1) * f)));
  }, features);
}

/** Scans what the page sent (its hook) and what Playwright saw on its WebSockets. */
async function scan(tab: RecordingTab, rows: number[][], window: number): Promise<ScanResult> {
  const r = await tab.page.evaluate(scanSent, { rows, window });
  for (const [i, frame] of tab.wsSent.entries()) {
    const n = r.textNeedles.find((t) => frame.includes(t));
    if (n) r.hits.push(`websocket frame ${i} (Playwright): "${n}"`);
  }
  return r;
}

/** Draws a stroke through `points` (fractions of the canvas) with the mouse. */
/** Mouse events land at viewport coordinates: scroll the element into view first, as a student would. */
async function onScreenBox(page: Page, testId: string): Promise<{ x: number; y: number; width: number; height: number }> {
  await page.getByTestId(testId).scrollIntoViewIfNeeded();
  return (await page.getByTestId(testId).boundingBox())!;
}

async function stroke(page: Page, testId: string, points: [number, number][]): Promise<void> {
  const box = await onScreenBox(page, testId);
  const at = ([fx, fy]: [number, number]) => [box.x + fx * box.width, box.y + fy * box.height] as const;
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 4 });
  await page.mouse.up();
}

const ellipse = (cx: number, cy: number, rx: number, ry: number, n = 24): [number, number][] =>
  Array.from({ length: n + 1 }, (_, i) => [cx + rx * Math.cos((2 * Math.PI * i) / n), cy + ry * Math.sin((2 * Math.PI * i) / n)]);

const DIGITS: { label: number; strokes: [number, number][][] }[] = [
  { label: 1, strokes: [[[0.45, 0.22], [0.55, 0.12], [0.55, 0.88]]] },
  { label: 7, strokes: [[[0.22, 0.18], [0.78, 0.18], [0.42, 0.88]]] },
  { label: 0, strokes: [ellipse(0.5, 0.5, 0.24, 0.34)] },
];

test.describe("students' own data", () => {
  test('a student draws three digits, the tab trains on them alone, and no frame it sends contains them', async ({ browser }) => {
    const hash = `room=owndigits-${uid()}&algo=fedavg&dataset=mnist&model=2nn&nodes=2&rounds=3&steps=2&batch=10&evalSize=100&backend=cpu`;
    const tabs: RecordingTab[] = [];
    try {
      tabs.push(await openRecordingTab(browser, hash), await openRecordingTab(browser, hash));
      const [student, other] = tabs;
      const page = student.page;
      await expect(page.getByTestId('own-privacy')).toContainText('never leave this tab');

      for (const d of DIGITS) {
        for (const s of d.strokes) await stroke(page, 'digit-canvas', s);
        await page.getByTestId(`digit-label-${d.label}`).click();
        await page.getByTestId('digit-add').click();
      }
      await page.getByRole('radio', { name: 'mine only' }).check();
      await expect(page.getByTestId('own-status')).toHaveAttribute('data-count', '3');
      await expect(page.getByTestId('own-digits').locator('button')).toHaveCount(3);
      const rows = await ownRows(page, 784);
      expect(rows).toHaveLength(3);
      // Preprocessed like MNIST rows: values in [0, 1], real ink, and real grey levels from the resampling.
      for (const r of rows) {
        expect(Math.min(...r)).toBeGreaterThanOrEqual(0);
        expect(Math.max(...r)).toBeLessThanOrEqual(1);
        expect(r.filter((v) => v > 0.5).length).toBeGreaterThan(20);
        expect(r.filter((v) => v > 0 && v < 1).length).toBeGreaterThan(10);
      }

      await page.evaluate(() => window.murmuration.start());
      for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 150_000 }).toBe('done');

      const s = await snapshot(page);
      expect(s.ownData).toMatchObject({ samples: 3, mode: 'only', inRun: 3, pending: false });
      // The engine trained on the three digits alone: the shard is them, and it did train.
      expect(s.shardSize).toBe(3);
      expect(s.labelHistogram).toEqual([1, 1, 0, 0, 0, 0, 0, 1, 0, 0]);
      expect(s.trainedSamples).toBeGreaterThan(0);
      expect(s.rejectedFrames).toBe(0);
      expect((await snapshot(other.page)).rejectedFrames).toBe(0);

      const scans = await Promise.all(tabs.map((t) => scan(t, rows, 4)));
      for (const [i, r] of scans.entries()) {
        console.log(`[owndata] tab ${i}: ${r.binaryFrames} binary frames (${(r.binaryBytes / 1e6).toFixed(2)} MB), ${r.textFrames} text frames, ${r.binaryNeedles} float32 needles, ${r.textNeedles.length} text needles; hits: ${r.hits.length}`);
        expect(r.hits).toEqual([]);
      }
      // The hook saw the run's traffic: the student's tab sent models (2NN: 199,210 floats) and signaling.
      expect(scans[0].binaryBytes).toBeGreaterThan(199_210);
      expect(scans[0].textFrames).toBeGreaterThan(3);

      // Control: the scan does find the digits when they are sent, as bytes on a data channel and as JSON to the server.
      await page.evaluate(
        ({ row, to }) => {
          window.murmuration.sendRaw(to, new Uint8Array(Float32Array.from(row).buffer));
          (window.murmuration.node as unknown as { signaling: { send(m: unknown): void } }).signaling.send({ type: 'metrics', data: { round: 0, leak: Array.from(Float32Array.from(row)) } });
        },
        { row: rows[2], to: (await snapshot(other.page)).nodeId! },
      );
      const control = await scan(student, rows, 4);
      expect(control.hits.some((h) => h.startsWith('binary frame'))).toBe(true);
      expect(control.hits.some((h) => h.startsWith('text frame'))).toBe(true);
      expect(control.hits.some((h) => h.startsWith('websocket frame'))).toBe(true);

      // A digit added after the run is kept for the next start, and the tab says so.
      await stroke(page, 'digit-canvas', [[0.5, 0.15], [0.5, 0.85]]);
      await page.getByTestId('digit-label-1').click();
      await page.getByTestId('digit-add').click();
      expect((await snapshot(page)).ownData).toMatchObject({ samples: 4, inRun: 3, pending: true });
      await expect(page.getByTestId('own-status')).toContainText('used from the next start');
      for (const t of tabs) expect(t.errors).toEqual([]);
    } finally {
      await closeAll(tabs);
    }
  });

  test("points clicked on the plane are added to a member's shard, its updates are accepted, the boundary shows them, they are never sent, and later ones wait for the next start", async ({ browser }) => {
    // iid: both shards have 200 rows, so the member's 212 exceed the partition's largest shard.
    const hash = `room=ownpoints-${uid()}&algo=fedavg&dataset=blobs&model=mlp&partition=iid&samples=400&nodes=2&rounds=6&fraction=1&backend=cpu`;
    const tabs: RecordingTab[] = [];
    try {
      tabs.push(await openRecordingTab(browser, hash), await openRecordingTab(browser, hash));
      const [owner, member] = tabs;
      const page = member.page;
      await expect(page.getByTestId('own-privacy')).toContainText('never leave this tab');
      for (let i = 0; i < 12; i++) {
        await page.getByTestId(`class-pick-${i % 3}`).click();
        const box = await onScreenBox(page, 'points-plane');
        await page.mouse.click(box.x + box.width * (0.137 + 0.061 * i), box.y + box.height * (0.71 - 0.043 * i));
      }
      await expect(page.getByTestId('own-status')).toHaveAttribute('data-count', '12');
      await expect(page.getByTestId('own-status')).toHaveAttribute('data-mode', 'add');
      const rows = await ownRows(page, 2);
      expect(rows).toHaveLength(12);

      await owner.page.evaluate(() => window.murmuration.start());
      for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 120_000 }).toBe('done');
      const m = await snapshot(page);
      expect(m.ownData).toMatchObject({ samples: 12, mode: 'add', inRun: 12 });
      expect(m.shardSize).toBe(212);
      // The coordinator took every update of the member with 212 samples: nothing refused, every round aggregated.
      const o = await snapshot(owner.page);
      expect(o.coordinator).toBe(o.nodeId);
      expect(o.rejectedFrames).toBe(0);
      expect(o.round).toBe(6);
      expect(m.rejectedFrames).toBe(0);
      // This tab's decision boundary shows the 12 points placed by hand.
      await expect(page.getByTestId('live-boundary').locator('canvas')).toHaveAttribute('data-own-points', '12');

      const scans = await Promise.all(tabs.map((t) => scan(t, rows, 2)));
      for (const [i, r] of scans.entries()) {
        console.log(`[ownpoints] tab ${i}: ${r.binaryFrames} binary frames (${(r.binaryBytes / 1e3).toFixed(0)} kB), ${r.textFrames} text frames, ${r.binaryNeedles} float32 needles, ${r.textNeedles.length} text needles; hits: ${r.hits.length}`);
        expect(r.hits).toEqual([]);
      }
      expect(scans[1].binaryFrames).toBeGreaterThan(0);

      // A point placed after the run waits for the next start: the owner runs the room again.
      const box = await onScreenBox(page, 'points-plane');
      await page.mouse.click(box.x + box.width * 0.83, box.y + box.height * 0.21);
      expect((await snapshot(page)).ownData).toMatchObject({ samples: 13, inRun: 12, pending: true });
      await owner.page.evaluate(() => window.murmuration.reset());
      await expect.poll(async () => (await snapshot(page)).started, { timeout: 30_000 }).toBe(false);
      await owner.page.evaluate(() => window.murmuration.start());
      for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 120_000 }).toBe('done');
      const again = await snapshot(page);
      expect(again.ownData).toMatchObject({ samples: 13, inRun: 13, pending: false });
      expect(again.shardSize).toBe(213);
      expect((await snapshot(owner.page)).rejectedFrames).toBe(0);
      const rows13 = await ownRows(page, 2);
      expect(rows13).toHaveLength(13);
      for (const t of tabs) expect((await scan(t, rows13, 2)).hits).toEqual([]);
      for (const t of tabs) expect(t.errors).toEqual([]);
    } finally {
      await closeAll(tabs);
    }
  });
});
