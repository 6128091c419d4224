/**
 * What the backend's emulator test files share: one emulator and one scripted model per file, a key proxy in front
 * of the model that sandboxes reach only through the emulator's internet address (as in production, through an
 * ingress), backends made against them and closed at the end, and a shell in a user's sandbox.
 */
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startKeyProxy, type KeyProxy } from '@dreamcore/runtime-core';
import { startModelServer, type ModelServer } from '@dreamcore/runtime-core/testkit';
import { startModalEmulator, type ModalEmulator, type ModalEmulatorOptions } from '../../src/emulator/index.js';
import { createModalBackend, deployModal, type DeployReport, type ModalBackend, type ModalBackendOptions } from '../../src/index.js';

export interface EmulatedLane {
  emulator(): ModalEmulator;
  model(): ModelServer;
  /** The key proxy in front of the model (on loopback) and the public URL sandboxes reach it at. */
  keyProxy(): { proxy: KeyProxy; publicUrl: string };
  /** A backend on this file's emulator (closed after the file); `extra` overrides the defaults. */
  make(extra?: Partial<ModalBackendOptions>): ModalBackend;
}

export function useEmulatedBackends(appName: string, emulatorOptions: ModalEmulatorOptions = {}): EmulatedLane {
  let emulator: ModalEmulator | undefined;
  let model: ModelServer | undefined;
  let keyProxy: { proxy: KeyProxy; publicUrl: string } | undefined;
  const backends: ModalBackend[] = [];
  beforeAll(async () => {
    emulator = await startModalEmulator(emulatorOptions);
    // The SDK reads its config file at import: never a developer's own ~/.modal.toml here.
    process.env.MODAL_CONFIG_PATH = path.join(emulator.stateDir, 'no-modal.toml');
    // As in production: the images are built and published before any backend needs them.
    await deployForTests(emulator, appName);
    model = await startModelServer();
    keyProxy = await publishedKeyProxy(emulator, model.url, 'sk-test');
    // The first build of the images on a machine takes a while (the render image bundles the promo composition).
  }, 300_000);
  afterAll(async () => {
    emulator?.setReachable(true);
    await Promise.allSettled(backends.map((b) => b.close()));
    await keyProxy?.proxy.close();
    await model?.close();
    await emulator?.close();
  }, 60_000);
  const lane: EmulatedLane = {
    emulator: () => emulator ?? fail('the emulator did not start'),
    model: () => model ?? fail('the model server did not start'),
    keyProxy: () => keyProxy ?? fail('the key proxy did not start'),
    make(extra = {}) {
      const env = lane.emulator().clientEnv();
      const backend = createModalBackend({
        serverUrl: env.MODAL_SERVER_URL,
        tokenId: env.MODAL_TOKEN_ID,
        tokenSecret: env.MODAL_TOKEN_SECRET,
        appName,
        agent: { keyProxy: lane.keyProxy().proxy, proxyPublicUrl: lane.keyProxy().publicUrl, maxRetries: 0 },
        log: () => undefined,
        ...extra,
      });
      backends.push(backend);
      return backend;
    },
  };
  return lane;
}

/** `dreamcore-modal deploy` against a test emulator (images only: no skills folder, no proxy check). */
export function deployForTests(emulator: ModalEmulator, appName: string, extra: Parameters<typeof deployModal>[0] = {}): Promise<DeployReport> {
  const env = emulator.clientEnv();
  return deployModal(
    {
      serverUrl: env.MODAL_SERVER_URL,
      tokenId: env.MODAL_TOKEN_ID,
      tokenSecret: env.MODAL_TOKEN_SECRET,
      appName,
      skillsDir: path.join(emulator.stateDir, 'no-skills-folder'),
      log: () => undefined,
      ...extra,
    },
    {},
  );
}

/**
 * A key proxy for `upstream` on this machine's loopback, published on the emulator's internet address: the public URL
 * is the only way a sandbox reaches it.
 */
export async function publishedKeyProxy(emulator: ModalEmulator, upstream: string, apiKey: string): Promise<{ proxy: KeyProxy; publicUrl: string }> {
  const proxy = await startKeyProxy({ upstream, apiKey });
  return { proxy, publicUrl: (await emulator.publish(proxy.port)).url };
}

/** Runs a shell script in the user's sandbox; throws with its stderr when it fails. */
export async function sh(backend: ModalBackend, userId: string, script: string): Promise<string> {
  const sandbox = await backend.userSandbox(userId);
  const proc = await sandbox.exec(['sh', '-c', script], { stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([proc.stdout.readText(), proc.stderr.readText(), proc.wait()]);
  if (code !== 0) throw new Error(`exec failed (${code}): ${stderr}`);
  return stdout;
}

function fail(message: string): never {
  throw new Error(message);
}
