/**
 * The browser app (public/) in real Debian chromium (its headless shell; full chromium where a case needs notifications)
 * driven by playwright-core, against a running server whose agent is the real Claude CLI talking to the scripted demo
 * model (it writes real canvas games).
 *
 * - the golden path: sign up → new project → message → streamed reply → a canvas game in the preview → second
 *   message → two versions → diff → restore (confirmed) → assets → publish → the play page frames the game;
 * - phone width: chat and preview are tabs;
 * - a connection dropped twice in the middle of a job (once by the server, once by the page): the streamed text in
 *   the chat equals the job's stream exactly once, with nothing missing;
 * - a message sent before the server has selected the project (a slow link) or while the socket is reconnecting is
 *   shown at once, sent once the project is selected on a live connection, and answered;
 * - a second user cannot reach the first one's editor (error, then back to their own list; no data shown);
 * - the app in the user's language: with the browser in Japanese, then in English, at desktop and phone width, every
 *   word on the main screens is in that language; the language switch is remembered across a reload;
 * - in Japanese, at desktop and phone width (issue 17): V2's /login, a magic link read from the mail (real SMTP),
 *   a game made in the chat, published with the title, description and tags the model wrote and a picture of the
 *   running game as its thumbnail, the share sheet; a second user remixes it from the game page.
 * - notifications in English at desktop and phone width (issue 17): the bell and its list; web push turned on and off
 *   in Settings (the server's rows follow), a push the server sent through the local push service shown by the
 *   service worker in English, a tap on it opening the game; an app page offline served by the service worker.
 *
 * Screenshots of the main screens go to test-artifacts/screenshots/ (git-ignored).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Frame, Page, WebSocketRoute } from 'playwright-core';
import sharp from 'sharp';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createDemoScript, plainDemoScript as demoScript } from '@dreamcore/runtime-core/demo';
import { api, Client, signUp, startHarness, type Harness } from './support/harness.js';
import {
  CAN_RUN_BROWSER,
  CHROMIUM,
  commitGame,
  contextPool,
  createProjectOverSocket,
  DESKTOP,
  launchChromium,
  movableGame,
  newContext,
  newPage,
  PHONE,
  SESSION_KEY,
  shot,
  signInAs as signIn,
} from './support/browser-kit.js';
import { startFakeSmtp, type FakeSmtp } from './support/fake-smtp.js';
import { startFakePushService, type FakePushService } from './support/fake-push.js';

// Browser globals used inside page.evaluate / waitForFunction callbacks (this project compiles without the DOM lib).
declare const document: any;
declare const localStorage: { getItem(key: string): string | null };
declare const window: unknown;
declare const getComputedStyle: (el: unknown) => { visibility: string; display: string };

const AGENT_MS = 90_000;
const CAN_RUN = CAN_RUN_BROWSER;
if (!CAN_RUN) console.warn(`browser tests skipped: no chromium at ${CHROMIUM} (set CHROMIUM_PATH) or playwright-core is not installed`);

let h: Harness;
let browser: Browser;
let smtp: FakeSmtp;
let push: FakePushService;
/** One context per width and language for the cases that need no browser of their own (support/browser-kit.ts). */
let pool: ReturnType<typeof contextPool>;

/** What the golden path leaves for the phone-width test. */
let golden: { context: BrowserContext; projectId: string } | null = null;

// ---------------------------------------------------------------- helpers

/** Signs a page in with a session made over REST (as the app stores it after signing in). */
const signInAs = (page: Page, session: Parameters<typeof signIn>[2], at?: string) => signIn(page, h.url, session, at);

async function tokenOf(page: Page): Promise<string> {
  return page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? '{}').access_token as string, SESSION_KEY);
}

/** Creates a project from the list screen and returns its id (the editor opens at #/project/:id). */
async function createProject(page: Page, name: string): Promise<string> {
  await page.locator('.create-form input').fill(name);
  await page.locator('.create-form button[type=submit]').click();
  await page.waitForURL(/#\/project\/[0-9a-f-]{36}$/);
  await page.locator('.chat-input').waitFor();
  await page.locator('.editor-tabs').waitFor();
  return /#\/project\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
}

/** Sends a chat message and waits until the `n`-th assistant reply is complete. */
async function sendMessage(page: Page, text: string, n: number): Promise<void> {
  await page.locator('.chat-input').fill(text);
  await page.locator('button.send').click();
  await page.waitForFunction((count) => document.querySelectorAll('.msg-assistant[data-state="done"]').length >= count, n, { timeout: AGENT_MS });
}

/** What a tab switch does to the page: `document.visibilityState` and its event (the app reports it to the server). */
async function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate((value) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => value });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

async function previewFrame(page: Page): Promise<Frame> {
  const handle = await page.locator('iframe.preview-frame').elementHandle();
  const frame = await handle!.contentFrame();
  return frame!;
}

/** Waits until the preview shows a game whose HTML contains `marker`, and checks its canvas draws something. */
async function expectCanvasGame(page: Page, marker: string | ((html: string) => boolean)): Promise<Frame> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const frame = await previewFrame(page);
    const html = await frame.content().catch(() => '');
    const hit = typeof marker === 'string' ? html.includes(marker) : marker(html);
    if (hit && (await frame.locator('canvas').count()) > 0) {
      await frame.locator('canvas').first().waitFor({ state: 'visible' });
      await expect.poll(() => canvasIsDrawn(frame), { timeout: 10_000 }).toBe(true);
      return frame;
    }
    if (Date.now() > deadline) throw new Error(`the preview never showed a game with ${String(marker)}; it has: ${html.slice(0, 300)}`);
    await page.waitForTimeout(250);
  }
}

/** More than one colour on the canvas: the game is running and drawing. */
function canvasIsDrawn(frame: Frame): Promise<boolean> {
  return frame.evaluate(() => {
    const canvas = document.querySelector('canvas');
    if (!canvas || canvas.width === 0 || canvas.height === 0) return false;
    const ctx = canvas.getContext('2d');
    if (!ctx) return true; // a WebGL game: a visible canvas is what we can check
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const first = data.slice(0, 4).join(',');
    for (let i = 4; i < data.length; i += 4 * 97) if (`${data[i]},${data[i + 1]},${data[i + 2]},${data[i + 3]}` !== first) return true;
    return false;
  });
}

interface JobWire {
  id: string;
  status: string;
  result: string | null;
}

async function jobsOf(token: string, projectId: string): Promise<JobWire[]> {
  const res = await api(h.url, token)('GET', `/api/projects/${projectId}/jobs`);
  expect(res.status).toBe(200);
  return res.json.jobs as JobWire[];
}

const replyOf = (job: JobWire) => (JSON.parse(job.result ?? '{}') as { message?: string }).message ?? '';

interface Link {
  /** From the next server frame of this type on, the server's frames wait (in order) until `release`. */
  holdFrom(type: string): void;
  /** The types of the frames held back so far. */
  held(): string[];
  release(): void;
  /** The network is down: open sockets are closed, new ones closed at once. */
  down(): Promise<void>;
  up(): void;
  /** The network goes down as the page sends its next frame of this type, before it reaches the server. */
  downOnSend(type: string): Promise<void>;
  /**
   * The network goes down as the server's next frame of this type arrives, before the page gets it: the server has
   * taken what the page sent and the answer is lost. (Cutting just after a page frame instead would race the server:
   * a frame that waits behind the connection's earlier messages when the socket closes is never handled.)
   */
  downOnAnswer(type: string): Promise<void>;
}

/** Routes the context's WebSocket through the test: a slow link (server frames held back) or a network that is down. */
async function controlledLink(context: BrowserContext): Promise<Link> {
  let holdType: string | null = null;
  let holding = false;
  let isDown = false;
  const queue: { type: string; deliver: () => void }[] = [];
  const open = new Set<WebSocketRoute>();
  const down = async () => {
    isDown = true;
    await Promise.all([...open].map((ws) => ws.close({ code: 4000, reason: 'network down' }).catch(() => undefined)));
  };
  // One armed cut per direction: the next frame of its type is not passed on, and the network goes down instead.
  const cuts: Record<'fromPage' | 'fromServer', { type: string; done: () => void } | null> = { fromPage: null, fromServer: null };
  const cutsAt = (side: 'fromPage' | 'fromServer', type: string): boolean => {
    const armed = cuts[side];
    if (armed?.type !== type) return false;
    cuts[side] = null;
    void down().then(armed.done);
    return true;
  };
  const arm = (side: 'fromPage' | 'fromServer', type: string) => new Promise<void>((done) => void (cuts[side] = { type, done }));
  const typeOf = (frame: string | Buffer) => String((JSON.parse(String(frame)) as { type?: unknown }).type);
  await context.routeWebSocket(/\/ws$/, (page) => {
    if (isDown) return void page.close({ code: 4000, reason: 'network down' });
    const server = page.connectToServer();
    open.add(page);
    page.onClose(() => {
      open.delete(page);
      void server.close().catch(() => undefined);
    });
    page.onMessage((frame) => {
      if (!cutsAt('fromPage', typeOf(frame))) server.send(frame);
    });
    server.onMessage((frame) => {
      const type = typeOf(frame);
      if (cutsAt('fromServer', type)) return;
      if (!holding && type === holdType) holding = true;
      if (holding) queue.push({ type, deliver: () => page.send(frame) });
      else page.send(frame);
    });
  });
  return {
    holdFrom: (type) => void (holdType = type),
    held: () => queue.map((f) => f.type),
    release() {
      holding = false;
      holdType = null;
      for (const frame of queue.splice(0)) frame.deliver();
    },
    down,
    up: () => void (isDown = false),
    downOnSend: (type) => arm('fromPage', type),
    downOnAnswer: (type) => arm('fromServer', type),
  };
}

/**
 * Every piece of text a person sees on the page: visible text nodes (not inside a game frame or a <select>'s closed
 * list), the selected option of each visible <select>, and visible placeholders, titles, labels and alt texts.
 */
function visibleTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const shown = (el: any) => {
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none';
    };
    const texts: string[] = [];
    const walker = document.createTreeWalker(document.body, 4 /* NodeFilter.SHOW_TEXT */);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || el.closest('select, script, style, iframe') || !node.textContent.trim() || !shown(el)) continue;
      texts.push(node.textContent.trim());
    }
    for (const el of document.querySelectorAll('select')) if (shown(el)) texts.push(el.selectedOptions[0]?.textContent ?? '');
    for (const el of document.querySelectorAll('[placeholder], [title], [aria-label], img[alt]')) {
      if (!shown(el)) continue;
      for (const name of ['placeholder', 'title', 'aria-label', 'alt']) if (el.getAttribute(name)) texts.push(el.getAttribute(name));
    }
    return texts;
  });
}

/** Names that are the same in Japanese (brands, key names, units, file formats). */
const SAME_IN_JAPANESE = ['DreamCore', 'Google', 'AI', 'OK', 'MB', 'KB', 'Enter', 'Shift', 'zip', 'QR'];

/**
 * The words on the page that are not in the language: for Japanese, any word of Latin letters (outside the names
 * above); for English, any Japanese, Chinese or Korean. What the user wrote (names, titles) and links are left out.
 */
async function foreignWords(page: Page, lang: 'ja' | 'en', userContent: string[]): Promise<string[]> {
  const foreign: string[] = [];
  for (const text of await visibleTexts(page)) {
    let rest = text.replace(/https?:\/\/\S+/g, ' ');
    // Longest first: a name inside another is removed after it.
    const own = [...userContent, ...(lang === 'ja' ? SAME_IN_JAPANESE : [])].sort((a, b) => b.length - a.length);
    for (const words of own) rest = rest.split(words).join(' ');
    const stray = lang === 'ja' ? /[A-Za-z]{2,}/.test(rest) : /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u.test(rest);
    if (stray) foreign.push(text);
  }
  return [...new Set(foreign)];
}

// ---------------------------------------------------------------- tests

describe.skipIf(!CAN_RUN)('DreamCore in the browser', () => {
  beforeAll(async () => {
    [smtp, push] = await Promise.all([startFakeSmtp(), startFakePushService()]);
    const vapid = webpush.generateVAPIDKeys();
    // Sign-in mail goes to the local SMTP stand-in (the magic-link flow below reads it there); web push to the local
    // push service (the English notifications case).
    [h, browser] = await Promise.all([
      startHarness({
        script: demoScript,
        env: {
          SMTP_URL: smtp.url,
          VAPID_PUBLIC_KEY: vapid.publicKey,
          VAPID_PRIVATE_KEY: vapid.privateKey,
          PUSH_SERVICE_HOSTS: new URL(push.url).host,
        },
        pushAgent: push.agent,
      }),
      launchChromium(),
    ]);
    pool = contextPool(browser, h.url);
  }, 120_000);

  afterAll(async () => {
    await pool?.close();
    await browser?.close();
    await h?.close();
    await smtp?.close();
    await push?.close();
  });

  it('golden path: sign up → new game → streamed reply → canvas game → second message → versions → restore → publish → play page', async () => {
    // The one context (with its phone twin below) that keeps the default motion: the app as most people see it.
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
    const { page, errors } = await newPage(context);

    // Sign up with email + password (embedded auth: no Google button).
    await page.goto(h.url);
    await page.locator('.auth-card').waitFor();
    expect(await page.locator('button.google').count()).toBe(0);
    await shot(page, '01-sign-in');
    await page.locator('button[data-mode="signup"]').click();
    await page.locator('input[type=email]').fill(`golden-${Date.now()}@example.com`);
    await page.locator('input[type=password]').fill('correct horse battery');
    await page.locator('form.auth-form button[type=submit]').click();
    await page.locator('.projects-screen').waitFor();
    await page.locator('.empty-state').waitFor();
    await page.locator('.quota-item').first().waitFor();
    expect(await page.locator('.quota').textContent()).toMatch(/Games created\s*0 \/ 100/);

    // New game → the editor.
    const projectId = await createProject(page, 'Space Game');
    expect(await page.locator('[data-testid="project-title"]').textContent()).toBe('Space Game');
    const token = await tokenOf(page);

    // First message: the reply streams into the chat; progress shows while the job runs.
    await page.locator('.chat-input').fill('Make a space shooter game');
    await page.locator('button.send').click();
    await page.locator('.msg-user .msg-body', { hasText: 'Make a space shooter game' }).waitFor();
    await page.locator('[data-testid="job-status"]').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelectorAll('.msg-assistant[data-state="done"]').length >= 1, undefined, { timeout: AGENT_MS });
    await page.locator('[data-testid="job-status"]').waitFor({ state: 'hidden' });
    const [firstJob] = await jobsOf(token, projectId);
    expect(firstJob!.status).toBe('completed');
    const firstReply = (await page.locator('.msg-assistant').first().locator('.msg-body').textContent()) ?? '';
    expect(firstReply.trim()).toBe(replyOf(firstJob!));
    expect(firstReply.length).toBeGreaterThan(20);
    // The agent was told the language the app speaks to this user.
    expect(JSON.stringify(h.model.messageRequests.map((r) => r.body))).toContain("The user's language is English");

    // The preview reloaded onto the new version: a canvas game, running, inside the signed game URL.
    const frame = await expectCanvasGame(page, '<canvas');
    // The signed URL redirects to the same file under the signature's path prefix (the preview is sandboxed).
    expect(frame.url()).toMatch(new RegExp(`/game/[0-9a-f-]{36}/${projectId}/s-\\d+-[0-9a-f]{64}/index\\.html`));
    await page.locator('.preview-status[data-state="ok"]').waitFor();
    await shot(page, '03-editor-game');

    // Second message: the game changes (red palette) and the preview follows.
    await sendMessage(page, 'Make it faster and change the colors to red', 2);
    await expectCanvasGame(page, '"palette":"red"');
    const jobs = await jobsOf(token, projectId);
    expect(jobs.map((j) => j.status)).toEqual(['completed', 'completed']);
    expect(((await page.locator('.msg-assistant').nth(1).locator('.msg-body').textContent()) ?? '').trim()).toBe(replyOf(jobs[0]!));

    // History: two versions, each with its message; the newest is current.
    await page.locator('.tab-versions').click();
    await page.waitForFunction(() => document.querySelectorAll('.version-item').length === 2);
    const messages = await page.locator('.version-item .version-message').allTextContents();
    expect(messages).toEqual(['Make it faster and change the colors to red', 'Make a space shooter game']);
    expect(await page.locator('.version-item.current .version-number').textContent()).toBe('v2');
    await shot(page, '04-versions');

    // The diff of the newest version shows the palette line changing.
    await page.locator('.version-item').first().locator('[data-action="diff"]').click();
    await page.locator('dialog.diff-dialog .diff-add').first().waitFor();
    expect(await page.locator('dialog.diff-dialog').textContent()).toContain('"palette":"red"');
    await shot(page, '05-version-diff');
    await page.locator('dialog.diff-dialog [data-action="close"]').click();

    // Restore v1, confirmed in a dialog; cancelling first changes nothing.
    await page.locator('.version-item[data-number="2"] [data-action="restore"]').click();
    await page.locator('dialog.confirm-dialog').waitFor();
    await page.locator('dialog.confirm-dialog [data-action="cancel"]').click();
    expect(await page.locator('.version-item').count()).toBe(2);
    await page.locator('.version-item[data-number="2"] [data-action="restore"]').click();
    await page.locator('dialog.confirm-dialog').waitFor();
    await shot(page, '06-restore-confirm');
    await page.locator('dialog.confirm-dialog [data-action="confirm"]').click();
    await page.waitForFunction(() => document.querySelectorAll('.version-item').length === 3, undefined, { timeout: 30_000 });
    expect(await page.locator('.version-item').first().textContent()).toContain('Restored v1');
    const code = await api(h.url, token)('GET', `/api/projects/${projectId}/code`);
    expect(code.json.code).not.toContain('"palette":"red"');
    await page.locator('.tab-preview').click();
    await expectCanvasGame(page, (html) => !html.includes('"palette":"red"') && html.includes('<canvas'));

    // Assets: generate an image with a style and put a reference to it into the message box.
    await page.locator('.tab-assets').click();
    await page.locator('.generate-form input').fill('a red dragon');
    await page.locator('.generate-form select').selectOption('pixel');
    await page.locator('.generate-form button[type=submit]').click();
    await page.locator('.generated img').waitFor({ timeout: 30_000 });
    await page.locator('.asset-card').first().waitFor();
    await shot(page, '07-assets');
    await page.locator('.generated button').click();
    expect(await page.locator('.chat-input').inputValue()).toMatch(/^1：画像「a_red_dragon\.png」を使用: \/user-assets\/[0-9a-f-]{36}\/a_red_dragon\.png\n/);
    await page.locator('.chat-input').fill('');

    // Publish: title, description, how to play, tags, visibility.
    await page.locator('.tab-publish').click();
    await expect.poll(() => page.locator('input[name=title]').inputValue()).toBe('Space Game');
    await page.locator('input[name=title]').fill('Star Blaster');
    await page.locator('textarea[name=description]').fill('Blast the asteroids before they reach you.');
    await page.locator('textarea[name=howToPlay]').fill('Arrow keys to move, Space to shoot.');
    await page.locator('input[name=tags]').fill('shooter, space, retro');
    await page.locator('select[name=visibility]').selectOption('unlisted');
    await page.locator('.publish-form button[type=submit]').click();
    const playLink = page.locator('[data-testid="play-link"]');
    await playLink.waitFor();
    await shot(page, '08-publish');
    const href = (await playLink.getAttribute('href'))!;
    expect(href).toMatch(/^\/play\/g_[A-Za-z0-9]{10}$/);
    const gameId = href.split('/').pop()!;
    const published = await api(h.url, token)('GET', `/api/projects/${projectId}/published`);
    expect(published.json.game).toMatchObject({
      title: 'Star Blaster',
      how_to_play: 'Arrow keys to move, Space to shoot.',
      tags: ['shooter', 'space', 'retro'],
      visibility: 'unlisted',
    });

    // The play page: details, the game framed from /g/, one play counted.
    const { page: play, errors: playErrors } = await newPage(context);
    await play.goto(`${h.url}${href}`);
    await play.locator('[data-testid="play-title"]', { hasText: 'Star Blaster' }).waitFor();
    expect(await play.locator('.play-info').textContent()).toContain('Arrow keys to move, Space to shoot.');
    const gameFrame = play.frameLocator('iframe.play-frame');
    await gameFrame.locator('canvas').first().waitFor({ state: 'visible', timeout: 30_000 });
    const playFrame = (await (await play.locator('iframe.play-frame').elementHandle())!.contentFrame())!;
    expect(playFrame.url()).toBe(`${h.url}/g/${gameId}/index.html`);
    await expect.poll(async () => (await api(h.url)('GET', `/api/published-games/${gameId}`)).json.play_count, { timeout: 10_000 }).toBe(1);
    await play.waitForTimeout(600);
    await shot(play, '09-play-page');
    expect(playErrors).toEqual([]);
    await play.close();

    // Back to the list: the game is there, marked published; quota counted the project and both messages.
    await page.locator('.back-link').click();
    await page.locator(`.project-card[data-project-id="${projectId}"] .badge-live`).waitFor();
    await page.locator('.quota-item').first().waitFor();
    expect(await page.locator('.quota').textContent()).toMatch(/Games created\s*1 \/ 100.*Messages sent\s*2 \/ 100/s);
    await shot(page, '02-project-list');

    expect(errors).toEqual([]);
    golden = { context, projectId };
  }, 180_000);

  it('phone width: chat and preview are tabs, nothing overflows', async () => {
    expect(golden).not.toBeNull();
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      storageState: await golden!.context.storageState(),
    });
    const { page, errors } = await newPage(context);
    await page.goto(`${h.url}/#/project/${golden!.projectId}`);
    await page.locator('.msg-assistant[data-state="done"], .msg-assistant').first().waitFor();
    await page.locator('.pane-chat').waitFor({ state: 'visible' });
    expect(await page.locator('.pane-side').isVisible()).toBe(false);
    expect(await page.locator('.tab-chat').getAttribute('aria-selected')).toBe('true');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, '10-mobile-editor-chat');
    // The game is not started inside the hidden pane (it would size its canvas to 0×0 there).
    expect(await page.locator('iframe.preview-frame').getAttribute('data-loads')).toBeNull();

    await page.locator('.tab-preview').click();
    await page.locator('.pane-chat').waitFor({ state: 'hidden' });
    await page.locator('iframe.preview-frame').waitFor({ state: 'visible' });
    await page.frameLocator('iframe.preview-frame').locator('canvas').first().waitFor({ state: 'visible', timeout: 30_000 });
    expect(await page.locator('iframe.preview-frame').getAttribute('data-loads')).toBe('1');
    const canvas = (await page.frameLocator('iframe.preview-frame').locator('canvas').first().boundingBox())!;
    expect(canvas.width).toBeGreaterThan(200);
    const box = (await page.locator('iframe.preview-frame').boundingBox())!;
    expect(box.width).toBeGreaterThan(300);
    expect(box.x + box.width).toBeLessThanOrEqual(390);
    await page.waitForTimeout(500);
    await shot(page, '11-mobile-editor-preview');

    await page.locator('.tab-versions').click();
    await page.waitForFunction(() => document.querySelectorAll('.version-item').length === 3);
    await page.goto(`${h.url}/#/`);
    await page.locator('.project-card').first().waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, '12-mobile-project-list');
    expect(errors).toEqual([]);
    await context.close();
    await golden!.context.close();
  }, 60_000);

  it("the user's language: Japanese and English, desktop and phone, every word on the main screens; the switch is remembered", async () => {
    const user = await signUp(h.url);
    const as = api(h.url, user.accessToken);
    // What the user wrote stays as they wrote it; everything else must be in the page's language.
    const name = 'みか';
    const title = 'ほしのゲーム';
    expect((await as('PATCH', '/api/users/me', { display_name: name })).status).toBe(200);
    const projectId = await createProjectOverSocket(h, user, title);
    await commitGame(h, { userId: user.userId, projectId }, movableGame('i18n'), 'ほしを集めるゲーム');
    const published = await as('POST', `/api/projects/${projectId}/publish`, {
      title,
      description: 'ほしを集めよう',
      howToPlay: '矢印キーで動く',
      tags: ['宇宙'],
      visibility: 'public',
    });
    expect(published.status).toBe(200);
    const userContent = [name, title, title[0]!, user.email, 'ほしを集めるゲーム', 'ほしを集めよう', '矢印キーで動く', '宇宙', 'index.html'];

    /** Opens each main screen and checks its words; returns the screens seen. */
    async function tour(page: Page, lang: 'ja' | 'en', width: 'desktop' | 'phone'): Promise<string[]> {
      const seen: string[] = [];
      // Every screen once in Japanese at desktop width; the others see the main ones (each screen costs a second).
      const full = lang === 'ja' && width === 'desktop';
      const check = async (screen: string) => {
        expect(await page.evaluate(() => document.documentElement.lang)).toBe(lang);
        expect(await foreignWords(page, lang, userContent), `${lang} ${width} ${screen}`).toEqual([]);
        if (width === 'phone') expect(await page.evaluate(() => document.documentElement.scrollWidth), screen).toBeLessThanOrEqual(PHONE.width);
        await shot(page, `i18n-${lang}-${width}-${screen}`);
        seen.push(screen);
      };
      await page.goto(`${h.url}/#/`);
      await page.locator(`.project-card[data-project-id="${projectId}"]`).waitFor();
      await page.locator('.quota-item').first().waitFor();
      await expect.poll(() => page.locator('[data-testid="account-name"]').textContent()).toBe(name);
      await check('projects');
      if (full) {
        await page.locator(`.project-card[data-project-id="${projectId}"] [data-action="delete"]`).click();
        await page.locator('dialog.confirm-dialog').waitFor();
        await check('delete-confirm');
        await page.locator('dialog.confirm-dialog [data-action="cancel"]').click();
      }

      await page.goto(`${h.url}/#/project/${projectId}`);
      await page.locator('.chat-welcome').waitFor();
      if (width === 'desktop') await page.locator('.preview-status[data-state="ok"]').waitFor({ timeout: 30_000 });
      await check('editor');
      for (const tab of width === 'desktop' ? ['versions', 'assets', 'publish'] : ['publish']) {
        await page.locator(`.tab-${tab}`).click();
        if (tab === 'versions') await page.locator('.version-item').first().waitFor();
        if (tab === 'publish') await page.locator('[data-testid="publish-result"][data-state="live"]').waitFor();
        await check(tab);
      }
      await page.locator('[data-testid="open-settings"]').click();
      await page.locator('dialog.settings-dialog').waitFor();
      await check('settings');
      await page.locator('dialog.settings-dialog [data-action="cancel"]').click();

      if (width === 'desktop') {
        await page.goto(`${h.url}/play/${published.json.gameId}`);
        await page.locator('[data-testid="play-title"]').waitFor();
        await check('play');
      }
      return seen;
    }

    // Japanese, from the browser's language: desktop, then phone.
    for (const width of ['desktop', 'phone'] as const) {
      const { context, page, errors } = await pool.page(width, 'ja-JP');
      await page.goto(`${h.url}/#/login`);
      await page.locator('.auth-card').waitFor();
      expect(await page.locator('form.auth-form button[type=submit]').textContent()).toBe('ログイン');
      expect(await foreignWords(page, 'ja', [])).toEqual([]);
      await shot(page, `i18n-ja-${width}-sign-in`);
      await signInAs(page, user);
      expect(await tour(page, 'ja', width)).toHaveLength(width === 'desktop' ? 8 : 4);
      expect(errors).toEqual([]);
      await pool.release(context);
    }

    // English from the browser; the switch (in the bar) changes the page at once, and a reload keeps the choice.
    const { context, page, errors } = await pool.page('desktop', 'en-US');
    await signInAs(page, user);
    await tour(page, 'en', 'desktop');
    await page.goto(`${h.url}/#/`);
    await page.locator('.projects-head h1', { hasText: 'My games' }).waitFor();
    await page.locator('[data-testid="language-switch"]').selectOption('ja');
    await page.locator('.projects-head h1', { hasText: 'マイゲーム' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('ja');
    await page.reload();
    await page.locator('.projects-head h1', { hasText: 'マイゲーム' }).waitFor();
    expect(await page.locator('[data-testid="language-switch"]').inputValue()).toBe('ja');
    expect(await foreignWords(page, 'ja', userContent)).toEqual([]);
    // The server's own pages read the choice too (a cookie), over the browser's English.
    await page.goto(`${h.url}/play/not-a-game`);
    await page.locator('[data-testid="error-page"] h1', { hasText: 'このリンクはゲームにつながっていません' }).waitFor();
    // The other four, for a reviewer to look at (and for Chinese and Korean: no Latin word either).
    await page.goto(`${h.url}/#/`);
    for (const [lang, heading] of [
      ['zh', '我的游戏'],
      ['ko', '내 게임'],
      ['es', 'Mis juegos'],
      ['pt', 'Meus jogos'],
    ] as const) {
      await page.locator('[data-testid="language-switch"]').selectOption(lang);
      await page.locator('.projects-head h1', { hasText: heading }).waitFor();
      expect(await page.evaluate(() => document.documentElement.lang)).toBe(lang);
      await page.locator('.quota-item').first().waitFor();
      if (lang === 'zh' || lang === 'ko') expect(await foreignWords(page, 'ja', userContent), lang).toEqual([]);
      await shot(page, `i18n-${lang}-desktop-projects`);
    }
    await page.locator('[data-testid="language-switch"]').selectOption('en');
    await page.locator('.projects-head h1', { hasText: 'My games' }).waitFor();
    expect(errors).toEqual([]);
    await pool.release(context);
  }, 150_000);

  it('profiles (issue 17): /mypage sets the username and picture, /u/:username and /@username follow; Japanese and English, desktop and phone', async () => {
    // A published game seeded directly (the agent is not what this is about).
    const user = await signUp(h.url);
    const taken = await signUp(h.url);
    const as = api(h.url, user.accessToken);
    const stamp = String(Date.now() % 1_000_000);
    const [first, second, takenName] = [`hoshi_${stamp}`, `hoshi_b_${stamp}`, `taken_${stamp}`];
    expect((await api(h.url, taken.accessToken)('PATCH', '/api/users/me', { username: takenName })).status).toBe(200);
    const projectId = await createProjectOverSocket(h, user, 'ほしのゲーム');
    await commitGame(h, { userId: user.userId, projectId }, movableGame('profile'), 'ほしのゲーム');
    expect((await as('POST', `/api/projects/${projectId}/publish`, { title: 'ほしあつめ', description: 'ほしを集めよう' })).status).toBe(200);
    const avatar = await sharp({ create: { width: 600, height: 400, channels: 4, background: { r: 255, g: 120, b: 40, alpha: 1 } } })
      .png()
      .toBuffer();
    const userContent = ['ほしのゲーム', 'ほしあつめ', 'ほしを集めよう', 'みか', 'Mika', 'ほ', 'M', first, second, takenName, user.email];

    const check = async (page: Page, lang: 'ja' | 'en', width: 'desktop' | 'phone', screen: string) => {
      expect(await foreignWords(page, lang, userContent), `${lang} ${width} ${screen}`).toEqual([]);
      if (width === 'phone') expect(await page.evaluate(() => document.documentElement.scrollWidth), screen).toBeLessThanOrEqual(PHONE.width);
      await shot(page, `profile-${lang}-${width}-${screen}`);
    };
    /** The public page at `path` shows the user, their picture and their game. */
    const publicPage = async (page: Page, path: string, name: string) => {
      await page.goto(`${h.url}${path}`);
      await page.locator('[data-testid="profile-head"] h1', { hasText: name }).waitFor();
      await page.locator('.profile-game-title', { hasText: 'ほしあつめ' }).waitFor();
      expect(await page.locator('[data-testid="profile-head"] .avatar img').getAttribute('src')).toMatch(/^\/user-avatars\//);
      expect(await page.locator('[data-testid="profile-edit"]').count()).toBe(0);
    };

    // Japanese, desktop: the rules are said as the name is typed, then it is saved with a picture.
    {
      const { context, page, errors } = await pool.page('desktop', 'ja-JP');
      await signInAs(page, user, '/mypage');
      const form = page.locator('[data-testid="profile-edit"]');
      await form.waitFor();
      await check(page, 'ja', 'desktop', 'mypage-before');
      const status = page.locator('[data-testid="username-status"]');
      await form.locator('input[name=username]').fill('ab');
      await status.filter({ hasText: '半角の小文字（a〜z）・数字・_ で3〜20文字にしてください。' }).waitFor();
      await form.locator('input[name=username]').fill(takenName);
      await status.filter({ hasText: 'このユーザー名はほかの人が使っています' }).waitFor();
      await form.locator('input[name=username]').fill(first);
      await status.filter({ hasText: `@${first} は使えます。` }).waitFor();
      await form.locator('input[name=display_name]').fill('みか');
      await form.locator('input[type=file]').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: avatar });
      await page.locator('[data-testid="profile-head"] .avatar img').waitFor();
      await form.locator('button[type=submit]').click();
      await page.locator('.toast', { hasText: 'プロフィールを保存しました。' }).waitFor();
      await page.locator('[data-testid="profile-head"] h1', { hasText: 'みか' }).waitFor();
      expect(await page.locator('[data-testid="public-page-link"]').getAttribute('href')).toBe(`/@${first}`);
      await check(page, 'ja', 'desktop', 'mypage-saved');
      // A refused save says why, in Japanese, and changes nothing.
      await form.locator('input[name=username]').fill(takenName);
      await form.locator('button[type=submit]').click();
      await form.locator('[role=alert]:not([hidden])', { hasText: 'このユーザー名はほかの人が使っています' }).waitFor();
      expect((await as('GET', '/api/users/me')).json.username).toBe(first);
      await check(page, 'ja', 'desktop', 'mypage-refused');
      await publicPage(page, `/u/${first}`, 'みか');
      await check(page, 'ja', 'desktop', 'public-page');
      expect(errors).toEqual([]);
      await pool.release(context);
    }

    // Japanese, phone: the same two pages fit the screen.
    {
      const { context, page, errors } = await pool.page('phone', 'ja-JP');
      await signInAs(page, user, '/mypage');
      await page.locator('[data-testid="profile-edit"] input[name=username]').waitFor();
      expect(await page.locator('[data-testid="profile-edit"] input[name=username]').inputValue()).toBe(first);
      await check(page, 'ja', 'phone', 'mypage');
      await publicPage(page, `/@${first}`, 'みか');
      await check(page, 'ja', 'phone', 'public-page');
      expect(errors).toEqual([]);
      await pool.release(context);
    }

    // English: a new username; the old address is gone and the new one answers, at both widths.
    for (const width of ['desktop', 'phone'] as const) {
      const { context, page, errors } = await pool.page(width, 'en-US');
      await signInAs(page, user, '/mypage');
      const form = page.locator('[data-testid="profile-edit"]');
      await form.locator('input[name=username]').waitFor();
      if (width === 'desktop') {
        await form.locator('input[name=display_name]').fill('Mika');
        await form.locator('input[name=username]').fill(second.toUpperCase());
        await form.locator('button[type=submit]').click();
        await page.locator('.toast', { hasText: 'Your profile is saved.' }).waitFor();
        await page.locator('[data-testid="profile-head"]', { hasText: `@${second}` }).waitFor();
      }
      await check(page, 'en', width, 'mypage');
      await publicPage(page, `/u/${second}`, 'Mika');
      await check(page, 'en', width, 'public-page');
      await page.goto(`${h.url}/@${first}`);
      await page.locator('.empty-state h1', { hasText: 'There is nobody here.' }).waitFor();
      expect(errors).toEqual([]);
      await pool.release(context);
    }
  }, 150_000);

  it('the asset library (issue 17), in Japanese: a big picture made smaller, rename, search, only me, delete; the same library on a phone in English', async () => {
    const user = await signUp(h.url);
    const projectId = await createProjectOverSocket(h, user, 'ドラゴンのゲーム');
    await commitGame(h, { userId: user.userId, projectId }, movableGame('assets'), 'ドラゴンのゲーム');
    // Wider than the 2048 px a stored picture may be: it is made smaller on the way in.
    const wide = await sharp({ create: { width: 2600, height: 1300, channels: 4, background: { r: 40, g: 160, b: 90, alpha: 0.5 } } })
      .png()
      .toBuffer();
    const { context, page, errors } = await pool.page('desktop', 'ja-JP');
    await signInAs(page, user, `/#/project/${projectId}`);
    await page.locator('.tab-assets').click();
    const panel = page.locator('section.assets');
    await panel.locator('.asset-grid', { hasText: 'まだ素材がありません。' }).waitFor();
    await panel.locator('input[type=file]').setInputFiles({ name: 'dragon.png', mimeType: 'image/png', buffer: wide });
    await page.locator('.toast', { hasText: /「dragon\.png」をアップロードしました。ゲームがすぐ開けるように小さくしました（.+ → .+）。/ }).waitFor();
    const card = panel.locator('.asset-card');
    await card.waitFor();
    const userContent = ['ドラゴンのゲーム', 'dragon.png', 'ドラゴン', user.email, 'index.html'];
    expect(await foreignWords(page, 'ja', userContent)).toEqual([]);
    await shot(page, 'assets-ja-desktop-uploaded');
    const [asset] = (await api(h.url, user.accessToken)('GET', '/api/assets')).json.assets as { id: string; url: string }[];
    expect((await sharp(Buffer.from(await (await fetch(`${h.url}${asset!.url}`)).arrayBuffer())).metadata()).width).toBe(2048);

    // Rename: the name shown changes (the address the game uses does not).
    await card.locator('[data-action="rename-asset"]').click();
    await page.locator('dialog.prompt-dialog input').fill('ドラゴン');
    await page.locator('dialog.prompt-dialog [data-action="confirm"]').click();
    await card.locator('.asset-name', { hasText: 'ドラゴン' }).waitFor();
    // Search: the server's search, full-width letters and all.
    const search = panel.locator('input.asset-search');
    await search.fill('ドラゴ');
    await expect.poll(() => panel.locator('.asset-card').count()).toBe(1);
    await search.fill('ねこ');
    await panel.locator('.asset-grid', { hasText: '「ねこ」に合う素材はありません。' }).waitFor();
    expect(await foreignWords(page, 'ja', userContent)).toEqual([]);
    await search.fill('');
    await card.waitFor();

    // Only me: marked on the card; nobody else can load it any more.
    await card.locator('[data-action="toggle-public"]').click();
    await card.locator('[data-testid="asset-private"]', { hasText: '自分だけ' }).waitFor();
    expect((await fetch(`${h.url}${asset!.url}`)).status).toBe(404);
    expect(await foreignWords(page, 'ja', userContent)).toEqual([]);
    await shot(page, 'assets-ja-desktop-private');

    // The same library on a phone, in English: the card, its state and its actions fit the screen.
    const { context: phone, page: small, errors: smallErrors } = await pool.page('phone', 'en-US');
    await signInAs(small, user, `/#/project/${projectId}`);
    await small.locator('.tab-assets').click();
    const smallCard = small.locator('section.assets .asset-card');
    await smallCard.locator('.asset-name', { hasText: 'ドラゴン' }).waitFor();
    await smallCard.locator('[data-testid="asset-private"]', { hasText: 'Only you' }).waitFor();
    // Its owner still sees the picture (an <img> alone cannot send the owner's token).
    await expect.poll(() => smallCard.locator('img').evaluate((img: { naturalWidth: number }) => img.naturalWidth)).toBeGreaterThan(0);
    for (const action of ['rename-asset', 'toggle-public', 'delete-asset']) await smallCard.locator(`[data-action="${action}"]`).waitFor();
    expect(await small.locator('section.assets input.asset-search').getAttribute('placeholder')).toBe('Search by name or description');
    expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await foreignWords(small, 'en', userContent)).toEqual([]);
    await shot(small, 'assets-en-phone-private');
    expect(smallErrors).toEqual([]);
    await pool.release(phone);

    // Delete, confirmed.
    await card.locator('[data-action="delete-asset"]').click();
    await page.locator('dialog.confirm-dialog', { hasText: '「ドラゴン」を削除しますか？' }).waitFor();
    expect(await foreignWords(page, 'ja', userContent)).toEqual([]);
    await page.locator('dialog.confirm-dialog [data-action="confirm"]').click();
    await panel.locator('.asset-grid', { hasText: 'まだ素材がありません。' }).waitFor();
    expect((await api(h.url, user.accessToken)('GET', '/api/assets')).json.assets).toEqual([]);
    expect(errors).toEqual([]);
    await pool.release(context);
  }, 90_000);

  it('a first 2D game asks for a look first: the cards show their pictures, a pick starts the job with it', async () => {
    const user = await signUp(h.url);
    h.model.setScript(demoScript);
    const { context, page, errors } = await pool.page('desktop');
    await signInAs(page, user);
    const projectId = await createProject(page, 'Styled game');
    await page.locator('.chat-input').fill('2Dのシューティングゲームを作って');
    await page.locator('button.send').click();
    const picker = page.locator('[data-testid="style-picker"][data-state="open"]');
    await picker.waitFor({ timeout: 15_000 });
    expect(await picker.getAttribute('data-dimension')).toBe('2d');
    // Every card's picture loaded (SVG from /styles/…), and the message box is free again.
    await expect
      .poll(() => page.evaluate(() => [...document.querySelectorAll('.style-card img')].every((img: any) => img.complete && img.naturalWidth > 0)))
      .toBe(true);
    expect(await page.locator('.style-card').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator('button.send').isDisabled()).toBe(false);
    await shot(page, '13-style-picker');
    // Typing on instead of answering: the message is handed back, the question stays.
    await page.locator('.chat-input').fill('make it blue');
    await page.locator('button.send').click();
    await page.locator('.msg-system', { hasText: 'Choose a look first' }).waitFor();
    expect(await page.locator('.chat-input').inputValue()).toBe('make it blue');
    expect(await page.locator('.msg-user').count()).toBe(1);
    await page.locator('.chat-input').fill('');

    await page.locator('.style-card[data-style-id="neon"]').click();
    await page.waitForFunction(() => document.querySelectorAll('.msg-assistant[data-state="done"]').length >= 1, undefined, { timeout: AGENT_MS });
    expect(await page.locator('.style-card.chosen').getAttribute('data-style-id')).toBe('neon');
    expect(await page.locator('.style-card:disabled').count()).toBe(await page.locator('.style-card').count());
    // One user message in the conversation, and the project now has its STYLE.md.
    expect(await page.locator('.msg-user').count()).toBe(1);
    const styleFile = await api(h.url, user.accessToken)('GET', `/game/${user.userId}/${projectId}/STYLE.md`);
    expect(styleFile.text).toMatch(/^# Neon cyber \(ネオンサイバー\)\n\nid: neon\n/);
    expect(errors).toEqual([]);
    await pool.release(context);
  }, 120_000);

  it('a connection dropped twice in the middle of a job: the streamed reply ends up complete, exactly once', async () => {
    const user = await signUp(h.url);
    // Slow streaming, so the drops land in the middle of the reply.
    h.model.setScript(createDemoScript({ chunkDelayMs: 30, extras: false }));
    const context = await newContext(browser, 'desktop');
    const { page, errors } = await newPage(context);
    try {
      await signInAs(page, user);
      const projectId = await createProject(page, 'Snake');
      await page.locator('.chat-input').fill('Make a snake game');
      await page.locator('button.send').click();

      const bubble = page.locator('.msg-assistant').last();
      const textLength = async () => ((await bubble.locator('.msg-body').textContent()) ?? '').length;
      await expect.poll(textLength, { timeout: AGENT_MS, interval: 50 }).toBeGreaterThan(12);
      const jobId = (await page.evaluate(
        () => (window as unknown as { dreamcoreDebug: { stats(): { cursor: { jobId: string } } } }).dreamcoreDebug.stats().cursor.jobId,
      ))!;
      const stats = () => page.evaluate(() => (window as unknown as { dreamcoreDebug: { stats(): Record<string, number> } }).dreamcoreDebug.stats());

      // 1. The server drops the socket (as a proxy or a network failure would).
      const before = await textLength();
      const sockets = [...h.server.ctx.connections].filter((c) => c.userId === user.userId);
      expect(sockets.length).toBeGreaterThan(0);
      for (const c of sockets) (c as unknown as { ws: { terminate(): void } }).ws.terminate();
      await page.locator('.conn-status[data-state="offline"], .conn-status[data-state="connecting"]').waitFor({ timeout: 5_000 });
      await shot(page, '13-reconnecting-mid-stream');
      expect((await api(h.url, user.accessToken)('GET', `/api/jobs/${jobId}`)).json.status).toBe('processing');
      await expect.poll(async () => (await stats()).connections, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
      await expect.poll(textLength, { timeout: AGENT_MS, interval: 50 }).toBeGreaterThan(before);

      // 2. The page drops it (the debug handle closes the socket as a network failure would).
      const middle = await textLength();
      const running = (await api(h.url, user.accessToken)('GET', `/api/jobs/${jobId}`)).json.status;
      await page.evaluate(() => (window as unknown as { dreamcoreDebug: { dropConnection(): boolean } }).dreamcoreDebug.dropConnection());
      await expect.poll(async () => (await stats()).connections, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);

      await page.locator('.msg-assistant[data-state="done"]').waitFor({ timeout: AGENT_MS });
      const shown = (await bubble.locator('.msg-body').textContent()) ?? '';
      expect(shown.length).toBeGreaterThan(middle);

      // What the server streamed, from its durable event log.
      const events = (await api(h.url, user.accessToken)('GET', `/api/jobs/${jobId}/events?after=0`)).json.events as {
        seq: number;
        type: string;
        content?: string;
      }[];
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const streamed = events
        .filter((e) => e.type === 'stream')
        .map((e) => e.content ?? '')
        .join('');
      expect(events.at(-1)!.type).toBe('completed');
      expect(shown).toBe(streamed);
      const [job] = await jobsOf(user.accessToken, projectId);
      expect(shown.trim()).toBe(replyOf(job!));
      // It really was interrupted mid-stream at least once, and the page resubscribed rather than starting over.
      expect(before).toBeLessThan(streamed.length);
      expect(running === 'processing' || middle < streamed.length).toBe(true);
      const final = await stats();
      expect(final.dropped).toBeGreaterThanOrEqual(2);
      expect(await page.locator('.msg-assistant').count()).toBe(1);
      // The preview picked up the game even though `gameUpdated` went to a socket that was gone.
      await expectCanvasGame(page, '<canvas');

      // A fresh load shows the conversation from history, the reply once.
      await page.reload();
      await page.locator('.msg-assistant').first().waitFor();
      expect(await page.locator('.msg-assistant').count()).toBe(1);
      expect(await page.locator('.msg-assistant .msg-body').textContent()).toBe(replyOf(job!));
      expect(errors).toEqual([]);
    } finally {
      h.model.setScript(demoScript);
      await context.close();
    }
  }, 150_000);

  it('a message sent before the project is selected (a slow link) is shown at once, sent once, and answered', async () => {
    const user = await signUp(h.url);
    const context = await newContext(browser, 'desktop');
    const link = await controlledLink(context);
    const { page, errors } = await newPage(context);
    await signInAs(page, user);
    // The editor asks for its project; the answer (and everything after it) is slow to arrive.
    link.holdFrom('projectSelected');
    const projectId = await createProject(page, 'Slow link');
    await page.locator('.chat-input').fill('Make a snake game');
    await page.locator('.chat-input').press('Enter');
    await page.locator('.msg-user .msg-body', { hasText: 'Make a snake game' }).waitFor();
    // The server's answer may still be on its way when the message shows: either way the page has not seen it.
    await expect.poll(() => link.held()[0], { timeout: 20_000 }).toBe('projectSelected');
    await shot(page, '16-sent-before-selected');
    link.release();

    await page.waitForFunction(() => document.querySelectorAll('.msg-assistant[data-state="done"]').length >= 1, undefined, { timeout: AGENT_MS });
    expect(await page.locator('.msg-user .msg-body').allTextContents()).toEqual(['Make a snake game']);
    expect(await page.locator('.msg-system').count()).toBe(0);
    expect(await page.locator('.chat-input').inputValue()).toBe('');
    const jobs = await jobsOf(user.accessToken, projectId);
    expect(jobs.map((j) => j.status)).toEqual(['completed']);
    expect(((await page.locator('.msg-assistant .msg-body').textContent()) ?? '').trim()).toBe(replyOf(jobs[0]!));
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('a message sent while the socket is reconnecting waits for the connection, then is sent once and answered', async () => {
    const user = await signUp(h.url);
    const context = await newContext(browser, 'desktop', 'ja-JP');
    const link = await controlledLink(context);
    const { page, errors } = await newPage(context);
    await signInAs(page, user);
    const projectId = await createProject(page, '再接続');
    await page.locator('.chat-welcome').waitFor();

    await link.down();
    await page.locator('.conn-status[data-state="offline"], .conn-status[data-state="connecting"]').waitFor({ timeout: 5_000 });
    await page.locator('.chat-input').fill('ヘビのゲームを作って');
    await page.locator('.chat-input').press('Enter');
    const bubble = page.locator('.msg-user', { hasText: 'ヘビのゲームを作って' });
    await bubble.waitFor();
    expect(await bubble.getAttribute('data-state')).toBe('queued');
    expect(await bubble.textContent()).toContain('接続');
    await shot(page, '17-queued-while-offline');
    expect(await jobsOf(user.accessToken, projectId)).toEqual([]);

    link.up();
    await page.waitForFunction(() => document.querySelectorAll('.msg-assistant[data-state="done"]').length >= 1, undefined, { timeout: AGENT_MS });
    expect(await bubble.getAttribute('data-state')).toBe('sent');
    expect(await page.locator('.msg-user').count()).toBe(1);
    expect(await page.locator('.chat-input').inputValue()).toBe('');
    const jobs = await jobsOf(user.accessToken, projectId);
    expect(jobs.map((j) => j.status)).toEqual(['completed']);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('a message whose connection dropped before the answer goes out again by itself: run once if it was lost, answered with its job if the server ran it', async () => {
    const user = await signUp(h.url);
    const context = await newContext(browser, 'desktop');
    const link = await controlledLink(context);
    const { page, errors } = await newPage(context);
    await signInAs(page, user);
    const projectId = await createProject(page, 'Lost and found');
    await page.locator('.chat-welcome').waitFor();
    const userTexts = () => page.locator('.msg-user .msg-body').allTextContents();
    const replies = page.locator('.msg-assistant .msg-body');

    // 1. Lost on the way: after the reconnect it goes out again, unasked, and is answered; one job ran.
    const lost = link.downOnSend('message');
    await page.locator('.chat-input').fill('Make a snake game');
    await page.locator('.chat-input').press('Enter');
    await lost;
    expect(await jobsOf(user.accessToken, projectId)).toEqual([]);
    link.up();
    await replies.first().waitFor({ timeout: AGENT_MS });
    await expect.poll(async () => (await jobsOf(user.accessToken, projectId)).map((j) => j.status), { timeout: AGENT_MS }).toEqual(['completed']);
    const [snake] = await jobsOf(user.accessToken, projectId);
    expect(((await replies.first().textContent()) ?? '').trim()).toBe(replyOf(snake!));
    expect(await userTexts()).toEqual(['Make a snake game']);
    expect(await page.locator('.chat-input').inputValue()).toBe('');
    expect(await page.locator('.msg-system').count()).toBe(0);
    await shot(page, '18-message-sent-again');

    // 2. It reached the server, the answer did not reach us, and the job finished while we were away: after the
    //    reconnect the message goes out again with its id and the server answers with that job, replayed: its reply
    //    once, no second run, nothing handed back.
    const answered = link.downOnAnswer('jobStarted');
    await page.locator('.chat-input').fill('Make it faster');
    await page.locator('button.send').click();
    await answered;
    await expect.poll(async () => (await jobsOf(user.accessToken, projectId)).map((j) => j.status), { timeout: AGENT_MS }).toEqual(['completed', 'completed']);
    link.up();
    await expect.poll(() => replies.count(), { timeout: 20_000 }).toBe(2);
    await expect.poll(() => page.locator('button.send').isDisabled()).toBe(false);
    const jobs = await jobsOf(user.accessToken, projectId);
    expect(jobs).toHaveLength(2);
    const faster = jobs.find((j) => j.id !== snake!.id)!;
    expect(((await replies.nth(1).textContent()) ?? '').trim()).toBe(replyOf(faster));
    expect(await userTexts()).toEqual(['Make a snake game', 'Make it faster']);
    expect(await page.locator('.chat-input').inputValue()).toBe('');
    expect(await page.locator('.msg-system').count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  }, 150_000);

  it('notifications in English, desktop and phone: the bell and its list; web push on in Settings, shown by the service worker, a tap opens the game; off again; offline', async () => {
    // Polls wait as long as a loaded machine may need (the bound vitest.config gives every poll, stated where it is used).
    const SLOW = { timeout: 20_000 };
    // No agent: two games ended while the user was away (what a job's end calls), before any page is open.
    const user = await signUp(h.url);
    const [starId, moonId] = await Promise.all([createProjectOverSocket(h, user, 'Star Runner'), createProjectOverSocket(h, user, 'Moon Garden')]);
    const ended = (projectId: string, event: 'generationCompleted' | 'movieCompleted') =>
      h.server.ctx.notifier.jobEnded({ userId: user.userId, projectId, jobId: randomUUID(), event, language: 'en' });
    await ended(starId, 'generationCompleted');
    await ended(starId, 'movieCompleted');
    const userContent = ['Star Runner', 'Moon Garden', user.email];
    const subscriptions = () => h.server.ctx.db.service.pushSubscriptionsOf(user.userId);

    // Full chromium: the headless shell the other cases use denies the notification permission.
    const full = await launchChromium('full');
    onTestFinished(() => full.close());
    const desktop = await newContext(full, 'desktop', 'en-US');
    await desktop.grantPermissions(['notifications'], { origin: h.url });
    // This browser's push service. Chromium refuses push subscriptions in the automation's (incognito) contexts, so
    // the page's PushManager hands out a subscription the local push service makes for the server's key: what
    // Chrome's push service (FCM) would give. The server then really encrypts and sends to it.
    await desktop.exposeBinding('pushServiceSubscribe', (_source, key: string) => push.subscribe(key));
    await desktop.addInitScript(() => {
      const w = window as any;
      const KEY = 'test.pushSubscription';
      const made = (stored: { id: string; json: { endpoint: string } }) => ({
        endpoint: stored.json.endpoint,
        toJSON: () => stored.json,
        unsubscribe: async () => (w.localStorage.removeItem(KEY), true),
      });
      w.PushManager.prototype.getSubscription = async () => {
        const stored = w.localStorage.getItem(KEY);
        return stored ? made(JSON.parse(stored)) : null;
      };
      w.PushManager.prototype.subscribe = async (options: { applicationServerKey: string }) => {
        const stored = await w.pushServiceSubscribe(options.applicationServerKey);
        w.localStorage.setItem(KEY, JSON.stringify(stored));
        return made(stored);
      };
    });
    const { page, errors } = await newPage(desktop);
    await signInAs(page, user);

    // The bell counts both, its list says them in English; one opens its game and is read.
    const bell = page.locator('[data-testid="bell"]');
    await expect.poll(() => bell.getAttribute('aria-label'), SLOW).toBe('Notifications, 2 unread');
    await bell.click();
    await expect.poll(() => page.locator('[data-testid="notice"].unread').count(), SLOW).toBe(2);
    const texts = async () =>
      page
        .locator('[data-testid="notice"]')
        .evaluateAll((items: any[]) =>
          items.map((item) => `${item.querySelector('.notice-title').textContent} / ${item.querySelector('.notice-body').textContent}`),
        );
    expect(await texts()).toEqual([
      'Your promo video is ready / The video of “Star Runner” is ready to watch.',
      'Your game is ready / “Star Runner” is ready. Open it to play.',
    ]);
    await shot(page, '17b-notifications-en-desktop');
    expect(await foreignWords(page, 'en', userContent)).toEqual([]);
    await page.locator('[data-testid="notice"]', { hasText: 'Your game is ready' }).locator('button').click();
    await page.locator('.chat-input').waitFor();
    expect(page.url()).toContain(starId);
    await expect.poll(() => bell.getAttribute('aria-label'), SLOW).toBe('Notifications, 1 unread');

    // Settings: "tell me on this device" asks the browser, subscribes with the server's key, and the server has it.
    await page.locator('[data-testid="open-settings"]').click();
    await page.locator('dialog.settings-dialog').waitFor();
    expect(await page.locator('dialog.settings-dialog label', { has: page.locator('[data-testid="push-toggle"]') }).innerText()).toContain(
      'Tell me on this device when something is ready',
    );
    await page.locator('[data-testid="push-toggle"]:not([disabled])').check();
    await page.locator('.toast', { hasText: 'This device will be told when something is ready.' }).waitFor();
    await expect.poll(async () => (await subscriptions()).map((s) => s.language), SLOW).toEqual(['en']);
    const subscribed = JSON.parse((await page.evaluate(() => (window as any).localStorage.getItem('test.pushSubscription'))) as string) as { id: string };
    await page.locator('dialog.settings-dialog [data-action="cancel"]').click();

    // Away from the tab, Moon Garden's game ends: the server pushes it (encrypted, to the push service), the push
    // service hands the message to the service worker (CDP, as Chrome does with what FCM delivers).
    await setVisibility(page, 'hidden');
    await expect.poll(() => [...h.server.ctx.connections].some((c) => c.userId === user.userId && c.watching()), SLOW).toBe(false);
    const delivery = push.next(subscribed.id);
    await ended(moonId, 'generationCompleted');
    const { payload } = await delivery;
    expect(payload).toMatchObject({ title: 'Your game is ready', body: '“Moon Garden” is ready. Open it to play.', url: `/project/${moonId}` });
    const cdp = await desktop.newCDPSession(page);
    const registration = new Promise<string>((resolve) =>
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const ours = registrations.find((r) => r.scopeURL === `${h.url}/` && !r.isDeleted);
        if (ours) resolve(ours.registrationId);
      }),
    );
    // What the browser says of the worker's versions (running status), for the failure message below.
    const versions: string[] = [];
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: updated }) => {
      for (const v of updated) versions.push(`${v.versionId}:${v.status}/${v.runningStatus}`);
    });
    await cdp.send('ServiceWorker.enable');
    const registrationId = await registration;
    const worker = desktop.serviceWorkers()[0] ?? (await desktop.waitForEvent('serviceworker'));
    // What happens to the push inside the worker, for the failure message below: the app's own handler is left as it
    // is; this only records that the event came and what became of the notification it shows.
    await worker.evaluate(() => {
      const sw = globalThis as any;
      sw.pushTrace = [`permission ${sw.Notification?.permission ?? 'unknown'}`];
      sw.addEventListener('push', () => sw.pushTrace.push('push event'));
      const show = sw.registration.showNotification.bind(sw.registration);
      sw.registration.showNotification = (...args: unknown[]) =>
        show(...args).then(
          () => void sw.pushTrace.push('shown'),
          (error: unknown) => {
            sw.pushTrace.push(`showNotification refused: ${String(error)}`);
            throw error;
          },
        );
      sw.addEventListener('notificationclose', () => sw.pushTrace.push('closed'));
    });
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: h.url, registrationId, data: JSON.stringify(payload) });
    const shown = () =>
      worker.evaluate(async () =>
        (await (globalThis as any).registration.getNotifications()).map((n: any) => ({ title: n.title, body: n.body, data: n.data, tag: n.tag })),
      );
    // The push goes from the test over CDP to the browser, to the worker, back to the browser to be shown, and is read
    // from the worker again. Under load (16) this poll has failed three times in whole runs, about one run in ten,
    // cause unknown (not the worker stopping when idle: 40 s of waiting before the push passes); a failure says what
    // the browser knew of the worker and what the worker saw (the push event? the notification shown or refused?).
    try {
      await expect
        .poll(shown, SLOW)
        .toEqual([{ title: 'Your game is ready', body: '“Moon Garden” is ready. Open it to play.', data: { url: `/project/${moonId}` }, tag: payload.tag }]);
    } catch (error) {
      const workers = desktop.serviceWorkers().map((w) => w.url());
      // No trace: the push started a new instance of the worker, which never had it (its versions above say so).
      const trace = await worker
        .evaluate(() => ((globalThis as any).pushTrace as string[] | undefined) ?? ['no trace (a new instance of the worker)'])
        .catch((e: unknown) => [`worker gone: ${String(e)}`]);
      throw new Error(
        `${(error as Error).message}\nworker versions seen: ${versions.join(', ') || 'none'}; workers now: ${workers.join(', ') || 'none'}; in the worker: ${trace.join(', ')}`,
        { cause: error },
      );
    }
    // A tap on it: the app's tab goes to Moon Garden (what the worker's notificationclick does; no protocol can tap a
    // system notification, so its handler's body is called) and the notice is gone.
    await setVisibility(page, 'visible');
    await worker.evaluate(async () => (globalThis as any).openNotice((await (globalThis as any).registration.getNotifications())[0]));
    await page.waitForURL(`${h.url}/project/${moonId}`);
    await page.locator('.chat-input').waitFor();
    expect(await shown()).toEqual([]);

    // Off again: the server forgets this device.
    await page.locator('[data-testid="open-settings"]').click();
    await page.locator('[data-testid="push-toggle"]:not([disabled])').uncheck();
    await page.locator('.toast', { hasText: 'This device will no longer be told.' }).waitFor();
    await expect.poll(async () => (await subscriptions()).length, SLOW).toBe(0);
    await page.locator('dialog.settings-dialog [data-action="cancel"]').click();

    // Installable on a phone (PWA): chromium reads the manifest without errors and finds nothing against installing
    // but the automation's own incognito context (a manifest without a suitable icon, or no service worker, adds
    // theirs).
    expect((await cdp.send('Page.getAppManifest')).errors).toEqual([]);
    expect((await cdp.send('Page.getInstallabilityErrors')).installabilityErrors.map((e) => e.errorId)).toEqual(['in-incognito']);

    // Offline: an app page comes from the service worker's cache, in English.
    await desktop.setOffline(true);
    await page.goto(`${h.url}/mypage`).catch(() => undefined);
    await page.locator('[data-testid="offline"] h1', { hasText: 'You are offline' }).waitFor();
    expect(await foreignWords(page, 'en', [])).toEqual([]);
    await shot(page, '17b-offline-en-desktop');
    // …and in the language chosen in the app (remembered on the device), here Japanese, still offline.
    await page.evaluate(() => (window as any).localStorage.setItem('dreamcore.language', 'ja'));
    await page.reload().catch(() => undefined);
    await page.locator('[data-testid="offline"] h1', { hasText: 'オフラインです' }).waitFor();
    expect(await foreignWords(page, 'ja', [])).toEqual([]);
    await shot(page, '17b-offline-ja-desktop');
    await desktop.setOffline(false);
    expect(errors).toEqual([]);
    await desktop.close();

    // At phone width: the list (the read one, the two unread) fits the screen, in English; all read at once.
    const { context: phone, page: small, errors: smallErrors } = await pool.page('phone', 'en-US');
    await signInAs(small, user);
    const smallBell = small.locator('[data-testid="bell"]');
    await expect.poll(() => smallBell.getAttribute('aria-label'), SLOW).toBe('Notifications, 2 unread');
    await smallBell.click();
    await expect.poll(() => small.locator('[data-testid="notice"]').count(), SLOW).toBe(3);
    expect(await small.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    expect(await foreignWords(small, 'en', userContent)).toEqual([]);
    await shot(small, '17b-notifications-en-phone');
    await small.locator('dialog.notice-dialog [data-action="mark-all-read"]').click();
    await expect.poll(() => smallBell.getAttribute('aria-label'), SLOW).toBe('Notifications');
    expect(await small.locator('[data-testid="notice"].unread').count()).toBe(0);
    expect(smallErrors).toEqual([]);
    await pool.release(phone);
  }, 120_000);

  it('what /api/config says is shown: the demo-mode banner, and Google sign-in only with Supabase', async () => {
    const { context, page, errors } = await pool.page('desktop');
    let config = { supabaseUrl: h.url, supabaseAnonKey: 'embedded', demoMode: true, embeddedAuth: true, backend: 'local', googleSignIn: false };
    await page.route('**/api/config', (route) => route.fulfill({ json: config }));
    await page.goto(h.url);
    await page.locator('.auth-card').waitFor();
    expect(await page.locator('#demo-banner').isVisible()).toBe(true);
    expect(await page.locator('#demo-banner').textContent()).toContain('ANTHROPIC_API_KEY');
    expect(await page.locator('button.google').count()).toBe(0);
    await shot(page, '15-demo-mode-sign-in');

    // The server says whether Google sign-in is offered (Supabase's own, or embedded with a Google client).
    config = {
      supabaseUrl: 'https://example-project.supabase.co',
      supabaseAnonKey: 'anon',
      demoMode: false,
      embeddedAuth: false,
      backend: 'modal',
      googleSignIn: true,
    };
    await page.reload();
    await page.locator('button.google').waitFor();
    expect(await page.locator('#demo-banner').isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await pool.release(context);
  });

  it('promo video: the progress bar follows movie-status polling, then the video plays (server answers mocked)', async () => {
    // The local backend cannot render videos yet (503), so the three movie routes are answered by the test.
    const user = await signUp(h.url);
    const ws = await Client.init(h.url, user.accessToken);
    ws.send({ type: 'createProject', name: 'Movie Star' });
    const projectId = (await ws.next((m) => m.type === 'projectCreated')).project.id as string;
    ws.close();
    const { context, page, errors } = await pool.page('desktop');
    let rendering = false;
    let polls = 0;
    let movieAuth = '';
    const at = (suffix: string) => (url: URL) => url.pathname === `/api/projects/${projectId}/${suffix}`;
    await page.route(at('generate-movie'), (route) => {
      rendering = true;
      return route.fulfill({
        status: 202,
        json: { success: true, status: 'rendering', percent: 0, stage: 'starting', statusUrl: `/api/projects/${projectId}/movie-status` },
      });
    });
    await page.route(at('movie-status'), (route) => {
      if (!rendering) return route.fulfill({ json: { status: 'idle', percent: 0, stage: 'idle' } });
      polls++;
      const percent = Math.min(100, polls * 35);
      return route.fulfill({
        json:
          percent < 100
            ? { status: 'rendering', percent, stage: 'capture' }
            : { status: 'done', percent: 100, stage: 'done', duration: 7, movieUrl: `/api/projects/${projectId}/movie?t=1` },
      });
    });
    await page.route(at('movie'), (route) => {
      movieAuth = route.request().headers().authorization ?? '';
      return route.fulfill({ status: 200, contentType: 'video/mp4', body: Buffer.from('a movie') });
    });
    await signInAs(page, user, `/?open=movie#/project/${projectId}`);
    await page.locator('.tab-publish').click();
    await page.locator('[data-action="render-movie"]').click();
    await page.locator('.movie-progress', { hasText: 'Recording the game' }).waitFor({ timeout: 10_000 });
    const width = await page.locator('.movie-progress .progress-fill').evaluate((el: { style: { width: string } }) => el.style.width);
    expect(['35%', '70%']).toContain(width);
    await page.locator('video.movie-video').waitFor({ state: 'visible', timeout: 15_000 });
    expect(await page.locator('video.movie-video').getAttribute('src')).toMatch(/^blob:/);
    expect(movieAuth).toMatch(/^Bearer ey/);
    expect(await page.locator('.movie-progress').isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await pool.release(context);
  }, 60_000);

  it("a second user cannot reach the first one's editor or project data", async () => {
    const [alice, bob] = await Promise.all([signUp(h.url), signUp(h.url)]);
    const ws = await Client.init(h.url, alice.accessToken);
    ws.send({ type: 'createProject', name: 'Alice Secret Project' });
    const aliceProject = (await ws.next((m) => m.type === 'projectCreated')).project.id as string;
    ws.close();

    const { context, page, errors } = await pool.page('desktop');
    const statuses: { url: string; status: number }[] = [];
    page.on('response', (res) => {
      if (res.url().includes(aliceProject)) statuses.push({ url: res.url(), status: res.status() });
    });
    await signInAs(page, bob, `/#/project/${aliceProject}`);
    await page.locator('[data-testid="editor-denied"]').waitFor();
    await shot(page, '14-access-denied');
    expect(await page.locator('body').textContent()).not.toContain('Alice Secret Project');
    expect(await page.locator('iframe.preview-frame').count()).toBe(0);
    // Then back to bob's own (empty) list.
    await page.waitForURL(/#\/$/, { timeout: 10_000 });
    await page.locator('.projects-screen .empty-state').waitFor();
    expect(await page.locator('body').textContent()).not.toContain('Alice Secret Project');
    // Every request about alice's project was refused; nothing was served.
    expect(statuses.length).toBeGreaterThan(0);
    for (const s of statuses) expect([401, 403, 404]).toContain(s.status);

    // Her (unpublished) project is not a public game either.
    await page.goto(`${h.url}/play/${aliceProject}`);
    await page.locator('[data-testid="play-missing"]').waitFor();
    // And a visitor who is not signed in is sent to sign in.
    const anonymous = await newContext(browser, 'desktop');
    const { page: stranger } = await newPage(anonymous);
    await stranger.goto(`${h.url}/#/project/${aliceProject}`);
    await stranger.locator('.auth-card').waitFor();
    expect(await stranger.locator('body').textContent()).not.toContain('Alice Secret Project');
    await anonymous.close();

    expect(errors).toEqual([]);
    await pool.release(context);
  }, 60_000);

  /**
   * Issue 17's flow for a Japanese-speaking user, at one width. The server names itself `localhost` (the link in the
   * mail points there), so the pages are opened at that name too: one origin, one session.
   */
  async function japaneseFlow(width: 'desktop' | 'phone') {
    const base = h.url.replace('127.0.0.1', 'localhost');
    const maker = await newContext(browser, width, 'ja-JP');
    const { page, errors } = await newPage(maker);

    // V2's address for signing in; the link by mail.
    await page.goto(`${base}/login`);
    await page.locator('.auth-card').waitFor();
    const email = `mika-${width}-${Date.now()}@example.com`;
    await page.locator('input[type=email]').fill(email);
    const mail = smtp.next(email);
    await page.locator('[data-testid="magic-link"]', { hasText: 'ログイン用リンクをメールで受け取る' }).click();
    await page.locator('[data-testid="magic-link-status"]', { hasText: `${email} にログイン用リンクを送りました` }).waitFor();
    await shot(page, `17-magic-link-sent-ja-${width}`);
    expect(await foreignWords(page, 'ja', [email])).toEqual([]);
    const received = await mail;
    expect(received.subject).toBe('DreamCore ログインリンク');
    const link = /https?:\/\/\S+\/auth\/v1\/verify\?[^\s"<>]+/.exec(received.text)![0].replace(/&amp;/g, '&');
    await page.goto(link);
    await page.locator('.projects-screen').waitFor();
    expect(page.url()).toBe(`${base}/`); // the session was taken from the address and the address cleaned

    // A game, made in the chat.
    const projectId = await createProject(page, 'うちゅうゲーム');
    // The tab goes to the background while the game is made (the app tells the server so, as on a real tab switch).
    await setVisibility(page, 'hidden');
    await sendMessage(page, '宇宙シューティングゲームを作って', 1);
    await setVisibility(page, 'visible');
    // Back on the tab: the bell counts what ended while away, and its list says it in Japanese.
    const bell = page.locator('[data-testid="bell"]');
    await expect.poll(() => bell.getAttribute('aria-label'), { timeout: 30_000 }).toBe('お知らせ（未読 1 件）');
    expect(await page.locator('[data-testid="bell-count"]').textContent()).toBe('1');
    await bell.click();
    const notice = page.locator('[data-testid="notice"].unread');
    await notice.waitFor();
    expect(await notice.locator('.notice-title').textContent()).toBe('ゲームができました');
    expect(await notice.locator('.notice-body').textContent()).toBe('「うちゅうゲーム」ができあがりました。開いて遊んでみましょう。');
    await shot(page, `17b-notifications-ja-${width}`);
    // (Behind the list, the chat's folded steps name the files the agent wrote.)
    expect(await foreignWords(page, 'ja', [email, 'うちゅうゲーム', 'index.html', 'SPEC.md'])).toEqual([]);
    await notice.locator('button').click(); // opens its game (this one) and is read
    await expect.poll(() => page.locator('[data-testid="bell"]').getAttribute('aria-label')).toBe('お知らせ');
    expect(await page.locator('[data-testid="bell-count"]').isHidden()).toBe(true);

    // The game's code: read only, said in Japanese, and a zip of the game to keep, named after it.
    await page.locator('.tab-versions').click();
    await page.locator('[data-action="view-code"]', { hasText: 'コードを見る' }).click();
    const codeDialog = page.locator('.code-dialog');
    await expect.poll(() => codeDialog.locator('[data-testid="code-view"]').textContent()).toContain('<canvas');
    expect(await codeDialog.locator('h2').textContent()).toBe('ゲームのコード');
    await codeDialog.getByText('表示のみです。ゲームを変えたいときはチャットで頼んでください。').waitFor();
    expect(await codeDialog.locator('[data-testid="code-file"] option').allTextContents()).toContain('index.html');
    await shot(page, `17c-code-ja-${width}`);
    await codeDialog.locator('.modal-actions').getByRole('button', { name: '閉じる' }).click();
    await codeDialog.waitFor({ state: 'detached' });
    const [zip] = await Promise.all([page.waitForEvent('download'), page.locator('[data-action="download-zip"]', { hasText: 'ダウンロード（zip）' }).click()]);
    expect(zip.suggestedFilename()).toBe('うちゅうゲーム.zip');
    const inZip = (await promisify(execFile)('unzip', ['-Z1', (await zip.path())!])).stdout.trim().split('\n');
    expect(inZip).toContain('index.html');

    // Publishing: the model writes the words, in Japanese.
    await page.locator('.tab-publish').click();
    await page.locator('[data-action="generate-info"]', { hasText: 'タイトルと説明をAIにおまかせ' }).click();
    await page.locator('[data-testid="publish-info-note"]', { hasText: 'AIが書きました' }).waitFor({ timeout: AGENT_MS });
    expect(await page.locator('.publish-form input[name=title]').inputValue()).toBe('スターブラスター');
    expect(await page.locator('.publish-form textarea[name=description]').inputValue()).toContain('宇宙シューティング');
    expect(await page.locator('.publish-form input[name=tags]').inputValue()).toBe('シューティング, 宇宙, アーケード');
    await shot(page, `18-publish-info-ja-${width}`);
    // Published with no thumbnail yet: a picture of the running game is taken first.
    await page.locator('.publish-form button[type=submit]').click();
    await page.locator('[data-testid="publish-done"]').waitFor({ timeout: 60_000 });
    await page.locator('img.publish-thumb:not([hidden])').waitFor();
    const thumb = await fetch(`${h.url}/api/projects/${projectId}/thumbnail`);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    const gameId = /\/play\/(g_[0-9A-Za-z]{10})/.exec((await page.locator('[data-testid="play-link"]').getAttribute('href')) ?? '')![1]!;
    expect((await api(h.url)('GET', `/api/published-games/${gameId}`)).json).toMatchObject({
      title: 'スターブラスター',
      tags: ['シューティング', '宇宙', 'アーケード'],
    });
    // The share sheet: the QR code of the link (and the phone's own share menu where the browser has one).
    const qr = page.locator('[data-testid="share-qr"]');
    await qr.waitFor();
    expect(await qr.getAttribute('alt')).toBe('ゲームのリンクのQRコード');
    await expect.poll(() => qr.evaluate((img: { naturalWidth: number }) => img.naturalWidth)).toBeGreaterThan(0);
    await page.locator('[data-testid="share-sheet"]').scrollIntoViewIfNeeded();
    await shot(page, `19-published-share-ja-${width}`);
    // (The chat beside it names the files the agent wrote in its folded steps: 「index.html」を作りました.)
    expect(await foreignWords(page, 'ja', [email, 'うちゅうゲーム', 'index.html', 'SPEC.md'])).toEqual([]);
    expect(errors).toEqual([]);
    // Done with the maker: its editor would go on running the game beside the remixer's (a fifth of a core).
    await maker.close();

    // A second Japanese-speaking user remixes it from the game page.
    const remixer = await newContext(browser, width, 'ja-JP');
    const { page: other, errors: otherErrors } = await newPage(remixer);
    const second = await signUp(h.url);
    await signIn(other, base, second);
    await other.goto(`${base}/p/${gameId}`); // V2's short game address
    await other.waitForURL(`${base}/play/${gameId}`);
    const remix = other.locator('[data-action="remix"]', { hasText: 'このゲームをリミックス' });
    await remix.waitFor();
    await shot(other, `20-game-page-remix-ja-${width}`);
    expect(await foreignWords(other, 'ja', [second.email])).toEqual([]);
    // A refused remix (the owner turned remixing off in the meantime) is said in Japanese, not in the server's English.
    await other.route(`**/api/games/${gameId}/remix`, (route) =>
      route.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: 'Remix not allowed for this game' }) }),
    );
    await remix.click();
    const refused = other.locator('.play-remix .form-error:not([hidden])');
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/^リミックスできませんでした：/);
    expect(await foreignWords(other, 'ja', [second.email])).toEqual([]);
    await other.unroute(`**/api/games/${gameId}/remix`);
    await remix.click();
    await other.waitForURL(/\/project\/[0-9a-f-]{36}$/);
    await other.locator('[data-testid="project-title"]', { hasText: 'うちゅうゲーム (Remix)' }).waitFor();
    if (width === 'phone') await other.locator('.tab-preview').click();
    await expectCanvasGame(other, '<canvas');
    await shot(other, `21-remixed-editor-ja-${width}`);
    expect(await foreignWords(other, 'ja', [second.email, 'うちゅうゲーム (Remix)', 'index.html'])).toEqual([]);
    // The original's page now lists the remix once it is published.
    const remixId = /\/project\/([0-9a-f-]{36})$/.exec(other.url())![1]!;
    const token = await tokenOf(other);
    await api(h.url, token)('POST', `/api/projects/${remixId}/publish`, { title: 'わたしのリミックス' });
    await other.goto(`${base}/play/${gameId}`);
    await other.locator('[data-testid="remixes"]', { hasText: 'わたしのリミックス' }).waitFor();
    expect(otherErrors).toEqual([]);
    await remixer.close();
  }

  it('in Japanese at desktop width: magic link → a game → publish with the written info and a picture → a second user remixes it', async () => {
    await japaneseFlow('desktop');
  }, 300_000);

  it('in Japanese at phone width: the same flow', async () => {
    await japaneseFlow('phone');
  }, 300_000);
});
