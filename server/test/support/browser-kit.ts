/**
 * What browser test files share: the system chromium (never a downloaded one), pages that record uncaught errors,
 * signing a page in with a session made over REST, screenshots under test-artifacts/screenshots/, and projects set
 * up without the agent (a small canvas game written and committed through the backend, as a finished turn leaves it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { installedChromium } from '@dreamcore/media';
import type { Harness, Session } from './harness.js';
import { Client } from './harness.js';

// Browser globals used inside page.evaluate callbacks (this project compiles without the DOM lib).
declare const localStorage: { setItem(key: string, value: string): void; clear(): void };
declare const sessionStorage: { clear(): void };

export const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test-artifacts/screenshots');
export const SESSION_KEY = 'dreamcore.session.v1';
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * The browser the app's cases run in: the system's, never a downloaded one, picked as the product picks the one for
 * game checks (Debian's headless shell, else full chromium; `@dreamcore/media`'s installedChromium): the browser
 * files take about 0.7× the CPU they take on full chromium here. CHROMIUM_PATH points every case at one binary.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? installedChromium() ?? '/usr/bin/chromium';
/**
 * Full chromium, for what the headless shell leaves out: it denies the notification permission, so web push (the
 * English notifications case) runs here.
 */
export const FULL_CHROMIUM = process.env.CHROMIUM_PATH ?? installedChromium('full') ?? '/usr/bin/chromium';
const HAVE_PLAYWRIGHT = (() => {
  try {
    createRequire(import.meta.url).resolve('playwright-core');
    return true;
  } catch {
    return false;
  }
})();
export const CAN_RUN_BROWSER = HAVE_PLAYWRIGHT && existsSync(CHROMIUM);

/** The cases' browser; `full` for a case that needs what only full chromium has (notifications). */
export async function launchChromium(kind: 'headless' | 'full' = 'headless'): Promise<Browser> {
  mkdirSync(SHOTS, { recursive: true });
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: kind === 'full' ? FULL_CHROMIUM : CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A browser context at desktop or phone size (phone: touch and a mobile viewport), in a language. It asks for reduced
 * motion, as some users do: the app's spinners and typing dots then stand still instead of making chromium draw
 * frames for as long as an agent works (≈ 0.08 of a core per open page, measured), and nothing a test checks moves.
 */
export function newContext(browser: Browser, width: 'desktop' | 'phone', locale = 'en-US'): Promise<BrowserContext> {
  const reducedMotion = 'reduce';
  return width === 'desktop'
    ? browser.newContext({ viewport: DESKTOP, locale, reducedMotion })
    : browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, locale, reducedMotion });
}

/**
 * One context per width and language for the cases of a file that do not need a browser of their own (no fake clock,
 * permissions, init scripts or context-wide routes), and one page in it that the cases take in turn: each case gets that page with the
 * listeners and routes of the case before removed, its cookies, local and session storage cleared, and an errors list
 * of its own. Opening a page costs chromium about a second of CPU on this machine kind (a renderer starts, even for
 * about:blank: measured 1.1 s per page), navigating an open one costs what the app's load costs (0.8 s with the
 * server's share), and the browser files load the app in dozens of cases.
 * Not cleared: IndexedDB, the HTTP and Cache Storage caches, service worker registrations and the page's history,
 * so a case that depends on any of those being fresh (notifications registers a service worker) opens a context of
 * its own. A case that asks for a second page of the same width and language while it holds the first gets a new one.
 */
export function contextPool(browser: Browser, baseUrl: string) {
  type Slot = { context: BrowserContext; page: Page; used: boolean; taken: boolean };
  const open = new Map<string, Promise<Slot>>();
  const slotOf = new Map<BrowserContext, Slot>();
  return {
    async page(width: 'desktop' | 'phone', locale = 'en-US'): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
      const key = `${width} ${locale}`;
      if (!open.has(key)) {
        open.set(
          key,
          newContext(browser, width, locale).then(async (context) => {
            const slot = { context, page: await context.newPage(), used: false, taken: false };
            slotOf.set(context, slot);
            return slot;
          }),
        );
      }
      const slot = await open.get(key)!;
      if (slot.taken) return { context: slot.context, ...(await newPage(slot.context)) };
      // A case that closed the shared page leaves a new one for the next.
      if (slot.page.isClosed()) slot.page = await slot.context.newPage();
      slot.taken = true;
      const { context, page } = slot;
      page.removeAllListeners();
      await page.unrouteAll({ behavior: 'wait' });
      if (slot.used) {
        await context.clearCookies();
        await page.goto(`${baseUrl}/api/config`);
        await page.evaluate(() => {
          localStorage.clear();
          sessionStorage.clear();
        });
      }
      slot.used = true;
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      return { context, page, errors };
    },
    /** The end of a case: its other pages close, the shared one leaves the app (its socket and timers stop). */
    async release(context: BrowserContext): Promise<void> {
      const slot = slotOf.get(context);
      await Promise.all(
        context
          .pages()
          .filter((page) => page !== slot?.page)
          .map((page) => page.close()),
      );
      if (slot) {
        await slot.page.goto('about:blank');
        slot.taken = false;
      }
    },
    async close(): Promise<void> {
      await Promise.all([...open.values()].map(async (slot) => (await slot).context.close()));
      open.clear();
      slotOf.clear();
    },
  };
}

/** A page that records uncaught errors (tests assert the list empty at the end). */
export async function newPage(context: BrowserContext): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, errors };
}

export const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });

/**
 * Signs a page in with a session made over REST (as the app stores it after signing in), on the project list, or on
 * the app's address `at` (`/#/project/<id>`, `/mypage`; the caller waits for what it expects there). The session
 * is stored from a small same-origin document (the public config), not from a load of the app, which costs chromium a
 * second of CPU per page the app boots in.
 */
export async function signInAs(page: Page, baseUrl: string, session: Session, at?: string): Promise<void> {
  const payload = JSON.parse(Buffer.from(session.accessToken.split('.')[1]!, 'base64url').toString()) as { exp: number };
  const stored = {
    access_token: session.accessToken,
    refresh_token: session.refreshToken,
    token_type: 'bearer',
    expires_at: payload.exp,
    user: { id: session.userId, email: session.email },
  };
  await page.goto(`${baseUrl}/api/config`);
  await page.evaluate(([key, value]) => localStorage.setItem(key!, value!), [SESSION_KEY, JSON.stringify(stored)]);
  await page.goto(`${baseUrl}${at ?? '/#/'}`);
  if (!at) await page.locator('.projects-screen').waitFor();
}

/** A project made over the socket, as the "New game" button does. */
export async function createProjectOverSocket(h: Harness, session: Session, name: string): Promise<string> {
  const ws = await Client.init(h.url, session.accessToken);
  try {
    ws.send({ type: 'createProject', name });
    return (await ws.next((m) => m.type === 'projectCreated')).project.id as string;
  } finally {
    ws.close();
  }
}

/**
 * A canvas game: a square that the arrow keys move (its position is shown in the page title, so a test can read
 * it), drawn in `color`. `marker` ends up in the HTML so a test can tell versions apart. Like the demo games (and many
 * phone-friendly games) it cancels `pointerdown` on its canvas, which also cancels the focus a click would give it.
 * It draws when something changes rather than on every frame: a page left open on it then costs the test machine
 * nothing (an animation loop keeps a fifth of a core busy per open preview, and the browser files keep several open).
 */
export function movableGame(marker: string, color = '#22c55e'): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>x=0</title><meta name="test-marker" content="${marker}">
<style>html,body{margin:0;height:100%;background:#111}canvas{display:block;width:100%;height:100%}</style></head>
<body><canvas id="c"></canvas><script>
const c = document.getElementById('c'), g = c.getContext('2d');
let x = 0, y = 0;
function draw() { g.fillStyle = '#111'; g.fillRect(0, 0, c.width, c.height); g.fillStyle = '${color}'; g.fillRect(40 + x, 40 + y, 30, 30); }
function fit() { c.width = innerWidth; c.height = innerHeight; draw(); }
addEventListener('resize', fit); fit();
c.addEventListener('pointerdown', (e) => e.preventDefault());
addEventListener('keydown', (e) => {
  if (e.key === 'ArrowRight') x += 10; if (e.key === 'ArrowLeft') x -= 10;
  if (e.key === 'ArrowDown') y += 10; if (e.key === 'ArrowUp') y -= 10;
  document.title = 'x=' + x;
  draw();
});
</script></body></html>
`;
}

/** Writes the game and commits it through the backend, as a finished agent turn leaves a project. */
export async function commitGame(h: Harness, scope: { userId: string; projectId: string }, html: string, message: string): Promise<string> {
  await h.server.ctx.backend.files.write(scope, 'index.html', html);
  return (await h.server.ctx.backend.git.commit(scope, message)).hash;
}
