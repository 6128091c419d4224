/**
 * Issue 18, "sharing people can trust, and an editor that speaks to non-coders": one browser test per numbered item
 * of the issue, each at desktop and at phone width, in Debian chromium driven by playwright-core against a running
 * server (the harness: local backend, embedded database and auth, scripted demo model).
 *
 * Projects are set up without the agent where the item is not about the agent (a small canvas game written and
 * committed through the backend, as a finished turn leaves it), so the file stays quick. One chromium, one server and
 * one context per width and language (item 3's has a fake clock of its own) per test file; the desktop and phone
 * halves are two files (browser-trust-desktop, browser-trust-phone) that vitest runs in parallel. Screenshots:
 * test-artifacts/screenshots/trust-*.png.
 */
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainDemoScript as demoScript } from '@dreamcore/runtime-core/demo';
import { api, signUp, startHarness, type Harness } from './harness.js';
import {
  CAN_RUN_BROWSER,
  commitGame,
  contextPool,
  createProjectOverSocket,
  launchChromium,
  movableGame,
  newContext,
  newPage,
  shot,
  signInAs,
} from './browser-kit.js';

// Browser globals used inside page.evaluate callbacks (this project compiles without the DOM lib).
declare const document: any;
declare const localStorage: { getItem(key: string): string | null };
declare const window: any;
declare const MutationObserver: any;

let h: Harness;
let browser: Browser;
let pool: ReturnType<typeof contextPool>;

type Width = 'desktop' | 'phone';

/**
 * A signed-in page on the editor of a new project holding a committed game and a thumbnail (as an upload or a promo
 * video leaves one), so that publishing does not first take a picture of the running game: that is its own case
 * (browser.test.ts's Japanese flow, publish-snapshot.test.ts) and costs a chromium start per publish.
 */
async function editorWithGame(width: Width, name: string, html: string) {
  const user = await signUp(h.url);
  const projectId = await createProjectOverSocket(h, user, name);
  const scope = { userId: user.userId, projectId };
  const thumbnail = await sharp({ create: { width: 96, height: 128, channels: 3, background: '#1e293b' } })
    .webp()
    .toBuffer();
  await h.server.ctx.backend.files.write(scope, 'thumbnail.webp', thumbnail);
  await commitGame(h, scope, html, `Make ${name}`);
  const { context, page, errors } = await pool.page(width);
  await signInAs(page, h.url, user, `/#/project/${projectId}`);
  await page.locator('.editor-tabs').waitFor();
  return { user, projectId, scope, context, page, errors };
}

/** Fills the publish form and publishes; returns the game's public id from the link shown. */
async function publishFromEditor(page: Page, title: string): Promise<string> {
  await page.locator('.tab-publish').click();
  await page.locator('input[name=title]').fill(title);
  await page.locator('.publish-form button[type=submit]').click();
  await page.locator('[data-testid="publish-done"]').waitFor();
  const href = (await page.locator('[data-testid="play-link"]').getAttribute('href'))!;
  expect(href).toMatch(/^\/play\/g_[A-Za-z0-9]{10}$/);
  return href.split('/').pop()!;
}

/** What a player's browser gets for the game's page (the frame on /play/:id loads it). */
async function playerHtml(gameId: string): Promise<{ status: number; text: string }> {
  return api(h.url)('GET', `/g/${gameId}/index.html`);
}

/** Every numbered item of issue 18, at each of `widths`, on a server and a chromium of the calling file's own. */
export function issue18InTheBrowser(widths: readonly Width[]): void {
  describe.skipIf(!CAN_RUN_BROWSER)('issue 18 in the browser', () => {
    beforeAll(async () => {
      [h, browser] = await Promise.all([startHarness({ script: demoScript }), launchChromium()]);
      pool = contextPool(browser, h.url);
    }, 120_000);

    afterAll(async () => {
      await pool?.close();
      await browser?.close();
      await h?.close();
    });

    for (const width of widths) {
      it(`1. a published game is a snapshot: later changes stay private until "Update the public version" (${width})`, async () => {
        const { scope, context, page, errors } = await editorWithGame(width, 'Snapshot', movableGame('first-version', '#3b82f6'));
        const gameId = await publishFromEditor(page, 'Blue Square');
        expect((await playerHtml(gameId)).text).toContain('first-version');
        expect(await page.locator('[data-testid="publish-result"]').getAttribute('data-state')).toBe('live');

        // The agent changes the game (a finished turn commits it): players still get the published version.
        await commitGame(h, scope, movableGame('experiment', '#ef4444'), 'Try red');
        const player = await playerHtml(gameId);
        expect(player.status).toBe(200);
        expect(player.text).toContain('first-version');
        expect(player.text).not.toContain('experiment');

        // The editor says so: in its bar (at phone width, a dot on the Publish tab), and in the Publish tab.
        await page.reload();
        if (width === 'desktop') {
          await page.locator('[data-testid="public-changes"]').waitFor({ state: 'visible' });
          await page.locator('[data-testid="public-changes"]').click();
        } else {
          await page.locator('.tab-publish[data-changes="pending"]').waitFor();
          expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
          await page.locator('.tab-publish').click();
        }
        await page.locator('[data-testid="changes-pending"]').waitFor();
        expect(await page.locator('[data-testid="publish-result"]').getAttribute('data-state')).toBe('behind');
        await shot(page, `trust-1-changes-not-public-${width}`);

        await page.locator('[data-action="update-public"]').click();
        await page.locator('[data-testid="publish-done"]').waitFor();
        expect((await playerHtml(gameId)).text).toContain('experiment');
        await page.locator('[data-testid="public-changes"]').waitFor({ state: 'hidden' });
        expect(await page.locator('.tab-publish').getAttribute('data-changes')).toBeNull();
        expect(await page.locator('[data-testid="publish-result"]').getAttribute('data-state')).toBe('live');
        // The same address throughout.
        expect(await page.locator('[data-testid="play-link"]').getAttribute('href')).toBe(`/play/${gameId}`);
        expect(errors).toEqual([]);
        await pool.release(context);
      }, 90_000);

      it(`2. unpublish then publish keeps the link and the play count (${width})`, async () => {
        const { context, page, errors } = await editorWithGame(width, 'Stable', movableGame('stable-link'));
        const gameId = await publishFromEditor(page, 'Stable Link');

        // A player comes by: one play.
        const { page: play } = await newPage(context);
        await play.goto(`${h.url}/play/${gameId}`);
        await play.locator('[data-testid="play-title"]', { hasText: 'Stable Link' }).waitFor();
        await expect.poll(async () => (await api(h.url)('GET', `/api/published-games/${gameId}`)).json.play_count, { timeout: 10_000 }).toBe(1);

        await page.locator('[data-action="unpublish"]').click();
        await page.locator('dialog.confirm-dialog [data-action="confirm"]').click();
        await expect.poll(() => page.locator('[data-testid="publish-result"]').getAttribute('data-state')).toBe('hidden');
        // The hidden state names the link that will come back.
        expect(await page.locator('[data-testid="play-link"]').getAttribute('href')).toBe(`/play/${gameId}`);
        await shot(page, `trust-2-unpublished-${width}`);
        await play.reload();
        await play.locator('[data-testid="play-missing"]').waitFor();
        expect((await playerHtml(gameId)).status).toBe(404);

        // Publishing again: the same link works again, and the earlier play still counts.
        await page.locator('.publish-form button[type=submit]').click();
        await page.locator('[data-testid="publish-done"]').waitFor();
        expect(await page.locator('[data-testid="play-link"]').getAttribute('href')).toBe(`/play/${gameId}`);
        await play.reload();
        await play.locator('[data-testid="play-title"]', { hasText: 'Stable Link' }).waitFor();
        await expect.poll(async () => (await api(h.url)('GET', `/api/published-games/${gameId}`)).json.play_count, { timeout: 10_000 }).toBe(2);
        expect(errors).toEqual([]);
        await pool.release(context);
      }, 90_000);

      it(`3. preview links do not rot: the editor renews "Open" before it expires; an expired link explains itself and gets the owner a fresh one (${width})`, async () => {
        const locale = width === 'phone' ? 'ja-JP' : 'en-US';
        const user = await signUp(h.url);
        const projectId = await createProjectOverSocket(h, user, 'Links');
        await commitGame(h, { userId: user.userId, projectId }, movableGame('fresh-link'), 'Make it');
        const context = await newContext(browser, width, locale);
        const { page, errors } = await newPage(context);
        await page.clock.install();
        await signInAs(page, h.url, user);
        await page.goto(`${h.url}/#/project/${projectId}`);
        if (width === 'phone') await page.locator('.tab-preview').click();
        const open = page.locator('[data-testid="open-preview"]');
        await expect.poll(async () => (await open.getAttribute('href')) ?? '').toMatch(/exp=\d+/);
        const expOf = async () => Number(/exp=(\d+)/.exec((await open.getAttribute('href')) ?? '')?.[1]);
        const first = await expOf();
        // Ten minutes later (the link lives five): the link on the button is a new one, valid now.
        await page.clock.fastForward('10:00');
        await expect.poll(expOf, { timeout: 10_000 }).toBeGreaterThan(first);
        const res = await api(h.url)('GET', (await open.getAttribute('href'))!);
        expect(res.status).toBe(200);

        // A link that did expire, opened in a tab: a page in the reader's language, and the owner is sent on to a fresh one.
        const expired = h.server.ctx.signer.sign(user.userId, projectId, -60).url;
        const { page: tab } = await newPage(context);
        const seen: number[] = [];
        tab.on('response', (r) => {
          if (r.request().isNavigationRequest() && r.url().includes(`/game/${user.userId}/`)) seen.push(r.status());
        });
        await tab.goto(`${h.url}${expired}`);
        await tab.waitForURL(/\/s-\d+-[0-9a-f]{64}\/index\.html/, { timeout: 15_000 });
        expect(seen[0]).toBe(401);
        await tab.locator('canvas').waitFor();
        expect(await tab.content()).toContain('fresh-link');

        // Someone else opening it gets the explanation (in their language), and no game.
        const stranger = await newContext(browser, width, locale);
        const { page: other, errors: otherErrors } = await newPage(stranger);
        const response = await other.goto(`${h.url}${expired}`);
        expect(response?.status()).toBe(401);
        await other.locator('[data-testid="error-page"][data-kind="preview-expired"]').waitFor();
        await other.locator('[data-role="fallback"]').waitFor();
        const heading = (await other.locator('h1').textContent()) ?? '';
        expect(heading).toBe(width === 'phone' ? 'このプレビューリンクは期限切れです' : 'This preview link has expired');
        expect(await other.locator('canvas').count()).toBe(0);
        await shot(other, `trust-3-expired-link-${width}`);
        expect([...errors, ...otherErrors]).toEqual([]);
        await stranger.close();
        await context.close();
      }, 90_000);

      it(`4. the preview takes the keyboard: a click (and a new version) sends arrow keys to the game (${width})`, async () => {
        const { scope, context, page, errors } = await editorWithGame(width, 'Keys', movableGame('keys'));
        if (width === 'phone') await page.locator('.tab-preview').click();
        const frame = page.frameLocator('iframe.preview-frame');
        await frame.locator('canvas').waitFor();
        await page.locator('.preview-status[data-state="ok"]').waitFor();
        const title = () => page.frame({ url: /\/game\// })!.title();

        await page.locator('iframe.preview-frame').click({ position: { x: 100, y: 100 } });
        // The status line says the keys now go to the game. The click reaches the app as a message from the game
        // (its canvas cancels the click's focus), so a key pressed before the app has handled it, as a script can and
        // a person cannot, would still go to the page: the keys wait for what the user is shown, as a person does.
        await page.locator('.preview-status[data-focus="game"]').waitFor();
        await page.keyboard.press('ArrowRight');
        await page.keyboard.press('ArrowRight');
        await expect.poll(title).toBe('x=20');
        await shot(page, `trust-4-preview-keys-${width}`);

        // A new version arrives as when a generation finishes (the server tells the page): the reloaded game has the
        // keys without another click.
        await page.locator('.preview-status').click();
        await page.locator('.preview-status[data-focus="page"]').waitFor();
        await commitGame(h, scope, movableGame('keys-v2'), 'Move faster');
        for (const connection of h.server.ctx.connections) {
          if (connection.userId === scope.userId) connection.send({ type: 'gameUpdated', userId: scope.userId, projectId: scope.projectId });
        }
        await expect.poll(async () => (await page.frame({ url: /\/game\// })?.content()) ?? '').toContain('keys-v2');
        await page.locator('.preview-status[data-focus="game"]').waitFor();
        await page.keyboard.press('ArrowDown');
        await page.keyboard.press('ArrowRight');
        await expect.poll(title).toBe('x=10');
        expect(errors).toEqual([]);
        await pool.release(context);
      }, 90_000);

      it(`5. after Publish the link shows where the button is, and messages do not cover the video (${width})`, async () => {
        const { scope, context, page, errors } = await editorWithGame(width, 'Promo', movableGame('promo'));
        // A promo video exists (its player shows with controls); the bytes do not matter for the layout.
        await h.server.ctx.backend.files.write(scope, 'movie.mp4', new Uint8Array(2048));
        await page.locator('.tab-publish').click();
        await page.locator('video.movie-video').waitFor({ state: 'visible' });
        await page.locator('input[name=title]').fill('Promo Game');
        const button = page.locator('.publish-form button[type=submit]');
        await button.scrollIntoViewIfNeeded();
        await button.click();
        await page.locator('[data-testid="publish-done"]').waitFor();
        const viewport = page.viewportSize()!;
        const inView = async (selector: string) => {
          const box = (await page.locator(selector).boundingBox())!;
          return box.y >= 0 && box.y + box.height <= viewport.height && box.x >= 0 && box.x + box.width <= viewport.width;
        };
        expect(await inView('[data-testid="play-link"]')).toBe(true);
        expect(await inView('[data-testid="publish-done"]')).toBe(true);
        await shot(page, `trust-5-published-${width}`);

        // A message (here: the link copied) appears where it covers neither the video nor its controls.
        await page.locator('[data-testid="publish-result"] button', { hasText: /Copy link|リンクをコピー/ }).click();
        const toast = page.locator('#toasts .toast').last();
        await toast.waitFor();
        await page.locator('video.movie-video').scrollIntoViewIfNeeded();
        const [t, v] = [(await toast.boundingBox())!, (await page.locator('video.movie-video').boundingBox())!];
        const overlaps = t.x < v.x + v.width && v.x < t.x + t.width && t.y < v.y + v.height && v.y < t.y + t.height;
        expect(overlaps).toBe(false);
        expect(errors).toEqual([]);
        await pool.release(context);
      }, 90_000);

      it(`6. display names: chosen at sign-up (suggested from the e-mail), changed in settings, shown on the public page (${width})`, async () => {
        const locale = width === 'phone' ? 'ja-JP' : 'en-US';
        const { context, page, errors } = await pool.page(width, locale);
        const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
        const email = `mika.tanaka${stamp}@example.com`;
        await page.goto(h.url);
        await page.locator('button[data-mode="signup"]').click();
        await page.locator('input[type=email]').fill(email);
        // The suggestion follows the e-mail until the person types their own name.
        await expect.poll(() => page.locator('input[name=displayName]').inputValue()).toBe('Mika Tanaka');
        await page.locator('input[name=displayName]').fill('Mika T.');
        await page.locator('input[type=email]').fill(`mika.t${stamp}@example.com`);
        expect(await page.locator('input[name=displayName]').inputValue()).toBe('Mika T.');
        await page.locator('input[type=password]').fill('correct horse battery');
        await shot(page, `trust-6-sign-up-name-${width}`);
        await page.locator('form.auth-form button[type=submit]').click();
        await page.locator('.projects-screen').waitFor();
        await expect.poll(() => page.locator('[data-testid="account-name"]').textContent()).toBe('Mika T.');

        // A published game shows that name, not the e-mail.
        const token = await page.evaluate(() => JSON.parse(localStorage.getItem('dreamcore.session.v1') ?? '{}').access_token as string);
        const me = await api(h.url, token)('GET', '/api/users/me');
        expect(me.json).toMatchObject({ display_name: 'Mika T.', email: `mika.t${stamp}@example.com` });
        const session = { userId: me.json.id as string, email: me.json.email as string, accessToken: token, refreshToken: '' };
        const projectId = await createProjectOverSocket(h, session, 'Named');
        await commitGame(h, { userId: session.userId, projectId }, movableGame('named'), 'Make it');
        const gameId = (await api(h.url, token)('POST', `/api/projects/${projectId}/publish`, { title: 'Named Game' })).json.gameId as string;
        const { page: play } = await newPage(context);
        await play.goto(`${h.url}/play/${gameId}`);
        const by = width === 'phone' ? '作者：' : 'by ';
        await expect.poll(() => play.locator('[data-testid="play-author"]').textContent()).toBe(`${by}Mika T.`);
        expect(await play.locator('body').textContent()).not.toContain('mika.t');

        // Settings: a new name, and the public page follows.
        await page.locator('[data-testid="open-settings"]').click();
        await page.locator('dialog.settings-dialog input[name=displayName]').fill('Mika the Maker');
        await shot(page, `trust-6-settings-${width}`);
        await page.locator('dialog.settings-dialog [data-action="save"]').click();
        await page.locator('dialog.settings-dialog').waitFor({ state: 'detached' });
        await expect.poll(() => page.locator('[data-testid="account-name"]').textContent()).toBe('Mika the Maker');
        await play.reload();
        await expect.poll(() => play.locator('[data-testid="play-author"]').textContent()).toBe(`${by}Mika the Maker`);
        await shot(play, `trust-6-play-page-author-${width}`);
        expect(errors).toEqual([]);
        await pool.release(context);
      }, 90_000);

      it(`7. the chat speaks to people: short steps in their language, tool details folded, replies without jargon (${width})`, async () => {
        const ja = width === 'phone';
        const user = await signUp(h.url);
        const projectId = await createProjectOverSocket(h, user, 'Chatty');
        const { context, page, errors } = await pool.page(width, ja ? 'ja-JP' : 'en-US');
        await signInAs(page, h.url, user);
        await page.goto(`${h.url}/#/project/${projectId}`);
        await page.locator('.chat-input').waitFor();
        // Everything the progress line says while the job runs.
        await page.evaluate(() => {
          const seen: string[] = (window.seenSteps = []);
          const line = document.querySelector('.job-message');
          new MutationObserver(() => seen.push(line.textContent)).observe(line, { childList: true, characterData: true, subtree: true });
        });
        for (const request of ja ? ['ヘビのゲームを作って', '赤くして'] : ['Make a snake game', 'Make it red']) {
          const before = await page.locator('.msg-assistant[data-state="done"]').count();
          await page.locator('.chat-input').fill(request);
          await page.locator('button.send').click();
          await expect.poll(() => page.locator('.msg-assistant[data-state="done"]').count(), { timeout: 90_000 }).toBe(before + 1);
        }
        const seen = (await page.evaluate(() => window.seenSteps)) as string[];
        // The steps of these two turns, and the message box's own words while a message goes out.
        const steps = ja
          ? [
              '送信中…',
              '接続を待っています…',
              '準備しています',
              'ゲームを確認しています',
              'ゲームを作っています',
              'ゲームを改良しています',
              'バージョンを保存しています',
            ]
          : [
              'Sending…',
              'Waiting for the connection…',
              'Getting started',
              'Looking at your game',
              'Building your game',
              'Improving your game',
              'Saving this version',
            ];
        expect(seen.length).toBeGreaterThan(2);
        for (const text of new Set(seen)) expect(steps, `the progress line said "${text}"`).toContain(text);

        // The tool calls are there, folded under each reply.
        const folded = page.locator('.msg-assistant').last().locator('[data-testid="job-steps"]');
        expect(await folded.evaluate((d: any) => d.open)).toBe(false);
        expect(await folded.locator('summary').textContent()).toMatch(ja ? /^DreamCore がしたこと（\d+ステップ）$/ : /^What DreamCore did \(\d+ steps?\)$/);
        await folded.locator('summary').click();
        // In the app's words with the file's plain name, not the tool's ("Read index.html").
        expect(await folded.locator('li').allTextContents()).toEqual(
          ja ? ['「index.html」を確認しました', '「index.html」を書き換えました'] : ['Looked at index.html', 'Changed index.html'],
        );
        await shot(page, `trust-7-chat-${width}`);

        // The replies speak as a product would: no files, no code words, no narration of reading, no repeats.
        const replies = await page.locator('.msg-assistant .msg-body').allTextContents();
        for (const reply of replies) {
          expect(reply).not.toMatch(/index\.html|THEME|let me|read it first|読み込みます/i);
          const sentences = reply.split(/(?<=[.!?。！？])\s*/).filter((x) => x.trim().length > 8);
          expect(new Set(sentences).size, reply).toBe(sentences.length);
        }
        expect(errors).toEqual([]);
        await pool.release(context);
      }, 180_000);

      it(`8. the history says what changed in words, fits a phone, and a promo video is not a version (${width})`, async () => {
        const user = await signUp(h.url);
        const projectId = await createProjectOverSocket(h, user, 'History');
        const scope = { userId: user.userId, projectId };
        const { context, page, errors } = await pool.page(width);
        await signInAs(page, h.url, user);
        await page.goto(`${h.url}/#/project/${projectId}`);
        await page.locator('.chat-input').fill('Make a snake game');
        await page.locator('button.send').click();
        await page.locator('.msg-assistant[data-state="done"]').waitFor({ timeout: 90_000 });
        const reply = ((await page.locator('.msg-assistant .msg-body').first().textContent()) ?? '').trim();
        expect(reply.length).toBeGreaterThan(20);

        // A promo video and its thumbnail, committed as the render does: not a version of the game.
        await h.server.ctx.backend.files.write(scope, 'movie.mp4', new Uint8Array(4096));
        await h.server.ctx.backend.files.write(scope, 'thumbnail.webp', new Uint8Array(512));
        await h.server.ctx.backend.git.commit(scope, 'Generate demo movie');

        await page.locator('.tab-versions').click();
        await page.locator('[data-action="refresh-versions"]').click();
        await expect.poll(() => page.locator('.version-item').count()).toBe(1);
        expect(await page.locator('.versions').textContent()).not.toContain('Generate demo movie');
        // In words: the agent's summary of the turn and the files it touched.
        // (the words after its last step: the summary, not what it said while working)
        const summary = (await page.locator('[data-testid="version-summary"]').textContent()) ?? '';
        expect(summary.length).toBeGreaterThan(20);
        expect(reply).toContain(summary.split('\n')[0]!);
        expect(reply.startsWith(summary.split('\n')[0]!)).toBe(false);
        expect(await page.locator('.version-files').textContent()).toContain('index.html');
        await shot(page, `trust-8-history-${width}`);

        // The code changes are behind a button, and fit the screen.
        await page.locator('.version-item').first().locator('[data-action="diff"]').click();
        const dialog = page.locator('dialog.diff-dialog');
        await dialog.locator('pre.diff').waitFor();
        const viewport = page.viewportSize()!;
        const box = (await dialog.boundingBox())!;
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(viewport.width);
        expect(await dialog.locator('pre.diff').evaluate((pre: any) => pre.scrollWidth <= pre.clientWidth + 1)).toBe(true);
        await shot(page, `trust-8-code-changes-${width}`);
        await dialog.locator('[data-action="close"]').click();

        // A second version, then back to the first: the promo video stays.
        await commitGame(h, scope, movableGame('second'), 'Make it different\n\nI replaced the snake with a square you move with the arrow keys.');
        await page.locator('[data-action="refresh-versions"]').click();
        await expect.poll(() => page.locator('.version-item').count()).toBe(2);
        await page.locator('.version-item[data-number="2"] [data-action="restore"]').click();
        await page.locator('dialog.confirm-dialog [data-action="confirm"]').click();
        await expect.poll(() => page.locator('.version-item').count(), { timeout: 30_000 }).toBe(3);
        expect(await h.server.ctx.backend.files.exists(scope, 'movie.mp4')).toBe(true);
        expect(await h.server.ctx.backend.files.exists(scope, 'thumbnail.webp')).toBe(true);
        expect(await h.server.ctx.backend.files.readText(scope, 'index.html')).not.toContain('second');
        expect(errors).toEqual([]);
        await pool.release(context);
      }, 150_000);

      it(`9. the quiet edge cases speak up: long and empty messages, a new project's preview, suggestions, thumbnails, bad play links (${width})`, async () => {
        const ja = width === 'phone';
        const user = await signUp(h.url);
        const fresh = await createProjectOverSocket(h, user, 'Fresh');
        const talk = await createProjectOverSocket(h, user, 'Talkative');
        // A long message already in the conversation (as pasted once).
        const long = Array.from({ length: 300 }, (_, i) => `line ${i + 1}: the dragon flies over the castle`).join('\n');
        await h.server.ctx.db.service.addChat(talk, 'user', long);
        // A thumbnail for one project (a promo video or an upload makes one).
        const webp = await sharp({ create: { width: 64, height: 32, channels: 3, background: '#7b61ff' } })
          .webp()
          .toBuffer();
        await h.server.ctx.backend.files.write({ userId: user.userId, projectId: talk }, 'thumbnail.webp', webp);

        const { context, page, errors } = await pool.page(width, ja ? 'ja-JP' : 'en-US');
        await signInAs(page, h.url, user);

        // The list shows the thumbnail that exists.
        await expect
          .poll(() => page.locator(`.project-card[data-project-id="${talk}"] img.project-thumb-img`).evaluate((img: any) => img.complete && img.naturalWidth))
          .toBe(64);
        await expect.poll(() => page.locator(`.project-card[data-project-id="${fresh}"] img.project-thumb-img`).count()).toBe(0);
        await shot(page, `trust-9-project-thumbnails-${width}`);

        // A long message is folded, all of it there.
        await page.goto(`${h.url}/#/project/${talk}`);
        const bubble = page.locator('.msg-user .msg-body').first();
        await bubble.waitFor();
        expect(await bubble.evaluate((el: any) => el.classList.contains('folded'))).toBe(true);
        expect((await bubble.boundingBox())!.height).toBeLessThan(400);
        expect(await bubble.textContent()).toBe(long);
        await page.locator('[data-action="unfold"]').click();
        expect((await bubble.boundingBox())!.height).toBeGreaterThan(1000);

        // An empty send says what to do; an over-long one says why and keeps every character.
        await page.locator('button.send').click();
        await page.locator('[data-testid="chat-note"]').waitFor();
        expect(await page.locator('[data-testid="chat-note"]').textContent()).toBe(
          ja ? 'まず作りたいものを書いてください。上のアイデアから選ぶこともできます。' : 'Write what you would like first, or pick one of the ideas above.',
        );
        const tooLong = 'a'.repeat(20_001);
        await page.locator('.chat-input').fill(tooLong);
        await page.locator('[data-testid="chat-count"]').waitFor();
        await page.locator('button.send').click();
        await expect.poll(() => page.locator('[data-testid="chat-note"]').textContent()).toContain('20,001');
        expect((await page.locator('.chat-input').inputValue()).length).toBe(20_001);
        expect(await page.locator('.msg-user').count()).toBe(1);
        await shot(page, `trust-9-too-long-${width}`);
        await page.locator('.chat-input').fill('');

        // A new project's preview speaks the reader's language and DreamCore's words.
        await page.goto(`${h.url}/#/project/${fresh}`);
        await page.locator('.chat-welcome').waitFor();
        if (ja) await page.locator('.tab-preview').click();
        const preview = page.frameLocator('iframe.preview-frame');
        await preview.locator('h1:visible').waitFor();
        expect(await preview.locator('h1:visible').textContent()).toBe(ja ? 'ここにゲームが表示されます' : 'Your game will appear here');
        expect(await preview.locator('body').textContent()).not.toContain('Game Creator');
        await shot(page, `trust-9-new-project-preview-${width}`);

        // A suggestion is sent as a message (and answered), not left in the box.
        if (ja) await page.locator('.tab-chat').click();
        const idea = page.locator('[data-action="suggestion"]').first();
        const ideaText = (await idea.textContent())!;
        await idea.click();
        await page.locator('.msg-user .msg-body', { hasText: ideaText }).waitFor();
        expect(await page.locator('.chat-input').inputValue()).toBe('');
        await page.locator('.msg-assistant[data-state="done"]').waitFor({ timeout: 90_000 });

        // A malformed play link is a page that explains, in the reader's language.
        const { page: play } = await newPage(context);
        const response = await play.goto(`${h.url}/play/not-a-game`);
        expect(response?.status()).toBe(400);
        await play.locator('[data-testid="error-page"][data-kind="bad-game-link"]').waitFor();
        expect(await play.locator('h1').textContent()).toBe(ja ? 'このリンクはゲームにつながっていません' : 'This link does not lead to a game');
        await shot(play, `trust-9-bad-play-link-${width}`);
        expect(errors).toEqual([]);
        await pool.release(context);
      }, 150_000);
    }
  });
}
