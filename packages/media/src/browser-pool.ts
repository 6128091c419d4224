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
import type { Browser } from 'playwright-core';
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
    const entry: Entry = { key, launching: Promise.resolve(null as unknown as Browser), browser: null, users: 0, retired: false, idle: null };
    entry.launching = (async () => {
      const browser = await (
        await loadPlaywright()
      ).chromium.launch({
        executablePath,
        headless: true,
        args: [...args],
        timeout: timeoutMs,
        // Our own signals: Playwright's SIGINT/SIGTERM hooks would fight the server's shutdown.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      });
      entry.browser = browser;
      // A crash, or a close from anywhere: forget it, so the next call launches a new one.
      browser.on('disconnected', () => {
        this.open.delete(entry);
        this.retire(entry);
      });
      if (this.closed || (entry.retired && entry.users === 0)) await this.shut(entry);
      return browser;
    })();
    this.entries.set(key, entry);
    this.open.add(entry);
    entry.launching.catch(() => this.open.delete(entry));
    return entry;
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

let shared: ChromiumPool | undefined;

/** The process's pool, made on first use. Never closed by a backend: its idle timer closes what nobody uses. */
export function sharedChromiumPool(): ChromiumPool {
  return (shared ??= new ChromiumPool());
}
