/**
 * `dreamcore-render`: the promo video of one game folder, as a command. Made to run where the game's files are (a
 * render sandbox with the user's volume mounted, or this machine), with no backend and no network:
 *
 *   dreamcore-render /vol/projects/<projectId> [--width 1080 --height 1920 --fps 30 --duration 7 --title "…"]
 *
 * It writes `movie.mp4` and `thumbnail.webp` into the folder and reports on stdout in JSON lines, one object a line:
 *
 *   {"type":"progress","percent":12,"stage":"capture"}      (percent only goes up; ends with 100 "done")
 *   {"type":"done","movie":{…FileEntry},"thumbnail":{…},"durationMs":7000,"frames":210}
 *   {"type":"error","code":"NOT_FOUND","message":"…"}         (code: the contract's BackendError code)
 *
 * `dreamcore-render --prepare [--cache-dir DIR]` only bundles the Remotion composition into the cache and prints
 * {"type":"prepared","cacheDir":…,"cached":false}: run it while building a render image, then renders there skip the
 * bundling (pass the same --cache-dir).
 *
 * `dreamcore-render --check <folder> [--assets-dir DIR --user-id ID] [--picture]` runs the game check (check.ts) instead
 * and prints {"type":"checked", …GameCheckResult} (with --picture, `picture` is the WebP in base64); the user's assets,
 * for `/user-assets/<ID>/<alias>`, come from DIR.
 *
 * SIGTERM or SIGINT cancels: browsers and encoder stop, partial files are removed, and the last line is a CANCELLED
 * error. Exit code: 0 rendered, 1 failed or cancelled (the last line says which), 2 usage error (text on stderr).
 */
import { parseArgs } from 'node:util';
import { readdir, readFile } from 'node:fs/promises';
import { assetFileForAlias, isBackendError, resolveInsideRoot } from '@dreamcore/runtime-core';
import { checkGameFolder } from './check.js';
import { getBundle } from './video/bundle.js';
import { createVideoRenderer, defaultBundleCacheDir } from './video/index.js';
import type { VideoSettings } from './video/options.js';

export const USAGE = `usage: dreamcore-render <folder> [options]
       dreamcore-render --prepare [--cache-dir DIR]
       dreamcore-render --check <folder> [--assets-dir DIR --user-id ID] [--picture]

Renders the game in <folder> (its index.html) to <folder>/movie.mp4 and <folder>/thumbnail.webp,
printing progress as JSON lines on stdout. --prepare only bundles the promo composition into the cache.

  --width N          video width in pixels, even (default 1080)
  --height N         video height in pixels, even (default 1920)
  --fps N            frames per second (default 30)
  --duration S       length in seconds (default 7)
  --title TEXT       title on the cards (default: PUBLISH.json's title, else the page's <title>)
  --chromium PATH    chromium binary (default: $DREAMCORE_CHROMIUM, else Debian's chromium-headless-shell, else chromium)
  --cache-dir DIR    where the bundled composition is cached (default: <tmpdir>/dreamcore-remotion-bundles)
  --prepare          bundle the composition into the cache and exit (for building a render image)
  --check            check that the game loads, draws and answers input, instead of rendering
  --assets-dir DIR   with --check: the user's asset folder, served at /user-assets/<ID>/ (--user-id ID)
  --picture          with --check: also print a picture of the game in play (WebP, base64)
  -h, --help         this text
`;

class UsageError extends Error {}

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Cancels the render (the bin wires SIGTERM and SIGINT to it). */
  signal?: AbortSignal;
}

function numberFlag(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  // The renderer checks ranges and evenness with the contract's own messages; here only "is it a number".
  if (raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag} must be a number, got ${JSON.stringify(raw)}`);
  return value;
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      width: { type: 'string' },
      height: { type: 'string' },
      fps: { type: 'string' },
      duration: { type: 'string' },
      title: { type: 'string' },
      chromium: { type: 'string' },
      'cache-dir': { type: 'string' },
      prepare: { type: 'boolean' },
      check: { type: 'boolean' },
      'assets-dir': { type: 'string' },
      'user-id': { type: 'string' },
      picture: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { mode: 'help' as const };
  if (values.prepare) {
    if (positionals.length > 0) throw new UsageError('--prepare takes no folder');
    return { mode: 'prepare' as const, cacheDir: values['cache-dir'] ?? defaultBundleCacheDir() };
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'the game folder is missing' : 'give exactly one game folder');
  if (values.check) {
    if (Boolean(values['assets-dir']) !== Boolean(values['user-id'])) throw new UsageError('--assets-dir and --user-id go together');
    return {
      mode: 'check' as const,
      folder: positionals[0]!,
      chromium: values.chromium,
      assetsDir: values['assets-dir'],
      userId: values['user-id'],
      picture: Boolean(values.picture),
    };
  }
  const settings: VideoSettings = {};
  const width = numberFlag(values.width, '--width');
  const height = numberFlag(values.height, '--height');
  const fps = numberFlag(values.fps, '--fps');
  const durationSeconds = numberFlag(values.duration, '--duration');
  if (width !== undefined) settings.width = width;
  if (height !== undefined) settings.height = height;
  if (fps !== undefined) settings.fps = fps;
  if (durationSeconds !== undefined) settings.durationSeconds = durationSeconds;
  if (values.title !== undefined) settings.title = values.title;
  return { mode: 'render' as const, folder: positionals[0]!, settings, chromium: values.chromium, cacheDir: values['cache-dir'] };
}

/** Runs the command; resolves to the exit code. */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    // parseArgs throws TypeError (ERR_PARSE_ARGS_*) for unknown flags and missing values.
    io.stderr.write(`dreamcore-render: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.mode === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  const line = (value: object) => io.stdout.write(`${JSON.stringify(value)}\n`);
  const failed = (error: unknown) => {
    const code = isBackendError(error) ? error.code : 'RENDER_ERROR';
    line({ type: 'error', code, message: (error as Error)?.message ?? String(error) });
    return 1;
  };
  if (args.mode === 'prepare') {
    try {
      const { cached, bundler } = await getBundle({ cacheDir: args.cacheDir });
      line({ type: 'prepared', cacheDir: args.cacheDir, cached, bundler });
      return 0;
    } catch (error) {
      return failed(error);
    }
  }
  if (args.mode === 'check') {
    const { assetsDir, userId } = args;
    try {
      const result = await checkGameFolder(args.folder, {
        ...(args.chromium ? { browserExecutable: args.chromium } : {}),
        ...(io.signal ? { signal: io.signal } : {}),
        ...(assetsDir && userId ? { assets: { userId, read: (alias: string) => readAsset(assetsDir, alias) } } : {}),
        picture: args.picture,
      });
      const { picture, ...rest } = result;
      line({ type: 'checked', ...rest, ...(picture ? { picture: Buffer.from(picture).toString('base64') } : {}) });
      return 0;
    } catch (error) {
      return failed(error);
    }
  }
  const renderer = createVideoRenderer({
    ...(args.chromium ? { browserExecutable: args.chromium } : {}),
    ...(args.cacheDir ? { cacheDir: args.cacheDir } : {}),
  });
  try {
    const result = await renderer.renderFolder(args.folder, {
      ...args.settings,
      ...(io.signal ? { signal: io.signal } : {}),
      onProgress: ({ percent, stage }) => line({ type: 'progress', percent, stage }),
    });
    line({ type: 'done', ...result });
    return 0;
  } catch (error) {
    return failed(error);
  } finally {
    await renderer.close();
  }
}

/**
 * An asset by alias from the asset folder (stored as `{aliasBase}_{sha8}{ext}`, see assetFileForAlias), scoped like
 * the files capability; null when it is not there.
 */
async function readAsset(dir: string, alias: string): Promise<Uint8Array | null> {
  try {
    const file = assetFileForAlias(alias, await readdir(dir));
    return file ? await readFile((await resolveInsideRoot(dir, file)).absolute) : null;
  } catch {
    return null;
  }
}
