import { expect, test } from '@playwright/test';
import { closeAll, openTabs, snapshot } from './helpers.ts';

const room = (name: string) => `${name}-${Date.now().toString(36)}`;

test('a tab that ticks "this tab attacks" is reported to the room, marked in its topology and on the projector, and its poisoned updates pass validation', async ({ browser }) => {
  const name = room('byz');
  const tabs = await openTabs(browser, `room=${name}&algo=fedavg&nodes=2&dataset=blobs&partition=iid&samples=400&rounds=3`, 2);
  const projector = await browser.newContext();
  try {
    const [a, b] = tabs;
    await expect.poll(async () => (await snapshot(b.page)).nodeId, { timeout: 30_000 }).not.toBeNull();
    const attackerId = (await snapshot(b.page)).nodeId!;
    await expect(a.page.getByTestId('attacker-mark')).toHaveCount(0);
    await b.page.getByTestId('attacker').check();
    expect((await snapshot(b.page)).attacker).toBe(true);
    await expect.poll(async () => (await snapshot(a.page)).swarm[attackerId]?.attacker, { timeout: 30_000 }).toBe(true);
    await expect(a.page.getByTestId('attacker-mark')).toHaveCount(1);
    await expect(b.page.getByTestId('attacker-mark')).toHaveCount(1);
    // The projector marks it too (from the metrics the server relays).
    const screen = await projector.newPage();
    await screen.goto(`/?view=projector#room=${name}&dataset=blobs`);
    const attackerOnScreen = () => screen.evaluate((id) => (window as unknown as { murmuration: { room: () => { nodes: { id: string; attacker: boolean }[] } } }).murmuration.room().nodes.find((n) => n.id === id)?.attacker ?? null, attackerId);
    await expect.poll(attackerOnScreen, { timeout: 30_000 }).toBe(true);
    // A run with the attacker: it follows the protocol, so nothing it sends is refused, and the run ends.
    await a.page.getByTestId('start').click();
    for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 60_000 }).toBe('done');
    const [sa, sb] = await Promise.all(tabs.map((t) => snapshot(t.page)));
    expect(sb.trainings).toBeGreaterThan(0);
    expect(sa.rejectedFrames).toBe(0);
    expect(sb.rejectedFrames).toBe(0);
    await b.page.getByTestId('attacker').uncheck();
    await expect.poll(async () => (await snapshot(a.page)).swarm[attackerId]?.attacker, { timeout: 30_000 }).toBe(false);
    await expect(a.page.getByTestId('attacker-mark')).toHaveCount(0);
    await expect.poll(attackerOnScreen, { timeout: 30_000 }).toBe(false);
    for (const t of tabs) expect(t.errors).toEqual([]);
  } finally {
    await projector.close();
    await closeAll(tabs);
  }
});
