/**
 * The video renderer, the pieces underneath: the plan (rates, sections, capture size), the encoder arguments, the input
 * script and the bundle cache key. Renders through a backend are the conformance block's (`renderVideo`, run by each
 * backend's conformance.test.ts); the command form is cli.test.ts.
 */
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { compositionDir, compositionHash } from '../src/video/bundle.js';
import { inputSchedule } from '../src/video/capture.js';
import { encoderArgs } from '../src/video/compose.js';
import { planVideo } from '../src/video/options.js';
import { CHROMIUM_CANDIDATES, defaultBrowserExecutable, installedChromium } from '../src/video/index.js';

describe('which chromium checks, captures and renders use', () => {
  it("DREAMCORE_CHROMIUM, else Debian's headless shell, else full chromium", () => {
    const before = process.env.DREAMCORE_CHROMIUM;
    onTestFinished(() => {
      if (before === undefined) delete process.env.DREAMCORE_CHROMIUM;
      else process.env.DREAMCORE_CHROMIUM = before;
    });
    process.env.DREAMCORE_CHROMIUM = '/opt/my/chromium';
    expect(defaultBrowserExecutable()).toBe('/opt/my/chromium');
    delete process.env.DREAMCORE_CHROMIUM;
    // `npm test` requires the shell (scripts/prerequisites.mjs), so on a test machine it is the one picked.
    const shell = CHROMIUM_CANDIDATES['headless-shell'][0];
    expect(existsSync(shell)).toBe(true);
    expect(defaultBrowserExecutable()).toBe(shell);
    expect(installedChromium('headless-shell')).toBe(shell);
    // Full chromium is only ever full chromium (the browser tests' web push case needs it).
    const full = installedChromium('full');
    expect(full === null || (CHROMIUM_CANDIDATES.full as readonly string[]).includes(full)).toBe(true);
  });
});

describe('video plan', () => {
  it('defaults to DreamCore V2: 7 s, 30 fps, 1080×1920, composed at 15 fps and repeated to 30', () => {
    const plan = planVideo({});
    expect(plan).toMatchObject({ width: 1080, height: 1920, fps: 30, totalFrames: 210, composeFps: 15, repeat: 2 });
    expect(plan.titleFrames + plan.gameplayFrames + plan.endFrames).toBe(plan.composeFrames);
    expect(plan.composeFrames * plan.repeat).toBeGreaterThanOrEqual(plan.totalFrames);
    // Portrait output is captured at 720×1280 and scaled up: the capture never exceeds 1280 on its longer side.
    expect([plan.captureWidth, plan.captureHeight]).toEqual([720, 1280]);
    expect(plan.thumbnailFrame).toBeLessThan(plan.titleFrames - plan.fadeFrames);
  });

  it('keeps odd rates whole and short videos sane', () => {
    expect(planVideo({ fps: 24 })).toMatchObject({ composeFps: 24, repeat: 1, captureFps: 15 });
    expect(planVideo({ fps: 60 })).toMatchObject({ composeFps: 15, repeat: 4 });
    expect(planVideo({ fps: 30 }, { fullRateComposition: true })).toMatchObject({ composeFps: 30, repeat: 1 });
    const tiny = planVideo({ fps: 1, durationSeconds: 1 });
    expect(tiny).toMatchObject({ totalFrames: 1, composeFrames: 1, titleFrames: 0, gameplayFrames: 1, endFrames: 0 });
  });

  it('tags the encoder and makes it repeat frames, only where it encodes', () => {
    const override = encoderArgs('job-1', { fps: 30, frames: 210 });
    const pre = ['-r', '15', '-f', 'image2pipe', '-i', '-', '-c:v', 'libx264', '-y', 'out.mp4'];
    expect(override({ type: 'pre-stitcher', args: pre })).toEqual([
      '-r',
      '15',
      '-f',
      'image2pipe',
      '-i',
      '-',
      '-c:v',
      'libx264',
      '-r',
      '30',
      '-frames:v',
      '210',
      '-metadata',
      'dreamcore_job=job-1',
      '-y',
      'out.mp4',
    ]);
    const copy = ['-i', 'pre.mp4', '-c:v', 'copy', '-y', 'final.mp4'];
    expect(override({ type: 'stitcher', args: copy })).toEqual(copy);
  });

  it('scripts the start input first and keeps every event inside the capture', () => {
    const events = inputSchedule(4000);
    expect(events.slice(0, 3).map((e) => e.action)).toEqual([{ kind: 'tap' }, { kind: 'press', key: 'Space' }, { kind: 'press', key: 'Enter' }]);
    expect(events.every((e, i) => i === 0 || e.at >= events[i - 1]!.at)).toBe(true);
    expect(Math.max(...events.map((e) => e.at))).toBeLessThan(1000 + 4000);
  });

  it('keys the bundle cache on the composition sources', async () => {
    const dir = compositionDir();
    expect(readdirSync(dir)).toContain('index.jsx');
    const a = await compositionHash(dir, 'rspack');
    expect(await compositionHash(dir, 'rspack')).toBe(a);
    expect(await compositionHash(dir, 'webpack')).not.toBe(a);
  });
});
