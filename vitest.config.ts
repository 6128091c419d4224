import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import LongestFirst from './scripts/test-order.js';
import ParityReporter from './scripts/parity-reporter.js';

/**
 * Test files run in parallel worker processes. Most of them wait on other processes (the Claude CLI, chromium, git,
 * sandboxes) for part of their time, so one worker more than there are cores keeps the cores busy; vitest's own
 * default (cores - 1) would run everything one file at a time on a 2-core machine. DREAMCORE_TEST_WORKERS overrides.
 */
const workers = Number(process.env.DREAMCORE_TEST_WORKERS) || availableParallelism() + 1;

// Workspace packages resolve to their TypeScript sources through the "source" export
// condition, so `npm test` needs no build step; `npm pack` users get dist/.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'server/test/**/*.test.ts', 'examples/**/*.test.ts', 'scripts/**/*.test.ts'],
    // Stops the run with one message naming what to install (`npm run setup`) when bubblewrap or chromium is missing.
    // Then puts the run's temporary files on tmpfs (scripts/test-tmpdir.mjs says why and how to opt out).
    globalSetup: ['scripts/prerequisites.mjs', 'scripts/test-tmpdir.mjs'],
    // Test files share their worker processes instead of each starting a new one that loads and compiles the server,
    // the backends and their SDKs afresh: a module is loaded once per worker, so module-level state (the process's
    // chromium pool for game checks) is shared by the files that worker runs. No test may depend on a fresh process;
    // scripts/test-env.ts puts back what a file set in process.env before the next file runs.
    isolate: false,
    setupFiles: ['scripts/test-env.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // expect.poll waits for a condition that is on its way (a socket message, a file, a page state): on a loaded
    // machine that takes longer than vitest's default second. A poll that succeeds returns at once, so the long
    // bound costs nothing when things are quick.
    expect: { poll: { timeout: 20_000, interval: 50 } },
    // The parity rule (the same conformance cases pass on local and on Modal) fails the run when broken.
    reporters: ['default', new ParityReporter()],
    pool: 'forks',
    // PGlite is PostgreSQL compiled to WebAssembly, and every server a test boots compiles it afresh (its database
    // runs on a worker thread of its own). V8 then optimises the hot functions again with TurboFan on its background
    // threads, seconds of CPU per file that a database living a minute never earns back (users, contract and db test
    // files: 1.4–3.0 s on each of 4 V8 threads per file, 0.4–0.6 s with this flag; the three files 82–99 s of machine
    // CPU, 66–71 s with it). It changes only how WebAssembly is compiled: the baseline compiler's code runs the same
    // queries.
    poolOptions: { forks: { execArgv: ['--liftoff-only'] } },
    maxWorkers: workers,
    // All workers stay until the end: with shared workers, tinypool's ending of an idle one rejects with "Terminating
    // worker thread", which fails a run whose files all passed (vitest-dev/vitest#8133, #8564).
    minWorkers: workers,
    sequence: { sequencer: LongestFirst },
  },
});
