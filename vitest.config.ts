import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/registry.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // tfjs backends are process-global; keep files in separate forks.
    pool: 'forks',
    fileParallelism: true,
  },
});
