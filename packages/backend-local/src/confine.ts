/**
 * Confinement for agent processes on this machine: with bubblewrap, the agent sees its project at /workspace
 * (the repository read-only), its own CLI state and the chosen skills, and a read-only system; not the data
 * directory, other users' projects, or the server's files. Without bubblewrap it runs unconfined, and the
 * backend says so at start-up.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Isolation = { kind: 'bubblewrap'; bwrap: string } | { kind: 'none'; reason: string };

/** Paths the agent sees when confined. */
export const SANDBOX = {
  workspace: '/workspace',
  home: '/home/agent',
  configDir: '/home/agent/.claude',
  claude: '/opt/claude/claude',
} as const;

// System files the CLI and its Bash tool need; the rest of /etc (and everything else on the host) stays out.
const ETC_FILES = [
  'passwd',
  'group',
  'hosts',
  'resolv.conf',
  'nsswitch.conf',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'ssl',
  'ca-certificates',
  'alternatives',
  'mime.types',
  'os-release',
  'debian_version',
];

function systemBinds(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  // Debian's merged /usr: /bin, /lib, ... are symlinks into /usr.
  for (const dir of ['bin', 'sbin', 'lib', 'lib64', 'lib32']) {
    if (existsSync(`/usr/${dir}`)) args.push('--symlink', `usr/${dir}`, `/${dir}`);
  }
  for (const file of ETC_FILES) if (existsSync(`/etc/${file}`)) args.push('--ro-bind', `/etc/${file}`, `/etc/${file}`);
  return args;
}

export interface SandboxMounts {
  projectDir: string;
  stateDir: string;
  claudeBinary: string;
  /** Skill folders (each with SKILL.md) to show at ~/.claude/skills/<name>. */
  skills: { name: string; dir: string }[];
  env: Record<string, string>;
  /** A descriptor of the child on which bubblewrap reports the sandbox's first process (see sandboxPid). */
  infoFd?: number;
}

/** The bubblewrap argv that runs `command` confined (command paths are as seen inside). */
export function bubblewrapArgs(mounts: SandboxMounts, command: string[]): string[] {
  const args = [
    '--die-with-parent',
    '--new-session',
    '--unshare-user',
    '--uid',
    '1000',
    '--gid',
    '1000',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--hostname',
    'dreamcore-agent',
    ...systemBinds(),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/home',
    '--bind',
    mounts.stateDir,
    SANDBOX.configDir,
    '--bind',
    mounts.projectDir,
    SANDBOX.workspace,
  ];
  // The repository is the project's history: the agent may read it, never rewrite it (hooks, config, objects).
  if (existsSync(path.join(mounts.projectDir, '.git'))) {
    args.push('--ro-bind', path.join(mounts.projectDir, '.git'), `${SANDBOX.workspace}/.git`);
  }
  for (const skill of mounts.skills) args.push('--ro-bind', skill.dir, `${SANDBOX.configDir}/skills/${skill.name}`);
  args.push('--ro-bind', mounts.claudeBinary, SANDBOX.claude);
  if (mounts.infoFd !== undefined) args.push('--info-fd', String(mounts.infoFd));
  args.push('--chdir', SANDBOX.workspace, '--clearenv');
  for (const [key, value] of Object.entries(mounts.env)) args.push('--setenv', key, value);
  args.push('--', ...command);
  return args;
}

/**
 * The pid (on this side) of pid 1 of the sandbox's pid namespace, from bubblewrap's --info-fd report; null when
 * bubblewrap ended without one. Killing that process ends every process in the sandbox: the kernel takes the whole
 * namespace with it. Killing bubblewrap itself is not enough: its child runs in its own session (--new-session),
 * and if bubblewrap dies before that child has armed --die-with-parent, the child lives on.
 */
export function sandboxPid(info: NodeJS.ReadableStream): Promise<number | null> {
  return new Promise((resolve) => {
    let text = '';
    info.on('data', (chunk: Buffer | string) => {
      text += String(chunk);
      const match = /"child-pid"\s*:\s*(\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    info.once('end', () => resolve(null));
    info.once('error', () => resolve(null));
    info.once('close', () => resolve(null));
  });
}

async function which(binary: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const candidate = path.join(dir, binary);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Finds out, once, whether bubblewrap works here (it needs user namespaces). */
export async function detectIsolation(preference: 'auto' | 'bubblewrap' | 'none' = 'auto'): Promise<Isolation> {
  if (preference === 'none') return { kind: 'none', reason: 'isolation disabled by configuration' };
  const bwrap = await which('bwrap');
  if (!bwrap) {
    const reason = 'bubblewrap (bwrap) is not installed';
    if (preference === 'bubblewrap') throw new Error(reason);
    return { kind: 'none', reason };
  }
  try {
    await run(bwrap, ['--unshare-user', '--unshare-pid', ...systemBinds(), '--proc', '/proc', '--dev', '/dev', '--', '/bin/true'], {
      timeout: 10_000,
    });
    return { kind: 'bubblewrap', bwrap };
  } catch (error) {
    const reason = `bubblewrap cannot create a sandbox here: ${(error as Error).message.split('\n')[0]}`;
    if (preference === 'bubblewrap') throw new Error(reason, { cause: error });
    return { kind: 'none', reason };
  }
}
