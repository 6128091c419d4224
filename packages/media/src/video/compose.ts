/**
 * The Remotion half: one browser for the whole job (selectComposition, renderMedia, renderStill), H.264 into a
 * temporary file, the thumbnail as PNG → WebP through sharp. Cancel goes through Remotion's own cancel signal, which
 * stops the frame renderer; then the browser is closed and the encoder, if Remotion left it running, is killed.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { ChromiumOptions, HeadlessBrowser } from '@remotion/renderer';
import sharp from 'sharp';
import { createError, isBackendError } from '@dreamcore/runtime-core';
import { loadRemotion } from '../lazy.js';

export const COMPOSITION_ID = 'Promo';

// null = Chrome's own choice: headless with no GPU composites in software. 'angle' starts a GPU process that fails to
// find a display and falls back to the same thing; measured equal or slightly slower here, 'swangle' 3–4× slower.
const DEFAULT_GL: ChromiumOptions['gl'] = null;

/** What Promo.jsx reads. Keep in step with remotion/Root.jsx. */
export interface PromoProps {
  title: string;
  subtitle: string;
  callToAction: string;
  framesBaseUrl: string;
  frameCount: number;
  frameExtension: string;
  captureFps: number;
  fps: number;
  width: number;
  height: number;
  titleFrames: number;
  gameplayFrames: number;
  endFrames: number;
  fadeFrames: number;
}

export interface RenderTuning {
  /** Parallel browser tabs rendering frames (default 1: on 2 cores one tab plus the encoder is fastest). */
  concurrency?: number;
  /** Quality of the intermediate frame screenshots Remotion pipes to ffmpeg (default 70). */
  jpegQuality?: number;
  /** x264 preset (default 'veryfast': the encoder shares the CPU with the frame renderer). */
  x264Preset?: 'ultrafast' | 'superfast' | 'veryfast' | 'faster' | 'fast' | 'medium';
  crf?: number;
  gl?: ChromiumOptions['gl'];
  chromeMode?: 'headless-shell' | 'chrome-for-testing';
  /** Remotion's own logging (default 'error'); 'verbose' prints where render time goes. */
  logLevel?: 'error' | 'warn' | 'info' | 'verbose';
}

export interface ComposeOptions extends RenderTuning {
  serveUrl: string;
  browserExecutable: string;
  props: PromoProps;
  /** The MP4's rate and length when it differs from the composition's (each composition frame is repeated). */
  output?: { fps: number; frames: number };
  thumbnailFrame: number;
  /** Temporary output paths; the caller renames them into place. */
  movieOut: string;
  thumbnailOut: string;
  signal?: AbortSignal;
  onStage?: (stage: 'render' | 'thumbnail', fraction: number) => void;
  /** Wall-clock timings of the steps, for the benchmark. */
  timings?: Record<string, number>;
}

/**
 * Adjusts whichever ffmpeg run encodes (the pre-stitcher with parallel encoding, else the stitcher; never a stream
 * copy): tags it with `marker` so this job can find its own encoder, and with `output` makes it emit that rate
 * (repeating each rendered frame) and exactly that many frames. The tag is pre-encode metadata only: Remotion's final
 * remux drops it (`-map_metadata -1`), so it never reaches the MP4 and never makes two renders differ.
 */
export function encoderArgs(marker: string | null, output?: { fps: number; frames: number }) {
  return ({ args }: { type: 'pre-stitcher' | 'stitcher'; args: string[] }): string[] => {
    const encodes = args.some((arg, i) => arg === '-c:v' && args[i + 1] !== 'copy');
    const outputAt = args.lastIndexOf('-y');
    if (!encodes || outputAt < 0) return args;
    const extra = [
      ...(output ? ['-r', String(output.fps), '-frames:v', String(output.frames)] : []),
      ...(marker ? ['-metadata', `dreamcore_job=${marker}`] : []),
    ];
    return [...args.slice(0, outputAt), ...extra, ...args.slice(outputAt)];
  };
}

/**
 * Ends this job's encoder if Remotion left it running. On cancel Remotion sends ffmpeg SIGTERM while ffmpeg is blocked
 * reading frames from a stdin nobody closes, and ffmpeg only notices a signal between reads: it would live until this
 * process exits. The process is found by the marker in its own command line, among this process's own children.
 */
export async function reapEncoder(marker: string): Promise<void> {
  const ours = async (): Promise<number[]> => {
    const found: number[] = [];
    for (const name of await fs.readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = await fs.readFile(`/proc/${name}/stat`, 'utf8');
        const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(ppid) !== process.pid || state === 'Z') continue;
        if ((await fs.readFile(`/proc/${name}/cmdline`, 'utf8')).includes(`dreamcore_job=${marker}`)) found.push(Number(name));
      } catch {
        // gone while we looked
      }
    }
    return found;
  };
  for (let attempt = 0; attempt < 40; attempt++) {
    const pids = await ours();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function cancelled(): Error {
  return createError('CANCELLED', 'video render cancelled');
}

export async function composePromo(options: ComposeOptions): Promise<void> {
  const { signal, timings = {} } = options;
  if (signal?.aborted) throw cancelled();
  const chromiumOptions: ChromiumOptions = { gl: options.gl === undefined ? DEFAULT_GL : options.gl };
  const { makeCancelSignal, openBrowser, renderMedia, renderStill, selectComposition } = await loadRemotion();
  if (signal?.aborted) throw cancelled();
  const { cancelSignal, cancel } = makeCancelSignal();
  const marker = randomUUID();
  let rendered = false;
  let browser: HeadlessBrowser | undefined;
  let closing: Promise<void> | undefined;
  // Not memoised before the browser exists: an abort during openBrowser must still close it once it opens.
  const closeBrowser = () => (browser ? (closing ??= browser.close({ silent: true }).catch(() => undefined)) : Promise.resolve());
  // Cancel goes through Remotion's signal only; the browser closes once the call in flight has returned. Closing it
  // under a running selectComposition/renderMedia makes Remotion skip its own cleanup (its static server and temp
  // folders stay behind), and selectComposition, which takes no signal, is over in a second anyway.
  const onAbort = () => cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  const common = {
    serveUrl: options.serveUrl,
    browserExecutable: options.browserExecutable,
    chromiumOptions,
    logLevel: options.logLevel ?? 'error',
    inputProps: options.props as unknown as Record<string, unknown>,
  };
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - t);
    t = now;
  };
  try {
    browser = await openBrowser('chrome', {
      browserExecutable: options.browserExecutable,
      chromiumOptions,
      chromeMode: options.chromeMode ?? 'headless-shell',
      logLevel: options.logLevel ?? 'error',
    });
    if (signal?.aborted) throw cancelled();
    const composition = await selectComposition({ ...common, id: COMPOSITION_ID, puppeteerInstance: browser });
    lap('openBrowser+select');
    if (signal?.aborted) throw cancelled();

    await renderMedia({
      ...common,
      composition,
      puppeteerInstance: browser,
      codec: 'h264',
      outputLocation: options.movieOut,
      overwrite: true,
      muted: true,
      enforceAudioTrack: false,
      imageFormat: 'jpeg',
      jpegQuality: options.jpegQuality ?? 70,
      concurrency: options.concurrency ?? 1,
      x264Preset: options.x264Preset ?? 'veryfast',
      crf: options.crf ?? 23,
      pixelFormat: 'yuv420p',
      cancelSignal,
      // Frames may wait on the capture (it runs alongside): allow more than Remotion's default 30 s per frame.
      timeoutInMilliseconds: 90_000,
      ffmpegOverride: encoderArgs(marker, options.output),
      onProgress: ({ progress }) => options.onStage?.('render', progress),
    });
    rendered = true;
    lap('renderMedia');
    if (signal?.aborted) throw cancelled();

    options.onStage?.('thumbnail', 0);
    const still = await renderStill({
      ...common,
      composition,
      puppeteerInstance: browser,
      frame: options.thumbnailFrame,
      imageFormat: 'png',
      output: null,
      cancelSignal,
    });
    lap('renderStill');
    if (signal?.aborted) throw cancelled();
    if (!still.buffer) throw new Error('renderStill returned no image');
    await sharp(still.buffer).webp({ quality: 82, effort: 4 }).toFile(options.thumbnailOut);
    lap('webp');
    options.onStage?.('thumbnail', 1);
  } catch (error) {
    if (signal?.aborted) throw cancelled();
    if (isBackendError(error)) throw error;
    throw createError('RENDER_ERROR', `rendering the promo failed: ${(error as Error).message}`, {
      cause: error,
      details: { stage: 'render' },
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await closeBrowser();
    if (!rendered && process.platform === 'linux') await reapEncoder(marker);
  }
}
