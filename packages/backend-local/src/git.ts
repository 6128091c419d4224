/**
 * The git capability on the local disk: runtime-core's git operations over `git` child processes, started by the
 * backend's process host (launcher.ts) so that hundreds of commits do not stall the server.
 *
 * Not simple-git: its completion detection waits an extra 50 ms after every command that prints nothing (`add`,
 * `commit -q`, `read-tree`), which made commit + log 1.7× slower than the git CLI in `npm run bench`.
 */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createError, createGitCapability, GIT_ENV, type GitCapability, type GitRunner } from '@dreamcore/runtime-core';
import { scopeRoot } from './files.js';
import { ProcessLauncher } from './launcher.js';

export function createLocalGit(dataDir: string, launcher = new ProcessLauncher()): GitCapability {
  // Only what git needs from the server's environment: no credentials, no user or system config.
  const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', ...GIT_ENV };

  const runner: GitRunner = {
    async run(scope, args) {
      const workTree = scopeRoot(dataDir, scope);
      const result = await launcher.run('git', args, {
        cwd: workTree,
        env: { ...baseEnv, GIT_DIR: path.join(workTree, '.git'), GIT_WORK_TREE: workTree },
        maxBuffer: 256 * 1024 * 1024,
      });
      if (result.exitCode === null) throw createError('UNAVAILABLE', `could not run git: ${result.message ?? `killed by ${result.signal}`}`);
      return { exitCode: result.exitCode, stdout: result.stdout, stderr: Buffer.from(result.stderr).toString('utf8') };
    },

    async probe(scope) {
      const root = scopeRoot(dataDir, scope);
      const [project, repo] = await Promise.all([fs.stat(root).catch(() => null), fs.stat(path.join(root, '.git')).catch(() => null)]);
      return { projectExists: project?.isDirectory() ?? false, repoExists: repo?.isDirectory() ?? false };
    },

    async createProject(scope) {
      const root = scopeRoot(dataDir, scope);
      if ((await fs.stat(root).catch(() => null))?.isDirectory()) return false;
      await fs.mkdir(root, { recursive: true });
      return true;
    },

    // A private directory (0700) in the system temp dir: outside the data directory, so outside every scope.
    async withStagedFile(_scope, bytes, fn) {
      const dir = await fs.mkdtemp(path.join(tmpdir(), 'dreamcore-git-'));
      try {
        const file = path.join(dir, 'staged');
        await fs.writeFile(file, bytes, { mode: 0o600, flag: 'wx' });
        return await fn(file);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  };

  return createGitCapability({ runner });
}
