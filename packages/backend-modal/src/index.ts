/**
 * @dreamcore/backend-modal: the ExecutionBackend contract on Modal, through Modal's official JS SDK (`modal`, 0.11.1).
 *
 * - A Volume per user (`dreamcore-user-{userId}`: `projects/{projectId}/…`, `assets/…`) and a global skills Volume.
 * - One warm, named sandbox per active user (sandboxes.ts), shared by files (files.ts), git (git.ts) and agent runs
 *   (agent.ts); `prewarm` starts it ahead of the first call.
 * - generateImage runs in this process over this backend's files; renderVideo and checkGame run in render sandboxes (media.ts).
 *
 *   const backend = createModalBackend({ agent: { anthropicApiKey, proxyPublicUrl } }); // tokens from MODAL_TOKEN_*
 */
import type { ModalClient } from 'modal';
import {
  capabilities,
  createError,
  failedRun,
  validateUserScope,
  type ExecutionBackend,
  type FilesCapability,
  type GitCapability,
} from '@dreamcore/runtime-core';
import { createModalAgent } from './agent.js';
import { createModalClient, type ModalSdk } from './client.js';
import { listVolumes } from './volume-list.js';
import { resolveModalConfig, type ModalBackendOptions, type ResolvedModalConfig } from './config.js';
import { createModalFiles } from './files.js';
import { createModalGit } from './git.js';
import { createModalImageGenerator, createModalVideoRenderer } from './media.js';
import { createSandboxPool, type SandboxPool } from './sandboxes.js';

export interface ModalBackend extends ExecutionBackend {
  readonly config: Readonly<ResolvedModalConfig>;
  /** How agents reach the model: 'proxy' (the key stays in this process) or 'secret' (Modal Secret fallback). */
  readonly keyMode: 'proxy' | 'secret';
  /** The SDK client, once created (for tests and diagnostics). */
  modalClient(): Promise<ModalClient>;
  /** The user's running sandbox (created if needed): tests use it to act as an agent with a shell would. */
  userSandbox(userId: string): ReturnType<SandboxPool['get']>;
}

export function createModalBackend(options: ModalBackendOptions = {}): ModalBackend {
  const config = resolveModalConfig(options);
  const name = 'modal';
  // The SDK is loaded and its client made on first use: creating a backend contacts nothing.
  let made: Promise<{ sdk: ModalSdk; client: ModalClient }> | undefined;
  const modal = () => (made ??= createModalClient(config));
  let closed = false;
  const pool = createSandboxPool({ modal, config });

  const closedError = () => createError('UNAVAILABLE', 'the Modal backend is closed');
  const guarded = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(object, key, receiver) {
        const value = Reflect.get(object, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (closed ? Promise.reject(closedError()) : (value as (...a: unknown[]) => unknown).apply(object, args));
      },
    });

  const files: FilesCapability = guarded(
    createModalFiles({
      pool,
      maxFileBytes: config.maxFileBytes,
      deadlines: config.deadlines,
      volumePrefix: config.volumePrefix,
      listUserVolumes: async () => (await listVolumes((await modal()).client, config)).map((volume) => volume.name),
    }),
  );
  const git: GitCapability = guarded(createModalGit(pool, config.deadlines));
  // A run's `after` is done in its own sandbox request; these serve it where that cannot be (no command helper).
  const agent = createModalAgent({ pool, client: async () => (await modal()).client, config, capabilities: { git, files } });
  const image = createModalImageGenerator(files, config.gemini);
  // Promo videos and the game check run game code: on Modal, in render sandboxes, never in this process.
  const video = createModalVideoRenderer({ pool, files, client: async () => (await modal()).client, config });

  return {
    name,
    config,
    keyMode: agent.keyMode,
    capabilities: capabilities({
      files: { supported: true, maxFileBytes: config.maxFileBytes, symlinks: true },
      git: { supported: true },
      runClaude: { supported: true },
      generateImage: { supported: true },
      renderVideo: { supported: Boolean(config.video.enabled) },
      checkGame: { supported: Boolean(config.video.enabled) },
    }),
    files,
    git,
    runClaude: (request) => (closed ? failedRun(closedError()) : agent.runClaude(request)),
    generateImage: (request) => (closed ? Promise.reject(closedError()) : image(request)),
    renderVideo: (request) => (closed ? Promise.reject(closedError()) : video.renderVideo(request)),
    checkGame: (request) => (closed ? Promise.reject(closedError()) : video.checkGame(request)),
    // On connect: a sandbox that was reaped or ended while the user was away is replaced now, off their path.
    async prewarm(scope) {
      const { userId } = validateUserScope(scope);
      await pool.revive(userId);
    },
    modalClient: async () => (await modal()).client,
    userSandbox: (userId) => pool.get(validateUserScope({ userId }).userId),
    async close() {
      if (closed) return;
      closed = true;
      await video.close();
      await agent.close();
      await pool.close();
      if (made) (await made.catch(() => null))?.client.close();
    },
  };
}

export { deployModal, type DeployOptions, type DeployReport } from './deploy.js';
export { migrateV1Volumes, type MigrateV1Options, type MigrateV1Report } from './migrate-v1.js';
export { imageSpec, DEPLOY_COMMAND, type ImageRole, type ImageSpec } from './images.js';
export { createModalFiles, volumePath } from './files.js';
export { createModalGit, createModalGitRunner } from './git.js';
export { createModalAgent, agentUid } from './agent.js';
export { createSandboxPool, sandboxName } from './sandboxes.js';
export {
  CLAUDE_CODE_VERSION,
  DEFAULT_BASE_IMAGE,
  DEFAULT_CLAUDE_PATH,
  MOUNT,
  defaultImageCommands,
  defaultRenderImageCommands,
  MEDIA_VERSION,
  MIGRATE_V1_COMMAND,
  RENDER_CACHE_DIR,
  isLoopbackUrl,
  resolveModalConfig,
  type ModalAgentOptions,
  type ModalBackendOptions,
  type ModalGeminiOptions,
  type ModalSandboxOptions,
  type ModalVideoOptions,
  type ResolvedModalConfig,
} from './config.js';
