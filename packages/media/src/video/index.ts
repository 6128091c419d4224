/**
 * The promo video of a game folder: capture the game deterministically (capture.ts), compose a promo with Remotion
 * (bundle.ts, compose.ts), and write `movie.mp4` and `thumbnail.webp` into the folder atomically. Backends map a
 * project scope to its folder (the local data directory, a Modal volume mounted in a render sandbox) and call
 * `renderFolder`; the `dreamcore-render` command (cli.ts) does the same for one folder.
 *
 * The capture, the bundle and the render run side by side: Remotion starts on the title card while the game is still
 * being captured and waits for each gameplay frame it needs (frame-server.ts). The output cannot depend on that timing.
 * Progress is the weighted sum of the stages (capture 30, bundle 5, render 60, thumbnail 5), reported with the earliest
 * unfinished stage's name, and ends with one 100 'done'.
 * Cancel (the request's AbortSignal, or close()) stops both browsers and the encoder, removes partial files and
 * rejects with CANCELLED once they are gone; a render that fails otherwise rejects with RENDER_ERROR and leaves the
 * project as it was.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createError, isBackendError, resolveInsideRoot, type FileEntry, type RenderVideoRequest, type RenderVideoResult } from '@dreamcore/runtime-core';
import type { ChromiumPool } from '../browser-pool.js';
import { captureGameplay } from './capture.js';
import { getBundle } from './bundle.js';
import { composePromo, type PromoProps, type RenderTuning } from './compose.js';
import { FRAME_EXTENSION, startFrameServer, type FrameServer } from './frame-server.js';
import { cleanTitle, planVideo, VIDEO_LIMITS, type PlanOptions, type VideoPlan, type VideoSettings } from './options.js';

export interface VideoTimings {
  captureMs: number;
  bundleMs: number;
  bundleCached: boolean;
  bundler: 'rspack' | 'webpack';
  /** openBrowser + selectComposition. */
  browserMs: number;
  renderMs: number;
  /** renderStill + WebP. */
  thumbnailMs: number;
  totalMs: number;
  capturedFrames: number;
}

export interface VideoTuning extends RenderTuning, PlanOptions {
  /** JPEG quality of the captured gameplay frames (default 85). */
  captureJpegQuality?: number;
  /** Render while the game is still being captured (default true). */
  pipeline?: boolean;
}

export interface VideoRendererOptions {
  /** Chromium binary for both the capture and Remotion (default: Debian's headless shell, else its chromium). Nothing is ever downloaded. */
  browserExecutable?: string;
  /** Where bundled compositions are cached (default: defaultBundleCacheDir(), `<tmpdir>/dreamcore-remotion-bundles`). */
  cacheDir?: string;
  /** Renders running at once; more wait their turn (default 1: one render already uses both cores here). */
  maxConcurrent?: number;
  /** Knobs (defaults measured on a 2-core machine; see compose.ts and options.ts). */
  tuning?: VideoTuning;
  /** Per-stage timings of every finished render (the benchmark reads them). */
  onTimings?: (timings: VideoTimings) => void;
  /** Browsers kept open between calls for the gameplay capture (a backend's, shared with its game checks). */
  browsers?: ChromiumPool;
}

export interface VideoRenderer {
  /**
   * Renders the game in `folder` (its `index.html` and the files it loads) into `folder/movie.mp4` and
   * `folder/thumbnail.webp`. The settings are the contract's RenderVideoRequest without the scope: the caller has
   * already turned the scope into the folder.
   */
  renderFolder(folder: string, settings?: VideoSettings): Promise<RenderVideoResult>;
  /** Cancels every render in progress or queued and waits for their processes to end. */
  close(): Promise<void>;
}

/** Where bundled compositions are kept unless told otherwise (an image can bake one in with `dreamcore-render --prepare`). */
export function defaultBundleCacheDir(): string {
  return path.join(tmpdir(), 'dreamcore-remotion-bundles');
}

/**
 * Debian's `chromium-headless-shell` first: the same chromium without the browser's UI layer (chromium's old headless
 * mode, what Remotion and Playwright run headless by default). Everything here is headless, and a game check there
 * takes 0.3–0.4× the time and CPU it takes on full chromium in headless mode (`npm run bench -- check`; the test files
 * that check, capture and render: 0.7× the CPU). Full chromium when the shell is not installed.
 */
export const CHROMIUM_CANDIDATES = {
  'headless-shell': ['/usr/lib/chromium/chromium-headless-shell'],
  full: ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'],
} as const;

/** The first installed chromium of a kind (default: the headless shell, else full chromium), or null. */
export function installedChromium(kind?: keyof typeof CHROMIUM_CANDIDATES): string | null {
  const candidates = kind ? CHROMIUM_CANDIDATES[kind] : [...CHROMIUM_CANDIDATES['headless-shell'], ...CHROMIUM_CANDIDATES.full];
  return candidates.find((candidate) => existsSync(candidate)) ?? null;
}

export function defaultBrowserExecutable(): string | null {
  return process.env.DREAMCORE_CHROMIUM || installedChromium();
}

/** Share of the progress bar per stage. Capture and render overlap in time, so the bar is their weighted sum. */
const STAGE_WEIGHTS = { capture: 30, bundle: 5, render: 60, thumbnail: 5 } as const;
type Stage = keyof typeof STAGE_WEIGHTS;
const STAGE_ORDER: Stage[] = ['capture', 'bundle', 'render', 'thumbnail'];

function progressReporter(onProgress: RenderVideoRequest['onProgress']) {
  const done: Record<Stage, number> = { capture: 0, bundle: 0, render: 0, thumbnail: 0 };
  let last = -1;
  let lastStage = '';
  const emit = (percent: number, stage: string) => {
    // Monotonic and whole: a client's progress bar never goes back or gets a flood of fractional updates.
    const value = Math.max(last, Math.min(100, Math.floor(percent)));
    if (value === last && stage === lastStage) return;
    last = value;
    lastStage = stage;
    try {
      onProgress?.({ percent: value, stage });
    } catch {
      // A throwing progress listener is the caller's bug; it must not fail the render.
    }
  };
  return {
    update(stage: Stage, fraction: number) {
      done[stage] = Math.max(done[stage], Math.max(0, Math.min(1, fraction)));
      const percent = STAGE_ORDER.reduce((sum, s) => sum + STAGE_WEIGHTS[s] * done[s], 0);
      // The stage shown is the earliest one not finished: what the job is waiting for.
      const current = STAGE_ORDER.find((s) => done[s] < 1) ?? 'thumbnail';
      emit(Math.min(99, percent), current);
    },
    finish: () => emit(100, 'done'),
  };
}

/** Title for the cards: the request's, else PUBLISH.json's, else the page's <title>, else a neutral default. */
async function resolveTitle(plan: VideoPlan, projectDir: string, html: string): Promise<string> {
  if (plan.title) return plan.title;
  try {
    const { absolute } = await resolveInsideRoot(projectDir, 'PUBLISH.json');
    const publish = JSON.parse(await fs.readFile(absolute, 'utf8')) as { title?: unknown };
    if (typeof publish.title === 'string' && cleanTitle(publish.title) !== '') {
      return cleanTitle(publish.title).slice(0, VIDEO_LIMITS.maxTitleLength);
    }
  } catch {
    // no PUBLISH.json, or not JSON: fall through
  }
  const match = /<title[^>]*>([^<]*)<\/title>/i.exec(html);
  const fromPage = match ? cleanTitle(decodeEntities(match[1]!)) : '';
  return fromPage !== '' ? fromPage.slice(0, VIDEO_LIMITS.maxTitleLength) : 'My DreamCore Game';
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return named[entity.toLowerCase()] ?? whole;
  });
}

/** A FIFO limit on concurrent renders whose waiters can leave the queue when cancelled. */
function createLimiter(max: number) {
  let running = 0;
  const queue: { start: () => void; signal: AbortSignal }[] = [];
  const next = () => {
    while (running < max && queue.length > 0) {
      const waiter = queue.shift()!;
      if (waiter.signal.aborted) continue;
      running++;
      waiter.start();
    }
  };
  return async <T>(signal: AbortSignal, task: () => Promise<T>): Promise<T> => {
    if (running >= max || queue.length > 0) {
      await new Promise<void>((resolve, reject) => {
        const waiter = { start: resolve, signal };
        queue.push(waiter);
        signal.addEventListener(
          'abort',
          () => {
            const index = queue.indexOf(waiter);
            if (index >= 0) queue.splice(index, 1);
            reject(createError('CANCELLED', 'video render cancelled'));
          },
          { once: true },
        );
      });
    } else {
      running++;
    }
    try {
      return await task();
    } finally {
      running--;
      next();
    }
  };
}

function cancelled(): Error {
  return createError('CANCELLED', 'video render cancelled');
}

async function fileEntry(relative: string, absolute: string): Promise<FileEntry> {
  const stats = await fs.stat(absolute);
  return { path: relative, kind: 'file', size: stats.size, mtime: stats.mtime.toISOString() };
}

export function createVideoRenderer(options: VideoRendererOptions = {}): VideoRenderer {
  const cacheDir = options.cacheDir ?? defaultBundleCacheDir();
  const limit = createLimiter(Math.max(1, options.maxConcurrent ?? 1));
  const tuning = options.tuning ?? {};
  const jobs = new Set<{ controller: AbortController; done: Promise<unknown> }>();
  let closed = false;

  /** Everything that can fail fast (arguments, missing game, no browser) fails before a render takes a slot. */
  async function run(folder: string, request: VideoSettings, signal: AbortSignal): Promise<RenderVideoResult> {
    const plan = planVideo(request, tuning);
    const browserExecutable = options.browserExecutable ?? defaultBrowserExecutable();
    if (!browserExecutable || !existsSync(browserExecutable)) {
      throw createError('NOT_CONFIGURED', 'no chromium found for video rendering (install chromium or set DREAMCORE_CHROMIUM)', {
        details: { browserExecutable },
      });
    }
    const projectDir = path.resolve(folder);
    let html: string;
    try {
      const { absolute } = await resolveInsideRoot(projectDir, 'index.html');
      html = await fs.readFile(absolute, 'utf8');
    } catch (error) {
      if (isBackendError(error) && error.code !== 'NOT_FOUND') throw error;
      throw createError('NOT_FOUND', 'Game code not found: the project has no index.html', { details: { path: 'index.html' } });
    }
    const title = await resolveTitle(plan, projectDir, html);
    return limit(signal, () => renderPlanned(plan, title, projectDir, browserExecutable, request, signal));
  }

  async function renderPlanned(
    plan: VideoPlan,
    title: string,
    projectDir: string,
    browserExecutable: string,
    request: VideoSettings,
    signal: AbortSignal,
  ): Promise<RenderVideoResult> {
    const started = performance.now();
    const progress = progressReporter(request.onProgress);
    progress.update('capture', 0);
    // Outputs are checked like any project write (no symlink out of the project), rendered under hidden temporary
    // names beside their targets (same filesystem) and renamed into place only when both are complete.
    const movie = await resolveInsideRoot(projectDir, 'movie.mp4');
    const thumbnail = await resolveInsideRoot(projectDir, 'thumbnail.webp');
    const suffix = randomBytes(6).toString('hex');
    const movieTemp = path.join(movie.root, `.movie-${suffix}.tmp.mp4`);
    const thumbnailTemp = path.join(movie.root, `.thumbnail-${suffix}.tmp.webp`);

    // Capture and render run side by side; either failing stops the other, and the first real error is reported.
    const inner = new AbortController();
    const stopAll = () => inner.abort();
    signal.addEventListener('abort', stopAll, { once: true });
    if (signal.aborted) inner.abort();
    let firstError: unknown;
    const fail = (error: unknown) => {
      firstError ??= error;
      inner.abort();
    };
    let server: FrameServer | undefined;
    const composeTimings: Record<string, number> = {};
    let captureMs = 0;
    const tasks: Promise<unknown>[] = [];
    try {
      const frames = (server = await startFrameServer(plan.captureFrames));
      const bundleStarted = performance.now();
      const bundling = getBundle({ cacheDir, rspack: true }, (fraction) => progress.update('bundle', fraction)).then((result) => ({
        ...result,
        ms: Math.round(performance.now() - bundleStarted),
      }));

      const captureStarted = performance.now();
      const capturing = captureGameplay({
        projectDir: movie.root,
        width: plan.captureWidth,
        height: plan.captureHeight,
        fps: plan.captureFps,
        frames: plan.captureFrames,
        browserExecutable,
        ...(options.browsers ? { browsers: options.browsers } : {}),
        jpegQuality: tuning.captureJpegQuality ?? 85,
        signal: inner.signal,
        onFrame: (index, jpeg) => {
          frames.put(index, jpeg);
          progress.update('capture', (index + 1) / plan.captureFrames);
        },
      }).then(
        (result) => {
          captureMs = Math.round(performance.now() - captureStarted);
          return result;
        },
        (error: unknown) => {
          frames.fail();
          fail(error);
          throw error;
        },
      );

      // Normally the composition starts as soon as the bundle is ready and waits for frames as it needs them;
      // `pipeline: false` waits for the whole capture first (for measuring what the overlap buys).
      const ready = tuning.pipeline === false ? Promise.all([bundling, capturing]).then(([bundled]) => bundled) : bundling;
      const composing = ready.then(async (bundled) => {
        progress.update('bundle', 1);
        const props: PromoProps = {
          title,
          subtitle: 'Made with DreamCore',
          callToAction: 'Play now',
          framesBaseUrl: frames.baseUrl,
          frameCount: plan.captureFrames,
          frameExtension: FRAME_EXTENSION,
          captureFps: plan.captureFps,
          fps: plan.composeFps,
          width: plan.width,
          height: plan.height,
          titleFrames: plan.titleFrames,
          gameplayFrames: plan.gameplayFrames,
          endFrames: plan.endFrames,
          fadeFrames: plan.fadeFrames,
        };
        await composePromo({
          ...tuning,
          serveUrl: bundled.serveUrl,
          browserExecutable,
          props,
          output: plan.repeat > 1 ? { fps: plan.fps, frames: plan.totalFrames } : undefined,
          thumbnailFrame: plan.thumbnailFrame,
          movieOut: movieTemp,
          thumbnailOut: thumbnailTemp,
          signal: inner.signal,
          onStage: (stage, fraction) => progress.update(stage, fraction),
          timings: composeTimings,
        });
        return bundled;
      });
      composing.catch(fail);
      tasks.push(capturing, composing);

      const [capture, bundled] = await Promise.all([capturing, composing]);
      if (signal.aborted) throw cancelled();
      await fs.rename(movieTemp, movie.absolute);
      await fs.rename(thumbnailTemp, thumbnail.absolute);
      const result: RenderVideoResult = {
        movie: await fileEntry('movie.mp4', movie.absolute),
        thumbnail: await fileEntry('thumbnail.webp', thumbnail.absolute),
        durationMs: Math.round((plan.totalFrames * 1000) / plan.fps),
        frames: plan.totalFrames,
      };
      progress.finish();
      options.onTimings?.({
        captureMs,
        bundleMs: bundled.ms,
        bundleCached: bundled.cached,
        bundler: bundled.bundler,
        browserMs: composeTimings['openBrowser+select'] ?? 0,
        renderMs: composeTimings.renderMedia ?? 0,
        thumbnailMs: (composeTimings.renderStill ?? 0) + (composeTimings.webp ?? 0),
        totalMs: Math.round(performance.now() - started),
        capturedFrames: capture.frames,
      });
      return result;
    } catch (error) {
      fail(error);
      // Wait for both halves to wind down, so no browser or encoder outlives the call.
      await Promise.allSettled(tasks);
      if (signal.aborted) throw cancelled();
      const reported = firstError ?? error;
      if (isBackendError(reported)) throw reported;
      throw createError('RENDER_ERROR', `video render failed: ${(reported as Error).message}`, { cause: reported });
    } finally {
      signal.removeEventListener('abort', stopAll);
      await server?.close();
      await Promise.all([fs.rm(movieTemp, { force: true }), fs.rm(thumbnailTemp, { force: true })]).catch(() => undefined);
    }
  }

  return {
    async renderFolder(folder, settings = {}) {
      if (closed) throw createError('UNAVAILABLE', 'the video renderer is closed');
      if (typeof folder !== 'string' || folder === '') {
        throw createError('INVALID_ARGUMENT', 'folder must be a non-empty path', { details: { field: 'folder' } });
      }
      const external = (settings as VideoSettings | undefined)?.signal;
      if (external !== undefined && !(external instanceof AbortSignal)) {
        throw createError('INVALID_ARGUMENT', 'signal must be an AbortSignal', { details: { field: 'signal' } });
      }
      if (external?.aborted) throw cancelled();
      const controller = new AbortController();
      const forward = () => controller.abort();
      external?.addEventListener('abort', forward, { once: true });
      const done = run(folder, settings, controller.signal);
      const job = { controller, done };
      jobs.add(job);
      try {
        return await done;
      } finally {
        jobs.delete(job);
        external?.removeEventListener('abort', forward);
      }
    },

    async close() {
      closed = true;
      for (const job of jobs) job.controller.abort();
      await Promise.allSettled([...jobs].map((job) => job.done));
    },
  };
}
