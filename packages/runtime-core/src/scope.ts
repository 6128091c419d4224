/**
 * The one place where a user/project scope and a relative path become a real path.
 * Every backend calls these; nothing else in the repository joins user input onto a directory.
 */
import { constants, promises as fs, readlinkSync } from 'node:fs';
import path from 'node:path';
import { createError } from './errors.js';
import type { FileScope, ProjectScope, UserScope } from './contract.js';

/**
 * A UUID in either case: what Postgres accepts as a `uuid` (it stores and returns lower case). The one UUID pattern
 * in the repository; scopes and tokens take only the canonical form (`isUuid`).
 */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const MAX_PATH_BYTES = 1024;
export const MAX_SEGMENT_BYTES = 255;

/** A canonical (lower-case) UUID. Upper case is refused so one id never names two directories. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value) && value === value.toLowerCase();
}

function assertUuid(value: unknown, what: string): string {
  if (!isUuid(value)) {
    throw createError('INVALID_SCOPE', `${what} must be a lower-case UUID`, {
      details: { field: what, value: typeof value === 'string' ? value.slice(0, 80) : typeof value },
    });
  }
  return value;
}

export function validateUserScope(scope: UserScope): UserScope {
  if (typeof scope !== 'object' || scope === null) throw createError('INVALID_SCOPE', 'scope must be an object');
  return { userId: assertUuid(scope.userId, 'userId') };
}

export function validateProjectScope(scope: ProjectScope): ProjectScope {
  if (typeof scope !== 'object' || scope === null) throw createError('INVALID_SCOPE', 'scope must be an object');
  // A scope that also says `assets` is ambiguous: refuse it rather than guess which space was meant.
  if ('assets' in scope) throw createError('INVALID_SCOPE', 'a project scope cannot also name the asset space');
  return { userId: assertUuid(scope.userId, 'userId'), projectId: assertUuid(scope.projectId, 'projectId') };
}

export function validateFileScope(scope: FileScope): FileScope {
  if (typeof scope !== 'object' || scope === null) throw createError('INVALID_SCOPE', 'scope must be an object');
  const userId = assertUuid(scope.userId, 'userId');
  if ('assets' in scope) {
    if (scope.assets !== true || ('projectId' in scope && scope.projectId !== undefined)) {
      throw createError('INVALID_SCOPE', 'a scope names either a project or the asset space (assets: true), not both');
    }
    return { userId, assets: true };
  }
  return { userId, projectId: assertUuid((scope as ProjectScope).projectId, 'projectId') };
}

export function isAssetScope(scope: FileScope): scope is { userId: string; assets: true } {
  return 'assets' in scope && scope.assets === true;
}

/** Where a scope lives, relative to a data directory laid out as DreamCore-V2's (docs/data-model.md, "Files"). */
export function dataDirLayout(scope: FileScope): string {
  return isAssetScope(scope) ? `users/${scope.userId}/assets` : `users/${scope.userId}/projects/${(scope as ProjectScope).projectId}`;
}

/** Where a scope lives inside that user's own volume (`projects/{projectId}`, `assets`). */
export function userVolumeLayout(scope: FileScope): string {
  return isAssetScope(scope) ? 'assets' : `projects/${(scope as ProjectScope).projectId}`;
}

// Characters that render as, or normalise to, path syntax, and invisible characters that hide it.
// eslint-disable-next-line no-control-regex -- control characters are what this refuses
const CONTROL = /[\u0000-\u001f\u007f]/;
const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;
const SLASH_LOOKALIKE = /[\u2044\u2215\u29f5\u29f8\u29f9\uff0f\uff3c\u2216\ufe68]/;
// Percent-encoded dot, slash, backslash, NUL or percent: some layer may decode them again.
const ENCODED_SYNTAX = /%(2e|2f|5c|00|25)/i;

function invalidPath(input: string, reason: string): never {
  throw createError('INVALID_PATH', `invalid path: ${reason}`, { details: { path: input.slice(0, 200), reason } });
}

export interface NormalizeOptions {
  /** Accept '' (and '.') as "the scope's root", e.g. for listing. */
  allowRoot?: boolean;
}

/**
 * Checks a caller-supplied relative path and returns it in canonical form (`a/b/c.png`, or '' for the root).
 * Throws INVALID_PATH for anything that is not a plain relative path inside the scope.
 */
export function normalizeRelativePath(input: unknown, options: NormalizeOptions = {}): string {
  if (typeof input !== 'string') invalidPath(String(input), 'not a string');
  if (input === '' || input === '.') {
    if (options.allowRoot) return '';
    invalidPath(input, 'empty');
  }
  if (Buffer.byteLength(input, 'utf8') > MAX_PATH_BYTES) invalidPath(input, `longer than ${MAX_PATH_BYTES} bytes`);
  if (CONTROL.test(input)) invalidPath(input, 'control character');
  if (input.includes('\\')) invalidPath(input, 'backslash');
  if (input.startsWith('/')) invalidPath(input, 'absolute');
  if (/^[a-zA-Z]:/.test(input)) invalidPath(input, 'drive letter');
  if (INVISIBLE.test(input)) invalidPath(input, 'invisible character');
  if (SLASH_LOOKALIKE.test(input)) invalidPath(input, 'slash look-alike');
  if (ENCODED_SYNTAX.test(input)) invalidPath(input, 'percent-encoded path syntax');
  if (input.isWellFormed && !input.isWellFormed()) invalidPath(input, 'lone surrogate');

  const segments = input.split('/');
  for (const [i, segment] of segments.entries()) {
    if (segment === '') invalidPath(input, 'empty segment');
    if (segment === '.' || segment === '..') invalidPath(input, `'${segment}' segment`);
    const folded = segment.normalize('NFKC');
    if (folded === '.' || folded === '..' || folded.includes('/') || folded.includes('\\')) {
      invalidPath(input, 'unicode form of path syntax');
    }
    if (folded.toLowerCase() === '.git') invalidPath(input, "'.git' is managed by the git capability");
    if (i === 0 && segment === '~') invalidPath(input, 'home shorthand');
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) invalidPath(input, 'segment too long');
  }
  return segments.join('/');
}

/** `true` when `candidate` is `root` or lies below it. Compares against `root + sep`, never a bare prefix. */
export function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

async function realpathOrNull(p: string): Promise<string | null> {
  try {
    return await fs.realpath(p);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return null;
    }
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      throw createError('ACCESS_DENIED', 'path goes through a symlink loop', { details: { path: p } });
    }
    throw error;
  }
}

export interface ResolvedPath {
  /** Real path of the scope root (symlinks in the server's own data directory resolved). */
  root: string;
  /** Absolute path of the target; every existing part of it resolves inside `root`. */
  absolute: string;
  /** Canonical relative form. */
  relative: string;
  /** Whether the target existed when checked (false: it, and maybe some parents, will be created). */
  exists: boolean;
  /** Whether the target's parent directory existed when checked. */
  parentExists: boolean;
}

export interface ResolveOptions extends NormalizeOptions {
  /**
   * Memo of scope root → real path. A scope root is created and owned by the backend, never by the agent,
   * so its real path can be remembered; everything below it is checked on every call.
   */
  rootCache?: Map<string, string>;
}

const denied = (relative: string) => createError('ACCESS_DENIED', 'path goes through a symlink that leaves the scope', { details: { path: relative } });

/**
 * Turns a scope root and a caller's relative path into an absolute path on this machine, refusing
 * anything that leaves the root, including through symlinks (existing ancestors are resolved with
 * realpath; a final component that is a symlink must resolve inside the root too, dangling ones are refused).
 */
export async function resolveInsideRoot(scopeRoot: string, input: unknown, options: ResolveOptions = {}): Promise<ResolvedPath> {
  const relative = normalizeRelativePath(input, options);
  const cache = options.rootCache;
  let root = cache?.get(scopeRoot);
  if (root === undefined) {
    const real = await realpathOrNull(scopeRoot);
    root = real ?? path.resolve(scopeRoot);
    if (real !== null && cache) {
      if (cache.size > 10_000) cache.clear();
      cache.set(scopeRoot, real);
    }
  }
  const absolute = relative === '' ? root : path.join(root, ...relative.split('/'));
  if (!isInside(root, absolute)) invalidPath(String(input), 'outside the scope');

  // The target itself, or else its deepest existing ancestor, must resolve inside the root.
  let probe = absolute;
  let real = await realpathOrNull(probe);
  const exists = real !== null;
  let depth = 0;
  while (real === null && probe !== root) {
    // A dangling symlink exists but has no real path: refuse instead of writing through it.
    const link = await fs.lstat(probe).catch(() => null);
    if (link?.isSymbolicLink()) throw denied(relative);
    probe = path.dirname(probe);
    real = await realpathOrNull(probe);
    depth++;
  }
  if (real !== null && !isInside(root, real)) throw denied(relative);
  return { root, absolute, relative, exists, parentExists: exists || (real !== null && depth === 1) };
}

/** Whether this system names an open descriptor's file at /proc/self/fd (Linux); found out at the first open. */
let procFdNames: boolean | undefined;

/**
 * Opens a file inside the scope for reading, and proves that the file opened is inside: the kernel's own name for
 * the descriptor (/proc/self/fd on Linux) must lie under the root's real path. The check is on the file actually
 * opened, so a symlink swapped in between a check and the open cannot lead outside, and it costs no extra trip to
 * the filesystem. Opened non-blocking, so a FIFO cannot hang the read. Where descriptors have no names, or the open
 * fails, resolveInsideRoot decides first, as for every other operation (same errors: a dangling symlink or a link
 * to a missing file outside is ACCESS_DENIED, not NOT_FOUND).
 */
export async function openInsideRoot(
  scopeRoot: string,
  input: unknown,
  options: ResolveOptions = {},
): Promise<{ handle: fs.FileHandle; relative: string; absolute: string }> {
  if (procFdNames !== false) {
    const relative = normalizeRelativePath(input, options);
    const root = options.rootCache?.get(scopeRoot);
    if (root !== undefined && relative !== '') {
      const absolute = path.join(root, ...relative.split('/'));
      // Not found, a loop, not a directory...: no handle, and the full check below says what it is.
      const handle = await fs.open(absolute, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => null);
      if (handle) {
        const opened = openedPath(handle.fd);
        if (opened !== null && isInside(root, opened)) return { handle, relative, absolute };
        await handle.close();
        if (opened !== null) throw denied(relative);
        procFdNames = false;
      }
    }
  }
  const resolved = await resolveInsideRoot(scopeRoot, input, options);
  const handle = await fs.open(resolved.absolute, constants.O_RDONLY | constants.O_NONBLOCK);
  return { handle, relative: resolved.relative, absolute: resolved.absolute };
}

function openedPath(fd: number): string | null {
  try {
    const name = readlinkSync(`/proc/self/fd/${fd}`);
    procFdNames = true;
    return name;
  } catch {
    return null;
  }
}
