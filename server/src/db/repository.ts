/**
 * The database as the server sees it: plain camelCase objects, ISO-8601 timestamps, typed errors. No SQL, no
 * supabase-js types. Two implementations: `pglite.ts` (embedded, the default) and `supabase.ts` (production).
 *
 * Two access levels, as in DreamCore-V2 (docs/data-model.md):
 * - `forUser(userId, accessToken)` — row-level security does the isolation. Another user's row is simply not there:
 *   lookups give `null`, updates and deletes give `null` / `false`, and inserting on another user's behalf fails with
 *   `ACCESS_DENIED`. The server's ownership guards (404 vs 403) sit on top of this.
 * - `service` — the service role (RLS bypassed) for the job manager, quotas, public reads and background work. It
 *   has every user-level method too; there the explicit arguments (`userId`, `ownerId`) are the only filter.
 *
 * Errors are `BackendError`s from runtime-core: `CONFLICT` (unique violation: a second active job for a project, a
 * duplicate job-event sequence number, an alias or e-mail in use), `ACCESS_DENIED` (RLS refused a write, or the
 * access token was rejected — its message then contains "expired" when it had), `NOT_FOUND` (a referenced row is
 * missing), `INVALID_ARGUMENT` (malformed id, check constraint), `UNAVAILABLE` (database unreachable), `INTERNAL`.
 */

export type ChatRole = 'user' | 'assistant' | 'system';
export type JobStatus = 'pending' | 'processing' | 'completed' | 'failed' | 'cancelled';
export type Visibility = 'public' | 'unlisted' | 'private';
export type RemixSetting = 'allowed' | 'disallow';
export type Plan = 'free' | 'pro' | 'team';
export type QuotaField = 'projects_created' | 'messages_sent';

export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = ['pending', 'processing'];

export interface UserRecord {
  id: string;
  email: string;
  displayName: string | null;
  avatarUrl: string | null;
  bio: string | null;
  socialLinks: Record<string, unknown> | null;
  username: string | null;
  publicId: string;
  createdAt: string;
  updatedAt: string;
}

/** A user as anyone sees them on their profile page. */
export type PublicProfile = Pick<UserRecord, 'id' | 'username' | 'displayName' | 'avatarUrl' | 'bio' | 'publicId' | 'createdAt'>;

export const USER_PUBLIC_ID_PATTERN = /^u_[0-9A-Za-z]{10}$/;
export const USERNAME_PATTERN = /^[a-z0-9_]{3,20}$/;

export interface EnsureUserInput {
  id: string;
  email: string;
  displayName?: string | null;
}

export interface ProjectRecord {
  id: string;
  userId: string;
  name: string;
  isPublic: boolean;
  remixedFrom: string | null;
  publicId: string;
  isInitialized: boolean;
  /** The Claude CLI session to resume on the next message (null: start a new one). */
  agentSessionId: string | null;
  createdAt: string;
  updatedAt: string;
}

/** ProjectSummary in docs/protocol.md (already camelCase on the wire). */
export interface ProjectSummary {
  id: string;
  name: string;
  /** From the publish draft; '' when there is none. */
  description: string;
  isPublic: boolean;
  remixedFrom: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CreateProjectOptions {
  remixedFrom?: string | null;
  isInitialized?: boolean;
}

export interface ChatRecord {
  id: string;
  projectId: string;
  role: ChatRole;
  message: string;
  createdAt: string;
}

export interface JobRecord {
  id: string;
  userId: string;
  projectId: string;
  status: JobStatus;
  progress: number;
  progressMessage: string | null;
  /** JSON-encoded, as V2 stored it. */
  result: string | null;
  error: string | null;
  /** Stable failure code (`CLI_TIMEOUT`, `SERVER_RESTART`, …). */
  errorCode: string | null;
  recoverable: boolean | null;
  costUsd: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  wallMs: number | null;
  sandboxMs: number | null;
  /** The agent session this run produced. */
  sessionId: string | null;
  /** The job's last game check, JSON-encoded (GameCheckResult plus `attempt`); null when none ran. */
  gameCheck: string | null;
  /** Automatic repair turns the agent was given after a failed check. */
  repairTurns: number;
  /** Images the agent made during the job. */
  imagesGenerated: number;
  /** The id the app gave the chat message that started it (null: sent without one); one job per id and user. */
  clientMessageId: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Fields `updateJob` may change; absent fields are left alone, `null` clears. */
export type JobPatch = Partial<
  Pick<
    JobRecord,
    | 'status'
    | 'progress'
    | 'progressMessage'
    | 'result'
    | 'error'
    | 'errorCode'
    | 'recoverable'
    | 'costUsd'
    | 'inputTokens'
    | 'outputTokens'
    | 'wallMs'
    | 'sandboxMs'
    | 'sessionId'
    | 'gameCheck'
    | 'repairTurns'
    | 'imagesGenerated'
  >
>;

export interface JobEventInput {
  jobId: string;
  seq: number;
  type: string;
  payload: unknown;
}

export interface JobEventRecord extends JobEventInput {
  createdAt: string;
}

export interface AssetRecord {
  id: string;
  ownerId: string | null;
  alias: string;
  /** The stored file name (`{aliasBase}_{sha8}{ext}`). */
  filename: string | null;
  /** The name the user uploaded (what the API calls `filename`). */
  originalName: string | null;
  storagePath: string | null;
  mimeType: string | null;
  size: number | null;
  hash: string;
  hashShort: string;
  isPublic: boolean;
  isDeleted: boolean;
  isGlobal: boolean;
  category: string | null;
  isRemixAllowed: boolean | null;
  originalAssetId: string | null;
  createdInProjectId: string | null;
  availableFrom: string | null;
  availableUntil: string | null;
  tags: string | null;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AssetWithProjects extends AssetRecord {
  /** Projects that use the asset (only those the caller can see). */
  projects: { id: string; name: string }[];
}

export interface NewAsset {
  ownerId: string;
  alias: string;
  hash: string;
  filename?: string | null;
  originalName?: string | null;
  storagePath?: string | null;
  mimeType?: string | null;
  size?: number | null;
  /** V2's database default is false but its upload route always wrote true. */
  isPublic?: boolean;
  category?: string | null;
  isRemixAllowed?: boolean | null;
  originalAssetId?: string | null;
  createdInProjectId?: string | null;
  tags?: string | null;
  description?: string | null;
}

export interface AssetMetaPatch {
  tags?: string | null;
  description?: string | null;
  /** The name shown (what the API calls `filename`), 1–200 characters; the alias, the asset's address, stays. */
  originalName?: string;
}

export interface PublishDraft {
  projectId: string;
  title: string | null;
  description: string | null;
  howToPlay: string | null;
  tags: string[];
  visibility: Visibility;
  remix: RemixSetting;
  thumbnailUrl: string | null;
  updatedAt: string;
}

/** A draft is saved whole (V2's PUT): absent fields become null / [] / the defaults 'public' and 'allowed'. */
export interface DraftInput {
  title?: string | null;
  description?: string | null;
  howToPlay?: string | null;
  tags?: string[];
  visibility?: Visibility;
  remix?: RemixSetting;
  thumbnailUrl?: string | null;
}

export interface PublishFields {
  title: string;
  /** The project version players get (a full 40-hex commit hash); null serves the project's current files. */
  commitHash?: string | null;
  description?: string | null;
  howToPlay?: string | null;
  tags?: string[];
  visibility?: Visibility;
  allowRemix?: boolean;
  thumbnailUrl?: string | null;
}

export interface PublishedGameRecord {
  id: string;
  /** `g_` + 10 characters: the id in public URLs. */
  publicId: string;
  projectId: string;
  userId: string;
  title: string;
  description: string | null;
  howToPlay: string | null;
  tags: string[];
  thumbnailUrl: string | null;
  visibility: Visibility;
  allowRemix: boolean;
  playCount: number;
  likeCount: number;
  publishedAt: string;
  updatedAt: string;
  /** The snapshot players get; null for a game published before snapshots (it serves the current files). */
  commitHash: string | null;
  /** When the owner hid it (null while live). Publishing again brings it back with the same publicId and counts. */
  unpublishedAt: string | null;
  /** Joined on public reads (`getPublicGame`, `listPublicGames`); absent elsewhere. */
  project?: { id: string; name: string } | null;
  author?: { displayName: string | null; avatarUrl: string | null } | null;
}

export interface QuotaUsage {
  projectsCreated: number;
  messagesSent: number;
}

export interface QuotaConsumeResult {
  allowed: boolean;
  /** After the increment when allowed; the count that blocked it when not. */
  currentCount: number;
}

export interface ActivityInput {
  userId: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  details?: string | null;
}

export interface AuthUserRecord {
  id: string;
  email: string;
  passwordHash: string | null;
  meta: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export type NotificationType = 'project' | 'system' | 'social';

/** A notice in the user's list (V2's fields, plus `event`/`params` for the app to say it in its current language). */
export interface NotificationRecord {
  id: string;
  userId: string;
  type: NotificationType;
  title: string | null;
  message: string;
  icon: string;
  projectId: string | null;
  jobId: string | null;
  /** What happened (`generation.completed`, `movie.failed`, …): the catalogue's key for it. */
  event: string | null;
  params: Record<string, string>;
  read: boolean;
  readAt: string | null;
  createdAt: string;
}

export interface NewNotification {
  userId: string;
  type?: NotificationType;
  title?: string | null;
  message: string;
  icon?: string;
  projectId?: string | null;
  jobId?: string | null;
  event?: string | null;
  params?: Record<string, string>;
  /** Stored already read (its user saw the job end). */
  read?: boolean;
}

export interface NotificationPage {
  notifications: NotificationRecord[];
  /** How many the user has of this type (all pages). */
  total: number;
  /** Unread, of every type. */
  unreadCount: number;
}

export interface PushSubscriptionRecord {
  id: string;
  userId: string;
  endpoint: string;
  /** The browser's P-256 public key and auth secret (base64url), RFC 8291. */
  p256dh: string;
  auth: string;
  userAgent: string | null;
  /** The language its notifications are written in (the app's, when it subscribed). */
  language: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export type NewPushSubscription = Pick<PushSubscriptionRecord, 'userId' | 'endpoint' | 'p256dh' | 'auth' | 'language'> & { userAgent?: string | null };

/**
 * What may change about a user. A signed-in user changes their display name themselves; the username and the avatar
 * only through the service role (migration 008: the server checks them first), so a user-scoped `updateUser` naming
 * either fails `ACCESS_DENIED`.
 */
export interface UserPatch {
  /** 1–50 characters once trimmed; null clears it. */
  displayName?: string | null;
  /** `USERNAME_PATTERN`; unique (`CONFLICT`); null clears it. Service role only. */
  username?: string | null;
  /** Service role only. */
  avatarUrl?: string | null;
}

export interface UserRepository {
  getUser(id: string): Promise<UserRecord | null>;
  /** null when there is no such user the caller may change (under RLS: anyone but themselves). An empty patch reads. */
  updateUser(id: string, patch: UserPatch): Promise<UserRecord | null>;

  /** ProjectSummary[] ordered by updatedAt, newest first. */
  listProjects(userId: string): Promise<ProjectSummary[]>;
  getProject(id: string): Promise<ProjectRecord | null>;
  createProject(userId: string, name?: string, options?: CreateProjectOptions): Promise<ProjectRecord>;
  renameProject(id: string, name: string): Promise<ProjectRecord | null>;
  deleteProject(id: string): Promise<boolean>;
  /** Moves the project to the top of the list. `addChat` does this itself. */
  touchProject(id: string): Promise<boolean>;
  markInitialized(id: string): Promise<boolean>;
  setAgentSession(id: string, sessionId: string | null): Promise<boolean>;

  /** Also touches the project (a database trigger). */
  addChat(projectId: string, role: ChatRole, message: string): Promise<ChatRecord>;
  /** The latest `limit` (default 50) messages, oldest first. */
  latestChat(projectId: string, limit?: number): Promise<ChatRecord[]>;

  getJob(id: string): Promise<JobRecord | null>;
  /** Newest first. */
  listJobs(projectId: string, limit?: number): Promise<JobRecord[]>;
  /** The pending/processing job of the project, if any (the database allows at most one). */
  activeJobForProject(projectId: string): Promise<JobRecord | null>;
  /** The project's job started by the chat message with this id (the app's), whatever its status; null if none. */
  jobForMessage(projectId: string, clientMessageId: string): Promise<JobRecord | null>;
  /** Every event with seq > afterSeq, in seq order (-1 for all). */
  jobEventsSince(jobId: string, afterSeq: number): Promise<JobEventRecord[]>;

  createAsset(input: NewAsset): Promise<AssetRecord>;
  /** The owner's assets that are not deleted, newest first, with the projects using each. */
  listAssets(ownerId: string): Promise<AssetWithProjects[]>;
  /** Not deleted; under RLS also only when the caller owns it or it is public / an available global asset. */
  getAsset(id: string): Promise<AssetRecord | null>;
  updateAsset(id: string, patch: AssetMetaPatch): Promise<AssetRecord | null>;
  setAssetPublic(id: string, isPublic: boolean): Promise<AssetRecord | null>;
  /** Idempotent. */
  linkAsset(projectId: string, assetId: string, usageType?: string): Promise<void>;
  /** A non-deleted asset by its public address `(ownerId, alias)`. */
  assetByAlias(ownerId: string, alias: string): Promise<AssetRecord | null>;

  getDraft(projectId: string): Promise<PublishDraft | null>;
  upsertDraft(projectId: string, draft: DraftInput): Promise<PublishDraft>;
  /**
   * Creates or updates the project's one game and makes it live: a republish (also after unpublish) keeps its
   * publicId, publishedAt and counters.
   */
  publishGame(projectId: string, userId: string, fields: PublishFields): Promise<PublishedGameRecord>;
  /** The project's game; a hidden (unpublished) one only for its owner, with `unpublishedAt` set. */
  getPublished(projectId: string): Promise<PublishedGameRecord | null>;
  /** Hides the live game (its row, address and counts are kept for a republish). false when none was live. */
  unpublish(projectId: string): Promise<boolean>;
  /** The user's live games, any visibility, newest first. */
  listMyGames(userId: string): Promise<PublishedGameRecord[]>;

  /** Newest first; `limit` is capped at 100. */
  listNotifications(userId: string, options?: { limit?: number; offset?: number; type?: NotificationType }): Promise<NotificationPage>;
  unreadNotificationCount(userId: string): Promise<number>;
  /** false when there is no such notification the caller may change. Marking a read one again changes nothing. */
  markNotificationRead(id: string): Promise<boolean>;
  /** Returns how many were unread. */
  markAllNotificationsRead(userId: string): Promise<number>;
}

export interface JobLease {
  /** The instance that runs the job. */
  owner: string;
  ms: number;
}

export type JobAdmission =
  { kind: 'started'; job: JobRecord } | { kind: 'existing'; job: JobRecord } | { kind: 'user-limit'; running: JobRecord[] } | { kind: 'system-limit' };

/** The service role: RLS bypassed. */
export interface ServiceRepository extends UserRepository {
  /** Creates the users row when missing (normally the sign-up trigger has); returns it. */
  ensureUser(input: EnsureUserInput): Promise<UserRecord>;

  /** A pending job. `CONFLICT` when the project already has a pending/processing one. */
  createJob(userId: string, projectId: string): Promise<JobRecord>;
  updateJob(id: string, patch: JobPatch): Promise<JobRecord | null>;
  /** `CONFLICT` when (jobId, seq) exists. */
  appendJobEvent(jobId: string, seq: number, type: string, payload: unknown): Promise<void>;
  /** Every event after each job's seq, several jobs in one round trip, in (job, seq) order. */
  jobEventsAfter(after: readonly { jobId: string; seq: number }[]): Promise<JobEventRecord[]>;
  /** Several events, of one job or many, in one round trip (all or none). */
  appendJobEvents(events: readonly JobEventInput[]): Promise<void>;
  /**
   * Direct Postgres only (several instances): `appendJobEvents(events)` and `jobEventsAfter(after)` in one statement,
   * one round trip; the read sees what was committed before it began, so none of `events`.
   */
  appendJobEventsAndRead?(events: readonly JobEventInput[], after: readonly { jobId: string; seq: number }[]): Promise<JobEventRecord[]>;
  /** At boot: every pending/processing job → failed, errorCode SERVER_RESTART, recoverable. Returns how many. */
  failInterruptedJobs(reason: string): Promise<number>;
  /**
   * Admission in one atomic step across every instance on this database (migration 007's `admit_job`): the
   * project's active job, or the user's active jobs when they have `limits.perUser`, or the service full at
   * `limits.total`, or a new pending job leased to `lease.owner` for `lease.ms`. With `clientMessageId` (migration
   * 012), the job that message already started comes first, whatever its status: one job per message.
   */
  admitJob(
    userId: string,
    projectId: string,
    limits: { perUser: number; total: number },
    lease: JobLease,
    clientMessageId?: string | null,
  ): Promise<JobAdmission>;
  /** The heartbeat: renews the lease of every active job `lease.owner` holds; returns their ids. */
  renewLeases(lease: JobLease): Promise<string[]>;

  /** Every alias the owner has used, deleted assets included (an alias is never reused). */
  aliasesOf(ownerId: string): Promise<string[]>;
  /** false when not found or already deleted. */
  softDeleteAsset(id: string): Promise<boolean>;

  /** By UUID or `g_…` public id; live public and unlisted games only; with project and author joined. */
  getPublicGame(idOrPublicId: string): Promise<PublishedGameRecord | null>;
  /** Live public games, newest first, with project and author joined. `limit` is capped at 100. `byUser`: one author's. */
  listPublicGames(limit?: number, offset?: number, byUser?: string): Promise<PublishedGameRecord[]>;
  /** A project's live public or unlisted game (with joins), or null: where a remix came from. */
  getGameOfProject(projectId: string): Promise<PublishedGameRecord | null>;
  /** Live public games made by remixing `projectId`, newest first (at most 100). */
  listRemixes(projectId: string): Promise<PublishedGameRecord[]>;
  /** What anyone may see of a user (no e-mail), by UUID, `u_…` public id or username; null when there is none. */
  getPublicProfile(key: { id: string } | { username: string }): Promise<PublicProfile | null>;
  /** One play, atomically; false when no live public/unlisted game has that id. */
  incrementPlayCount(gameId: string): Promise<boolean>;

  /** Atomic check-and-increment for today (UTC). `limit` < 0 means unlimited. */
  tryConsumeQuota(userId: string, field: QuotaField, limit: number): Promise<QuotaConsumeResult>;
  getQuota(userId: string): Promise<QuotaUsage>;
  /** subscriptions.plan when status is 'active', else 'free'. */
  planOf(userId: string): Promise<Plan>;

  logActivity(entry: ActivityInput): Promise<void>;

  /** null when the job already has its notification (a job ends once, however often that is reported). */
  createNotification(input: NewNotification): Promise<NotificationRecord | null>;
  /** Creates or replaces the endpoint's subscription; an endpoint another user had becomes this user's. */
  savePushSubscription(input: NewPushSubscription): Promise<PushSubscriptionRecord>;
  pushSubscriptionsOf(userId: string): Promise<PushSubscriptionRecord[]>;
  /** false when the user had no such endpoint. */
  deletePushSubscription(userId: string, endpoint: string): Promise<boolean>;
  /** A push was accepted: `last_used_at`. */
  touchPushSubscription(id: string): Promise<void>;
}

/**
 * The embedded auth server's store (PGlite only; with Supabase, GoTrue keeps users and sessions). Refresh tokens
 * are stored as hashes; the caller hashes.
 */
export interface AuthStore {
  /** E-mail is matched case-insensitively and stored lower-cased. `CONFLICT` when it is taken. */
  createAuthUser(email: string, passwordHash: string | null, meta?: Record<string, unknown>): Promise<AuthUserRecord>;
  authUserByEmail(email: string): Promise<AuthUserRecord | null>;
  authUserById(id: string): Promise<AuthUserRecord | null>;
  /** `parent`: the hash of the token this one replaces (rotation), which puts it in the same family. */
  storeRefreshToken(tokenHash: string, userId: string, expiresAt: Date | string, parent?: string | null): Promise<void>;
  /**
   * Single use: a valid token is revoked and its user returned. An unknown or expired token gives null. A token
   * that was already used gives null and revokes its whole family (someone is replaying a stolen token).
   */
  useRefreshToken(tokenHash: string): Promise<AuthUserRecord | null>;
  /** Sign-out everywhere. Returns how many tokens were revoked. */
  revokeUserTokens(userId: string): Promise<number>;
  /** Keeps a one-time secret (by its hash) until `expiresAt`; expired ones are pruned on the way. */
  storeOneTimeToken(tokenHash: string, kind: OneTimeTokenKind, payload: Record<string, unknown>, expiresAt: Date): Promise<void>;
  /** Uses a one-time secret: its payload once, then null (also for an unknown, expired or other-kind secret). */
  useOneTimeToken(tokenHash: string, kind: OneTimeTokenKind): Promise<Record<string, unknown> | null>;
  /** The user an external identity (Google's subject) belongs to, or null. */
  userByIdentity(provider: string, providerId: string): Promise<AuthUserRecord | null>;
  /** Links an external identity to a user (again: nothing changes). */
  linkIdentity(provider: string, providerId: string, userId: string): Promise<void>;
}

export type OneTimeTokenKind = 'magiclink' | 'oauth_state';

/** A running instance of the server, as the others see it (migration 007's `server_instances`). */
export interface InstanceRecord {
  id: string;
  backend: string;
  host: string;
  dataDir: string;
  startedAt: string;
  expiresAt: string;
}

/**
 * What several instances need from one database besides rows: only a direct connection has it (LISTEN/NOTIFY and
 * transactions are not reachable through a REST API), so only `postgres.ts` provides it.
 */
export interface Coordination {
  /** Calls `onPayload` for every notification on `channel` (after the listen is in place). Returns the stop. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Fails every active job whose lease ran out (or that never had one) in one transaction, `SERVER_RESTART`,
   * recoverable, and appends the terminal event `event(job)` builds at the job's next seq (notified like any event).
   * Concurrent sweeps of several instances skip each other's rows. Returns the jobs failed.
   */
  failExpiredJobs(reason: string, event: (job: JobRecord) => { type: string; payload: unknown }): Promise<JobRecord[]>;
  /** Registers (or refreshes) this instance for `ms`; renewLeases keeps it alive. */
  registerInstance(instance: Omit<InstanceRecord, 'startedAt' | 'expiresAt'>, ms: number): Promise<void>;
  /** Instances whose registration has not run out, this one included. */
  liveInstances(): Promise<InstanceRecord[]>;
  removeInstance(id: string): Promise<void>;
  /** The value stored under `name`, storing `create()` first when there is none (the first instance wins). */
  sharedSecret(name: string, create: () => Promise<string> | string): Promise<string>;
  /** A fixed-window counter per key shared by every instance: false when `key` is at `limit` in this window. */
  takeRateLimit(key: string, limit: number, windowMs: number): Promise<boolean>;
  /**
   * The project's promo render for `owner` (migration 010), in one statement: taken when there is none, or the one
   * there has ended or belongs to an instance no longer live; otherwise `claimed: false` and the render that is on.
   */
  claimRender(projectId: string, owner: string): Promise<{ claimed: boolean; render: RenderRecord }>;
  /** `owner`'s render of the project, changed by `patch`; with `whileRendering`, only a render not yet ended. */
  updateRender(projectId: string, owner: string, patch: RenderPatch, options?: { whileRendering?: boolean }): Promise<void>;
  /** The project's latest render (one whose owner is no longer live reads as failed, `SERVER_RESTART`), or null. */
  getRender(projectId: string): Promise<RenderRecord | null>;
  /** Whether a socket of the user on instance `instanceId` is visible and was just heard from (migration 011). */
  markPresence(userId: string, instanceId: string, visible: boolean): Promise<void>;
  /** Whether another live instance than `instanceId` last said the user's socket there was visible, within `windowMs` before `at` (ms). */
  watchingElsewhere(userId: string, instanceId: string, at: number, windowMs: number): Promise<boolean>;
}

/** A promo-video render's state (server/src/renders.ts). */
export interface RenderRecord {
  status: 'rendering' | 'done' | 'failed';
  percent: number;
  stage: string;
  error?: string;
  code?: string;
  /** The HTTP status a failed render's `POST …/generate-movie?wait=true` answers with. */
  httpStatus?: number;
  /** Seconds. */
  duration?: number;
  startedAt: string;
  finishedAt?: string;
}

export type RenderPatch = Partial<Omit<RenderRecord, 'startedAt'>>;

/** NOTIFY channel of job events: payload `jobId:lastSeq` (the rows are read by seq). */
export const JOB_EVENTS_CHANNEL = 'dreamcore_job_events';
/** NOTIFY channel of cancels for a job another instance runs: payload the job id. */
export const JOB_CANCEL_CHANNEL = 'dreamcore_job_cancel';
/** NOTIFY channel of a user's notices, for their sockets on other instances: payload `{from, userId, message}`. */
export const USER_NOTICES_CHANNEL = 'dreamcore_user_notices';

export interface Database {
  readonly kind: 'pglite' | 'supabase' | 'postgres';
  /**
   * A user-scoped repository. PGlite puts `userId` in the JWT claims itself; Supabase needs the caller's access
   * token (already verified by the server) and takes the user from it.
   */
  forUser(userId: string, accessToken?: string): UserRepository;
  readonly service: ServiceRepository;
  /** The embedded auth store; null on Supabase. */
  readonly auth: AuthStore | null;
  /** What several instances share (a direct Postgres connection); null when this database serves one instance. */
  readonly coordination: Coordination | null;
  close(): Promise<void>;
}

export const GAME_PUBLIC_ID_PATTERN = /^g_[0-9A-Za-z]{10}$/;
export const MAX_PUBLIC_GAMES_PAGE = 100;
/** The failure code `failInterruptedJobs` writes. */
export const SERVER_RESTART_CODE = 'SERVER_RESTART';
