/**
 * Deterministic gameplay capture: the project's game runs in headless chromium (playwright-core) under a virtual
 * clock with seeded randomness and scripted input, and each captured frame is a JPEG on disk.
 *
 * Why this way: a live page recorded in real time runs at whatever speed the machine manages, so two renders of one
 * game differ. Here time only moves when we say so (`page.clock.runFor`), `Math.random` and `crypto` return the same
 * sequence every run, input arrives at fixed virtual times, and the page can reach nothing but the project's files.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { CDPSession, Page, Route } from 'playwright-core';
import { BrowserCall, type ChromiumPool } from '../browser-pool.js';
import { createError, isBackendError, resolveInsideRoot } from '@dreamcore/runtime-core';

/** Flags that keep chromium quiet and reproducible on a closed network (see the Remotion field notes). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--mute-audio',
  '--autoplay-policy=no-user-gesture-required',
  '--force-color-profile=srgb',
  '--font-render-hinting=none',
];

/** The game's origin. Never resolved: every request is answered by the route handler or refused. `.localhost` is a secure context. */
export const GAME_ORIGIN = 'http://game.dreamcore.localhost';

/** Wall-clock start of the virtual clock (Date.now() in the game): fixed, so date-dependent games render the same too. */
export const VIRTUAL_EPOCH = Date.UTC(2025, 0, 1, 12, 0, 0);

/** Virtual time between page load and the first captured frame: the start input lands here and the game gets going. */
const WARMUP_MS = 1000;
const START_AT_MS = 200;

type InputAction = { kind: 'press'; key: string } | { kind: 'down'; key: string } | { kind: 'up'; key: string } | { kind: 'tap' };

interface InputEvent {
  /** Virtual ms after page load. */
  at: number;
  action: InputAction;
}

/** Keys a player would try on an unknown game, repeated every cycle: move right, jump, move left, fire, duck, tap. */
const INPUT_CYCLE_MS = 2000;
const INPUT_CYCLE: InputEvent[] = [
  { at: 0, action: { kind: 'down', key: 'ArrowRight' } },
  { at: 350, action: { kind: 'press', key: 'Space' } },
  { at: 600, action: { kind: 'up', key: 'ArrowRight' } },
  { at: 700, action: { kind: 'down', key: 'ArrowUp' } },
  { at: 900, action: { kind: 'up', key: 'ArrowUp' } },
  { at: 1000, action: { kind: 'down', key: 'ArrowLeft' } },
  { at: 1250, action: { kind: 'press', key: 'Space' } },
  { at: 1450, action: { kind: 'up', key: 'ArrowLeft' } },
  { at: 1550, action: { kind: 'down', key: 'ArrowDown' } },
  { at: 1700, action: { kind: 'up', key: 'ArrowDown' } },
  { at: 1800, action: { kind: 'tap' } },
];

/** The whole input script for a capture of `durationMs` after the warm-up: start, then the cycle on repeat. */
export function inputSchedule(durationMs: number): InputEvent[] {
  const events: InputEvent[] = [
    { at: START_AT_MS, action: { kind: 'tap' } },
    { at: START_AT_MS + 20, action: { kind: 'press', key: 'Space' } },
    { at: START_AT_MS + 40, action: { kind: 'press', key: 'Enter' } },
  ];
  for (let cycle = 0; cycle * INPUT_CYCLE_MS < durationMs; cycle++) {
    for (const event of INPUT_CYCLE) {
      const at = WARMUP_MS + cycle * INPUT_CYCLE_MS + event.at;
      if (at < WARMUP_MS + durationMs) events.push({ at, action: event.action });
    }
  }
  return events;
}

/** Seeded mulberry32 for Math.random and crypto: injected before any page script runs, in every frame. */
export function randomnessScript(seed: number): string {
  return `(() => {
  let state = ${seed >>> 0};
  const next32 = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  Math.random = () => next32() / 4294967296;
  const proto = globalThis.Crypto && Crypto.prototype;
  if (proto) {
    proto.getRandomValues = function (array) {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      for (let i = 0; i < bytes.length; i++) bytes[i] = next32() & 0xff;
      return array;
    };
    proto.randomUUID = function () {
      const b = this.getRandomValues(new Uint8Array(16));
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
      return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
    };
  }
})();`;
}

export interface CaptureOptions {
  /** The project's root on disk: the only files the page can load. */
  projectDir: string;
  width: number;
  height: number;
  fps: number;
  frames: number;
  browserExecutable: string;
  jpegQuality?: number;
  seed?: number;
  signal?: AbortSignal;
  /** Receives each frame (JPEG bytes) as soon as it is taken, in order. */
  onFrame: (index: number, jpeg: Buffer) => void;
  /** Wall-clock bound on loading the page, and on any single step of the game after it (default 20 s). */
  stepTimeoutMs?: number;
  /** Chromium flags (default CHROMIUM_ARGS). */
  args?: string[];
  /** Browsers kept open between calls (a backend's); without one, the capture launches chromium and closes it after. */
  browsers?: ChromiumPool;
}

export interface CaptureResult {
  frames: number;
  /** Uncaught errors the game threw (the capture continues through them). */
  pageErrors: string[];
}

function cancelled(): Error {
  return createError('CANCELLED', 'video render cancelled');
}

export async function captureGameplay(options: CaptureOptions): Promise<CaptureResult> {
  const { signal } = options;
  if (signal?.aborted) throw cancelled();
  const quality = options.jpegQuality ?? 85;

  const stepTimeoutMs = options.stepTimeoutMs ?? 20_000;
  // A cancel or a hung game stops the capture (BrowserCall says how); the work is awaited beside `call.halted`.
  const call = new BrowserCall(options.browsers);
  const onAbort = () => call.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  let stalled = false;
  let watchdog: NodeJS.Timeout | undefined;
  const alive = () => {
    // A game stuck in a loop never returns from runFor; nothing else would ever time that out.
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      stalled = true;
      onAbort();
    }, stepTimeoutMs);
  };
  const pageErrors: string[] = [];
  const capture = async (): Promise<CaptureResult> => {
    const pages = await call.newContext(options.browserExecutable, options.args ?? CHROMIUM_ARGS, stepTimeoutMs, {
      viewport: { width: options.width, height: options.height },
      deviceScaleFactor: 1,
      locale: 'en-US',
      timezoneId: 'UTC',
      colorScheme: 'dark',
      reducedMotion: 'no-preference',
      serviceWorkers: 'block',
      acceptDownloads: false,
    });
    await pages.addInitScript(randomnessScript(options.seed ?? 0x5eed));
    // pauseAt alone (no install): the new document's clock starts paused at the epoch with performance.now() = 0.
    // install-then-pause would let the real milliseconds between the two calls leak into the page's clock.
    await pages.clock.pauseAt(VIRTUAL_EPOCH);

    await pages.route('**/*', (route) => serveProjectFile(route, options.projectDir));
    const page = await pages.newPage();
    const noteError = (message: string) => {
      if (pageErrors.length < 20) pageErrors.push(message.split('\n')[0]!.slice(0, 300));
    };
    page.on('pageerror', (error) => noteError(error.message));
    const settled = trackRequests(page);

    const response = await page.goto(`${GAME_ORIGIN}/index.html`, { waitUntil: 'load', timeout: stepTimeoutMs });
    if (!response || !response.ok()) {
      throw createError('RENDER_ERROR', `the game page did not load (HTTP ${response?.status() ?? 'none'})`);
    }
    // Evaluated as a string: this package's TypeScript has no DOM types, and needs none elsewhere.
    await page.evaluate('document.fonts.ready.then(() => undefined)');

    const cdp = await pages.newCDPSession(page);
    const events = inputSchedule((options.frames * 1000) / options.fps);
    const frameTimes = Array.from({ length: options.frames }, (_, i) => WARMUP_MS + Math.round((i * 1000) / options.fps));
    let now = 0;
    let nextEvent = 0;
    for (let i = 0; i < options.frames; i++) {
      alive();
      const target = frameTimes[i]!;
      // Input due by this frame is delivered in order: during the warm-up at its own virtual time, during gameplay at the
      // previous frame's time (less than a frame early), which spares a clock step per event.
      while (nextEvent < events.length && events[nextEvent]!.at <= target) {
        const event = events[nextEvent++]!;
        if (event.at < WARMUP_MS) now = await advance(page, settled, now, event.at, noteError);
        await deliver(page, event.action, options.width, options.height);
      }
      now = await advance(page, settled, now, target, noteError);
      if (call.stopped) throw new Error('stopped');
      const frame = await screenshot(cdp, quality);
      if (call.stopped) throw new Error('stopped');
      options.onFrame(i, frame);
    }
    return { frames: options.frames, pageErrors };
  };
  try {
    alive();
    const work = capture();
    // What fails in it after a stop is the stop's doing, already reported.
    work.catch(() => undefined);
    return await Promise.race([work, call.halted]);
  } catch (error) {
    if (signal?.aborted) throw cancelled();
    if (stalled) {
      throw createError('RENDER_ERROR', `the game stopped responding (no progress for ${stepTimeoutMs} ms)`, {
        cause: error,
        details: { stage: 'capture', pageErrors },
      });
    }
    if (isBackendError(error)) throw error;
    throw createError('RENDER_ERROR', `gameplay capture failed: ${(error as Error).message}`, {
      cause: error,
      details: { stage: 'capture', pageErrors },
    });
  } finally {
    clearTimeout(watchdog);
    signal?.removeEventListener('abort', onAbort);
    await call.end();
  }
}

/** Requests in flight; the clock only moves when none are, so an asset's arrival never races virtual time. */
function trackRequests(page: Page): () => Promise<void> {
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const done = () => {
    inFlight = Math.max(0, inFlight - 1);
    if (inFlight === 0) {
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve();
    }
  };
  page.on('request', () => void inFlight++);
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  return () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)));
}

async function advance(page: Page, settled: () => Promise<void>, now: number, to: number, onGameError: (message: string) => void): Promise<number> {
  if (to <= now) return now;
  await settled();
  try {
    await page.clock.runFor(to - now);
  } catch (error) {
    // The clock runs every due callback, advances to `to`, and only then rethrows the first exception a callback
    // threw: a game with a bug in its frame loop is still a game to film, so note it and go on. A closed page is not.
    if (page.isClosed() || !page.context().browser()?.isConnected()) throw error;
    onGameError((error as Error).message);
  }
  return to;
}

async function deliver(page: Page, action: InputAction, width: number, height: number): Promise<void> {
  switch (action.kind) {
    case 'press':
      return page.keyboard.press(action.key);
    case 'down':
      return page.keyboard.down(action.key);
    case 'up':
      return page.keyboard.up(action.key);
    case 'tap':
      return page.mouse.click(Math.floor(width / 2), Math.floor(height / 2));
  }
}

async function screenshot(cdp: CDPSession, quality: number): Promise<Buffer> {
  // CDP directly: Playwright's page.screenshot adds work per call (and ~20% time) that a fixed viewport doesn't need.
  const { data } = await cdp.send('Page.captureScreenshot', { format: 'jpeg', quality, optimizeForSpeed: true });
  return Buffer.from(data, 'base64');
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.wav': 'audio/wav',
  '.m4a': 'audio/mp4',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** Reads one of the user's assets by alias (`/user-assets/<userId>/<alias>` in a game); null when there is none. */
export type AssetReader = (alias: string) => Promise<Uint8Array | null>;

/**
 * Answers the game's own requests from the project folder (scoped like the files capability), and, given `assets`,
 * `/user-assets/<its user>/<alias>` from the user's asset space; refuses the rest.
 */
export async function serveProjectFile(route: Route, projectDir: string, assets?: { userId: string; read: AssetReader }): Promise<void> {
  const url = new URL(route.request().url());
  if (url.origin !== GAME_ORIGIN) {
    // Nothing outside the project is reachable here anyway; refusing at once keeps the page from waiting on it.
    await route.abort('blockedbyclient').catch(() => undefined);
    return;
  }
  const asset = assets ? new RegExp(`^/user-assets/${assets.userId}/([^/]+)$`).exec(url.pathname) : null;
  if (asset && assets) {
    const alias = decodeURIComponent(asset[1]!);
    const bytes = await assets.read(alias).catch(() => null);
    if (!bytes) {
      await route.fulfill({ status: 404, body: 'not found', headers: { 'content-type': 'text/plain' } }).catch(() => undefined);
      return;
    }
    await route.fulfill({
      status: 200,
      body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      headers: { 'content-type': CONTENT_TYPES[path.extname(alias).toLowerCase()] ?? 'application/octet-stream', 'cache-control': 'no-store' },
    });
    return;
  }
  try {
    let relative = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    if (relative === '' || relative.endsWith('/')) relative += 'index.html';
    const { absolute } = await resolveInsideRoot(projectDir, relative);
    const body = await fs.readFile(absolute);
    await route.fulfill({
      status: 200,
      body,
      headers: {
        'content-type': CONTENT_TYPES[path.extname(absolute).toLowerCase()] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      },
    });
  } catch {
    await route.fulfill({ status: 404, body: 'not found', headers: { 'content-type': 'text/plain' } }).catch(() => undefined);
  }
}
