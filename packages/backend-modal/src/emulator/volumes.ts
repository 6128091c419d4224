/**
 * Volumes as Modal has them, not as shared folders.
 *
 * Each named volume has a committed state (a folder under the state dir). A sandbox never works on that folder: when
 * it starts, each volume it mounts is copied into a private view, and the sandbox reads and writes the view. Changes
 * reach the committed state only by a commit, and other sandboxes see them only when they start or reload:
 *
 * - v2 volumes commit when a process in the sandbox runs `sync <mountpoint>` (Modal's documented way; the emulator's
 *   `sync` tells it through a FIFO, see sandbox.ts) and when the sandbox ends normally (terminate, timeout, idle
 *   timeout, its entrypoint exits);
 * - v1 volumes commit only when the sandbox ends normally (`sync` does nothing for them);
 * - a sandbox that is killed (a lost worker: `ModalEmulator.killSandbox`) commits nothing: its uncommitted writes are
 *   lost;
 * - `reloadVolumes()` commits the view's own changes, then brings it up to the committed state;
 * - a commit writes the paths the sandbox changed since its last load or commit, file by file: the last writer wins,
 *   and a file another sandbox committed meanwhile is overwritten only if this sandbox changed it too.
 *
 * One lock per volume orders loads and commits, so a sandbox created after a commit has returned sees it.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  type BigIntStats,
} from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';

/** VolumeFsVersion: Modal answers UNSPECIFIED (0) for volumes made without a version, which the SDK reads as v1. */
export type VolumeVersion = 1 | 2;

export interface VolumeRecord {
  readonly volumeId: string;
  name: string | undefined;
  readonly environmentName: string;
  /** The committed state. */
  readonly hostPath: string;
  readonly version: VolumeVersion;
  /** Unix seconds (VolumeList orders and pages by it). */
  readonly createdAt: number;
}

/** What a view remembers of each path: kind plus change time, so any write, chmod or chown shows. */
type Manifest = Map<string, string>;

interface Entry {
  kind: 'f' | 'd' | 'l';
  stats: BigIntStats;
}

/** Serialises loads and commits per volume. */
export class VolumeLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(volumeId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(volumeId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(volumeId, tail);
    void tail.then(() => {
      if (this.tails.get(volumeId) === tail) this.tails.delete(volumeId);
    });
    return next;
  }
}

/** A sandbox's private copy of one mounted volume. */
export class VolumeView {
  private manifest: Manifest = new Map();

  constructor(
    readonly volume: VolumeRecord,
    /** Where the sandbox sees it. */
    readonly mountPath: string,
    /** The part of the volume mounted ('' for all of it). */
    private readonly subPath: string,
    readonly readOnly: boolean,
    /** The view's folder on the host (bound at `mountPath`). */
    readonly dir: string,
    /** Same filesystem as the views and volumes, for atomic renames. */
    private readonly stagingDir: string,
    private readonly locks: VolumeLocks,
  ) {}

  private get committedDir(): string {
    return this.subPath ? join(this.volume.hostPath, this.subPath) : this.volume.hostPath;
  }

  /** Copies the committed state into the view (at sandbox start). */
  open(): Promise<void> {
    return this.locks.run(this.volume.volumeId, async () => {
      // A subPath that does not exist yet is an empty view (made in the volume only if this sandbox commits into it).
      await mkdir(this.dir, { recursive: true });
      await mirror(this.committedDir, this.dir, this.stagingDir, { opening: true });
      this.manifest = manifestOf(await walk(this.dir));
    });
  }

  /**
   * Writes what the sandbox changed since the last load or commit into the committed state. Returns the number of
   * paths written or removed. Read-only views commit nothing.
   */
  commit(): Promise<number> {
    if (this.readOnly) return Promise.resolve(0);
    return this.locks.run(this.volume.volumeId, () => this.commitLocked());
  }

  /** Commits the view's own changes, then brings it up to the committed state (what `reloadVolumes()` does). */
  reload(): Promise<void> {
    return this.locks.run(this.volume.volumeId, async () => {
      if (!this.readOnly) await this.commitLocked();
      await mirror(this.committedDir, this.dir, this.stagingDir);
      this.manifest = manifestOf(await walk(this.dir));
    });
  }

  private async commitLocked(): Promise<number> {
    const now = await walk(this.dir);
    const target = this.committedDir;
    let changed = 0;
    // Removals first, deepest first; a removed directory takes what it held.
    const removed = [...this.manifest.keys()].filter((path) => !now.has(path)).sort((a, b) => depth(b) - depth(a));
    for (const path of removed) {
      rmSync(join(target, path), { recursive: true, force: true });
      changed++;
    }
    // Then what is new or changed, parents before children.
    const written = [...now.entries()].filter(([path, entry]) => this.manifest.get(path) !== signature(entry)).sort(([a], [b]) => depth(a) - depth(b));
    if (written.length > 0) {
      mkdirSync(target, { recursive: true });
      mkdirSync(this.stagingDir, { recursive: true });
    }
    for (const [path, entry] of written) {
      await copyEntry(join(this.dir, path), join(target, path), entry, this.stagingDir);
      changed++;
    }
    this.manifest = manifestOf(now);
    return changed;
  }
}

/** Persisted next to a named volume's folder, so a later emulator on the same state dir knows its id and version. */
export interface VolumeMeta {
  volumeId: string;
  name: string;
  version: VolumeVersion;
  createdAt: number;
}

export async function writeVolumeMeta(file: string, meta: VolumeMeta): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, JSON.stringify(meta));
  await rename(temp, file);
}

export async function readVolumeMetas(dir: string): Promise<VolumeMeta[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const metas: VolumeMeta[] = [];
  for (const name of names) {
    if (!name.endsWith('.volume.json')) continue;
    try {
      metas.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as VolumeMeta);
    } catch {
      // A half-written file from a crash: the volume is found again when it is next asked for by name.
    }
  }
  return metas;
}

// ---- trees --------------------------------------------------------------------------------------------------

/**
 * Every path under `root` (relative, '/'-separated) with its lstat; sockets, FIFOs and devices are left out.
 * Synchronous on purpose: a commit walks the whole view, and one thread-pool round trip per entry made the emulator's
 * own bookkeeping, not anything Modal does, the larger part of every `sync` (a view of a few hundred entries is walked
 * in about a millisecond this way).
 */
async function walk(root: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const visit = (relative: string): void => {
    let names: string[];
    try {
      names = readdirSync(relative ? join(root, relative) : root);
    } catch {
      return;
    }
    for (const name of names) {
      const path = relative ? `${relative}/${name}` : name;
      let stats: BigIntStats | undefined;
      try {
        stats = lstatSync(join(root, path), { bigint: true });
      } catch {
        continue; // gone since the listing (processes keep running while a commit walks the view)
      }
      const kind = stats.isDirectory() ? 'd' : stats.isFile() ? 'f' : stats.isSymbolicLink() ? 'l' : undefined;
      if (!kind) continue;
      out.set(path, { kind, stats });
      if (kind === 'd') visit(path);
    }
  };
  visit('');
  return out;
}

function signature(entry: Entry): string {
  return `${entry.kind}:${entry.stats.ctimeNs}:${entry.stats.size}`;
}

function manifestOf(entries: Map<string, Entry>): Manifest {
  return new Map([...entries].map(([path, entry]) => [path, signature(entry)]));
}

/** What two trees must agree on for a path to count as the same version (copies keep mtime, owner and mode). */
function content(entry: Entry): string {
  const s = entry.stats;
  return `${entry.kind}:${s.size}:${entry.kind === 'd' ? 0 : s.mtimeNs}:${s.mode}:${s.uid}:${s.gid}`;
}

/**
 * Makes `to` equal to `from`: copies what differs, removes what `from` lacks. `opening`: `to` is a view no process
 * sees yet (the sandbox starts after it is opened).
 */
async function mirror(from: string, to: string, stagingDir: string, { opening = false } = {}): Promise<void> {
  const [source, target] = await Promise.all([walk(from), walk(to)]);
  const stale = [...target.entries()]
    .filter(([path, entry]) => source.get(path)?.kind !== entry.kind)
    .map(([path]) => path)
    .sort((a, b) => depth(b) - depth(a));
  for (const path of stale) await rm(join(to, path), { recursive: true, force: true });
  // An empty view being opened: no process sees it before the sandbox starts, so its copies go straight into place.
  // Into a live view (a reload) they are staged, so no process there ever sees half a file.
  const staging = opening && target.size === 0 ? undefined : stagingDir;
  if (staging && source.size > 0) mkdirSync(staging, { recursive: true });
  const staleSet = new Set(stale);
  for (const [path, entry] of [...source.entries()].sort(([a], [b]) => depth(a) - depth(b))) {
    const existing = target.get(path);
    if (existing && !staleSet.has(path) && content(existing) === content(entry)) continue;
    await copyEntry(join(from, path), join(to, path), entry, staging);
  }
}

/**
 * Copies one entry, keeping mode, owner and modification time. With a staging folder (which must exist), files are
 * staged and renamed into place, so no one ever sees half a file, and a directory where a file goes (or the reverse)
 * is replaced; without one, the target is a fresh tree no one sees yet and the entry is written in place (its parent
 * copied before it).
 *
 * Synchronous but for the copy of a large file, for the reason `walk` is: each step through the thread pool waits for
 * the emulator's busy event loop (gRPC, and in tests and the bench the SDK's client too), and eight of them per entry
 * made the emulator's bookkeeping, not anything Modal does, most of a `sync` on a loaded machine. For the same reason
 * no step is taken that is not needed: a parent folder is made only when the rename finds it missing.
 */
async function copyEntry(from: string, to: string, entry: Entry, stagingDir: string | undefined): Promise<void> {
  try {
    await copyEntryOrThrow(from, to, entry, stagingDir);
  } catch (error) {
    // Processes keep running while a commit walks the view: what vanished since the walk is simply not there any
    // more (the next commit records it as removed).
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
  }
}

/** Files up to this size are copied without leaving the event loop (a copy of this size takes well under a millisecond). */
const SYNC_COPY_BYTES = 1024 * 1024;

/** Staged names: unique in this process by the counter, across processes sharing a state dir by the prefix. */
const STAGE_PREFIX = randomBytes(6).toString('hex');
let staged = 0;

async function copyEntryOrThrow(from: string, to: string, entry: Entry, stagingDir: string | undefined): Promise<void> {
  const { stats } = entry;
  const mode = Number(stats.mode & 0o7777n);
  if (entry.kind === 'd') {
    if (stagingDir) {
      const existing = lstatSync(to, { throwIfNoEntry: false });
      if (existing && !existing.isDirectory()) rmSync(to, { force: true });
      if (!existing?.isDirectory()) mkdirSync(to, { recursive: true });
    } else {
      mkdirSync(to);
    }
    chmodSync(to, mode);
    chownQuietly(to, stats);
    return;
  }
  const dest = stagingDir ? join(stagingDir, `${STAGE_PREFIX}-${(staged++).toString(36)}`) : to;
  try {
    if (entry.kind === 'l') {
      symlinkSync(readlinkSync(from), dest);
    } else {
      if (stats.size > BigInt(SYNC_COPY_BYTES)) await copyFile(from, dest);
      else copyFileSync(from, dest);
      chmodSync(dest, mode);
    }
  } catch (error) {
    rmSync(dest, { force: true });
    throw error;
  }
  chownQuietly(dest, stats);
  if (entry.kind === 'f') {
    const seconds = (ns: bigint) => Number(ns / 1000n) / 1e6;
    utimesSync(dest, seconds(stats.atimeNs), seconds(stats.mtimeNs));
  }
  if (!stagingDir) return;
  try {
    if (lstatSync(to, { throwIfNoEntry: false })?.isDirectory()) rmSync(to, { recursive: true, force: true });
    try {
      renameSync(dest, to);
    } catch (error) {
      // The parent is made only when it is missing (another sandbox's commit removed it).
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(dirname(to), { recursive: true });
      renameSync(dest, to);
    }
  } catch (error) {
    rmSync(dest, { force: true });
    throw error;
  }
}

function chownQuietly(path: string, stats: BigIntStats): void {
  try {
    lchownSync(path, Number(stats.uid), Number(stats.gid));
  } catch {
    // not root: the owner stays
  }
}

function depth(path: string): number {
  return path.split('/').length;
}

/** The mount that holds an absolute in-sandbox path (the deepest one), or undefined. */
export function viewFor(views: readonly VolumeView[], path: string): VolumeView | undefined {
  const normal = posix.normalize(path);
  let best: VolumeView | undefined;
  for (const view of views) {
    const mount = view.mountPath;
    if ((normal === mount || normal.startsWith(`${mount}/`)) && (!best || mount.length > best.mountPath.length)) best = view;
  }
  return best;
}
