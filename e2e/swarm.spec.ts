import { expect, test } from '@playwright/test';
import { z } from 'zod';
import { encodeMessage } from '../src/core/wire/codec.ts';
import { fedavgSchemas } from '../src/protocols/fedavg/messages.ts';
import { closeAll, coordinatorTab, openTab, openTabs, snapshot } from './helpers.ts';

// Small synthetic data keeps six tabs on two cores quick. No backend= here: tabs run on what
// `auto` chooses, as a newcomer's would (the small mlp goes to the CPU without a probe).
const base = 'dataset=blobs&partition=iid&samples=1200&model=mlp&lr=0.1&batch=10&epochs=1&fraction=1';

test.describe('live swarm over WebRTC', () => {
  // Six tabs of one room running FedAvg to 85% is e2e/defaults.spec.ts (on a newcomer's defaults).

  test('closing three of six tabs mid-run, the coordinator among them, leaves the rest running', async ({ browser }) => {
    const tabs = await openTabs(browser, `room=fedchurn&algo=fedavg&nodes=6&rounds=14&autostart=1&roundTimeout=4000&${base}`, 6);
    try {
      await expect.poll(async () => (await snapshot(tabs[0].page)).round, { timeout: 90_000 }).toBeGreaterThanOrEqual(4);
      const coord = await coordinatorTab(tabs);
      const before = await snapshot(coord.page);
      const doomed = [coord, ...tabs.filter((t) => t !== coord).slice(0, 2)];
      await closeAll(doomed);
      const survivors = tabs.filter((t) => !doomed.includes(t));
      // The room elects a new coordinator, which resumes from the last global model it saw.
      await expect.poll(async () => (await snapshot(survivors[0].page)).coordinator, { timeout: 30_000 }).not.toBe(before.nodeId);
      const next = await coordinatorTab(survivors);
      await expect.poll(async () => (await snapshot(next.page)).round, { timeout: 120_000 }).toBeGreaterThanOrEqual(before.round + 4);
      const after = await snapshot(next.page);
      expect(after.roster.length).toBe(3);
      expect(after.accuracy!).toBeGreaterThan(Math.min(0.8, before.accuracy! - 0.05));
      for (const t of survivors) expect(t.errors).toEqual([]);
    } finally {
      await closeAll(tabs);
    }
  });

  test('a tab that opens mid-run catches up and trains', async ({ browser }) => {
    const hash = `room=fedlate&algo=fedavg&nodes=4&rounds=30&${base}`;
    const tabs = await openTabs(browser, hash, 3);
    try {
      await tabs[0].page.evaluate(() => window.murmuration.start());
      await expect.poll(async () => (await snapshot(tabs[0].page)).round, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
      const late = await openTab(browser, hash);
      tabs.push(late);
      await expect.poll(async () => (await snapshot(late.page)).trainedSamples, { timeout: 60_000 }).toBeGreaterThan(0);
      const s = await snapshot(late.page);
      expect(s.started).toBe(true);
      expect(s.round).toBeGreaterThanOrEqual(3);
      expect(s.accuracy).not.toBeNull();
    } finally {
      await closeAll(tabs);
    }
  });

  test('malformed frames from a peer are rejected and counted, and training goes on', async ({ browser }) => {
    const hash = `room=fedbad&algo=fedavg&nodes=3&rounds=40&${base}`;
    const tabs = await openTabs(browser, hash, 3);
    try {
      await tabs[0].page.evaluate(() => window.murmuration.start());
      await expect.poll(async () => (await snapshot(tabs[0].page)).round, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
      const victim = await snapshot(tabs[0].page);
      const attacker = tabs[2];
      const paramCount = 16 * 2 + 16 + 16 * 16 + 16 + 16 * 3 + 3; // mlp on 3-class blobs
      const nan = new Float32Array(paramCount).fill(0.1);
      nan[7] = Number.NaN;
      const frames = [
        Array.from(Uint8Array.from({ length: 300 }, (_, i) => (i * 97) & 255)), // garbage
        Array.from(encodeMessage({ type: 'fedavg/update', round: victim.round + 1, samples: 100, loss: 0, params: new Float32Array(paramCount - 5) }, fedavgSchemas)), // wrong length
        Array.from(encodeMessage({ type: 'fedavg/update', round: victim.round + 1, samples: 100, loss: 0, params: nan }, fedavgSchemas)), // NaN weights
        Array.from(encodeMessage({ type: 'no/such', round: 1 }, { 'no/such': { header: z.object({}), vectors: {} } })), // unknown type
      ];
      await attacker.page.evaluate(
        ({ to, frames }) => frames.forEach((f) => window.murmuration.sendRaw(to, Uint8Array.from(f))),
        { to: victim.nodeId!, frames },
      );
      await expect.poll(async () => (await snapshot(tabs[0].page)).rejectedFrames, { timeout: 30_000 }).toBeGreaterThanOrEqual(4);
      const s = await snapshot(tabs[0].page);
      expect(s.rejected).toMatchObject({ malformed: 1, 'bad-length': 1, 'non-finite': 1, 'unknown-type': 1 });
      await expect(tabs[0].page.getByTestId('rejected')).toHaveText(String(s.rejectedFrames));
      await expect.poll(async () => (await snapshot(tabs[0].page)).round, { timeout: 60_000 }).toBeGreaterThanOrEqual(s.round + 3);
      expect((await snapshot(tabs[0].page)).accuracy!).toBeGreaterThan(0.8);
    } finally {
      await closeAll(tabs);
    }
  });
});
