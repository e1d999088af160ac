import { expect, test } from '@playwright/test';
import { closeAll, openTabs, snapshot } from './helpers.ts';

const room = (name: string) => `${name}-${Date.now().toString(36)}`;

test('a tab that ticks "this tab attacks" is reported to the room and marked in its topology', async ({ browser }) => {
  const tabs = await openTabs(browser, `room=${room('byz')}&algo=fedavg&nodes=2&dataset=blobs&partition=iid&samples=400&rounds=3`, 2);
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
    await b.page.getByTestId('attacker').uncheck();
    await expect.poll(async () => (await snapshot(a.page)).swarm[attackerId]?.attacker, { timeout: 30_000 }).toBe(false);
    await expect(a.page.getByTestId('attacker-mark')).toHaveCount(0);
    for (const t of tabs) expect(t.errors).toEqual([]);
  } finally {
    await closeAll(tabs);
  }
});
