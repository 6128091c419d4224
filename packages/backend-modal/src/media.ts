/**
 * generateImage and renderVideo for the Modal backend, both from @dreamcore/media (the code the local backend runs
 * too), over this backend's files:
 *
 * - generateImage: `createImageGenerator` is generic over any FilesCapability (Gemini call, magenta key, trim, alias
 *   rules), so it runs here in the backend's process and stores the PNG through the Modal files capability (a checked,
 *   synced write into the user's volume).
 * - renderVideo: the project's regular files (no `.git`, no symlinks) are pulled from the volume with one exec of
 *   `tar`, rendered by the media renderer in a temporary folder on this machine, and `movie.mp4` and `thumbnail.webp`
 *   are written back through the files capability. Rendering in separate, bigger sandboxes (as the V2 design has it)
 *   is future work; the renderer is the same either way (`dreamcore-render <folder>` is its command form).
 * - checkGame: the same pull, then @dreamcore/media's game check on the copy, with the user's assets read through the
 *   files capability on demand. It shares renderVideo's switch (`video.enabled`) because it shares its place: until
 *   the render sandbox lands (issue 12), both run game code in this process, which a Modal deployment should not do.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createError,
  isBackendError,
  unsupported,
  validateProjectScope,
  type AssetRef,
  type CheckGameRequest,
  type FilesCapability,
  type GameCheckResult,
  type GenerateImageRequest,
  type RenderVideoRequest,
  type RenderVideoResult,
} from '@dreamcore/runtime-core';
import { checkGameFolder, createImageGenerator, createVideoRenderer, planVideo } from '@dreamcore/media';
import { execBinary } from './client.js';
import type { ModalDeadlines, ModalGeminiOptions, ModalVideoOptions } from './config.js';
import { volumePath } from './files.js';
import type { SandboxPool } from './sandboxes.js';

export function createModalImageGenerator(files: FilesCapability, gemini: ModalGeminiOptions): (request: GenerateImageRequest) => Promise<AssetRef> {
  return createImageGenerator({ files, ...gemini });
}

/** Copies a project's regular files out of the volume into `dir` (one exec; tar runs inside the sandbox). */
async function pullProject(pool: SandboxPool, scope: { userId: string; projectId: string }, dir: string, deadlines: Required<ModalDeadlines>): Promise<void> {
  const root = volumePath(scope);
  const archive = await pool.use(scope.userId, 'renderVideo (pull)', async (sandbox) => {
    const r = await execBinary(
      sandbox,
      ['sh', '-c', '[ -d "$1" ] || exit 4; cd "$1" && find . -path ./.git -prune -o -type f -print0 | tar --null -T - -cf -', 'pull', root],
      { timeoutMs: deadlines.commandMs, rpcMs: deadlines.rpcMs },
    );
    if (r.exitCode === 4) throw createError('NOT_FOUND', 'project not found', { details: { ...scope } });
    if (r.exitCode !== 0) throw createError('RENDER_ERROR', `could not read the project: ${r.stderr.trim().slice(0, 300)}`);
    return r.stdout;
  });
  await mkdir(dir, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    // Regular files only went in; --no-same-owner/permissions keep this machine's defaults.
    const tar = spawn('tar', ['-x', '--no-same-owner', '--no-same-permissions', '-f', '-', '-C', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    tar.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolve() : reject(createError('RENDER_ERROR', `could not unpack the project: ${stderr.trim()}`))));
    tar.stdin.end(Buffer.from(archive));
  });
}

export function createModalVideoRenderer(pool: SandboxPool, files: FilesCapability, options: ModalVideoOptions, deadlines: Required<ModalDeadlines>) {
  const renderer = createVideoRenderer(options.browserExecutable ? { browserExecutable: options.browserExecutable } : {});
  return {
    async renderVideo(request: RenderVideoRequest): Promise<RenderVideoResult> {
      if (!options.enabled) throw unsupported('renderVideo', 'modal');
      const scope = validateProjectScope(request?.scope);
      // Bad settings fail here, before a round trip pulls the project.
      planVideo(request);
      if (request.signal?.aborted) throw createError('CANCELLED', 'video render cancelled');
      const folder = await mkdtemp(path.join(tmpdir(), 'dreamcore-modal-video-'));
      try {
        await pullProject(pool, scope, folder, deadlines);
        const result = await renderer.renderFolder(folder, request);
        if (request.signal?.aborted) throw createError('CANCELLED', 'video render cancelled');
        const movie = await files.write(scope, 'movie.mp4', await readFile(path.join(folder, 'movie.mp4')));
        const thumbnail = await files.write(scope, 'thumbnail.webp', await readFile(path.join(folder, 'thumbnail.webp')));
        return { ...result, movie, thumbnail };
      } catch (error) {
        if (isBackendError(error)) throw error;
        throw createError('RENDER_ERROR', `video render failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      } finally {
        await rm(folder, { recursive: true, force: true }).catch(() => undefined);
      }
    },
    close: () => renderer.close(),
  };
}

export function createModalGameChecker(pool: SandboxPool, files: FilesCapability, options: ModalVideoOptions, deadlines: Required<ModalDeadlines>) {
  return async (request: CheckGameRequest): Promise<GameCheckResult> => {
    if (!options.enabled) throw unsupported('checkGame', 'modal');
    const scope = validateProjectScope(request?.scope);
    if (request.signal?.aborted) throw createError('CANCELLED', 'game check cancelled');
    const folder = await mkdtemp(path.join(tmpdir(), 'dreamcore-modal-check-'));
    try {
      await pullProject(pool, scope, folder, deadlines);
      const assets = { userId: scope.userId, assets: true as const };
      return await checkGameFolder(folder, {
        ...(options.browserExecutable ? { browserExecutable: options.browserExecutable } : {}),
        signal: request.signal,
        assets: { userId: scope.userId, read: (alias) => files.read(assets, alias).catch(() => null) },
      });
    } catch (error) {
      if (isBackendError(error)) throw error;
      throw createError('RENDER_ERROR', `game check failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    } finally {
      await rm(folder, { recursive: true, force: true }).catch(() => undefined);
    }
  };
}
