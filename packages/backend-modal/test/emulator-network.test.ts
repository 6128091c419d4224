/**
 * The emulator's network, through the real SDK: a sandbox never reaches this machine's loopback; it reaches what the
 * emulator publishes on its internet address; blockNetwork and the outbound CIDR allowlist are enforced.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from 'modal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorPrerequisites, INTERNET_ADDRESS, type Published } from '../src/emulator/index.js';
import { useEmulatorSdk } from './support/sdk.js';

const lane = emulatorPrerequisites().ok ? describe : describe.skip;

lane('Modal emulator network (real SDK)', () => {
  const { emulator, modal, sandbox } = useEmulatorSdk('network-test');
  let local: net.Server;
  let localPort: number;
  let published: Published;

  beforeAll(async () => {
    // A service on this machine's loopback, as the server's key proxy is.
    local = net.createServer((socket) => socket.end('hello from the host\n'));
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    localPort = (local.address() as net.AddressInfo).port;
    published = await emulator().publish(localPort);
  });
  afterAll(() => void local?.close());

  /** The first line a TCP connection from inside the sandbox gets, or the shell's error. */
  async function connect(sb: Sandbox, host: string, port: number): Promise<string> {
    const proc = await sb.exec(['bash', '-c', `exec 3<>/dev/tcp/${host}/${port} && head -1 <&3`], { stdout: 'pipe', stderr: 'pipe' });
    const [out, err] = await Promise.all([proc.stdout.readText(), proc.stderr.readText(), proc.wait()]);
    return out.trim() || err.trim();
  }

  it("a sandbox cannot reach this machine's loopback, only what is published on the internet address", async () => {
    const sb = await sandbox();
    expect(published.url).toBe(`http://${INTERNET_ADDRESS}:${published.port}`);
    expect(await connect(sb, INTERNET_ADDRESS, published.port)).toBe('hello from the host');
    expect(await connect(sb, '127.0.0.1', localPort)).toMatch(/refused/i);
  });

  it('`modal-emulator setup --check` (what npm run setup provisions) checks the same address', () => {
    const bin = fileURLToPath(new URL('../bin/modal-emulator.js', import.meta.url));
    expect(execFileSync(process.execPath, [bin, 'setup', '--check'], { encoding: 'utf8' })).toContain(` (${INTERNET_ADDRESS} on lo)`);
  });

  it('blockNetwork leaves only the sandbox its own loopback', async () => {
    const sb = await sandbox({ blockNetwork: true });
    expect(await connect(sb, INTERNET_ADDRESS, published.port)).toMatch(/unreachable/i);
  });

  it('the outbound CIDR allowlist is enforced', async () => {
    const allowed = await sandbox({ outboundCidrAllowlist: [`${INTERNET_ADDRESS}/32`] });
    expect(await connect(allowed, INTERNET_ADDRESS, published.port)).toBe('hello from the host');
    const elsewhere = await sandbox({ outboundCidrAllowlist: ['203.0.113.0/24'] });
    expect(await connect(elsewhere, INTERNET_ADDRESS, published.port)).toMatch(/unreachable/i);
    await expect(sandbox({ outboundCidrAllowlist: ['not-a-cidr'] })).rejects.toThrow();
    // What the emulator cannot enforce it refuses rather than pretend.
    await expect(sandbox({ outboundDomainAllowlist: ['example.com'] })).rejects.toThrow();
    // The SDK's own rule: an allowlist and blockNetwork together are a contradiction.
    await expect(sandbox({ blockNetwork: true, outboundCidrAllowlist: [`${INTERNET_ADDRESS}/32`] })).rejects.toBeInstanceOf(modal().InvalidError);
  });
});
