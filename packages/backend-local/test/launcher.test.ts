/**
 * The process host that starts git and the agent for the local backend: exact output, streaming, exits and signals,
 * and what happens when the host or the server dies (nothing is left running, nobody waits forever).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessLauncher } from '../src/launcher.js';

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const cwd = tmpdir();
const launchers: ProcessLauncher[] = [];
const launcher2 = (niceness?: number) => {
  const l = new ProcessLauncher({ niceness });
  launchers.push(l);
  return l;
};
const launcher = () => launcher2();

afterEach(async () => {
  await Promise.all(launchers.splice(0).map((l) => l.close()));
});

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

/** The host's pid: the parent of a process it started. */
function parentOf(pid: number): number {
  return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

describe('process launcher', () => {
  it('run returns the exit code and every byte of stdout and stderr', async () => {
    const l = launcher();
    const bytes = Array.from({ length: 256 }, (_, i) => `\\${i.toString(8).padStart(3, '0')}`).join('');
    const result = await l.run('sh', ['-c', `printf '${bytes}'; printf 'oops' >&2; exit 3`], { cwd, env });
    expect(result.exitCode).toBe(3);
    expect(result.signal).toBeNull();
    expect([...result.stdout]).toEqual(Array.from({ length: 256 }, (_, i) => i));
    expect(result.stdout).not.toBeInstanceOf(Buffer); // slice() must copy, as the contract's Uint8Array does
    expect(Buffer.from(result.stderr).toString()).toBe('oops');
  });

  it('runs with exactly the environment and directory given', async () => {
    const result = await launcher().run('sh', ['-c', 'pwd; env | sort'], { cwd: '/usr', env: { ...env, ONLY_THIS: 'yes' } });
    const [dir, ...vars] = Buffer.from(result.stdout).toString().trim().split('\n');
    expect(dir).toBe('/usr');
    expect(vars.filter((v) => !/^(PWD|SHLVL|_)=/.test(v)).sort()).toEqual([`PATH=${env.PATH}`, 'ONLY_THIS=yes'].sort());
  });

  it('a missing program is a result with no exit code and a reason, and spawn rejects', async () => {
    const l = launcher();
    const result = await l.run('/nonexistent/program', [], { cwd, env });
    expect(result.exitCode).toBeNull();
    expect(result.message).toMatch(/ENOENT|nonexistent/);
    await expect(l.spawn('/nonexistent/program', [], { cwd, env })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('spawn hands over the child’s own pipes: output in order on fd 1, 2 and 3, all of it read before exit resolves', async () => {
    const l = launcher();
    const child = await l.spawn('sh', ['-c', 'for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.05; done; echo info >&3; exit 7'], {
      cwd,
      env,
      extraFd: true,
    });
    expect(child.pid).toBeGreaterThan(0);
    const collect = (stream: NodeJS.ReadableStream) =>
      new Promise<string>((resolve) => {
        let text = '';
        stream.on('data', (c) => (text += String(c)));
        stream.on('end', () => resolve(text));
      });
    const [out, err, info, exit] = await Promise.all([collect(child.stdout), collect(child.stderr), collect(child.extra!), child.exit]);
    expect(out).toBe('out1\nout2\nout3\n');
    expect(err).toBe('err1\nerr2\nerr3\n');
    expect(info).toBe('info\n');
    expect(exit).toEqual({ exitCode: 7, signal: null, message: null });
  });

  it('a detached child leads its own process group, so the caller can signal the whole tree', async () => {
    const child = await launcher().spawn('sh', ['-c', 'sleep 300 & echo $!; wait'], { cwd, env, detached: true });
    const grandchild = Number(await new Promise<string>((resolve) => child.stdout.once('data', (c) => resolve(String(c).trim()))));
    process.kill(-child.pid, 'SIGTERM');
    expect(await child.exit).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    await expect.poll(() => alive(grandchild), { timeout: 2_000 }).toBe(false);
  });

  it('processes run at a lower CPU priority than the server, detached ones with their session (autogroup) too', async () => {
    const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    const l = launcher(); // default niceness 19
    const ran = await l.run('cat', ['/proc/self/stat'], { cwd, env });
    expect(niceOf(Buffer.from(ran.stdout).toString())).toBe(19);
    const child = await l.spawn('sleep', ['300'], { cwd, env, detached: true });
    expect(niceOf(readFileSync(`/proc/${child.pid}/stat`, 'utf8'))).toBe(19);
    if (existsSync(`/proc/${child.pid}/autogroup`)) expect(readFileSync(`/proc/${child.pid}/autogroup`, 'utf8')).toMatch(/nice 19/);
    process.kill(-child.pid, 'SIGKILL');
    await child.exit;
    const same = await launcher2(0).run('cat', ['/proc/self/stat'], { cwd, env });
    expect(niceOf(Buffer.from(same.stdout).toString())).toBe(niceOf(readFileSync('/proc/self/stat', 'utf8')));
  });

  it('a host that dies fails what waited on it with UNAVAILABLE, and the next call starts a new host', async () => {
    const l = launcher();
    const child = await l.spawn('sleep', ['300'], { cwd, env });
    const host = parentOf(child.pid);
    const pending = l.run('sleep', ['300'], { cwd, env });
    process.kill(host, 'SIGKILL');
    await expect(pending).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    process.kill(child.pid, 'SIGKILL'); // the dead host's orphan; its pipes are ours, so we see them end
    expect((await child.exit).message).toMatch(/process host stopped/);
    const again = await l.run('sh', ['-c', 'echo back'], { cwd, env });
    expect(Buffer.from(again.stdout).toString()).toBe('back\n');
  });

  it('close stops the host and everything it still runs', async () => {
    const l = launcher();
    const child = await l.spawn('sh', ['-c', 'sleep 300 & wait'], { cwd, env, detached: true });
    const host = parentOf(child.pid);
    await l.close();
    expect((await child.exit).exitCode).toBeNull();
    await expect.poll(() => [alive(host), alive(child.pid)], { timeout: 2_000 }).toEqual([false, false]);
  });

  it('when the server process is killed, the host kills what it runs and exits', async () => {
    const launcherModule = fileURLToPath(new URL('../src/launcher.ts', import.meta.url));
    const script = `
      const { ProcessLauncher } = await import(${JSON.stringify(launcherModule)});
      const child = await new ProcessLauncher().spawn('sleep', ['300'], { cwd: '/', env: { PATH: process.env.PATH }, detached: true });
      console.log(child.pid);
      setInterval(() => {}, 1000);`;
    const server = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: path.dirname(launcherModule),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const sleeper = Number(await new Promise<string>((resolve) => server.stdout!.once('data', (c) => resolve(String(c).trim()))));
    const host = parentOf(sleeper);
    expect(alive(sleeper)).toBe(true);
    server.kill('SIGKILL');
    await expect.poll(() => [alive(host), alive(sleeper)], { timeout: 5_000 }).toEqual([false, false]);
  }, 30_000);
});
