/**
 * The files capability on the local disk. Paths come only from runtime-core's `resolveInsideRoot`.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import {
  createError,
  dataDirLayout,
  isBackendError,
  isUuid,
  openInsideRoot,
  resolveInsideRoot,
  validateFileScope,
  validateProjectScope,
  validateUserScope,
  type FileEntry,
  type FileScope,
  type FilesCapability,
  type ListOptions,
  type ProjectScope,
  type UserScope,
} from '@dreamcore/runtime-core';

export interface LocalFilesOptions {
  dataDir: string;
  maxFileBytes: number;
}

export function scopeRoot(dataDir: string, scope: FileScope): string {
  return path.join(dataDir, ...dataDirLayout(scope).split('/'));
}

function toEntry(relative: string, stats: Stats): FileEntry {
  const kind = stats.isSymbolicLink() ? 'symlink' : stats.isDirectory() ? 'directory' : 'file';
  return { path: relative, kind, size: kind === 'directory' ? 0 : stats.size, mtime: stats.mtime.toISOString() };
}

/** Maps a Node fs error to the contract's error family. */
function fsError(error: unknown, relative: string): never {
  if (isBackendError(error)) throw error;
  const code = (error as NodeJS.ErrnoException).code;
  const details = { path: relative, errno: code };
  switch (code) {
    case 'ENOENT':
      throw createError('NOT_FOUND', `${relative || 'root'} not found`, { details, cause: error });
    case 'EISDIR':
      throw createError('CONFLICT', `${relative} is a directory`, { details, cause: error });
    case 'ENOTDIR':
    case 'EEXIST':
      throw createError('CONFLICT', `${relative}: a path component is a file`, { details, cause: error });
    case 'ENAMETOOLONG':
      throw createError('INVALID_PATH', `${relative}: name too long`, { details, cause: error });
    case 'ELOOP':
      throw createError('ACCESS_DENIED', `${relative}: symlink loop`, { details, cause: error });
    case 'ENOSPC':
    case 'EDQUOT':
      throw createError('UNAVAILABLE', 'no space left for this write', { details, cause: error });
    default:
      throw createError('INTERNAL', `file operation failed (${code ?? 'unknown'})`, { details, cause: error });
  }
}

export function createLocalFiles({ dataDir, maxFileBytes }: LocalFilesOptions): FilesCapability {
  const rootCache = new Map<string, string>();
  const tempDir = path.join(dataDir, '.tmp');
  let tempReady: Promise<unknown> | null = null;
  const ensureTempDir = () => (tempReady ??= fs.mkdir(tempDir, { recursive: true, mode: 0o700 }));
  const rootOf = (scope: FileScope) => scopeRoot(dataDir, validateFileScope(scope));
  const resolve = (scope: FileScope, p: unknown, allowRoot = false) => resolveInsideRoot(rootOf(scope), p, { allowRoot, rootCache });

  async function readChecked(scope: FileScope, p: string): Promise<Buffer> {
    let opened: Awaited<ReturnType<typeof openInsideRoot>> | undefined;
    try {
      // One open, checked where it landed: size and kind come from the descriptor, so the file read is the file checked.
      opened = await openInsideRoot(rootOf(scope), p, { rootCache });
      const stats = await opened.handle.stat();
      if (stats.isDirectory()) throw createError('CONFLICT', `${opened.relative} is a directory`, { details: { path: opened.relative } });
      if (!stats.isFile()) throw createError('ACCESS_DENIED', `${opened.relative} is not a regular file`, { details: { path: opened.relative } });
      if (stats.size > maxFileBytes) {
        throw createError('TOO_LARGE', `${opened.relative} is larger than ${maxFileBytes} bytes`, {
          details: { path: opened.relative, size: stats.size, limit: maxFileBytes },
        });
      }
      // Exactly the size the descriptor reported, in one read for small files (readFile would stat again).
      const bytes = Buffer.allocUnsafe(stats.size);
      let filled = 0;
      while (filled < bytes.length) {
        const { bytesRead } = await opened.handle.read(bytes, filled, bytes.length - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === bytes.length ? bytes : bytes.subarray(0, filled);
    } catch (error) {
      return fsError(error, opened?.relative ?? String(p));
    } finally {
      await opened?.handle.close();
    }
  }

  async function walk(root: string, dir: string, prefix: string, recursive: boolean, out: FileEntry[]) {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name === '.git') continue;
      const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      const absolute = path.join(dir, entry.name);
      const stats = await fs.lstat(absolute).catch(() => null);
      if (!stats) continue; // removed while listing
      out.push(toEntry(relative, stats));
      if (recursive && stats.isDirectory()) await walk(root, absolute, relative, recursive, out);
    }
  }

  return {
    read: (scope, p) => readChecked(scope, p), // a Buffer is a Uint8Array: no copy

    readText: async (scope, p) => (await readChecked(scope, p)).toString('utf8'),

    async write(scope, p, data) {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      if (!(bytes instanceof Uint8Array)) throw createError('INVALID_ARGUMENT', 'data must be a string or bytes');
      const { absolute, relative, parentExists } = await resolve(scope, p);
      if (bytes.byteLength > maxFileBytes) {
        throw createError('TOO_LARGE', `write of ${bytes.byteLength} bytes exceeds the ${maxFileBytes}-byte limit`, {
          details: { path: relative, size: bytes.byteLength, limit: maxFileBytes },
        });
      }
      // Write a temporary file and rename it over the target: a reader never sees half a file, a crash never leaves
      // one, and a symlink at the target is replaced rather than written through. The temporary file lives outside
      // every project (same filesystem, so the rename stays atomic), where a concurrent `git add -A` cannot see it.
      const temp = path.join(tempDir, `${randomBytes(12).toString('hex')}.tmp`);
      await ensureTempDir();
      try {
        if (!parentExists) await fs.mkdir(path.dirname(absolute), { recursive: true });
        await fs.writeFile(temp, bytes, { flag: 'wx' });
        await fs.rename(temp, absolute); // onto a directory: EISDIR, reported as CONFLICT
        return { path: relative, kind: 'file', size: bytes.byteLength, mtime: new Date().toISOString() };
      } catch (error) {
        await fs.rm(temp, { force: true }).catch(() => undefined);
        return fsError(error, relative);
      }
    },

    async delete(scope, p) {
      const { absolute, relative } = await resolve(scope, p);
      try {
        await fs.lstat(absolute);
        await fs.rm(absolute, { recursive: true });
      } catch (error) {
        return fsError(error, relative);
      }
    },

    async list(scope, dir = '', options: ListOptions = {}) {
      const { absolute, relative } = await resolve(scope, dir, true);
      const out: FileEntry[] = [];
      try {
        const stats = await fs.stat(absolute);
        if (!stats.isDirectory()) throw createError('CONFLICT', `${relative} is not a directory`, { details: { path: relative } });
        await walk(absolute, absolute, relative, options.recursive ?? true, out);
      } catch (error) {
        return fsError(error, relative);
      }
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },

    async exists(scope, p) {
      const { absolute } = await resolve(scope, p);
      return (await fs.lstat(absolute).catch(() => null)) !== null;
    },

    async stat(scope, p) {
      const { absolute, relative } = await resolve(scope, p);
      try {
        return toEntry(relative, await fs.lstat(absolute));
      } catch (error) {
        return fsError(error, relative);
      }
    },

    async listProjects(scope: UserScope) {
      const { userId } = validateUserScope(scope);
      const dir = path.join(dataDir, 'users', userId, 'projects');
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
      return entries
        .filter((e) => e.isDirectory() && isUuid(e.name))
        .map((e) => e.name)
        .sort();
    },

    async listUsers() {
      const entries = await fs.readdir(path.join(dataDir, 'users'), { withFileTypes: true }).catch(() => []);
      return entries
        .filter((e) => e.isDirectory() && isUuid(e.name))
        .map((e) => e.name)
        .sort();
    },

    async deleteProject(scope: ProjectScope) {
      const valid = validateProjectScope(scope);
      const root = scopeRoot(dataDir, valid);
      try {
        await fs.lstat(root);
        await fs.rm(root, { recursive: true });
      } catch (error) {
        return fsError(error, '');
      }
    },
  };
}
