/**
 * The database layer against both implementations, with one shared contract (support/db-contract.ts):
 *  (a) PGlite on disk in a temp dir — the embedded default, RLS applied in-process the way PostgREST applies it;
 *  (b) supabase-js → PostgREST → a real PostgreSQL 15 started here, with Supabase-style access tokens minted by
 *      `jose` (ES256 via JWKS, and HS256 as legacy projects sign).
 * Both lanes start at once (PGlite's initdb is CPU work in this process; PostgreSQL's is another process).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBackendError } from '@dreamcore/runtime-core';
import { openPgliteDatabase, type PgliteDatabase } from '../src/db/pglite.js';
import { createSupabaseDatabase, type SupabaseDatabase } from '../src/db/supabase.js';
import pg from 'pg';
import { JOB_EVENTS_AFTER_SQL, openPostgresDatabase, type PostgresDatabase } from '../src/db/postgres.js';
import { registerRepositoryContract, uniqueEmail, type RepositoryLane } from './support/db-contract.js';
import { pg15LaneSkipped, startPg15Stack, type Pg15Stack } from './support/pg15.js';

const measurements: Record<string, Record<string, number>> = { pglite: {}, 'supabase-js + PostgREST + PG15': {}, 'pg → PG15 (DATABASE_URL)': {} };
const record = (lane: string) => (label: string, value: number) => {
  measurements[lane]![label] = Math.round(value * 100) / 100;
};

const workDir = mkdtempSync(path.join(tmpdir(), 'dreamcore-db-test-'));
const templateDir = path.join(workDir, 'templates');
const pg15Reason = pg15LaneSkipped();

interface PgliteSetup {
  db: PgliteDatabase;
  dataDir: string;
  openMs: number;
}

let pgliteSetup: Promise<PgliteSetup>;

/** A lane whose database is its own auth store (PGlite, or PostgreSQL with local-compat): users sign up there. */
function embeddedAuthLane(getDb: () => PgliteDatabase | PostgresDatabase, rec: RepositoryLane['record']): RepositoryLane {
  return {
    get db() {
      return getDb();
    },
    async createUser(email = uniqueEmail(), meta = {}) {
      return (await getDb().auth.createAuthUser(email, 'scrypt$test', meta)).id;
    },
    async asUser(userId) {
      return getDb().forUser(userId);
    },
    record: rec,
  };
}
let pg15Setup: Promise<Pg15Stack> | null = null;

beforeAll(() => {
  const started = performance.now();
  const dataDir = path.join(workDir, 'pglite');
  // A cold create with every migration (the product's first boot); with a template dir private to this run, a copy
  // of the fresh database also becomes the template that a later case starts from.
  pgliteSetup = openPgliteDatabase({ dataDir, templateDir }).then((db) => ({
    db,
    dataDir,
    openMs: performance.now() - started,
  }));
  pgliteSetup.catch(() => undefined); // reported by the lane that awaits it
  if (!pg15Reason) {
    pg15Setup = startPg15Stack();
    pg15Setup.catch(() => undefined);
  }
});

afterAll(async () => {
  const closing: Promise<unknown>[] = [
    pgliteSetup.then(
      (s) => s.db.close(),
      () => undefined,
    ),
  ];
  if (pg15Setup)
    closing.push(
      pg15Setup.then(
        (s) => s.stop(),
        () => undefined,
      ),
    );
  await Promise.all(closing);
  rmSync(workDir, { recursive: true, force: true });
  console.log(`database timings (ms)\n${JSON.stringify(measurements, null, 2)}`);
});

describe('repository on PGlite (embedded)', () => {
  let setup: PgliteSetup;
  let db: PgliteDatabase;

  beforeAll(async () => {
    setup = await pgliteSetup;
    db = setup.db;
    record('pglite')('open (cold: initdb + migrations, then template copy + reopen)', setup.openMs);
  });

  const lane = embeddedAuthLane(() => db, record('pglite'));

  const ALL_MIGRATIONS = [
    '000_local-compat.sql',
    '001_core.sql',
    '002_functions.sql',
    '003_jobs_usage_and_events.sql',
    '004_published_snapshots.sql',
    '005_display_names.sql',
    '006_agent_turns.sql',
    '007_cluster.sql',
    '008_asset_library_and_profiles.sql',
    '009_notifications.sql',
    '010_movie_renders.sql',
    '011_user_presence.sql',
    '012_client_message_ids.sql',
  ];

  it('a new database gets the compat file and every migration, in order', () => {
    expect(db.kind).toBe('pglite');
    expect(db.migrations).toEqual({ applied: ALL_MIGRATIONS, skipped: [] });
    expect(existsSync(`${setup.dataDir}.lock`)).toBe(true);
  });

  registerRepositoryContract(() => lane);

  describe('embedded auth store', () => {
    it('creates auth users (with their users row); e-mail is unique, case-insensitively', async () => {
      const email = uniqueEmail('dana');
      const user = await db.auth.createAuthUser(email.toUpperCase(), 'scrypt$hash', { full_name: 'Dana D' });
      expect(user).toMatchObject({ email, passwordHash: 'scrypt$hash', meta: { full_name: 'Dana D' } });
      expect(await db.auth.authUserByEmail(` ${email.toUpperCase()} `)).toEqual(user);
      expect(await db.auth.authUserById(user.id)).toEqual(user);
      expect(await db.auth.authUserById('nope')).toBeNull();
      expect(await db.auth.authUserByEmail('nobody@example.test')).toBeNull();
      expect((await db.forUser(user.id).getUser(user.id))?.displayName).toBe('Dana D');
      const duplicate = await db.auth.createAuthUser(email, 'x').catch((e: unknown) => e);
      expect(isBackendError(duplicate, 'CONFLICT')).toBe(true);
    });

    it('refresh tokens: single use, rotation, reuse revokes the family, expiry, sign-out', async () => {
      const user = await db.auth.createAuthUser(uniqueEmail('erin'), 'h');
      const soon = new Date(Date.now() + 3600_000);
      await db.auth.storeRefreshToken('t1', user.id, soon);
      expect((await db.auth.useRefreshToken('t1'))?.id).toBe(user.id);
      await db.auth.storeRefreshToken('t2', user.id, soon, 't1');
      expect((await db.auth.useRefreshToken('t2'))?.id).toBe(user.id);
      await db.auth.storeRefreshToken('t3', user.id, soon, 't2');
      // A second, unrelated session of the same user.
      await db.auth.storeRefreshToken('other', user.id, soon);

      // t1 comes back (stolen and replayed): refused, and the live end of its family (t3) dies with it.
      expect(await db.auth.useRefreshToken('t1')).toBeNull();
      expect(await db.auth.useRefreshToken('t3')).toBeNull();
      expect(await db.auth.useRefreshToken('unknown')).toBeNull();
      // The other session is not part of that family.
      expect((await db.auth.useRefreshToken('other'))?.id).toBe(user.id);

      await db.auth.storeRefreshToken('old', user.id, new Date(Date.now() - 1000));
      expect(await db.auth.useRefreshToken('old')).toBeNull();

      await db.auth.storeRefreshToken('a1', user.id, soon);
      await db.auth.storeRefreshToken('a2', user.id, soon);
      expect(await db.auth.revokeUserTokens(user.id)).toBe(3); // a1, a2 and the expired 'old'
      expect(await db.auth.useRefreshToken('a1')).toBeNull();
    });

    it('ensureUser makes a user the database has never seen (dev and demo tokens)', async () => {
      const id = crypto.randomUUID();
      const email = uniqueEmail('frank');
      const user = await db.service.ensureUser({ id, email, displayName: 'Frank' });
      expect(user).toMatchObject({ id, email, displayName: 'Frank' });
      expect((await db.auth.authUserById(id))?.passwordHash).toBeNull();
      expect(await db.service.ensureUser({ id, email })).toEqual(user);
      // Someone else's e-mail address is refused rather than merged.
      const clash = await db.service.ensureUser({ id: crypto.randomUUID(), email }).catch((e: unknown) => e);
      expect(isBackendError(clash, 'CONFLICT')).toBe(true);
    });

    it('user-scoped access cannot reach the auth tables or the service-only functions', async () => {
      const user = await db.auth.createAuthUser(uniqueEmail('gina'), 'h');
      const asUser = db.forUser(user.id) as unknown as { tryConsumeQuota?: unknown };
      expect(asUser.tryConsumeQuota).toBeUndefined();
      expect(() => db.forUser('not-a-uuid')).toThrow();
    });
  });

  describe('on disk', () => {
    it('a second open of the same directory is refused while the first is open', async () => {
      const error = await openPgliteDatabase({ dataDir: setup.dataDir }).catch((e: unknown) => e);
      expect(isBackendError(error, 'UNAVAILABLE')).toBe(true);
    });

    it('a directory that is not a PGlite database is refused clearly (and not locked afterwards)', async () => {
      const bad = path.join(workDir, 'not-a-database');
      mkdirSync(bad);
      writeFileSync(path.join(bad, 'notes.txt'), 'hello');
      const error = await openPgliteDatabase({ dataDir: bad }).catch((e: unknown) => e);
      expect(isBackendError(error, 'UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toContain(bad);
      expect(existsSync(`${bad}.lock`)).toBe(false);
    });

    it('a new data dir starts as a copy of the template: migrated, empty, fast', async () => {
      const started = performance.now();
      const copy = await openPgliteDatabase({ dataDir: path.join(workDir, 'from-template'), templateDir });
      record('pglite')('open new dir from template (copy + open)', performance.now() - started);
      try {
        expect(copy.migrations).toEqual({ applied: [], skipped: ALL_MIGRATIONS });
        expect(await copy.service.listPublicGames(100)).toEqual([]); // the template was taken before any data
        const id = (await copy.auth.createAuthUser(uniqueEmail('ivy'), 'h')).id;
        expect((await copy.forUser(id).createProject(id, 'In the copy')).name).toBe('In the copy');
      } finally {
        await copy.close();
      }
    });

    it('data survives close and reopen; the reopen applies nothing', async () => {
      const id = await lane.createUser(uniqueEmail('henry'));
      const project = await db.forUser(id).createProject(id, 'Persistent');
      await db.close();
      const started = performance.now();
      db = await openPgliteDatabase({ dataDir: setup.dataDir });
      record('pglite')('reopen (warm)', performance.now() - started);
      setup.db = db;
      expect(db.migrations).toEqual({ applied: [], skipped: ALL_MIGRATIONS });
      expect(await db.forUser(id).getProject(project.id)).toMatchObject({ name: 'Persistent' });
    });
  });
});

describe.skipIf(pg15Reason !== null)(`repository on Supabase (supabase-js → PostgREST → PostgreSQL 15)${pg15Reason ? ` — skipped: ${pg15Reason}` : ''}`, () => {
  let stack: Pg15Stack;
  let db: SupabaseDatabase;

  beforeAll(async () => {
    stack = await pg15Setup!;
    const rec = record('supabase-js + PostgREST + PG15');
    rec('initdb', stack.timings.initdbMs);
    rec('pg_ctl start', stack.timings.startMs);
    rec('compat + migrations', stack.timings.migrateMs);
    rec('PostgREST ready (schema cache loaded) + proxy', stack.timings.postgrestMs);
    rec('stack total', stack.timings.totalMs);
    db = createSupabaseDatabase({ url: stack.url, anonKey: stack.anonKey, serviceRoleKey: stack.serviceRoleKey });
  });

  const lane: RepositoryLane = {
    get db() {
      return db;
    },
    async createUser(email = uniqueEmail(), meta = {}) {
      // What GoTrue does on sign-up; the sign-up trigger creates the users row.
      const result = await stack.sql.query<{ id: string }>('insert into auth.users (email, raw_user_meta_data) values ($1, $2::jsonb) returning id', [
        email,
        JSON.stringify(meta),
      ]);
      return result.rows[0]!.id;
    },
    async asUser(userId) {
      return db.forUser(userId, await stack.userToken(userId));
    },
    record: record('supabase-js + PostgREST + PG15'),
  };

  registerRepositoryContract(() => lane);

  describe('Supabase specifics', () => {
    it('HS256 (legacy) tokens work like ES256 ones', async () => {
      const id = await lane.createUser();
      const repo = db.forUser(id, await stack.userToken(id, { alg: 'HS256' }));
      expect((await repo.createProject(id, 'Legacy')).name).toBe('Legacy');
      expect(await repo.listProjects(id)).toHaveLength(1);
    });

    it('an expired token is refused with a message that says so', async () => {
      const id = await lane.createUser();
      const repo = db.forUser(id, await stack.userToken(id, { expiresInSeconds: -60 }));
      const error = await repo.listProjects(id).catch((e: unknown) => e);
      expect(isBackendError(error, 'ACCESS_DENIED')).toBe(true);
      expect((error as Error).message).toMatch(/expired/i);
    });

    it('an unreachable database is UNAVAILABLE, not a 500', async () => {
      const server = http.createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      await new Promise((resolve) => server.close(resolve)); // the port is now closed
      const offline = createSupabaseDatabase({ url: `http://127.0.0.1:${port}`, anonKey: 'a', serviceRoleKey: 's' });
      const error = await offline.service.getProject(crypto.randomUUID()).catch((e: unknown) => e);
      expect(isBackendError(error, 'UNAVAILABLE')).toBe(true);
    });

    it('a user-scoped repository needs the token', () => {
      expect(() => db.forUser(crypto.randomUUID())).toThrow(/access token/);
    });

    it('planOf: the plan counts only while the subscription is active', async () => {
      const id = await lane.createUser();
      await stack.sql.query(`insert into public.subscriptions (user_id, plan, status) values ($1, 'pro', 'active')`, [id]);
      expect(await db.service.planOf(id)).toBe('pro');
      await stack.sql.query(`update public.subscriptions set status = 'past_due' where user_id = $1`, [id]);
      expect(await db.service.planOf(id)).toBe('free');
    });

    it('through the raw API: anon reads public games only; RPCs and foreign rows are closed to users', async () => {
      const owner = await lane.createUser();
      const asOwner = await lane.asUser(owner);
      const pub = await asOwner.publishGame((await asOwner.createProject(owner, 'Pub')).id, owner, { title: 'Pub' });
      const unlisted = await asOwner.publishGame((await asOwner.createProject(owner, 'Unl')).id, owner, {
        title: 'Unl',
        visibility: 'unlisted',
      });
      const options = { auth: { persistSession: false }, realtime: { transport: WebSocket as never } };
      const anon = createClient(stack.url, stack.anonKey, options);
      const seen = await anon.from('published_games').select('id').in('id', [pub.id, unlisted.id]);
      expect(seen.error).toBeNull();
      expect(seen.data?.map((r) => r.id)).toEqual([pub.id]);
      // No table privilege at all for anon outside the public reads.
      expect((await anon.from('projects').select('id')).error?.code).toBe('42501');
      expect((await anon.from('users').select('id')).error?.code).toBe('42501');

      const intruder = await lane.createUser();
      const asIntruder = createClient(stack.url, stack.anonKey, {
        ...options,
        global: { headers: { Authorization: `Bearer ${await stack.userToken(intruder)}` } },
      });
      const rpc = await asIntruder.rpc('try_consume_quota', { p_user_id: owner, p_field: 'messages_sent', p_limit: -1 });
      expect(rpc.error?.code).toBe('42501');
      expect((await asIntruder.rpc('get_quota', { p_user_id: owner })).error?.code).toBe('42501');
      const forged = await asIntruder.from('jobs').insert({ user_id: intruder, project_id: pub.projectId });
      expect(forged.error?.code).toBe('42501');
      const events = await asIntruder.from('job_events').select('*');
      expect(events.data).toEqual([]);
      expect((await asIntruder.from('schema_migrations').select('*')).data ?? []).toEqual([]);
    });

    it('through the raw API a user writes only the columns that are theirs (migration 008)', async () => {
      const id = await lane.createUser();
      const asset = await (await lane.asUser(id)).createAsset({ ownerId: id, alias: 'a.png', hash: 'ab12cd34'.repeat(8), mimeType: 'image/png' });
      await db.service.softDeleteAsset(asset.id);
      const self = createClient(stack.url, stack.anonKey, {
        auth: { persistSession: false },
        realtime: { transport: WebSocket as never },
        global: { headers: { Authorization: `Bearer ${await stack.userToken(id)}` } },
      });
      // Their own rows, but columns the server owns: refused, nothing changed.
      for (const values of [
        { username: 'admin' },
        { avatar_url: 'https://evil.example/x.png' },
        { email: 'other@example.test' },
        { public_id: 'u_0000000000' },
      ]) {
        expect((await self.from('users').update(values).eq('id', id)).error?.code, JSON.stringify(values)).toBe('42501');
      }
      for (const values of [{ is_deleted: false }, { mime_type: 'text/html' }, { filename: '../x' }]) {
        expect((await self.from('assets').update(values).eq('id', asset.id)).error?.code, JSON.stringify(values)).toBe('42501');
      }
      expect(await db.service.getUser(id)).toMatchObject({ username: null, avatarUrl: null });
      expect((await stack.sql.query('select is_deleted, mime_type from public.assets where id = $1', [asset.id])).rows[0]).toEqual({
        is_deleted: true,
        mime_type: 'image/png',
      });
      // What is theirs still works.
      expect((await self.from('users').update({ display_name: 'Mine' }).eq('id', id)).error).toBeNull();
    });
  });
});

describe.skipIf(pg15Reason !== null)(`repository on PostgreSQL 15 over pg (DATABASE_URL)${pg15Reason ? ` — skipped: ${pg15Reason}` : ''}`, () => {
  let stack: Pg15Stack;
  let db: PostgresDatabase;
  const rec = record('pg → PG15 (DATABASE_URL)');

  beforeAll(async () => {
    stack = await pg15Setup!;
    // A database of its own on the same cluster: the Supabase lane's rows stay out of this lane's global reads.
    await stack.sql.query('create database direct');
    const started = performance.now();
    db = await openPostgresDatabase({ connectionString: stack.connectionString('direct'), localCompat: true });
    rec('open (compat + migrations)', performance.now() - started);
  });

  afterAll(async () => {
    await db?.close();
  });

  const lane = embeddedAuthLane(() => db, rec);

  registerRepositoryContract(() => lane);

  describe('PostgreSQL specifics', () => {
    it('a second open applies nothing; the schema is the one PGlite and Supabase get', async () => {
      expect(db.kind).toBe('postgres');
      expect(db.migrations.applied.at(-1)).toBe('012_client_message_ids.sql');
      const again = await openPostgresDatabase({ connectionString: stack.connectionString('direct'), localCompat: true });
      try {
        expect(again.migrations.applied).toEqual([]);
      } finally {
        await again.close();
      }
    });

    it('an unreachable database is UNAVAILABLE', async () => {
      const error = await openPostgresDatabase({ connectionString: 'postgres://nobody@127.0.0.1:9/none', localCompat: true }).catch((e: unknown) => e);
      expect(isBackendError(error, 'UNAVAILABLE')).toBe(true);
    });

    it('the sweep fails every expired job, more than one batch of them, each with its failed event at the next seq; a live lease stays', async () => {
      const [user, other] = await Promise.all([lane.createUser(), lane.createUser()]);
      const projects = await Promise.all(Array.from({ length: 101 }, (_, i) => db.forUser(user).createProject(user, `Expired ${i}`)));
      // Jobs without a lease, as a dead instance leaves them once it stopped renewing: expired, all of them.
      const expired = await Promise.all(projects.map((p) => db.service.createJob(user, p.id)));
      await db.service.appendJobEvents(expired.map((job) => ({ jobId: job.id, seq: 1, type: 'started', payload: {} })));
      const alive = await db.service.admitJob(
        other,
        (await db.forUser(other).createProject(other, 'Alive')).id,
        { perUser: 1, total: 10_000 },
        { owner: 'alive', ms: 60_000 },
      );
      if (alive.kind !== 'started') throw new Error(`expected a started job, got ${alive.kind}`);

      const failed = await db.coordination.failExpiredJobs('gone', (job) => ({ type: 'failed', payload: { code: 'SERVER_RESTART', jobId: job.id } }));
      const failedIds = failed.map((job) => job.id);
      expect(new Set(failedIds).size).toBe(failedIds.length);
      expect(failedIds).toEqual(expect.arrayContaining(expired.map((job) => job.id)));
      expect(failedIds).not.toContain(alive.job.id);
      for (const job of failed) expect(job).toMatchObject({ status: 'failed', errorCode: 'SERVER_RESTART', recoverable: true });
      const events = await db.service.jobEventsAfter(expired.map((job) => ({ jobId: job.id, seq: 0 })));
      expect(events.map((e) => `${e.jobId}:${e.seq}:${e.type}`).sort()).toEqual(expired.flatMap((job) => [`${job.id}:1:started`, `${job.id}:2:failed`]).sort());
      expect(await db.service.getJob(alive.job.id)).toMatchObject({ status: 'pending' });
      expect(await db.coordination.failExpiredJobs('gone', () => ({ type: 'failed', payload: {} }))).toEqual([]);
    });

    it("another instance's tail read is a range scan of each job's events, also in the plan a prepared statement keeps", async () => {
      const user = await lane.createUser();
      const job = await db.service.createJob(user, (await db.forUser(user).createProject(user, 'Long stream')).id);
      const sql = new pg.Client({ connectionString: stack.connectionString('direct') });
      await sql.connect();
      try {
        // A long job's events (and the table's statistics knowing them), and the plan kept for every call.
        await sql.query(
          `insert into public.job_events (job_id, seq, type, payload) select $1, n, 'stream', '{"deltas":["x"]}' from generate_series(1, 20000) n`,
          [job.id],
        );
        await sql.query('analyze public.job_events');
        await sql.query('set plan_cache_mode = force_generic_plan');
        await sql.query(`prepare tail (uuid[], int[]) as ${JOB_EVENTS_AFTER_SQL}`);
        const plan = (await sql.query(`explain execute tail('{${job.id}}', '{19990}')`)).rows
          .map((row: Record<string, string>) => row['QUERY PLAN'])
          .join('\n');
        expect(plan).toMatch(/Index Scan using job_events_pkey on job_events/);
        expect(plan).not.toMatch(/Seq Scan on job_events/);
        const tail = await db.service.jobEventsAfter([{ jobId: job.id, seq: 19_990 }]);
        expect(tail.map((e) => e.seq)).toEqual([19_991, 19_992, 19_993, 19_994, 19_995, 19_996, 19_997, 19_998, 19_999, 20_000]);
      } finally {
        await sql.end();
      }
    });

    it("a write that reads in the same statement: notifies as a write does, returns the other jobs' rows after each seq given, in (job, seq) order, none of its own", async () => {
      const jobIn = async (name: string) => {
        const user = await lane.createUser();
        return db.service.createJob(user, (await db.forUser(user).createProject(user, name)).id);
      };
      const [mine, theirs, idle] = await Promise.all([jobIn('Mine'), jobIn('Theirs'), jobIn('Idle')]);
      // Another instance's rows, already committed.
      await db.service.appendJobEvents([
        { jobId: theirs.id, seq: 1, type: 'started', payload: {} },
        { jobId: theirs.id, seq: 2, type: 'stream', payload: { deltas: ['x'] } },
        { jobId: theirs.id, seq: 3, type: 'stream', payload: { deltas: ['y'] } },
      ]);
      const heard: string[] = [];
      let heardIt: () => void = () => undefined;
      const got = new Promise<void>((resolve) => (heardIt = resolve));
      const stop = await db.coordination.listen('dreamcore_job_events', (payload) => {
        heard.push(payload);
        if (payload.startsWith(mine.id)) heardIt();
      });
      const read = await db.service.appendJobEventsAndRead!(
        [
          { jobId: mine.id, seq: 1, type: 'started', payload: {} },
          { jobId: mine.id, seq: 2, type: 'stream', payload: { deltas: ['a'] } },
        ],
        [
          { jobId: theirs.id, seq: 1 },
          { jobId: idle.id, seq: 0 },
          { jobId: mine.id, seq: 0 }, // its own rows are not committed when the statement reads
        ],
      );
      await got;
      await stop();
      expect(read.map((e) => [e.jobId, e.seq, e.type, e.payload])).toEqual([
        [theirs.id, 2, 'stream', { deltas: ['x'] }],
        [theirs.id, 3, 'stream', { deltas: ['y'] }],
      ]);
      expect(heard).toEqual([`${mine.id}:2`]);
      expect((await db.service.jobEventsAfter([{ jobId: mine.id, seq: 0 }])).map((e) => e.seq)).toEqual([1, 2]);
      // All or none, as appendJobEvents: a seq already taken writes nothing, reads nothing and notifies no one.
      const error = await db.service.appendJobEventsAndRead!(
        [
          { jobId: mine.id, seq: 3, type: 'progress', payload: {} },
          { jobId: mine.id, seq: 2, type: 'stream', payload: { deltas: ['again'] } },
        ],
        [{ jobId: theirs.id, seq: 0 }],
      ).catch((e: unknown) => e);
      expect(isBackendError(error, 'CONFLICT')).toBe(true);
      expect((await db.service.jobEventsAfter([{ jobId: mine.id, seq: 0 }])).map((e) => e.seq)).toEqual([1, 2]);
    });

    it('notifications: a job event write notifies once, jobId:lastSeq of every job in it; shared secrets and rate limits are one for every connection', async () => {
      const user = await lane.createUser();
      const project = await db.forUser(user).createProject(user, 'Notify');
      const job = await db.service.createJob(user, project.id);
      const otherUser = await lane.createUser();
      const otherJob = await db.service.createJob(otherUser, (await db.forUser(otherUser).createProject(otherUser, 'Notify too')).id);
      const heard: string[] = [];
      let heardAll: () => void = () => undefined;
      const got = new Promise<void>((resolve) => (heardAll = resolve));
      // Listening before the write: a notification is only delivered to sessions that listen when it commits.
      const stop = await db.coordination.listen('dreamcore_job_events', (payload) => {
        heard.push(payload);
        if (payload.includes(':3')) heardAll();
      });
      await db.service.appendJobEvents([
        { jobId: job.id, seq: 1, type: 'started', payload: {} },
        { jobId: otherJob.id, seq: 1, type: 'started', payload: {} },
        { jobId: job.id, seq: 2, type: 'stream', payload: { deltas: ['a', 'b'] } },
      ]);
      await got;
      await stop();
      expect(heard).toEqual([`${job.id}:3,${otherJob.id}:1`]);
      // The rows are what the notification said, read the way another instance reads them (one round trip).
      const read = await db.service.jobEventsAfter([
        { jobId: job.id, seq: 1 },
        { jobId: otherJob.id, seq: 0 },
      ]);
      expect(read.map((e) => [e.jobId, e.seq, e.type])).toEqual(
        [
          [job.id, 2, 'stream'],
          [otherJob.id, 1, 'started'],
        ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
      );

      const other = await openPostgresDatabase({ connectionString: stack.connectionString('direct'), localCompat: true });
      try {
        const [a, b] = await Promise.all([db.coordination.sharedSecret('s', () => 'first'), other.coordination.sharedSecret('s', () => 'second')]);
        expect(a).toBe(b);
        const takes = await Promise.all([1, 2, 3].map((i) => (i % 2 ? db : other).coordination.takeRateLimit(`k:${user}`, 2, 60_000)));
        expect(takes.filter(Boolean)).toHaveLength(2);
      } finally {
        await other.close();
      }
    });
  });
});
