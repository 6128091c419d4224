/**
 * The Modal emulator, exercised only through the real `modal` SDK (0.11.1) pointed at it with MODAL_SERVER_URL.
 * Nothing in the SDK is stubbed: every assertion below went over gRPC through the SDK's own client code.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { App, Image, ModalClient, Sandbox, SandboxExecParams, Volume } from 'modal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorPrerequisites, startModalEmulator, type ModalEmulator } from '../src/emulator/index.js';

type ModalModule = typeof import('modal');

const prerequisites = emulatorPrerequisites();
const lane = prerequisites.ok ? describe : describe.skip;
if (!prerequisites.ok) console.warn(`Modal emulator tests skipped: missing ${prerequisites.missing.join(', ')}`);

lane('Modal emulator (real SDK over gRPC)', () => {
  let emulator: ModalEmulator;
  let modal: ModalModule;
  let client: ModalClient;
  let app: App;
  let image: Image;
  let volume: Volume;
  let sandbox: Sandbox;

  beforeAll(async () => {
    emulator = await startModalEmulator({ secrets: { 'named-secret': { NAMED: 'from-name', SHARED: 'named' } } });
    // The SDK reads its config file once at import and the environment when a client is made: set both first.
    Object.assign(process.env, emulator.clientEnv(), {
      MODAL_CONFIG_PATH: `${emulator.stateDir}/no-such-modal.toml`,
      MODAL_LOGLEVEL: 'ERROR',
    });
    modal = await import('modal');
    client = new modal.ModalClient();
    app = await client.apps.fromName('emulator-test', { createIfMissing: true });
    // Built from its recipe (procps for pkill and ps); see the image cases below.
    image = client.images
      .fromRegistry('debian:bookworm-slim')
      .dockerfileCommands(['RUN apt-get update && apt-get install -y --no-install-recommends procps && rm -rf /var/lib/apt/lists/*']);
    volume = await client.volumes.fromName('emulator-test-vol', { createIfMissing: true, version: 2 });
    sandbox = await client.sandboxes.create(app, image, {
      cpu: 1,
      memoryMiB: 512,
      timeoutMs: 120_000,
      volumes: { '/vol': volume },
      env: { SANDBOX_LEVEL: 'sandbox' },
      tags: { suite: 'emulator', role: 'main' },
    });
  });

  afterAll(async () => {
    client?.close();
    await emulator?.close();
  });

  async function run(sb: Sandbox, argv: string[], params: Omit<SandboxExecParams, 'mode'> = {}) {
    const proc = await sb.exec(argv, { stdout: 'pipe', stderr: 'pipe', ...params, mode: 'text' });
    const [stdout, stderr, code] = await Promise.all([proc.stdout.readText(), proc.stderr.readText(), proc.wait()]);
    return { stdout, stderr, code };
  }

  it('creates a V2 sandbox and execs with streamed stdout, stderr and the exit code', async () => {
    expect(sandbox.sandboxId).not.toMatch(/^sb-[A-Za-z0-9]{22}$/); // V1 ids take another code path
    const result = await run(sandbox, ['sh', '-c', 'echo hi; echo err >&2; exit 3']);
    expect(result).toEqual({ stdout: 'hi\n', stderr: 'err\n', code: 3 });
    expect(await sandbox.poll()).toBeNull();
  });

  it('streams output while the process is still running, and takes stdin', async () => {
    const proc = await sandbox.exec(['sh', '-c', 'echo first; read line; echo "got $line"'], { stdout: 'pipe' });
    const reader = proc.stdout.getReader();
    const first = await reader.read();
    expect(first.value).toBe('first\n');
    await proc.stdin.writeText('hello\n');
    await proc.stdin.close();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += chunk.value;
    expect(rest).toBe('got hello\n');
    expect(await proc.wait()).toBe(0);
  });

  it('honours exec workdir and binary mode', async () => {
    const proc = await sandbox.exec(['sh', '-c', 'pwd; printf "\\000\\377"'], { workdir: '/tmp', mode: 'binary' });
    const bytes = await proc.stdout.readBytes();
    expect(Buffer.from(bytes).toString('latin1')).toBe('/tmp\n\u0000\u00ff');
    expect(await proc.wait()).toBe(0);
  });

  it('shares files between exec and filesystem.*, and keeps them on the volume for another sandbox once synced', async () => {
    expect((await run(sandbox, ['sh', '-c', 'mkdir -p /vol/p && echo from-exec > /vol/p/a.txt'])).code).toBe(0);
    expect(await sandbox.filesystem.readText('/vol/p/a.txt')).toBe('from-exec\n');

    await sandbox.filesystem.writeText('from-fs', '/vol/p/deep/b.txt'); // parents are created
    expect((await run(sandbox, ['cat', '/vol/p/deep/b.txt'])).stdout).toBe('from-fs');
    expect((await run(sandbox, ['sync', '/vol'])).code).toBe(0); // commits the v2 volume

    // /tmp and home persist between execs of one sandbox (and are private to it).
    await run(sandbox, ['sh', '-c', 'echo t > /tmp/t && echo h > ~/h']);
    expect((await run(sandbox, ['sh', '-c', 'cat /tmp/t ~/h'])).stdout).toBe('t\nh\n');

    const other = await client.sandboxes.create(app, image, { volumes: { '/data': volume }, timeoutMs: 60_000 });
    try {
      expect(await other.filesystem.readText('/data/p/deep/b.txt')).toBe('from-fs');
      expect((await run(other, ['cat', '/data/p/a.txt'])).stdout).toBe('from-exec\n');
      expect((await run(other, ['sh', '-c', 'ls /tmp; test -e ~/h'])).code).toBe(1);
    } finally {
      await other.terminate();
    }
    // The committed state is a plain folder on the host.
    expect(readFileSync(`${emulator.volumePath('emulator-test-vol')}/p/deep/b.txt`, 'utf8')).toBe('from-fs');
  });

  it('round-trips binary content through writeBytes/readBytes', async () => {
    const every = Uint8Array.from({ length: 256 }, (_, i) => i);
    const big = new Uint8Array(randomBytes(600 * 1024)); // crosses the SDK's 256 KiB stdin chunking
    await sandbox.filesystem.writeBytes(every, '/vol/bin/every.bin');
    await sandbox.filesystem.writeBytes(big, '/tmp/big.bin');
    expect(Buffer.from(await sandbox.filesystem.readBytes('/vol/bin/every.bin')).equals(Buffer.from(every))).toBe(true);
    expect(Buffer.from(await sandbox.filesystem.readBytes('/tmp/big.bin')).equals(Buffer.from(big))).toBe(true);
    expect((await run(sandbox, ['sh', '-c', 'wc -c < /tmp/big.bin'])).stdout.trim()).toBe(String(big.length));
  });

  it('lists, stats, makes and removes, with the SDK typed errors', async () => {
    const fs = sandbox.filesystem;
    await fs.makeDirectory('/vol/tree/a/b');
    await fs.makeDirectory('/vol/tree/a/b'); // idempotent with parents
    await expect(fs.makeDirectory('/vol/tree/x/y', { createParents: false })).rejects.toBeInstanceOf(modal.SandboxFilesystemNotFoundError);
    await expect(fs.makeDirectory('/vol/tree/a', { createParents: false })).rejects.toBeInstanceOf(modal.SandboxFilesystemPathAlreadyExistsError);
    await fs.writeText('12345', '/vol/tree/a/file.txt');
    await run(sandbox, ['ln', '-s', 'file.txt', '/vol/tree/a/link']);

    const entries = await fs.listFiles('/vol/tree/a');
    expect(entries.map((e) => [e.name, e.type, e.path])).toEqual([
      ['b', 'directory', '/vol/tree/a/b'],
      ['file.txt', 'file', '/vol/tree/a/file.txt'],
      ['link', 'symlink', '/vol/tree/a/link'],
    ]);
    const info = await fs.stat('/vol/tree/a/file.txt');
    expect(info).toMatchObject({ name: 'file.txt', type: 'file', size: 5, permissions: '0644', owner: 'root' });
    expect(Math.abs(info.modifiedTime - Date.now() / 1000)).toBeLessThan(60);
    expect((await fs.stat('/vol/tree/a/link')).symlinkTarget).toBe('file.txt');
    expect(await fs.readText('/vol/tree/a/link')).toBe('12345');

    await expect(fs.readText('/vol/tree/missing')).rejects.toBeInstanceOf(modal.SandboxFilesystemNotFoundError);
    await expect(fs.readText('/vol/tree/a')).rejects.toBeInstanceOf(modal.SandboxFilesystemIsADirectoryError);
    await expect(fs.listFiles('/vol/tree/a/file.txt')).rejects.toBeInstanceOf(modal.SandboxFilesystemNotADirectoryError);
    await expect(fs.stat('/vol/tree/nope')).rejects.toBeInstanceOf(modal.SandboxFilesystemNotFoundError);
    await expect(fs.writeText('x', '/vol/tree/a/file.txt/child')).rejects.toBeInstanceOf(modal.SandboxFilesystemNotADirectoryError);
    await expect(fs.writeText('x', '/usr/nope.txt')).rejects.toBeInstanceOf(modal.SandboxFilesystemPermissionError);

    await expect(fs.remove('/vol/tree/a')).rejects.toBeInstanceOf(modal.SandboxFilesystemDirectoryNotEmptyError);
    await fs.remove('/vol/tree/a/link');
    expect(await fs.readText('/vol/tree/a/file.txt')).toBe('12345'); // removing a link leaves its target
    await fs.remove('/vol/tree', { recursive: true });
    await expect(fs.stat('/vol/tree')).rejects.toBeInstanceOf(modal.SandboxFilesystemNotFoundError);
    await expect(fs.remove('/vol/tree')).rejects.toBeInstanceOf(modal.SandboxFilesystemNotFoundError);
  });

  it('passes sandbox env and secrets, and exec env and secrets', async () => {
    const objectSecret = await client.secrets.fromObject({ FROM_OBJECT: 'object', SHARED: 'object' });
    const namedSecret = await client.secrets.fromName('named-secret', { requiredKeys: ['NAMED'] });
    await expect(client.secrets.fromName('named-secret', { requiredKeys: ['MISSING'] })).rejects.toBeInstanceOf(modal.NotFoundError);
    const sb = await client.sandboxes.create(app, image, {
      env: { ENV_VAR: 'env' },
      secrets: [namedSecret, objectSecret],
      workdir: '/srv/app',
      timeoutMs: 60_000,
    });
    try {
      const printenv = ['sh', '-c', 'echo "$ENV_VAR $NAMED $FROM_OBJECT $SHARED $EXEC_VAR $EXEC_SECRET $HOME"; pwd'];
      expect((await run(sb, printenv)).stdout).toBe('env from-name object object   /root\n/srv/app\n');
      const execSecret = await client.secrets.fromObject({ EXEC_SECRET: 'exec-secret' });
      const result = await run(sb, printenv, { env: { EXEC_VAR: 'exec' }, secrets: [execSecret] });
      expect(result.stdout).toBe('env from-name object object exec exec-secret /root\n/srv/app\n');
    } finally {
      await sb.terminate();
    }
  });

  it('reports a process killed from a second exec as 128 + signal', async () => {
    const victim = await sandbox.exec(['sleep', '321.5'], { stdout: 'ignore', stderr: 'ignore' });
    // The [.] keeps the pattern from matching the killer's own `sh -c` command line.
    const killer = await run(sandbox, ['sh', '-c', 'sleep 0.2; pkill -f "sleep 321[.]5"']);
    expect(killer.code).toBe(0);
    expect(await victim.wait()).toBe(128 + 15);

    const hard = await sandbox.exec(['sleep', '321.6'], { stdout: 'ignore', stderr: 'ignore' });
    await run(sandbox, ['sh', '-c', 'sleep 0.2; pkill -KILL -f "sleep 321[.]6"']);
    expect(await hard.wait()).toBe(128 + 9);
  });

  it('kills an exec at its timeoutMs', async () => {
    const proc = await sandbox.exec(['sleep', '30'], { timeoutMs: 1000, stdout: 'ignore', stderr: 'ignore' });
    const started = Date.now();
    expect(await proc.wait()).toBe(137);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('keeps the host out of the sandbox', async () => {
    const probe = await run(sandbox, [
      'sh',
      '-c',
      'test -e /work && echo work; ls -A /root; test -e /root/.bashrc && echo rc; ' +
        '. /etc/os-release && echo "$ID"; touch /usr/x 2>/dev/null || echo ro; ps -e -o comm= | wc -l',
    ]);
    const lines = probe.stdout.trim().split('\n');
    expect(lines).not.toContain('work');
    expect(lines).not.toContain('rc');
    expect(lines).toContain('debian'); // this machine's /etc
    expect(lines).toContain('ro');
    expect(Number(lines.at(-1))).toBeLessThan(20); // its own PID namespace
    if (existsSync('/work')) {
      // A symlink planted in the sandbox resolves inside the sandbox, also for filesystem.* (served by the emulator).
      await run(sandbox, ['ln', '-sf', '/work', '/tmp/escape']);
      await expect(sandbox.filesystem.listFiles('/tmp/escape')).rejects.toBeInstanceOf(modal.SandboxFilesystemNotFoundError);
    }
  });

  it('finds sandboxes by id, by name and by tags', async () => {
    const named = await client.sandboxes.create(app, image, {
      name: 'unique-name',
      tags: { suite: 'emulator', role: 'named' },
    });
    try {
      const found = await client.sandboxes.fromName('emulator-test', 'unique-name');
      expect(found.sandboxId).toBe(named.sandboxId);
      expect((await run(found, ['echo', 'via-name'])).stdout).toBe('via-name\n');
      const byId = await client.sandboxes.fromId(sandbox.sandboxId);
      expect((await run(byId, ['echo', 'via-id'])).stdout).toBe('via-id\n');

      await expect(client.sandboxes.create(app, image, { name: 'unique-name' })).rejects.toBeInstanceOf(modal.AlreadyExistsError);
      await expect(client.sandboxes.fromName('emulator-test', 'no-such-name')).rejects.toBeInstanceOf(modal.NotFoundError);

      const ids = async (tags: Record<string, string>) => {
        const out: string[] = [];
        for await (const sb of client.sandboxes.list({ appId: app.appId, tags })) out.push(sb.sandboxId);
        return out.sort();
      };
      expect(await ids({ suite: 'emulator' })).toEqual([sandbox.sandboxId, named.sandboxId].sort());
      expect(await ids({ role: 'named' })).toEqual([named.sandboxId]);
      await named.setTags({ role: 'renamed' });
      expect(await named.getTags()).toEqual({ role: 'renamed' });
      expect(await ids({ role: 'named' })).toEqual([]);
    } finally {
      await named.terminate();
    }
    // A terminated sandbox frees its name.
    const again = await client.sandboxes.create(app, image, { name: 'unique-name' });
    await again.terminate();
  });

  it('terminate() ends running execs and wait() returns', async () => {
    const sb = await client.sandboxes.create(app, image, { timeoutMs: 60_000 });
    const proc = await sb.exec(['sleep', '60'], { stdout: 'ignore', stderr: 'ignore' });
    expect(await sb.poll()).toBeNull();
    await sb.terminate();
    expect(await sb.wait()).toBe(137);
    expect(await sb.poll()).toBe(137);
    expect(await proc.wait()).toBe(137);
    await expect(sb.exec(['true'])).rejects.toThrow();
    expect(emulator.runningSandboxes()).not.toContain(sb.sandboxId);
  });

  it('ends sandboxes at timeoutMs and after idleTimeoutMs without exec activity', async () => {
    const started = Date.now();
    const timed = await client.sandboxes.create(app, image, { timeoutMs: 1000 });
    const idle = await client.sandboxes.create(app, image, { timeoutMs: 60_000, idleTimeoutMs: 1000 });
    // A running exec is activity: the idle sandbox outlives its idle timeout while this runs.
    const busy = await idle.exec(['sleep', '1.6'], { stdout: 'ignore', stderr: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(await idle.poll()).toBeNull();
    expect(await busy.wait()).toBe(0);
    expect(await timed.wait()).toBe(124);
    expect(await idle.wait()).toBe(0); // GENERIC_STATUS_IDLE_TIMEOUT carries no exit code
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(emulator.runningSandboxes()).not.toContain(idle.sandboxId);
  });

  it('counts RPCs per method and adds the configured per-RPC delay, cold start and exec start', async () => {
    emulator.resetCounts();
    await run(sandbox, ['true']);
    expect(emulator.rpcCounts()).toEqual({ TaskExecStart: 1, TaskExecStdioRead: 2, TaskExecWait: 1 });

    const slow = await startModalEmulator({ rpcDelayMs: 150, coldStartMs: 800, execMs: 200 });
    const saved = process.env['MODAL_SERVER_URL'];
    process.env['MODAL_SERVER_URL'] = slow.url; // a client reads the URL when it is constructed
    const slowClient = new modal.ModalClient();
    process.env['MODAL_SERVER_URL'] = saved;
    try {
      const started = Date.now();
      await slowClient.apps.fromName('slow', { createIfMissing: true }); // AuthTokenGet + AppGetOrCreate
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(slow.rpcCounts()).toEqual({ AppGetOrCreate: 1, AuthTokenGet: 1 });
      // A new sandbox runs its first exec only after its cold start; every exec pays its start.
      const slowApp = await slowClient.apps.fromName('slow', { createIfMissing: true });
      const created = Date.now();
      const sb = await slowClient.sandboxes.create(slowApp, slowClient.images.fromRegistry('debian:bookworm-slim'), { timeoutMs: 60_000 });
      expect(await (await sb.exec(['true'])).wait()).toBe(0);
      expect(Date.now() - created).toBeGreaterThanOrEqual(800 + 200);
      const again = Date.now();
      expect(await (await sb.exec(['true'])).wait()).toBe(0);
      expect(Date.now() - again).toBeGreaterThanOrEqual(200 + 150);
      await sb.terminate();
    } finally {
      slowClient.close();
      await slow.close();
    }
  });
});
