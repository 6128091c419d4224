/**
 * generateImage and renderVideo for the Modal backend, both from @dreamcore/media (the code the local backend runs
 * too):
 *
 * - generateImage: `createImageGenerator` is generic over any FilesCapability (Gemini call, magenta key, trim, alias
 *   rules), so it runs in this process and stores the PNG through the Modal files capability (a checked, synced write
 *   into the user's volume). No game code runs.
 * - renderVideo runs on Modal, never here: one render sandbox per render, from the render image (chromium, fonts,
 *   @dreamcore/media with its composition bundled at deploy), bigger than a user sandbox, with no network (the
 *   renderer serves the game from its files and fetches nothing). It mounts the project's folder of the user's v2
 *   volume (subPath), runs `dreamcore-render` there, whose JSON lines are the progress, and `sync`s the folder, so
 *   `movie.mp4` and `thumbnail.webp` are committed before the call returns; then it is terminated. The user's
 *   sandbox reloads its view of the volume (one RPC), so the next read sees the new files. Cancel: SIGTERM to the
 *   renderer (it removes its partial files), then the sandbox is terminated. A failed or cancelled render leaves the
 *   project as it was.
 *
 * - checkGame runs in a render sandbox too (`dreamcore-render --check`): the project folder and the user's asset space
 *   mounted read-only, no network; its one JSON line is the result. Nothing is written.
 *
 * RPCs per render: exists check (exec) + VolumeGetOrCreate + ImageGetByTag (first render only) + SandboxCreateV2 +
 * the render exec + SandboxTerminateV2 + TaskReloadVolumes.
 */
import type { ModalClient, Sandbox } from 'modal';
import {
  createError,
  isBackendError,
  unsupported,
  validateProjectScope,
  type AssetRef,
  type CheckGameRequest,
  type FileEntry,
  type GameCheckResult,
  type FilesCapability,
  type GenerateImageRequest,
  type RenderVideoRequest,
  type RenderVideoResult,
} from '@dreamcore/runtime-core';
import { createImageGenerator, planVideo } from '@dreamcore/media';
import { execText, modalFailure, readLines, withDeadline } from './client.js';
import { RENDER_CACHE_DIR, type ModalGeminiOptions, type ResolvedModalConfig } from './config.js';
import { deployedImage } from './images.js';
import type { SandboxPool } from './sandboxes.js';

export function createModalImageGenerator(files: FilesCapability, gemini: ModalGeminiOptions): (request: GenerateImageRequest) => Promise<AssetRef> {
  return createImageGenerator({ files, ...gemini });
}

/** Where the project's folder, and for the game check the user's asset space, are mounted in a render sandbox. */
const PROJECT = '/project';
const ASSETS = '/assets';

/**
 * `sh -c RENDER_SCRIPT render <dreamcore-render args>`: renders, and commits the folder only when the render
 * succeeded (a failed or cancelled render removes its partial files; there is nothing to keep).
 */
const RENDER_SCRIPT = `dreamcore-render "$@"; code=$?; if [ "$code" = 0 ]; then sync ${PROJECT} || exit 75; fi; exit $code`;

interface RenderLine extends Partial<Omit<GameCheckResult, 'picture'>> {
  /** --check --picture: the WebP in base64. */
  picture?: string;
  type: 'progress' | 'done' | 'checked' | 'error' | string;
  percent?: number;
  stage?: string;
  movie?: FileEntry;
  thumbnail?: FileEntry;
  durationMs?: number;
  frames?: number;
  code?: string;
  message?: string;
}

export interface ModalVideoDeps {
  pool: SandboxPool;
  files: FilesCapability;
  client: () => Promise<ModalClient>;
  config: ResolvedModalConfig;
}

export function createModalVideoRenderer({ pool, files, client, config }: ModalVideoDeps) {
  const { video, deadlines } = config;
  const running = new Set<Sandbox>();
  const env = config.environment ? { environment: config.environment } : {};

  /** A render sandbox for one project: its folder read-write (a render writes the movie), or read-only with the assets. */
  async function renderSandbox(modal: ModalClient, userId: string, projectId: string, purpose: 'render' | 'check'): Promise<Sandbox> {
    return withDeadline(deadlines.sandboxStartMs, 'starting a render sandbox', async () => {
      const [app, volume, image] = await Promise.all([
        modal.apps.fromName(config.appName, { createIfMissing: true, ...env }),
        modal.volumes.fromName(`${config.volumePrefix}${userId}`, { version: 2, ...env }),
        deployedImage(modal, config, 'render'),
      ]);
      const project = volume.withMountOptions({ subPath: `projects/${projectId}`, readOnly: purpose === 'check' });
      return modal.sandboxes.create(app, image, {
        tags: { app: 'dreamcore', role: purpose, user: userId },
        // Only this project's folder (and for a check, the assets it may show); the game code sees nothing else.
        volumes:
          purpose === 'render' ? { [PROJECT]: project } : { [PROJECT]: project, [ASSETS]: volume.withMountOptions({ subPath: 'assets', readOnly: true }) },
        blockNetwork: true,
        cpu: video.cpu,
        memoryMiB: video.memoryMiB,
        timeoutMs: video.timeoutMs,
        env: { LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
      });
    });
  }

  /**
   * Runs `argv` in a new render sandbox for the project, feeding its JSON lines to `onLine`; SIGTERM to the
   * renderer on abort; the sandbox always ends. Returns the lines and the exit code.
   */
  async function inRenderSandbox(
    scope: { userId: string; projectId: string },
    purpose: 'render' | 'check',
    argv: string[],
    signal: AbortSignal | undefined,
    onLine: (line: RenderLine) => void = () => undefined,
  ): Promise<{ lines: RenderLine[]; exitCode: number }> {
    const modal = await client();
    let sandbox: Sandbox | undefined;
    const onAbort = () => {
      // The renderer stops its browsers and encoder and removes partial files on SIGTERM.
      if (sandbox)
        execText(sandbox, ['pkill', '-TERM', '-f', 'dreamcore-render'], { timeoutMs: deadlines.commandMs, rpcMs: deadlines.rpcMs }).catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      sandbox = await renderSandbox(modal, scope.userId, scope.projectId, purpose).catch((error: unknown) => {
        throw modalFailure(error, 'starting a render sandbox');
      });
      running.add(sandbox);
      if (signal?.aborted) onAbort();
      const started = sandbox;
      return await withDeadline(video.timeoutMs + 30_000, purpose === 'render' ? 'rendering the video' : 'checking the game', async () => {
        const proc = await started.exec(argv, { mode: 'text', stdout: 'pipe', stderr: 'pipe' });
        const lines: RenderLine[] = [];
        const [, , exitCode] = await Promise.all([
          readJsonLines(proc.stdout, (line) => {
            lines.push(line);
            onLine(line);
          }),
          proc.stderr.readText(),
          proc.wait(),
        ]);
        return { lines, exitCode };
      });
    } catch (error) {
      if (isBackendError(error)) throw error;
      throw modalFailure(error, purpose === 'render' ? 'rendering the video' : 'checking the game');
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (sandbox) {
        running.delete(sandbox);
        const done = sandbox;
        await withDeadline(deadlines.rpcMs, 'ending the render sandbox', () => done.terminate()).catch(() => undefined);
      }
    }
  }

  /** The error a failed run of the renderer reported (its last line), or RENDER_ERROR. */
  function failure(last: RenderLine | undefined, exitCode: number, what: string) {
    if (last?.type === 'error' && typeof last.code === 'string')
      return createError(isKnownCode(last.code) ? last.code : 'RENDER_ERROR', last.message ?? `${what} failed`);
    return createError('RENDER_ERROR', `${what} failed (exit ${exitCode}${exitCode === 75 ? ': the result could not be committed' : ''})`);
  }

  return {
    async renderVideo(request: RenderVideoRequest): Promise<RenderVideoResult> {
      if (!video.enabled) throw unsupported('renderVideo', 'modal');
      const scope = validateProjectScope(request?.scope);
      // Bad settings fail here, before anything starts on Modal.
      const settings = planVideo(request);
      if (request.signal?.aborted) throw createError('CANCELLED', 'video render cancelled');
      // A project without its game is NOT_FOUND before a sandbox is paid for (and no folder is made for it).
      if (!(await files.exists(scope, 'index.html'))) throw createError('NOT_FOUND', 'the project has no index.html to render', { details: { ...scope } });

      const args = [
        PROJECT,
        '--width',
        String(settings.width),
        '--height',
        String(settings.height),
        '--fps',
        String(settings.fps),
        '--duration',
        String(settings.durationSeconds),
        '--cache-dir',
        RENDER_CACHE_DIR,
        ...(settings.title !== null ? ['--title', settings.title] : []),
      ];
      let lastPercent = -1;
      const { lines, exitCode } = await inRenderSandbox(scope, 'render', ['sh', '-c', RENDER_SCRIPT, 'render', ...args], request.signal, (line) => {
        // Progress only goes up, and 100 comes once: with the files committed (below).
        if (line.type === 'progress' && typeof line.percent === 'number' && line.percent > lastPercent && line.percent < 100) {
          lastPercent = line.percent;
          request.onProgress?.({ percent: line.percent, stage: line.stage ?? 'render' });
        }
      });
      const last = lines.at(-1);
      if (request.signal?.aborted) throw createError('CANCELLED', 'video render cancelled');
      if (exitCode !== 0 || last?.type !== 'done' || !last.movie || !last.thumbnail) throw failure(last, exitCode, 'video render');
      // The user's sandbox reads the volume through its own view: it catches up with the render's commit now.
      await pool.reloadVolumes(scope.userId);
      request.onProgress?.({ percent: 100, stage: 'done' });
      return { movie: last.movie, thumbnail: last.thumbnail, durationMs: last.durationMs ?? settings.durationSeconds * 1000, frames: last.frames ?? 0 };
    },

    async checkGame(request: CheckGameRequest): Promise<GameCheckResult> {
      if (!video.enabled) throw unsupported('checkGame', 'modal');
      const scope = validateProjectScope(request?.scope);
      if (request.signal?.aborted) throw createError('CANCELLED', 'game check cancelled');
      if (!(await files.exists(scope, 'index.html'))) {
        throw createError('NOT_FOUND', 'Game code not found: the project has no index.html', { details: { path: 'index.html' } });
      }
      const { lines, exitCode } = await inRenderSandbox(
        scope,
        'check',
        ['dreamcore-render', '--check', PROJECT, '--assets-dir', ASSETS, '--user-id', scope.userId, ...(request.picture ? ['--picture'] : [])],
        request.signal,
      );
      const last = lines.at(-1);
      if (request.signal?.aborted) throw createError('CANCELLED', 'game check cancelled');
      if (exitCode !== 0 || last?.type !== 'checked' || !last.checks) throw failure(last, exitCode, 'game check');
      return {
        passed: Boolean(last.passed),
        checks: last.checks,
        errors: last.errors ?? [],
        durationMs: last.durationMs ?? 0,
        ...(request.picture && typeof last.picture === 'string' ? { picture: new Uint8Array(Buffer.from(last.picture, 'base64')) } : {}),
      };
    },
    async close() {
      await Promise.allSettled([...running].map((sb) => withDeadline(deadlines.rpcMs, 'ending a render sandbox', () => sb.terminate())));
    },
  };
}

const KNOWN_CODES = new Set(['INVALID_ARGUMENT', 'NOT_FOUND', 'NOT_CONFIGURED', 'CANCELLED', 'RENDER_ERROR', 'TIMEOUT']);
function isKnownCode(code: string): code is 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'NOT_CONFIGURED' | 'CANCELLED' | 'RENDER_ERROR' | 'TIMEOUT' {
  return KNOWN_CODES.has(code);
}

/** Feeds `onLine` the JSON objects among a stream's lines (anything else the renderer prints is ignored). */
function readJsonLines(stream: ReadableStream<string>, onLine: (line: RenderLine) => void): Promise<void> {
  return readLines(stream, (text) => {
    try {
      const value = JSON.parse(text) as unknown;
      if (value && typeof value === 'object') onLine(value as RenderLine);
    } catch {
      // not a report line
    }
  });
}
