/**
 * Headless chromium kept open between game checks and gameplay captures, instead of one launched per call.
 *
 * Why: a launch is a browser process, a GPU process, two zygotes and a network service before the game even loads:
 * about 2 s of CPU on a 2-core machine, and most of a second of the user's wait for every "checking your game". What
 * keeps one game from another is the browser context each call opens (its own storage, clock, routes and renderer
 * process), not the browser process, so lending the process changes nothing a game can see.
 *
 * The rules:
 * - one browser per chromium binary and set of flags, launched on the first lease; calls that lease while it starts
 *   wait for the same launch;
 * - closed once no call has used it for `idleMs` (an idle server holds no chromium);
 * - a browser that crashed or disconnected is forgotten at once, and the next lease launches a new one;
 * - a call whose game hung (an endless loop keeps its renderer busy) retires the browser: later calls get a new one,
 *   and the retired one closes as soon as the last call still using it is done;
 * - `close()` closes every browser, in use or not.
 *
 * A backend lends from the process's pool (`sharedChromiumPool()`): a server has one backend, and a process that
 * opens several (tests, a tool migrating data) pays for one chromium, not one per backend.
 */
import type { Browser, BrowserContext, BrowserContextOptions } from 'playwright-core';
import { loadPlaywright } from './lazy.js';

export interface ChromiumLease {
  readonly browser: Browser;
  /** This call is done with the browser (it has closed its context). Idempotent. */
  release(): void;
  /** Something in this browser may be wedged: no later call gets it; it closes once no call uses it. */
  retire(): void;
}

export interface ChromiumPoolOptions {
  /** How long an unused browser stays open (default 30 s; 0 closes it as soon as the last call is done). */
  idleMs?: number;
}

interface Entry {
  key: string;
  launching: Promise<Browser>;
  browser: Browser | null;
  users: number;
  retired: boolean;
  idle: NodeJS.Timeout | null;
}

export class ChromiumPool {
  private readonly entries = new Map<string, Entry>();
  /** Every browser not yet closed, retired ones included (close() must reach those too). */
  private readonly open = new Set<Entry>();
  private readonly idleMs: number;
  private closed = false;

  constructor(options: ChromiumPoolOptions = {}) {
    this.idleMs = options.idleMs ?? 30_000;
  }

  /** A running browser for `executablePath` with `args`; `timeoutMs` bounds a launch. Release it when done. */
  async lease(executablePath: string, args: readonly string[], timeoutMs: number): Promise<ChromiumLease> {
    if (this.closed) throw new Error('the browser pool is closed');
    const key = JSON.stringify([executablePath, ...args]);
    const entry = this.entries.get(key) ?? this.launch(key, executablePath, args, timeoutMs);
    entry.users++;
    if (entry.idle) clearTimeout(entry.idle);
    entry.idle = null;
    let browser: Browser;
    try {
      browser = await entry.launching;
    } catch (error) {
      entry.users--;
      this.retire(entry);
      throw error;
    }
    let released = false;
    return {
      browser,
      release: () => {
        if (released) return;
        released = true;
        entry.users--;
        this.settle(entry);
      },
      retire: () => this.retire(entry),
    };
  }

  /** Closes every browser, including ones calls are using (their calls fail). */
  async close(): Promise<void> {
    this.closed = true;
    this.entries.clear();
    await Promise.all([...this.open].map((entry) => this.shut(entry)));
  }

  private launch(key: string, executablePath: string, args: readonly string[], timeoutMs: number): Entry {
    const launching = loadPlaywright().then((playwright) =>
      playwright.chromium.launch({
        executablePath,
        headless: true,
        args: [...args],
        timeout: timeoutMs,
        // Our own signals: Playwright's SIGINT/SIGTERM hooks would fight the server's shutdown.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      }),
    );
    const entry: Entry = { key, launching, browser: null, users: 0, retired: false, idle: null };
    this.entries.set(key, entry);
    this.open.add(entry);
    // Registered before any lease awaits the launch, so it runs first.
    launching.then(
      (browser) => this.adopt(entry, browser),
      () => this.open.delete(entry),
    );
    return entry;
  }

  private adopt(entry: Entry, browser: Browser): void {
    entry.browser = browser;
    // A crash, or a close from anywhere: forget it, so the next call launches a new one.
    browser.on('disconnected', () => {
      this.open.delete(entry);
      this.retire(entry);
    });
    if (this.closed || (entry.retired && entry.users === 0)) void this.shut(entry);
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    this.settle(entry);
  }

  /** Nobody uses it: a retired one closes now, a live one after `idleMs` of nobody asking for it. */
  private settle(entry: Entry): void {
    if (entry.users > 0 || !entry.browser) return;
    if (entry.retired || this.closed || this.idleMs <= 0) {
      if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
      void this.shut(entry);
      return;
    }
    if (entry.idle) clearTimeout(entry.idle);
    entry.idle = setTimeout(() => {
      if (entry.users === 0) this.retire(entry);
    }, this.idleMs);
    // An idle browser is no reason for the process to stay up.
    entry.idle.unref();
  }

  private async shut(entry: Entry): Promise<void> {
    if (entry.idle) clearTimeout(entry.idle);
    entry.idle = null;
    this.open.delete(entry);
    const browser = entry.browser ?? (await entry.launching.catch(() => null));
    await browser?.close().catch(() => undefined);
  }
}

/**
 * One call's use of chromium (a game check, a gameplay capture): its lease and its context, how it stops and how it
 * ends. Without a pool (the `dreamcore-render` command) it launches a browser of its own and closes it at the end.
 *
 * `stop()` (a cancel, or a game that hung) gives up on everything at once: `halted` rejects, so a step awaited beside
 * it returns even when the page is stuck in the game's loop (and closing its context may wait on that renderer too);
 * the context is closed, and the browser is retired: no later call gets it, and it closes, stuck renderer and all,
 * once no call uses it.
 */
export class BrowserCall {
  private readonly pool: ChromiumPool;
  private lease: ChromiumLease | null = null;
  private context: BrowserContext | null = null;
  private halt: () => void = () => undefined;
  /** Rejects once the call is stopped; race the call's steps against it. */
  readonly halted = new Promise<never>((_, reject) => (this.halt = () => reject(new Error('stopped'))));
  stopped = false;

  constructor(private readonly given: ChromiumPool | undefined) {
    this.pool = given ?? new ChromiumPool({ idleMs: 0 });
    this.halted.catch(() => undefined);
  }

  /** A browser context on a leased browser. A call stopped meanwhile gives its lease back and fails. */
  async newContext(executablePath: string, args: readonly string[], timeoutMs: number, options: BrowserContextOptions): Promise<BrowserContext> {
    const lease = await this.pool.lease(executablePath, args, timeoutMs);
    if (this.stopped) {
      lease.release();
      throw new Error('stopped');
    }
    this.lease = lease;
    // If the call stops while this opens, the browser is retired: closing it closes the context.
    const context = await lease.browser.newContext(options);
    this.context = context;
    if (this.stopped) throw new Error('stopped');
    return context;
  }

  stop(): void {
    this.stopped = true;
    this.lease?.retire();
    this.halt();
    void this.context?.close().catch(() => undefined);
  }

  /** The call is over: its context is closed (a stopped call's goes with its retired browser) and the lease returned. */
  async end(): Promise<void> {
    if (!this.stopped) await this.context?.close().catch(() => undefined);
    this.lease?.release();
    if (!this.given) await this.pool.close();
  }
}

let shared: ChromiumPool | undefined;

/** The process's pool, made on first use. Never closed by a backend: its idle timer closes what nobody uses. */
export function sharedChromiumPool(): ChromiumPool {
  return (shared ??= new ChromiumPool());
}
