// The same client contract with the Modal backend behind the server, on the local Modal emulator.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createModalBackend, deployModal } from '@dreamcore/backend-modal';
import { startKeyProxy, type KeyProxy } from '@dreamcore/runtime-core';
import { emulatorPrerequisites, startModalEmulator, type ModalEmulator } from '@dreamcore/backend-modal/emulator';
import { loadConfig } from '../src/config.js';
import { contractCases } from './support/contract-cases.js';

let emulator: ModalEmulator | undefined;
let keyProxy: KeyProxy | undefined;

if (emulatorPrerequisites().ok) {
  afterAll(async () => {
    await keyProxy?.close();
    await emulator?.close();
  }, 60_000);

  contractCases('modal', {
    movie: true,
    async makeBackend(standIns) {
      emulator = await startModalEmulator();
      process.env.MODAL_CONFIG_PATH = path.join(emulator.stateDir, 'no-modal.toml');
      const env = emulator.clientEnv();
      const modal = { serverUrl: env.MODAL_SERVER_URL, tokenId: env.MODAL_TOKEN_ID, tokenSecret: env.MODAL_TOKEN_SECRET, appName: 'server-contract' };
      // As in production: `npm run modal:deploy` builds the images and fills the skills volume (the server gives the
      // agent runtime-core's skills) before the server serves anyone.
      await deployModal({ ...modal, log: () => undefined }, {});
      keyProxy = await startKeyProxy({ upstream: standIns.anthropicBaseUrl, apiKey: standIns.anthropicApiKey });
      return createModalBackend({
        ...modal,
        // The key proxy on loopback, reached by sandboxes only at the address the emulator publishes (as behind an ingress).
        agent: { keyProxy, proxyPublicUrl: (await emulator.publish(keyProxy.port)).url },
        gemini: { apiKey: standIns.geminiApiKey, baseUrl: standIns.geminiBaseUrl },
        log: () => undefined,
      });
    },
  });
} else {
  console.warn('server contract on Modal skipped: the emulator prerequisites are missing');
}

describe('server configuration for the Modal backend', () => {
  it('refuses to start without the key proxy public URL, unless the key may go into sandboxes (MODAL_ALLOW_KEY_IN_SANDBOX=true)', () => {
    const modal = { EXECUTION_BACKEND: 'modal', MODAL_TOKEN_ID: 'ak-x', MODAL_TOKEN_SECRET: 'as-x' };
    expect(() => loadConfig(modal)).toThrow(/MODAL_KEY_PROXY_URL[\s\S]*MODAL_ALLOW_KEY_IN_SANDBOX=true/);
    expect(() => loadConfig({ ...modal, MODAL_ALLOW_KEY_IN_SANDBOX: 'false' })).toThrow(/MODAL_KEY_PROXY_URL/);
    expect(loadConfig({ ...modal, MODAL_ALLOW_KEY_IN_SANDBOX: 'true' }).backend).toBe('modal');
    const proxied = loadConfig({ ...modal, MODAL_KEY_PROXY_URL: 'https://keys.example.com', MODAL_KEY_PROXY_PORT: '9787' });
    expect(proxied).toMatchObject({ MODAL_KEY_PROXY_URL: 'https://keys.example.com', MODAL_KEY_PROXY_PORT: 9787, MODAL_KEY_PROXY_HOST: '127.0.0.1' });
  });
});
