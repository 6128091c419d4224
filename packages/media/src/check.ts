/**
 * The game check: does the game in a folder run? It loads the game headless in chromium under the capture's virtual
 * clock and seeded randomness (capture.ts), three times side by side: left alone, given key presses, given a tap.
 * Because time only moves when we say so, the three pages are identical until the input arrives, so "the picture
 * after the keys differs from the picture without them" means the game answered the keys (not that time passed).
 *
 * Reported: loads, uncaught errors and console errors (a missing file or a blocked network request is named),
 * draws (not one flat colour), animates (changes without input), responds to keys, responds to a tap.
 * Passed: loads, no errors, draws, and answers a key or a tap.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { assetFileForAlias, createError, isBackendError, resolveInsideRoot, type FilesCapability, type GameCheckResult } from '@dreamcore/runtime-core';
import { CHROMIUM_ARGS, GAME_ORIGIN, randomnessScript, serveProjectFile, VIRTUAL_EPOCH, type AssetReader } from './video/capture.js';
import { defaultBrowserExecutable } from './video/index.js';
import { BrowserCall, type ChromiumPool } from './browser-pool.js';

/** `/user-assets/<userId>/<alias>` for a game, from the user's asset space on any backend's files capability. */
export function assetReader(files: FilesCapability, userId: string): { userId: string; read: AssetReader } {
  const scope = { userId, assets: true as const };
  return {
    userId,
    async read(alias) {
      const names = await files.list(scope, undefined, { recursive: false }).catch(() => []);
      const file = assetFileForAlias(
        alias,
        names.filter((entry) => entry.kind === 'file').map((entry) => entry.path),
      );
      return file ? files.read(scope, file).catch(() => null) : null;
    },
  };
}

export interface GameCheckOptions {
  /** Chromium binary (default: DREAMCORE_CHROMIUM, else Debian's headless shell, else its chromium). */
  browserExecutable?: string;
  /** Browsers kept open between calls (a backend's); without one, the check launches chromium and closes it after. */
  browsers?: ChromiumPool;
  /** The user's assets, for `/user-assets/<userId>/<alias>` in the game. */
  assets?: { userId: string; read: AssetReader };
  signal?: AbortSignal;
  /** Wall-clock bound on loading and on each step of the game (default 15 s): a game stuck in a loop fails. */
  stepTimeoutMs?: number;
  /** Also return the picture after the key presses (WebP): the game in play, for a thumbnail. */
  picture?: boolean;
  /** Viewport (default 480 × 640, a phone-like frame). */
  width?: number;
  height?: number;
}

const MAX_ERRORS = 10;
/** Virtual ms: the game settles, the input arrives, and the pictures are compared after the game had time to answer. */
const BEFORE_INPUT_MS = 600;
const HOLD_MS = 400;
const AFTER_INPUT_MS = 900;

export async function checkGameFolder(folder: string, options: GameCheckOptions = {}): Promise<GameCheckResult> {
  const started = Date.now();
  const { signal } = options;
  if (signal?.aborted) throw createError('CANCELLED', 'game check cancelled');
  const browserExecutable = options.browserExecutable ?? defaultBrowserExecutable();
  if (!browserExecutable || !existsSync(browserExecutable)) {
    throw createError('NOT_CONFIGURED', 'no chromium found for the game check (install chromium or set DREAMCORE_CHROMIUM)');
  }
  const projectDir = path.resolve(folder);
  try {
    const { absolute } = await resolveInsideRoot(projectDir, 'index.html');
    await fs.access(absolute);
  } catch (error) {
    if (isBackendError(error) && error.code !== 'NOT_FOUND') throw error;
    throw createError('NOT_FOUND', 'Game code not found: the project has no index.html', { details: { path: 'index.html' } });
  }
  const width = options.width ?? 480;
  const height = options.height ?? 640;
  const stepTimeoutMs = options.stepTimeoutMs ?? 15_000;
  const errors = new Set<string>();
  const note = (message: string) => {
    if (errors.size < MAX_ERRORS) errors.add(message.split('\n')[0]!.slice(0, 300));
  };

  // A cancel or a hung game stops the check (BrowserCall says how).
  const call = new BrowserCall(options.browsers);
  const stop = () => call.stop();
  signal?.addEventListener('abort', stop, { once: true });
  let stalled = false;
  /** One step of the check, bounded: a game that never yields (an endless loop) stops the check. */
  const bounded = async <T>(what: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        stalled = true;
        stop();
        reject(new Error('stalled'));
      }, stepTimeoutMs);
    });
    try {
      return await Promise.race([what, timeout, call.halted]);
    } finally {
      clearTimeout(timer);
    }
  };
  const result = (checks: Partial<GameCheckResult['checks']>): GameCheckResult => {
    const full = { loads: false, noErrors: errors.size === 0, draws: false, animates: false, respondsToKeys: false, respondsToTap: false, ...checks };
    full.noErrors = errors.size === 0;
    return {
      passed: full.loads && full.noErrors && full.draws && (full.respondsToKeys || full.respondsToTap),
      checks: full,
      errors: [...errors],
      durationMs: Date.now() - started,
    };
  };

  try {
    // One context for the three pages: they share its virtual clock, so time moves for all of them at once (the
    // pictures stay comparable), and the game's origin, route and storage are set up once. A context per page would
    // start a renderer and a storage partition three times over, for nothing the comparison needs. The launch has its
    // own bound (stepTimeoutMs).
    const pages = await bounded(
      call.newContext(browserExecutable, CHROMIUM_ARGS, stepTimeoutMs, {
        viewport: { width, height },
        deviceScaleFactor: 1,
        hasTouch: true,
        locale: 'en-US',
        timezoneId: 'UTC',
      }),
    );
    await pages.addInitScript(randomnessScript(0x5eed));
    await pages.clock.pauseAt(VIRTUAL_EPOCH);
    await pages.route('**/*', (route) => serveProjectFile(route, projectDir, options.assets));
    // The three pages are one tab and two windows it opened (still blank): one browsing instance, so all three load
    // the game into one renderer process. Three tabs started five renderer processes per check; these start three
    // (2-core machine, pooled browser, the demo shooter: 4.6–4.9 s of CPU per check before, 3.4–3.5 s after).
    const first = await bounded(pages.newPage());
    const opened = async (): Promise<Page> => {
      const [page] = await Promise.all([first.waitForEvent('popup'), first.evaluate('void window.open()')]);
      return page;
    };
    // One after the other: a popup event says which window it is only by order.
    const second = await bounded(opened());
    const third = await bounded(opened());
    const load = async (page: Page): Promise<{ page: Page; loaded: boolean }> => {
      // Errors are the same on every page until the input; the idle page reports them, the others add what input caused.
      page.on('pageerror', (error) => note(`Uncaught ${error.name}: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) note(`Console error: ${message.text()}`);
      });
      page.on('response', (response) => {
        const url = new URL(response.url());
        if (url.origin === GAME_ORIGIN && response.status() === 404) note(`File not found: ${decodeURIComponent(url.pathname)}`);
      });
      page.on('requestfailed', (request) => {
        if (!request.url().startsWith(GAME_ORIGIN)) note(`Blocked network request to ${request.url().slice(0, 120)} (games cannot load from the internet)`);
      });
      const response = await page.goto(`${GAME_ORIGIN}/index.html`, { waitUntil: 'load', timeout: stepTimeoutMs }).catch(() => null);
      return { page, loaded: Boolean(response?.ok()) };
    };
    const [idle, keys, tap] = await bounded(Promise.all([load(first), load(second), load(third)]));
    if (!idle.loaded) return result({ loads: false });

    // The clock is the context's: one call moves time in all three pages.
    const advance = async (ms: number) => {
      try {
        await bounded(pages.clock.runFor(ms));
      } catch (error) {
        // The clock rethrows the first exception a timer callback threw, after running them all: a game error.
        if (stalled || idle.page.isClosed()) throw error;
        note(`Uncaught ${(error as Error).message}`);
      }
    };
    const shot = (page: Page) => bounded(page.screenshot({ type: 'png', animations: 'allow', caret: 'initial' }));

    await advance(BEFORE_INPUT_MS);
    const idleBefore = await shot(idle.page);
    // The input: start keys, then a held arrow; a tap in the middle of the frame.
    await bounded(
      (async () => {
        await keys.page.keyboard.press('Space');
        await keys.page.keyboard.press('Enter');
        await keys.page.keyboard.down('ArrowRight');
        await keys.page.keyboard.down('ArrowUp');
        await tap.page.touchscreen.tap(Math.floor(width / 2), Math.floor(height / 2));
      })(),
    );
    await advance(HOLD_MS);
    await bounded(
      (async () => {
        await keys.page.keyboard.up('ArrowRight');
        await keys.page.keyboard.up('ArrowUp');
        await keys.page.keyboard.press('Space');
        await tap.page.touchscreen.tap(Math.floor(width / 2), Math.floor(height / 3));
      })(),
    );
    await advance(AFTER_INPUT_MS);
    const [idleAfter, keysAfter, tapAfter] = await Promise.all([shot(idle.page), shot(keys.page), shot(tap.page)]);
    const draws = !(await isFlat(idleBefore)) || !(await isFlat(idleAfter)) || !(await isFlat(keysAfter));
    const checked = result({
      loads: true,
      draws,
      animates: await differs(idleBefore, idleAfter),
      respondsToKeys: await differs(idleAfter, keysAfter),
      respondsToTap: await differs(idleAfter, tapAfter),
    });
    // The game in play (after the keys) unless that is a blank screen; then as it stands without input.
    if (options.picture)
      checked.picture = new Uint8Array(
        await sharp((await isFlat(keysAfter)) ? idleAfter : keysAfter)
          .webp({ quality: 85 })
          .toBuffer(),
      );
    return checked;
  } catch (error) {
    if (signal?.aborted) throw createError('CANCELLED', 'game check cancelled');
    if (stalled) {
      note(`The game stopped responding (it did not yield for ${Math.round(stepTimeoutMs / 1000)} s: an endless loop?)`);
      return result({ loads: true });
    }
    if (isBackendError(error)) throw error;
    throw createError('RENDER_ERROR', `the game check failed: ${(error as Error).message}`, { cause: error });
  } finally {
    signal?.removeEventListener('abort', stop);
    await call.end();
  }
}

/** One colour everywhere (a blank or cleared screen). */
async function isFlat(png: Buffer): Promise<boolean> {
  const { channels } = await sharp(png).stats();
  return channels.every((channel) => channel.min === channel.max);
}

/** Different pixels (PNG bytes first: identical pictures encode identically). */
async function differs(a: Buffer, b: Buffer): Promise<boolean> {
  if (a.equals(b)) return false;
  const [ra, rb] = await Promise.all([sharp(a).raw().toBuffer(), sharp(b).raw().toBuffer()]);
  return !ra.equals(rb);
}
