/**
 * Row mapping and error mapping shared by both implementations. PGlite and PostgREST return the same snake_case
 * columns but different value types (PGlite: Date for timestamptz, string for numeric; PostgREST: JSON strings and
 * numbers), so every value goes through a normaliser here and both implementations produce identical objects.
 */
import { createError, UUID_PATTERN, type BackendError } from '@dreamcore/runtime-core';
import { MAX_PUBLIC_GAMES_PAGE, SERVER_RESTART_CODE, USER_PUBLIC_ID_PATTERN, USERNAME_PATTERN } from './repository.js';
import type {
  AssetMetaPatch,
  AssetRecord,
  AssetWithProjects,
  AuthUserRecord,
  ChatRecord,
  ChatRole,
  DraftInput,
  JobAdmission,
  JobEventRecord,
  JobPatch,
  JobRecord,
  JobStatus,
  NewAsset,
  NewNotification,
  NotificationRecord,
  NotificationType,
  UserPatch,
  ProjectRecord,
  PushSubscriptionRecord,
  RenderRecord,
  ProjectSummary,
  PublishDraft,
  PublishFields,
  PublishedGameRecord,
  PublicProfile,
  RemixSetting,
  UserRecord,
  Visibility,
} from './repository.js';

export type Row = Record<string, unknown>;

function iso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') {
    const date = new Date(value);
    if (!Number.isNaN(date.getTime())) return date.toISOString();
  }
  throw createError('INTERNAL', `expected a timestamp, got ${String(value)}`);
}

function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : iso(value);
}

function str(value: unknown): string {
  return String(value);
}

function strOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function boolOrNull(value: unknown): boolean | null {
  return value === null || value === undefined ? null : Boolean(value);
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** PostgREST embeds a to-one relation as an object, and older versions (or a to-many guess) as an array. */
function one(value: unknown): Row | null {
  if (Array.isArray(value)) return (value[0] as Row | undefined) ?? null;
  return value && typeof value === 'object' ? (value as Row) : null;
}

export function toUser(row: Row): UserRecord {
  return {
    id: str(row.id),
    email: str(row.email),
    displayName: strOrNull(row.display_name),
    avatarUrl: strOrNull(row.avatar_url),
    bio: strOrNull(row.bio),
    socialLinks: (row.social_links as Record<string, unknown> | null) ?? null,
    username: strOrNull(row.username),
    publicId: str(row.public_id),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function toPublicProfile(row: Row): PublicProfile {
  return {
    id: str(row.id),
    username: strOrNull(row.username),
    displayName: strOrNull(row.display_name),
    avatarUrl: strOrNull(row.avatar_url),
    bio: strOrNull(row.bio),
    publicId: str(row.public_id),
    createdAt: iso(row.created_at),
  };
}

/** The column a public-profile key is looked up by, or null when the key cannot name anyone. */
export function profileLookup(key: { id: string } | { username: string }): { column: 'id' | 'public_id' | 'username'; value: string } | null {
  if ('username' in key) {
    const name = key.username.toLowerCase();
    return USERNAME_PATTERN.test(name) ? { column: 'username', value: name } : null;
  }
  if (UUID_PATTERN.test(key.id)) return { column: 'id', value: key.id };
  return USER_PUBLIC_ID_PATTERN.test(key.id) ? { column: 'public_id', value: key.id } : null;
}

export function toProject(row: Row): ProjectRecord {
  return {
    id: str(row.id),
    userId: str(row.user_id),
    name: str(row.name),
    isPublic: Boolean(row.is_public),
    remixedFrom: strOrNull(row.remixed_from),
    publicId: str(row.public_id),
    isInitialized: Boolean(row.is_initialized),
    agentSessionId: strOrNull(row.agent_session_id),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** `row.draft_description` (SQL join) or `row.publish_drafts.description` (PostgREST embed). */
export function toProjectSummary(row: Row): ProjectSummary {
  const draft = one(row.publish_drafts);
  const description = row.draft_description ?? draft?.description ?? '';
  return {
    id: str(row.id),
    name: str(row.name),
    description: description === null ? '' : String(description),
    isPublic: Boolean(row.is_public),
    remixedFrom: strOrNull(row.remixed_from),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function toChat(row: Row): ChatRecord {
  return {
    id: str(row.id),
    projectId: str(row.project_id),
    role: str(row.role) as ChatRole,
    message: str(row.message),
    createdAt: iso(row.created_at),
  };
}

export function toJob(row: Row): JobRecord {
  return {
    id: str(row.id),
    userId: str(row.user_id),
    projectId: str(row.project_id),
    status: str(row.status) as JobStatus,
    progress: Number(row.progress ?? 0),
    progressMessage: strOrNull(row.progress_message),
    result: strOrNull(row.result),
    error: strOrNull(row.error),
    errorCode: strOrNull(row.error_code),
    recoverable: boolOrNull(row.recoverable),
    costUsd: numOrNull(row.cost_usd),
    inputTokens: numOrNull(row.input_tokens),
    outputTokens: numOrNull(row.output_tokens),
    wallMs: numOrNull(row.wall_ms),
    sandboxMs: numOrNull(row.sandbox_ms),
    sessionId: strOrNull(row.session_id),
    gameCheck: strOrNull(row.game_check),
    repairTurns: Number(row.repair_turns ?? 0),
    imagesGenerated: Number(row.images_generated ?? 0),
    clientMessageId: strOrNull(row.client_message_id),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

const JOB_PATCH_COLUMNS: Record<keyof JobPatch, string> = {
  status: 'status',
  progress: 'progress',
  progressMessage: 'progress_message',
  result: 'result',
  error: 'error',
  errorCode: 'error_code',
  recoverable: 'recoverable',
  costUsd: 'cost_usd',
  inputTokens: 'input_tokens',
  outputTokens: 'output_tokens',
  wallMs: 'wall_ms',
  sandboxMs: 'sandbox_ms',
  sessionId: 'session_id',
  gameCheck: 'game_check',
  repairTurns: 'repair_turns',
  imagesGenerated: 'images_generated',
};

/** The patch as column → value, skipping undefined (absent) fields. Unknown keys are refused, not ignored. */
export function jobPatchColumns(patch: JobPatch): Row {
  const columns: Row = {};
  for (const [key, value] of Object.entries(patch)) {
    const column = JOB_PATCH_COLUMNS[key as keyof JobPatch];
    if (column === undefined) throw createError('INVALID_ARGUMENT', `unknown job field: ${key}`);
    if (value !== undefined) columns[column] = value;
  }
  return columns;
}

export function toJobEvent(row: Row): JobEventRecord {
  return {
    jobId: str(row.job_id),
    seq: Number(row.seq),
    type: str(row.type),
    payload: row.payload ?? null,
    createdAt: iso(row.created_at),
  };
}

export function toAsset(row: Row): AssetRecord {
  return {
    id: str(row.id),
    ownerId: strOrNull(row.owner_id),
    alias: str(row.alias),
    filename: strOrNull(row.filename),
    originalName: strOrNull(row.original_name),
    storagePath: strOrNull(row.storage_path),
    mimeType: strOrNull(row.mime_type),
    size: numOrNull(row.size),
    hash: str(row.hash),
    hashShort: str(row.hash_short),
    isPublic: Boolean(row.is_public),
    isDeleted: Boolean(row.is_deleted),
    isGlobal: Boolean(row.is_global),
    category: strOrNull(row.category),
    isRemixAllowed: boolOrNull(row.is_remix_allowed),
    originalAssetId: strOrNull(row.original_asset_id),
    createdInProjectId: strOrNull(row.created_in_project_id),
    availableFrom: isoOrNull(row.available_from),
    availableUntil: isoOrNull(row.available_until),
    tags: strOrNull(row.tags),
    description: strOrNull(row.description),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** `row.projects` as a JSON array of {id,name} (SQL) or `row.project_assets[].projects` (PostgREST embed). */
export function toAssetWithProjects(row: Row): AssetWithProjects {
  let projects: { id: string; name: string }[] = [];
  if (Array.isArray(row.projects)) {
    projects = (row.projects as Row[]).map((p) => ({ id: str(p.id), name: str(p.name) }));
  } else if (Array.isArray(row.project_assets)) {
    projects = (row.project_assets as Row[])
      .map((link) => one(link.projects))
      .filter((p): p is Row => p !== null)
      .map((p) => ({ id: str(p.id), name: str(p.name) }));
  }
  return { ...toAsset(row), projects };
}

export function assetColumns(input: NewAsset): Row {
  return {
    owner_id: input.ownerId,
    alias: input.alias,
    hash: input.hash,
    filename: input.filename ?? null,
    original_name: input.originalName ?? null,
    storage_path: input.storagePath ?? null,
    mime_type: input.mimeType ?? null,
    size: input.size ?? null,
    is_public: input.isPublic ?? false,
    category: input.category ?? null,
    is_remix_allowed: input.isRemixAllowed ?? null,
    original_asset_id: input.originalAssetId ?? null,
    created_in_project_id: input.createdInProjectId ?? null,
    tags: input.tags ?? null,
    description: input.description ?? null,
  };
}

/** The columns an asset patch sets (absent fields are left alone). */
export function assetMetaColumns(patch: AssetMetaPatch): Row {
  const columns: Row = {};
  if (patch.tags !== undefined) columns.tags = patch.tags;
  if (patch.description !== undefined) columns.description = patch.description;
  if (patch.originalName !== undefined) columns.original_name = patch.originalName;
  return columns;
}

/** The columns a user patch sets (absent fields are left alone, null clears). */
export function userColumns(patch: UserPatch): Row {
  const columns: Row = {};
  if (patch.displayName !== undefined) columns.display_name = patch.displayName;
  if (patch.username !== undefined) columns.username = patch.username;
  if (patch.avatarUrl !== undefined) columns.avatar_url = patch.avatarUrl;
  return columns;
}

function parseTags(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string' || value === '') return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return []; // V2 wrote this column as a JSON string; anything else is treated as no tags rather than a 500
  }
}

export function toDraft(row: Row): PublishDraft {
  return {
    projectId: str(row.project_id),
    title: strOrNull(row.title),
    description: strOrNull(row.description),
    howToPlay: strOrNull(row.how_to_play),
    tags: parseTags(row.tags),
    visibility: (strOrNull(row.visibility) ?? 'public') as Visibility,
    remix: (strOrNull(row.remix) ?? 'allowed') as RemixSetting,
    thumbnailUrl: strOrNull(row.thumbnail_url),
    updatedAt: iso(row.updated_at),
  };
}

export function draftColumns(projectId: string, draft: DraftInput): Row {
  return {
    project_id: projectId,
    title: draft.title ?? null,
    description: draft.description ?? null,
    how_to_play: draft.howToPlay ?? null,
    tags: JSON.stringify(draft.tags ?? []),
    visibility: draft.visibility ?? 'public',
    remix: draft.remix ?? 'allowed',
    thumbnail_url: draft.thumbnailUrl ?? null,
  };
}

export function toPublishedGame(row: Row): PublishedGameRecord {
  const game: PublishedGameRecord = {
    id: str(row.id),
    publicId: str(row.public_id),
    projectId: str(row.project_id),
    userId: str(row.user_id),
    title: str(row.title),
    description: strOrNull(row.description),
    howToPlay: strOrNull(row.how_to_play),
    tags: stringArray(row.tags),
    thumbnailUrl: strOrNull(row.thumbnail_url),
    visibility: str(row.visibility) as Visibility,
    allowRemix: Boolean(row.allow_remix),
    playCount: Number(row.play_count ?? 0),
    likeCount: Number(row.like_count ?? 0),
    publishedAt: iso(row.published_at),
    updatedAt: iso(row.updated_at),
    commitHash: strOrNull(row.commit_hash),
    unpublishedAt: row.unpublished_at === null || row.unpublished_at === undefined ? null : iso(row.unpublished_at),
  };
  // Joined columns: `project_name` / `author_*` from SQL, `projects` / `users` from a PostgREST embed.
  if ('project_name' in row) {
    game.project = row.project_name === null ? null : { id: game.projectId, name: str(row.project_name) };
  } else if ('projects' in row) {
    const project = one(row.projects);
    game.project = project === null ? null : { id: str(project.id), name: str(project.name) };
  }
  if ('author_display_name' in row) {
    game.author = { displayName: strOrNull(row.author_display_name), avatarUrl: strOrNull(row.author_avatar_url) };
  } else if ('users' in row) {
    const user = one(row.users);
    game.author = user === null ? null : { displayName: strOrNull(user.display_name), avatarUrl: strOrNull(user.avatar_url) };
  }
  return game;
}

export function publishColumns(projectId: string, userId: string, fields: PublishFields): Row {
  return {
    project_id: projectId,
    user_id: userId,
    title: fields.title,
    description: fields.description ?? null,
    how_to_play: fields.howToPlay ?? null,
    tags: fields.tags ?? [],
    thumbnail_url: fields.thumbnailUrl ?? null,
    visibility: fields.visibility ?? 'public',
    allow_remix: fields.allowRemix ?? true,
    commit_hash: fields.commitHash ?? null,
    // Publishing is also what brings a hidden game back.
    unpublished_at: null,
  };
}

export function toAuthUser(row: Row): AuthUserRecord {
  return {
    id: str(row.id),
    email: str(row.email),
    passwordHash: strOrNull(row.encrypted_password),
    meta: (row.raw_user_meta_data as Record<string, unknown> | null) ?? {},
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function toNotification(row: Row): NotificationRecord {
  const params = row.params && typeof row.params === 'object' ? (row.params as Record<string, unknown>) : {};
  return {
    id: str(row.id),
    userId: str(row.user_id),
    type: str(row.type) as NotificationType,
    title: strOrNull(row.title),
    message: str(row.message),
    icon: str(row.icon),
    projectId: strOrNull(row.project_id),
    jobId: strOrNull(row.job_id),
    event: strOrNull(row.event),
    params: Object.fromEntries(Object.entries(params).map(([key, value]) => [key, String(value)])),
    read: Boolean(row.read),
    readAt: isoOrNull(row.read_at),
    createdAt: iso(row.created_at),
  };
}

export function notificationColumns(input: NewNotification): Row {
  return {
    user_id: input.userId,
    type: input.type ?? 'project',
    title: input.title ?? null,
    message: input.message,
    icon: input.icon ?? 'default',
    project_id: input.projectId ?? null,
    job_id: input.jobId ?? null,
    event: input.event ?? null,
    params: input.params ?? {},
    read: input.read ?? false,
    read_at: input.read ? new Date().toISOString() : null,
  };
}

export function toPushSubscription(row: Row): PushSubscriptionRecord {
  return {
    id: str(row.id),
    userId: str(row.user_id),
    endpoint: str(row.endpoint),
    p256dh: str(row.p256dh),
    auth: str(row.auth),
    userAgent: strOrNull(row.user_agent),
    language: str(row.language),
    createdAt: iso(row.created_at),
    lastUsedAt: isoOrNull(row.last_used_at),
  };
}

/** A page size for public lists: 1..MAX_PUBLIC_GAMES_PAGE. */
export function clampLimit(limit: number): number {
  return Math.min(MAX_PUBLIC_GAMES_PAGE, Math.max(1, Math.trunc(limit) || 1));
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * A PostgreSQL (or PostgREST) error as a contract error. `code` is the SQLSTATE, or PostgREST's own `PGRST…` code.
 */
export function databaseError(code: string | undefined, message: string, cause?: unknown): BackendError {
  const options = { cause, details: code ? { dbCode: code } : {} };
  switch (code) {
    case '23505':
      return createError('CONFLICT', message, options);
    case '42501': // insufficient_privilege: what RLS raises when a write's new row fails a policy
      return createError('ACCESS_DENIED', message, options);
    case '23503':
      return createError('NOT_FOUND', `a referenced row does not exist: ${message}`, options);
    case '22P02': // invalid_text_representation (a malformed uuid)
    case '22023':
    case '23502':
    case '23514':
    case '22001':
      return createError('INVALID_ARGUMENT', message, options);
    case 'PGRST301': // JWT expired / invalid
    case 'PGRST302':
    case 'PGRST300':
      return createError('ACCESS_DENIED', message, options);
    case '08000':
    case '08003':
    case '08006':
    case '57P01':
    case 'PGRST000':
    case 'PGRST001':
    case 'PGRST002':
      return createError('UNAVAILABLE', message, options);
    default:
      return createError('INTERNAL', message, options);
  }
}

/** admit_job's answer (its kind and the jobs it names) as the repository returns it. */
export function admissionOf(kind: string, jobs: JobRecord[]): JobAdmission {
  if (kind === 'started' || kind === 'existing') {
    if (!jobs[0]) throw createError('INTERNAL', `admit_job answered ${kind} without a job`);
    return { kind, job: jobs[0] };
  }
  if (kind === 'user-limit') return { kind, running: jobs };
  if (kind === 'system-limit') return { kind };
  throw createError('INTERNAL', `admit_job answered an unknown kind: ${kind}`);
}

/** A movie_renders row (with `alive`: its owner is up); a render whose owner died ended with it. */
export function toRender(row: Row): RenderRecord {
  const render: RenderRecord = {
    status: row.status as RenderRecord['status'],
    percent: Number(row.percent),
    stage: str(row.stage),
    startedAt: iso(row.started_at),
  };
  if (row.error !== null) render.error = str(row.error);
  if (row.code !== null) render.code = str(row.code);
  if (row.http_status !== null) render.httpStatus = Number(row.http_status);
  if (row.duration !== null) render.duration = Number(row.duration);
  if (row.finished_at !== null) render.finishedAt = iso(row.finished_at);
  if (render.status === 'rendering' && row.alive !== true) {
    return {
      ...render,
      status: 'failed',
      code: SERVER_RESTART_CODE,
      error: 'The server rendering the movie stopped',
      httpStatus: 500,
      finishedAt: iso(row.updated_at),
    };
  }
  return render;
}
