/**
 * For the emulator's own test files: one emulator per file, the real SDK pointed at it, an app and an image, and the
 * sandboxes a case made, terminated at the end.
 */
import type { App, Image, ModalClient, Sandbox, SandboxCreateParams } from 'modal';
import { afterAll, beforeAll } from 'vitest';
import { startModalEmulator, type ModalEmulator } from '../../src/emulator/index.js';

export interface EmulatorSdk {
  emulator(): ModalEmulator;
  modal(): typeof import('modal');
  client(): ModalClient;
  app(): App;
  image(): Image;
  /** A sandbox of this file's app (terminated after the file). */
  sandbox(params?: SandboxCreateParams): Promise<Sandbox>;
}

export function useEmulatorSdk(appName: string): EmulatorSdk {
  let state: { emulator: ModalEmulator; modal: typeof import('modal'); client: ModalClient; app: App; image: Image } | undefined;
  const open: Sandbox[] = [];
  beforeAll(async () => {
    const emulator = await startModalEmulator();
    // The SDK reads its config file once at import and the environment when a client is made: set both first.
    Object.assign(process.env, emulator.clientEnv(), { MODAL_CONFIG_PATH: `${emulator.stateDir}/no-modal.toml`, MODAL_LOGLEVEL: 'ERROR' });
    const modal = await import('modal');
    const client = new modal.ModalClient();
    state = {
      emulator,
      modal,
      client,
      app: await client.apps.fromName(appName, { createIfMissing: true }),
      image: client.images.fromRegistry('debian:bookworm-slim'),
    };
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((sb) => sb.terminate()));
    state?.client.close();
    await state?.emulator.close();
  });
  const get = () => state ?? fail();
  return {
    emulator: () => get().emulator,
    modal: () => get().modal,
    client: () => get().client,
    app: () => get().app,
    image: () => get().image,
    async sandbox(params = {}) {
      const sb = await get().client.sandboxes.create(get().app, get().image, { timeoutMs: 120_000, ...params });
      open.push(sb);
      return sb;
    },
  };
}

function fail(): never {
  throw new Error('the emulator did not start');
}
