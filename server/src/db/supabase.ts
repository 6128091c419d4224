/**
 * The repository on Supabase, through supabase-js (PostgREST). A user-scoped repository is a client that carries the
 * caller's access token, so PostgREST switches to `authenticated` with that token's claims and the RLS policies do the
 * isolation; the service repository carries the service-role key. Quota and play counts are RPCs (functions in
 * 002_functions.sql), because check-and-increment must be one statement in the database.
 *
 * The schema is not migrated from here: the server has no direct database connection on Supabase. Apply
 * `server/db/migrations` with the Supabase CLI or psql (see migrate.ts).
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { createError, isBackendError, UUID_PATTERN } from '@dreamcore/runtime-core';
import {
  ACTIVE_JOB_STATUSES,
  GAME_PUBLIC_ID_PATTERN,
  SERVER_RESTART_CODE,
  type ActivityInput,
  type AssetMetaPatch,
  type AssetRecord,
  type AssetWithProjects,
  type ChatRecord,
  type ChatRole,
  type CreateProjectOptions,
  type Database,
  type DraftInput,
  type EnsureUserInput,
  type JobAdmission,
  type JobEventInput,
  type JobLease,
  type JobEventRecord,
  type JobPatch,
  type JobRecord,
  type NewAsset,
  type NewNotification,
  type NewPushSubscription,
  type NotificationPage,
  type NotificationRecord,
  type NotificationType,
  type PushSubscriptionRecord,
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
  toPublicProfile,
  profileLookup,
  type Row,
} from './rows.js';

export interface SupabaseDatabaseOptions {
  /** `https://<project>.supabase.co` (no trailing `/rest/v1`). */
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  /** User-scoped clients kept for reuse, keyed by access token (a socket reuses its token for its lifetime). */
  clientCacheSize?: number;
  /** For tests or a proxy; defaults to the global fetch. */
  fetch?: typeof fetch;
}

type Client = SupabaseClient;

interface PostgrestResponse {
  data: unknown;
  count?: number | null;
  error: { code?: string; message: string; details?: string | null } | null;
  status?: number;
}

/**
 * Supabase (like any PostgREST) caps a response at `max-rows`, 1000 by default. Reads that can exceed it (job
 * events of a long run, a user's aliases) page with this size and stop at a short page, so the project's max-rows
 * must not be set below it.
 */
const PAGE_SIZE = 1000;
const PUBLISHED_WITH_JOINS = '*, projects(id, name), users(display_name, avatar_url)';

async function send(request: PromiseLike<PostgrestResponse>): Promise<unknown> {
  let response: PostgrestResponse;
  try {
    response = await request;
  } catch (error) {
    if (isBackendError(error)) throw error;
    throw createError('UNAVAILABLE', `database request failed: ${(error as Error).message}`, { cause: error });
  }
  const { error } = response;
  if (error) {
    // supabase-js reports a failed fetch (network, DNS, refused) as a response with status 0.
    if (response.status === 0) {
      throw createError('UNAVAILABLE', `database unreachable: ${error.message}`, { cause: error });
    }
    const message = error.details ? `${error.message} (${error.details})` : error.message;
    throw databaseError(error.code, message, error);
  }
  return response.data;
}

async function rows(request: PromiseLike<PostgrestResponse>): Promise<Row[]> {
  const data = await send(request);
  return Array.isArray(data) ? (data as Row[]) : [];
}

/** The rows and PostgREST's `count` (a request made with `{ count: 'exact' }`). */
async function counted(request: PromiseLike<PostgrestResponse>): Promise<{ rows: Row[]; count: number }> {
  let count = 0;
  const data = await send(
    Promise.resolve(request).then((response) => {
      count = response.count ?? 0;
      return response;
    }),
  );
  return { rows: Array.isArray(data) ? (data as Row[]) : [], count };
}

async function row(request: PromiseLike<PostgrestResponse>): Promise<Row | null> {
  const data = await send(request);
  return data && typeof data === 'object' && !Array.isArray(data) ? (data as Row) : null;
}

class SupabaseUserRepository implements UserRepository {
  constructor(protected readonly client: Client) {}

  async getUser(id: string): Promise<UserRecord | null> {
    const r = await row(this.client.from('users').select('*').eq('id', id).maybeSingle());
    return r && toUser(r);
  }

  async updateUser(id: string, patch: UserPatch): Promise<UserRecord | null> {
    const columns = userColumns(patch);
    if (Object.keys(columns).length === 0) return this.getUser(id);
    const r = await row(this.client.from('users').update(columns).eq('id', id).select().maybeSingle());
    return r && toUser(r);
  }

  async listProjects(userId: string): Promise<ProjectSummary[]> {
    const rs = await rows(
      this.client
        .from('projects')
        .select('id, name, is_public, remixed_from, created_at, updated_at, publish_drafts(description)')
        .eq('user_id', userId)
        .order('updated_at', { ascending: false }),
    );
    return rs.map(toProjectSummary);
  }

  async getProject(id: string): Promise<ProjectRecord | null> {
    const r = await row(this.client.from('projects').select('*').eq('id', id).maybeSingle());
    return r && toProject(r);
  }

  async createProject(userId: string, name = 'New Game', options: CreateProjectOptions = {}): Promise<ProjectRecord> {
    const r = await row(
      this.client
        .from('projects')
        .insert({
          user_id: userId,
          name,
          remixed_from: options.remixedFrom ?? null,
          is_initialized: options.isInitialized ?? false,
        })
        .select()
        .single(),
    );
    return toProject(r!);
  }

  async renameProject(id: string, name: string): Promise<ProjectRecord | null> {
    const r = await row(this.client.from('projects').update({ name }).eq('id', id).select().maybeSingle());
    return r && toProject(r);
  }

  async deleteProject(id: string): Promise<boolean> {
    return (await rows(this.client.from('projects').delete().eq('id', id).select('id'))).length > 0;
  }

  async touchProject(id: string): Promise<boolean> {
    // The value is only there to make an UPDATE; the updated_at trigger writes the database's now().
    return this.updateProject(id, { updated_at: new Date().toISOString() });
  }

  async markInitialized(id: string): Promise<boolean> {
    return this.updateProject(id, { is_initialized: true });
  }

  async setAgentSession(id: string, sessionId: string | null): Promise<boolean> {
    return this.updateProject(id, { agent_session_id: sessionId });
  }

  private async updateProject(id: string, values: Row): Promise<boolean> {
    return (await rows(this.client.from('projects').update(values).eq('id', id).select('id'))).length > 0;
  }

  async addChat(projectId: string, role: ChatRole, message: string): Promise<ChatRecord> {
    const r = await row(this.client.from('chat_history').insert({ project_id: projectId, role, message }).select().single());
    return toChat(r!);
  }

  async latestChat(projectId: string, limit = 50): Promise<ChatRecord[]> {
    const rs = await rows(
      this.client
        .from('chat_history')
        .select('*')
        .eq('project_id', projectId)
        .order('created_at', { ascending: false })
        .order('id', { ascending: false })
        .limit(limit),
    );
    return rs.map(toChat).reverse();
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const r = await row(this.client.from('jobs').select('*').eq('id', id).maybeSingle());
    return r && toJob(r);
  }

  async listJobs(projectId: string, limit = 20): Promise<JobRecord[]> {
    const rs = await rows(this.client.from('jobs').select('*').eq('project_id', projectId).order('created_at', { ascending: false }).limit(limit));
    return rs.map(toJob);
  }

  async jobForMessage(projectId: string, clientMessageId: string): Promise<JobRecord | null> {
    const r = await row(this.client.from('jobs').select('*').eq('project_id', projectId).eq('client_message_id', clientMessageId).maybeSingle());
    return r && toJob(r);
  }

  async activeJobForProject(projectId: string): Promise<JobRecord | null> {
    const r = await row(
      this.client
        .from('jobs')
        .select('*')
        .eq('project_id', projectId)
        .in('status', [...ACTIVE_JOB_STATUSES])
        .order('created_at', { ascending: false })
        .limit(1)
        .maybeSingle(),
    );
    return r && toJob(r);
  }

  async jobEventsSince(jobId: string, afterSeq: number): Promise<JobEventRecord[]> {
    const events: JobEventRecord[] = [];
    let after = afterSeq;
    for (;;) {
      const page = await rows(
        this.client.from('job_events').select('*').eq('job_id', jobId).gt('seq', after).order('seq', { ascending: true }).limit(PAGE_SIZE),
      );
      for (const r of page) events.push(toJobEvent(r));
      if (page.length < PAGE_SIZE) return events;
      after = events[events.length - 1]!.seq;
    }
  }

  async createAsset(input: NewAsset): Promise<AssetRecord> {
    const r = await row(this.client.from('assets').insert(assetColumns(input)).select().single());
    return toAsset(r!);
  }

  async listAssets(ownerId: string): Promise<AssetWithProjects[]> {
    const rs = await rows(
      this.client
        .from('assets')
        .select('*, project_assets(added_at, projects(id, name))')
        .eq('owner_id', ownerId)
        .eq('is_deleted', false)
        .order('created_at', { ascending: false }),
    );
    // Same order as the SQL implementation: the projects in the order the asset was added to them.
    for (const r of rs) {
      if (Array.isArray(r.project_assets)) {
        (r.project_assets as Row[]).sort((a, b) => String(a.added_at).localeCompare(String(b.added_at)));
      }
    }
    return rs.map(toAssetWithProjects);
  }

  async getAsset(id: string): Promise<AssetRecord | null> {
    const r = await row(this.client.from('assets').select('*').eq('id', id).eq('is_deleted', false).maybeSingle());
    return r && toAsset(r);
  }

  async updateAsset(id: string, patch: AssetMetaPatch): Promise<AssetRecord | null> {
    const values = assetMetaColumns(patch);
    if (Object.keys(values).length === 0) return this.getAsset(id);
    return this.updateAssetRow(id, values);
  }

  async setAssetPublic(id: string, isPublic: boolean): Promise<AssetRecord | null> {
    return this.updateAssetRow(id, { is_public: isPublic });
  }

  private async updateAssetRow(id: string, values: Row): Promise<AssetRecord | null> {
    const r = await row(this.client.from('assets').update(values).eq('id', id).eq('is_deleted', false).select().maybeSingle());
    return r && toAsset(r);
  }

  async linkAsset(projectId: string, assetId: string, usageType = 'image'): Promise<void> {
    await send(
      this.client
        .from('project_assets')
        .upsert({ project_id: projectId, asset_id: assetId, usage_type: usageType }, { onConflict: 'project_id,asset_id', ignoreDuplicates: true }),
    );
  }

  async assetByAlias(ownerId: string, alias: string): Promise<AssetRecord | null> {
    const r = await row(this.client.from('assets').select('*').eq('owner_id', ownerId).eq('alias', alias).eq('is_deleted', false).maybeSingle());
    return r && toAsset(r);
  }

  async getDraft(projectId: string): Promise<PublishDraft | null> {
    const r = await row(this.client.from('publish_drafts').select('*').eq('project_id', projectId).maybeSingle());
    return r && toDraft(r);
  }

  async upsertDraft(projectId: string, draft: DraftInput): Promise<PublishDraft> {
    const r = await row(this.client.from('publish_drafts').upsert(draftColumns(projectId, draft), { onConflict: 'project_id' }).select().single());
    return toDraft(r!);
  }

  async publishGame(projectId: string, userId: string, fields: PublishFields): Promise<PublishedGameRecord> {
    // Only the columns sent are updated on conflict, so public_id, published_at and the counters survive a republish.
    const r = await row(
      this.client
        .from('published_games')
        .upsert(publishColumns(projectId, userId, fields), { onConflict: 'project_id' })
        .select()
        .single(),
    );
    return toPublishedGame(r!);
  }

  async getPublished(projectId: string): Promise<PublishedGameRecord | null> {
    const r = await row(this.client.from('published_games').select('*').eq('project_id', projectId).maybeSingle());
    return r && toPublishedGame(r);
  }

  async unpublish(projectId: string): Promise<boolean> {
    const hidden = this.client
      .from('published_games')
      .update({ unpublished_at: new Date().toISOString() })
      .eq('project_id', projectId)
      .is('unpublished_at', null)
      .select('id');
    return (await rows(hidden)).length > 0;
  }

  async listMyGames(userId: string): Promise<PublishedGameRecord[]> {
    const rs = await rows(
      this.client.from('published_games').select('*').eq('user_id', userId).is('unpublished_at', null).order('published_at', { ascending: false }),
    );
    return rs.map(toPublishedGame);
  }

  async listNotifications(userId: string, options: { limit?: number; offset?: number; type?: NotificationType } = {}): Promise<NotificationPage> {
    const limit = clampLimit(options.limit ?? 50);
    const offset = Math.max(0, Math.trunc(options.offset ?? 0));
    let page = this.client.from('notifications').select('*', { count: 'exact' }).eq('user_id', userId);
    if (options.type) page = page.eq('type', options.type);
    const [listed, unreadCount] = await Promise.all([
      counted(
        page
          .order('created_at', { ascending: false })
          .order('id', { ascending: false })
          .range(offset, offset + limit - 1),
      ).catch(async (error: unknown) => {
        // PostgREST answers a range past the end with 416 (PGRST103): an empty page, and the total on its own.
        if (!isBackendError(error) || error.details.dbCode !== 'PGRST103') throw error;
        let total = this.client.from('notifications').select('id', { count: 'exact', head: true }).eq('user_id', userId);
        if (options.type) total = total.eq('type', options.type);
        return { rows: [], count: (await counted(total)).count };
      }),
      this.unreadNotificationCount(userId),
    ]);
    return { notifications: listed.rows.map(toNotification), total: listed.count, unreadCount };
  }

  async unreadNotificationCount(userId: string): Promise<number> {
    const { count } = await counted(this.client.from('notifications').select('id', { count: 'exact', head: true }).eq('user_id', userId).eq('read', false));
    return count;
  }

  async markNotificationRead(id: string): Promise<boolean> {
    const changed = await rows(
      this.client.from('notifications').update({ read: true, read_at: new Date().toISOString() }).eq('id', id).eq('read', false).select('id'),
    );
    if (changed.length > 0) return true;
    // Already read (it keeps its first read_at), or not the caller's to change.
    return (await row(this.client.from('notifications').select('id').eq('id', id).maybeSingle())) !== null;
  }

  async markAllNotificationsRead(userId: string): Promise<number> {
    const changed = await rows(
      this.client.from('notifications').update({ read: true, read_at: new Date().toISOString() }).eq('user_id', userId).eq('read', false).select('id'),
    );
    return changed.length;
  }
}

class SupabaseServiceRepository extends SupabaseUserRepository implements ServiceRepository {
  async ensureUser(input: EnsureUserInput): Promise<UserRecord> {
    // Normally the sign-up trigger made the row: one read. Otherwise insert (a race with the trigger is harmless).
    const existing = await this.getUser(input.id);
    if (existing) return existing;
    await send(
      this.client
        .from('users')
        .upsert({ id: input.id, email: normalizeEmail(input.email), display_name: input.displayName ?? null }, { onConflict: 'id', ignoreDuplicates: true }),
    );
    const created = await this.getUser(input.id);
    if (!created) throw createError('CONFLICT', 'the user row could not be created', { details: { id: input.id } });
    return created;
  }

  async createJob(userId: string, projectId: string): Promise<JobRecord> {
    const r = await row(this.client.from('jobs').insert({ user_id: userId, project_id: projectId }).select().single());
    return toJob(r!);
  }

  async updateJob(id: string, patch: JobPatch): Promise<JobRecord | null> {
    const values = jobPatchColumns(patch);
    if (Object.keys(values).length === 0) return this.getJob(id);
    const r = await row(this.client.from('jobs').update(values).eq('id', id).select().maybeSingle());
    return r && toJob(r);
  }

  async appendJobEvent(jobId: string, seq: number, type: string, payload: unknown): Promise<void> {
    await this.appendJobEvents([{ jobId, seq, type, payload }]);
  }

  async appendJobEvents(events: readonly JobEventInput[]): Promise<void> {
    if (events.length === 0) return;
    // One request, one statement: PostgREST inserts a JSON array in a single INSERT, so it is all or nothing.
    await send(this.client.from('job_events').insert(events.map((e) => ({ job_id: e.jobId, seq: e.seq, type: e.type, payload: e.payload ?? null }))));
  }

  async jobEventsAfter(after: readonly { jobId: string; seq: number }[]): Promise<JobEventRecord[]> {
    return (await Promise.all(after.map((a) => this.jobEventsSince(a.jobId, a.seq)))).flat();
  }

  async admitJob(
    userId: string,
    projectId: string,
    limits: { perUser: number; total: number },
    lease: JobLease,
    clientMessageId: string | null = null,
  ): Promise<JobAdmission> {
    const admitted = await rows(
      this.client.rpc('admit_job', {
        p_user_id: userId,
        p_project_id: projectId,
        p_per_user: limits.perUser,
        p_total: limits.total,
        p_owner: lease.owner,
        p_lease_ms: Math.round(lease.ms),
        p_client_message_id: clientMessageId,
      }),
    );
    const ids = admitted.map((r) => r.job_id).filter((id): id is string => typeof id === 'string');
    const jobs = ids.length > 0 ? await rows(this.client.from('jobs').select('*').in('id', ids).order('created_at')) : [];
    return admissionOf(String(admitted[0]?.kind), jobs.map(toJob));
  }

  async renewLeases(lease: JobLease): Promise<string[]> {
    const rs = await rows(this.client.rpc('renew_leases', { p_owner: lease.owner, p_lease_ms: Math.round(lease.ms) }));
    return rs.map((r) => String(r.job_id));
  }

  async failInterruptedJobs(reason: string): Promise<number> {
    const rs = await rows(
      this.client
        .from('jobs')
        .update({ status: 'failed', error: reason, error_code: SERVER_RESTART_CODE, recoverable: true })
        .in('status', [...ACTIVE_JOB_STATUSES])
        .select('id'),
    );
    return rs.length;
  }

  async aliasesOf(ownerId: string): Promise<string[]> {
    const aliases: string[] = [];
    for (let from = 0; ; from += PAGE_SIZE) {
      const page = await rows(
        this.client
          .from('assets')
          .select('alias')
          .eq('owner_id', ownerId)
          .order('alias', { ascending: true })
          .range(from, from + PAGE_SIZE - 1),
      );
      for (const r of page) aliases.push(String(r.alias));
      if (page.length < PAGE_SIZE) return aliases;
    }
  }

  async softDeleteAsset(id: string): Promise<boolean> {
    const rs = await rows(this.client.from('assets').update({ is_deleted: true }).eq('id', id).eq('is_deleted', false).select('id'));
    return rs.length > 0;
  }

  async getPublicGame(idOrPublicId: string): Promise<PublishedGameRecord | null> {
    const column = UUID_PATTERN.test(idOrPublicId) ? 'id' : GAME_PUBLIC_ID_PATTERN.test(idOrPublicId) ? 'public_id' : null;
    if (!column) return null;
    const r = await row(
      this.client
        .from('published_games')
        .select(PUBLISHED_WITH_JOINS)
        .eq(column, idOrPublicId)
        .in('visibility', ['public', 'unlisted'])
        .is('unpublished_at', null)
        .maybeSingle(),
    );
    return r && toPublishedGame(r);
  }

  async listPublicGames(limit = 50, offset = 0, byUser?: string): Promise<PublishedGameRecord[]> {
    if (byUser !== undefined && !UUID_PATTERN.test(byUser)) return [];
    const from = Math.max(0, Math.trunc(offset));
    let query = this.client.from('published_games').select(PUBLISHED_WITH_JOINS).eq('visibility', 'public').is('unpublished_at', null);
    if (byUser !== undefined) query = query.eq('user_id', byUser);
    const rs = await rows(query.order('published_at', { ascending: false }).range(from, from + clampLimit(limit) - 1));
    return rs.map(toPublishedGame);
  }

  async getGameOfProject(projectId: string): Promise<PublishedGameRecord | null> {
    if (!UUID_PATTERN.test(projectId)) return null;
    const r = await row(
      this.client
        .from('published_games')
        .select(PUBLISHED_WITH_JOINS)
        .eq('project_id', projectId)
        .in('visibility', ['public', 'unlisted'])
        .is('unpublished_at', null)
        .maybeSingle(),
    );
    return r && toPublishedGame(r);
  }

  async listRemixes(projectId: string): Promise<PublishedGameRecord[]> {
    if (!UUID_PATTERN.test(projectId)) return [];
    // The project join is inner here so that the filter on it filters the games.
    const rs = await rows(
      this.client
        .from('published_games')
        .select('*, projects!inner(id, name, remixed_from), users(display_name, avatar_url)')
        .eq('projects.remixed_from', projectId)
        .eq('visibility', 'public')
        .is('unpublished_at', null)
        .order('published_at', { ascending: false })
        .limit(100),
    );
    return rs.map((r) => toPublishedGame({ ...r, projects: { id: (r.projects as Row).id, name: (r.projects as Row).name } }));
  }

  async getPublicProfile(key: { id: string } | { username: string }): Promise<PublicProfile | null> {
    const lookup = profileLookup(key);
    if (!lookup) return null;
    const r = await row(
      this.client.from('users').select('id, username, display_name, avatar_url, bio, public_id, created_at').eq(lookup.column, lookup.value).maybeSingle(),
    );
    return r && toPublicProfile(r);
  }

  async incrementPlayCount(gameId: string): Promise<boolean> {
    if (!UUID_PATTERN.test(gameId)) return false;
    return (await send(this.client.rpc('increment_play_count', { game_id: gameId }))) === true;
  }

  async tryConsumeQuota(userId: string, field: QuotaField, limit: number): Promise<QuotaConsumeResult> {
    const [r] = await rows(this.client.rpc('try_consume_quota', { p_user_id: userId, p_field: field, p_limit: limit }));
    return { allowed: r?.allowed === true, currentCount: Number(r?.current_count ?? 0) };
  }

  async getQuota(userId: string): Promise<QuotaUsage> {
    const [r] = await rows(this.client.rpc('get_quota', { p_user_id: userId }));
    return { projectsCreated: Number(r?.projects_created ?? 0), messagesSent: Number(r?.messages_sent ?? 0) };
  }

  async planOf(userId: string): Promise<Plan> {
    const r = await row(this.client.from('subscriptions').select('plan, status').eq('user_id', userId).maybeSingle());
    return r?.status === 'active' ? (r.plan as Plan) : 'free';
  }

  async logActivity(entry: ActivityInput): Promise<void> {
    await send(
      this.client.from('activity_log').insert({
        user_id: entry.userId,
        action: entry.action,
        target_type: entry.targetType ?? null,
        target_id: entry.targetId ?? null,
        details: entry.details ?? null,
      }),
    );
  }

  async createNotification(input: NewNotification): Promise<NotificationRecord | null> {
    const created = await rows(
      this.client.from('notifications').upsert(notificationColumns(input), { onConflict: 'user_id,job_id', ignoreDuplicates: true }).select(),
    );
    return created[0] ? toNotification(created[0]) : null;
  }

  async savePushSubscription(input: NewPushSubscription): Promise<PushSubscriptionRecord> {
    const saved = await row(
      this.client
        .from('push_subscriptions')
        .upsert(
          {
            user_id: input.userId,
            endpoint: input.endpoint,
            p256dh: input.p256dh,
            auth: input.auth,
            user_agent: input.userAgent ?? null,
            language: input.language,
            created_at: new Date().toISOString(),
            last_used_at: null,
          },
          { onConflict: 'endpoint' },
        )
        .select()
        .single(),
    );
    return toPushSubscription(saved!);
  }

  async pushSubscriptionsOf(userId: string): Promise<PushSubscriptionRecord[]> {
    const rs = await rows(this.client.from('push_subscriptions').select('*').eq('user_id', userId).order('created_at', { ascending: true }));
    return rs.map(toPushSubscription);
  }

  async deletePushSubscription(userId: string, endpoint: string): Promise<boolean> {
    const deleted = await rows(this.client.from('push_subscriptions').delete().eq('user_id', userId).eq('endpoint', endpoint).select('id'));
    return deleted.length > 0;
  }

  async touchPushSubscription(id: string): Promise<void> {
    await send(this.client.from('push_subscriptions').update({ last_used_at: new Date().toISOString() }).eq('id', id));
  }
}

export interface SupabaseDatabase extends Database {
  readonly kind: 'supabase';
  readonly auth: null;
}

export function createSupabaseDatabase(options: SupabaseDatabaseOptions): SupabaseDatabase {
  const url = options.url.replace(/\/+$/, '');
  const cacheSize = options.clientCacheSize ?? 256;
  const clientFor = (key: string, authorization?: string): Client =>
    createClient(url, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      // Node 20 has no global WebSocket; supabase-js 2.109 constructs its realtime client eagerly and needs one.
      realtime: { transport: WebSocket as never },
      global: {
        ...(authorization ? { headers: { Authorization: authorization } } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      },
      db: { schema: 'public' },
    });

  const service = new SupabaseServiceRepository(clientFor(options.serviceRoleKey));
  // Insertion-ordered Map as an LRU: a hit is moved to the end, the oldest entry is dropped when full.
  const users = new Map<string, SupabaseUserRepository>();

  return {
    kind: 'supabase',
    auth: null,
    // No LISTEN/NOTIFY or transactions through PostgREST: several instances need DATABASE_URL (postgres.ts).
    coordination: null,
    service,
    forUser(_userId: string, accessToken?: string): UserRepository {
      if (!accessToken) {
        throw createError('INVALID_ARGUMENT', 'a user-scoped Supabase repository needs the access token');
      }
      let repo = users.get(accessToken);
      if (repo) {
        users.delete(accessToken);
      } else {
        repo = new SupabaseUserRepository(clientFor(options.anonKey, `Bearer ${accessToken}`));
        if (users.size >= cacheSize) users.delete(users.keys().next().value!);
      }
      users.set(accessToken, repo);
      return repo;
    },
    async close() {
      users.clear();
    },
  };
}
