// The fixture of scripts/test-env.test.ts: two test files run one after the other in one shared worker process, as
// `npm test` runs its files, with scripts/test-env.ts as a setup file or (WITH_TEST_ENV=0) without it.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    include: ['*.fixture.mjs'],
    pool: 'forks',
    isolate: false,
    maxWorkers: 1,
    minWorkers: 1,
    setupFiles: process.env.WITH_TEST_ENV === '0' ? [] : [fileURLToPath(new URL('../test-env.ts', import.meta.url))],
  },
});
