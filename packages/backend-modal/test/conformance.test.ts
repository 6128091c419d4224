/**
 * The whole conformance suite against the Modal backend, driven through the real `modal` SDK (0.11.1) against the
 * local Modal emulator (gRPC on loopback, bubblewrap sandboxes, volumes as folders). Sandboxes run this machine's
 * Debian, so the Claude CLI from @anthropic-ai/claude-code is bound into them read-only at its own path.
 */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { SKILLS_DIR, type KeyProxy } from '@dreamcore/runtime-core';
import { runConformanceSuite } from '@dreamcore/runtime-core/conformance';
import { emulatorPrerequisites, startModalEmulator, type ModalEmulator } from '../src/emulator/index.js';
import { createModalBackend, MOUNT, type ModalBackend } from '../src/index.js';
import { publishedKeyProxy } from './support/emulated.js';

const require = createRequire(import.meta.url);
const CLAUDE = path.join(path.dirname(require.resolve('@anthropic-ai/claude-code/package.json')), 'bin', 'claude.exe');

const prerequisites = emulatorPrerequisites();
if (!prerequisites.ok) console.warn(`Modal conformance skipped: the emulator needs ${prerequisites.missing.join(', ')}`);

let emulator: ModalEmulator | undefined;

/**
 * What the deploy step does on Modal (`npm run modal:deploy`): the skills volume holds runtime-core's skills. Here the
 * volume is made through the real SDK and its committed state filled on the emulator's side, before any sandbox starts.
 */
async function fillSkillsVolume(emu: ModalEmulator): Promise<void> {
  const { ModalClient } = await import('modal');
  const env = emu.clientEnv();
  const previous = process.env.MODAL_SERVER_URL;
  process.env.MODAL_SERVER_URL = env.MODAL_SERVER_URL;
  const client = new ModalClient({ tokenId: env.MODAL_TOKEN_ID, tokenSecret: env.MODAL_TOKEN_SECRET });
  try {
    await client.volumes.fromName('dreamcore-skills', { createIfMissing: true, version: 2 });
  } finally {
    client.close();
    if (previous === undefined) delete process.env.MODAL_SERVER_URL;
    else process.env.MODAL_SERVER_URL = previous;
  }
  await fs.cp(SKILLS_DIR, emu.volumePath('dreamcore-skills')!, { recursive: true });
}
const backends = new Set<ModalBackend>();
const proxies: KeyProxy[] = [];

if (prerequisites.ok) {
  beforeAll(async () => {
    emulator = await startModalEmulator({ extraReadOnlyBinds: [CLAUDE] });
    // The SDK reads its config file at import: never a developer's own ~/.modal.toml here.
    process.env.MODAL_CONFIG_PATH = path.join(emulator.stateDir, 'no-modal.toml');
    await fillSkillsVolume(emulator);
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([...backends].map((b) => b.close()));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await emulator?.close();
  }, 60_000);

  runConformanceSuite({
    name: 'modal',
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
        appName: `conformance-${Math.random().toString(36).slice(2, 8)}`,
        sandbox: { idleTimeoutMs: 120_000, timeoutMs: 1_800_000 },
        agent: {
          // The model is reached through a key proxy that sandboxes see only at its published address.
          ...(access ? { keyProxy: access.proxy, proxyPublicUrl: access.publicUrl } : {}),
          claudePath: CLAUDE,
          maxRetries: 1, // as the local lane: fault cases end after one retry
        },
        gemini: { apiKey: context.geminiApiKey, baseUrl: context.geminiBaseUrl },
        video: { enabled: true },
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
} else {
  describe.skip('conformance: modal (emulator prerequisites missing)', () => undefined);
}
