import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { startAppServer } from './appServer.ts';
import { fmt, log, table, type Suite } from './common.ts';

/**
 * The compare view with 50 nodes: does the page stay responsive while its worker streams the
 * rows of two gossip runs (plain and variance-corrected averaging)? Measured in Debian's
 * Chromium with the Performance API: frame intervals (requestAnimationFrame) and long tasks
 * (over 50 ms) while running, apart from page load. 500 rounds by default (issue 14), 20 with
 * --quick.
 */

const PORT = 4198;

/**
 * Installed before the app loads. A string, not a function: tsx compiles this file with
 * esbuild's keepNames, which wraps named functions in a `__name` helper the page lacks.
 */
const MEASURE_SCRIPT = `
  const m = { longTasks: [], frameGaps: [] };
  window.measured = m;
  new PerformanceObserver((list) => list.getEntries().forEach((e) => m.longTasks.push({ start: e.startTime, duration: e.duration }))).observe({ type: 'longtask', buffered: true });
  let last = 0;
  const tick = (t) => {
    if (last) m.frameGaps.push(t - last);
    last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
`;

interface Measured {
  seconds: number;
  rows: number[];
  gaps: number[];
  longTasks: number[];
}

declare global {
  interface Window {
    measured?: { longTasks: { start: number; duration: number }[]; frameGaps: number[] };
  }
}

async function measure(rounds: number): Promise<Measured> {
  const server = await startAppServer(PORT);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.addInitScript({ content: MEASURE_SCRIPT });
    await page.goto(`http://localhost:${PORT}/?view=compare&runs=gossip-mean,gossip-vca#dataset=blobs&samples=5000&nodes=50&rounds=${rounds}&batch=20&evalSize=200`);
    await page.getByTestId('play').waitFor({ state: 'visible', timeout: 120_000 });
    await page.waitForFunction(() => !(document.querySelector('[data-testid="play"]') as HTMLButtonElement | null)?.disabled, null, { timeout: 120_000 });
    const steadyFrom = await page.evaluate(() => performance.now());
    const started = Date.now();
    await page.getByTestId('play').click();
    // Polled with a cheap evaluate once a second: Playwright's own visibility checks compute
    // accessibility snapshots, which would show up in the measurement as long tasks.
    for (;;) {
      if (await page.evaluate(() => document.querySelector('[data-testid="compare-done"]') !== null)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const seconds = (Date.now() - started) / 1000;
    const rows = await page.evaluate(() => window.murmurationCompare!.state().runs.map((r) => r.rows));
    const { longTasks, frameGaps } = await page.evaluate(() => window.measured!);
    return {
      seconds,
      rows,
      gaps: frameGaps.slice().sort((a, b) => a - b),
      longTasks: longTasks
        .filter((t) => t.start >= steadyFrom)
        .map((t) => t.duration)
        .sort((a, b) => a - b),
    };
  } finally {
    await browser.close();
    server.kill();
  }
}

const quantile = (xs: number[], p: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] : 0);

export const compareScale: Suite = {
  name: 'compare-scale',
  summary: 'in Chromium: the compare view at 50 nodes × 500 rounds (frame intervals, long tasks)',
  async run(opts) {
    const rounds = opts.quick ? 20 : 500;
    log(`compare-scale: 2 gossip runs × 50 nodes × ${rounds} rounds in the compare view`);
    const m = await measure(rounds);
    if (m.rows.some((r) => r === 0)) throw new Error(`a run streamed no rows: ${m.rows.join(', ')}`);
    return table(
      ['rounds', 'wall', 'rows per run', 'frames', 'frame interval median', 'p95', 'p99', 'long tasks while running', 'their median', 'longest'],
      [
        [
          rounds,
          `${fmt.int(m.seconds)} s`,
          m.rows.join(', '),
          fmt.int(m.gaps.length),
          `${fmt.f(quantile(m.gaps, 0.5), 1)} ms`,
          `${fmt.f(quantile(m.gaps, 0.95), 1)} ms`,
          `${fmt.f(quantile(m.gaps, 0.99), 1)} ms`,
          m.longTasks.length,
          `${fmt.f(quantile(m.longTasks, 0.5), 0)} ms`,
          `${fmt.f(quantile(m.longTasks, 1), 0)} ms`,
        ],
      ],
    );
  },
};
