/**
 * The chromium a backend keeps open between game checks and captures (browser-pool.ts): one launch serves many calls,
 * an idle one closes, and a game that hangs its renderer costs only its own call: the browser is retired and the next
 * call gets a new one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChromiumPool } from '../src/browser-pool.js';
import { checkGameFolder } from '../src/check.js';
import { CHROMIUM_ARGS, captureGameplay } from '../src/video/capture.js';
import { defaultBrowserExecutable } from '../src/video/index.js';

const chromium = defaultBrowserExecutable();
const folders: string[] = [];

function game(html: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dreamcore-pool-'));
  folders.push(dir);
  writeFileSync(path.join(dir, 'index.html'), html);
  return dir;
}

/** Draws a square that moves with the arrow keys and jumps on a tap. */
const MOVING = `<!doctype html><html><body style="margin:0;overflow:hidden"><canvas id="c" width="480" height="640" style="display:block"></canvas><script>
const ctx = document.getElementById('c').getContext('2d');
let x = 100, y = 100;
addEventListener('keydown', (e) => { if (e.key === 'ArrowRight') x += 40; if (e.key === 'ArrowUp') y -= 40; });
addEventListener('pointerdown', () => { y += 80; });
(function frame() { ctx.fillStyle = '#113'; ctx.fillRect(0, 0, 480, 640); ctx.fillStyle = '#fc0'; ctx.fillRect(x, y, 60, 60); requestAnimationFrame(frame); })();
</script></body></html>`;

/** Moves only with the arrow keys: a tap changes nothing. */
const KEYS_ONLY = MOVING.replace("addEventListener('pointerdown', () => { y += 80; });", '');
/** Moves only on a tap: keys change nothing. */
const TAP_ONLY = MOVING.replace("addEventListener('keydown', (e) => { if (e.key === 'ArrowRight') x += 40; if (e.key === 'ArrowUp') y -= 40; });", '');

/** Loads, then never yields again once its first timer fires (under the check's clock: while time is moved). */
const HANGS = `<!doctype html><html><body style="margin:0;background:#234"><script>
setTimeout(() => { for (;;) {} }, 100);
</script></body></html>`;

afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe('the chromium pool', () => {
  // npm test's prerequisites stop the run without chromium; anywhere else its absence fails here, not skips.
  if (!chromium) throw new Error('no chromium: `npm run setup` installs it (or set DREAMCORE_CHROMIUM)');
  const exe = chromium;

  it('lends one browser to calls that overlap or follow each other, and closes it once idle', async () => {
    const pool = new ChromiumPool({ idleMs: 300 });
    try {
      const [a, b] = await Promise.all([pool.lease(exe, CHROMIUM_ARGS, 20_000), pool.lease(exe, CHROMIUM_ARGS, 20_000)]);
      expect(b.browser).toBe(a.browser);
      a.release();
      b.release();
      const c = await pool.lease(exe, CHROMIUM_ARGS, 20_000);
      expect(c.browser).toBe(a.browser);
      c.release();
      c.release(); // twice is once
      await expect.poll(() => a.browser.isConnected()).toBe(false);
      const d = await pool.lease(exe, CHROMIUM_ARGS, 20_000);
      expect(d.browser).not.toBe(a.browser);
      expect(d.browser.isConnected()).toBe(true);
      d.release();
    } finally {
      await pool.close();
    }
  });

  it('a browser that went away is replaced; close() closes the ones in use too', async () => {
    const pool = new ChromiumPool();
    const first = await pool.lease(exe, CHROMIUM_ARGS, 20_000);
    await first.browser.close(); // as a crash would: gone under its user
    const second = await pool.lease(exe, CHROMIUM_ARGS, 20_000);
    expect(second.browser).not.toBe(first.browser);
    expect(second.browser.isConnected()).toBe(true);
    await pool.close();
    expect(second.browser.isConnected()).toBe(false);
    await expect(pool.lease(exe, CHROMIUM_ARGS, 20_000)).rejects.toThrow(/closed/);
  });

  it('each input is tried on a page of its own: a game that answers only keys does not answer a tap, nor the reverse', async () => {
    const pool = new ChromiumPool();
    try {
      const check = (html: string) => checkGameFolder(game(html), { browserExecutable: exe, browsers: pool });
      const [keys, tap] = await Promise.all([check(KEYS_ONLY), check(TAP_ONLY)]);
      expect(keys.checks).toMatchObject({ loads: true, draws: true, animates: false, respondsToKeys: true, respondsToTap: false });
      expect(tap.checks).toMatchObject({ loads: true, draws: true, animates: false, respondsToKeys: false, respondsToTap: true });
      expect([keys.passed, tap.passed]).toEqual([true, true]);
    } finally {
      await pool.close();
    }
  });

  it('game checks share it, and a game that hangs fails its own check only: its browser is retired and closed', async () => {
    const pool = new ChromiumPool();
    try {
      const moving = game(MOVING);
      // Held across the checks, to see which browser they used.
      const held = await pool.lease(exe, CHROMIUM_ARGS, 20_000);
      const passed = await checkGameFolder(moving, { browserExecutable: exe, browsers: pool });
      expect(passed).toMatchObject({ passed: true, checks: { loads: true, draws: true, respondsToKeys: true, respondsToTap: true } });

      const hung = await checkGameFolder(game(HANGS), { browserExecutable: exe, browsers: pool, stepTimeoutMs: 2_000 });
      expect(hung.passed).toBe(false);
      expect(hung.checks.loads).toBe(true);
      expect(hung.errors.join('\n')).toMatch(/stopped responding/);
      // Retired: the next check gets another browser, and passes there.
      const after = await pool.lease(exe, CHROMIUM_ARGS, 20_000);
      expect(after.browser).not.toBe(held.browser);
      expect(await checkGameFolder(moving, { browserExecutable: exe, browsers: pool })).toMatchObject({ passed: true });
      after.release();
      // The retired one closes when its last user is done.
      expect(held.browser.isConnected()).toBe(true);
      held.release();
      await expect.poll(() => held.browser.isConnected()).toBe(false);
    } finally {
      await pool.close();
    }
  });

  it('a capture of a game that hangs is RENDER_ERROR, and the pool goes on with a new browser', async () => {
    const pool = new ChromiumPool();
    try {
      const held = await pool.lease(exe, CHROMIUM_ARGS, 20_000);
      // A short bound only where the game hangs: on a loaded machine a healthy step can take longer than 2 s.
      const capture = (dir: string, stepTimeoutMs?: number) =>
        captureGameplay({
          projectDir: dir,
          width: 160,
          height: 240,
          fps: 10,
          frames: 12,
          browserExecutable: exe,
          browsers: pool,
          ...(stepTimeoutMs ? { stepTimeoutMs } : {}),
          onFrame: () => undefined,
        });
      await expect(capture(game(HANGS), 2_000)).rejects.toMatchObject({ code: 'RENDER_ERROR', message: expect.stringMatching(/stopped responding/) });
      const next = await pool.lease(exe, CHROMIUM_ARGS, 20_000);
      expect(next.browser).not.toBe(held.browser);
      next.release();
      held.release();
      expect(await capture(game(MOVING))).toMatchObject({ frames: 12, pageErrors: [] });
    } finally {
      await pool.close();
    }
  });
});
