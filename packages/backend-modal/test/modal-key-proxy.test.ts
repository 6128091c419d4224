/**
 * The provider key stays in this process and sandboxes reach the model only through the key proxy's public URL, as on
 * Modal where a sandbox cannot see this machine's loopback. The emulator's network enforces that (see
 * src/emulator/network.ts), so a backend that handed out the proxy's loopback URL would fail here as on Modal.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isBackendError, type BackendError } from '@dreamcore/runtime-core';
import { emulatorPrerequisites, INTERNET_ADDRESS } from '../src/emulator/index.js';
import { createModalBackend, resolveModalConfig } from '../src/index.js';
import { sh, useEmulatedBackends } from './support/emulated.js';

const lane = emulatorPrerequisites().ok ? describe : describe.skip;
const tokens = { tokenId: 'ak-x', tokenSecret: 'as-x' };

describe('Modal key proxy configuration', () => {
  const refusal = (options: Parameters<typeof createModalBackend>[0]) => {
    try {
      createModalBackend({ ...tokens, log: () => undefined, ...options });
    } catch (error) {
      return error as BackendError;
    }
    return undefined;
  };

  it('without a public proxy URL the key would go into sandboxes: refused unless explicitly allowed', () => {
    const error = refusal({ agent: { anthropicApiKey: 'sk-real' } });
    expect(isBackendError(error, 'NOT_CONFIGURED')).toBe(true);
    expect(error!.message).toContain('MODAL_KEY_PROXY_URL');
    expect(error!.message).toContain('MODAL_ALLOW_KEY_IN_SANDBOX=true');
    const warnings: string[] = [];
    const allowed = createModalBackend({ ...tokens, agent: { anthropicApiKey: 'sk-real', allowKeyInSandbox: true }, log: (m) => warnings.push(m) });
    expect(allowed.keyMode).toBe('secret');
    expect(warnings.join('\n')).toMatch(/WARNING.*environment/);
    expect(resolveModalConfig({ ...tokens, agent: { anthropicApiKey: 'k' } }, { MODAL_ALLOW_KEY_IN_SANDBOX: 'true' }).keyMode).toBe('secret');
  });

  it('a loopback, plain-http (on Modal) or portless proxy URL is refused', () => {
    for (const [agent, needle] of [
      [{ anthropicApiKey: 'k', proxyPublicUrl: 'http://127.0.0.1:8787', keyProxyPort: 8787 }, 'loopback'],
      [{ anthropicApiKey: 'k', proxyPublicUrl: 'https://localhost:8787', keyProxyPort: 8787 }, 'loopback'],
      [{ anthropicApiKey: 'k', proxyPublicUrl: 'http://keys.example.com', keyProxyPort: 8787 }, 'https'],
      [{ anthropicApiKey: 'k', proxyPublicUrl: 'https://keys.example.com' }, 'MODAL_KEY_PROXY_PORT'],
    ] as const) {
      const error = refusal({ agent });
      expect(isBackendError(error, 'NOT_CONFIGURED'), JSON.stringify(agent)).toBe(true);
      expect(error!.message).toContain(needle);
    }
    const ok = resolveModalConfig(
      { ...tokens, agent: { anthropicApiKey: 'k' } },
      { MODAL_KEY_PROXY_URL: 'https://keys.example.com', MODAL_KEY_PROXY_PORT: '8787' },
    );
    expect(ok.keyMode).toBe('proxy');
    expect(ok.agent).toMatchObject({ proxyPublicUrl: 'https://keys.example.com', keyProxyPort: 8787, keyProxyHost: '127.0.0.1' });
  });
});

lane('Modal key proxy, through the emulator network', () => {
  const { keyProxy, model, make } = useEmulatedBackends('key-proxy');

  it('the agent reaches the model only through the public URL; the loopback address is out of reach', async () => {
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'x');
    const { proxy, publicUrl } = keyProxy();
    expect(publicUrl.startsWith(`http://${INTERNET_ADDRESS}:`)).toBe(true);
    model().setScript((_request, ctx) =>
      ctx.turnIndex === 0
        ? { text: 'Checking.', toolUses: [{ name: 'Bash', input: { command: 'echo "$ANTHROPIC_BASE_URL"', description: 'x' } }] }
        : { text: 'Done.' },
    );
    const before = proxy.stats.forwarded;
    const events = [];
    const run = b.runClaude({ scope, prompt: 'where is the model?' });
    for await (const event of run) events.push(event);
    expect((await run.result).exitCode).toBe(0);
    expect(events.find((e) => e.type === 'tool_result')).toMatchObject({ content: expect.stringContaining(publicUrl) });
    expect(proxy.stats.forwarded).toBeGreaterThan(before);
    // From inside the user's sandbox: the proxy's own (loopback) address is refused, the public one answers.
    const loopbackPort = new URL(proxy.url).port;
    const probe = await sh(
      b,
      scope.userId,
      `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${loopbackPort}' 2>&1 | tail -1; bash -c 'exec 3<>/dev/tcp/${new URL(publicUrl).hostname}/${new URL(publicUrl).port} && echo public-ok'`,
    );
    expect(probe).toMatch(/refused/i);
    expect(probe).toContain('public-ok');
  }, 60_000);

  it("a user sandbox may reach only the proxy's address", async () => {
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'x');
    // Anything else is not routed at all (an open network would let the connection try, and hang).
    const probe = await sh(b, scope.userId, `timeout 10 bash -c 'exec 3<>/dev/tcp/203.0.113.5/80' 2>&1 | tail -1; true`);
    expect(probe).toMatch(/unreachable/i);
  });
});
