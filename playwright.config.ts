import { defineConfig } from '@playwright/test';

const PORT = Number(process.env.E2E_PORT ?? 4173);

/** Debian's Chromium, never a downloaded browser. */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-webgpu',
];

/**
 * Spec files that open one page, or two at most, and train little: they run two at a time (the signaling test floods the server, so it is not one of them)
 * (`--project solo --workers 2`). Every other file drives a swarm of tabs whose timings a
 * second swarm on the same cores would disturb, so those run one at a time (`--project swarm`).
 */
const SOLO = ['forms', 'ui', 'smoke', 'charts', 'transport'].map((f) => `${f}.spec.ts`);

export default defineConfig({
  testDir: 'e2e',
  projects: [
    { name: 'solo', testMatch: SOLO, fullyParallel: true },
    { name: 'swarm', testIgnore: SOLO },
  ],
  timeout: 180_000,
  expect: { timeout: 60_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://localhost:${PORT}`,
    headless: true,
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
  },
  webServer: {
    // The built app and the signaling server, in one process, as `npm start` runs them.
    command: `node --import tsx server/start.ts --port ${PORT}`,
    url: `http://localhost:${PORT}/`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
    stdout: 'pipe',
  },
});
