/**
 * Moving users between two ExecutionBackends, through the contract only (no backend-specific code): every project's
 * full history (a git bundle: `git.exportBundle` → `git.importBundle`) and working tree (files), and the user's assets.
 *
 * Each unit of work (one project, or one user's asset space) is:
 *   1. compare: read the source (commit list, every file's sha256) and the target the same way;
 *   2. plan: what the target lacks: history to import, files to write, files to delete;
 *   3. write, in an order that leaves any interruption detectable by step 1 of the next run: history first (the
 *      import switches `main` last), then files (each write atomic), deletions before writes;
 *   4. verify: the target's commit list (hash, message, parents, author, date, in order) and file hashes equal the
 *      source's, the target repository passes fsck, and the source did not change meanwhile. A mismatch fails that
 *      project with the reason.
 * So a second run copies nothing already identical, and a run killed anywhere finishes when started again.
 * The source is only ever read: the migration sees it through `readOnlySource`, which has no writing method at all.
 */
import { createHash } from 'node:crypto';
import { createError, isBackendError } from '../errors.js';
import { isUuid, normalizeRelativePath } from '../scope.js';
import type { CommitInfo, ExecutionBackend, FileEntry, FileKind, FileScope, ProjectScope } from '../contract.js';

export type MigrateItem = { kind: 'project'; userId: string; projectId: string } | { kind: 'assets'; userId: string };

export type ItemOutcome =
  /** The target was changed and now equals the source (verified). */
  | 'copied'
  /** The target already equalled the source: nothing written. */
  | 'identical'
  /** Dry run: the target differs and this is what would be written. */
  | 'planned'
  | 'failed'
  /** Stopped by the abort signal; the next run picks it up. */
  | 'aborted';

export type HistoryAction = 'none' | 'identical' | 'import' | 'fast-forward' | 'replace';

export interface ItemReport extends MigrateTotals {
  item: MigrateItem;
  outcome: ItemOutcome;
  /** Why it failed (or, in a verify-only run, how the target differs). */
  reason?: string;
  code?: string;
  history: HistoryAction;
}

/** What an item, and the whole run, moved and found: the same counters at both levels. */
export interface MigrateTotals {
  /** Files written (dry run: that would be), their bytes, and target entries deleted. */
  files: number;
  bytes: number;
  deleted: number;
  /** Commits the target gained (dry run: would gain). */
  commits: number;
  /** Bytes of history moved (git bundles; dry run: 0, the bundle is not made). */
  historyBytes: number;
  /** Size of the source: files, bytes, commits. */
  sourceFiles: number;
  sourceBytes: number;
  sourceCommits: number;
  /** Things that did not fail the item but deserve a look (symlinks, target-only assets, empty repositories). */
  warnings: string[];
  durationMs: number;
}

export interface MigrateFailure {
  userId: string;
  projectId?: string;
  assets?: true;
  reason: string;
  code?: string;
}

export interface MigrateSummary extends MigrateTotals {
  from: string;
  to: string;
  dryRun: boolean;
  verifyOnly: boolean;
  /** Stopped by the signal before every item was done. */
  aborted: boolean;
  users: number;
  projects: number;
  assetSpaces: number;
  /** Items changed on the target (dry run: that would be). */
  copied: number;
  /** Items already identical: skipped. */
  skipped: number;
  /** Items not started (aborted run). */
  pending: number;
  failed: MigrateFailure[];
  items: ItemReport[];
}

export type MigrateEvent =
  | { type: 'plan'; users: number; items: number; projects: number }
  | { type: 'item-start'; item: MigrateItem; done: number; total: number }
  | { type: 'item-done'; item: MigrateItem; report: ItemReport; done: number; total: number }
  | { type: 'done'; summary: MigrateSummary };

export interface MigrateOptions {
  from: ExecutionBackend;
  to: ExecutionBackend;
  /** User ids, or every user the source has (needs `from.files.listUsers`). */
  users: string[] | 'all';
  /** Items (projects, asset spaces) in flight at once (default 4). */
  concurrency?: number;
  /** File reads/writes in flight within one item (default 4). */
  fileConcurrency?: number;
  /** Compare and report what would move; write nothing. */
  dryRun?: boolean;
  /** Compare only: every difference is a failure; write nothing. For checking a finished migration. */
  verifyOnly?: boolean;
  /**
   * Read back what was written and compare it with the source (default true). Turning it off leaves only the
   * comparison made before writing; not recommended.
   */
  verify?: boolean;
  /**
   * Replace target projects whose history has commits the source lacks (default false: such a project fails with
   * CONFLICT and is left alone), and delete target-only files in the asset space (default: kept, with a warning).
   */
  overwrite?: boolean;
  /** Copy each user's asset space too (default true). */
  assets?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: MigrateEvent) => void;
}

// ---------------------------------------------------------------- the source, read-only

/** Everything the migration may do to its source. There is no writing method here to call by mistake. */
export interface ReadOnlySource {
  readonly name: string;
  files: Pick<ExecutionBackend['files'], 'list' | 'read' | 'listProjects'> & { listUsers?: () => Promise<string[]> };
  git: Pick<ExecutionBackend['git'], 'log' | 'exportBundle'>;
}

export function readOnlySource(backend: ExecutionBackend): ReadOnlySource {
  const { files, git } = backend;
  return {
    name: backend.name,
    files: {
      list: files.list.bind(files),
      read: files.read.bind(files),
      listProjects: files.listProjects.bind(files),
      ...(files.listUsers ? { listUsers: files.listUsers.bind(files) } : {}),
    },
    git: { log: git.log.bind(git), exportBundle: git.exportBundle.bind(git) },
  };
}

// ---------------------------------------------------------------- helpers

type LogReader = { git: Pick<ExecutionBackend['git'], 'log'> };
type TreeReader = { files: Pick<ExecutionBackend['files'], 'list' | 'read'> };

interface TreeEntry {
  kind: FileKind;
  size: number;
  mtime: string;
  sha256?: string;
}

/** path → entry; `null` when the scope does not exist. */
type Tree = Map<string, TreeEntry> | null;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw createError('CANCELLED', 'migration aborted');
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure stops new starts and is rethrown. */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        checkAbort(signal);
        await fn(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure;
}

async function readHistory(backend: LogReader, scope: ProjectScope): Promise<CommitInfo[] | null> {
  const out: CommitInfo[] = [];
  try {
    for (let skip = 0; ; skip += 500) {
      const page = await backend.git.log(scope, { limit: 500, skip });
      out.push(...page.commits);
      if (!page.hasMore) return out;
    }
  } catch (error) {
    if (isBackendError(error, 'NOT_FOUND')) return null;
    throw error;
  }
}

async function listTree(backend: TreeReader, scope: FileScope): Promise<FileEntry[] | null> {
  try {
    return await backend.files.list(scope);
  } catch (error) {
    if (isBackendError(error, 'NOT_FOUND')) return null;
    throw error;
  }
}

async function readTree(backend: TreeReader, scope: FileScope, limit: number, signal?: AbortSignal): Promise<Tree> {
  const entries = await listTree(backend, scope);
  if (entries === null) return null;
  const tree: Map<string, TreeEntry> = new Map();
  for (const e of entries) tree.set(e.path, { kind: e.kind, size: e.size, mtime: e.mtime });
  await mapLimit(
    entries.filter((e) => e.kind === 'file'),
    limit,
    async (e) => {
      tree.get(e.path)!.sha256 = sha256(await backend.files.read(scope, e.path));
    },
    signal,
  );
  return tree;
}

/** A commit as compared across backends: everything that makes its identity, in log order. */
const commitKey = (c: CommitInfo) => JSON.stringify([c.hash, c.message, c.parents, c.author, c.date]);

function firstDifference(a: CommitInfo[], b: CommitInfo[]): string | null {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (!x || !y || commitKey(x) !== commitKey(y)) {
      return `commit #${i + 1} from the newest: source ${x ? `${x.shortHash} "${x.message.split('\n')[0]}"` : '(none)'}, target ${
        y ? `${y.shortHash} "${y.message.split('\n')[0]}"` : '(none)'
      }`;
    }
  }
  return null;
}

function ancestorsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

interface FilePlan {
  writes: string[];
  deletes: string[];
  /** Target-only entries kept (asset spaces without `overwrite`). */
  kept: string[];
  warnings: string[];
}

/** What makes `target` equal `source` (files by hash; symlinks by kind; directories implied by their contents). */
function planFiles(source: Map<string, TreeEntry>, target: Map<string, TreeEntry>, prune: boolean): FilePlan {
  const plan: FilePlan = { writes: [], deletes: [], kept: [], warnings: [] };
  const needed = new Set<string>();
  for (const [path, entry] of source) {
    needed.add(path);
    for (const dir of ancestorsOf(path)) needed.add(dir);
    const there = target.get(path);
    if (entry.kind === 'file') {
      if (!there || there.kind !== 'file' || there.sha256 !== entry.sha256) plan.writes.push(path);
    } else if (entry.kind === 'symlink' && there?.kind !== 'symlink') {
      plan.warnings.push(`symlink ${path} cannot be created through the contract (it is in the history if it was committed)`);
    }
  }
  const removed: string[] = [];
  for (const [path, entry] of [...target].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (removed.some((dir) => path.startsWith(`${dir}/`))) continue;
    const wanted = source.get(path);
    const stale = wanted ? wanted.kind !== entry.kind && wanted.kind !== 'symlink' : !needed.has(path);
    if (!stale) continue;
    if (prune || wanted) {
      plan.deletes.push(path);
      removed.push(path);
    } else if (entry.kind !== 'directory') {
      plan.kept.push(path);
    }
  }
  return plan;
}

function describeMismatch(source: Map<string, TreeEntry>, target: Map<string, TreeEntry>, subset: boolean): string | null {
  const problems: string[] = [];
  for (const [path, entry] of source) {
    // Directories are implied by their files; a symlink the contract cannot create is a warning, not a mismatch.
    if (entry.kind === 'directory' || entry.kind === 'symlink') continue;
    const there = target.get(path);
    if (!there) problems.push(`${path} missing`);
    else if (entry.kind === 'file' && (there.kind !== 'file' || there.sha256 !== entry.sha256)) problems.push(`${path} differs`);
  }
  if (!subset) {
    for (const [path, entry] of target) if (entry.kind !== 'directory' && !source.has(path)) problems.push(`${path} only on the target`);
  }
  if (problems.length === 0) return null;
  return `${problems.length} file(s): ${problems.slice(0, 5).join(', ')}${problems.length > 5 ? ', …' : ''}`;
}

function sameListing(before: Map<string, TreeEntry> | null, after: FileEntry[] | null): boolean {
  if (before === null || after === null) return (before === null || before.size === 0) && (after === null || after.length === 0);
  if (before.size !== after.length) return false;
  return after.every((e) => {
    const b = before.get(e.path);
    return b !== undefined && b.kind === e.kind && b.size === e.size && b.mtime === e.mtime;
  });
}

// ---------------------------------------------------------------- one item

interface Context {
  source: ReadOnlySource;
  target: ExecutionBackend;
  options: Required<Pick<MigrateOptions, 'dryRun' | 'verifyOnly' | 'verify' | 'overwrite' | 'fileConcurrency'>>;
  signal?: AbortSignal;
}

function emptyReport(item: MigrateItem): ItemReport {
  return {
    item,
    outcome: 'identical',
    history: 'none',
    files: 0,
    bytes: 0,
    deleted: 0,
    commits: 0,
    historyBytes: 0,
    sourceFiles: 0,
    sourceBytes: 0,
    sourceCommits: 0,
    warnings: [],
    durationMs: 0,
  };
}

class ItemFailure extends Error {
  constructor(
    message: string,
    readonly code: string = 'CONFLICT',
  ) {
    super(message);
  }
}

function scopeOf(item: MigrateItem): FileScope {
  return item.kind === 'assets' ? { userId: item.userId, assets: true } : { userId: item.userId, projectId: item.projectId };
}

async function migrateItem(ctx: Context, item: MigrateItem, report: ItemReport): Promise<void> {
  const { source, target, options, signal } = ctx;
  const scope = scopeOf(item);
  const project = item.kind === 'project' ? (scope as ProjectScope) : null;
  const limit = options.fileConcurrency;
  const writing = !options.dryRun && !options.verifyOnly;

  // 1. Compare.
  const srcTree = await readTree(source, scope, limit, signal);
  const srcHistory = project ? ((await readHistory(source, project)) ?? []) : [];
  if (project && srcTree === null && srcHistory.length === 0) throw new ItemFailure('the project is gone from the source', 'NOT_FOUND');
  for (const [path, entry] of srcTree ?? []) {
    try {
      normalizeRelativePath(path);
    } catch {
      throw new ItemFailure(`${JSON.stringify(path)} cannot be addressed through the contract; rename it on the source`, 'INVALID_PATH');
    }
    if (entry.kind === 'file') {
      report.sourceFiles++;
      report.sourceBytes += entry.size;
    }
  }
  report.sourceCommits = srcHistory.length;

  let bundle: Uint8Array | null = null;
  if (project && srcHistory.length === 0) {
    // No commit reachable from HEAD: either no history at all, or a repository worth a closer look.
    try {
      bundle = await source.git.exportBundle(project);
      throw new ItemFailure(
        'the source history cannot be listed (HEAD does not resolve, or git log fails) though it can be bundled; repair it first',
        'INTERNAL',
      );
    } catch (error) {
      if (error instanceof ItemFailure) throw error;
      if (!isBackendError(error, 'NOT_FOUND')) {
        throw new ItemFailure(`the source repository is damaged: ${(error as Error).message}`, 'INTERNAL');
      }
      if ((error as { details?: { reason?: string } }).details?.reason === 'no-commits') {
        report.warnings.push('the source repository has no commits: only the working tree is copied');
      }
    }
  }

  let dstTree = await readTree(target, scope, limit, signal);
  let dstHistory = project ? ((await readHistory(target, project)) ?? []) : [];

  // 2. Plan the history.
  const srcHashes = new Set(srcHistory.map((c) => c.hash));
  const dstHashes = new Set(dstHistory.map((c) => c.hash));
  const gained = srcHistory.filter((c) => !dstHashes.has(c.hash)).length;
  if (project) {
    if (firstDifference(srcHistory, dstHistory) === null) report.history = srcHistory.length ? 'identical' : 'none';
    else if (dstHistory.length === 0) report.history = 'import';
    else if (srcHistory.length > 0 && dstHistory.every((c) => srcHashes.has(c.hash))) report.history = 'fast-forward';
    else if (options.overwrite && !options.verifyOnly) report.history = 'replace';
    else {
      const extra = dstHistory.filter((c) => !srcHashes.has(c.hash)).length;
      throw new ItemFailure(
        `the target project has ${extra} commit(s) the source lacks (it was used after an earlier migration?); ` +
          'nothing was changed. Pass overwrite to replace it with the source',
        'CONFLICT',
      );
    }
    report.commits = report.history === 'identical' || report.history === 'none' ? 0 : gained;
  }
  const historyChanges = report.history === 'import' || report.history === 'fast-forward' || report.history === 'replace';
  const prune = item.kind === 'project' || options.overwrite;

  if (!writing) {
    // Dry run / verify only: the plan against the target as it is.
    const plan = planFiles(srcTree ?? new Map(), dstTree ?? new Map(), prune);
    report.files = plan.writes.length;
    report.bytes = plan.writes.reduce((n, p) => n + srcTree!.get(p)!.size, 0);
    report.deleted = plan.deletes.length;
    report.warnings.push(...plan.warnings);
    if (plan.kept.length) report.warnings.push(`${plan.kept.length} file(s) only on the target are kept: ${plan.kept.slice(0, 3).join(', ')}`);
    const differs = historyChanges || plan.writes.length > 0 || plan.deletes.length > 0;
    if (options.verifyOnly) {
      const problems: string[] = [];
      if (historyChanges) problems.push(`history: ${firstDifference(srcHistory, dstHistory)}`);
      const files = describeMismatch(srcTree ?? new Map(), dstTree ?? new Map(), item.kind === 'assets');
      if (files) problems.push(files);
      if (project && dstHistory.length > 0) {
        const fsck = await target.git.verify(project);
        if (!fsck.ok) problems.push(`target repository: ${fsck.problems.slice(0, 3).join('; ')}`);
      }
      if (problems.length) throw new ItemFailure(`target differs from source: ${problems.join('; ')}`, 'CONFLICT');
      report.outcome = 'identical';
    } else {
      report.outcome = differs ? 'planned' : 'identical';
    }
    return;
  }

  // 3. Write: history first (the import moves `main` last), then the tree.
  let changed = false;
  if (project && historyChanges) {
    checkAbort(signal);
    if (srcHistory.length > 0) {
      bundle ??= await source.git.exportBundle(project);
      report.historyBytes = bundle.byteLength;
      await target.git.importBundle(project, bundle, { replace: report.history !== 'import' });
    } else {
      await target.files.deleteProject(project); // overwrite, and the source has no history: start from nothing
    }
    changed = true;
    dstTree = await readTree(target, scope, limit, signal); // the import checked out HEAD
  }
  const plan = planFiles(srcTree ?? new Map(), dstTree ?? new Map(), prune);
  report.warnings.push(...plan.warnings);
  if (plan.kept.length) report.warnings.push(`${plan.kept.length} file(s) only on the target are kept: ${plan.kept.slice(0, 3).join(', ')}`);
  if (project && srcTree !== null && srcTree.size === 0 && srcHistory.length === 0) {
    report.warnings.push('empty project without history: there is nothing to create on the target');
  }
  await mapLimit(
    plan.deletes,
    limit,
    async (path) => {
      try {
        await target.files.delete(scope, path);
      } catch (error) {
        if (!isBackendError(error, 'NOT_FOUND')) throw error;
      }
    },
    signal,
  );
  report.deleted = plan.deletes.length;
  await mapLimit(
    plan.writes,
    limit,
    async (path) => {
      const bytes = await source.files.read(scope, path);
      if (sha256(bytes) !== srcTree!.get(path)!.sha256) throw new ItemFailure(`${path} changed on the source during the migration; run again`, 'CONFLICT');
      await target.files.write(scope, path, bytes);
      report.files++;
      report.bytes += bytes.byteLength;
    },
    signal,
  );
  changed ||= plan.deletes.length > 0 || plan.writes.length > 0;

  // 4. Verify.
  if (options.verify && changed) {
    const written = new Set(plan.writes);
    const listing = await listTree(target, scope);
    const after: Map<string, TreeEntry> = new Map();
    for (const e of listing ?? []) {
      const before = dstTree?.get(e.path);
      after.set(e.path, { kind: e.kind, size: e.size, mtime: e.mtime, sha256: written.has(e.path) ? undefined : before?.sha256 });
    }
    await mapLimit(
      [...written].filter((p) => after.get(p)?.kind === 'file'),
      limit,
      async (path) => {
        after.get(path)!.sha256 = sha256(await target.files.read(scope, path));
      },
      signal,
    );
    for (const [path, entry] of after) {
      // An entry that was neither written nor hashed before the writes: hash it now.
      if (entry.kind === 'file' && entry.sha256 === undefined) entry.sha256 = sha256(await target.files.read(scope, path));
    }
    const files = describeMismatch(srcTree ?? new Map(), after, item.kind === 'assets' && !options.overwrite);
    if (files) throw new ItemFailure(`verification failed: ${files}`, 'INTERNAL');
    if (project && historyChanges) {
      dstHistory = (await readHistory(target, project)) ?? [];
      const diff = firstDifference(srcHistory, dstHistory);
      if (diff) throw new ItemFailure(`verification failed: history differs at ${diff}`, 'INTERNAL');
      if (srcHistory.length > 0) {
        const fsck = await target.git.verify(project);
        if (!fsck.ok) throw new ItemFailure(`verification failed: target repository: ${fsck.problems.slice(0, 3).join('; ')}`, 'INTERNAL');
      }
    }
  }
  // The source must not have moved underneath (a live server): otherwise the copy is of a state that no longer is.
  if (changed) {
    if (!sameListing(srcTree, await listTree(source, scope))) {
      throw new ItemFailure('the source changed during the migration; run again to pick up the change', 'CONFLICT');
    }
    if (project && srcHistory.length > 0) {
      const now = (await source.git.log(project, { limit: 1 })).commits[0]?.hash;
      if (now !== srcHistory[0]!.hash) throw new ItemFailure('the source history changed during the migration; run again', 'CONFLICT');
    }
  }
  report.outcome = changed ? 'copied' : 'identical';
}

// ---------------------------------------------------------------- the run

export async function migrate(options: MigrateOptions): Promise<MigrateSummary> {
  const started = Date.now();
  const source = readOnlySource(options.from);
  const target = options.to;
  const signal = options.signal;
  const emit = (event: MigrateEvent) => {
    try {
      options.onProgress?.(event);
    } catch {
      // a progress display never breaks a migration
    }
  };
  const ctx: Context = {
    source,
    target,
    signal,
    options: {
      dryRun: options.dryRun ?? false,
      verifyOnly: options.verifyOnly ?? false,
      verify: options.verify ?? true,
      overwrite: options.overwrite ?? false,
      fileConcurrency: Math.max(1, Math.floor(options.fileConcurrency ?? 4)),
    },
  };
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
  const summary: MigrateSummary = {
    from: options.from.name,
    to: target.name,
    dryRun: ctx.options.dryRun,
    verifyOnly: ctx.options.verifyOnly,
    aborted: false,
    users: 0,
    projects: 0,
    assetSpaces: 0,
    copied: 0,
    skipped: 0,
    pending: 0,
    failed: [],
    files: 0,
    bytes: 0,
    deleted: 0,
    commits: 0,
    historyBytes: 0,
    sourceFiles: 0,
    sourceBytes: 0,
    sourceCommits: 0,
    warnings: [],
    durationMs: 0,
    items: [],
  };

  // Who.
  let users: string[];
  if (options.users === 'all') {
    if (!source.files.listUsers) {
      throw createError('UNSUPPORTED', `the ${source.name} backend cannot list its users; name them instead`);
    }
    users = await source.files.listUsers();
  } else {
    users = [];
    for (const userId of new Set(options.users)) {
      if (isUuid(userId)) users.push(userId);
      else summary.failed.push({ userId, reason: 'not a lower-case UUID', code: 'INVALID_SCOPE' });
    }
  }
  summary.users = users.length;

  // What: every user's projects (and asset space), listed up front so progress has a total.
  const items: MigrateItem[] = [];
  const perUser = new Map<string, MigrateItem[]>();
  await mapLimit(users, concurrency, async (userId) => {
    const list: MigrateItem[] = [];
    try {
      for (const projectId of await source.files.listProjects({ userId })) list.push({ kind: 'project', userId, projectId });
    } catch (error) {
      summary.failed.push({ userId, reason: `cannot list projects: ${(error as Error).message}`, code: (error as { code?: string }).code });
    }
    if (options.assets ?? true) list.push({ kind: 'assets', userId });
    perUser.set(userId, list);
  });
  for (const userId of users) items.push(...(perUser.get(userId) ?? []));
  summary.projects = items.filter((i) => i.kind === 'project').length;
  summary.assetSpaces = items.length - summary.projects;
  emit({ type: 'plan', users: users.length, items: items.length, projects: summary.projects });

  // How: a bounded pool; one item's failure never stops the others.
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) {
      const item = items[next++]!;
      emit({ type: 'item-start', item, done, total: items.length });
      const report = emptyReport(item);
      const t0 = Date.now();
      try {
        await migrateItem(ctx, item, report);
      } catch (error) {
        if (signal?.aborted && (isBackendError(error, 'CANCELLED') || !(error instanceof ItemFailure))) {
          report.outcome = 'aborted';
          report.reason = 'aborted';
        } else {
          report.outcome = 'failed';
          report.reason = error instanceof ItemFailure ? error.message : `${(error as { code?: string }).code ?? 'ERROR'}: ${(error as Error).message}`;
          report.code = error instanceof ItemFailure ? error.code : (error as { code?: string }).code;
        }
      }
      report.durationMs = Date.now() - t0;
      summary.items.push(report);
      done++;
      emit({ type: 'item-done', item, report, done, total: items.length });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, items.length)) }, worker));

  for (const r of summary.items) {
    const where = r.item.kind === 'project' ? `${r.item.userId}/${r.item.projectId}` : `${r.item.userId}/assets`;
    if (r.outcome === 'failed') {
      summary.failed.push({
        userId: r.item.userId,
        ...(r.item.kind === 'project' ? { projectId: r.item.projectId } : { assets: true as const }),
        reason: r.reason ?? 'failed',
        ...(r.code ? { code: r.code } : {}),
      });
    }
    if (r.outcome === 'copied' || r.outcome === 'planned') summary.copied++;
    if (r.outcome === 'identical') summary.skipped++;
    if (r.outcome !== 'failed') {
      summary.files += r.files;
      summary.bytes += r.bytes;
      summary.deleted += r.deleted;
      summary.commits += r.commits;
      summary.historyBytes += r.historyBytes;
    }
    summary.sourceFiles += r.sourceFiles;
    summary.sourceBytes += r.sourceBytes;
    summary.sourceCommits += r.sourceCommits;
    for (const w of r.warnings) summary.warnings.push(`${where}: ${w}`);
  }
  const aborted = summary.items.filter((r) => r.outcome === 'aborted').length;
  summary.pending = items.length - summary.items.length + aborted;
  summary.aborted = Boolean(signal?.aborted) && summary.pending > 0;
  summary.durationMs = Date.now() - started;
  emit({ type: 'done', summary });
  return summary;
}
