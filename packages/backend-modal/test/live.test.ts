/**
 * The live lane: the whole conformance suite against Modal itself. Runs only when asked (DREAMCORE_MODAL_LIVE=1,
 * which `npm run test:modal-live` sets) AND real credentials are present (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET);
 * otherwise it says why it was skipped.
 *
 * The suite's stand-ins (scripted model, fake Gemini) run on this machine. generateImage runs in this process, so it
 * needs nothing more. Agent runs happen in Modal sandboxes, which must reach this machine's key proxy: expose
 * 127.0.0.1:$MODAL_KEY_PROXY_PORT (default 8787) at a public URL (a tunnel, e.g. `cloudflared tunnel --url
 * http://127.0.0.1:8787`) and set MODAL_KEY_PROXY_URL to it. Without it the agent block fails (the Secret
 * fallback would point the agent at this machine's loopback, which Modal cannot reach) and the lane says so.
 *
 * Optional: MODAL_ENVIRONMENT, MODAL_APP_NAME (default "dreamcore-conformance"). The first run builds the image
 * (node, git, the Claude CLI, chromium): allow several minutes.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { runConformanceSuite } from '@dreamcore/runtime-core/conformance';
import { startKeyProxy, type KeyProxy } from '@dreamcore/runtime-core';
import { createModalBackend, MOUNT, type ModalBackend } from '../src/index.js';

const asked = process.env.DREAMCORE_MODAL_LIVE === '1';
const credentials = Boolean(process.env.MODAL_TOKEN_ID && process.env.MODAL_TOKEN_SECRET);
const proxyUrl = process.env.MODAL_KEY_PROXY_URL;
const proxyPort = Number(process.env.MODAL_KEY_PROXY_PORT ?? 8787);

if (!asked || !credentials) {
  const why = !asked ? 'not requested (run `npm run test:modal-live`)' : 'MODAL_TOKEN_ID / MODAL_TOKEN_SECRET are not set';
  if (asked) console.warn(`[modal live] SKIPPED: ${why}`);
  describe.skip(`conformance: modal-live (skipped: ${why})`, () => {
    it('needs Modal credentials', () => undefined);
  });
} else {
  if (!proxyUrl) {
    console.warn(
      '[modal live] MODAL_KEY_PROXY_URL is not set: agent runs in Modal cannot reach the scripted model on this machine, ' +
        'so the runClaude block will fail. Expose 127.0.0.1:%d publicly and set it.',
      proxyPort,
    );
  }
  // A fixed local port that forwards to the current block's key proxy (whose own port is random).
  let target: KeyProxy | undefined;
  const proxies: KeyProxy[] = [];
  const backends: ModalBackend[] = [];
  const forwarder = net.createServer((socket) => {
    if (!target) return socket.destroy();
    const url = new URL(target.url);
    const upstream = net.connect(Number(url.port), url.hostname);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  beforeAll(async () => {
    await new Promise<void>((resolve, reject) => forwarder.once('error', reject).listen(proxyPort, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await Promise.allSettled(backends.map((b) => b.close()));
    await Promise.allSettled(proxies.map((p) => p.close()));
    forwarder.close();
  }, 120_000);

  runConformanceSuite({
    name: 'modal-live',
    timeoutMs: 180_000,
    factory: async (context) => {
      let keyProxy: KeyProxy | undefined;
      if (context.anthropicBaseUrl) {
        keyProxy = await startKeyProxy({ upstream: context.anthropicBaseUrl, apiKey: context.anthropicApiKey ?? 'none' });
        proxies.push(keyProxy);
        target = keyProxy;
      }
      const backend = createModalBackend({
        appName: process.env.MODAL_APP_NAME || 'dreamcore-conformance',
        agent: {
          anthropicApiKey: context.anthropicApiKey,
          anthropicBaseUrl: context.anthropicBaseUrl,
          ...(keyProxy ? { keyProxy } : {}),
          ...(proxyUrl ? { proxyPublicUrl: proxyUrl } : {}),
          maxRetries: 1,
        },
        gemini: { apiKey: context.geminiApiKey, baseUrl: context.geminiBaseUrl },
        sandbox: { idleTimeoutMs: 300_000 },
      });
      backends.push(backend);
      return backend;
    },
    harness: {
      fakeProviders: true,
      async symlink(backend, scope, linkPath, target) {
        const root = 'assets' in scope ? `${MOUNT.volume}/assets` : `${MOUNT.volume}/projects/${scope.projectId}`;
        const to = target.kind === 'project' ? `${MOUNT.volume}/projects/${target.scope.projectId}` : target.path;
        const sandbox = await (backend as ModalBackend).userSandbox(scope.userId);
        const proc = await sandbox.exec(['sh', '-c', 'mkdir -p "$(dirname "$2")" && ln -s "$1" "$2"', 'ln', to, `${root}/${linkPath}`], {
          stdout: 'pipe',
          stderr: 'pipe',
        });
        const [stderr, code] = await Promise.all([proc.stderr.readText(), proc.wait()]);
        if (code !== 0) throw new Error(`ln -s failed: ${stderr}`);
      },
    },
  });
}
