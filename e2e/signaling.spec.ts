import { expect, test } from '@playwright/test';
import { closeAll, openTabs, snapshot } from './helpers.ts';

test('the signaling server survives malformed JSON, oversized messages and a flood of joins, and keeps rooms isolated', async ({ browser, page }) => {
  const tabs = await openTabs(browser, 'room=iso-a&nodes=2&dataset=blobs&samples=400', 2);
  try {
    await page.goto('/harness/transport.html');
    const report = await page.evaluate(async () => {
      const url = `ws://${location.host}/signal`;
      const open = () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.onopen = () => resolve(ws);
          ws.onerror = () => reject(new Error('ws failed'));
        });
      const nextMessage = (ws: WebSocket) => new Promise<{ type: string; code?: string; id?: string; peers?: string[] }>((r) => ws.addEventListener('message', (e) => r(JSON.parse(String(e.data))), { once: true }));
      const errors: string[] = [];
      const bad = await open();
      for (const text of ['{not json', '[]', '{"type":"nope"}', '{"type":"join","room":"../etc"}']) {
        const reply = nextMessage(bad);
        bad.send(text);
        errors.push((await reply).code ?? 'none');
      }
      const big = nextMessage(bad);
      bad.send(JSON.stringify({ type: 'metrics', data: { x: 'y'.repeat(100_000) } }));
      errors.push((await big).code ?? 'none');
      // A bounded flood: 80 sockets join one room; the room's cap turns the rest away.
      const flood = await Promise.all(Array.from({ length: 80 }, () => open()));
      const answers = await Promise.all(
        flood.map((ws) => {
          const reply = nextMessage(ws);
          ws.send(JSON.stringify({ type: 'join', room: 'flood' }));
          return reply;
        }),
      );
      flood.forEach((ws) => ws.close());
      // A peer in another room cannot reach room iso-a's members.
      const spy = await open();
      const welcome = nextMessage(spy);
      spy.send(JSON.stringify({ type: 'join', room: 'iso-b' }));
      const w = await welcome;
      return { errors, welcomes: answers.filter((a) => a.type === 'welcome').length, refused: answers.filter((a) => a.code === 'room-full').length, spyPeers: w.peers, spyId: w.id };
    });
    expect(report.errors).toEqual(['bad-json', 'bad-message', 'unknown-type', 'bad-message', 'too-big']);
    expect(report.welcomes).toBe(64);
    expect(report.refused).toBe(16);
    expect(report.spyPeers).toEqual([]);
    const ids = await Promise.all(tabs.map(async (t) => (await snapshot(t.page)).nodeId!));
    const crossRoom = await page.evaluate(
      async ({ to }) => {
        const ws = new WebSocket(`ws://${location.host}/signal`);
        await new Promise((r) => (ws.onopen = r));
        const msgs: { type: string; code?: string }[] = [];
        ws.onmessage = (e) => msgs.push(JSON.parse(String(e.data)));
        ws.send(JSON.stringify({ type: 'join', room: 'iso-c' }));
        await new Promise((r) => setTimeout(r, 300));
        ws.send(JSON.stringify({ type: 'signal', to, data: { type: 'offer', sdp: 'x' } }));
        await new Promise((r) => setTimeout(r, 500));
        return msgs.map((m) => m.code ?? m.type);
      },
      { to: ids[0] },
    );
    expect(crossRoom).toContain('unknown-peer');
    // The real room still works: both tabs see each other and can run a round.
    await tabs[0].page.evaluate(() => window.murmuration.start());
    await expect.poll(async () => (await snapshot(tabs[1].page)).trainedSamples, { timeout: 60_000 }).toBeGreaterThan(0);
    expect((await snapshot(tabs[0].page)).roster.sort()).toEqual(ids.sort());
  } finally {
    await closeAll(tabs);
  }
});
