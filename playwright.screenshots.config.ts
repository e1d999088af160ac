import { defineConfig } from '@playwright/test';
import base from './playwright.config.ts';

/** `npm run screenshots`: regenerates docs/screenshots/*.png with the same server and browser as the e2e tests. */
export default defineConfig({ ...base, testDir: 'docs/screenshots' });
