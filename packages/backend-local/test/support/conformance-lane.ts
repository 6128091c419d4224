import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runConformanceSuite, type ConformancePart } from '@dreamcore/runtime-core/conformance';
import { createLocalBackend, scopeRoot, type LocalBackend } from '../../src/index.js';

/**
 * The conformance suite against the local backend. The agent's cases (the real Claude CLI in bubblewrap, a run per
 * case) take as long as all the others together, so the suite is split over two files that vitest runs in parallel:
 * conformance-runs.test.ts (runClaude) and conformance.test.ts (the rest).
 */
export const RUN_PARTS: readonly ConformancePart[] = ['runClaude'];

export function runLocalConformance(parts: readonly ConformancePart[]): void {
  runConformanceSuite({
    name: 'local',
    parts,
    factory: (context) => {
      const backend = createLocalBackend({
        dataDir: mkdtempSync(path.join(tmpdir(), 'dreamcore-local-')),
        agent: {
          anthropicApiKey: context.anthropicApiKey,
          anthropicBaseUrl: context.anthropicBaseUrl,
          maxRetries: 1, // fault cases end after one retry instead of the CLI's default ten
          isolation: 'bubblewrap', // fail loudly if confinement is missing in CI
        },
        gemini: { apiKey: context.geminiApiKey, baseUrl: context.geminiBaseUrl },
      });
      return { ...backend, close: async () => (await backend.close(), await fs.rm(backend.dataDir, { recursive: true, force: true })) };
    },
    harness: {
      fakeProviders: true,
      // An agent with a shell can make any symlink inside its project; this does the same.
      async symlink(backend, scope, linkPath, target) {
        const { dataDir } = backend as LocalBackend;
        const link = path.join(scopeRoot(dataDir, scope), linkPath);
        await fs.mkdir(path.dirname(link), { recursive: true });
        await fs.symlink(target.kind === 'project' ? scopeRoot(dataDir, target.scope) : target.path, link);
      },
    },
  });
}
