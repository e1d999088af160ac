import { expect, test } from '@playwright/test';
import { closeAll, openTab, openTabs, snapshot, uid } from './helpers.ts';

/** The first hour in a classroom: end states, late arrivals, starting short, and the owner's lock. Newcomer defaults: no backend= in any link. */


test('after a run every tab shows every peer done at N/N and the swarm summary; a late tab is told the room finished', async ({ browser }) => {
  const room = `end-${uid()}`;
  const hash = `room=${room}&dataset=blobs&nodes=3&rounds=4&autostart=1`;
  const tabs = await openTabs(browser, hash, 3);
  try {
    for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).roomFinished?.summary.rounds, { timeout: 120_000 }).toBe(4);
    const ids = await Promise.all(tabs.map(async (t) => (await snapshot(t.page)).nodeId!));
    for (const t of tabs) {
      const s = await snapshot(t.page);
      expect(s.state).toBe('done');
      expect(s.round).toBe(4);
      // Peers reported their final state: nobody is left "training, round 3" in anyone's table.
      for (const id of ids.filter((id) => id !== s.nodeId)) expect(s.swarm[id]).toMatchObject({ state: 'done', round: 4 });
      await expect(t.page.getByTestId('finished')).toContainText('4/4 rounds · swarm mean');
      await expect(t.page.getByTestId('finished')).toContainText('this tab');
      await expect(t.page.getByTestId('finished')).not.toContainText('evaluated rounds');
      await expect(t.page.getByTestId('peers')).not.toContainText('training');
    }
    const summary = (await snapshot(tabs[0].page)).roomFinished!.summary;
    expect(summary.nodes).toBe(3);
    expect(summary.accuracy.mean).toBeGreaterThan(0.8);

    // A tab that opens the link afterwards: no "running, round 0" forever.
    const late = await openTab(browser, hash);
    tabs.push(late);
    await expect(late.page.getByTestId('room-finished')).toContainText('This room finished at');
    await expect(late.page.getByTestId('room-finished')).toContainText('4/4 rounds · swarm mean');
    const ls = await snapshot(late.page);
    expect(ls.started).toBe(false);
    expect(ls.trainedSamples).toBe(0);
    await late.page.getByTestId('fresh-room').click();
    // The new link reloads the page: while it loads there is no snapshot to read yet.
    await expect.poll(async () => (await snapshot(late.page).catch(() => null))?.room).toBe(`${room}-2`);
    await expect.poll(async () => (await snapshot(late.page).catch(() => null))?.isOwner).toBe(true);
    expect((await snapshot(late.page)).roomFinished).toBeNull();
  } finally {
    await closeAll(tabs);
  }
});

test('only the owner can start; a member sees the room settings and why; the owner starts short and the data is re-split', async ({ browser }) => {
  const room = `lock-${uid()}`;
  const owner = await openTab(browser, `room=${room}&dataset=blobs&partition=iid&nodes=4&rounds=3`);
  // The student's link asks for other settings: the room's win, and the tab says so.
  const student = await openTab(browser, `room=${room}&dataset=moons&nodes=4&rounds=9`);
  const tabs = [owner, student];
  try {
    await expect.poll(async () => (await snapshot(owner.page)).isOwner).toBe(true);
    const ss = await snapshot(student.page);
    expect(ss.isOwner).toBe(false);
    expect(ss.config).toMatchObject({ dataset: 'blobs', rounds: 3 });
    expect(ss.overriddenByRoom).toEqual(expect.arrayContaining(['dataset', 'rounds']));
    await expect(student.page.getByTestId('room-banner')).toContainText('set by its owner');
    await expect(student.page.getByTestId('room-overrides')).toContainText('dataset');
    await expect(owner.page.getByTestId('room-banner')).toHaveCount(0);
    // The form shows the room's settings, read-only; no Apply, no Teacher mode for a member.
    await expect(student.page.locator('select[name=dataset]')).toHaveValue('blobs');
    await expect(student.page.locator('select[name=dataset]')).toBeDisabled();
    await expect(student.page.locator('input[name=rounds]')).toHaveValue('3');
    await expect(student.page.getByTestId('apply')).toHaveCount(0);
    await expect(student.page.getByTestId('teacher-toggle')).toHaveCount(0);
    await expect(owner.page.getByTestId('apply')).toBeVisible();
    await expect(owner.page.getByTestId('teacher-toggle')).toBeVisible();
    // The student has no start button, and starting from the console is refused.
    await expect(student.page.getByTestId('waiting')).toContainText("waiting for the room's owner");
    await expect(student.page.getByTestId('start')).toHaveCount(0);
    await student.page.evaluate(() => window.murmuration.start());
    await expect(student.page.getByTestId('notice')).toContainText("Only the room's owner");
    await student.page.waitForTimeout(500);
    expect((await snapshot(owner.page)).started).toBe(false);

    // The owner starts with 2 of 4 tabs: the data is split over the two that are here.
    await expect.poll(async () => (await snapshot(owner.page)).backend).not.toBeNull();
    await expect.poll(async () => (await snapshot(student.page)).backend).not.toBeNull();
    const before = await Promise.all(tabs.map(async (t) => (await snapshot(t.page)).shardSize));
    await expect(owner.page.getByTestId('start')).toHaveText(/Start now with 2 of 4 tabs/);
    await owner.page.getByTestId('start').click();
    for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).state, { timeout: 90_000 }).toBe('done');
    const after = await Promise.all(tabs.map((t) => snapshot(t.page)));
    expect(after.map((s) => s.config.nodes)).toEqual([2, 2]);
    expect(after.map((s) => s.nodeIndex).sort()).toEqual([0, 1]);
    after.forEach((s, i) => expect(s.shardSize).toBeGreaterThan(1.5 * before[i]));
    expect(after[0].accuracy!).toBeGreaterThan(0.8);

    // Run again: the owner resets the room in place; the student cannot.
    await student.page.evaluate(() => window.murmuration.reset());
    await expect(student.page.getByTestId('notice')).toContainText("Only the room's owner");
    await owner.page.getByTestId('run-again').click();
    for (const t of tabs) {
      await expect.poll(async () => (await snapshot(t.page)).started).toBe(false);
      expect((await snapshot(t.page)).roomFinished).toBeNull();
    }
    // The second run of the same room is a run of its own in History, not merged into the first.
    await owner.page.getByTestId('start').click();
    for (const t of tabs) await expect.poll(async () => (await snapshot(t.page)).roomFinished?.summary.rounds, { timeout: 90_000 }).toBe(3);
    await expect(owner.page.getByTestId('history-row')).toHaveCount(2);
  } finally {
    await closeAll(tabs);
  }
});

test("the owner's private link gives owner rights on another device; the student link does not", async ({ browser }) => {
  const room = `key-${uid()}`;
  const owner = await openTab(browser, `room=${room}&dataset=blobs&nodes=3`);
  const tabs = [owner];
  try {
    // The room's algorithm explains itself, in its module's words.
    await owner.page.getByTestId('algorithm-note').locator('summary').click();
    await expect(owner.page.getByTestId('algorithm-note')).toContainText('What is FedAvg?');
    await expect(owner.page.getByTestId('algorithm-note')).toContainText('McMahan');
    await owner.page.getByTestId('teacher-link').locator('summary').click();
    const ownerLink = await owner.page.getByTestId('owner-link').inputValue();
    const shareLink = await owner.page.getByTestId('share-link').inputValue();
    expect(ownerLink).toContain('owner=');
    expect(shareLink).not.toContain('owner=');
    const student = await openTab(browser, new URL(shareLink).hash.slice(1));
    tabs.push(student);
    expect((await snapshot(student.page)).isOwner).toBe(false);
    // The teacher's second device (another context, no stored key) opens the private link.
    const context = await browser.newContext();
    const page = await context.newPage();
    tabs.push({ context, page, errors: [] });
    await page.goto(ownerLink.replace(/^https?:\/\/[^/]+/, ''));
    await expect.poll(async () => (await snapshot(page)).isOwner, { timeout: 30_000 }).toBe(true);
    // The key left the address bar, so copying the address cannot leak it.
    expect(page.url()).not.toContain('owner=');
  } finally {
    await closeAll(tabs);
  }
});
