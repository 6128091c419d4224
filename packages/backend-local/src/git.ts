/**
 * The git capability on the local disk: runtime-core's git operations over simple-git child processes.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import { createError, createGitCapability, GIT_ENV, type GitCapability, type GitRunner } from '@dreamcore/runtime-core';
import { scopeRoot } from './files.js';

export function createLocalGit(dataDir: string): GitCapability {
  // Only what git needs from the server's environment: no credentials, no user config.
  const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', ...GIT_ENV };

  const runner: GitRunner = {
    async run(scope, args) {
      const workTree = scopeRoot(dataDir, scope);
      let outcome = { exitCode: 0, stdout: new Uint8Array(), stderr: '' };
      const git = simpleGit({
        baseDir: workTree,
        // The environment below is ours, not user input: it pins config *away* from anything the repository or
        // the host says (no global/system config, hooks to /dev/null, no fsmonitor, `cat` as pager).
        unsafe: {
          allowUnsafeConfigPaths: true,
          allowUnsafeConfigEnvCount: true,
          allowUnsafeHooksPath: true,
          allowUnsafeFsMonitor: true,
          allowUnsafePager: true,
        },
        // simple-git's error hook sees every finished process; keeping its raw result gives exit codes and
        // binary-safe stdout, and returning nothing lets the core decide what a non-zero exit means.
        errors(_error, result) {
          outcome = {
            exitCode: result.exitCode,
            stdout: new Uint8Array(Buffer.concat(result.stdOut)),
            stderr: Buffer.concat(result.stdErr).toString('utf8'),
          };
          return undefined;
        },
      }).env({ ...baseEnv, GIT_DIR: path.join(workTree, '.git'), GIT_WORK_TREE: workTree });
      try {
        await git.raw(args);
      } catch (error) {
        throw createError('UNAVAILABLE', `could not run git: ${(error as Error).message}`, { cause: error });
      }
      return outcome;
    },

    async probe(scope) {
      const root = scopeRoot(dataDir, scope);
      const [project, repo] = await Promise.all([fs.stat(root).catch(() => null), fs.stat(path.join(root, '.git')).catch(() => null)]);
      return { projectExists: project?.isDirectory() ?? false, repoExists: repo?.isDirectory() ?? false };
    },
  };

  return createGitCapability({ runner });
}
