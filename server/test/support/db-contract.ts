/**
 * The repository contract: one set of cases that every implementation runs (PGlite in-process; Supabase through
 * supabase-js → PostgREST → PostgreSQL 15). A lane supplies a database, a way to create auth users (what sign-up
 * does) and a user-scoped repository per user; the cases never look behind the interface.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isBackendError, type ErrorCode } from '@dreamcore/runtime-core';
import type { Database, UserRepository } from '../../src/db/repository.js';

export interface RepositoryLane {
  db: Database;
  /** Creates an auth user (the sign-up trigger makes its users row); returns the id. */
  /** A signed-up user; `meta` is the sign-up's user metadata (`display_name`, an OAuth provider's `full_name`, …). */
  createUser(email?: string, meta?: Record<string, unknown>): Promise<string>;
  /** The user-scoped repository, with whatever credentials the lane needs. */
  asUser(userId: string): Promise<UserRepository>;
  /** Measurements for the summary. */
  record(label: string, value: number): void;
}

const PUBLIC_ID = (prefix: string) => new RegExp(`^${prefix}_[0-9A-Za-z]{10}$`);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SHA = 'ab12cd34'.repeat(8);

let emailCounter = 0;
export function uniqueEmail(prefix = 'user'): string {
  emailCounter += 1;
  return `${prefix}-${emailCounter}-${randomUUID().slice(0, 8)}@example.test`.toLowerCase();
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, `expected a ${code} error`).not.toBeNull();
  if (!isBackendError(error, code)) throw new Error(`expected ${code}, got: ${String(error)}`, { cause: error });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function registerRepositoryContract(getLane: () => RepositoryLane): void {
  /** Two fresh users with their user-scoped repositories. */
  async function twoUsers() {
    const lane = getLane();
    const a = await lane.createUser(uniqueEmail('alice'), { display_name: 'Alice' });
    const b = await lane.createUser(uniqueEmail('bob'), { display_name: 'Bob' });
    return { lane, a, b, asA: await lane.asUser(a), asB: await lane.asUser(b), service: lane.db.service };
  }

  describe('users', () => {
    it('the sign-up trigger creates the users row; ensureUser returns it and is idempotent', async () => {
      const lane = getLane();
      const email = uniqueEmail('Carol');
      const id = await lane.createUser(email, { display_name: '  Carol the Builder ' });
      const ensured = await lane.db.service.ensureUser({ id, email, displayName: 'ignored: the row exists' });
      expect(ensured).toMatchObject({ id, email, displayName: 'Carol the Builder' });
      expect(ensured.publicId).toMatch(PUBLIC_ID('u'));
      expect(ensured.createdAt).toMatch(ISO);
      expect(await lane.db.service.ensureUser({ id, email })).toEqual(ensured);
      expect(await (await lane.asUser(id)).getUser(id)).toEqual(ensured);
    });

    it('the display name is the one chosen at sign-up (or the provider name), never the e-mail; at most 50 characters', async () => {
      const lane = getLane();
      const unnamed = await lane.createUser(uniqueEmail('dave'));
      expect((await lane.db.service.getUser(unnamed))?.displayName).toBeNull();
      const google = await lane.createUser(uniqueEmail('erin'), { full_name: 'Erin Example', name: 'erin' });
      expect((await lane.db.service.getUser(google))?.displayName).toBe('Erin Example');
      const long = await lane.createUser(uniqueEmail('fay'), { display_name: 'ｆ'.repeat(80) });
      expect((await lane.db.service.getUser(long))?.displayName).toBe('ｆ'.repeat(50));
    });

    it('a user changes their own display name, not anyone else’s; blank or too long is refused', async () => {
      const { a, b, asA, asB } = await twoUsers();
      expect(await asA.updateUser(a, { displayName: 'Alice Liddell' })).toMatchObject({ id: a, displayName: 'Alice Liddell' });
      expect((await asA.getUser(a))?.displayName).toBe('Alice Liddell');
      expect(await asB.updateUser(a, { displayName: 'Hijacked' })).toBeNull();
      expect((await asA.getUser(a))?.displayName).toBe('Alice Liddell');
      await expectCode(asA.updateUser(a, { displayName: 'x'.repeat(51) }), 'INVALID_ARGUMENT');
      await expectCode(asA.updateUser(a, { displayName: '   ' }), 'INVALID_ARGUMENT');
      expect(await asA.updateUser(a, { displayName: null })).toMatchObject({ displayName: null });
      expect((await asB.getUser(b))?.displayName).toBe('Bob');
    });

    it('a username and an avatar are written by the server only (migration 008); usernames are unique and V2-shaped', async () => {
      const { a, b, asA } = await twoUsers();
      // The user's own role cannot write either column, even on their own row.
      await expectCode(asA.updateUser(a, { username: 'alice_1' }), 'ACCESS_DENIED');
      await expectCode(asA.updateUser(a, { avatarUrl: 'https://evil.example/a.png' }), 'ACCESS_DENIED');
      const service = getLane().db.service;
      const name = `alice_${randomUUID().slice(0, 8)}`;
      expect(await service.updateUser(a, { username: name, displayName: 'Alice L' })).toMatchObject({ username: name, displayName: 'Alice L' });
      expect(await service.updateUser(a, { avatarUrl: `/user-avatars/${a}/0123456789abcdef.webp` })).toMatchObject({ username: name });
      expect(await service.getPublicProfile({ username: name.toUpperCase() })).toMatchObject({ id: a, avatarUrl: `/user-avatars/${a}/0123456789abcdef.webp` });
      await expectCode(service.updateUser(b, { username: name }), 'CONFLICT');
      await expectCode(service.updateUser(b, { username: 'Not Valid!' }), 'INVALID_ARGUMENT');
      await expectCode(service.updateUser(b, { username: 'ab' }), 'INVALID_ARGUMENT');
      expect((await service.getUser(b))?.username).toBeNull();
      expect(await service.updateUser(a, { username: null })).toMatchObject({ username: null });
    });

    it('a user cannot read another user', async () => {
      const { a, asB } = await twoUsers();
      expect(await asB.getUser(a)).toBeNull();
    });
  });

  describe('projects', () => {
    it('create, get, rename, flags, delete', async () => {
      const { a, asA } = await twoUsers();
      const project = await asA.createProject(a, 'Space Cats');
      expect(project).toMatchObject({
        userId: a,
        name: 'Space Cats',
        isPublic: false,
        remixedFrom: null,
        isInitialized: false,
        agentSessionId: null,
      });
      expect(project.publicId).toMatch(PUBLIC_ID('p'));
      expect(project.createdAt).toMatch(ISO);
      expect(await asA.getProject(project.id)).toEqual(project);

      const untitled = await asA.createProject(a);
      expect(untitled.name).toBe('New Game');
      const remix = await asA.createProject(a, 'Remix', { remixedFrom: project.id, isInitialized: true });
      expect(remix).toMatchObject({ remixedFrom: project.id, isInitialized: true });

      const renamed = await asA.renameProject(project.id, 'Space Dogs');
      expect(renamed?.name).toBe('Space Dogs');
      expect(renamed!.updatedAt >= project.updatedAt).toBe(true);
      expect(await asA.markInitialized(project.id)).toBe(true);
      expect(await asA.setAgentSession(project.id, 'session-123')).toBe(true);
      expect(await asA.getProject(project.id)).toMatchObject({ isInitialized: true, agentSessionId: 'session-123' });
      expect(await asA.setAgentSession(project.id, null)).toBe(true);
      expect((await asA.getProject(project.id))?.agentSessionId).toBeNull();

      expect(await asA.deleteProject(project.id)).toBe(true);
      expect(await asA.getProject(project.id)).toBeNull();
      expect(await asA.deleteProject(project.id)).toBe(false);
      // remixed_from is ON DELETE SET NULL
      expect((await asA.getProject(remix.id))?.remixedFrom).toBeNull();
    });

    it('lists summaries newest-updated first, with the draft description', async () => {
      const { a, asA, service } = await twoUsers();
      const first = await asA.createProject(a, 'First');
      await sleep(5);
      const second = await asA.createProject(a, 'Second');
      expect((await asA.listProjects(a)).map((p) => p.id)).toEqual([second.id, first.id]);
      await sleep(5);
      expect(await asA.touchProject(first.id)).toBe(true);
      await asA.upsertDraft(first.id, { title: 'T', description: 'A game about cats' });
      const list = await asA.listProjects(a);
      expect(list.map((p) => p.id)).toEqual([first.id, second.id]);
      expect(list[0]).toEqual({
        id: first.id,
        name: 'First',
        description: 'A game about cats',
        isPublic: false,
        remixedFrom: null,
        createdAt: first.createdAt,
        updatedAt: list[0]!.updatedAt,
      });
      expect(list[1]!.description).toBe('');
      // The service role sees the same list through its explicit filter.
      expect(await service.listProjects(a)).toEqual(list);
    });

    it('isolation: another user cannot see, change, delete or create projects for the owner', async () => {
      const { a, b, asA, asB, service } = await twoUsers();
      const project = await asA.createProject(a, 'Mine');
      expect(await asB.getProject(project.id)).toBeNull();
      expect(await asB.listProjects(a)).toEqual([]);
      expect(await asB.renameProject(project.id, 'Stolen')).toBeNull();
      expect(await asB.touchProject(project.id)).toBe(false);
      expect(await asB.markInitialized(project.id)).toBe(false);
      expect(await asB.setAgentSession(project.id, 'x')).toBe(false);
      expect(await asB.deleteProject(project.id)).toBe(false);
      await expectCode(asB.createProject(a, 'Planted'), 'ACCESS_DENIED');
      expect(await asA.getProject(project.id)).toMatchObject({ name: 'Mine', isInitialized: false, agentSessionId: null });
      expect((await service.listProjects(a)).map((p) => p.name)).toEqual(['Mine']);
      expect(await service.listProjects(b)).toEqual([]);
    });
  });

  describe('chat', () => {
    it('keeps history oldest-first, the latest N, and touches the project', async () => {
      const { a, asA } = await twoUsers();
      const project = await asA.createProject(a, 'Chatty');
      await sleep(5);
      const m1 = await asA.addChat(project.id, 'user', 'make a game');
      expect(m1).toMatchObject({ projectId: project.id, role: 'user', message: 'make a game' });
      expect(m1.createdAt).toMatch(ISO);
      await asA.addChat(project.id, 'assistant', 'done');
      await asA.addChat(project.id, 'system', 'note');
      expect((await asA.latestChat(project.id)).map((m) => m.message)).toEqual(['make a game', 'done', 'note']);
      expect((await asA.latestChat(project.id, 2)).map((m) => m.message)).toEqual(['done', 'note']);
      expect((await asA.getProject(project.id))!.updatedAt > project.updatedAt).toBe(true);
      await expectCode(asA.addChat(project.id, 'robot' as never, 'x'), 'INVALID_ARGUMENT');
    });

    it('isolation: another user cannot read or write the chat', async () => {
      const { a, asA, asB } = await twoUsers();
      const project = await asA.createProject(a, 'Private chat');
      await asA.addChat(project.id, 'user', 'secret');
      expect(await asB.latestChat(project.id)).toEqual([]);
      await expectCode(asB.addChat(project.id, 'user', 'injected'), 'ACCESS_DENIED');
      expect((await asA.latestChat(project.id)).map((m) => m.message)).toEqual(['secret']);
    });
  });

  describe('jobs', () => {
    it('lifecycle: one active job per project, updates, lists', async () => {
      const { a, asA, service } = await twoUsers();
      const project = await asA.createProject(a, 'Jobs');
      const job = await service.createJob(a, project.id);
      expect(job).toMatchObject({
        userId: a,
        projectId: project.id,
        status: 'pending',
        progress: 0,
        progressMessage: null,
        result: null,
        error: null,
        errorCode: null,
        costUsd: null,
      });
      await expectCode(service.createJob(a, project.id), 'CONFLICT');
      expect((await asA.activeJobForProject(project.id))?.id).toBe(job.id);

      const processing = await service.updateJob(job.id, { status: 'processing', progress: 40, progressMessage: '生成中' });
      expect(processing).toMatchObject({ status: 'processing', progress: 40, progressMessage: '生成中' });
      const done = await service.updateJob(job.id, {
        status: 'completed',
        progress: 100,
        result: JSON.stringify({ message: 'ok' }),
        costUsd: 0.0123,
        inputTokens: 1200,
        outputTokens: 345,
        wallMs: 5400,
        sandboxMs: 5100,
        sessionId: 'sess-1',
        recoverable: null,
        gameCheck: JSON.stringify({ passed: true, attempt: 2 }),
        repairTurns: 1,
        imagesGenerated: 2,
      });
      expect(processing).toMatchObject({ gameCheck: null, repairTurns: 0, imagesGenerated: 0 });
      expect(done).toMatchObject({
        gameCheck: '{"passed":true,"attempt":2}',
        repairTurns: 1,
        imagesGenerated: 2,
        status: 'completed',
        progress: 100,
        result: '{"message":"ok"}',
        costUsd: 0.0123,
        inputTokens: 1200,
        outputTokens: 345,
        wallMs: 5400,
        sandboxMs: 5100,
        sessionId: 'sess-1',
      });
      expect(await asA.getJob(job.id)).toEqual(done);
      expect(await asA.activeJobForProject(project.id)).toBeNull();
      expect(await service.updateJob(randomUUID(), { progress: 1 })).toBeNull();
      await expectCode(service.updateJob(job.id, { progress: 101 }), 'INVALID_ARGUMENT');

      await sleep(5);
      const second = await service.createJob(a, project.id);
      expect((await asA.listJobs(project.id)).map((j) => j.id)).toEqual([second.id, job.id]);
      expect((await asA.listJobs(project.id, 1)).map((j) => j.id)).toEqual([second.id]);
      await expectCode(service.createJob(a, randomUUID()), 'NOT_FOUND');
    });

    it('isolation: another user sees no jobs and no events', async () => {
      const { a, asA, asB, service } = await twoUsers();
      const project = await asA.createProject(a, 'Busy');
      const job = await service.createJob(a, project.id);
      await service.appendJobEvent(job.id, 0, 'started', { job: { id: job.id } });
      expect(await asB.getJob(job.id)).toBeNull();
      expect(await asB.listJobs(project.id)).toEqual([]);
      expect(await asB.activeJobForProject(project.id)).toBeNull();
      expect(await asB.jobEventsSince(job.id, -1)).toEqual([]);
      expect(await asA.jobEventsSince(job.id, -1)).toHaveLength(1);
    });

    it('job events: ordered, exact `since`, duplicates refused, batches atomic', async () => {
      const { a, asA, service } = await twoUsers();
      const project = await asA.createProject(a, 'Events');
      const job = await service.createJob(a, project.id);
      // Appended out of order on purpose: reads are by seq, not by arrival.
      await service.appendJobEvent(job.id, 1, 'stream', { content: 'b' });
      await service.appendJobEvent(job.id, 0, 'started', { job: { status: 'processing' } });
      await service.appendJobEvents([
        { jobId: job.id, seq: 2, type: 'stream', payload: { content: 'c' } },
        { jobId: job.id, seq: 3, type: 'progress', payload: { progress: 50, message: null } },
        { jobId: job.id, seq: 4, type: 'completed', payload: { result: { message: 'done' }, list: [1, 2, 'three'] } },
      ]);
      const all = await asA.jobEventsSince(job.id, -1);
      expect(all.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
      expect(all[0]).toMatchObject({ jobId: job.id, seq: 0, type: 'started', payload: { job: { status: 'processing' } } });
      expect(all[0]!.createdAt).toMatch(ISO);
      expect(all[4]!.payload).toEqual({ result: { message: 'done' }, list: [1, 2, 'three'] });
      expect((await asA.jobEventsSince(job.id, 2)).map((e) => e.seq)).toEqual([3, 4]);
      expect(await asA.jobEventsSince(job.id, 4)).toEqual([]);
      await expectCode(service.appendJobEvent(job.id, 3, 'stream', { content: 'dup' }), 'CONFLICT');
      // A batch with one duplicate leaves nothing behind.
      await expectCode(
        service.appendJobEvents([
          { jobId: job.id, seq: 5, type: 'stream', payload: {} },
          { jobId: job.id, seq: 4, type: 'stream', payload: {} },
        ]),
        'CONFLICT',
      );
      expect((await service.jobEventsSince(job.id, 4)).map((e) => e.seq)).toEqual([]);
      // Scalar and null payloads survive.
      await service.appendJobEvent(job.id, 5, 'stream', 'plain text');
      await service.appendJobEvent(job.id, 6, 'ping', null);
      expect((await asA.jobEventsSince(job.id, 4)).map((e) => e.payload)).toEqual(['plain text', null]);
      // Events go with their job.
      await asA.deleteProject(project.id);
      expect(await service.jobEventsSince(job.id, -1)).toEqual([]);
    });

    it('job events: one batch can hold several jobs; a batch naming a job that is gone writes nothing', async () => {
      const { a, asA, service } = await twoUsers();
      const first = await asA.createProject(a, 'One');
      const second = await asA.createProject(a, 'Two');
      const [jobA, jobB] = [await service.createJob(a, first.id), await service.createJob(a, second.id)];
      await service.appendJobEvents([
        { jobId: jobA.id, seq: 1, type: 'stream', payload: { deltas: ['a1'] } },
        { jobId: jobB.id, seq: 1, type: 'stream', payload: { deltas: ['b1'] } },
        { jobId: jobA.id, seq: 2, type: 'completed', payload: {} },
      ]);
      expect((await asA.jobEventsSince(jobA.id, 0)).map((e) => [e.jobId, e.seq, e.type])).toEqual([
        [jobA.id, 1, 'stream'],
        [jobA.id, 2, 'completed'],
      ]);
      expect((await asA.jobEventsSince(jobB.id, 0)).map((e) => e.payload)).toEqual([{ deltas: ['b1'] }]);
      await asA.deleteProject(second.id); // jobB goes with it
      await expect(
        service.appendJobEvents([
          { jobId: jobA.id, seq: 3, type: 'stream', payload: {} },
          { jobId: jobB.id, seq: 2, type: 'stream', payload: {} },
        ]),
      ).rejects.toThrow();
      expect(await service.jobEventsSince(jobA.id, 2)).toEqual([]);
    });

    it('failInterruptedJobs fails every pending/processing job, recoverably', async () => {
      const { a, asA, service } = await twoUsers();
      await service.failInterruptedJobs('earlier tests'); // start from a known state: no active jobs anywhere
      const p1 = await asA.createProject(a, 'P1');
      const p2 = await asA.createProject(a, 'P2');
      const p3 = await asA.createProject(a, 'P3');
      const pending = await service.createJob(a, p1.id);
      const processing = await service.createJob(a, p2.id);
      await service.updateJob(processing.id, { status: 'processing', progress: 30 });
      const finished = await service.createJob(a, p3.id);
      await service.updateJob(finished.id, { status: 'completed', progress: 100 });

      expect(await service.failInterruptedJobs('server restarted')).toBe(2);
      for (const id of [pending.id, processing.id]) {
        expect(await asA.getJob(id)).toMatchObject({
          status: 'failed',
          error: 'server restarted',
          errorCode: 'SERVER_RESTART',
          recoverable: true,
        });
      }
      expect((await asA.getJob(finished.id))?.status).toBe('completed');
      expect(await service.failInterruptedJobs('again')).toBe(0);
      // The projects are free for new jobs.
      expect((await service.createJob(a, p1.id)).status).toBe('pending');
    });

    it("admitJob: the project's active job, the user's limit, the total, or a new leased job; one admission at a time", async () => {
      const { a, b, asA, asB, service } = await twoUsers();
      const c = await getLane().createUser();
      const asC = await getLane().asUser(c);
      await service.failInterruptedJobs('earlier tests'); // a known state: nothing active anywhere
      const [pa1, pa2] = [await asA.createProject(a, 'A1'), await asA.createProject(a, 'A2')];
      const pb = await asB.createProject(b, 'B');
      const limits = { perUser: 1, total: 2 };
      const lease = { owner: 'instance-1', ms: 60_000 };

      const first = await service.admitJob(a, pa1.id, limits, lease);
      expect(first).toMatchObject({ kind: 'started', job: { userId: a, projectId: pa1.id, status: 'pending' } });
      const firstJob = (first as { job: { id: string } }).job;
      expect(await service.admitJob(a, pa1.id, limits, lease)).toMatchObject({ kind: 'existing', job: { id: firstJob.id } });
      const limited = await service.admitJob(a, pa2.id, limits, lease);
      expect(limited.kind === 'user-limit' && limited.running.map((j) => j.id)).toEqual([firstJob.id]);
      expect((await service.admitJob(b, pb.id, limits, { owner: 'instance-2', ms: 60_000 })).kind).toBe('started');
      // Two active in the service: a third user is refused, whatever their own count.
      expect(await service.admitJob(c, (await asC.createProject(c, 'C')).id, limits, lease)).toEqual({ kind: 'system-limit' });
      expect(await service.renewLeases(lease)).toEqual([firstJob.id]);
      expect(await service.renewLeases({ owner: 'nobody', ms: 1000 })).toEqual([]);

      // Racing admissions for one user on five projects: exactly one starts.
      await service.failInterruptedJobs('reset');
      const projects = await Promise.all([1, 2, 3, 4, 5].map((i) => asC.createProject(c, `C${i}`)));
      const raced = await Promise.all(projects.map((p) => service.admitJob(c, p.id, { perUser: 1, total: 100 }, lease)));
      expect(raced.filter((r) => r.kind === 'started')).toHaveLength(1);
      expect(raced.filter((r) => r.kind === 'user-limit')).toHaveLength(4);
    });

    it("admitJob with a message's id: one job per message and user, found again after it ended, by its owner only", async () => {
      const { a, b, asA, asB, service } = await twoUsers();
      const [project, other] = [await asA.createProject(a, 'Sent twice'), await asA.createProject(a, 'Elsewhere')];
      const limits = { perUser: 1, total: 10_000 };
      const lease = { owner: 'instance-1', ms: 60_000 };
      const id = randomUUID();

      // Racing copies of one message (two instances got it): one job, the others join it.
      const raced = await Promise.all([1, 2, 3].map(() => service.admitJob(a, project.id, limits, lease, id)));
      expect(raced.filter((r) => r.kind === 'started')).toHaveLength(1);
      const job = raced.find((r) => r.kind === 'started')!.job;
      expect(job.clientMessageId).toBe(id);
      for (const r of raced) expect(r).toMatchObject({ job: { id: job.id } });

      // Over: the message still finds its job (not a new one), even sent on another project; a new id starts one.
      await service.updateJob(job.id, { status: 'completed', progress: 100 });
      expect(await service.admitJob(a, project.id, limits, lease, id)).toMatchObject({ kind: 'existing', job: { id: job.id, status: 'completed' } });
      expect(await service.admitJob(a, other.id, limits, lease, id)).toMatchObject({ kind: 'existing', job: { id: job.id } });
      const next = await service.admitJob(a, project.id, limits, lease, randomUUID());
      expect(next.kind).toBe('started');
      // Without an id (older clients), the rules as before: the project's running job is joined.
      expect(await service.admitJob(a, project.id, limits, lease)).toMatchObject({ kind: 'existing', job: { id: (next as { job: { id: string } }).job.id } });

      // The same id from another user is theirs: a job of their own.
      const theirs = await service.admitJob(b, (await asB.createProject(b, 'B')).id, limits, lease, id);
      expect(theirs.kind).toBe('started');
      // Read back under RLS: the owner finds it by project and id; another user does not.
      expect(await asA.jobForMessage(project.id, id)).toMatchObject({ id: job.id, clientMessageId: id });
      expect(await asA.jobForMessage(other.id, id)).toBeNull();
      expect(await asB.jobForMessage(project.id, id)).toBeNull();
      await service.failInterruptedJobs('end of test');
    });
  });

  describe('assets', () => {
    it('create, read, update, link, find by alias, soft delete', async () => {
      const { a, asA, service } = await twoUsers();
      const project = await asA.createProject(a, 'Art');
      const asset = await asA.createAsset({
        ownerId: a,
        alias: 'cat.png',
        hash: SHA,
        filename: 'cat_ab12cd34.png',
        originalName: 'ねこ.png',
        storagePath: `/data/users/${a}/assets/cat_ab12cd34.png`,
        mimeType: 'image/png',
        size: 1234,
        isPublic: true,
        createdInProjectId: project.id,
        tags: 'cat,cute',
      });
      expect(asset).toMatchObject({
        ownerId: a,
        alias: 'cat.png',
        hash: SHA,
        hashShort: SHA.slice(0, 8),
        originalName: 'ねこ.png',
        size: 1234,
        isPublic: true,
        isDeleted: false,
        isGlobal: false,
        tags: 'cat,cute',
        description: null,
      });
      expect(await asA.getAsset(asset.id)).toEqual(asset);
      expect(await asA.assetByAlias(a, 'cat.png')).toEqual(asset);
      await expectCode(asA.createAsset({ ownerId: a, alias: 'cat.png', hash: SHA }), 'CONFLICT');

      await asA.linkAsset(project.id, asset.id);
      await asA.linkAsset(project.id, asset.id); // idempotent
      const [listed] = await asA.listAssets(a);
      expect(listed).toMatchObject({ id: asset.id, projects: [{ id: project.id, name: 'Art' }] });

      expect(await asA.updateAsset(asset.id, { tags: 'cat', description: 'a cat' })).toMatchObject({
        tags: 'cat',
        description: 'a cat',
      });
      expect(await asA.updateAsset(asset.id, { description: 'still a cat' })).toMatchObject({
        tags: 'cat',
        description: 'still a cat',
      });
      expect((await asA.setAssetPublic(asset.id, false))?.isPublic).toBe(false);

      const other = await asA.createAsset({ ownerId: a, alias: 'dog.png', hash: SHA.replace('ab', 'ff') });
      expect(other.isPublic).toBe(false);
      expect((await asA.listAssets(a)).map((x) => x.id)).toEqual([other.id, asset.id]);

      expect(await service.softDeleteAsset(asset.id)).toBe(true);
      expect(await service.softDeleteAsset(asset.id)).toBe(false);
      expect(await asA.getAsset(asset.id)).toBeNull();
      expect(await service.getAsset(asset.id)).toBeNull();
      expect(await asA.assetByAlias(a, 'cat.png')).toBeNull();
      expect((await asA.listAssets(a)).map((x) => x.id)).toEqual([other.id]);
      expect(await asA.updateAsset(asset.id, { tags: 'x' })).toBeNull();
      // Deleted aliases stay taken.
      expect(await service.aliasesOf(a)).toEqual(['cat.png', 'dog.png']);
      await expectCode(asA.createAsset({ ownerId: a, alias: 'cat.png', hash: SHA }), 'CONFLICT');
    });

    it('rename: the shown name changes, the alias stays; only the owner; blank or over 200 characters refused', async () => {
      const { a, asA, asB } = await twoUsers();
      const asset = await asA.createAsset({ ownerId: a, alias: 'hero.png', hash: SHA, originalName: 'hero.png', isPublic: true });
      expect(await asA.updateAsset(asset.id, { originalName: '勇者' })).toMatchObject({ id: asset.id, alias: 'hero.png', originalName: '勇者' });
      expect(await asB.updateAsset(asset.id, { originalName: 'mine' })).toBeNull();
      await expectCode(asA.updateAsset(asset.id, { originalName: '' }), 'INVALID_ARGUMENT');
      await expectCode(asA.updateAsset(asset.id, { originalName: 'x'.repeat(201) }), 'INVALID_ARGUMENT');
      expect((await asA.getAsset(asset.id))?.originalName).toBe('勇者');
    });

    it('isolation: private assets are invisible, nobody else can change any asset', async () => {
      const { a, b, asA, asB } = await twoUsers();
      const project = await asA.createProject(a, 'A art');
      const privateAsset = await asA.createAsset({ ownerId: a, alias: 'secret.png', hash: SHA, isPublic: false });
      const publicAsset = await asA.createAsset({ ownerId: a, alias: 'shared.png', hash: SHA, isPublic: true });

      expect(await asB.getAsset(privateAsset.id)).toBeNull();
      expect(await asB.assetByAlias(a, 'secret.png')).toBeNull();
      // V2's rule: public assets are readable by every signed-in user…
      expect((await asB.getAsset(publicAsset.id))?.id).toBe(publicAsset.id);
      expect((await asB.listAssets(a)).map((x) => x.id)).toEqual([publicAsset.id]);
      // …but only the owner changes them.
      expect(await asB.updateAsset(publicAsset.id, { tags: 'mine now' })).toBeNull();
      expect(await asB.setAssetPublic(privateAsset.id, true)).toBeNull();
      expect(await asB.setAssetPublic(publicAsset.id, false)).toBeNull();
      await expectCode(asB.createAsset({ ownerId: a, alias: 'planted.png', hash: SHA }), 'ACCESS_DENIED');
      const bAsset = await asB.createAsset({ ownerId: b, alias: 'b.png', hash: SHA });
      await expectCode(asB.linkAsset(project.id, bAsset.id), 'ACCESS_DENIED');
      expect(await asA.getAsset(publicAsset.id)).toEqual(publicAsset);
      expect(await asA.getAsset(privateAsset.id)).toEqual(privateAsset);
    });
  });

  describe('publishing', () => {
    it('drafts: save whole, read back, replace', async () => {
      const { a, asA } = await twoUsers();
      const project = await asA.createProject(a, 'Draft');
      expect(await asA.getDraft(project.id)).toBeNull();
      const saved = await asA.upsertDraft(project.id, {
        title: 'Cat Run',
        description: 'Run, cat, run',
        howToPlay: 'Arrow keys',
        tags: ['cat', 'runner'],
        visibility: 'unlisted',
        remix: 'disallow',
        thumbnailUrl: '/api/projects/x/thumbnail',
      });
      expect(saved).toMatchObject({
        projectId: project.id,
        title: 'Cat Run',
        howToPlay: 'Arrow keys',
        tags: ['cat', 'runner'],
        visibility: 'unlisted',
        remix: 'disallow',
      });
      expect(await asA.getDraft(project.id)).toEqual(saved);
      const replaced = await asA.upsertDraft(project.id, { title: 'Cat Run 2' });
      expect(replaced).toMatchObject({
        title: 'Cat Run 2',
        description: null,
        tags: [],
        visibility: 'public',
        remix: 'allowed',
        thumbnailUrl: null,
      });
    });

    it('publish, republish, public reads, plays, unpublish', async () => {
      const { a, b, asA, asB, service } = await twoUsers();
      const project = await asA.createProject(a, 'Game');
      const game = await asA.publishGame(project.id, a, {
        title: 'Cat Run',
        description: 'Run',
        howToPlay: 'Keys',
        tags: ['cat', 'runner'],
        thumbnailUrl: 'https://cdn.example/t.webp',
      });
      expect(game).toMatchObject({
        projectId: project.id,
        userId: a,
        title: 'Cat Run',
        tags: ['cat', 'runner'],
        visibility: 'public',
        allowRemix: true,
        playCount: 0,
        likeCount: 0,
      });
      expect(game.publicId).toMatch(PUBLIC_ID('g'));
      expect(game.publishedAt).toMatch(ISO);

      await sleep(5);
      const republished = await asA.publishGame(project.id, a, { title: 'Cat Run DX', tags: [], allowRemix: false });
      expect(republished).toMatchObject({
        id: game.id,
        publicId: game.publicId,
        publishedAt: game.publishedAt,
        title: 'Cat Run DX',
        description: null,
        tags: [],
        allowRemix: false,
      });
      expect(republished.updatedAt > game.updatedAt).toBe(true);
      expect(await asA.getPublished(project.id)).toEqual(republished);
      expect((await asA.listMyGames(a)).map((g) => g.id)).toEqual([game.id]);

      const byId = await service.getPublicGame(game.id);
      expect(byId).toMatchObject({ id: game.id, project: { id: project.id, name: 'Game' } });
      expect(byId?.author?.displayName).toBeTruthy();
      expect((await service.getPublicGame(game.publicId))?.id).toBe(game.id);
      expect(await service.getPublicGame('g_0000000000')).toBeNull();
      expect(await service.getPublicGame('not-an-id')).toBeNull();
      expect((await service.listPublicGames(100)).map((g) => g.id)).toContain(game.id);
      // Anyone signed in can read a public game.
      expect((await asB.getPublished(project.id))?.id).toBe(game.id);

      expect(await service.incrementPlayCount(game.id)).toBe(true);
      expect(await service.incrementPlayCount(game.id)).toBe(true);
      const played = await asA.getPublished(project.id);
      expect(played?.playCount).toBe(2);
      expect(played?.updatedAt).toBe(republished.updatedAt); // a play is not an edit
      expect(await service.incrementPlayCount(randomUUID())).toBe(false);

      // Unlisted: by id through the service role only; not listed, not visible to others.
      await asA.publishGame(project.id, a, { title: 'Cat Run DX', visibility: 'unlisted' });
      expect((await service.getPublicGame(game.publicId))?.visibility).toBe('unlisted');
      expect((await service.listPublicGames(100)).map((g) => g.id)).not.toContain(game.id);
      expect(await asB.getPublished(project.id)).toBeNull();
      expect(await service.incrementPlayCount(game.id)).toBe(true);

      // Private: never public.
      await asA.publishGame(project.id, a, { title: 'Cat Run DX', visibility: 'private' });
      expect(await service.getPublicGame(game.id)).toBeNull();
      expect(await service.getPublicGame(game.publicId)).toBeNull();
      expect(await asB.getPublished(project.id)).toBeNull();
      expect(await service.incrementPlayCount(game.id)).toBe(false);
      expect((await asA.getPublished(project.id))?.playCount).toBe(3);
      expect(await asB.listMyGames(b)).toEqual([]);

      expect(await asB.unpublish(project.id)).toBe(false);
      expect(await asA.unpublish(project.id)).toBe(true);
      expect(await asA.unpublish(project.id)).toBe(false);
      // Hidden, not deleted: the owner still sees it (for a republish), nobody else does.
      expect(await asA.getPublished(project.id)).toMatchObject({ id: game.id, unpublishedAt: expect.stringMatching(ISO) });
    });

    it('unpublish hides the game; publishing again brings back its address, counts and a new snapshot', async () => {
      const { a, asA, asB, service } = await twoUsers();
      const project = await asA.createProject(a, 'Snapshot');
      const first = 'a'.repeat(40);
      const game = await asA.publishGame(project.id, a, { title: 'Snap', commitHash: first });
      expect(game).toMatchObject({ commitHash: first, unpublishedAt: null });
      expect(await service.incrementPlayCount(game.id)).toBe(true);

      await sleep(5);
      expect(await asA.unpublish(project.id)).toBe(true);
      const hidden = await asA.getPublished(project.id);
      expect(hidden).toMatchObject({ publicId: game.publicId, playCount: 1, unpublishedAt: expect.stringMatching(ISO) });
      expect(hidden!.updatedAt > game.updatedAt).toBe(true);
      // Gone for everyone else: public reads, the listing, plays, the owner's list of live games.
      expect(await service.getPublicGame(game.publicId)).toBeNull();
      expect(await service.getPublicGame(game.id)).toBeNull();
      expect((await service.listPublicGames(100)).map((g) => g.id)).not.toContain(game.id);
      expect(await service.incrementPlayCount(game.id)).toBe(false);
      expect(await asA.listMyGames(a)).toEqual([]);
      expect(await asB.getPublished(project.id)).toBeNull();

      const second = 'b'.repeat(40);
      const back = await asA.publishGame(project.id, a, { title: 'Snap 2', commitHash: second });
      expect(back).toMatchObject({
        id: game.id,
        publicId: game.publicId,
        publishedAt: game.publishedAt,
        playCount: 1,
        commitHash: second,
        unpublishedAt: null,
      });
      expect((await service.getPublicGame(game.publicId))?.commitHash).toBe(second);
      expect((await asA.listMyGames(a)).map((g) => g.id)).toEqual([game.id]);
      await expectCode(asA.publishGame(project.id, a, { title: 'Bad', commitHash: 'not-a-commit' }), 'INVALID_ARGUMENT');
    });

    it('public listing: newest first, paged, capped', async () => {
      const { a, asA, service } = await twoUsers();
      const ids: string[] = [];
      for (const name of ['L1', 'L2', 'L3']) {
        const project = await asA.createProject(a, name);
        ids.unshift((await asA.publishGame(project.id, a, { title: name })).id);
        await sleep(5);
      }
      const page = await service.listPublicGames(2, 0);
      expect(page.map((g) => g.id)).toEqual(ids.slice(0, 2));
      expect(page[0]).toMatchObject({ project: { name: 'L3' } });
      expect((await service.listPublicGames(2, 1)).map((g) => g.id)).toEqual(ids.slice(1, 3));
      expect((await service.listPublicGames(1000, 0)).length).toBeLessThanOrEqual(100);
    });

    it("one author's public games and public profile (no e-mail), by id, public id or username", async () => {
      const { a, b, asA, asB, service } = await twoUsers();
      const mine = await asA.publishGame((await asA.createProject(a, 'Mine')).id, a, { title: 'Mine' });
      await asA.publishGame((await asA.createProject(a, 'Hidden')).id, a, { title: 'Hidden', visibility: 'unlisted' });
      await asB.publishGame((await asB.createProject(b, 'Theirs')).id, b, { title: 'Theirs' });
      expect((await service.listPublicGames(100, 0, a)).map((g) => g.id)).toEqual([mine.id]);
      expect(await service.listPublicGames(100, 0, 'not-a-uuid')).toEqual([]);
      const profile = await service.getPublicProfile({ id: a });
      expect(profile).toMatchObject({ id: a, displayName: 'Alice', publicId: expect.stringMatching(PUBLIC_ID('u')) });
      expect(profile).not.toHaveProperty('email');
      expect((await service.getPublicProfile({ id: profile!.publicId }))?.id).toBe(a);
      expect(await service.getPublicProfile({ id: 'u_0000000000' })).toBeNull();
      expect(await service.getPublicProfile({ id: "x' or 1=1" })).toBeNull();
      expect(await service.getPublicProfile({ username: 'Bad Name!' })).toBeNull();
    });

    it('lineage: the game of the project a remix came from, and the public remixes of a project', async () => {
      const { a, b, asA, asB, service } = await twoUsers();
      const source = await asA.createProject(a, 'Source');
      const original = await asA.publishGame(source.id, a, { title: 'Original' });
      const remix = await asB.createProject(b, 'Source (Remix)', { remixedFrom: source.id });
      expect(remix.remixedFrom).toBe(source.id);
      const remixGame = await asB.publishGame(remix.id, b, { title: 'Remixed' });
      const hidden = await asB.createProject(b, 'Quiet remix', { remixedFrom: source.id });
      await asB.publishGame(hidden.id, b, { title: 'Quiet', visibility: 'unlisted' });
      expect((await service.getGameOfProject(source.id))?.id).toBe(original.id);
      expect(await service.getGameOfProject('not-a-uuid')).toBeNull();
      const remixes = await service.listRemixes(source.id);
      expect(remixes.map((g) => g.id)).toEqual([remixGame.id]);
      expect(remixes[0]).toMatchObject({ project: { id: remix.id, name: 'Source (Remix)' }, author: { displayName: 'Bob' } });
      await asA.unpublish(source.id);
      expect(await service.getGameOfProject(source.id)).toBeNull();
    });

    it('isolation: another user cannot draft, publish or unpublish for the owner', async () => {
      const { a, b, asA, asB } = await twoUsers();
      const project = await asA.createProject(a, 'Mine');
      await asA.upsertDraft(project.id, { title: 'Mine', description: 'secret draft' });
      expect(await asB.getDraft(project.id)).toBeNull();
      await expectCode(asB.upsertDraft(project.id, { title: 'Hijacked' }), 'ACCESS_DENIED');
      await expectCode(asB.publishGame(project.id, b, { title: 'Hijacked' }), 'ACCESS_DENIED');
      await expectCode(asB.publishGame(project.id, a, { title: 'Hijacked' }), 'ACCESS_DENIED');
      expect(await asA.getPublished(project.id)).toBeNull();
      expect((await asA.getDraft(project.id))?.title).toBe('Mine');
      // Not even the owner can publish someone else's project under their own id.
      const bProject = await asB.createProject(b, 'Theirs');
      await expectCode(asA.publishGame(bProject.id, a, { title: 'Mine now' }), 'ACCESS_DENIED');
    });
  });

  describe('quota', () => {
    it('counts per field, refuses at the limit, -1 is unlimited, 0 refuses', async () => {
      const { a, service } = await twoUsers();
      expect(await service.getQuota(a)).toEqual({ projectsCreated: 0, messagesSent: 0 });
      expect(await service.planOf(a)).toBe('free');
      expect(await service.tryConsumeQuota(a, 'projects_created', 2)).toEqual({ allowed: true, currentCount: 1 });
      expect(await service.tryConsumeQuota(a, 'projects_created', 2)).toEqual({ allowed: true, currentCount: 2 });
      expect(await service.tryConsumeQuota(a, 'projects_created', 2)).toEqual({ allowed: false, currentCount: 2 });
      expect(await service.tryConsumeQuota(a, 'messages_sent', 0)).toEqual({ allowed: false, currentCount: 0 });
      expect(await service.tryConsumeQuota(a, 'messages_sent', -1)).toEqual({ allowed: true, currentCount: 1 });
      expect(await service.tryConsumeQuota(a, 'projects_created', -1)).toEqual({ allowed: true, currentCount: 3 });
      expect(await service.getQuota(a)).toEqual({ projectsCreated: 3, messagesSent: 1 });
      await expectCode(service.tryConsumeQuota(a, 'bogus' as never, 5), 'INVALID_ARGUMENT');
    });

    it('is atomic: 20 parallel consumes against a limit of 3 allow exactly 3', async () => {
      const { a, b, service } = await twoUsers();
      const results = await Promise.all(Array.from({ length: 20 }, () => service.tryConsumeQuota(a, 'messages_sent', 3)));
      expect(results.filter((r) => r.allowed)).toHaveLength(3);
      expect(
        results
          .filter((r) => r.allowed)
          .map((r) => r.currentCount)
          .sort(),
      ).toEqual([1, 2, 3]);
      expect(results.filter((r) => !r.allowed).every((r) => r.currentCount === 3)).toBe(true);
      expect(await service.getQuota(a)).toEqual({ projectsCreated: 0, messagesSent: 3 });
      expect(await service.getQuota(b)).toEqual({ projectsCreated: 0, messagesSent: 0 });
    });
  });

  describe('activity log', () => {
    it('accepts entries (service role)', async () => {
      const { a, service } = await twoUsers();
      await service.logActivity({ userId: a, action: 'create', targetType: 'project', targetId: 'x', details: 'New Game' });
      await service.logActivity({ userId: null, action: 'system' });
    });
  });

  describe('notifications and push subscriptions', () => {
    it('the server writes a notice once per job; its user lists, counts and marks it read; nobody else sees or marks it', async () => {
      const { a, asA, asB, service } = await twoUsers();
      const project = await asA.createProject(a, 'Bell');
      const jobId = randomUUID();
      const first = await service.createNotification({
        userId: a,
        title: 'Your game is ready',
        message: '“Bell” is ready.',
        icon: 'success',
        projectId: project.id,
        jobId,
        event: 'generationCompleted',
        params: { project: 'Bell' },
      });
      expect(first).toMatchObject({ userId: a, type: 'project', projectId: project.id, jobId, read: false, readAt: null, params: { project: 'Bell' } });
      expect(first!.createdAt).toMatch(ISO);
      expect(await service.createNotification({ userId: a, message: 'again', jobId })).toBeNull();
      const seen = await service.createNotification({ userId: a, message: 'watched', jobId: randomUUID(), read: true });
      expect(seen).toMatchObject({ read: true, readAt: expect.stringMatching(ISO) });
      await sleep(5);
      const latest = await service.createNotification({ userId: a, type: 'system', message: 'system notice' });
      expect((await asA.listNotifications(a)).notifications.map((n) => n.id)).toEqual([latest!.id, seen!.id, first!.id]);
      expect(await asA.listNotifications(a, { limit: 1, offset: 1 })).toMatchObject({ total: 3, unreadCount: 2, notifications: [{ id: seen!.id }] });
      expect(await asA.listNotifications(a, { type: 'project' })).toMatchObject({ total: 2, unreadCount: 2 });
      expect(await asA.listNotifications(a, { offset: 10 })).toEqual({ notifications: [], total: 3, unreadCount: 2 });
      expect(await asB.listNotifications(a)).toEqual({ notifications: [], total: 0, unreadCount: 0 });
      expect(await asB.markNotificationRead(first!.id)).toBe(false);
      expect(await asB.markAllNotificationsRead(a)).toBe(0);
      expect(await asA.unreadNotificationCount(a)).toBe(2);
      expect(await asA.markNotificationRead(first!.id)).toBe(true);
      const readAt = (await asA.listNotifications(a, { type: 'project' })).notifications.find((n) => n.id === first!.id)!.readAt;
      expect(readAt).toMatch(ISO);
      expect(await asA.markNotificationRead(first!.id)).toBe(true); // again: still read, same time
      expect((await asA.listNotifications(a, { type: 'project' })).notifications.find((n) => n.id === first!.id)!.readAt).toBe(readAt);
      expect(await asA.markAllNotificationsRead(a)).toBe(1);
      expect(await asA.unreadNotificationCount(a)).toBe(0);
      await expectCode(service.createNotification({ userId: a, message: 'x', type: 'nope' as 'system' }), 'INVALID_ARGUMENT');
      await asA.deleteProject(project.id);
      expect((await asA.listNotifications(a, { type: 'project' })).notifications.every((n) => n.projectId === null)).toBe(true);
    });

    it('a push endpoint belongs to one user at a time; users read only their own; delete', async () => {
      const { a, b, service } = await twoUsers();
      const endpoint = `https://push.example.test/${randomUUID()}`;
      const keys = { p256dh: 'BP'.padEnd(87, 'A'), auth: 'AAAAAAAAAAAAAAAAAAAAAA' };
      const saved = await service.savePushSubscription({ userId: a, endpoint, ...keys, language: 'ja', userAgent: 'phone' });
      expect(saved).toMatchObject({ userId: a, endpoint, language: 'ja', userAgent: 'phone', lastUsedAt: null });
      await service.touchPushSubscription(saved.id);
      expect((await service.pushSubscriptionsOf(a))[0]!.lastUsedAt).toMatch(ISO);
      // Someone else signs in on that browser and subscribes it: it is theirs now.
      await service.savePushSubscription({ userId: b, endpoint, ...keys, language: 'en' });
      expect(await service.pushSubscriptionsOf(a)).toEqual([]);
      expect((await service.pushSubscriptionsOf(b)).map((s) => [s.endpoint, s.language])).toEqual([[endpoint, 'en']]);
      await expectCode(service.savePushSubscription({ userId: a, endpoint: 'ftp://x', ...keys, language: 'ja' }), 'INVALID_ARGUMENT');
      await expectCode(service.savePushSubscription({ userId: a, endpoint: `${endpoint}/2`, ...keys, language: 'fr' }), 'INVALID_ARGUMENT');
      expect(await service.deletePushSubscription(a, endpoint)).toBe(false);
      expect(await service.deletePushSubscription(b, endpoint)).toBe(true);
      expect(await service.pushSubscriptionsOf(b)).toEqual([]);
    });
  });

  describe('throughput (measured, not asserted)', () => {
    it('per-operation latency of common calls', async () => {
      const lane = getLane();
      const { a, asA, service } = await twoUsers();
      const project = await asA.createProject(a, 'Perf');
      const job = await service.createJob(a, project.id);
      const n = 20;
      const time = async (label: string, op: (i: number) => Promise<unknown>) => {
        const start = performance.now();
        for (let i = 0; i < n; i++) await op(i);
        lane.record(`${label} ms/op`, (performance.now() - start) / n);
      };
      await time('getProject (user)', () => asA.getProject(project.id));
      await time('addChat (user)', (i) => asA.addChat(project.id, 'user', `m${i}`));
      await time('listProjects (user)', () => asA.listProjects(a));
      await time('appendJobEvent (service)', (i) => service.appendJobEvent(job.id, i, 'stream', { content: `c${i}` }));
      await time('updateJob (service)', (i) => service.updateJob(job.id, { progress: i }));
      await time('tryConsumeQuota (service)', () => service.tryConsumeQuota(a, 'messages_sent', -1));
      const start = performance.now();
      expect(await asA.jobEventsSince(job.id, -1)).toHaveLength(n);
      lane.record(`jobEventsSince(${n} events) ms`, performance.now() - start);
    });
  });
}
