/**
 * @dreamcore/backend-local: the ExecutionBackend contract on this machine.
 * Files and git live under a data directory laid out as DreamCore-V2's (`users/{userId}/projects/{projectId}/`).
 */
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  capabilities,
  createError,
  DEFAULT_MAX_FILE_BYTES,
  failedRun,
  unsupportedCall,
  validateProjectScope,
  validateUserScope,
  type ExecutionBackend,
  type FilesCapability,
  type GitCapability,
} from '@dreamcore/runtime-core';
import { createLocalAgent, type LocalAgentOptions } from './agent.js';
import type { Isolation } from './confine.js';
import { createLocalFiles, scopeRoot } from './files.js';
import {
  assetReader,
  checkGameFolder,
  sharedChromiumPool,
  type ChromiumPool,
  createImageGenerator,
  createVideoRenderer,
  defaultBrowserExecutable,
  type ImageGeneratorOptions,
  type VideoRendererOptions,
} from '@dreamcore/media';
import { createLocalGit } from './git.js';
import { ProcessLauncher } from './launcher.js';

export interface LocalBackendOptions {
  /** Root of all user data (created if missing, unless `readOnly`). */
  dataDir: string;
  /**
   * Open an existing data directory for reading only, e.g. the source of a migration or a DreamCore-V2 data
   * directory being imported: nothing is created (a missing directory is NOT_FOUND), and every call that would write
   * (files.write/delete/deleteProject, git.init/commit/restore/importBundle, runClaude, generateImage) fails
   * ACCESS_DENIED. Reads, git.log/diff/readAt/verify and git.exportBundle write nothing to the directory.
   */
  readOnly?: boolean;
  /** Largest file the files capability reads or writes (default 25 MiB). */
  maxFileBytes?: number;
  /** The agent: model access (key or demo base URL), CLI path, time bounds, skills, isolation. */
  agent?: LocalAgentOptions;
  /** Gemini for generateImage; without an API key calls fail NOT_CONFIGURED (the server answers 503, as V2). */
  gemini?: Omit<ImageGeneratorOptions, 'files'>;
  /** Promo videos (Remotion + chromium, @dreamcore/media); renderVideo is declared supported when a chromium binary is found. */
  video?: VideoRendererOptions;
  /** Where game checks and gameplay captures get chromium (default: the process's pool, shared by its backends). */
  browsers?: ChromiumPool;
  /**
   * CPU priority (nice value) of the git and agent processes this backend starts; default 19, so that under load
   * they yield to the server process that streams to every user. 0 keeps the server's own priority.
   */
  processNiceness?: number;
}

export interface LocalBackend extends ExecutionBackend {
  /** Absolute data directory this backend owns. */
  readonly dataDir: string;
  /** What confines agent runs here (bubblewrap, or none with the reason). */
  agentIsolation(): Promise<Isolation>;
}

export function createLocalBackend(options: LocalBackendOptions): LocalBackend {
  const dataDir = path.resolve(options.dataDir);
  if (options.readOnly) {
    if (!statSync(dataDir, { throwIfNoEntry: false })?.isDirectory()) {
      throw createError('NOT_FOUND', `data directory ${dataDir} does not exist`, { details: { dataDir } });
    }
  } else {
    mkdirSync(dataDir, { recursive: true });
  }
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const name = 'local';
  // One process host per backend starts its git and agent processes (launcher.ts says why).
  const launcher = new ProcessLauncher({ niceness: options.processNiceness });
  const files = createLocalFiles({ dataDir, maxFileBytes });
  const browser = options.video?.browserExecutable ?? defaultBrowserExecutable();
  // Game checks and gameplay captures share chromium between calls (each still gets a context of its own).
  const browsers = options.browsers ?? sharedChromiumPool();
  const video = createVideoRenderer({ ...options.video, ...(browser ? { browserExecutable: browser } : {}), browsers });
  const git = createLocalGit(dataDir, launcher);
  // A run's `after` (commit, reads) is done in-process with these, right after the CLI ends.
  const agent = createLocalAgent(dataDir, options.agent, launcher, { git, files });
  if (options.readOnly) return readOnlyBackend(name, dataDir, maxFileBytes, files, git, launcher);

  return {
    name,
    dataDir,
    capabilities: capabilities({
      files: { supported: true, maxFileBytes, symlinks: true },
      git: { supported: true },
      runClaude: { supported: true },
      generateImage: { supported: true },
      renderVideo: { supported: browser !== null },
      checkGame: { supported: browser !== null },
    }),
    files,
    git,
    runClaude: (request) => agent.runClaude(request),
    agentIsolation: () => agent.isolation(),
    generateImage: createImageGenerator({ files, ...options.gemini }),
    renderVideo: async (request) => {
      if (!browser) return unsupportedCall('renderVideo', name);
      return video.renderFolder(scopeRoot(dataDir, validateProjectScope(request?.scope)), request);
    },
    // Game code runs in a headless chromium of its own, reaching only this project's files and this user's assets.
    checkGame: async (request) => {
      const scope = validateProjectScope(request?.scope);
      if (!browser) return unsupportedCall('checkGame', name);
      return checkGameFolder(scopeRoot(dataDir, scope), {
        browserExecutable: browser,
        browsers,
        signal: request.signal,
        assets: assetReader(files, scope.userId),
        picture: request.picture === true,
      });
    },
    async prewarm(scope) {
      validateUserScope(scope);
    },
    async close() {
      await Promise.all([agent.close(), video.close()]);
      await launcher.close();
    },
  };
}

function readOnlyBackend(
  name: string,
  dataDir: string,
  maxFileBytes: number,
  files: FilesCapability,
  git: GitCapability,
  launcher: ProcessLauncher,
): LocalBackend {
  const denied = (what: string) => createError('ACCESS_DENIED', `${what}: this backend was opened read-only`, { details: { dataDir } });
  const refuse = (what: string) => async () => Promise.reject(denied(what));
  return {
    name,
    dataDir,
    capabilities: capabilities({ files: { supported: true, maxFileBytes, symlinks: true }, git: { supported: true } }),
    files: { ...files, write: refuse('files.write'), delete: refuse('files.delete'), deleteProject: refuse('files.deleteProject') },
    git: {
      ...git,
      init: refuse('git.init'),
      commit: refuse('git.commit'),
      restore: refuse('git.restore'),
      importBundle: refuse('git.importBundle'),
    },
    runClaude: () => failedRun(denied('runClaude')),
    agentIsolation: async (): Promise<Isolation> => ({ kind: 'none', reason: 'read-only backend: no agent runs' }),
    generateImage: refuse('generateImage'),
    renderVideo: refuse('renderVideo'),
    checkGame: refuse('checkGame'),
    async prewarm(scope) {
      validateUserScope(scope);
    },
    async close() {
      await launcher.close();
    },
  };
}

export { createLocalFiles, scopeRoot } from './files.js';
export { createLocalGit } from './git.js';
export { createLocalAgent, defaultClaudePath, type LocalAgentOptions } from './agent.js';
export { detectIsolation, type Isolation } from './confine.js';
