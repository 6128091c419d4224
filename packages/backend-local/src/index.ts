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
  validateUserScope,
  type ExecutionBackend,
} from '@dreamcore/runtime-core';
import { createLocalAgent, type LocalAgentOptions } from './agent.js';
import type { Isolation } from './confine.js';
import { createLocalFiles } from './files.js';
import { createLocalImageGenerator, type LocalImageGeneratorOptions } from './image.js';
import { createLocalGit } from './git.js';

export interface LocalBackendOptions {
  /** Root of all user data (created if missing). */
  dataDir: string;
  /** Largest file the files capability reads or writes (default 25 MiB). */
  maxFileBytes?: number;
  /** The agent: model access (key or demo base URL), CLI path, time bounds, skills, isolation. */
  agent?: LocalAgentOptions;
  /** Gemini for generateImage; without an API key calls fail NOT_CONFIGURED (the server answers 503, as V2). */
  gemini?: Omit<LocalImageGeneratorOptions, 'files'>;
}

export interface LocalBackend extends ExecutionBackend {
  /** Absolute data directory this backend owns. */
  readonly dataDir: string;
  /** What confines agent runs here (bubblewrap, or none with the reason). */
  agentIsolation(): Promise<Isolation>;
}

export function createLocalBackend(options: LocalBackendOptions): LocalBackend {
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const name = 'local';
  const agent = createLocalAgent(dataDir, options.agent);
  const files = createLocalFiles({ dataDir, maxFileBytes });

  return {
    name,
    dataDir,
    capabilities: capabilities({
      files: { supported: true, maxFileBytes, symlinks: true },
      git: { supported: true },
      runClaude: { supported: true },
      generateImage: { supported: true },
    }),
    files,
    git: createLocalGit(dataDir),
    runClaude: (request) => agent.runClaude(request),
    agentIsolation: () => agent.isolation(),
    generateImage: createLocalImageGenerator({ files, ...options.gemini }),
    renderVideo: () => unsupportedCall('renderVideo', name),
    async prewarm(scope) {
      validateUserScope(scope);
    },
    async close() {
      await agent.close();
    },
  };
}

export { createLocalFiles, scopeRoot } from './files.js';
export { createLocalGit } from './git.js';
export { createLocalImageGenerator, processImage, keyOutMagenta, DEFAULT_IMAGE_MODEL, type LocalImageGeneratorOptions, type GenerateImage } from './image.js';
export { createLocalAgent, defaultClaudePath, type LocalAgentOptions } from './agent.js';
export { detectIsolation, type Isolation } from './confine.js';
