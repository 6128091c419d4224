/**
 * The embedded database (the default): PGlite — PostgreSQL compiled to WebAssembly — on disk under a data directory,
 * so a fresh checkout needs no database server.
 *
 * Isolation is done by the same RLS policies as on Supabase, applied the way PostgREST applies them: every user-scoped
 * call is one transaction that first sets `request.jwt.claims` (`{sub, role}`) and the role `authenticated` with
 * `set_config(..., true)` (transaction-local), so `auth.uid()` and the policies see exactly what they see in production.
 * Service calls run as `service_role` (BYPASSRLS). PGlite is one connection: calls are serialised, which is correct
 * under concurrency, just not parallel. It runs on its own worker thread (pglite-thread.ts), so a query never stalls
 * the sockets this process serves.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createError, isBackendError, UUID_PATTERN } from '@dreamcore/runtime-core';
import { PgliteThread } from './pglite-thread.js';
import { acquireLock } from './pglite-lock.js';
import { copyTemplate, isDatabase, isTemplate, publishTemplate, templatePath } from './pglite-template.js';
import { applyMigrations, type MigrateResult } from './migrate.js';
import {
  ACTIVE_JOB_STATUSES,
  GAME_PUBLIC_ID_PATTERN,
  SERVER_RESTART_CODE,
  type ActivityInput,
  type AssetMetaPatch,
  type AssetRecord,
  type AssetWithProjects,
  type AuthStore,
  type AuthUserRecord,
  type ChatRecord,
  type ChatRole,
  type CreateProjectOptions,
  type Database,
  type DraftInput,
  type EnsureUserInput,
  type JobAdmission,
  type JobEventInput,
  type JobEventRecord,
  type JobLease,
  type JobPatch,
  type JobRecord,
  type NewAsset,
  type NewNotification,
  type NewPushSubscription,
  type NotificationPage,
  type NotificationRecord,
  type NotificationType,
  type PushSubscriptionRecord,
  type OneTimeTokenKind,
  type Plan,
  type ProjectRecord,
  type ProjectSummary,
  type PublishDraft,
  type PublishFields,
  type PublicProfile,
  type PublishedGameRecord,
  type QuotaConsumeResult,
  type QuotaField,
  type QuotaUsage,
  type ServiceRepository,
  type UserPatch,
  type UserRecord,
  type UserRepository,
} from './repository.js';
import {
  admissionOf,
  assetColumns,
  assetMetaColumns,
  userColumns,
  clampLimit,
  databaseError,
  draftColumns,
  jobPatchColumns,
  normalizeEmail,
  publishColumns,
  toAsset,
  toAssetWithProjects,
  toAuthUser,
  toPublicProfile,
  profileLookup,
  toChat,
  toDraft,
  toJob,
  toJobEvent,
  notificationColumns,
  toNotification,
  toPushSubscription,
  toProject,
  toProjectSummary,
  toPublishedGame,
  toUser,
  type Row,
} from './rows.js';

export interface PgliteDatabaseOptions {
  /** Where the database lives (created if missing). Omit for an in-memory database that is gone on close. */
  dataDir?: string;
  /** Defaults to the package's `db/migrations`. */
  migrationsDir?: string;
  /**
   * A folder of ready-made, migrated databases. Creating a PGlite database runs initdb inside WebAssembly (8–20 s
   * on a busy machine); copying a template and opening it takes 2–5 s. A new `dataDir` starts as a copy of the
   * template for the current PGlite version and migration files; when there is none yet, the new database is
   * created normally and a copy of it becomes the template. For tests and dev servers that create many databases;
   * an existing `dataDir` is opened as it is. Needs `dataDir` (ignored in memory).
   */
  templateDir?: string;
}

export interface PgliteDatabase extends Database {
  readonly kind: 'pglite';
  readonly auth: AuthStore;
  /** What the open applied (empty `applied` on a database that was up to date). */
  readonly migrations: MigrateResult;
}

type Query = (sql: string, params?: unknown[]) => Promise<Row[]>;
type DbRole = 'authenticated' | 'service_role';

/**
 * What the repositories below need from a connection: PGlite's thread, or a `pg` pool (postgres.ts), which runs the
 * same SQL and policies on a real PostgreSQL.
 */
export interface SqlConnection {
  /** The statements in one transaction; resolves to the last one's rows. */
  transaction(statements: { sql: string; params?: unknown[] }[]): Promise<Row[]>;
  /** A transaction whose statements depend on earlier results. */
  interactive<T>(fn: (query: Query) => Promise<T>): Promise<T>;
}

const ACTIVE_IN = ACTIVE_JOB_STATUSES.map((s) => `'${s}'`).join(', ');
const PUBLISHED_WITH_JOINS = `
  select g.*, p.name as project_name, u.display_name as author_display_name, u.avatar_url as author_avatar_url
  from public.published_games g
  left join public.projects p on p.id = g.project_id
  left join public.users u on u.id = g.user_id`;

export function toBackendError(error: unknown): Error {
  if (isBackendError(error)) return error;
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return databaseError(code, typeof e?.message === 'string' ? e.message : String(error), error);
}

/** Runs each call as one transaction under the given role and claims. */
export class Session {
  private readonly claimsStatement: { sql: string; params: unknown[] };

  constructor(
    private readonly pg: SqlConnection,
    role: DbRole,
    claims: string,
  ) {
    this.claimsStatement = { sql: `select set_config('request.jwt.claims', $1, true), set_config('role', $2, true)`, params: [claims, role] };
  }

  /** A transaction whose later statements depend on earlier results. */
  async tx<T>(fn: (query: Query) => Promise<T>): Promise<T> {
    try {
      return await this.pg.interactive(async (query) => {
        await query(this.claimsStatement.sql, this.claimsStatement.params);
        return fn(query);
      });
    } catch (error) {
      throw toBackendError(error);
    }
  }

  /** One statement in its own transaction: a single round trip to the database thread. */
  async rows(sql: string, params?: unknown[]): Promise<Row[]> {
    try {
      return await this.pg.transaction([this.claimsStatement, { sql, params }]);
    } catch (error) {
      throw toBackendError(error);
    }
  }

  async row(sql: string, params?: unknown[]): Promise<Row | null> {
    return (await this.rows(sql, params))[0] ?? null;
  }
}

/** Placeholders `$first, $first+1, …` for n values. */
function placeholders(n: number, first = 1): string {
  return Array.from({ length: n }, (_, i) => `$${i + first}`).join(', ');
}

export class PgliteUserRepository implements UserRepository {
  constructor(protected readonly db: Session) {}

  async getUser(id: string): Promise<UserRecord | null> {
    const row = await this.db.row('select * from public.users where id = $1', [id]);
    return row && toUser(row);
  }

  async updateUser(id: string, patch: UserPatch): Promise<UserRecord | null> {
    const columns = userColumns(patch);
    const names = Object.keys(columns);
    if (names.length === 0) return this.getUser(id);
    const sets = names.map((name, i) => `${name} = $${i + 2}`);
    const row = await this.db.row(`update public.users set ${sets.join(', ')} where id = $1 returning *`, [id, ...Object.values(columns)]);
    return row && toUser(row);
  }

  async listProjects(userId: string): Promise<ProjectSummary[]> {
    const rows = await this.db.rows(
      `select p.id, p.name, p.is_public, p.remixed_from, p.created_at, p.updated_at, d.description as draft_description
       from public.projects p left join public.publish_drafts d on d.project_id = p.id
       where p.user_id = $1
       order by p.updated_at desc`,
      [userId],
    );
    return rows.map(toProjectSummary);
  }

  async getProject(id: string): Promise<ProjectRecord | null> {
    const row = await this.db.row('select * from public.projects where id = $1', [id]);
    return row && toProject(row);
  }

  async createProject(userId: string, name = 'New Game', options: CreateProjectOptions = {}): Promise<ProjectRecord> {
    const row = await this.db.row(`insert into public.projects (user_id, name, remixed_from, is_initialized) values ($1, $2, $3, $4) returning *`, [
      userId,
      name,
      options.remixedFrom ?? null,
      options.isInitialized ?? false,
    ]);
    return toProject(row!);
  }

  async renameProject(id: string, name: string): Promise<ProjectRecord | null> {
    const row = await this.db.row('update public.projects set name = $2 where id = $1 returning *', [id, name]);
    return row && toProject(row);
  }

  async deleteProject(id: string): Promise<boolean> {
    return (await this.db.rows('delete from public.projects where id = $1 returning id', [id])).length > 0;
  }

  async touchProject(id: string): Promise<boolean> {
    return this.updateProject(id, 'updated_at = now()', []);
  }

  async markInitialized(id: string): Promise<boolean> {
    return this.updateProject(id, 'is_initialized = true', []);
  }

  async setAgentSession(id: string, sessionId: string | null): Promise<boolean> {
    return this.updateProject(id, 'agent_session_id = $2', [sessionId]);
  }

  private async updateProject(id: string, set: string, params: unknown[]): Promise<boolean> {
    const rows = await this.db.rows(`update public.projects set ${set} where id = $1 returning id`, [id, ...params]);
    return rows.length > 0;
  }

  async addChat(projectId: string, role: ChatRole, message: string): Promise<ChatRecord> {
    const row = await this.db.row('insert into public.chat_history (project_id, role, message) values ($1, $2, $3) returning *', [projectId, role, message]);
    return toChat(row!);
  }

  async latestChat(projectId: string, limit = 50): Promise<ChatRecord[]> {
    const rows = await this.db.rows(`select * from public.chat_history where project_id = $1 order by created_at desc, id desc limit $2`, [projectId, limit]);
    return rows.map(toChat).reverse();
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const row = await this.db.row('select * from public.jobs where id = $1', [id]);
    return row && toJob(row);
  }

  async listJobs(projectId: string, limit = 20): Promise<JobRecord[]> {
    const rows = await this.db.rows('select * from public.jobs where project_id = $1 order by created_at desc limit $2', [projectId, limit]);
    return rows.map(toJob);
  }

  async activeJobForProject(projectId: string): Promise<JobRecord | null> {
    const row = await this.db.row(
      `select * from public.jobs where project_id = $1 and status in (${ACTIVE_IN})
       order by created_at desc limit 1`,
      [projectId],
    );
    return row && toJob(row);
  }

  async jobForMessage(projectId: string, clientMessageId: string): Promise<JobRecord | null> {
    const row = await this.db.row('select * from public.jobs where project_id = $1 and client_message_id = $2', [projectId, clientMessageId]);
    return row && toJob(row);
  }

  async jobEventsSince(jobId: string, afterSeq: number): Promise<JobEventRecord[]> {
    const rows = await this.db.rows('select * from public.job_events where job_id = $1 and seq > $2 order by seq', [jobId, afterSeq]);
    return rows.map(toJobEvent);
  }

  async createAsset(input: NewAsset): Promise<AssetRecord> {
    const columns = assetColumns(input);
    const names = Object.keys(columns);
    const row = await this.db.row(`insert into public.assets (${names.join(', ')}) values (${placeholders(names.length)}) returning *`, Object.values(columns));
    return toAsset(row!);
  }

  async listAssets(ownerId: string): Promise<AssetWithProjects[]> {
    const rows = await this.db.rows(
      `select a.*,
         coalesce((select json_agg(json_build_object('id', p.id, 'name', p.name) order by pa.added_at)
                   from public.project_assets pa join public.projects p on p.id = pa.project_id
                   where pa.asset_id = a.id), '[]'::json) as projects
       from public.assets a
       where a.owner_id = $1 and not a.is_deleted
       order by a.created_at desc`,
      [ownerId],
    );
    return rows.map(toAssetWithProjects);
  }

  async getAsset(id: string): Promise<AssetRecord | null> {
    const row = await this.db.row('select * from public.assets where id = $1 and not is_deleted', [id]);
    return row && toAsset(row);
  }

  async updateAsset(id: string, patch: AssetMetaPatch): Promise<AssetRecord | null> {
    const columns = assetMetaColumns(patch);
    const params: unknown[] = [id, ...Object.values(columns)];
    const sets = Object.keys(columns).map((name, i) => `${name} = $${i + 2}`);
    if (sets.length === 0) return this.getAsset(id);
    const row = await this.db.row(`update public.assets set ${sets.join(', ')} where id = $1 and not is_deleted returning *`, params);
    return row && toAsset(row);
  }

  async setAssetPublic(id: string, isPublic: boolean): Promise<AssetRecord | null> {
    const row = await this.db.row('update public.assets set is_public = $2 where id = $1 and not is_deleted returning *', [id, isPublic]);
    return row && toAsset(row);
  }

  async linkAsset(projectId: string, assetId: string, usageType = 'image'): Promise<void> {
    await this.db.rows(
      `insert into public.project_assets (project_id, asset_id, usage_type) values ($1, $2, $3)
       on conflict (project_id, asset_id) do nothing`,
      [projectId, assetId, usageType],
    );
  }

  async assetByAlias(ownerId: string, alias: string): Promise<AssetRecord | null> {
    const row = await this.db.row('select * from public.assets where owner_id = $1 and alias = $2 and not is_deleted', [ownerId, alias]);
    return row && toAsset(row);
  }

  async getDraft(projectId: string): Promise<PublishDraft | null> {
    const row = await this.db.row('select * from public.publish_drafts where project_id = $1', [projectId]);
    return row && toDraft(row);
  }

  async upsertDraft(projectId: string, draft: DraftInput): Promise<PublishDraft> {
    const columns = draftColumns(projectId, draft);
    const names = Object.keys(columns);
    const row = await this.db.row(
      `insert into public.publish_drafts (${names.join(', ')}) values (${placeholders(names.length)})
       on conflict (project_id) do update set
         ${names
           .filter((n) => n !== 'project_id')
           .map((n) => `${n} = excluded.${n}`)
           .join(', ')}
       returning *`,
      Object.values(columns),
    );
    return toDraft(row!);
  }

  async publishGame(projectId: string, userId: string, fields: PublishFields): Promise<PublishedGameRecord> {
    const columns = publishColumns(projectId, userId, fields);
    const names = Object.keys(columns);
    // tags is text[]: passed as JSON and unpacked in SQL, which avoids relying on a driver's array encoding.
    const values = names.map((n, i) => (n === 'tags' ? `array(select jsonb_array_elements_text($${i + 1}::jsonb))` : `$${i + 1}`));
    const row = await this.db.row(
      `insert into public.published_games (${names.join(', ')}) values (${values.join(', ')})
       on conflict (project_id) do update set
         ${names
           .filter((n) => n !== 'project_id')
           .map((n) => `${n} = excluded.${n}`)
           .join(', ')}
       returning *`,
      names.map((n) => (n === 'tags' ? JSON.stringify(columns[n]) : columns[n])),
    );
    return toPublishedGame(row!);
  }

  async getPublished(projectId: string): Promise<PublishedGameRecord | null> {
    const row = await this.db.row('select * from public.published_games where project_id = $1', [projectId]);
    return row && toPublishedGame(row);
  }

  async unpublish(projectId: string): Promise<boolean> {
    const rows = await this.db.rows('update public.published_games set unpublished_at = now() where project_id = $1 and unpublished_at is null returning id', [
      projectId,
    ]);
    return rows.length > 0;
  }

  async listMyGames(userId: string): Promise<PublishedGameRecord[]> {
    const rows = await this.db.rows('select * from public.published_games where user_id = $1 and unpublished_at is null order by published_at desc', [userId]);
    return rows.map(toPublishedGame);
  }

  async listNotifications(userId: string, options: { limit?: number; offset?: number; type?: NotificationType } = {}): Promise<NotificationPage> {
    // One statement: the page, the type's total and the unread count (window and scalar subquery).
    const rows = await this.db.rows(
      `select n.*, count(*) over () as total_count,
         (select count(*) from public.notifications u where u.user_id = $1 and not u.read) as unread_count
       from public.notifications n
       where n.user_id = $1 and ($2::text is null or n.type = $2)
       order by n.created_at desc, n.id desc
       limit $3 offset $4`,
      [userId, options.type ?? null, clampLimit(options.limit ?? 50), Math.max(0, Math.trunc(options.offset ?? 0))],
    );
    if (rows.length === 0) {
      // A page past the end (or none at all): the counts on their own.
      const counts = await this.db.row(
        `select (select count(*) from public.notifications where user_id = $1 and ($2::text is null or type = $2)) as total_count,
                (select count(*) from public.notifications where user_id = $1 and not read) as unread_count`,
        [userId, options.type ?? null],
      );
      return { notifications: [], total: Number(counts?.total_count ?? 0), unreadCount: Number(counts?.unread_count ?? 0) };
    }
    return { notifications: rows.map(toNotification), total: Number(rows[0]!.total_count), unreadCount: Number(rows[0]!.unread_count) };
  }

  async unreadNotificationCount(userId: string): Promise<number> {
    const row = await this.db.row('select count(*) as n from public.notifications where user_id = $1 and not read', [userId]);
    return Number(row?.n ?? 0);
  }

  async markNotificationRead(id: string): Promise<boolean> {
    const rows = await this.db.rows('update public.notifications set read = true, read_at = coalesce(read_at, now()) where id = $1 returning id', [id]);
    return rows.length > 0;
  }

  async markAllNotificationsRead(userId: string): Promise<number> {
    const rows = await this.db.rows('update public.notifications set read = true, read_at = now() where user_id = $1 and not read returning id', [userId]);
    return rows.length;
  }
}

export class PgliteServiceRepository extends PgliteUserRepository implements ServiceRepository {
  async ensureUser(input: EnsureUserInput): Promise<UserRecord> {
    const row = await this.db.tx(async (query) => {
      const existing = await query('select * from public.users where id = $1', [input.id]);
      if (existing[0]) return existing[0];
      // The embedded database is its own auth server: public.users references auth.users, so a user the server
      // knows only from a token (a dev or demo user) gets an auth row without a password (it cannot sign in).
      await query(`insert into auth.users (id, email, raw_user_meta_data) values ($1, $2, $3::jsonb) on conflict do nothing`, [
        input.id,
        normalizeEmail(input.email),
        JSON.stringify(input.displayName ? { full_name: input.displayName } : {}),
      ]);
      await query(`insert into public.users (id, email, display_name) values ($1, $2, $3) on conflict do nothing`, [
        input.id,
        normalizeEmail(input.email),
        input.displayName ?? null,
      ]);
      return (await query('select * from public.users where id = $1', [input.id]))[0] ?? null;
    });
    if (!row) throw createError('CONFLICT', 'the e-mail address belongs to another user', { details: { id: input.id } });
    return toUser(row);
  }

  async createJob(userId: string, projectId: string): Promise<JobRecord> {
    const row = await this.db.row('insert into public.jobs (user_id, project_id) values ($1, $2) returning *', [userId, projectId]);
    return toJob(row!);
  }

  async updateJob(id: string, patch: JobPatch): Promise<JobRecord | null> {
    const columns = jobPatchColumns(patch);
    const names = Object.keys(columns);
    if (names.length === 0) return this.getJob(id);
    const row = await this.db.row(`update public.jobs set ${names.map((n, i) => `${n} = $${i + 2}`).join(', ')} where id = $1 returning *`, [
      id,
      ...Object.values(columns),
    ]);
    return row && toJob(row);
  }

  async jobEventsAfter(after: readonly { jobId: string; seq: number }[]): Promise<JobEventRecord[]> {
    if (after.length === 0) return [];
    const rows = await this.db.rows(
      `select e.* from jsonb_to_recordset($1::jsonb) as w (job_id uuid, seq int)
       join public.job_events e on e.job_id = w.job_id and e.seq > w.seq
       order by e.job_id, e.seq`,
      [JSON.stringify(after.map((a) => ({ job_id: a.jobId, seq: a.seq })))],
    );
    return rows.map(toJobEvent);
  }

  async appendJobEvent(jobId: string, seq: number, type: string, payload: unknown): Promise<void> {
    await this.appendJobEvents([{ jobId, seq, type, payload }]);
  }

  async appendJobEvents(events: readonly JobEventInput[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.rows(
      `insert into public.job_events (job_id, seq, type, payload)
       select e.job_id, e.seq, e.type, e.payload
       from jsonb_to_recordset($1::jsonb) as e (job_id uuid, seq int, type text, payload jsonb)`,
      [JSON.stringify(events.map((e) => ({ job_id: e.jobId, seq: e.seq, type: e.type, payload: e.payload ?? null })))],
    );
  }

  async failInterruptedJobs(reason: string): Promise<number> {
    const rows = await this.db.rows(
      `update public.jobs set status = 'failed', error = $1, error_code = $2, recoverable = true
       where status in (${ACTIVE_IN}) returning id`,
      [reason, SERVER_RESTART_CODE],
    );
    return rows.length;
  }

  async admitJob(
    userId: string,
    projectId: string,
    limits: { perUser: number; total: number },
    lease: JobLease,
    clientMessageId: string | null = null,
  ): Promise<JobAdmission> {
    const rows = await this.db.tx(async (query) => {
      const admitted = await query('select kind, job_id from public.admit_job($1, $2, $3, $4, $5, $6, $7)', [
        userId,
        projectId,
        limits.perUser,
        limits.total,
        lease.owner,
        Math.round(lease.ms),
        clientMessageId,
      ]);
      const ids = admitted.map((row) => row.job_id).filter((id) => id !== null);
      const jobs =
        ids.length > 0
          ? await query('select * from public.jobs where id in (select jsonb_array_elements_text($1::jsonb)::uuid) order by created_at', [JSON.stringify(ids)])
          : [];
      return { kind: String(admitted[0]?.kind), jobs: jobs.map(toJob) };
    });
    return admissionOf(rows.kind, rows.jobs);
  }

  async renewLeases(lease: JobLease): Promise<string[]> {
    const rows = await this.db.rows('select job_id from public.renew_leases($1, $2)', [lease.owner, Math.round(lease.ms)]);
    return rows.map((row) => String(row.job_id));
  }

  async aliasesOf(ownerId: string): Promise<string[]> {
    const rows = await this.db.rows('select alias from public.assets where owner_id = $1 order by alias', [ownerId]);
    return rows.map((r) => String(r.alias));
  }

  async softDeleteAsset(id: string): Promise<boolean> {
    const rows = await this.db.rows('update public.assets set is_deleted = true where id = $1 and not is_deleted returning id', [id]);
    return rows.length > 0;
  }

  async getPublicGame(idOrPublicId: string): Promise<PublishedGameRecord | null> {
    const column = UUID_PATTERN.test(idOrPublicId) ? 'g.id' : GAME_PUBLIC_ID_PATTERN.test(idOrPublicId) ? 'g.public_id' : null;
    if (!column) return null;
    const row = await this.db.row(`${PUBLISHED_WITH_JOINS} where ${column} = $1 and g.visibility in ('public', 'unlisted') and g.unpublished_at is null`, [
      idOrPublicId,
    ]);
    return row && toPublishedGame(row);
  }

  async listPublicGames(limit = 50, offset = 0, byUser?: string): Promise<PublishedGameRecord[]> {
    if (byUser !== undefined && !UUID_PATTERN.test(byUser)) return [];
    const rows = await this.db.rows(
      `${PUBLISHED_WITH_JOINS} where g.visibility = 'public' and g.unpublished_at is null and ($3::uuid is null or g.user_id = $3)
       order by g.published_at desc limit $1 offset $2`,
      [clampLimit(limit), Math.max(0, Math.trunc(offset)), byUser ?? null],
    );
    return rows.map(toPublishedGame);
  }

  async getGameOfProject(projectId: string): Promise<PublishedGameRecord | null> {
    if (!UUID_PATTERN.test(projectId)) return null;
    const row = await this.db.row(`${PUBLISHED_WITH_JOINS} where g.project_id = $1 and g.visibility in ('public', 'unlisted') and g.unpublished_at is null`, [
      projectId,
    ]);
    return row && toPublishedGame(row);
  }

  async listRemixes(projectId: string): Promise<PublishedGameRecord[]> {
    if (!UUID_PATTERN.test(projectId)) return [];
    const rows = await this.db.rows(
      `${PUBLISHED_WITH_JOINS} where p.remixed_from = $1 and g.visibility = 'public' and g.unpublished_at is null order by g.published_at desc limit 100`,
      [projectId],
    );
    return rows.map(toPublishedGame);
  }

  async getPublicProfile(key: { id: string } | { username: string }): Promise<PublicProfile | null> {
    const lookup = profileLookup(key);
    if (!lookup) return null;
    const row = await this.db.row(`select * from public.users where ${lookup.column} = $1`, [lookup.value]);
    return row && toPublicProfile(row);
  }

  async incrementPlayCount(gameId: string): Promise<boolean> {
    if (!UUID_PATTERN.test(gameId)) return false;
    const row = await this.db.row('select public.increment_play_count($1) as ok', [gameId]);
    return row?.ok === true;
  }

  async tryConsumeQuota(userId: string, field: QuotaField, limit: number): Promise<QuotaConsumeResult> {
    const row = await this.db.row('select * from public.try_consume_quota($1, $2, $3)', [userId, field, limit]);
    return { allowed: row?.allowed === true, currentCount: Number(row?.current_count ?? 0) };
  }

  async getQuota(userId: string): Promise<QuotaUsage> {
    const row = await this.db.row('select * from public.get_quota($1)', [userId]);
    return { projectsCreated: Number(row?.projects_created ?? 0), messagesSent: Number(row?.messages_sent ?? 0) };
  }

  async planOf(userId: string): Promise<Plan> {
    const row = await this.db.row('select plan, status from public.subscriptions where user_id = $1', [userId]);
    return row?.status === 'active' ? (row.plan as Plan) : 'free';
  }

  async logActivity(entry: ActivityInput): Promise<void> {
    await this.db.rows(`insert into public.activity_log (user_id, action, target_type, target_id, details) values ($1, $2, $3, $4, $5)`, [
      entry.userId,
      entry.action,
      entry.targetType ?? null,
      entry.targetId ?? null,
      entry.details ?? null,
    ]);
  }

  async createNotification(input: NewNotification): Promise<NotificationRecord | null> {
    const c = notificationColumns(input);
    const row = await this.db.row(
      `insert into public.notifications (user_id, type, title, message, icon, project_id, job_id, event, params, read, read_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11)
       on conflict (user_id, job_id) do nothing
       returning *`,
      [c.user_id, c.type, c.title, c.message, c.icon, c.project_id, c.job_id, c.event, JSON.stringify(c.params), c.read, c.read_at],
    );
    return row && toNotification(row);
  }

  async savePushSubscription(input: NewPushSubscription): Promise<PushSubscriptionRecord> {
    const row = await this.db.row(
      `insert into public.push_subscriptions (user_id, endpoint, p256dh, auth, user_agent, language)
       values ($1, $2, $3, $4, $5, $6)
       on conflict (endpoint) do update set user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
         user_agent = excluded.user_agent, language = excluded.language, created_at = now(), last_used_at = null
       returning *`,
      [input.userId, input.endpoint, input.p256dh, input.auth, input.userAgent ?? null, input.language],
    );
    return toPushSubscription(row!);
  }

  async pushSubscriptionsOf(userId: string): Promise<PushSubscriptionRecord[]> {
    const rows = await this.db.rows('select * from public.push_subscriptions where user_id = $1 order by created_at', [userId]);
    return rows.map(toPushSubscription);
  }

  async deletePushSubscription(userId: string, endpoint: string): Promise<boolean> {
    const rows = await this.db.rows('delete from public.push_subscriptions where user_id = $1 and endpoint = $2 returning id', [userId, endpoint]);
    return rows.length > 0;
  }

  async touchPushSubscription(id: string): Promise<void> {
    await this.db.rows('update public.push_subscriptions set last_used_at = now() where id = $1', [id]);
  }
}

export class PgliteAuthStore implements AuthStore {
  constructor(private readonly db: Session) {}

  async createAuthUser(email: string, passwordHash: string | null, meta: Record<string, unknown> = {}): Promise<AuthUserRecord> {
    try {
      const row = await this.db.row(`insert into auth.users (email, encrypted_password, raw_user_meta_data) values ($1, $2, $3::jsonb) returning *`, [
        normalizeEmail(email),
        passwordHash,
        JSON.stringify(meta),
      ]);
      return toAuthUser(row!);
    } catch (error) {
      if (isBackendError(error, 'CONFLICT')) {
        throw createError('CONFLICT', 'a user with this e-mail address is already registered', {
          cause: error,
          details: { field: 'email' },
        });
      }
      throw error;
    }
  }

  async authUserByEmail(email: string): Promise<AuthUserRecord | null> {
    const row = await this.db.row('select * from auth.users where email = $1', [normalizeEmail(email)]);
    return row && toAuthUser(row);
  }

  async authUserById(id: string): Promise<AuthUserRecord | null> {
    if (!UUID_PATTERN.test(id)) return null;
    const row = await this.db.row('select * from auth.users where id = $1', [id]);
    return row && toAuthUser(row);
  }

  async storeRefreshToken(tokenHash: string, userId: string, expiresAt: Date | string, parent: string | null = null): Promise<void> {
    const expires = expiresAt instanceof Date ? expiresAt.toISOString() : expiresAt;
    await this.db.rows('insert into auth.refresh_tokens (token_hash, user_id, expires_at, parent) values ($1, $2, $3, $4)', [
      tokenHash,
      userId,
      expires,
      parent,
    ]);
  }

  async useRefreshToken(tokenHash: string): Promise<AuthUserRecord | null> {
    const row = await this.db.tx(async (query) => {
      const [token] = await query('select user_id, revoked, expires_at <= now() as expired from auth.refresh_tokens where token_hash = $1 for update', [
        tokenHash,
      ]);
      if (!token) return null;
      if (token.revoked) {
        // A used token came back: whoever holds this family may be an attacker. Revoke all of it (up to the root,
        // then every descendant), so the legitimate client must sign in again too. The transaction commits this.
        await query(
          `with recursive up as (
             select token_hash, parent from auth.refresh_tokens where token_hash = $1
             union all
             select t.token_hash, t.parent from auth.refresh_tokens t join up on t.token_hash = up.parent
           ),
           family as (
             select token_hash from up where parent is null
             union all
             select t.token_hash from auth.refresh_tokens t join family f on t.parent = f.token_hash
           )
           update auth.refresh_tokens set revoked = true
           where token_hash in (select token_hash from family) and not revoked`,
          [tokenHash],
        );
        return null;
      }
      if (token.expired) return null;
      await query('update auth.refresh_tokens set revoked = true where token_hash = $1', [tokenHash]);
      return (await query('select * from auth.users where id = $1', [token.user_id]))[0] ?? null;
    });
    return row && toAuthUser(row);
  }

  async revokeUserTokens(userId: string): Promise<number> {
    const rows = await this.db.rows('update auth.refresh_tokens set revoked = true where user_id = $1 and not revoked returning token_hash', [userId]);
    return rows.length;
  }

  async storeOneTimeToken(tokenHash: string, kind: OneTimeTokenKind, payload: Record<string, unknown>, expiresAt: Date): Promise<void> {
    await this.db.rows('delete from auth.one_time_tokens where expires_at < now()');
    await this.db.rows('insert into auth.one_time_tokens (token_hash, kind, payload, expires_at) values ($1, $2, $3::jsonb, $4)', [
      tokenHash,
      kind,
      JSON.stringify(payload),
      expiresAt.toISOString(),
    ]);
  }

  async useOneTimeToken(tokenHash: string, kind: OneTimeTokenKind): Promise<Record<string, unknown> | null> {
    // One statement: two requests racing with the same secret cannot both get it.
    const row = await this.db.row('delete from auth.one_time_tokens where token_hash = $1 and kind = $2 returning payload, expires_at > now() as valid', [
      tokenHash,
      kind,
    ]);
    return row && row.valid ? (row.payload as Record<string, unknown>) : null;
  }

  async userByIdentity(provider: string, providerId: string): Promise<AuthUserRecord | null> {
    const row = await this.db.row('select u.* from auth.identities i join auth.users u on u.id = i.user_id where i.provider = $1 and i.provider_id = $2', [
      provider,
      providerId,
    ]);
    return row && toAuthUser(row);
  }

  async linkIdentity(provider: string, providerId: string, userId: string): Promise<void> {
    await this.db.rows('insert into auth.identities (provider, provider_id, user_id) values ($1, $2, $3) on conflict do nothing', [
      provider,
      providerId,
      userId,
    ]);
  }
}

/** Opens (creating if needed) the embedded database and brings its schema up to date. */
export async function openPgliteDatabase(options: PgliteDatabaseOptions = {}): Promise<PgliteDatabase> {
  const { dataDir, templateDir, migrationsDir } = options;
  let release: (() => Promise<void>) | null = null;
  if (dataDir !== undefined) {
    await mkdir(path.dirname(path.resolve(dataDir)), { recursive: true });
    release = await acquireLock(dataDir);
  }
  let pg: PgliteThread | undefined;
  try {
    // A new database with a template folder: copy the template if there is one, else create this database the
    // normal (cold) way and publish a copy of it as the template afterwards.
    let publishTo: string | null = null;
    if (dataDir !== undefined && templateDir !== undefined && !(await isDatabase(dataDir))) {
      const template = await templatePath(templateDir, migrationsDir);
      if (await isTemplate(template)) {
        await copyTemplate(template, dataDir);
      } else {
        publishTo = template;
      }
    }
    pg = await createPglite(dataDir);
    const migrations = await migrate(pg, migrationsDir);
    if (publishTo !== null) {
      // PGlite's files are consistent only once it is closed.
      await pg.close();
      await publishTemplate(dataDir!, publishTo);
      pg = await createPglite(dataDir);
    }
    return createPgliteDatabase(pg, migrations, release);
  } catch (error) {
    await pg?.close().catch(() => undefined);
    await release?.();
    throw error;
  }
}

/** PGlite reports a failed start as a bare `ExitStatus`; say which directory and what it probably means. */
async function createPglite(dataDir: string | undefined): Promise<PgliteThread> {
  try {
    return await PgliteThread.open(dataDir);
  } catch (error) {
    if (isBackendError(error)) throw error;
    const where = dataDir === undefined ? 'in memory' : `in ${dataDir}`;
    throw createError(
      'UNAVAILABLE',
      `could not open the PGlite database ${where} (not a PGlite data directory, or damaged?): ${String((error as Error)?.message ?? error)}`,
      {
        cause: error,
        details: { dataDir: dataDir ?? null },
      },
    );
  }
}

function migrate(pg: PgliteThread, migrationsDir: string | undefined): Promise<MigrateResult> {
  return applyMigrations(
    {
      exec: (sql) => pg.exec(sql),
      query: async <T>(sql: string, params?: unknown[]) => (await pg.query(sql, params)) as T[],
    },
    { localCompat: true, ...(migrationsDir ? { migrationsDir } : {}) },
  );
}

/** The service role's session on a connection (RLS bypassed): the service repository's and the auth store's. */
export function serviceSession(connection: SqlConnection): Session {
  return new Session(connection, 'service_role', JSON.stringify({ role: 'service_role' }));
}

/** A user-scoped repository on a connection, under the claims PostgREST would derive from that user's access token. */
export function userRepository(connection: SqlConnection, userId: string): UserRepository {
  if (!UUID_PATTERN.test(userId)) throw createError('INVALID_ARGUMENT', 'userId must be a UUID');
  const claims = JSON.stringify({ sub: userId, role: 'authenticated', aud: 'authenticated' });
  return new PgliteUserRepository(new Session(connection, 'authenticated', claims));
}

function createPgliteDatabase(pg: PgliteThread, migrations: MigrateResult, release: (() => Promise<void>) | null): PgliteDatabase {
  const session = serviceSession(pg);
  const service = new PgliteServiceRepository(session);
  const auth = new PgliteAuthStore(session);
  let closed = false;
  return {
    kind: 'pglite',
    migrations,
    service,
    auth,
    coordination: null,
    forUser: (userId) => userRepository(pg, userId),
    async close() {
      if (closed) return;
      closed = true;
      await pg.close();
      await release?.();
    },
  };
}
