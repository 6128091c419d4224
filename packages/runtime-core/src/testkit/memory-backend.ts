/**
 * The in-memory reference backend: files only, everything else declared unsupported. It passes the conformance
 * suite (runtime-core's own test runs it), so a third party can see the smallest backend that does, and capability
 * gating is proven on something other than the two real backends. Also handy as a throwaway backend in tests.
 */
import { capabilities } from '../capabilities.js';
import type { ExecutionBackend, FileEntry, FileScope } from '../contract.js';
import { createError } from '../errors.js';
import { dataDirLayout, normalizeRelativePath, validateFileScope, validateProjectScope, validateUserScope } from '../scope.js';
import { unsupportedCall, unsupportedGit, unsupportedRun } from '../unsupported.js';

export function createMemoryBackend(maxFileBytes = 8 * 1024 * 1024): ExecutionBackend {
  const files = new Map<string, { data: Uint8Array; mtime: string }>(); // key: "<scope root>/<path>"
  const name = 'memory';

  const keyOf = (scope: FileScope, p: unknown, allowRoot = false) => {
    const root = dataDirLayout(validateFileScope(scope));
    const rel = normalizeRelativePath(p, { allowRoot });
    return { root, rel, key: rel === '' ? root : `${root}/${rel}` };
  };
  const under = (key: string) => [...files.keys()].filter((k) => k.startsWith(`${key}/`));
  const isDir = (key: string) => under(key).length > 0;
  const entry = (root: string, key: string): FileEntry => {
    const file = files.get(key);
    const path = key.slice(root.length + 1);
    return file
      ? { path, kind: 'file', size: file.data.byteLength, mtime: file.mtime }
      : { path, kind: 'directory', size: 0, mtime: new Date(0).toISOString() };
  };
  const notFound = (rel: string) => createError('NOT_FOUND', `${rel || 'root'} not found`, { details: { path: rel } });

  const read = async (scope: FileScope, p: string) => {
    const { key, rel } = keyOf(scope, p);
    const file = files.get(key);
    if (file) return file.data.slice();
    throw isDir(key) ? createError('CONFLICT', `${rel} is a directory`) : notFound(rel);
  };

  return {
    name,
    capabilities: capabilities({ files: { supported: true, maxFileBytes, symlinks: false } }),
    files: {
      read,
      readText: async (scope, p) => new TextDecoder().decode(await read(scope, p)),
      async write(scope, p, data) {
        const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
        if (!(bytes instanceof Uint8Array)) throw createError('INVALID_ARGUMENT', 'data must be a string or bytes');
        const { root, rel, key } = keyOf(scope, p);
        if (bytes.byteLength > maxFileBytes) throw createError('TOO_LARGE', `write exceeds the ${maxFileBytes}-byte limit`);
        if (isDir(key)) throw createError('CONFLICT', `${rel} is a directory`);
        const segments = rel.split('/');
        for (let i = 1; i < segments.length; i++) {
          if (files.has(`${root}/${segments.slice(0, i).join('/')}`)) throw createError('CONFLICT', `${rel}: a path component is a file`);
        }
        files.set(key, { data: bytes.slice(), mtime: new Date().toISOString() });
        return entry(root, key);
      },
      async delete(scope, p) {
        const { rel, key } = keyOf(scope, p);
        if (!files.delete(key) && !isDir(key)) throw notFound(rel);
        for (const k of under(key)) files.delete(k);
      },
      async list(scope, dir = '', options = {}) {
        const { root, rel, key } = keyOf(scope, dir, true);
        if (files.has(key)) throw createError('CONFLICT', `${rel} is not a directory`);
        const keys = under(key);
        if (keys.length === 0) throw notFound(rel);
        const out = new Map<string, FileEntry>();
        for (const k of keys) {
          const parts = k.slice(root.length + 1).split('/');
          const base = rel === '' ? 0 : rel.split('/').length;
          const last = options.recursive === false ? base + 1 : parts.length;
          for (let i = base + 1; i <= last; i++) {
            const sub = `${root}/${parts.slice(0, i).join('/')}`;
            if (!out.has(sub)) out.set(sub, entry(root, sub));
          }
        }
        return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      },
      async exists(scope, p) {
        const { key } = keyOf(scope, p);
        return files.has(key) || isDir(key);
      },
      async stat(scope, p) {
        const { root, rel, key } = keyOf(scope, p);
        if (!files.has(key) && !isDir(key)) throw notFound(rel);
        return entry(root, key);
      },
      async listProjects(scope) {
        const { userId } = validateUserScope(scope);
        const prefix = `users/${userId}/projects/`;
        return [...new Set([...files.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length).split('/')[0]!))].sort();
      },
      async deleteProject(scope) {
        const root = dataDirLayout(validateProjectScope(scope));
        const keys = under(root);
        if (keys.length === 0) throw notFound('');
        for (const k of keys) files.delete(k);
      },
    },
    git: unsupportedGit(name),
    runClaude: () => unsupportedRun(name),
    generateImage: () => unsupportedCall('generateImage', name),
    renderVideo: () => unsupportedCall('renderVideo', name),
    checkGame: () => unsupportedCall('checkGame', name),
    prewarm: async (scope) => void validateUserScope(scope),
    close: async () => files.clear(),
  };
}
