/**
 * The ExecutionBackend contract: everything DreamCore executes goes through this interface.
 * Read this file first. Semantics live in the comments; the conformance suite (./conformance) is their proof.
 *
 * Rules that hold for every method:
 * - Every call is scoped by UUIDs (`userId`, `projectId`); a backend never touches anything outside that user's space.
 * - Paths are relative, `/`-separated, and checked by `scope.ts` (no `..`, no absolute paths, no symlink escapes, no `.git`).
 * - Every method is async and fails only with `BackendError` (see errors.ts): bad input changes nothing.
 */
import type { AgentEvent, AgentResult } from './events.js';

// ---------------------------------------------------------------- scopes

export interface UserScope {
  userId: string;
}

/** A project's working tree: `users/{userId}/projects/{projectId}/` in DreamCore's layout. */
export interface ProjectScope {
  userId: string;
  projectId: string;
}

/** The user's asset space: `users/{userId}/assets/`. */
export interface AssetScope {
  userId: string;
  assets: true;
}

export type FileScope = ProjectScope | AssetScope;

// ---------------------------------------------------------------- files

export type FileKind = 'file' | 'directory' | 'symlink';

export interface FileEntry {
  /** Relative to the scope root, `/`-separated. */
  path: string;
  kind: FileKind;
  /** Bytes (0 for directories). */
  size: number;
  /** Last modification, ISO 8601. */
  mtime: string;
}

export interface ListOptions {
  /** Walk subdirectories (default true). */
  recursive?: boolean;
}

export interface FilesCapability {
  read(scope: FileScope, path: string): Promise<Uint8Array>;
  readText(scope: FileScope, path: string): Promise<string>;
  /** Creates parent directories; replaces an existing file. Fails TOO_LARGE above `capabilities.files.maxFileBytes`. */
  write(scope: FileScope, path: string, data: string | Uint8Array): Promise<FileEntry>;
  /** Removes a file, or a directory with everything in it. NOT_FOUND when absent. */
  delete(scope: FileScope, path: string): Promise<void>;
  /** Entries below `dir` (default: the root), sorted by path; never descends into `.git`. Missing dir: NOT_FOUND. */
  list(scope: FileScope, dir?: string, options?: ListOptions): Promise<FileEntry[]>;
  exists(scope: FileScope, path: string): Promise<boolean>;
  stat(scope: FileScope, path: string): Promise<FileEntry>;
  /** Project ids that exist for this user, sorted. */
  listProjects(scope: UserScope): Promise<string[]>;
  /** Removes a whole project (working tree and history). NOT_FOUND when absent. */
  deleteProject(scope: ProjectScope): Promise<void>;
  /**
   * Every user id that has a space on this backend (projects or assets), sorted; ids that are not lower-case UUIDs
   * are left out. An operator call (a migration of "everyone"), never scoped to a request. Optional: a backend
   * without it cannot be the source of `users: 'all'`.
   */
  listUsers?(): Promise<string[]>;
}

// ---------------------------------------------------------------- git

export interface CommitInfo {
  /** Full 40-hex hash. */
  hash: string;
  shortHash: string;
  /** Full commit message (subject and body), without the trailing newline. */
  message: string;
  /** Author date, ISO 8601. */
  date: string;
  author: string;
  parents: string[];
  /** Paths changed by this commit relative to its first parent (all files for a root commit). */
  files: string[];
}

export interface LogOptions {
  /** Page size (default 20, at most 500). */
  limit?: number;
  /** Commits to skip from the newest (default 0). */
  skip?: number;
}

export interface LogPage {
  commits: CommitInfo[];
  hasMore: boolean;
}

export interface CommitResult {
  /** false when the working tree already matched HEAD ("nothing to commit"). */
  committed: boolean;
  /** The new commit, or the unchanged HEAD. */
  hash: string;
  /** With `CommitOptions.log`: the history page right after this commit, as `log(scope, options.log)` answers it. */
  log?: LogPage;
}

export interface CommitOptions {
  /**
   * Also answer the history page as it is right after the commit (`CommitResult.log`): a caller that shows the
   * history after saving gets both at once (on Modal in the commit's own round trip, instead of a second one).
   * Checked as `log`'s options are, before anything is committed.
   */
  log?: LogOptions;
}

export type DiffStatus = 'added' | 'modified' | 'deleted' | 'renamed' | 'type-changed';

export interface DiffResult {
  from: string;
  to: string;
  files: { path: string; status: DiffStatus }[];
  /** Unified diff (binary files as "Binary files differ"). */
  patch: string;
}

export interface ImportBundleOptions {
  /**
   * Replace a history that differs from the bundle's (default false: CONFLICT). The project's refs become exactly the
   * bundle's and the working tree is reset to the new HEAD (tracked changes are discarded; untracked files stay).
   */
  replace?: boolean;
}

export interface ImportBundleResult {
  /** false when the project already held exactly this history: nothing was changed. */
  imported: boolean;
  /** The commit HEAD (`refs/heads/main`) points to. */
  head: string;
  /** How many refs the project holds afterwards. */
  refs: number;
}

export interface GitCapability {
  /** Creates the repository with an initial commit of whatever the folder holds. Idempotent. */
  init(scope: ProjectScope, options?: { message?: string }): Promise<{ created: boolean; head: string }>;
  /** Stages everything and commits. Initialises the repository first if needed. `options.log`: see CommitOptions. */
  commit(scope: ProjectScope, message: string, options?: CommitOptions): Promise<CommitResult>;
  /** Newest first. */
  log(scope: ProjectScope, options?: LogOptions): Promise<LogPage>;
  /** Changes from `from` to `to` (default: HEAD). `from` may be an ancestor, a descendant or unrelated. */
  diff(scope: ProjectScope, from: string, to?: string): Promise<DiffResult>;
  /** Every file path at `version` (sorted; one round trip). NOT_FOUND if the version does not exist. */
  listAt(scope: ProjectScope, version: string): Promise<string[]>;
  /** A file's bytes as they were at `version`. NOT_FOUND if the version or the path at it does not exist. */
  readAt(scope: ProjectScope, version: string, path: string): Promise<Uint8Array>;
  /**
   * Makes the working tree equal to `version`'s tree as a NEW commit on top of HEAD (history kept, the restore
   * itself undoable). Uncommitted changes are committed first so nothing is lost.
   */
  restore(scope: ProjectScope, version: string, options?: { message?: string }): Promise<CommitResult>;
  /** Repository integrity (`git fsck`). */
  verify(scope: ProjectScope): Promise<{ ok: boolean; problems: string[] }>;
  /**
   * The whole repository as one `git bundle` (v2, every ref and HEAD, no prerequisites): moves a project's history
   * between backends with every commit hash intact. Writes nothing. NOT_FOUND when the project or its repository is
   * missing or the repository has no commits (details.reason `no-commits`); INTERNAL when git cannot bundle it (damaged).
   */
  exportBundle(scope: ProjectScope): Promise<Uint8Array>;
  /**
   * Makes the project's history the bundle's: objects and refs, `HEAD` → `refs/heads/main` at the bundle's HEAD (a
   * bundle whose HEAD is on another branch, e.g. V2's `master`, also gets `main`), and the working tree checked out
   * to HEAD (paths in HEAD's tree are written; other files are left alone). Creates the project when missing.
   * - Identical history already there (same refs, HEAD on main): nothing changes, `imported: false`.
   * - A project with no history (no repository, or one without commits) receives it.
   * - A project with a different history: CONFLICT (details `head`, `bundleHead`) unless `options.replace`.
   * - Not a complete, intact bundle (bad header, prerequisites, checksum mismatch, truncation): INVALID_ARGUMENT,
   *   and nothing is changed.
   */
  importBundle(scope: ProjectScope, bundle: Uint8Array, options?: ImportBundleOptions): Promise<ImportBundleResult>;
}

// ---------------------------------------------------------------- agent

export interface RunClaudeRequest {
  scope: ProjectScope;
  prompt: string;
  /** Continue this CLI session (multi-turn). */
  sessionId?: string;
  model?: string;
  /** Skill folder names (each with a SKILL.md) to make visible to the agent; default: all installed. */
  skills?: string[];
  /**
   * Tools the agent may call during this run, served to it as MCP tools (`mcp__dreamcore__<name>`) over HTTP on the
   * backend's key proxy: same URL and per-run token as its model traffic, so a finished run's token is refused. The
   * handlers run in the backend's process, never in the agent's sandbox.
   */
  tools?: AgentTool[];
  /** Wall-clock bound for the whole run; on expiry the run ends with CLI_TIMEOUT. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * What the backend does once the run has succeeded, before it reports the result, in the run's own round trip (on
   * Modal inside the same sandbox request: a turn costs one round trip, not three). The answers come back in
   * `AgentResult.after`. A run that fails (an error, a cancel, a timeout) does neither: nothing is committed.
   */
  after?: AfterRun;
}

export interface AfterRun {
  /**
   * Commit the project (as `git.commit`: stages everything; initialises the repository if needed) with the message
   * `runCommitMessage(subject, <the CLI's result line>)` (runtime-core, agent/after-run.ts): the subject, a blank
   * line, the agent's final reply (at most 2000 characters). The rule lives once and runs where the run ends.
   * `subject`: one line, 1 to 200 characters, no control characters.
   */
  commit?: { subject: string };
  /** Project files to read after the run (and its commit), as `files.readText` would: at most 8 paths. */
  read?: string[];
}

export interface AfterRunResult {
  /** The commit (as `git.commit` answers), with the message it got. */
  commit?: CommitResult & { message: string };
  /** Each path asked for (as given) → its text; null when it is not there to read (missing, a directory, outside). */
  files?: Record<string, string | null>;
}

/** What a tool handler is told about the call. */
export interface AgentToolCall {
  /** Aborted when the run ends (or the agent hangs up on the call). */
  signal: AbortSignal;
}

/** A tool the agent can call. Its answer goes back to the agent as text; a throw becomes an error result. */
export interface AgentTool {
  /** `[a-z][a-z0-9_]{0,47}`, unique in the run. */
  name: string;
  /** What the model reads to decide when to call it. */
  description: string;
  /** JSON Schema of the input (`type: 'object'`). */
  inputSchema: Record<string, unknown>;
  handler(input: Record<string, unknown>, call: AgentToolCall): Promise<string | { text: string; isError?: boolean }>;
}

/**
 * A running agent. Iterate it for events (sequence-numbered, exactly one terminal `result` or `error`);
 * `result` settles with the final AgentResult or rejects with the terminal error.
 */
export interface AgentRun extends AsyncIterable<AgentEvent> {
  readonly runId: string;
  readonly result: Promise<AgentResult>;
}

// ---------------------------------------------------------------- media

export type ImageStyle = 'pixel' | 'anime' | 'kawaii' | 'realistic' | 'watercolor' | 'flat';

export interface GenerateImageRequest {
  scope: UserScope;
  prompt: string;
  style?: ImageStyle;
  /** Output size in pixels (default 512×512). */
  width?: number;
  height?: number;
  /** Key out the background (default true). */
  transparent?: boolean;
  /** Base name for the alias (default: derived from the prompt). */
  name?: string;
  signal?: AbortSignal;
}

export interface AssetRef {
  /** Path inside the user's asset space. */
  path: string;
  alias: string;
  mimeType: string;
  size: number;
  width: number;
  height: number;
  sha256: string;
}

export interface RenderVideoRequest {
  scope: ProjectScope;
  width?: number;
  height?: number;
  fps?: number;
  durationSeconds?: number;
  title?: string;
  signal?: AbortSignal;
  onProgress?: (progress: { percent: number; stage: string }) => void;
}

export interface RenderVideoResult {
  movie: FileEntry;
  thumbnail: FileEntry;
  durationMs: number;
  frames: number;
}

// ---------------------------------------------------------------- game check

export interface CheckGameRequest {
  scope: ProjectScope;
  signal?: AbortSignal;
  /** Also return a picture of the running game (`picture`): the thumbnail taken at publish. */
  picture?: boolean;
}

/** One look at the game, as a player would have it: loaded headless, left alone, given a key, given a tap. */
export interface GameCheckResult {
  /** loads, no errors, draws, and answers a key press or a tap. */
  passed: boolean;
  checks: {
    /** index.html loaded (HTTP 200) and its load event fired. */
    loads: boolean;
    /** No uncaught exception and no console error (a missing file the game asks for is one). */
    noErrors: boolean;
    /** Something other than one flat colour is on screen. */
    draws: boolean;
    /** The picture changes over time without input. */
    animates: boolean;
    /** The picture after key presses differs from the picture without them (same virtual time). */
    respondsToKeys: boolean;
    /** The same for a tap. */
    respondsToTap: boolean;
  };
  /** Uncaught errors and console errors, deduplicated, first line each (at most 10). */
  errors: string[];
  durationMs: number;
  /** Only when asked for: the game as a player sees it after the key presses (WebP, the check's portrait frame). */
  picture?: Uint8Array;
}

// ---------------------------------------------------------------- the backend

export interface Capabilities {
  files: { supported: boolean; maxFileBytes: number; symlinks: boolean };
  git: { supported: boolean };
  runClaude: { supported: boolean };
  generateImage: { supported: boolean };
  renderVideo: { supported: boolean };
  checkGame: { supported: boolean };
}

export type CapabilityName = keyof Capabilities;

export interface ExecutionBackend {
  /** Short, stable name ("local", "modal", ...). */
  readonly name: string;
  readonly capabilities: Capabilities;
  readonly files: FilesCapability;
  readonly git: GitCapability;
  runClaude(request: RunClaudeRequest): AgentRun;
  generateImage(request: GenerateImageRequest): Promise<AssetRef>;
  renderVideo(request: RenderVideoRequest): Promise<RenderVideoResult>;
  /**
   * Loads the project's game headless (virtual clock, seeded randomness, only the project's files and the user's
   * assets reachable) and reports whether it runs: errors, drawing, motion, answers to a key and a tap. Game code
   * runs where the backend runs games (a sandbox on Modal), never in the caller's process. NOT_FOUND without index.html.
   */
  checkGame(request: CheckGameRequest): Promise<GameCheckResult>;
  /** Gets a user's execution environment ready ahead of the first call (a no-op where there is nothing to warm). */
  prewarm(scope: UserScope): Promise<void>;
  /** Releases processes, sandboxes and browsers. The backend is unusable afterwards. */
  close(): Promise<void>;
}
