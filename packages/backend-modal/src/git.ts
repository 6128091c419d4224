/**
 * The git capability on a user's Volume: runtime-core's git operations (createGitCapability, the one place where
 * git logic lives) over a runner that execs `git` in the user's sandbox, as root, with GIT_ENV and the project's
 * GIT_DIR / GIT_WORK_TREE. The agent never runs as root, so it can read the repository but not rewrite it.
 *
 * Durability: a command that changes the repository or the tree (init, add, commit, read-tree, ...) runs as
 * `git …; sync /vol` in the same exec, so each git operation's last write is synced before it resolves, at no extra
 * round trip. A failed `sync` fails the command.
 *
 * RPCs (warm): each git command is one exec = 4 RPCs, 2 in sequence; `probe` is one exec. A commit is
 * probe + add + commit + rev-parse = 4 execs; a log page is probe + log = 2. `importBundle` stages the bundle with
 * `filesystem.writeBytes` into the backend's own `/vol/.tmp` (never inside a project) for `git fetch`.
 */
import { randomBytes } from 'node:crypto';
import { createError, createGitCapability, GIT_ENV, type GitCapability, type GitRunner, type ProjectScope } from '@dreamcore/runtime-core';
import { execBinary, execText, withDeadline } from './client.js';
import { MOUNT, type ModalDeadlines } from './config.js';
import { volumePath } from './files.js';
import type { SandboxPool } from './sandboxes.js';

/** Subcommands that write to the repository or the working tree. */
const MUTATING = new Set([
  'init',
  'add',
  'commit',
  'read-tree',
  'checkout',
  'reset',
  'rm',
  'mv',
  'restore',
  'gc',
  'update-ref',
  'symbolic-ref',
  'tag',
  'fetch',
  'pack-refs',
  'prune',
  'repack',
  'config',
]);

const SYNCED = `git "$@"; code=$?; sync ${MOUNT.volume} || exit 75; exit $code`;

export function createModalGitRunner(pool: SandboxPool, deadlines: Required<ModalDeadlines>): GitRunner {
  const execOptions = { timeoutMs: deadlines.commandMs, rpcMs: deadlines.rpcMs };
  return {
    async run(scope: ProjectScope, args: string[]) {
      const workTree = volumePath(scope);
      const env = { ...GIT_ENV, GIT_DIR: `${workTree}/.git`, GIT_WORK_TREE: workTree, HOME: '/nonexistent' };
      const argv = MUTATING.has(args[0] ?? '') ? ['sh', '-c', SYNCED, 'git', ...args] : ['git', ...args];
      return pool.use(scope.userId, `git ${args[0] ?? ''}`, async (sandbox) => {
        const r = await execBinary(sandbox, argv, { ...execOptions, env, workdir: workTree });
        return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
      });
    },

    async createProject(scope: ProjectScope) {
      const root = volumePath(scope);
      const { exitCode, stderr } = await pool.use(scope.userId, 'git createProject', (sandbox) =>
        execText(sandbox, ['sh', '-c', `[ -d "$1" ] && exit 3; mkdir -p -- "$1" && sync ${MOUNT.volume}`, 'create', root], execOptions),
      );
      if (exitCode === 3) return false;
      if (exitCode !== 0) throw createError('INTERNAL', `could not create the project folder: ${stderr.trim().slice(0, 300)}`);
      return true;
    },

    // The backend's own scratch space on the volume (0700 root, outside every project and the asset space).
    async withStagedFile(scope, bytes, fn) {
      const file = `${MOUNT.volume}/.tmp/git-${randomBytes(9).toString('hex')}`;
      await pool.use(scope.userId, 'git stage', (sandbox) => withDeadline(deadlines.commandMs, 'git stage', () => sandbox.filesystem.writeBytes(bytes, file)));
      try {
        return await fn(file);
      } finally {
        await pool.use(scope.userId, 'git unstage', (sandbox) => execText(sandbox, ['rm', '-f', '--', file], execOptions)).catch(() => undefined); // a leftover is dropped by the next sandbox's entrypoint after an hour
      }
    },

    async probe(scope: ProjectScope) {
      const root = volumePath(scope);
      const { stdout } = await pool.use(scope.userId, 'git probe', (sandbox) =>
        execText(sandbox, ['sh', '-c', '[ -d "$1" ] && printf p; [ -d "$1/.git" ] && printf r; exit 0', 'probe', root], execOptions),
      );
      return { projectExists: stdout.includes('p'), repoExists: stdout.includes('r') };
    },
  };
}

export function createModalGit(pool: SandboxPool, deadlines: Required<ModalDeadlines>): GitCapability {
  return createGitCapability({ runner: createModalGitRunner(pool, deadlines) });
}
