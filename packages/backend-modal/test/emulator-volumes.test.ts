/**
 * The emulator's volumes behave as Modal documents them, seen only through the real SDK: each sandbox works on its
 * own view; v2 volumes commit on `sync <mountpoint>` and when the sandbox ends, v1 volumes only when it ends; other
 * sandboxes see commits when they start or reload; a killed sandbox loses what it did not commit; the last writer
 * wins; asking for the wrong version is the SDK's own InvalidError.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModalClient, Sandbox, Volume } from 'modal';
import { describe, expect, it } from 'vitest';
import { emulatorPrerequisites, startModalEmulator, type ModalEmulator } from '../src/emulator/index.js';
import { useEmulatorSdk } from './support/sdk.js';

const lane = emulatorPrerequisites().ok ? describe : describe.skip;

lane('Modal emulator volumes (real SDK)', () => {
  const { emulator, modal, client, sandbox } = useEmulatorSdk('volumes-test');

  const volume = (version?: 1 | 2) => client().volumes.fromName(`vol-${randomUUID()}`, { createIfMissing: true, ...(version ? { version } : {}) });
  const sandboxWith = (v: Volume) => sandbox({ volumes: { '/vol': v } });
  async function sh(sb: Sandbox, script: string): Promise<string> {
    const proc = await sb.exec(['sh', '-c', script], { stdout: 'pipe', stderr: 'pipe' });
    const [stdout, stderr, code] = await Promise.all([proc.stdout.readText(), proc.stderr.readText(), proc.wait()]);
    if (code !== 0) throw new Error(`exit ${code}: ${stderr}`);
    return stdout;
  }
  const read = (sb: Sandbox, file: string) => sh(sb, `cat /vol/${file} 2>/dev/null || echo missing`);

  it('v2: a write reaches other sandboxes after `sync <mountpoint>`, running ones after a reload', async () => {
    const v = await volume(2);
    const [a, b] = await Promise.all([sandboxWith(v), sandboxWith(v)]);
    await sh(a, 'echo one > /vol/f');
    expect(await read(b, 'f')).toBe('missing\n'); // each sandbox works on its own view
    expect(await read(await sandboxWith(v), 'f')).toBe('missing\n'); // not committed yet
    await sh(a, 'sync /vol');
    expect(await read(await sandboxWith(v), 'f')).toBe('one\n'); // a new sandbox sees the commit
    expect(await read(b, 'f')).toBe('missing\n'); // a running one only after it reloads
    await b.reloadVolumes();
    expect(await read(b, 'f')).toBe('one\n');
  });

  it('v2: `sync` of a path inside the mount commits too, and a removal is committed like a write', async () => {
    const v = await volume(2);
    const a = await sandboxWith(v);
    await sh(a, 'mkdir -p /vol/d/e && echo x > /vol/d/e/f && echo y > /vol/g && sync /vol/d/e/f');
    expect(await read(await sandboxWith(v), 'd/e/f')).toBe('x\n');
    await sh(a, 'rm -r /vol/d && sync /vol');
    expect(await sh(await sandboxWith(v), 'ls -A /vol')).toBe('g\n');
  });

  it('v1 (the default without a version): `sync` commits nothing; the sandbox ending does', async () => {
    const name = `vol-${randomUUID()}`;
    const v = await client().volumes.fromName(name, { createIfMissing: true });
    expect(emulator().volumeVersion(name)).toBe(1);
    const a = await sandboxWith(v);
    await sh(a, 'echo one > /vol/f && sync /vol');
    expect(await read(await sandboxWith(v), 'f')).toBe('missing\n');
    await a.terminate();
    await a.wait();
    expect(await read(await sandboxWith(v), 'f')).toBe('one\n');
  });

  it('a killed sandbox loses what it did not commit; a terminated one commits it', async () => {
    const v = await volume(2);
    const killed = await sandboxWith(v);
    await sh(killed, 'echo synced > /vol/kept && sync /vol && echo unsynced > /vol/lost');
    await emulator().killSandbox(killed.sandboxId);
    const after = await sandboxWith(v);
    expect(await read(after, 'kept')).toBe('synced\n');
    expect(await read(after, 'lost')).toBe('missing\n');

    const terminated = await sandboxWith(v);
    await sh(terminated, 'echo at-exit > /vol/exit');
    await emulator().terminateSandbox(terminated.sandboxId); // out of band, as `modal sandbox terminate`
    expect(await read(await sandboxWith(v), 'exit')).toBe('at-exit\n');
    expect(await terminated.poll()).not.toBeNull();
  });

  it('the last writer wins, file by file', async () => {
    const v = await volume(2);
    const [a, b] = await Promise.all([sandboxWith(v), sandboxWith(v)]);
    await sh(a, 'echo a > /vol/both && echo a > /vol/only-a && sync /vol');
    await sh(b, 'echo b > /vol/both && sync /vol');
    const fresh = await sandboxWith(v);
    expect(await read(fresh, 'both')).toBe('b\n');
    expect(await read(fresh, 'only-a')).toBe('a\n'); // b never touched it, so b's commit leaves it alone
  });

  it('asking for another version is the SDK InvalidError; the version is kept across emulator restarts', async () => {
    const name = `vol-${randomUUID()}`;
    await client().volumes.fromName(name, { createIfMissing: true, version: 1 });
    await expect(client().volumes.fromName(name, { version: 2 })).rejects.toBeInstanceOf(modal().InvalidError);
    await expect(client().volumes.fromName(name, { version: 1 })).resolves.toBeDefined();
    await expect(client().volumes.fromName(name)).resolves.toBeDefined();

    const stateDir = await mkdtemp(path.join(tmpdir(), 'emulator-state-'));
    try {
      const first = await startModalEmulator({ stateDir });
      const id = (await makeClient(first).volumes.fromName('kept', { createIfMissing: true, version: 2 })).volumeId;
      await first.close();
      const second = await startModalEmulator({ stateDir });
      try {
        const again = await makeClient(second).volumes.fromName('kept', { version: 2 });
        expect(again.volumeId).toBe(id);
        expect(second.volumeVersion('kept')).toBe(2);
      } finally {
        await second.close();
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('`sync` of a missing path fails as coreutils does, and any uid in the sandbox may sync', async () => {
    const v = await volume(2);
    const a = await sandboxWith(v);
    const proc = await a.exec(['sync', '/nope'], { stdout: 'pipe', stderr: 'pipe' });
    const [stderr, code] = await Promise.all([proc.stderr.readText(), proc.wait()]);
    expect(code).toBe(1);
    expect(stderr).toContain('/nope');
    await sh(
      a,
      'mkdir -p /vol/shared && chmod 777 /vol/shared && setpriv --reuid=12345 --regid=12345 --clear-groups -- sh -c "echo u > /vol/shared/u && sync /vol"',
    );
    expect(await read(await sandboxWith(v), 'shared/u')).toBe('u\n');
  });

  function makeClient(target: ModalEmulator): ModalClient {
    const saved = process.env.MODAL_SERVER_URL;
    process.env.MODAL_SERVER_URL = target.url;
    try {
      return new (modal().ModalClient)();
    } finally {
      if (saved === undefined) delete process.env.MODAL_SERVER_URL;
      else process.env.MODAL_SERVER_URL = saved;
    }
  }
});
