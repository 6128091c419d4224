import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through the "source" export
// condition, so `npm test` needs no build step; `npm pack` users get dist/.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'server/test/**/*.test.ts', 'examples/**/*.test.ts'],
    // Stops the run with one message naming what to install (`npm run setup`) when bubblewrap or chromium is missing.
    globalSetup: ['scripts/prerequisites.mjs'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    pool: 'forks',
  },
});
