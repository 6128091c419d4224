/**
 * A direct PostgreSQL connection (`DATABASE_URL`, the `pg` driver): any PostgreSQL 15+ or a Supabase project's
 * connection string. The repositories, SQL and RLS are PGlite's (pglite.ts) over a connection pool instead of a
 * worker thread, so the three databases share one schema and one contract.
 *
 * It is the database several instances share (docs/design.md, "Several instances"): besides rows it gives them
 * `Coordination` — LISTEN/NOTIFY for job events and cancels, the sweep that fails jobs of a dead instance in one
 * transaction, the instance registry, shared secrets and rate limits (migration 007).
 */
import pg from 'pg';
import { createError, isBackendError } from '@dreamcore/runtime-core';
import { applyMigrations, type MigrateResult } from './migrate.js';
import { PgliteAuthStore, PgliteServiceRepository, serviceSession, toBackendError, userRepository, type Session, type SqlConnection } from './pglite.js';
import {
  JOB_EVENTS_CHANNEL,
  SERVER_RESTART_CODE,
  type AuthStore,
  type Coordination,
  type Database,
  type JobEventInput,
  type JobEventRecord,
  type JobRecord,
  type RenderPatch,
  type RenderRecord,
} from './repository.js';
import { toJob, toJobEvent, toRender, type Row } from './rows.js';

export interface PostgresDatabaseOptions {
  connectionString: string;
  /**
   * Apply `local-compat.sql` (the roles and `auth` schema Supabase has) before the migrations: a plain PostgreSQL.
   * Never on Supabase.
   */
  localCompat: boolean;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

export interface PostgresDatabase extends Database {
  readonly kind: 'postgres';
  /** The embedded auth store (auth.users of this database: local-compat's, or Supabase's when auth is embedded). */
  readonly auth: AuthStore;
  readonly coordination: Coordination;
  readonly migrations: MigrateResult;
}

type Query = (sql: string, params?: unknown[]) => Promise<Row[]>;

/** Connection-level failures (refused, reset, terminated) are UNAVAILABLE; SQL errors keep their SQLSTATE. */
function connectionError(error: unknown): unknown {
  if (isBackendError(error)) return error;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return error; // SQLSTATE: mapped by the repositories
  return createError('UNAVAILABLE', `database unreachable: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

class PoolConnection implements SqlConnection {
  constructor(private readonly pool: pg.Pool) {}

  async interactive<T>(fn: (query: Query) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw connectionError(error);
    }
    let broken: Error | undefined;
    try {
      await client.query('begin');
      const result = await fn(async (sql, params) => (await client.query(sql, params)).rows as Row[]);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((e: Error) => (broken = e));
      throw connectionError(error);
    } finally {
      client.release(broken);
    }
  }

  transaction(statements: { sql: string; params?: unknown[] }[]): Promise<Row[]> {
    return this.interactive(async (query) => {
      let rows: Row[] = [];
      for (const statement of statements) rows = await query(statement.sql, statement.params);
      return rows;
    });
  }
}

/** Expired jobs failed per transaction of a sweep. */
const SWEEP_BATCH = 100;

/** Stream rows hold several deltas under their first seq: the last seq a row covers. */
const ROW_LAST_SEQ = `(seq + case when type = 'stream' and jsonb_typeof(payload->'deltas') = 'array'
  then greatest(jsonb_array_length(payload->'deltas'), 1) - 1 else 0 end)`;

/** Connections for job event writes and tail reads: a write and a read in flight at once, and a spare. */
const EVENT_CONNECTIONS = 3;

/** What a service transaction sets (pglite.ts's Session), for a whole session. */
const SERVICE_SESSION = `select set_config('request.jwt.claims', '{"role":"service_role"}', false), set_config('role', 'service_role', false)`;

/** A NOTIFY payload is at most 8000 bytes: `jobId:lastSeq` entries (≤ 48 bytes each) go 150 to a notification. */
const NOTIFY_ENTRIES = 150;

/**
 * Another instance's tail read (rows `e`): the rows after each job's seq (parameters `$jobs` uuid[] and `$seqs`
 * int[]), as a range scan of the primary key per job (lateral). As a plain join, the generic plan a prepared
 * statement settles on after five calls guesses that `seq > $n` keeps a third of the table and hash-joins it over a
 * scan of all of job_events: every read read every row, 3.5 ms a read at 40 000 rows in the cluster bench
 * (pg_stat_statements) and growing with the table; this way 0.14 ms.
 */
const eventsAfter = (jobs: number, seqs: number) => `from unnest($${jobs}::uuid[], $${seqs}::int[]) as w (job_id, seq)
  cross join lateral (select * from public.job_events j where j.job_id = w.job_id and j.seq > w.seq order by j.seq) e`;

export const JOB_EVENTS_AFTER_SQL = `select e.* ${eventsAfter(1, 2)} order by e.job_id, e.seq`;

/**
 * The write of a batch of job events ($1: the rows as JSON) and its notifications ($2: `jobId:lastSeq,…` payloads,
 * sent on commit, only when rows were written), as CTEs; the statement's own select follows (it must read `notified`,
 * or the notifications are not sent).
 */
const APPEND_JOB_EVENTS_SQL = `with added as (
    insert into public.job_events (job_id, seq, type, payload)
    select e.job_id, e.seq, e.type, e.payload
    from jsonb_to_recordset($1::jsonb) as e (job_id uuid, seq int, type text, payload jsonb)
    returning 1
  ), notified as (
    select pg_notify('${JOB_EVENTS_CHANNEL}', n) from unnest($2::text[]) as n where exists (select from added)
  )`;

/** `APPEND_JOB_EVENTS_SQL`'s values: the rows, and the notifications, each listing up to NOTIFY_ENTRIES jobs' last seq. */
function appendValues(events: readonly JobEventInput[]): [string, string[]] {
  const last = new Map<string, number>();
  for (const e of events) {
    const deltas = e.type === 'stream' ? (e.payload as { deltas?: unknown } | null)?.deltas : undefined;
    const seq = e.seq + (Array.isArray(deltas) ? Math.max(deltas.length, 1) - 1 : 0);
    last.set(e.jobId, Math.max(last.get(e.jobId) ?? 0, seq));
  }
  const entries = [...last].map(([jobId, seq]) => `${jobId}:${seq}`);
  const notifications: string[] = [];
  for (let i = 0; i < entries.length; i += NOTIFY_ENTRIES) notifications.push(entries.slice(i, i + NOTIFY_ENTRIES).join(','));
  return [JSON.stringify(events.map((e) => ({ job_id: e.jobId, seq: e.seq, type: e.type, payload: e.payload ?? null }))), notifications];
}

/**
 * The job events' hot path (every flush's write, every tail read of another instance) is one statement in one round
 * trip on connections of its own that are `service_role` for their whole session, instead of the four round trips of
 * a service transaction (begin, claims, statement, commit) on the shared pool. Prepared once per connection.
 */
class PostgresServiceRepository extends PgliteServiceRepository {
  constructor(
    db: Session,
    private readonly events: pg.Pool,
  ) {
    super(db);
  }

  private async hot(name: string, text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await this.events.query({ name, text, values })).rows as Row[];
    } catch (error) {
      throw toBackendError(connectionError(error));
    }
  }

  /**
   * The rows and, in the same statement (so on its commit), one notification for the whole write listing every job's
   * last seq (`jobId:lastSeq,…`): a write of 150 jobs' events is one notification for each listener, not 150.
   */
  override async appendJobEvents(events: readonly JobEventInput[]): Promise<void> {
    if (events.length === 0) return;
    await this.hot('dreamcore_append_job_events', `${APPEND_JOB_EVENTS_SQL} select from notified`, appendValues(events));
  }

  /**
   * `appendJobEvents` and `jobEventsAfter` in one statement, so in one round trip: an instance with a write planned
   * reads the other instances' rows it waits for with it. The read sees the rows committed before the statement began
   * (a statement does not see its own inserts), returned after one row without a job per notification sent.
   */
  async appendJobEventsAndRead(events: readonly JobEventInput[], after: readonly { jobId: string; seq: number }[]): Promise<JobEventRecord[]> {
    if (events.length === 0) return this.jobEventsAfter(after);
    if (after.length === 0) return this.appendJobEvents(events).then(() => []);
    const rows = await this.hot(
      'dreamcore_append_and_read_job_events',
      `${APPEND_JOB_EVENTS_SQL}
       select null::uuid as job_id, null::int as seq, null::text as type, null::jsonb as payload, null::timestamptz as created_at from notified
       union all
       select e.job_id, e.seq, e.type, e.payload, e.created_at ${eventsAfter(3, 4)}
       order by job_id nulls first, seq`,
      [...appendValues(events), after.map((a) => a.jobId), after.map((a) => a.seq)],
    );
    return rows.filter((row) => row.job_id !== null).map(toJobEvent);
  }

  override async jobEventsAfter(after: readonly { jobId: string; seq: number }[]): Promise<JobEventRecord[]> {
    if (after.length === 0) return [];
    const rows = await this.hot('dreamcore_job_events_after', JOB_EVENTS_AFTER_SQL, [after.map((a) => a.jobId), after.map((a) => a.seq)]);
    return rows.map(toJobEvent);
  }
}

/** Whether render row `r`'s owner is an instance still up (its registration renewed on the heartbeat). */
const LIVE_OWNER = 'select from public.server_instances i where i.id = r.owner and i.expires_at > now()';

/** RenderPatch's fields and their columns. */
const RENDER_COLUMNS: [keyof RenderPatch, string][] = [
  ['status', 'status'],
  ['percent', 'percent'],
  ['stage', 'stage'],
  ['error', 'error'],
  ['code', 'code'],
  ['httpStatus', 'http_status'],
  ['duration', 'duration'],
  ['finishedAt', 'finished_at'],
];

class PostgresCoordination implements Coordination {
  private listener: pg.Client | null = null;
  private readonly channels = new Map<string, Set<(payload: string) => void>>();
  private closed = false;

  constructor(
    private readonly connectionString: string,
    private readonly pool: pg.Pool,
    private readonly service: Session,
    private readonly applicationName: string,
  ) {}

  /** One connection LISTENs for every channel of this instance; when it drops, a new one listens again. */
  private async listenerClient(): Promise<pg.Client> {
    if (this.listener) return this.listener;
    const client = new pg.Client({ connectionString: this.connectionString, application_name: `${this.applicationName} listen` });
    client.on('notification', (message) => {
      for (const fn of this.channels.get(message.channel) ?? []) fn(message.payload ?? '');
    });
    client.on('error', () => {
      if (this.listener !== client) return;
      this.listener = null;
      void client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.relisten(), 500).unref();
    });
    await client.connect();
    this.listener = client;
    return client;
  }

  /** After a dropped connection: listen again, then tell every listener it may have missed something (payload ''). */
  private async relisten(): Promise<void> {
    try {
      const client = await this.listenerClient();
      for (const channel of this.channels.keys()) await client.query(`listen ${channel}`);
      for (const listeners of this.channels.values()) for (const fn of listeners) fn('');
    } catch {
      if (!this.closed) setTimeout(() => void this.relisten(), 1000).unref();
    }
  }

  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    if (!/^[a-z_]+$/.test(channel)) throw createError('INVALID_ARGUMENT', `not a channel name: ${channel}`);
    let listeners = this.channels.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.channels.set(channel, listeners);
      await (await this.listenerClient()).query(`listen ${channel}`);
    }
    listeners.add(onPayload);
    return async () => {
      listeners.delete(onPayload);
    };
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.pool.query('select pg_notify($1, $2)', [channel, payload]).catch((error: unknown) => {
      throw connectionError(error);
    });
  }

  /**
   * In transactions of SWEEP_BATCH jobs (short locks), one after another until none is left: a dead instance with
   * more jobs than one batch still has all of them failed by this sweep, within the documented bound.
   */
  async failExpiredJobs(reason: string, event: (job: JobRecord) => { type: string; payload: unknown }): Promise<JobRecord[]> {
    const failed: JobRecord[] = [];
    for (;;) {
      const batch = await this.failExpiredBatch(reason, event);
      failed.push(...batch);
      if (batch.length < SWEEP_BATCH) return failed;
    }
  }

  /** One batch in two statements, however many jobs it holds (not two round trips per job under the locks). */
  private failExpiredBatch(reason: string, event: (job: JobRecord) => { type: string; payload: unknown }): Promise<JobRecord[]> {
    return this.service.tx(async (query) => {
      // skip locked: two instances sweeping at once each take different rows, never the same one twice.
      const rows = await query(
        `update public.jobs set status = 'failed', error = $1, error_code = $2, recoverable = true, progress_message = null, lease_owner = null
         where id in (
           select id from public.jobs
           where status in ('pending', 'processing') and (lease_expires_at is null or lease_expires_at < now())
           order by created_at limit ${SWEEP_BATCH} for update skip locked
         )
         returning *`,
        [reason, SERVER_RESTART_CODE],
      );
      if (rows.length === 0) return [];
      const failed = rows.map(toJob).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      // Each job's terminal event at its next seq, notified on commit like any event.
      await query(
        `with failed as (select * from jsonb_to_recordset($1::jsonb) as f (job_id uuid, type text, payload jsonb))
         insert into public.job_events (job_id, seq, type, payload)
         select f.job_id, (select coalesce(max(${ROW_LAST_SEQ}), 0) + 1 from public.job_events where job_id = f.job_id), f.type, f.payload
         from failed f
         returning pg_notify('${JOB_EVENTS_CHANNEL}', job_id::text || ':' || seq)`,
        [JSON.stringify(failed.map((job) => ({ job_id: job.id, ...event(job) })))],
      );
      return failed;
    });
  }

  async registerInstance(instance: { id: string; backend: string; host: string; dataDir: string }, ms: number): Promise<void> {
    await this.service.rows(
      `insert into public.server_instances (id, backend, host, data_dir, expires_at) values ($1, $2, $3, $4, now() + make_interval(secs => $5 / 1000.0))
       on conflict (id) do update set expires_at = excluded.expires_at`,
      [instance.id, instance.backend, instance.host, instance.dataDir, ms],
    );
  }

  async liveInstances() {
    const rows = await this.service.rows('select * from public.server_instances where expires_at > now() order by started_at');
    return rows.map((row) => ({
      id: String(row.id),
      backend: String(row.backend),
      host: String(row.host),
      dataDir: String(row.data_dir),
      startedAt: (row.started_at as Date).toISOString(),
      expiresAt: (row.expires_at as Date).toISOString(),
    }));
  }

  async removeInstance(id: string): Promise<void> {
    await this.service.rows("delete from public.server_instances where id = $1 or expires_at < now() - interval '1 day'", [id]);
    // Its presence rows, and those of instances that died and are gone from the registry since.
    await this.service.rows(
      'delete from public.user_presence p where p.instance_id = $1 or not exists (select from public.server_instances i where i.id = p.instance_id)',
      [id],
    );
  }

  async sharedSecret(name: string, create: () => Promise<string> | string): Promise<string> {
    const existing = await this.service.row('select value from public.server_secrets where name = $1', [name]);
    if (existing) return String(existing.value);
    await this.service.rows('insert into public.server_secrets (name, value) values ($1, $2) on conflict (name) do nothing', [name, await create()]);
    // Two instances creating at once: the first insert won, and both read its value.
    return String((await this.service.row('select value from public.server_secrets where name = $1', [name]))!.value);
  }

  async takeRateLimit(key: string, limit: number, windowMs: number): Promise<boolean> {
    const row = await this.service.row('select public.take_rate_limit($1, $2, $3) as ok', [key, limit, Math.round(windowMs)]);
    return row?.ok === true;
  }

  async claimRender(projectId: string, owner: string): Promise<{ claimed: boolean; render: RenderRecord }> {
    const taken = await this.service.row(
      `insert into public.movie_renders as r (project_id, owner, status) values ($1, $2, 'rendering')
       on conflict (project_id) do update set owner = excluded.owner, status = 'rendering', percent = 0, stage = 'starting',
         error = null, code = null, http_status = null, duration = null, started_at = now(), finished_at = null, updated_at = now()
       where r.status <> 'rendering' or not exists (${LIVE_OWNER})
       returning r.*, true as alive`,
      [projectId, owner],
    );
    if (taken) return { claimed: true, render: toRender(taken) };
    // Rendering on a live instance; read as it is now (it may have ended since: then the next POST takes it).
    return {
      claimed: false,
      render: (await this.getRender(projectId)) ?? { status: 'rendering', percent: 0, stage: 'starting', startedAt: new Date().toISOString() },
    };
  }

  async updateRender(projectId: string, owner: string, patch: RenderPatch, options: { whileRendering?: boolean } = {}): Promise<void> {
    const columns: Record<string, unknown> = {};
    for (const [key, column] of RENDER_COLUMNS) if (Object.hasOwn(patch, key)) columns[column] = patch[key] ?? null;
    const names = Object.keys(columns);
    await this.service.rows(
      `update public.movie_renders set ${names.map((n, i) => `${n} = $${i + 3}`).join(', ')}${names.length ? ', ' : ''}updated_at = now()
       where project_id = $1 and owner = $2${options.whileRendering ? " and status = 'rendering'" : ''}`,
      [projectId, owner, ...Object.values(columns)],
    );
  }

  async getRender(projectId: string): Promise<RenderRecord | null> {
    const row = await this.service.row(`select r.*, exists (${LIVE_OWNER}) as alive from public.movie_renders r where r.project_id = $1`, [projectId]);
    return row ? toRender(row) : null;
  }

  async markPresence(userId: string, instanceId: string, visible: boolean): Promise<void> {
    await this.service.rows(
      `insert into public.user_presence (user_id, instance_id, visible, seen_at) values ($1, $2, $3, now())
       on conflict (user_id, instance_id) do update set visible = excluded.visible, seen_at = excluded.seen_at`,
      [userId, instanceId, visible],
    );
  }

  async watchingElsewhere(userId: string, instanceId: string, at: number, windowMs: number): Promise<boolean> {
    const row = await this.service.row(
      `select exists (
         select from public.user_presence p join public.server_instances i on i.id = p.instance_id and i.expires_at > now()
         where p.user_id = $1 and p.instance_id <> $2 and p.visible and p.seen_at > to_timestamp($3 / 1000.0)
       ) as watching`,
      [userId, instanceId, at - windowMs],
    );
    return row?.watching === true;
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.listener;
    this.listener = null;
    await client?.end().catch(() => undefined);
  }
}

/** Connects, applies the migrations (under the runner's advisory lock: instances booting together take turns). */
export async function openPostgresDatabase(options: PostgresDatabaseOptions): Promise<PostgresDatabase> {
  const applicationName = options.applicationName ?? 'dreamcore';
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 10, application_name: applicationName });
  // An idle connection that drops (a database restart) must not take the process with it; the next query reconnects.
  pool.on('error', () => undefined);
  let migrations: MigrateResult;
  try {
    const client = await pool.connect().catch((error: unknown) => {
      throw connectionError(error);
    });
    try {
      migrations = await applyMigrations(
        {
          exec: async (sql) => void (await client.query(sql)),
          query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
        },
        { localCompat: options.localCompat },
      );
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  const connection = new PoolConnection(pool);
  const service = serviceSession(connection);
  // The job events' own connections: service_role for the session (the shared pool sets a role per transaction).
  const eventsPool = new pg.Pool({ connectionString: options.connectionString, max: EVENT_CONNECTIONS, application_name: `${applicationName} events` });
  eventsPool.on('error', () => undefined);
  eventsPool.on('connect', (client) => {
    // Queued before any query the pool hands this connection to, so it runs first.
    void client.query(SERVICE_SESSION).catch(() => undefined);
  });
  const coordination = new PostgresCoordination(options.connectionString, pool, service, applicationName);
  let closed = false;
  return {
    kind: 'postgres',
    migrations,
    service: new PostgresServiceRepository(service, eventsPool),
    auth: new PgliteAuthStore(service),
    coordination,
    forUser: (userId) => userRepository(connection, userId),
    async close() {
      if (closed) return;
      closed = true;
      await coordination.close();
      await Promise.all([pool.end(), eventsPool.end()]);
    },
  };
}
