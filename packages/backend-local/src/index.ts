/**
 * @dreamcore/backend-local: the ExecutionBackend contract on this machine.
 * Files and git live under a data directory laid out as DreamCore-V2's (`users/{userId}/projects/{projectId}/`).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  capabilities,
  DEFAULT_MAX_FILE_BYTES,
  unsupportedCall,
  unsupportedRun,
  validateUserScope,
  type ExecutionBackend,
} from '@dreamcore/runtime-core';
import { createLocalFiles } from './files.js';
import { createLocalGit } from './git.js';

export interface LocalBackendOptions {
  /** Root of all user data (created if missing). */
  dataDir: string;
  /** Largest file the files capability reads or writes (default 25 MiB). */
  maxFileBytes?: number;
}

export interface LocalBackend extends ExecutionBackend {
  /** Absolute data directory this backend owns. */
  readonly dataDir: string;
}

export function createLocalBackend(options: LocalBackendOptions): LocalBackend {
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const name = 'local';
  let closed = false;

  return {
    name,
    dataDir,
    capabilities: capabilities({
      files: { supported: true, maxFileBytes, symlinks: true },
      git: { supported: true },
    }),
    files: createLocalFiles({ dataDir, maxFileBytes }),
    git: createLocalGit(dataDir),
    runClaude: () => unsupportedRun(name),
    generateImage: () => unsupportedCall('generateImage', name),
    renderVideo: () => unsupportedCall('renderVideo', name),
    async prewarm(scope) {
      validateUserScope(scope);
    },
    async close() {
      closed = true;
      void closed;
    },
  };
}

export { createLocalFiles, scopeRoot } from './files.js';
export { createLocalGit } from './git.js';
