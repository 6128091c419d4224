/**
 * The conformance suite against the Modal backend, driven through the real `modal` SDK (0.11.1) against the local
 * Modal emulator: sandboxes on the images `dreamcore-modal deploy` builds from their recipes, v2 volumes with Modal's
 * commit semantics, a network in which the key proxy is reached only through its published address.
 *
 * Every file operation is a sandbox exec here, so the suite would be the slowest file of `npm test`: it is split over
 * three test files (conformance-storage, conformance-runs, conformance-media), each with its own emulator, which vitest
 * runs in parallel.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { SKILLS_DIR, type KeyProxy } from '@dreamcore/runtime-core';
import { runConformanceSuite, type ConformancePart } from '@dreamcore/runtime-core/conformance';
import { emulatorPrerequisites, startModalEmulator, type ModalEmulator } from '../../src/emulator/index.js';
import { createModalBackend, MOUNT, type ModalBackend } from '../../src/index.js';
import { deployForTests, publishedKeyProxy } from './emulated.js';

const APP = 'conformance';

/** The share of conformance-storage.test.ts. */
export const STORAGE_PARTS: readonly ConformancePart[] = ['files', 'git', 'isolation'];
/** The share of conformance-runs.test.ts; conformance-media.test.ts takes the rest (images, video, checks). */
export const RUN_PARTS: readonly ConformancePart[] = ['runClaude'];

/** Runs `parts` of the conformance suite against backends on an emulator of this file's own. */
export function runModalConformance(parts: readonly ConformancePart[]): void {
  const prerequisites = emulatorPrerequisites();
  // With CI set the lane runs whatever is missing and fails on it: a skipped lane would also leave the parity rule
  // (scripts/parity-reporter.ts) nothing to compare.
  if (!prerequisites.ok && !process.env.CI) {
    console.warn(`Modal conformance SKIPPED: the emulator needs ${prerequisites.missing.join(', ')} (with CI set this fails instead)`);
    describe.skip('conformance: modal (emulator prerequisites missing)', () => undefined);
    return;
  }
  let emulator: ModalEmulator | undefined;
  const backends = new Set<ModalBackend>();
  const proxies: KeyProxy[] = [];

  beforeAll(async () => {
    emulator = await startModalEmulator();
    // The SDK reads its config file at import: never a developer's own ~/.modal.toml here.
    process.env.MODAL_CONFIG_PATH = path.join(emulator.stateDir, 'no-modal.toml');
    // As `npm run modal:deploy` does: the images, and runtime-core's skills on the skills volume.
    await deployForTests(emulator, APP, { skillsDir: SKILLS_DIR });
  }, 300_000);
  afterAll(async () => {
    await Promise.allSettled([...backends].map((b) => b.close()));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await emulator?.close();
  }, 60_000);

  runConformanceSuite({
    name: 'modal',
    parts,
    // Every file operation is an exec in a sandbox (a process start here, a round trip on Modal): the cases that make
    // hundreds of calls need more than the default 30 s on a busy machine.
    timeoutMs: 120_000,
    factory: async (context) => {
      if (!emulator) throw new Error('the Modal emulator did not start');
      const env = emulator.clientEnv();
      const access = context.anthropicBaseUrl ? await publishedKeyProxy(emulator, context.anthropicBaseUrl, context.anthropicApiKey ?? 'none') : undefined;
      if (access) proxies.push(access.proxy);
      const backend = createModalBackend({
        serverUrl: env.MODAL_SERVER_URL,
        tokenId: env.MODAL_TOKEN_ID,
        tokenSecret: env.MODAL_TOKEN_SECRET,
        appName: APP,
        sandbox: { idleTimeoutMs: 120_000, timeoutMs: 1_800_000 },
        agent: {
          // The model is reached through a key proxy that sandboxes see only at its published address.
          ...(access ? { keyProxy: access.proxy, proxyPublicUrl: access.publicUrl } : {}),
          maxRetries: 1, // as the local lane: fault cases end after one retry
        },
        gemini: { apiKey: context.geminiApiKey, baseUrl: context.geminiBaseUrl },
        log: () => undefined,
      });
      backends.add(backend);
      return backend;
    },
    harness: {
      fakeProviders: true,
      // An agent with a shell can make any symlink in its project; this does the same, inside the user's sandbox.
      async symlink(backend, scope, linkPath, target) {
        const modal = backend as ModalBackend;
        const root = 'assets' in scope ? `${MOUNT.volume}/assets` : `${MOUNT.volume}/projects/${scope.projectId}`;
        const link = `${root}/${linkPath}`;
        // Another user's data is in another volume that this sandbox does not mount; the nearest an agent can aim
        // is the same path in its own volume.
        const to = target.kind === 'project' ? `${MOUNT.volume}/projects/${target.scope.projectId}` : target.path;
        const sandbox = await modal.userSandbox(scope.userId);
        const proc = await sandbox.exec(['sh', '-c', 'mkdir -p "$(dirname "$2")" && ln -s "$1" "$2"', 'ln', to, link], {
          stdout: 'pipe',
          stderr: 'pipe',
        });
        const [stderr, code] = await Promise.all([proc.stderr.readText(), proc.wait()]);
        if (code !== 0) throw new Error(`ln -s failed: ${stderr}`);
      },
    },
  });
}
