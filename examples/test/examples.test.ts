/**
 * The examples are checked by `npm test`: the command-line generator really makes a game (demo model, real CLI),
 * and a second run changes the same game as its next version.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const here = path.dirname(new URL(import.meta.url).pathname);
const out = mkdtempSync(path.join(tmpdir(), 'example-game-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function gameDir(): string {
  const users = path.join(out, '.dreamcore', 'users');
  const user = readdirSync(users)[0]!;
  const project = readdirSync(path.join(users, user, 'projects'))[0]!;
  return path.join(users, user, 'projects', project);
}

it('generate-game writes a playable game and a second prompt edits it', async () => {
  const env = { ...process.env, ANTHROPIC_API_KEY: '' };
  const script = path.join(here, '..', 'generate-game', 'generate.ts');
  const first = await run(process.execPath, ['--conditions=source', '--import', 'tsx', script, 'make a snake game', '--out', out], {
    env,
    cwd: path.join(here, '..'),
  });
  expect(first.stdout).toMatch(/Changed: .*index\.html/);
  const html = readFileSync(path.join(gameDir(), 'index.html'), 'utf8');
  expect(html).toContain('<canvas');
  expect(html).toMatch(/requestAnimationFrame/);
  const second = await run(process.execPath, ['--conditions=source', '--import', 'tsx', script, 'make it blue', '--out', out], {
    env,
    cwd: path.join(here, '..'),
  });
  expect(second.stdout).toMatch(/version [0-9a-f]{7}/);
  expect(readFileSync(path.join(gameDir(), 'index.html'), 'utf8')).not.toBe(html);
}, 180_000);
