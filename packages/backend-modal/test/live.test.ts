/**
 * The live lane: against Modal itself. Runs only when asked (DREAMCORE_MODAL_LIVE=1, which `npm run test:modal-live`
 * sets) AND real credentials are present (MODAL_TOKEN_ID, MODAL_TOKEN_SECRET); otherwise it says why it was skipped.
 *
 * What it needs: agent runs happen in Modal sandboxes, which must reach this machine's key proxy through a public
 * URL, exactly as in production. Expose 127.0.0.1:$MODAL_KEY_PROXY_PORT (default 8787) publicly with TLS (a tunnel:
 * `cloudflared tunnel --url http://127.0.0.1:8787`) and set MODAL_KEY_PROXY_URL to it. Without it the lane says so
 * and the agent cases fail. Optional: MODAL_ENVIRONMENT, MODAL_APP_NAME (default "dreamcore-live").
 *
 * What it covers: the deploy (images, runtime-core's skills on a skills volume of its own, the proxy URL checked from
 * inside a sandbox), the whole conformance suite, and what only real Modal can prove: a write survives its sandbox's
 * replacement, a new sandbox sees a write as soon as the call returned, the deployed skills are in the sandbox, a
 * sandbox reaped for idleness is replaced (and prewarm revives it).
 *
 * It cleans up after itself: every sandbox of its app is terminated and every volume it made (its user volumes,
 * named with a prefix of its own, and its skills volume) is deleted, also when cases fail. The first run builds the
 * images on Modal (several minutes); later runs find them published.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { ModalClient } from 'modal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKILLS_DIR, startKeyProxy, type KeyProxy } from '@dreamcore/runtime-core';
import { runConformanceSuite } from '@dreamcore/runtime-core/conformance';
import { createModalBackend, deployModal, MOUNT, resolveModalConfig, type ModalBackend, type ModalBackendOptions } from '../src/index.js';

const asked = process.env.DREAMCORE_MODAL_LIVE === '1';
const credentials = Boolean(process.env.MODAL_TOKEN_ID && process.env.MODAL_TOKEN_SECRET);
const proxyUrl = process.env.MODAL_KEY_PROXY_URL || undefined;
const proxyPort = Number(process.env.MODAL_KEY_PROXY_PORT || 8787);
/** Everything the lane makes is named apart from a real deployment's, so cleaning up cannot touch real users. */
const LIVE: Pick<ModalBackendOptions, 'appName' | 'volumePrefix' | 'skillsVolume'> = {
  appName: process.env.MODAL_APP_NAME || 'dreamcore-live',
  volumePrefix: 'dreamcore-live-user-',
  skillsVolume: 'dreamcore-live-skills',
};

if (!asked || !credentials) {
  const why = !asked ? 'not requested (run `npm run test:modal-live`)' : 'MODAL_TOKEN_ID / MODAL_TOKEN_SECRET are not set';
  if (asked) console.warn(`[modal live] SKIPPED: ${why}`);
  describe.skip(`conformance: modal-live (skipped: ${why})`, () => {
    it('needs Modal credentials', () => undefined);
  });
} else {
  if (!proxyUrl) {
    console.warn(
      `[modal live] MODAL_KEY_PROXY_URL is not set: agent runs in Modal cannot reach the scripted model on this machine, so the agent cases will fail. ` +
        `Expose 127.0.0.1:${proxyPort} publicly (with TLS) and set it.`,
    );
  }
  // The fixed port the public URL forwards to; behind it, the current block's key proxy (whose own port is random).
  let target: KeyProxy | undefined;
  const proxies: KeyProxy[] = [];
  const backends: ModalBackend[] = [];
  const forwarder = net.createServer((socket) => {
    if (!target) return socket.destroy();
    const upstream = net.connect(target.port, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  const make = (extra: Partial<ModalBackendOptions> = {}) => {
    const backend = createModalBackend({
      ...LIVE,
      ...extra,
      // Without a public URL there is no way for a sandbox to reach the model: the backend gets no model at all.
      agent: { ...(target && proxyUrl ? { keyProxy: target, proxyPublicUrl: proxyUrl } : {}), maxRetries: 1, ...extra.agent },
    });
    backends.push(backend);
    return backend;
  };

  beforeAll(async () => {
    await new Promise<void>((resolve, reject) => forwarder.once('error', reject).listen(proxyPort, '127.0.0.1', resolve));
    // What `npm run modal:deploy` does, into the lane's own app and skills volume; with a proxy URL, checked from a sandbox.
    target = await startKeyProxy({ upstream: 'http://127.0.0.1:9', apiKey: 'live-deploy-check' });
    proxies.push(target);
    const report = await deployModal({
      ...LIVE,
      skillsDir: SKILLS_DIR,
      ...(proxyUrl ? { agent: { proxyPublicUrl: proxyUrl, keyProxyPort: proxyPort } } : {}),
      onStep: (line) => console.log(`[modal live] ${line}`),
    });
    expect(report.images.map((image) => image.role)).toEqual(['user', 'render']);
  }, 30 * 60_000);

  afterAll(async () => {
    await Promise.allSettled(backends.map((b) => b.close()));
    await Promise.allSettled(proxies.map((p) => p.close()));
    forwarder.close();
    await cleanUp();
  }, 10 * 60_000);

  /** Terminates every sandbox of the lane's app and deletes every volume it made. */
  async function cleanUp(): Promise<void> {
    const { createModalClient } = await import('../src/client.js');
    const { listVolumes } = await import('../src/volume-list.js');
    const config = resolveModalConfig(LIVE);
    const { client } = await createModalClient(config);
    try {
      const app = await client.apps.fromName(config.appName, { createIfMissing: true });
      let ended = 0;
      for await (const sandbox of client.sandboxes.list({ appId: app.appId })) {
        await sandbox.terminate().catch(() => undefined);
        ended++;
      }
      const ours = (await listVolumes(client, config)).filter((v) => v.name.startsWith(config.volumePrefix) || v.name === config.skillsVolume);
      for (const volume of ours) await client.volumes.delete(volume.name, { allowMissing: true });
      const left = (await listVolumes(client, config)).filter((v) => v.name.startsWith(config.volumePrefix) || v.name === config.skillsVolume);
      console.log(`[modal live] cleaned up: ${ended} sandboxes terminated, ${ours.length} volumes deleted, ${left.length} left`);
      expect(left).toEqual([]);
    } finally {
      client.close();
    }
  }

  describe('modal-live: what only real Modal can prove', () => {
    const scope = () => ({ userId: randomUUID(), projectId: randomUUID() });
    async function shell(client: ModalClient, sandboxId: string, script: string): Promise<string> {
      const sandbox = await client.sandboxes.fromId(sandboxId);
      const proc = await sandbox.exec(['sh', '-c', script], { stdout: 'pipe', stderr: 'pipe' });
      const [out, code] = await Promise.all([proc.stdout.readText(), proc.wait()]);
      expect(code).toBe(0);
      return out;
    }

    it('a write survives its sandbox being replaced, and a new sandbox sees it as soon as the call returned', async () => {
      const b = make();
      const s = scope();
      await b.files.write(s, 'index.html', 'durable');
      // Another container on the user's volume, while the user's sandbox is still running: the write is committed.
      const client = await b.modalClient();
      const app = await client.apps.fromName(LIVE.appName!);
      const volume = await client.volumes.fromName(`${LIVE.volumePrefix}${s.userId}`, { version: 2 });
      const observer = await client.sandboxes.create(app, client.images.fromRegistry('debian:bookworm-slim'), {
        volumes: { '/v': volume },
        timeoutMs: 300_000,
      });
      try {
        expect(await shell(client, observer.sandboxId, `cat /v/projects/${s.projectId}/index.html`)).toBe('durable');
      } finally {
        await observer.terminate();
      }
      await (await b.userSandbox(s.userId)).terminate();
      expect(await b.files.readText(s, 'index.html')).toBe('durable');
    }, 600_000);

    it('the deployed skills are in the user sandbox, read-only', async () => {
      const b = make();
      const s = scope();
      await b.files.write(s, 'index.html', 'x');
      const client = await b.modalClient();
      const listing = await shell(
        client,
        (await b.userSandbox(s.userId)).sandboxId,
        `ls ${MOUNT.skills}; touch ${MOUNT.skills}/x 2>/dev/null && echo writable || echo read-only`,
      );
      expect(listing).toContain('game-loop');
      expect(listing.trim().endsWith('read-only')).toBe(true);
    }, 600_000);

    it('a sandbox reaped for idleness is replaced, and prewarm revives it', async () => {
      const b = make({ sandbox: { idleTimeoutMs: 10_000 } });
      const s = scope();
      await b.files.write(s, 'index.html', 'kept');
      const first = await b.userSandbox(s.userId);
      await first.wait(); // reaped by Modal after 10 s without activity
      await b.prewarm({ userId: s.userId });
      const revived = await b.userSandbox(s.userId);
      expect(revived.sandboxId).not.toBe(first.sandboxId);
      expect(await revived.poll()).toBeNull();
      expect(await b.files.readText(s, 'index.html')).toBe('kept');
    }, 600_000);
  });

  runConformanceSuite({
    name: 'modal-live',
    timeoutMs: 300_000,
    factory: async (context) => {
      if (context.anthropicBaseUrl) {
        target = await startKeyProxy({ upstream: context.anthropicBaseUrl, apiKey: context.anthropicApiKey ?? 'none' });
        proxies.push(target);
      }
      return make({ gemini: { apiKey: context.geminiApiKey, baseUrl: context.geminiBaseUrl }, sandbox: { idleTimeoutMs: 300_000 } });
    },
    harness: {
      fakeProviders: true,
      async symlink(backend, s, linkPath, link) {
        const root = 'assets' in s ? `${MOUNT.volume}/assets` : `${MOUNT.volume}/projects/${s.projectId}`;
        const to = link.kind === 'project' ? `${MOUNT.volume}/projects/${link.scope.projectId}` : link.path;
        const sandbox = await (backend as ModalBackend).userSandbox(s.userId);
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
