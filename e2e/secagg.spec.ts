import { expect, test } from '@playwright/test';
import { closeAll, coordinatorTab, openTabs, snapshot, type Tab } from './helpers.ts';

/**
 * FedAvg with secure aggregation in four tabs: WebCrypto ECDH in every tab, the coordinator
 * relaying keys, sealed shares and masked updates. The test hook is each tab's
 * `snapshot().report.audit` (ProtocolReport.audit): every client lists the fingerprint of each
 * plain contribution it masked, the coordinator the fingerprint of each masked contribution it
 * received and of each sum it unmasked. The fingerprint is linear mod 2^32, so the sum's must be
 * the sum of the survivors' plain ones, and a plain contribution reaching the coordinator would
 * show up among the received ones.
 */

const base = 'algo=fedavg&secagg=1&dataset=blobs&partition=iid&samples=1200&nodes=4&autostart=1';
const room = (name: string) => `${name}-${Date.now().toString(36)}`;

interface Audit {
  phase: string;
  attempt: { round: number; attempt: number } | null;
  plain: { round: number; attempt: number; print: number }[];
  seen?: { round: number; attempt: number; from: string; print: number }[];
  sums?: { round: number; attempt: number; survivors: string[]; dropped: string[]; print: number }[];
}

async function audit(t: Tab): Promise<{ id: string; audit: Audit; values: Record<string, number> }> {
  const s = await snapshot(t.page);
  return { id: s.nodeId!, audit: s.report!.audit as unknown as Audit, values: s.report!.values };
}

async function coordinatorOf(tabs: Tab[]): Promise<Tab> {
  await expect.poll(async () => (await snapshot(tabs[0].page)).coordinator, { timeout: 30_000 }).not.toBeNull();
  return coordinatorTab(tabs);
}

/** The hook's two checks: no received contribution is a plain one, and every unmasked sum is the survivors' plain sum. */
function checkAudits(all: { id: string; audit: Audit }[], coordinatorId: string): number {
  const server = all.find((a) => a.id === coordinatorId)!.audit;
  const plains = all.flatMap((a) => a.audit.plain.map((p) => ({ ...p, from: a.id })));
  const plainPrints = new Set(plains.map((p) => p.print));
  expect(server.seen!.length).toBeGreaterThan(0);
  for (const s of server.seen!) expect(plainPrints.has(s.print), `the coordinator received ${s.from}'s plain contribution in round ${s.round}`).toBe(false);
  for (const sum of server.sums!) {
    const parts = plains.filter((p) => p.round === sum.round && p.attempt === sum.attempt && sum.survivors.includes(p.from));
    // A tab closed mid-run took its audit with it: check the sums whose survivors are all still here.
    if (parts.length < sum.survivors.length) continue;
    expect(parts.reduce((acc, p) => (acc + p.print) >>> 0, 0), `round ${sum.round}'s sum`).toBe(sum.print);
  }
  return server.sums!.length;
}

test.describe('FedAvg with secure aggregation in four tabs', () => {
  test('reaches 85% on blobs, and the coordinator never holds a plain update', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=${room('sa4')}&rounds=5&${base}`, 4);
    try {
      const server = await coordinatorOf(tabs);
      await expect.poll(async () => (await snapshot(server.page)).state, { timeout: 120_000 }).toBe('done');
      const end = await snapshot(server.page);
      expect(end.round).toBe(5);
      expect(end.accuracy).toBeGreaterThanOrEqual(0.85);
      const all = await Promise.all(tabs.map(audit));
      const coordinator = all.find((a) => a.id === end.nodeId)!;
      expect(coordinator.values.secaggRounds).toBe(5);
      // Every round's sum had all four tabs, and the coordinator saw four masked contributions a round.
      expect(coordinator.audit.sums!.map((s) => s.survivors.length)).toEqual([4, 4, 4, 4, 4]);
      expect(coordinator.audit.seen!.length).toBe(20);
      expect(checkAudits(all, end.nodeId!)).toBe(5);
      // The status panel says what the masking costs and what the coordinator sees.
      await expect(server.page.getByTestId('run-facts-status')).toContainText(/secure aggregation cost: 1\.3 kB of keys and shares per client and round with 4 clients.*the coordinator sees only the sum/);
      for (const t of tabs) {
        const s = await snapshot(t.page);
        expect(s.rejectedFrames).toBe(0);
        expect(t.errors).toEqual([]);
      }
    } finally {
      await closeAll(tabs);
    }
  });

  test('a tab closed after dealing its shares: its masks are removed from the survivors’ shares and the run goes on', async ({ browser }) => {
    // Ten epochs a round, so a tab spends a second or more training with its shares dealt.
    const tabs = await openTabs(browser, `room=${room('sachurn')}&rounds=6&epochs=10&roundTimeout=8000&${base}`, 4);
    try {
      const server = await coordinatorOf(tabs);
      const serverId = (await snapshot(server.page)).nodeId!;
      const doomed = tabs.find((t) => t !== server)!;
      const doomedId = (await snapshot(doomed.page)).nodeId!;
      // Wait for a round ≥ 2 in which the doomed tab has dealt its shares but not yet sent its masked update.
      let closedIn = 0;
      await expect
        .poll(
          async () => {
            const a = await audit(doomed);
            if (a.audit.attempt && a.audit.attempt.round >= 2 && (a.audit.phase === 'shared' || a.audit.phase === 'dealt')) {
              closedIn = a.audit.attempt.round;
              await closeAll([doomed]);
              return true;
            }
            return false;
          },
          { timeout: 90_000, intervals: [50] },
        )
        .toBe(true);
      const survivors = tabs.filter((t) => t !== doomed);
      await expect.poll(async () => (await snapshot(server.page)).state, { timeout: 120_000 }).toBe('done');
      const end = await snapshot(server.page);
      expect(end.round).toBe(6);
      expect(end.accuracy).toBeGreaterThanOrEqual(0.85);
      const all = await Promise.all(survivors.map(audit));
      const coordinator = all.find((a) => a.id === serverId)!;
      const sums = coordinator.audit.sums!;
      // The round it left in was unmasked without it: its pairwise masks removed through the others' shares of its key.
      const left = sums.find((s) => s.round === closedIn)!;
      expect(left.dropped).toEqual([doomedId]);
      expect(left.survivors).toHaveLength(3);
      expect(coordinator.values.secaggRecovered).toBe(1);
      // Later rounds run with the three tabs left.
      expect(sums.filter((s) => s.round > closedIn).every((s) => s.survivors.length === 3)).toBe(true);
      checkAudits(all, serverId);
      for (const t of survivors) {
        expect((await snapshot(t.page)).rejectedFrames).toBe(0);
        expect(t.errors).toEqual([]);
      }
    } finally {
      await closeAll(tabs);
    }
  });
});
