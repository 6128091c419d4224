/**
 * The git capability, written once over a small "run git in this project" runner. Every backend runs the same
 * git commands with the same parsing; a backend only supplies how a git process is started (a local child
 * process, an exec in a sandbox). Operations on one project are serialized here.
 */
import { createHash } from 'node:crypto';
import { KeyedMutex } from './concurrency.js';
import { createError } from './errors.js';
import { normalizeRelativePath, validateProjectScope } from './scope.js';
import type {
  CommitInfo,
  CommitOptions,
  CommitResult,
  DiffResult,
  DiffStatus,
  GitCapability,
  ImportBundleOptions,
  ImportBundleResult,
  LogOptions,
  LogPage,
  ProjectScope,
} from './contract.js';

export const GIT_AUTHOR = { name: 'Game Creator', email: 'gamecreator@dreamcore.app' } as const;

/**
 * Configuration forced on every git process, passed as GIT_CONFIG_COUNT/KEY/VALUE so it outranks the repository's
 * own config. Repository config and hooks are not trusted: an agent works in the tree, so nothing in it may make
 * git run a program (hooks, fsmonitor, external diff, pagers).
 */
const FORCED_CONFIG: [string, string][] = [
  ['core.hooksPath', '/dev/null'],
  ['core.fsmonitor', 'false'],
  ['core.quotepath', 'false'],
  ['core.pager', 'cat'],
  ['core.autocrlf', 'false'],
  ['commit.gpgsign', 'false'],
  ['gc.auto', '0'],
  ['maintenance.auto', 'false'],
  // A bundle is untrusted input: every object it brings is checked before it lands in a repository.
  ['fetch.fsckObjects', 'true'],
  ['safe.directory', '*'],
  ['advice.detachedHead', 'false'],
  ['init.defaultBranch', 'main'],
  ['user.name', GIT_AUTHOR.name],
  ['user.email', GIT_AUTHOR.email],
];

/** Environment for every git process: no system or global config, forced safe config, a fixed author. */
export const GIT_ENV: Readonly<Record<string, string>> = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: GIT_AUTHOR.name,
  GIT_AUTHOR_EMAIL: GIT_AUTHOR.email,
  GIT_COMMITTER_NAME: GIT_AUTHOR.name,
  GIT_COMMITTER_EMAIL: GIT_AUTHOR.email,
  LC_ALL: 'C',
  GIT_CONFIG_COUNT: String(FORCED_CONFIG.length),
  ...Object.fromEntries(
    FORCED_CONFIG.flatMap(([k, v], i) => [
      [`GIT_CONFIG_KEY_${i}`, k],
      [`GIT_CONFIG_VALUE_${i}`, v],
    ]),
  ),
};

export interface GitRunResult {
  exitCode: number;
  stdout: Uint8Array;
  stderr: string;
}

export interface GitRunner {
  /**
   * Runs `git <args>` with the project folder as work tree and `<project>/.git` as git dir
   * (never a repository found by walking up), with GIT_ENV. Resolves with the exit code; rejects only when git
   * could not be started at all.
   */
  run(scope: ProjectScope, args: string[]): Promise<GitRunResult>;
  /** Whether the project folder exists, and whether it holds a `.git` directory. */
  probe(scope: ProjectScope): Promise<{ projectExists: boolean; repoExists: boolean }>;
  /**
   * Creates the project folder (and missing parents) when it does not exist; true when it did. `importBundle` calls it
   * before `git init`, because git cannot create its own work tree. Optional: without it (or `withStagedFile`)
   * `importBundle` fails UNSUPPORTED.
   */
  createProject?(scope: ProjectScope): Promise<boolean>;
  /**
   * Puts `bytes` in a new file that the git processes of `run(scope, …)` can read, calls `fn` with that file's
   * absolute path as those processes see it, and removes the file when `fn` settles, whether it resolved or threw.
   * The file lives outside every project and asset space (the agent never sees it) under a unique name, so concurrent
   * calls never collide. `importBundle` uses it to hand a bundle to `git fetch`.
   */
  withStagedFile?<T>(scope: ProjectScope, bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T>;
  /**
   * `probe`, then, when the project holds a repository, `run` of each step in order, stopping after a step that exits
   * non-zero unless it says `mayFail`; `results` holds those that ran (none without a repository). Optional: a remote
   * backend does it all in one round trip (a commit is probe + add + commit + rev-parse); without it, git-ops calls
   * `probe` and `run` one after another, with the same outcome. The steps may run even without a repository, as long
   * as they change nothing then (git with a missing GIT_DIR fails at once), and their results are not reported.
   *
   * `create`: the mirror image, for steps whose first makes the repository (`git init`): they run only when the
   * project exists and holds no repository (`repoExists` false; `results` those that ran), and none run (the first
   * changes nothing, say it is refused) when it holds one. A new project's repository and first commit in one round trip.
   */
  sequence?(scope: ProjectScope, steps: GitStep[], options?: { create?: boolean }): Promise<GitSequenceResult>;
}

export interface GitStep {
  args: string[];
  /** Go on with the next step even when this one exits non-zero. */
  mayFail?: boolean;
}

export interface GitSequenceResult {
  projectExists: boolean;
  repoExists: boolean;
  results: GitRunResult[];
}

/**
 * Whether a sequence's steps run (and their results are reported), by what the probe saw: inside a repository, or with
 * `create` only in a project without one (GitRunner.sequence). Every runner reports by this one rule.
 */
export function sequenceRuns({ projectExists, repoExists }: { projectExists: boolean; repoExists: boolean }, create = false): boolean {
  return create ? projectExists && !repoExists : repoExists;
}

/** `GitRunner.sequence` from `probe` and `run` (a runner that has no faster way). */
async function sequentially(runner: GitRunner, scope: ProjectScope, steps: GitStep[], create = false): Promise<GitSequenceResult> {
  const { projectExists, repoExists } = await runner.probe(scope);
  const results: GitRunResult[] = [];
  if (sequenceRuns({ projectExists, repoExists }, create)) {
    for (const step of steps) {
      const r = await runner.run(scope, step.args);
      results.push(r);
      if (r.exitCode !== 0 && !step.mayFail) break;
    }
  }
  return { projectExists, repoExists, results };
}

const VERSION = /^[0-9a-f]{4,40}$/;
const MAX_MESSAGE = 10_000;
const decoder = new TextDecoder();

function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

function checkVersion(version: unknown): string {
  if (typeof version !== 'string' || !VERSION.test(version)) {
    throw createError('INVALID_ARGUMENT', 'a version is a commit hash of 4 to 40 lower-case hex digits', {
      details: { version: String(version).slice(0, 64) },
    });
  }
  return version;
}

function checkMessage(message: unknown): string {
  if (typeof message !== 'string' || message.trim() === '') {
    throw createError('INVALID_ARGUMENT', 'a commit message is a non-empty string');
  }
  if (message.length > MAX_MESSAGE) throw createError('INVALID_ARGUMENT', `commit message longer than ${MAX_MESSAGE}`);
  // Control characters other than newline and tab would break log parsing (and never belong in a message).
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(message)) {
    throw createError('INVALID_ARGUMENT', 'commit message contains control characters');
  }
  return message;
}

const STATUS: Record<string, DiffStatus> = { A: 'added', M: 'modified', D: 'deleted', R: 'renamed', T: 'type-changed' };

export function parseLog(raw: string): CommitInfo[] {
  const commits: CommitInfo[] = [];
  for (const record of raw.split('\x1e')) {
    if (record === '') continue;
    const [hash = '', parents = '', date = '', author = '', message = '', rest = ''] = record.split('\x1f');
    commits.push({
      hash,
      shortHash: hash.slice(0, 7),
      message: message.replace(/\n+$/, ''),
      date: new Date(date).toISOString(),
      author,
      parents: parents === '' ? [] : parents.split(' '),
      files: rest
        .split('\0')
        .map((f) => f.replace(/^\n/, ''))
        .filter((f) => f !== ''),
    });
  }
  return commits;
}

export function parseNameStatus(raw: string): DiffResult['files'] {
  const fields = raw.split('\0').filter((f) => f !== '');
  const files: DiffResult['files'] = [];
  for (let i = 0; i < fields.length;) {
    const code = fields[i++]!;
    const status = STATUS[code[0]!] ?? 'modified';
    if (code[0] === 'R' || code[0] === 'C') {
      i++; // old path
      files.push({ path: fields[i++]!, status });
    } else {
      files.push({ path: fields[i++]!, status });
    }
  }
  return files;
}

const BUNDLE_SIGNATURES: Record<string, 2 | 3> = { '# v2 git bundle': 2, '# v3 git bundle': 3 };
// A ref name as git accepts it (check-ref-format), kept strict: bundle refs become update-ref arguments.
// eslint-disable-next-line no-control-regex
const BAD_REF = /[\u0000-\u0020\u007f~^:?*[\\]|\.\.|@\{|\/\/|\/\.|\.lock(\/|$)|[/.]$/;

export interface ParsedBundle {
  version: 2 | 3;
  objectFormat: 'sha1' | 'sha256';
  /** Refs in header order; `HEAD` included when the bundle carries it. */
  refs: { name: string; oid: string }[];
  /** Offset of the packfile. */
  packOffset: number;
  /** Objects the packfile says it holds. */
  objects: number;
}

function badBundle(reason: string): never {
  throw createError('INVALID_ARGUMENT', `not a complete git bundle: ${reason}`, { details: { reason } });
}

/**
 * Checks a bundle without git: a v2/v3 header, refs and no prerequisites (a complete history, not an increment),
 * then a packfile whose trailing checksum matches its bytes, so truncation and corruption are refused before
 * anything is written. (git still checks every object when it fetches: see `fetch.fsckObjects`.)
 */
export function parseBundle(bundle: Uint8Array): ParsedBundle {
  if (!(bundle instanceof Uint8Array)) throw createError('INVALID_ARGUMENT', 'a bundle is bytes (Uint8Array)');
  const end = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength).indexOf('\n\n');
  if (end < 0 || end > 1024 * 1024) badBundle('no header');
  const lines = decoder.decode(bundle.subarray(0, end)).split('\n');
  const version = BUNDLE_SIGNATURES[lines[0] ?? ''];
  if (!version) badBundle('unknown signature');
  let objectFormat: 'sha1' | 'sha256' = 'sha1';
  const refs: ParsedBundle['refs'] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith('@')) {
      if (version !== 3) badBundle('capability in a v2 bundle');
      if (line === '@object-format=sha1' || line === '@object-format=sha256') objectFormat = line.endsWith('256') ? 'sha256' : 'sha1';
      else badBundle(`unsupported capability ${line.slice(0, 60)}`);
    } else if (line.startsWith('-')) {
      badBundle('it has prerequisites (an incremental bundle)');
    } else {
      const space = line.indexOf(' ');
      const oid = line.slice(0, space);
      const name = line.slice(space + 1);
      if (space < 0 || !/^[0-9a-f]+$/.test(oid) || oid.length !== (objectFormat === 'sha1' ? 40 : 64)) badBundle('malformed ref line');
      if (name !== 'HEAD' && (!name.startsWith('refs/') || BAD_REF.test(name))) {
        badBundle(`unacceptable ref name ${name.slice(0, 100)}`);
      }
      refs.push({ name, oid });
    }
  }
  if (refs.length === 0) badBundle('no refs');
  const packOffset = end + 2;
  const pack = bundle.subarray(packOffset);
  const hashLength = objectFormat === 'sha1' ? 20 : 32;
  if (pack.byteLength < 12 + hashLength || decoder.decode(pack.subarray(0, 4)) !== 'PACK') badBundle('no packfile');
  const view = new DataView(pack.buffer, pack.byteOffset, pack.byteLength);
  const packVersion = view.getUint32(4);
  if (packVersion !== 2 && packVersion !== 3) badBundle(`pack version ${packVersion}`);
  const body = pack.subarray(0, pack.byteLength - hashLength);
  const digest = createHash(objectFormat).update(body).digest();
  if (!digest.equals(pack.subarray(pack.byteLength - hashLength))) badBundle('packfile checksum mismatch (truncated or corrupted)');
  return { version, objectFormat, refs, packOffset, objects: view.getUint32(8) };
}

/** The refs a project holds after importing `bundle`: its refs (not HEAD), plus `refs/heads/main` at its HEAD. */
function desiredRefs(parsed: ParsedBundle): { refs: Map<string, string>; head: string } {
  const refs = new Map<string, string>();
  let head: string | undefined;
  for (const { name, oid } of parsed.refs) {
    if (name === 'HEAD') head = oid;
    else refs.set(name, oid);
  }
  const branches = [...refs.keys()].filter((r) => r.startsWith('refs/heads/'));
  head ??= refs.get('refs/heads/main') ?? refs.get('refs/heads/master') ?? (branches.length === 1 ? refs.get(branches[0]!) : undefined);
  if (head === undefined) badBundle('no HEAD and no main branch');
  const main = refs.get('refs/heads/main');
  if (main !== undefined && main !== head) badBundle('HEAD is on another branch than main, and main points elsewhere');
  refs.set('refs/heads/main', head);
  return { refs, head };
}

/** A step's result as `git()` would have it: a failure that may not happen is INTERNAL. */
function checked(result: GitRunResult | undefined, args: string[], allowFailure = false): GitRunResult {
  if (!result) throw createError('INTERNAL', `git ${args[0]} did not run`);
  if (result.exitCode !== 0 && !allowFailure) {
    throw createError('INTERNAL', `git ${args[0]} failed: ${result.stderr.trim().slice(0, 500)}`, { details: { exitCode: result.exitCode } });
  }
  return result;
}

/** Whether a `git commit` that exited non-zero found nothing to commit (anything else is a failure). */
function nothingToCommit(r: GitRunResult): boolean {
  const out = text(r.stdout) + r.stderr;
  if (/nothing to commit|nothing added to commit|no changes added/i.test(out)) return true;
  throw createError('INTERNAL', `git commit failed: ${out.trim().slice(0, 500)}`);
}

/**
 * A commit as sequence steps: stage everything, commit, read HEAD. `message` is git's own option for it: `['-m', text]`
 * (a checked message), or `['-F', file]` for a message a backend wrote where git runs (a run's `after.commit`, made
 * in the sandbox). Exported so such a backend runs exactly these steps and reads them with `commitOutcome`.
 */
export function commitSteps(message: ['-m' | '-F', string]): GitStep[] {
  return [
    { args: ['add', '-A'] },
    { args: ['commit', '-q', '--no-verify', ...message], mayFail: true },
    { args: ['rev-parse', '--verify', '-q', 'HEAD'], mayFail: true },
  ];
}

/**
 * What the `commitSteps` sequence did: the CommitResult, or null when the project has no repository yet (the caller
 * initialises it and commits: git.commit does). NOT_FOUND without the project; INTERNAL when a step failed.
 */
export function commitOutcome(scope: ProjectScope, { projectExists, repoExists, results }: GitSequenceResult): CommitResult | null {
  if (!projectExists) throw createError('NOT_FOUND', 'project not found', { details: { ...scope } });
  if (!repoExists) return null;
  checked(results[0], ['add']);
  const committed = checked(results[1], ['commit'], true);
  const current = results[2]?.exitCode === 0 ? text(results[2].stdout).trim() : null;
  // A repository without commits needs no init: the commit above became its root commit.
  return committed.exitCode !== 0 && nothingToCommit(committed) ? { committed: false, hash: current! } : { committed: true, hash: current! };
}

export interface GitOpsOptions {
  runner: GitRunner;
  /** Initial commit message (DreamCore's server uses "Initial project setup"). */
  initialMessage?: string;
}

export function createGitCapability(options: GitOpsOptions): GitCapability {
  const { runner } = options;
  const initialMessage = options.initialMessage ?? 'Initial commit';
  const locks = new KeyedMutex();
  const key = (s: ProjectScope) => `${s.userId}/${s.projectId}`;

  async function git(scope: ProjectScope, args: string[], allowFailure = false): Promise<GitRunResult> {
    const result = await runner.run(scope, args);
    if (result.exitCode !== 0 && !allowFailure) {
      throw createError('INTERNAL', `git ${args[0]} failed: ${result.stderr.trim().slice(0, 500)}`, {
        details: { exitCode: result.exitCode },
      });
    }
    return result;
  }

  async function head(scope: ProjectScope): Promise<string | null> {
    const r = await git(scope, ['rev-parse', '--verify', '-q', 'HEAD'], true);
    return r.exitCode === 0 ? text(r.stdout).trim() : null;
  }

  /** Resolves a version to a full commit hash, or NOT_FOUND. */
  async function resolveCommit(scope: ProjectScope, version: string): Promise<string> {
    const r = await git(scope, ['rev-parse', '--verify', '-q', '--end-of-options', `${version}^{commit}`], true);
    if (r.exitCode !== 0) {
      throw createError('NOT_FOUND', `version ${version} not found`, { details: { version } });
    }
    return text(r.stdout).trim();
  }

  async function requireRepo(scope: ProjectScope): Promise<void> {
    repoRequired(await runner.probe(scope), scope);
  }

  function repoRequired({ projectExists, repoExists }: { projectExists: boolean; repoExists: boolean }, scope: ProjectScope): void {
    if (!projectExists) throw createError('NOT_FOUND', 'project not found', { details: { ...scope } });
    if (!repoExists) {
      throw createError('NOT_FOUND', 'project has no version history yet', { details: { reason: 'no-repository' } });
    }
  }

  const sequence = (scope: ProjectScope, steps: GitStep[], create = false) =>
    runner.sequence ? runner.sequence(scope, steps, create ? { create } : undefined) : sequentially(runner, scope, steps, create);

  /**
   * `version` resolved to a commit, then `args` (which name it as `${version}^{commit}`), after the probe: one sequence.
   * NOT_FOUND without a repository or when the version is not a commit; otherwise the result of `args` (maybe a
   * failure, for the caller to read).
   */
  async function resolvedSequence(scope: ProjectScope, version: string, args: string[]): Promise<GitRunResult | undefined> {
    const probed = await sequence(scope, [{ args: ['rev-parse', '--verify', '-q', '--end-of-options', `${version}^{commit}`] }, { args }]);
    repoRequired(probed, scope);
    const [resolved, result] = probed.results;
    if (resolved?.exitCode !== 0) throw createError('NOT_FOUND', `version ${version} not found`, { details: { version } });
    return result;
  }

  /** A history page as a sequence step (`git log`, which may fail: a repository without commits) and its reading. */
  function logQuery(opts: LogOptions) {
    const limit = opts.limit ?? 20;
    const skip = opts.skip ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw createError('INVALID_ARGUMENT', 'limit is an integer from 1 to 500');
    }
    if (!Number.isInteger(skip) || skip < 0) throw createError('INVALID_ARGUMENT', 'skip is a non-negative integer');
    const args = [
      'log',
      '-z',
      '--name-only',
      '--no-renames',
      `--skip=${skip}`,
      `--max-count=${limit + 1}`,
      '--format=%x1e%H%x1f%P%x1f%aI%x1f%an%x1f%B%x1f',
      'HEAD',
      '--',
    ];
    return {
      step: { args, mayFail: true } as GitStep,
      page(result: GitRunResult | undefined): LogPage {
        const r = checked(result, args, true);
        if (r.exitCode !== 0) return { commits: [], hasMore: false }; // repository without commits
        const commits = parseLog(text(r.stdout));
        return { commits: commits.slice(0, limit), hasMore: commits.length > limit };
      },
    };
  }

  async function logPage(scope: ProjectScope, query: ReturnType<typeof logQuery>): Promise<LogPage> {
    const probed = await sequence(scope, [query.step]);
    repoRequired(probed, scope);
    return query.page(probed.results[0]);
  }

  /** Stages everything and commits it; `null` when the tree already matches HEAD. */
  async function commitAll(scope: ProjectScope, message: string): Promise<string | null> {
    await git(scope, ['add', '-A']);
    const r = await git(scope, ['commit', '-q', '--no-verify', '-m', message], true);
    if (r.exitCode !== 0 && nothingToCommit(r)) return null;
    return head(scope);
  }

  async function init(scope: ProjectScope, opts: { message?: string } = {}): Promise<{ created: boolean; head: string }> {
    const message = opts.message === undefined ? initialMessage : checkMessage(opts.message);
    // The first commit: everything staged, committed (even an empty tree), its hash read.
    const firstCommit: GitStep[] = [
      { args: ['add', '-A'] },
      { args: ['commit', '-q', '--no-verify', '--allow-empty', '-m', message] },
      { args: ['rev-parse', '--verify', 'HEAD'] },
    ];
    const firstHead = (results: GitRunResult[]) => {
      const ran = firstCommit.map((step, i) => checked(results[i], step.args));
      return text(ran.at(-1)!.stdout).trim();
    };
    // A new project (what creating or remixing a game makes): the repository and its first commit in one sequence,
    // one round trip on a remote backend instead of five.
    const made = await sequence(scope, [{ args: ['init', '-q'] }, ...firstCommit], true);
    if (!made.projectExists) throw createError('NOT_FOUND', 'project not found', { details: { ...scope } });
    if (!made.repoExists) {
      checked(made.results[0], ['init']);
      return { created: true, head: firstHead(made.results.slice(1)) };
    }
    // It has a repository: its HEAD, or (a repository without commits) the first commit, one sequence too.
    const current = await head(scope);
    if (current) return { created: false, head: current };
    return { created: true, head: firstHead((await sequence(scope, firstCommit)).results) };
  }

  function serialized<A extends unknown[], R>(fn: (scope: ProjectScope, ...args: A) => Promise<R>) {
    return async (scope: ProjectScope, ...args: A): Promise<R> => {
      const valid = validateProjectScope(scope);
      return locks.run(key(valid), () => fn(valid, ...args));
    };
  }

  return {
    init: serialized(init),

    commit: serialized(async (scope, message: string, opts: CommitOptions = {}): Promise<CommitResult> => {
      const msg = checkMessage(message);
      const log = opts.log === undefined ? undefined : logQuery(opts.log);
      // commitAll and head, and the log page when asked for, in one sequence (one round trip on a remote backend).
      const steps = commitSteps(['-m', msg]);
      const probed = await sequence(scope, log ? [...steps, log.step] : steps);
      const outcome = commitOutcome(scope, probed);
      if (outcome) return log ? { ...outcome, log: log.page(probed.results[steps.length]) } : outcome;
      // No repository yet: made with everything in its first commit, then the same sequence (which finds nothing
      // left to commit unless the tree changed meanwhile).
      await init(scope);
      const again = await sequence(scope, log ? [...steps, log.step] : steps);
      const made = commitOutcome(scope, again);
      if (!made) throw createError('INTERNAL', 'the repository was not made', { details: { ...scope } });
      return log ? { ...made, log: log.page(again.results[steps.length]) } : made;
    }),

    log: serialized((scope, opts: LogOptions = {}) => logPage(scope, logQuery(opts))),

    diff: serialized(async (scope, from: string, to?: string): Promise<DiffResult> => {
      checkVersion(from);
      if (to !== undefined) checkVersion(to);
      await requireRepo(scope);
      const fromHash = await resolveCommit(scope, from);
      const toHash = to === undefined ? await resolveCommit(scope, 'HEAD') : await resolveCommit(scope, to);
      const common = ['--no-color', '--no-ext-diff', '--no-textconv', '--find-renames'];
      const names = await git(scope, ['diff', ...common, '--name-status', '-z', fromHash, toHash, '--']);
      const patch = await git(scope, ['diff', ...common, fromHash, toHash, '--']);
      return { from: fromHash, to: toHash, files: parseNameStatus(text(names.stdout)), patch: text(patch.stdout) };
    }),

    // readAt and listAt: the probe, the version's resolution and the read in one sequence (one round trip on a remote
    // backend; a remix reads every file of a version). `version` passed checkVersion, so `${version}^{commit}` is a
    // revision and never an option.
    readAt: serialized(async (scope, version: string, path: string): Promise<Uint8Array> => {
      checkVersion(version);
      const relative = normalizeRelativePath(path);
      const read = await resolvedSequence(scope, version, ['cat-file', 'blob', `${version}^{commit}:${relative}`]);
      if (!read || read.exitCode !== 0) {
        throw createError('NOT_FOUND', `${relative} does not exist at ${version}`, { details: { path: relative, version } });
      }
      return read.stdout;
    }),

    listAt: serialized(async (scope, version: string): Promise<string[]> => {
      checkVersion(version);
      const list = await resolvedSequence(scope, version, ['ls-tree', '-r', '-z', '--name-only', '--full-tree', `${version}^{commit}`]);
      return text(checked(list, ['ls-tree']).stdout)
        .split('\0')
        .filter(Boolean)
        .sort();
    }),

    restore: serialized(async (scope, version: string, opts: { message?: string } = {}): Promise<CommitResult> => {
      checkVersion(version);
      const message = opts.message === undefined ? undefined : checkMessage(opts.message);
      await requireRepo(scope);
      const target = await resolveCommit(scope, version);
      // Nothing is lost: uncommitted work becomes a commit of its own before the tree is replaced.
      await commitAll(scope, `Before restore to ${target.slice(0, 7)}`);
      await git(scope, ['read-tree', '--reset', '-u', target]);
      const hash = await commitAll(scope, message ?? `Restore to ${target.slice(0, 7)}`);
      return hash ? { committed: true, hash } : { committed: false, hash: (await head(scope))! };
    }),

    exportBundle: serialized(async (scope): Promise<Uint8Array> => {
      await requireRepo(scope);
      // To stdout: nothing is written in the source repository.
      const r = await git(scope, ['bundle', 'create', '-q', '-', '--all'], true);
      if (r.exitCode !== 0) {
        const refs = await git(scope, ['for-each-ref', '--count=1', '--format=%(refname)'], true);
        if ((await head(scope)) === null && refs.exitCode === 0 && text(refs.stdout).trim() === '') {
          throw createError('NOT_FOUND', 'project has no commits to export', { details: { reason: 'no-commits' } });
        }
        throw createError('INTERNAL', `the repository could not be bundled (damaged?): ${r.stderr.trim().slice(0, 500)}`, {
          details: { exitCode: r.exitCode, reason: 'bundle-failed' },
        });
      }
      return r.stdout;
    }),

    importBundle: serialized(async (scope, bundle: Uint8Array, opts: ImportBundleOptions = {}): Promise<ImportBundleResult> => {
      const parsed = parseBundle(bundle);
      const { refs: wanted, head: bundleHead } = desiredRefs(parsed);
      if (!runner.createProject || !runner.withStagedFile) {
        throw createError('UNSUPPORTED', 'this backend cannot import a bundle (its git runner lacks createProject/withStagedFile)');
      }
      const { projectExists, repoExists } = await runner.probe(scope);
      const current = new Map<string, string>();
      let onMain = !repoExists; // `git init` points HEAD at main (init.defaultBranch is forced)
      if (repoExists) {
        const r = await git(scope, ['for-each-ref', '--format=%(objectname) %(refname)']);
        for (const line of text(r.stdout).split('\n')) {
          const space = line.indexOf(' ');
          if (space > 0) current.set(line.slice(space + 1), line.slice(0, space));
        }
        const symbolic = text((await git(scope, ['symbolic-ref', '-q', 'HEAD'], true)).stdout).trim();
        onMain = symbolic === 'refs/heads/main';
        const currentHead = symbolic === '' ? await head(scope) : (current.get(symbolic) ?? null);
        const same = onMain && current.size === wanted.size && [...wanted].every(([name, oid]) => current.get(name) === oid);
        if (same) return { imported: false, head: bundleHead, refs: wanted.size };
        if (currentHead !== null && !opts.replace) {
          throw createError('CONFLICT', 'the project already has a different history', {
            details: { head: currentHead, bundleHead, reason: 'different-history' },
          });
        }
      }
      // Write order: objects (unreferenced until the end), HEAD → main, the tree, the other refs, `main` last. An import
      // cut short anywhere is seen as the old history (or none) by log and by the check above, and a retry completes it.
      if (!projectExists) await runner.createProject(scope);
      if (!repoExists) await git(scope, ['init', '-q']);
      const tips = [...new Set(parsed.refs.map((r) => r.name))];
      await runner.withStagedFile(scope, bundle, async (file) => {
        // Refspecs without a destination: objects are fetched, fsck'd and connectivity-checked; no ref is written.
        const r = await git(scope, ['fetch', '-q', '--no-tags', '--no-write-fetch-head', '--no-auto-gc', file, ...tips], true);
        if (r.exitCode !== 0) {
          throw createError('INVALID_ARGUMENT', `git refused the bundle: ${r.stderr.trim().slice(0, 500)}`, {
            details: { reason: 'fetch-failed', exitCode: r.exitCode },
          });
        }
      });
      if (!onMain) await git(scope, ['symbolic-ref', 'HEAD', 'refs/heads/main']);
      await git(scope, ['read-tree', '-u', '--reset', bundleHead]);
      for (const name of current.keys()) {
        if (!wanted.has(name)) await git(scope, ['update-ref', '-d', name]);
      }
      for (const [name, oid] of wanted) {
        if (name !== 'refs/heads/main' && current.get(name) !== oid) await git(scope, ['update-ref', name, oid]);
      }
      await git(scope, ['update-ref', 'refs/heads/main', bundleHead]);
      return { imported: true, head: bundleHead, refs: wanted.size };
    }),

    verify: serialized(async (scope) => {
      await requireRepo(scope);
      const r = await git(scope, ['fsck', '--full', '--strict', '--no-progress', '--no-dangling'], true);
      const problems = (text(r.stdout) + r.stderr)
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('notice') && !line.startsWith('Checking'));
      return { ok: r.exitCode === 0 && problems.length === 0, problems };
    }),
  };
}
