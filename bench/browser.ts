import { chromium, type Browser } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { startAppServer } from './appServer.ts';
import { fmt, log, table, type Suite } from './common.ts';

/**
 * Live-world benchmarks in Debian's Chromium, through the harness pages:
 * - model transfer: our WebRTC transport (chunking, pacing, reassembly) against a bare data
 *   channel sending the same bytes between two peer connections of one page;
 * - training in a tab: our loop (as a tab runs it) against bare `model.fit`, per backend.
 */

const PORT = 4199;

interface TransferResult {
  frames: number;
  frameBytes: number;
  ourMBps: number;
  rawMBps: number;
  ratio: number;
}

interface TrainingRow {
  backend: string;
  model: string;
  samples: number;
  oursPerSec: number;
  fitPerSec: number;
  ratio: number;
}

async function transfer(browser: Browser, reps: number): Promise<string> {
  const page = await browser.newPage();
  await page.goto(`http://localhost:${PORT}/harness/transport.html`);
  log('model transfer: 20 frames of a 2NN-sized model (797 KiB), ours vs raw data channel');
  const r = (await page.evaluate((reps) => window.harness.runTransferBench!(797 * 1024, 20, reps), reps)) as TransferResult;
  await page.close();
  return table(
    ['payload', 'ours MB/s', 'raw channel MB/s', 'ours / raw', 'target'],
    [[`${r.frames} × ${fmt.int(r.frameBytes)} B`, fmt.f(r.ourMBps), fmt.f(r.rawMBps), fmt.f(r.ratio), '≥ 0.80']],
  );
}

async function training(browser: Browser, reps: number): Promise<string> {
  const rows: TrainingRow[] = [];
  for (const backend of ['webgpu', 'webgl', 'cpu']) {
    for (const model of ['2nn', 'cnn-small']) {
      const page = await browser.newPage();
      await page.goto(`http://localhost:${PORT}/harness/training.html`);
      log(`training in a tab: ${model} on ${backend}`);
      try {
        const r = (await page.evaluate(([b, m, n]) => window.trainingHarness.runTrainingBench([b], [m as '2nn'], n), [backend, model, reps] as const)) as TrainingRow[];
        rows.push(...r);
        if (r.length === 0) log(`  ${backend} is not available here`);
      } catch (e) {
        log(`  ${backend}/${model} failed: ${(e as Error).message.split('\n')[0]}`);
      }
      await page.close();
    }
  }
  return table(
    ['backend', 'model', 'samples', 'ours samples/s', 'bare fit samples/s', 'ours / fit'],
    rows.map((r) => [r.backend, r.model, fmt.int(r.samples), fmt.int(r.oursPerSec), fmt.int(r.fitPerSec), fmt.f(r.ratio)]),
  );
}

export const browser: Suite = {
  name: 'browser',
  summary: 'in Chromium: model transfer vs a raw data channel; training per backend vs bare fit',
  async run(opts) {
    const reps = opts.reps ?? (opts.quick ? 1 : 3);
    const server = await startAppServer(PORT);
    const b = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
    try {
      const t = await transfer(b, reps);
      const tr = await training(b, reps);
      return [
        '### Model transfer between two peers (WebRTC, one page, loopback)',
        '',
        t,
        '',
        '### Training in a tab, per backend (batch 10, one epoch; WebGPU runs on SwiftShader here, with 200 samples)',
        '',
        tr,
      ].join('\n');
    } finally {
      await b.close();
      server.kill();
    }
  },
};
