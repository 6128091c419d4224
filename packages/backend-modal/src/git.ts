/**
 * The git capability on a user's Volume: runtime-core's git operations (createGitCapability, the one place where
 * git logic lives) over a runner that execs `git` in the user's sandbox, as root, with GIT_ENV and the project's
 * GIT_DIR / GIT_WORK_TREE. The agent never runs as root, so it can read the repository but not rewrite it.
 *
 * Durability: a command that changes the repository or the tree (init, add, commit, read-tree, ...) runs as
 * `git …; sync /vol` in the same command, so each git operation's last write is synced before it resolves, at no extra
 * round trip (a sequence syncs once, after its last step). A failed `sync` fails the command.
 *
 * RPCs (warm, command helper running: helper.ts): each git command is 1 RPC; a commit (probe + add + commit +
 * rev-parse), a log page (probe + log) and a new project's repository (probe + init + add + commit + rev-parse) are
 * one `sequence` each, so 1 RPC, one round trip. Without the helper: an
 * exec per command, 4 RPCs in two round trips. `importBundle` stages the bundle on stdin into the backend's own
 * `/vol/.tmp` (never inside a project) for `git fetch`.
 */
import { randomBytes } from 'node:crypto';
import {
  createError,
  createGitCapability,
  GIT_ENV,
  sequenceRuns,
  type GitCapability,
  type GitRunner,
  type GitSequenceResult,
  type GitStep,
  type ProjectScope,
} from '@dreamcore/runtime-core';
import type { HelperStep } from './helper.js';
import { execBinary, execSteps, execText } from './client.js';
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

/** The helper's own probe (helper.ts `@probe`): `p` when the project exists, `r` when its repository does. */
const PROBE = ['@probe'];

const gitEnv = (workTree: string) => ({ ...GIT_ENV, GIT_DIR: `${workTree}/.git`, GIT_WORK_TREE: workTree, HOME: '/nonexistent' });

export function createModalGitRunner(pool: SandboxPool, deadlines: Required<ModalDeadlines>): GitRunner {
  const execOptions = { timeoutMs: deadlines.commandMs, rpcMs: deadlines.rpcMs };
  return {
    async run(scope: ProjectScope, args: string[]) {
      const workTree = volumePath(scope);
      const env = gitEnv(workTree);
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
      await pool.use(scope.userId, 'git stage', async (sandbox) => {
        const r = await execText(sandbox, ['sh', '-c', 'umask 077; mkdir -p -- "${1%/*}"; cat > "$1"', 'stage', file], { ...execOptions, stdin: bytes });
        if (r.exitCode !== 0) throw createError('INTERNAL', `could not stage the bundle: ${r.stderr.trim().slice(0, 300)}`);
      });
      try {
        return await fn(file);
      } finally {
        await pool.use(scope.userId, 'git unstage', (sandbox) => execText(sandbox, ['rm', '-f', '--', file], execOptions)).catch(() => undefined); // a leftover is dropped by the next sandbox's entrypoint after an hour
      }
    },

    async probe(scope: ProjectScope) {
      const [probe] = await pool.use(scope.userId, 'git probe', (sandbox) => execSteps(sandbox, [{ argv: [...PROBE, volumePath(scope)] }], execOptions));
      const seen = new TextDecoder().decode(probe!.stdout);
      return { projectExists: seen.includes('p'), repoExists: seen.includes('r') };
    },

    // The probe and every step in one command list: one round trip through the sandbox's helper.
    async sequence(scope: ProjectScope, steps: GitStep[], options: { create?: boolean } = {}) {
      const commands = gitSequenceSteps(scope, steps, options);
      const results = await pool.use(scope.userId, `git ${steps[0]?.args[0] ?? ''}`, (sandbox) => execSteps(sandbox, commands, execOptions));
      return gitSequenceResult(steps, results, options);
    },
  };
}

/**
 * A git sequence (GitRunner.sequence) as helper steps: the probe, each git step, and one sync after them when a step
 * changes the repository. Exported for an agent run that commits in its own request (`after.commit`). `create`: the
 * first step makes the repository (GitRunner.sequence), so it runs only where there is none yet.
 */
export function gitSequenceSteps(
  scope: ProjectScope,
  steps: GitStep[],
  { sync = true, create = false }: { sync?: boolean; create?: boolean } = {},
): HelperStep[] {
  const workTree = volumePath(scope);
  const env = gitEnv(workTree);
  // git only inside an existing repository (a sequence's steps run without waiting for the probe's answer): checked
  // by the helper before it starts git (exit 125 otherwise), no shell in between. With `create`, the first step only
  // in a project without one (the steps after it then find the repository it made).
  const commands = steps.map((step, i) => ({
    argv: ['git', ...step.args],
    env,
    workdir: workTree,
    ...(create && i === 0 ? { requires: [workTree], absent: [env.GIT_DIR] } : { requires: [workTree, env.GIT_DIR] }),
    ...(step.mayFail ? { mayFail: true } : {}),
  }));
  // One sync after the steps instead of one per changing step: it runs unless a step that may not fail failed (the
  // operation then fails, and git's own lock files leave the repository as it was). `sync: false`: the caller's
  // request syncs after it anyway (an agent run's, at its end).
  const syncs = sync && steps.some((step) => MUTATING.has(step.args[0] ?? ''));
  return [{ argv: [...PROBE, workTree] }, ...commands, ...(syncs ? [{ argv: ['sync', MOUNT.volume] }] : [])];
}

/** What the steps of `gitSequenceSteps` answered (those that ran, in order), as GitRunner.sequence reports it. */
export function gitSequenceResult(
  steps: GitStep[],
  answered: { exitCode: number; stdout: Uint8Array; stderr: Uint8Array | string }[],
  { create = false }: { create?: boolean } = {},
): GitSequenceResult {
  const [probe, ...results] = answered;
  const syncs = steps.some((step) => MUTATING.has(step.args[0] ?? ''));
  if (syncs && results.length > steps.length) {
    const synced = results.pop()!;
    if (synced.exitCode !== 0) throw createError('INTERNAL', `the volume could not be synced: ${stderrText(synced.stderr).trim().slice(0, 300)}`);
  }
  const seen = probe ? new TextDecoder().decode(probe.stdout) : '';
  const projectExists = seen.includes('p');
  const repoExists = seen.includes('r');
  return {
    projectExists,
    repoExists,
    results: sequenceRuns({ projectExists, repoExists }, create)
      ? results.map((r) => ({ exitCode: r.exitCode, stdout: r.stdout, stderr: stderrText(r.stderr) }))
      : [],
  };
}

const stderrText = (stderr: Uint8Array | string) => (typeof stderr === 'string' ? stderr : new TextDecoder().decode(stderr));

export function createModalGit(pool: SandboxPool, deadlines: Required<ModalDeadlines>): GitCapability {
  return createGitCapability({ runner: createModalGitRunner(pool, deadlines) });
}
