/**
 * checkGame: a game that runs passes, a game that does not is failed with the reason in words, and the game reaches
 * only its own files and its user's assets.
 */
import { describe, expect } from 'vitest';
import { expectCode, newProject, snapshot, type ConformanceOptions, useBackend } from './context.js';
import { CONFORMANCE_GAME } from './video.js';
import type { ProjectScope } from '../contract.js';

/** A 4×4 red PNG, as a user's uploaded asset. */
const RED_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEUlEQVR4nGP4z8AARwgWXg4ArpMP8aaUSCMAAAAASUVORK5CYII=',
  'base64',
);

/** The conformance game, drawing the user's asset once it has loaded (and asking for one that does not exist). */
function gameWithAssets(userId: string): string {
  return CONFORMANCE_GAME.replace(
    '<script>',
    `<script>
const hero = new Image(); hero.src = '/user-assets/${userId}/hero.png';
addEventListener('load', () => { if (!hero.naturalWidth) throw new Error('the asset did not load'); });
`,
  );
}

export function gameCheckCases(options: ConformanceOptions): void {
  describe('checkGame', () => {
    const s = useBackend(options);
    const b = () => s.backend();
    const slow = Math.max(options.timeoutMs ?? 0, 90_000);

    async function project(html: string | null, scope: ProjectScope = newProject()): Promise<ProjectScope> {
      await b().files.write(scope, html === null ? 'README.md' : 'index.html', html ?? 'no game yet');
      return scope;
    }

    s.testUnsupported('checkGame', async () => {
      await expectCode(b().checkGame({ scope: newProject() }), 'UNSUPPORTED');
    });

    s.test(
      'a game that runs passes: it draws, moves, answers a key and a tap, and loads its user’s asset by alias',
      'checkGame',
      async () => {
        const scope = newProject();
        // Stored as the asset routes store it (`{aliasBase}_{sha8}{ext}`), asked for by its alias.
        await b().files.write({ userId: scope.userId, assets: true }, 'hero_0badc0de.png', RED_PNG);
        await project(gameWithAssets(scope.userId), scope);
        const before = await snapshot(b(), scope);
        const result = await b().checkGame({ scope, picture: true });
        expect(result.errors).toEqual([]);
        expect(result.checks).toEqual({ loads: true, noErrors: true, draws: true, animates: false, respondsToKeys: true, respondsToTap: true });
        expect(result.passed).toBe(true);
        expect(result.durationMs).toBeGreaterThan(0);
        // Asked for, the picture of the game in play: a WebP of the check's frame.
        const picture = Buffer.from(result.picture ?? new Uint8Array());
        expect([picture.subarray(0, 4).toString('latin1'), picture.subarray(8, 12).toString('latin1')]).toEqual(['RIFF', 'WEBP']);
        expect(picture.length).toBeGreaterThan(500);
        // Looking changes nothing.
        expect(await snapshot(b(), scope)).toEqual(before);
      },
      slow,
    );

    s.test(
      'a broken page (a syntax error, a missing file, the internet, another user’s asset) fails, naming each',
      'checkGame',
      async () => {
        const scope = newProject();
        const other = newProject();
        await b().files.write({ userId: other.userId, assets: true }, 'secret.png', RED_PNG);
        await project(
          `<!doctype html><html><body style="margin:0;background:#123456">
<div style="display:none"><img src="sprites/missing.png"><img src="/user-assets/${other.userId}/secret.png"></div>
<script src="https://cdn.example.com/engine.js"></script>
<script>const broken = = 1;</script></body></html>`,
          scope,
        );
        const result = await b().checkGame({ scope });
        expect(result.passed).toBe(false);
        expect(result.checks).toMatchObject({ loads: true, noErrors: false, draws: false, respondsToKeys: false, respondsToTap: false });
        const errors = result.errors.join('\n');
        expect(errors).toMatch(/SyntaxError/);
        expect(errors).toContain('sprites/missing.png');
        expect(errors).toContain('cdn.example.com');
        // Another user's asset is not this game's to load.
        expect(errors).toContain(`/user-assets/${other.userId}/secret.png`);
      },
      slow,
    );

    s.test('no game, a bad scope: typed errors before anything runs', 'checkGame', async () => {
      await expectCode(b().checkGame({ scope: await project(null) }), 'NOT_FOUND');
      await expectCode(b().checkGame({ scope: newProject() }), 'NOT_FOUND');
      await expectCode(b().checkGame({ scope: { userId: 'x', projectId: newProject().projectId } }), 'INVALID_SCOPE');
    });
  });
}
