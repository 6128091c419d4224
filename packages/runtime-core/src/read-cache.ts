/**
 * A read cache in front of an ExecutionBackend: a warm read, stat, exists or list of a project (or of a user's assets)
 * is answered from memory, with no round trip to the backend.
 *
 * Never stale, because nothing changes a scope's files without this wrapper seeing it:
 * - every write goes through the backend, so through here: `files.write`, `delete`, `deleteProject`, `git.restore`,
 *   `git.importBundle` (a restore or an import replaces the working tree), `renderVideo` (the movie and thumbnail land
 *   in the project), `generateImage` (the asset space);
 * - an agent run writes with its own tools (Write, but also its shell), so a project is a write in progress for the
 *   whole run: nothing read meanwhile is kept, and when the run ends, whatever way, the project's entries are dropped.
 *   (The run reports the files it changed, `filesChanged`; the cache does not rely on that list: the manifest diff
 *   compares sizes and times, and a shell can put a file's time back. Dropping the project is always right.)
 *   A run that read files after it ended (`after.read`, done with its commit in the run's own round trip) seeds the
 *   cache with them, when nothing else wrote to the project meanwhile.
 * A write drops the whole scope (not one path): a symlink inside the scope, a directory listing or a parent's stat
 * all depend on other paths. A read that was in flight while a write began or ended is returned but not kept
 * (generation count), so a slow read can never put an old answer back after a write.
 *
 * It is per process: only right while this process is the one writer. Another server instance writing the same
 * projects (issue 15's cluster) would change files behind it, so the server turns the cache off in that mode.
 *
 * `git.init` and `git.commit` do not touch the working tree (a commit stages and records it), so they keep the cache.
 */
import type { AgentEvent } from './events.js';
import type { AgentResult } from './events.js';
import type { AgentRun, ExecutionBackend, FileEntry, FileScope, FilesCapability, GitCapability, ProjectScope } from './contract.js';
import { isAssetScope, normalizeRelativePath, validateFileScope } from './scope.js';

export interface ReadCacheOptions {
  /** Memory for cached answers, in bytes (default 64 MiB); the least recently used go first. */
  maxBytes?: number;
  /** Files larger than this are not kept (default: an eighth of maxBytes). */
  maxEntryBytes?: number;
}

export interface ReadCacheStats {
  hits: number;
  misses: number;
  /** Bytes held now. */
  bytes: number;
  /** Projects and asset spaces the cache holds something for, or is reading or writing now. */
  scopes: number;
}

export interface CachedBackend extends ExecutionBackend {
  readonly readCache: ReadCacheStats;
}

interface ScopeState {
  key: string;
  /** Bumped when a write begins and when it ends: a read that saw it change keeps nothing. */
  generation: number;
  /** Writes (and agent runs) in progress on this scope: while there are any, nothing is kept. */
  writers: number;
  /** Reads and writes in flight that hold this state (its generation): it is not forgotten under them. */
  users: number;
  keys: Set<string>;
}

interface Entry {
  value: unknown;
  bytes: number;
  scope: ScopeState;
}

const utf8 = new TextEncoder();

function scopeKey(scope: FileScope): string | null {
  try {
    const valid = validateFileScope(scope);
    return isAssetScope(valid) ? `${valid.userId}/assets` : `${valid.userId}/${(valid as ProjectScope).projectId}`;
  } catch {
    return null; // the backend refuses it with its typed error
  }
}

function pathKey(path: unknown, allowRoot = false): string | null {
  try {
    return normalizeRelativePath(path, { allowRoot });
  } catch {
    return null;
  }
}

/** Copies of cached values: a caller may change what it was given (a Uint8Array, an entry object). */
function copy<T>(value: T): T {
  if (value instanceof Uint8Array) return value.slice() as T;
  if (Array.isArray(value)) return value.map((entry: FileEntry) => ({ ...entry })) as T;
  if (typeof value === 'object' && value !== null) return { ...value };
  return value;
}

function sizeOf(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength + 64;
  if (typeof value === 'string') return value.length * 2 + 64;
  if (Array.isArray(value)) return value.reduce((n: number, entry: FileEntry) => n + entry.path.length * 2 + 96, 64);
  return 160;
}

export function withReadCache(backend: ExecutionBackend, options: ReadCacheOptions = {}): CachedBackend {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const maxEntryBytes = options.maxEntryBytes ?? Math.floor(maxBytes / 8);
  const scopes = new Map<string, ScopeState>();
  /** Insertion order is recency: a hit moves its entry to the end; eviction takes from the front. */
  const entries = new Map<string, Entry>();
  const stats: ReadCacheStats = { hits: 0, misses: 0, bytes: 0, scopes: 0 };

  const stateOf = (key: string): ScopeState => {
    let state = scopes.get(key);
    if (!state) {
      scopes.set(key, (state = { key, generation: 0, writers: 0, users: 0, keys: new Set() }));
      stats.scopes = scopes.size;
    }
    return state;
  };

  /**
   * A scope with nothing kept and nobody reading or writing it is forgotten, so a long-running server does not keep
   * one state per project ever read. Never while a read holds it: that read compares its generation when it ends, and
   * under a new state (generation 0 again) it could keep what a write meanwhile made old.
   */
  const forgetIfUnused = (state: ScopeState) => {
    if (state.users === 0 && state.writers === 0 && state.keys.size === 0 && scopes.get(state.key) === state) {
      scopes.delete(state.key);
      stats.scopes = scopes.size;
    }
  };
  const hold = (key: string): ScopeState => {
    const state = stateOf(key);
    state.users++;
    return state;
  };
  const release = (state: ScopeState) => {
    state.users--;
    forgetIfUnused(state);
  };

  const drop = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    entry.scope.keys.delete(key);
    stats.bytes -= entry.bytes;
    forgetIfUnused(entry.scope);
  };

  const clear = (state: ScopeState) => {
    for (const key of [...state.keys]) drop(key);
  };

  const keep = (state: ScopeState, key: string, value: unknown) => {
    const bytes = sizeOf(value);
    if (bytes > maxEntryBytes) return;
    drop(key);
    entries.set(key, { value: copy(value), bytes, scope: state });
    state.keys.add(key);
    stats.bytes += bytes;
    for (const [oldest] of entries) {
      if (stats.bytes <= maxBytes) break;
      drop(oldest);
    }
  };

  /** A read: from memory when kept, else from the backend (kept unless a write began or ended meanwhile). */
  async function cached<T>(scope: FileScope, what: string, path: string | null, load: () => Promise<T>): Promise<T> {
    const sk = scopeKey(scope);
    if (sk === null || path === null) return load();
    const key = `${sk}\0${what}\0${path}`;
    const hit = entries.get(key);
    if (hit) {
      stats.hits++;
      entries.delete(key);
      entries.set(key, hit);
      return copy(hit.value as T);
    }
    stats.misses++;
    const state = hold(sk);
    try {
      const generation = state.generation;
      const busy = state.writers > 0;
      const value = await load();
      if (!busy && state.writers === 0 && state.generation === generation) keep(state, key, value);
      return value;
    } finally {
      release(state);
    }
  }

  /** Marks a scope as being written until the returned function is called (idempotent). */
  function writing(scope: FileScope): { generation: number; end: () => void } {
    const sk = scopeKey(scope);
    if (sk === null) return { generation: -1, end: () => undefined };
    const state = hold(sk);
    state.writers++;
    state.generation++;
    clear(state);
    const generation = state.generation;
    let ended = false;
    return {
      generation,
      end: () => {
        if (ended) return;
        ended = true;
        state.writers--;
        state.generation++;
        clear(state);
        release(state);
      },
    };
  }

  async function write<T>(scope: FileScope, fn: () => Promise<T>): Promise<T> {
    const { end } = writing(scope);
    try {
      return await fn();
    } finally {
      end();
    }
  }

  const inner = backend.files;
  const files: FilesCapability = {
    read: (scope, path) => cached(scope, 'read', pathKey(path), () => inner.read(scope, path)),
    readText: (scope, path) => cached(scope, 'text', pathKey(path), () => inner.readText(scope, path)),
    stat: (scope, path) => cached(scope, 'stat', pathKey(path), () => inner.stat(scope, path)),
    exists: (scope, path) => cached(scope, 'exists', pathKey(path), () => inner.exists(scope, path)),
    list: (scope, dir, listOptions) =>
      cached(scope, `list:${listOptions?.recursive === false ? 'flat' : 'deep'}`, pathKey(dir ?? '', true), () => inner.list(scope, dir, listOptions)),
    write: (scope, path, data) => write(scope, () => inner.write(scope, path, data)),
    delete: (scope, path) => write(scope, () => inner.delete(scope, path)),
    deleteProject: (scope) => write(scope, () => inner.deleteProject(scope)),
    listProjects: (scope) => inner.listProjects(scope),
    ...(inner.listUsers ? { listUsers: () => inner.listUsers!() } : {}),
  };

  const git: GitCapability = {
    ...backend.git,
    restore: (scope, version, restoreOptions) => write(scope, () => backend.git.restore(scope, version, restoreOptions)),
    importBundle: (scope, bundle, importOptions) => write(scope, () => backend.git.importBundle(scope, bundle, importOptions)),
  };

  /** Seeds the cache with the files a run read after it ended, when no other write touched the project meanwhile. */
  function seed(scope: ProjectScope, result: AgentResult | undefined): void {
    const sk = scopeKey(scope);
    const read = result?.after?.files;
    if (sk === null || !read) return;
    const state = stateOf(sk);
    for (const [path, text] of Object.entries(read)) {
      const key = pathKey(path);
      if (text !== null && key !== null) {
        keep(state, `${sk}\0text\0${key}`, text);
        keep(state, `${sk}\0read\0${key}`, utf8.encode(text));
      }
    }
  }

  function runClaude(request: Parameters<ExecutionBackend['runClaude']>[0]): AgentRun {
    const { generation, end } = writing(request.scope);
    const sk = scopeKey(request.scope);
    const run = backend.runClaude(request);
    // The run ends the write once, at its terminal event or its settled result, whichever this process sees first.
    const finish = (result?: AgentResult) => {
      const alone = sk !== null && stateOf(sk).generation === generation && stateOf(sk).writers === 1;
      end();
      if (alone) seed(request.scope, result);
    };
    const result = run.result.then(
      (value) => {
        finish(value);
        return value;
      },
      (error: unknown) => {
        finish();
        throw error;
      },
    );
    result.catch(() => undefined); // as RunChannel: a caller that only iterates sees no unhandled rejection
    return {
      runId: run.runId,
      result,
      async *[Symbol.asyncIterator](): AsyncIterator<AgentEvent> {
        for await (const event of run) {
          if (event.type === 'result') finish(event.result);
          else if (event.type === 'error') finish();
          yield event;
        }
      },
    };
  }

  return {
    name: backend.name,
    capabilities: backend.capabilities,
    files,
    git,
    runClaude,
    generateImage: (request) => write({ userId: request.scope.userId, assets: true }, () => backend.generateImage(request)),
    renderVideo: (request) => write(request.scope, () => backend.renderVideo(request)),
    checkGame: (request) => backend.checkGame(request),
    prewarm: (scope) => backend.prewarm(scope),
    close: () => backend.close(),
    readCache: stats,
  };
}
