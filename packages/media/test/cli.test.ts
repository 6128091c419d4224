/**
 * `dreamcore-render`, the renderer as a command (what a render sandbox runs): its usage errors, its JSON-lines report,
 * a real render of the conformance game through the bin itself, and a cancel by SIGTERM.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFORMANCE_GAME } from '@dreamcore/runtime-core/conformance';
import { main } from '../src/cli.js';
import { defaultBrowserExecutable } from '../src/video/index.js';

const BIN = fileURLToPath(new URL('../bin/dreamcore-render.js', import.meta.url));
const TINY = ['--width', '160', '--height', '90', '--fps', '15', '--duration', '1'];
const folders: string[] = [];

function gameFolder(html: string | null = CONFORMANCE_GAME): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dreamcore-render-cli-'));
  folders.push(dir);
  if (html !== null) writeFileSync(path.join(dir, 'index.html'), html);
  return dir;
}

afterAll(async () => {
  await Promise.all(folders.map((dir) => fs.rm(dir, { recursive: true, force: true })));
});

async function runInProcess(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr, lines: stdout.split('\n').filter(Boolean) };
}

type Line = { type: 'progress'; percent: number; stage: string } | { type: 'done'; movie: { size: number }; frames: number } | { type: 'error'; code: string };

/** Runs the bin as a render sandbox would; `onLine` may act on the stream (e.g. send SIGTERM). */
function runBin(argv: string[], onLine: (line: Line, child: ReturnType<typeof spawn>) => void = () => {}) {
  const child = spawn(process.execPath, ['--conditions=source', BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, newline)) as Line;
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      onLine(line, child);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<{ code: number | null; lines: Line[]; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lines, stderr }));
  });
}

describe('dreamcore-render: arguments', () => {
  it('--help prints the usage and exits 0', async () => {
    const r = await runInProcess(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: dreamcore-render <folder>/);
  });

  it.each([
    [[], /the game folder is missing/],
    [['a', 'b'], /exactly one game folder/],
    [['a', '--width', 'wide'], /--width must be a number/],
    [['a', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['a', '--prepare'], /--prepare takes no folder/],
  ])('%j is a usage error: exit 2, the reason and the usage on stderr, nothing on stdout', async (argv, reason) => {
    const r = await runInProcess(argv as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(reason);
    expect(r.stderr).toContain('usage: dreamcore-render');
    expect(r.stdout).toBe('');
  });

  it('a folder without index.html ends with a NOT_FOUND line and exit 1', async () => {
    const r = await runInProcess([gameFolder(null), ...TINY]);
    expect(r.code).toBe(1);
    expect(r.lines.map((l) => JSON.parse(l))).toEqual([{ type: 'error', code: 'NOT_FOUND', message: expect.stringContaining('index.html') }]);
  });

  it('settings the contract refuses end with an INVALID_ARGUMENT line', async () => {
    const r = await runInProcess([gameFolder(), '--width', '161', '--height', '90']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.lines.at(-1)!)).toMatchObject({ type: 'error', code: 'INVALID_ARGUMENT', message: expect.stringContaining('width') });
  });
});

describe.skipIf(!defaultBrowserExecutable())('dreamcore-render: the bin renders a folder', () => {
  // Bundled once by --prepare, as a render image would be built; the renders below must find it there.
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'dreamcore-render-cache-'));
  folders.push(cacheDir);
  let prepared: string[] = [];

  beforeAll(async () => {
    const first = await runInProcess(['--prepare', '--cache-dir', cacheDir]);
    expect(first.code, first.stdout).toBe(0);
    expect(JSON.parse(first.lines[0]!)).toMatchObject({ type: 'prepared', cacheDir, cached: false });
    prepared = await fs.readdir(cacheDir);
    expect(prepared).toHaveLength(1);
    const again = await runInProcess(['--prepare', '--cache-dir', cacheDir]);
    expect(JSON.parse(again.lines[0]!)).toMatchObject({ type: 'prepared', cached: true });
  }, 180_000);

  it('writes movie.mp4 and thumbnail.webp, reporting progress that only goes up, then one done line', async () => {
    const folder = gameFolder();
    const r = await runBin([folder, ...TINY, '--title', 'Command Line', '--cache-dir', cacheDir]);
    expect(r.code, r.stderr).toBe(0);
    const progress = r.lines.filter((l) => l.type === 'progress');
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.every((p, i) => i === 0 || p.percent >= progress[i - 1]!.percent)).toBe(true);
    expect(progress.at(-1)).toEqual({ type: 'progress', percent: 100, stage: 'done' });
    const done = r.lines.at(-1)!;
    expect(done).toMatchObject({ type: 'done', frames: 15, movie: { path: 'movie.mp4' }, thumbnail: { path: 'thumbnail.webp' } });
    const movie = await fs.stat(path.join(folder, 'movie.mp4'));
    expect(done.type === 'done' && done.movie.size).toBe(movie.size);
    expect((await fs.readdir(folder)).sort()).toEqual(['index.html', 'movie.mp4', 'thumbnail.webp']);
    expect(await fs.readdir(cacheDir), 'the render bundled again instead of using the prepared bundle').toEqual(prepared);
  }, 120_000);

  it('SIGTERM cancels: the last line is CANCELLED, exit 1, and no video or partial file is left', async () => {
    const folder = gameFolder();
    let signalled = false;
    const r = await runBin([folder, ...TINY, '--cache-dir', cacheDir], (line, child) => {
      if (!signalled && line.type === 'progress' && line.percent > 0) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    expect(signalled, 'the render finished before it could be cancelled').toBe(true);
    expect(r.code).toBe(1);
    expect(r.lines.at(-1)).toMatchObject({ type: 'error', code: 'CANCELLED' });
    expect(await fs.readdir(folder)).toEqual(['index.html']);
    expect(existsSync(path.join(folder, 'movie.mp4'))).toBe(false);
  }, 120_000);
});
