/**
 * renderVideo: the project's game becomes `movie.mp4` (H.264) and `thumbnail.webp`, deterministically.
 *
 * The suite writes a small canvas game of its own (Math.random, requestAnimationFrame, started by Space/Enter or a
 * click) and checks what a player of the promo would see: the MP4's real size, rate, length and frame count (ffprobe),
 * a thumbnail that decodes, the game actually running in the gameplay section (the start key was delivered and the
 * captured frames show it), identical output for identical input, progress that only goes forward and ends at 100,
 * and a cancel that leaves neither files nor processes behind.
 *
 * Probing needs ffprobe and ffmpeg: `FFPROBE_PATH` / `FFMPEG_PATH`, else the ones Remotion's compositor package ships,
 * else whatever is on PATH.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect } from 'vitest';
import { expectCode, newProject, sha256, type ConformanceOptions, useBackend } from './context.js';
import type { ExecutionBackend, ProjectScope, RenderVideoRequest } from '../contract.js';

const run = promisify(execFile);

/** Small on purpose: every case below renders at this size, so the block stays quick on two cores. */
const SMALL = { width: 480, height: 270, fps: 15, durationSeconds: 2 } as const;

/**
 * The game under test. Red until started, then green with squares placed by Math.random and moved by the clock, so
 * a gameplay frame that is mostly green proves the start input arrived and the capture follows the game.
 */
export const CONFORMANCE_GAME = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Conformance Blocks</title>
<style>html, body { margin: 0; height: 100%; overflow: hidden; background: #000; } canvas { display: block; }</style>
</head>
<body>
<canvas id="c"></canvas>
<script>
const c = document.getElementById('c');
const g = c.getContext('2d');
c.width = innerWidth; c.height = innerHeight;
let started = false, t0 = 0;
const blocks = Array.from({ length: 12 }, () => ({ x: Math.random(), y: Math.random(), v: 0.1 + Math.random() * 0.3 }));
function start() { started = true; }
addEventListener('keydown', (e) => { if (e.code === 'Space' || e.code === 'Enter') start(); });
addEventListener('pointerdown', start);
function frame(t) {
  if (!t0) t0 = t;
  const s = (t - t0) / 1000;
  g.fillStyle = started ? '#00a040' : '#c00000';
  g.fillRect(0, 0, c.width, c.height);
  if (started) {
    g.fillStyle = '#ffe000';
    for (const b of blocks) g.fillRect(((b.x + b.v * s) % 1) * c.width, b.y * c.height, 10, 10);
  } else {
    g.fillStyle = '#fff'; g.font = '24px sans-serif'; g.fillText('PRESS SPACE', 20, 40);
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
</script>
</body>
</html>
`;

function tool(name: 'ffprobe' | 'ffmpeg'): string {
  const fromEnv = process.env[name === 'ffprobe' ? 'FFPROBE_PATH' : 'FFMPEG_PATH'];
  if (fromEnv) return fromEnv;
  try {
    const require = createRequire(path.join(process.cwd(), 'package.json'));
    const dir = path.dirname(require.resolve('@remotion/compositor-linux-x64-gnu/package.json'));
    if (existsSync(path.join(dir, name))) return path.join(dir, name);
  } catch {
    // not installed here; fall back to PATH
  }
  return name;
}

interface Probe {
  codec: string;
  width: number;
  height: number;
  fps: number;
  frames: number;
  durationSeconds: number;
}

async function probe(file: string): Promise<Probe> {
  const { stdout } = await run(tool('ffprobe'), [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=codec_name,width,height,r_frame_rate,nb_read_frames:format=duration',
    '-of',
    'json',
    file,
  ]);
  const json = JSON.parse(stdout) as {
    streams: { codec_name: string; width: number; height: number; r_frame_rate: string; nb_read_frames: string }[];
    format: { duration: string };
  };
  const stream = json.streams[0]!;
  const [num, den] = stream.r_frame_rate.split('/').map(Number) as [number, number];
  return {
    codec: stream.codec_name,
    width: stream.width,
    height: stream.height,
    fps: num / den,
    frames: Number(stream.nb_read_frames),
    durationSeconds: Number(json.format.duration),
  };
}

/** Decoded frames as RGB bytes (image2pipe + rawvideo: minimal ffmpeg builds have no rawvideo muxer). */
async function decodeFrames(inputArgs: string[], maxBytes: number): Promise<Buffer> {
  const args = ['-v', 'error', ...inputArgs, '-c:v', 'rawvideo', '-pix_fmt', 'rgb24', '-f', 'image2pipe', '-'];
  const { stdout } = await run(tool('ffmpeg'), args, { encoding: 'buffer', maxBuffer: maxBytes + 1024 });
  return stdout;
}

/** One decoded frame at `seconds`. */
function frameAt(file: string, seconds: number, width: number, height: number): Promise<Buffer> {
  return decodeFrames(['-ss', String(seconds), '-i', file, '-frames:v', '1'], width * height * 3);
}

/** A hash per decoded frame: equal lists mean the videos look the same even if the container bytes differ. */
async function frameHashes(file: string): Promise<string[]> {
  const { width, height, frames } = await probe(file);
  const size = width * height * 3;
  const raw = await decodeFrames(['-i', file, '-map', '0:v:0'], size * frames);
  const out: string[] = [];
  for (let offset = 0; offset + size <= raw.length; offset += size) out.push(sha256(raw.subarray(offset, offset + size)));
  return out;
}

function averageRgb(rgb: Buffer): [number, number, number] {
  let r = 0,
    g = 0,
    b = 0;
  const n = rgb.length / 3;
  for (let i = 0; i < rgb.length; i += 3) {
    r += rgb[i]!;
    g += rgb[i + 1]!;
    b += rgb[i + 2]!;
  }
  return [r / n, g / n, b / n];
}

/** Width and height from a WebP's own header (VP8, VP8L or VP8X), whether or not an image library is at hand. */
function webpSize(bytes: Uint8Array): { width: number; height: number } | null {
  const buf = Buffer.from(bytes);
  if (buf.length < 30 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WEBP') return null;
  const chunk = buf.toString('ascii', 12, 16);
  if (chunk === 'VP8 ') return { width: buf.readUInt16LE(26) & 0x3fff, height: buf.readUInt16LE(28) & 0x3fff };
  if (chunk === 'VP8L') {
    const bits = buf.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') return { width: buf.readUIntLE(24, 3) + 1, height: buf.readUIntLE(27, 3) + 1 };
  return null;
}

/** Live processes below this one whose command line names a browser or an encoder. */
async function browserOrEncoderChildren(): Promise<string[]> {
  // Every process's whole command line: chromium's are kilobytes each, so a busy machine (parallel test files, other
  // users) prints megabytes; execFile's default 1 MiB buffer failed this check once in CI.
  const { stdout } = await run('ps', ['-eo', 'pid=,ppid=,args='], { maxBuffer: 256 * 1024 * 1024 });
  const children = new Map<number, { pid: number; args: string }[]>();
  for (const line of stdout.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const list = children.get(Number(match[2])) ?? [];
    list.push({ pid: Number(match[1]), args: match[3]! });
    children.set(Number(match[2]), list);
  }
  const found: string[] = [];
  const stack = [process.pid];
  while (stack.length) {
    for (const child of children.get(stack.pop()!) ?? []) {
      if (/chrom|headless|ffmpeg|ffprobe|remotion/i.test(child.args) && !/\bps\b -eo/.test(child.args)) {
        found.push(`${child.pid} ${child.args.slice(0, 120)}`);
      }
      stack.push(child.pid);
    }
  }
  return found;
}

async function withTempFile<T>(bytes: Uint8Array, extension: string, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'conformance-video-'));
  const file = path.join(dir, `file.${extension}`);
  try {
    await fs.writeFile(file, bytes);
    return await fn(file);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function writeGame(backend: ExecutionBackend, scope: ProjectScope = newProject()): Promise<ProjectScope> {
  await backend.files.write(scope, 'index.html', CONFORMANCE_GAME);
  return scope;
}

export function videoCases(options: ConformanceOptions): void {
  describe('renderVideo', () => {
    const s = useBackend(options);
    const b = () => s.backend();
    const slow = Math.max(options.timeoutMs ?? 0, 180_000);
    // The first case's render, kept for the determinism case so the block renders as few videos as it can.
    let first: { scope: ProjectScope; movie: Uint8Array } | undefined;

    s.testUnsupported('renderVideo', async () => {
      await expectCode(b().renderVideo({ scope: newProject() }), 'UNSUPPORTED');
    });

    s.test(
      'renders movie.mp4 at the requested size, rate and length, and a thumbnail.webp',
      'renderVideo',
      async () => {
        const scope = await writeGame(b());
        const progress: { percent: number; stage: string }[] = [];
        const result = await b().renderVideo({
          scope,
          ...SMALL,
          title: 'Conformance',
          onProgress: (p) => progress.push({ ...p }),
        });
        const frames = SMALL.fps * SMALL.durationSeconds;
        expect(result.frames).toBe(frames);
        expect(result.durationMs).toBe(SMALL.durationSeconds * 1000);
        expect(result.movie).toMatchObject({ path: 'movie.mp4', kind: 'file' });
        expect(result.thumbnail).toMatchObject({ path: 'thumbnail.webp', kind: 'file' });

        const movie = await b().files.read(scope, 'movie.mp4');
        expect(movie.byteLength).toBe(result.movie.size);
        await withTempFile(movie, 'mp4', async (file) => {
          const info = await probe(file);
          expect(info).toMatchObject({ codec: 'h264', width: SMALL.width, height: SMALL.height, fps: SMALL.fps, frames });
          expect(Math.abs(info.durationSeconds - SMALL.durationSeconds)).toBeLessThan(0.1);
          // The middle of the video is gameplay: the game must have been started by the input and be running.
          const [r, g, bl] = averageRgb(await frameAt(file, SMALL.durationSeconds / 2, SMALL.width, SMALL.height));
          expect(g, `gameplay frame should show the started (green) game, got rgb(${r | 0},${g | 0},${bl | 0})`).toBeGreaterThan(r + 40);
          expect(g).toBeGreaterThan(bl);
        });

        const thumbnail = await b().files.read(scope, 'thumbnail.webp');
        expect(thumbnail.byteLength).toBe(result.thumbnail.size);
        expect(webpSize(thumbnail)).toEqual({ width: SMALL.width, height: SMALL.height });
        const sharp = await import('sharp').then((m) => m.default).catch(() => null);
        if (sharp) {
          const meta = await sharp(thumbnail).metadata();
          expect(meta).toMatchObject({ format: 'webp', width: SMALL.width, height: SMALL.height });
          const { info } = await sharp(thumbnail).raw().toBuffer({ resolveWithObject: true });
          expect(info.width * info.height).toBe(SMALL.width * SMALL.height);
        }

        expect(progress.length).toBeGreaterThan(2);
        for (const [i, p] of progress.entries()) {
          expect(typeof p.stage).toBe('string');
          expect(p.percent).toBeGreaterThanOrEqual(0);
          expect(p.percent).toBeLessThanOrEqual(100);
          if (i > 0) expect(p.percent, `progress went back at event ${i}`).toBeGreaterThanOrEqual(progress[i - 1]!.percent);
        }
        expect(progress.at(-1)!.percent).toBe(100);
        expect(progress.filter((p) => p.percent === 100)).toHaveLength(1);
        first = { scope, movie };
      },
      slow,
    );

    s.test(
      'cancel mid-render rejects with CANCELLED and leaves no files and no processes',
      'renderVideo',
      async () => {
        const scope = await writeGame(b());
        // Only what the render starts counts: a browser another case (or test file in this process) keeps open in a
        // pool, say the game check's, was there before and is not the render's to stop.
        const before = new Set(await browserOrEncoderChildren());
        const started = async () => (await browserOrEncoderChildren()).filter((process) => !before.has(process));
        const controller = new AbortController();
        const rendering = b().renderVideo({
          scope,
          ...SMALL,
          signal: controller.signal,
          onProgress: (p) => {
            // Abort once rendering has begun: browsers and the encoder are all running by then.
            if (p.stage === 'render' || p.percent >= 40) controller.abort();
          },
        });
        await expectCode(rendering, 'CANCELLED');
        expect(controller.signal.aborted, 'the render finished before it could be cancelled').toBe(true);
        const files = (await b().files.list(scope)).map((e) => e.path);
        expect(files).toEqual(['index.html']);
        // The promise settles after the processes are told to stop; give them a moment to be reaped.
        let left = await started();
        for (let i = 0; i < 25 && left.length > 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          left = await started();
        }
        expect(left).toEqual([]);
      },
      slow,
    );

    // Runs after the cancel case on purpose: it also shows that a cancelled render leaves the backend able to render.
    s.test(
      'the same game renders to the same video',
      'renderVideo',
      async () => {
        const scope = first?.scope ?? (await writeGame(b()));
        if (!first) await b().renderVideo({ scope, ...SMALL, title: 'Conformance' });
        const before = first?.movie ?? (await b().files.read(scope, 'movie.mp4'));
        await b().renderVideo({ scope, ...SMALL, title: 'Conformance' });
        const after = await b().files.read(scope, 'movie.mp4');
        if (sha256(before) === sha256(after)) return;
        // Containers may legitimately differ (timestamps, muxer versions); the pictures must not.
        const [a, c] = await Promise.all([withTempFile(before, 'mp4', frameHashes), withTempFile(after, 'mp4', frameHashes)]);
        expect(c).toEqual(a);
      },
      slow,
    );

    s.test('an already aborted signal rejects with CANCELLED and renders nothing', 'renderVideo', async () => {
      const scope = await writeGame(b());
      await expectCode(b().renderVideo({ scope, ...SMALL, signal: AbortSignal.abort() }), 'CANCELLED');
      expect((await b().files.list(scope)).map((e) => e.path)).toEqual(['index.html']);
    });

    s.test('a project without index.html is NOT_FOUND', 'renderVideo', async () => {
      await expectCode(b().renderVideo({ scope: newProject(), ...SMALL }), 'NOT_FOUND');
      const scope = newProject();
      await b().files.write(scope, 'game.js', 'console.log(1)');
      await expectCode(b().renderVideo({ scope, ...SMALL }), 'NOT_FOUND');
      expect((await b().files.list(scope)).map((e) => e.path)).toEqual(['game.js']);
    });

    s.test('bad options are INVALID_ARGUMENT and change nothing', 'renderVideo', async () => {
      const scope = await writeGame(b());
      const bad: Partial<RenderVideoRequest>[] = [
        { width: 0 },
        { height: -2 },
        { width: 100_000 },
        { width: 480.5 },
        { fps: 0 },
        { fps: 1000 },
        { durationSeconds: 0 },
        { durationSeconds: Number.NaN },
        { durationSeconds: 3600 },
        { width: '480' as unknown as number },
        { title: 42 as unknown as string },
      ];
      for (const options of bad) {
        await expectCode(b().renderVideo({ scope, ...SMALL, ...options }), 'INVALID_ARGUMENT');
      }
      expect((await b().files.list(scope)).map((e) => e.path)).toEqual(['index.html']);
    });

    s.test('scopes are validated like every other call', 'renderVideo', async () => {
      await expectCode(b().renderVideo({ scope: { userId: 'nope', projectId: randomUUID() }, ...SMALL }), 'INVALID_SCOPE');
      await expectCode(b().renderVideo({ scope: { userId: randomUUID(), projectId: '../x' }, ...SMALL }), 'INVALID_SCOPE');
    });
  });
}
