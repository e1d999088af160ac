import { expect, test, type Page } from '@playwright/test';
import jsQR from 'jsqr';
import type { RoomView } from '../src/live/spectator/roomWatcher.ts';
import { closeAll, openTab, openTabs, snapshot, uid, type Tab } from './helpers.ts';

/*
 * The projector view: a spectator of the room that draws the real traffic the tabs report, with
 * the owner's console. TABS tabs of one room on the newcomer's defaults (blobs pinned).
 */

// 4 in `npm test` (CI has 15 minutes for everything); `npm run test:class` (PROJECTOR_TABS=16) is the class-sized run in BENCHMARKS.md.
const TABS = Number(process.env.PROJECTOR_TABS ?? 4);

function room(page: Page): Promise<RoomView> {
  return page.evaluate(() => (window as unknown as { murmuration: { room: () => RoomView } }).murmuration.room());
}

/** The QR code as the projector draws it, decoded by jsQR from the rendered pixels. */
async function decodeQr(page: Page): Promise<string | null> {
  const img = await page.evaluate(async () => {
    const svg = document.querySelector('[data-testid="projector-qr"]') as SVGSVGElement;
    const size = 400;
    const xml = new XMLSerializer().serializeToString(svg);
    const image = new Image();
    image.src = `data:image/svg+xml;base64,${btoa(xml)}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = size;
    canvas.height = size;
    const g = canvas.getContext('2d')!;
    g.fillStyle = '#fff';
    g.fillRect(0, 0, size, size);
    g.drawImage(image, 0, 0, size, size);
    return Array.from(g.getImageData(0, 0, size, size).data);
  });
  return jsQR(Uint8ClampedArray.from(img), 400, 400)?.data ?? null;
}

test.describe('projector view', () => {
  test.setTimeout(420_000);

  test(`${TABS} tabs and a projector: the picture is the real traffic, the QR code joins, the owner pauses and resumes from the console`, async ({ browser }) => {
    const hash = `room=projector-${uid()}&dataset=blobs&nodes=${TABS}&rounds=8`;
    const owner = await openTab(browser, hash);
    const ownerKey = (await snapshot(owner.page)).ownerKey!;
    expect(ownerKey).toBeTruthy();
    const tabs: Tab[] = [owner, ...(await openTabs(browser, hash, TABS - 1))];
    const projector = await browser.newContext();
    const page = await projector.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`/?view=projector&owner=${ownerKey}#${hash}`);
      // A spectator: it sees every tab and is in nobody's roster.
      await expect.poll(async () => (await room(page)).nodes.length, { timeout: 30_000 }).toBe(TABS);
      expect((await room(page)).owns).toBe(true);
      for (const t of tabs) expect((await snapshot(t.page)).roster).toHaveLength(TABS);
      expect(new URL(page.url()).searchParams.get('owner')).toBeNull();

      const link = await decodeQr(page);
      expect(link).not.toBeNull();
      expect(new URL(link!).origin).toBe(new URL(page.url()).origin);
      await expect(page.getByTestId('projector-link')).toHaveText(link!);

      // A member cannot start or reset the room, even talking to the server directly: refused, by code.
      const refusals = await tabs[1].page.evaluate(async (roomName) => {
        const ws = new WebSocket(`ws://${location.host}/signal`);
        const codes: string[] = [];
        await new Promise((r) => (ws.onopen = r));
        ws.onmessage = (e) => {
          const m = JSON.parse(String(e.data)) as { type: string; code?: string };
          if (m.type === 'error') codes.push(m.code!);
        };
        ws.send(JSON.stringify({ type: 'join', room: roomName }));
        await new Promise((r) => setTimeout(r, 300));
        ws.send(JSON.stringify({ type: 'start' }));
        ws.send(JSON.stringify({ type: 'reset' }));
        await new Promise((r) => setTimeout(r, 500));
        ws.close();
        return codes;
      }, (await snapshot(owner.page)).room);
      expect(refusals).toEqual(['not-owner', 'not-owner']);
      expect((await snapshot(owner.page)).started).toBe(false);

      await page.getByTestId('console-start').click();
      await expect.poll(async () => Math.max(0, ...(await room(page)).nodes.map((n) => n.round)), { timeout: 120_000 }).toBeGreaterThanOrEqual(3);

      await page.getByTestId('console-pause').click();
      for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).paused, { timeout: 10_000 }).toBe(true);
      await expect(page.getByTestId('caption')).toContainText('Paused by the teacher');
      // A training already under way when the pause came may still finish; after that, nothing moves.
      await page.waitForTimeout(3000);
      const stillAfter = await Promise.all(tabs.map(async (t) => (await snapshot(t.page)).trainedSamples));
      await page.waitForTimeout(2000);
      expect(await Promise.all(tabs.map(async (t) => (await snapshot(t.page)).trainedSamples))).toEqual(stillAfter);
      await page.getByTestId('console-pause').click();
      for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).paused, { timeout: 10_000 }).toBe(false);

      for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 300_000 }).toBe('done');
      const view = await room(page);
      // The picture is built from the tabs' own reports: every tab sent models to someone.
      const senders = new Set(view.edges.map((e) => e.from));
      for (const n of view.nodes) expect(senders.has(n.id)).toBe(true);
      for (const e of view.edges) expect(view.nodes.map((n) => n.id)).toContain(e.to);
      const snaps = await Promise.all(tabs.map((t) => snapshot(t.page)));
      for (const s of snaps) expect(s.accuracy!).toBeGreaterThanOrEqual(0.85);
      expect(view.swarm.at(-1)!.mean).toBeGreaterThanOrEqual(0.85);
      const heaps = await Promise.all(tabs.map((t) => t.page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0)));
      console.log(`tabs: JS heap per tab median ${(heaps.sort((x, y) => x - y)[Math.floor(heaps.length / 2)] / 2 ** 20).toFixed(1)} MB (max ${(Math.max(...heaps) / 2 ** 20).toFixed(1)} MB); backends ${[...new Set(snaps.map((x) => x.backend))].join(', ')}; ${snaps[0].config.rounds} rounds`);
      const frames = await page.evaluate(() => (window as unknown as { murmuration: { frames: () => number[] } }).murmuration.frames());
      const sorted = [...frames].sort((a, b) => a - b);
      console.log(`${TABS} tabs: ${view.edges.length} directed pairs; projector frame time median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms, p95 ${sorted[Math.floor(sorted.length * 0.95)]?.toFixed(1)} ms`);
      expect(errors).toEqual([]);
      for (const t of tabs) expect(t.errors).toEqual([]);
    } finally {
      await projector.close();
      await closeAll(tabs);
    }
  });

  test('race mode follows two rooms side by side; the owner removes a tab, which does not come back', async ({ browser }) => {
    const id = uid();
    const hashA = `room=race-a-${id}&dataset=blobs&nodes=2&rounds=5`;
    const a = await openTabs(browser, hashA, 2);
    const b = await openTabs(browser, `room=race-b-${id}&dataset=blobs&nodes=2&rounds=5&algo=gossip&merge=vca`, 2);
    const ownerKey = (await snapshot(a[0].page)).ownerKey!;
    const projector = await browser.newContext();
    const page = await projector.newPage();
    try {
      await page.goto(`/?view=projector&race=race-b-${id}&owner=${ownerKey}#${hashA}`);
      const rooms = () => page.evaluate(() => (window as unknown as { murmuration: { rooms: () => RoomView[] } }).murmuration.rooms());
      await expect.poll(async () => (await rooms()).map((r) => r.nodes.length), { timeout: 30_000 }).toEqual([2, 2]);
      const [ra, rb] = await rooms();
      expect(ra.owns).toBe(true);
      expect(rb.owns).toBe(false); // the owner key is room A's
      await expect(page.getByTestId(`projector-race-b-${id}`).getByTestId('console')).toHaveCount(0);
      const victim = ra.nodes[1].id;
      await page.getByTestId(`console-remove-${victim}`).click();
      await expect.poll(async () => (await rooms())[0].nodes.length, { timeout: 10_000 }).toBe(1);
      await expect.poll(async () => (await snapshot(a[1].page)).notice ?? '', { timeout: 10_000 }).toContain('removed this tab');
      await page.waitForTimeout(5000); // longer than the reconnect backoff: it stays out
      expect((await rooms())[0].nodes.map((n) => n.id)).not.toContain(victim);
    } finally {
      await projector.close();
      await closeAll([...a, ...b]);
    }
  });
});

test.describe('projector at scale', () => {
  test.setTimeout(120_000);

  /*
   * Fifty members that report like tabs (state changes, metrics each round, traffic twice a
   * second) through the real server, without training: what the projector has to draw for a
   * class of fifty. Frame times and long tasks (Performance API) are printed for BENCHMARKS.md,
   * not asserted: this machine is shared and noisy.
   */
  test('50 reporting members: every node and transfer is drawn; frame times and long tasks are measured', async ({ browser, baseURL }) => {
    const { WebSocket } = await import('ws');
    const roomName = `scale-${uid()}`;
    const url = `${baseURL!.replace(/^http/, 'ws')}/signal`;
    const members: { ws: InstanceType<typeof WebSocket>; id: string }[] = [];
    for (let i = 0; i < 50; i++) {
      const ws = new WebSocket(url);
      await new Promise((r) => ws.once('open', r));
      const id = await new Promise<string>((resolve) => {
        ws.on('message', (data) => {
          const m = JSON.parse(String(data)) as { type: string; id?: string };
          if (m.type === 'welcome') resolve(m.id!);
        });
        ws.send(JSON.stringify({ type: 'join', room: roomName }));
      });
      members.push({ ws, id });
    }
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(() => {
      const w = window as unknown as { longTasks: { start: number; duration: number }[] };
      w.longTasks = [];
      new PerformanceObserver((list) => list.getEntries().forEach((e) => w.longTasks.push({ start: e.startTime, duration: e.duration }))).observe({ type: 'longtask', buffered: true });
    });
    let timer: ReturnType<typeof setInterval> | null = null;
    try {
      await page.goto(`/?view=projector#room=${roomName}&dataset=blobs`);
      await expect.poll(async () => (await room(page)).nodes.length, { timeout: 30_000 }).toBe(50);
      let tick = 0;
      timer = setInterval(() => {
        tick++;
        for (const [i, m] of members.entries()) {
          const round = Math.floor(tick / 4);
          const to = members[(i + 1 + (tick % 49)) % 50].id;
          m.ws.send(JSON.stringify({ type: 'traffic', edges: [[to, 20_000, 1]] }));
          m.ws.send(JSON.stringify({ type: 'metrics', data: { round, accuracy: Math.min(1, 0.5 + round / 100), state: tick % 2 ? 'training' : 'waiting', role: 'peer' } }));
        }
      }, 500);
      // Steady state starts now: the page has loaded and drawn all fifty; long tasks before are the load's.
      const { frames0, steadyFrom } = await page.evaluate(() => ({
        frames0: (window as unknown as { murmuration: { frames: () => number[] } }).murmuration.frames().length,
        steadyFrom: performance.now(),
      }));
      await page.waitForTimeout(15_000);
      const { frames, longTasks } = await page.evaluate(() => ({
        frames: (window as unknown as { murmuration: { frames: () => number[] } }).murmuration.frames(),
        longTasks: (window as unknown as { longTasks: { start: number; duration: number }[] }).longTasks,
      }));
      const loading = longTasks.filter((t) => t.start < steadyFrom).map((t) => t.duration);
      const steady = longTasks.filter((t) => t.start >= steadyFrom).map((t) => t.duration);
      const view = await room(page);
      expect(view.nodes).toHaveLength(50);
      expect(new Set(view.edges.map((e) => e.from)).size).toBe(50);
      expect(view.swarm.length).toBeGreaterThan(3);
      const sorted = frames.slice(-300).sort((a, b) => a - b);
      const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(1);
      console.log(`50 members, 15 s: ${frames.length - frames0} frames kept; frame interval median ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${q(1)} ms; long tasks while running ${steady.length} (longest ${Math.max(0, ...steady).toFixed(0)} ms), while loading ${loading.length} (longest ${Math.max(0, ...loading).toFixed(0)} ms)`);
    } finally {
      if (timer) clearInterval(timer);
      for (const m of members) m.ws.close();
      await context.close();
    }
  });
});
