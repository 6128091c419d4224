/**
 * The Remotion composition, bundled once and cached as a folder keyed by a hash of its sources (and of the Remotion
 * and React versions that compile it). Per-job data travels as inputProps, so one bundle serves every render.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createError } from '@dreamcore/runtime-core';

const PACKAGE_NAME = '@dreamcore/media';
const SOURCE_EXTENSIONS = new Set(['.js', '.jsx', '.ts', '.tsx', '.mjs', '.css', '.json']);
const ENTRY = 'index.jsx';

/**
 * The package's `remotion/` folder, found from this module's own location: the sources run from `src/video/` under
 * vitest and tsx, and from `dist/` once built, so walk up to the package root rather than assume a depth.
 */
export function compositionDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) {
          return path.join(dir, 'remotion');
        }
      } catch {
        // not ours; keep walking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw createError('NOT_CONFIGURED', `cannot find the ${PACKAGE_NAME} package root (for remotion/)`);
    dir = parent;
  }
}

function versionOf(require: NodeJS.Require, name: string): string {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** sha256 over the composition's files (names and bytes) and the versions of everything that compiles them. */
export async function compositionHash(dir: string, bundler: 'rspack' | 'webpack'): Promise<string> {
  const hash = createHash('sha256');
  const files: string[] = [];
  async function walk(current: string): Promise<void> {
    for (const entry of await fs.readdir(current, { withFileTypes: true })) {
      const absolute = path.join(current, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules' && !entry.name.startsWith('.')) await walk(absolute);
      else if (entry.isFile() && SOURCE_EXTENSIONS.has(path.extname(entry.name))) files.push(absolute);
    }
  }
  await walk(dir);
  for (const file of files.sort()) {
    hash.update(path.relative(dir, file).split(path.sep).join('/')).update('\0');
    hash.update(await fs.readFile(file)).update('\0');
  }
  const require = createRequire(path.join(dir, ENTRY));
  for (const name of ['remotion', '@remotion/bundler', 'react', 'react-dom']) hash.update(`${name}@${versionOf(require, name)}\0`);
  hash.update(bundler);
  return hash.digest('hex').slice(0, 24);
}

/** Bundles of other sources (older versions of the composition) go once unused this long; each is ~25 MB. */
const STALE_AFTER_MS = 24 * 60 * 60 * 1000;

async function markUsed(dir: string): Promise<void> {
  const now = new Date();
  await fs.utimes(dir, now, now).catch(() => undefined);
}

async function pruneStale(cacheDir: string, keep: string): Promise<void> {
  for (const name of await fs.readdir(cacheDir).catch(() => [] as string[])) {
    const dir = path.join(cacheDir, name);
    if (!name.startsWith('promo-') || dir === keep) continue;
    const stats = await fs.stat(dir).catch(() => null);
    if (stats && Date.now() - stats.mtimeMs > STALE_AFTER_MS) await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

export interface BundleResult {
  serveUrl: string;
  /** true when the folder came from the cache (in memory or on disk). */
  cached: boolean;
  bundler: 'rspack' | 'webpack';
}

export interface BundleCacheOptions {
  cacheDir: string;
  /** rspack is ~5-10× faster than webpack here; webpack stays as the fallback (default true). */
  rspack?: boolean;
}

// Shared by every renderer in the process: two jobs that need the same bundle wait for one build.
const inFlight = new Map<string, Promise<BundleResult>>();
let rspackFailed = false;

export async function getBundle(options: BundleCacheOptions, onProgress?: (fraction: number) => void): Promise<BundleResult> {
  const dir = compositionDir();
  const wantRspack = (options.rspack ?? true) && !rspackFailed;
  try {
    return await cachedBundle(dir, options.cacheDir, wantRspack ? 'rspack' : 'webpack', onProgress);
  } catch (error) {
    if (!wantRspack) throw error;
    // A broken rspack binding (or platform) must not take video down: remember it and fall back to webpack.
    rspackFailed = true;
    return cachedBundle(dir, options.cacheDir, 'webpack', onProgress);
  }
}

async function cachedBundle(dir: string, cacheDir: string, bundler: 'rspack' | 'webpack', onProgress?: (fraction: number) => void): Promise<BundleResult> {
  const key = `${bundler}-${await compositionHash(dir, bundler)}`;
  const target = path.join(cacheDir, `promo-${key}`);
  const memo = inFlight.get(target);
  if (memo) {
    const result = await memo;
    // Still on disk? (Another process prunes bundles left unused for a day; using one keeps it fresh.)
    if (existsSync(path.join(target, 'index.html'))) {
      await markUsed(target);
      return { ...result, cached: true };
    }
    if (inFlight.get(target) === memo) inFlight.delete(target);
    return cachedBundle(dir, cacheDir, bundler, onProgress);
  }
  const build = (async (): Promise<BundleResult> => {
    // index.html is the bundler's last write, and the folder only appears under its final name by rename.
    if (existsSync(path.join(target, 'index.html'))) {
      await markUsed(target);
      return { serveUrl: target, cached: true, bundler };
    }
    await fs.mkdir(cacheDir, { recursive: true });
    const temp = path.join(cacheDir, `.tmp-${key}-${randomBytes(6).toString('hex')}`);
    const { bundle } = await import('@remotion/bundler');
    // bundle() chdirs into the Remotion root and does not always change back when compilation fails.
    const cwd = process.cwd();
    try {
      await bundle({
        entryPoint: path.join(dir, ENTRY),
        rootDir: dir,
        outDir: temp,
        rspack: bundler === 'rspack',
        // Our folder cache replaces the bundler's own (which would write into the package's node_modules).
        enableCaching: false,
        onProgress: (percent: number) => onProgress?.(Math.min(1, percent / 100)),
      });
    } catch (error) {
      await fs.rm(temp, { recursive: true, force: true }).catch(() => undefined);
      throw createError('RENDER_ERROR', `bundling the promo composition failed (${bundler}): ${(error as Error).message}`, {
        cause: error,
        details: { stage: 'bundle', bundler },
      });
    } finally {
      if (process.cwd() !== cwd) process.chdir(cwd);
    }
    try {
      await fs.rename(temp, target);
    } catch (error) {
      // Another process finished the same bundle first: theirs is identical, keep it.
      await fs.rm(temp, { recursive: true, force: true });
      if (!existsSync(path.join(target, 'index.html'))) throw error;
    }
    await markUsed(target);
    await pruneStale(cacheDir, target);
    return { serveUrl: target, cached: false, bundler };
  })();
  inFlight.set(target, build);
  try {
    return await build;
  } catch (error) {
    inFlight.delete(target);
    throw error;
  }
}
