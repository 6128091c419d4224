/**
 * A promo render on several instances (issue 15: nothing held per process that a load balancer would split): two
 * servers in this process on one PostgreSQL 15, one backend whose render this test drives (progress, end). The status
 * route answers the same on both, a second POST on the other instance joins the render instead of starting another,
 * a `?wait=true` POST on the other instance gets its end, and a render whose instance is gone reads as failed
 * (SERVER_RESTART) and can be started again on the other; the render's notice reaches the user's socket on the other
 * instance, stored read when that socket says its user is watching. One instance alone (memory) behaves the same way.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { ExecutionBackend, RenderVideoRequest, RenderVideoResult } from '@dreamcore/runtime-core';
import { createLocalBackend } from '@dreamcore/backend-local';
import { startPostgres, type Postgres } from '../../scripts/cluster.js';
import { startServer, type RunningServer } from '../src/main.js';
import { memoryRenderStates } from '../src/renders.js';
import { api, Client, signUp } from './support/harness.js';
import { pg15LaneSkipped } from './support/pg15.js';

const unavailable = pg15LaneSkipped({ postgrest: false });

/** The local backend (one data directory for both instances), its renders driven by the test: each call is recorded with its request (and progress callback) and its end. */
function drivenBackend(dataDir: string) {
  const backend = createLocalBackend({ dataDir });
  const renders: { request: RenderVideoRequest; finish: (result: RenderVideoResult) => void }[] = [];
  const driven: ExecutionBackend = {
    ...backend,
    capabilities: { ...backend.capabilities, renderVideo: { ...backend.capabilities.renderVideo, supported: true } },
    renderVideo: (request) => new Promise<RenderVideoResult>((resolve) => renders.push({ request, finish: resolve })),
  };
  return { backend: driven, renders };
}

const file = (path: string): RenderVideoResult['movie'] => ({ path, kind: 'file', size: 1, mtime: new Date().toISOString() });
const result = (durationMs: number): RenderVideoResult => ({
  movie: file('movie.mp4'),
  thumbnail: file('thumbnail.webp'),
  durationMs,
  frames: durationMs / 33,
});

describe.skipIf(unavailable !== null)(`a promo render on two instances${unavailable ? ` — skipped: ${unavailable}` : ''}`, () => {
  let postgres: Postgres;
  let sql: pg.Client;
  let A: RunningServer, B: RunningServer;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'dreamcore-renders-'));
  const { backend, renders } = drivenBackend(dataDir);

  beforeAll(async () => {
    postgres = await startPostgres();
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DATABASE_URL: postgres.connectionString,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      GAME_CHECK: 'false',
      RATE_LIMIT_PER_MIN: '10000',
    };
    // One after the other: the second boots against the first's migrations and secrets.
    A = await startServer({ ...env, INSTANCE_ID: 'renders-a' }, { backend });
    B = await startServer({ ...env, INSTANCE_ID: 'renders-b' }, { backend });
    sql = new pg.Client({ connectionString: postgres.connectionString });
    await sql.connect();
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await A?.close();
    await B?.close();
    await backend.close();
    await postgres?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function gameProject() {
    const session = await signUp(A.url);
    const client = await Client.init(A.url, session.accessToken);
    client.send({ type: 'createProject', name: 'Promo' });
    const projectId = String((await client.next((m) => m.type === 'projectCreated')).project.id);
    client.close();
    await backend.files.write({ userId: session.userId, projectId }, 'index.html', new TextEncoder().encode('<canvas></canvas>'));
    return { session, projectId, onA: api(A.url, session.accessToken), onB: api(B.url, session.accessToken) };
  }

  it('the status is the same on both; a second POST on the other joins the render; a waiting POST there gets its end, a socket there the notice', async () => {
    const { session, projectId, onA, onB } = await gameProject();
    const socketOnB = await Client.init(B.url, session.accessToken);
    const started = await onA('POST', `/api/projects/${projectId}/generate-movie`);
    expect(started.status).toBe(202);
    expect(renders).toHaveLength(1);
    renders[0]!.request.onProgress?.({ percent: 42.4, stage: 'rendering' });
    await expect
      .poll(async () => (await onB('GET', `/api/projects/${projectId}/movie-status`)).json)
      .toMatchObject({ status: 'rendering', percent: 42, stage: 'rendering' });

    const again = await onB('POST', `/api/projects/${projectId}/generate-movie`);
    expect(again.status).toBe(202);
    expect(again.json).toMatchObject({ status: 'rendering', percent: 42 });
    const waiting = onB('POST', `/api/projects/${projectId}/generate-movie?wait=true`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(renders).toHaveLength(1); // one render, whichever instance was asked

    renders[0]!.finish(result(7000));
    const done = await waiting;
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({ success: true, duration: 7, movieUrl: expect.stringContaining(`/api/projects/${projectId}/movie`) });
    for (const on of [onA, onB]) {
      const status = (await on('GET', `/api/projects/${projectId}/movie-status`)).json;
      expect(status).toMatchObject({ status: 'done', percent: 100, duration: 7, movieUrl: expect.any(String) });
      expect(status).not.toHaveProperty('httpStatus');
    }
    // The render ended on A; the user's socket is on B, and hears of it live, once.
    const notice = await socketOnB.next((m) => m.type === 'notification', 10_000);
    expect(notice).toMatchObject({ notification: { event: 'movieCompleted', project_id: projectId }, unreadCount: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(socketOnB.messages.filter((m) => m.type === 'notification')).toHaveLength(1);
    socketOnB.close();
  });

  it('a user watching through B when the render ends on A is not pushed: the notice is stored read', async () => {
    const { session, projectId, onA } = await gameProject();
    const socketOnB = await Client.init(B.url, session.accessToken);
    socketOnB.send({ type: 'viewState', visible: true });
    // B has written that the user watches (at once: it changed) before the render ends.
    await expect
      .poll(
        async () => (await sql.query('select visible from public.user_presence where user_id = $1 and instance_id = $2', [session.userId, 'renders-b'])).rows,
      )
      .toEqual([{ visible: true }]);
    expect((await onA('POST', `/api/projects/${projectId}/generate-movie`)).status).toBe(202);
    renders.at(-1)!.finish(result(3000));
    const notice = await socketOnB.next((m) => m.type === 'notification', 10_000);
    expect(notice).toMatchObject({ notification: { event: 'movieCompleted', read: true }, unreadCount: 0 });
    // The tab goes away: B says so at once. (A never had a visible socket of this user: it wrote nothing.)
    socketOnB.send({ type: 'viewState', visible: false });
    await expect
      .poll(async () => (await sql.query('select instance_id, visible from public.user_presence where user_id = $1', [session.userId])).rows)
      .toEqual([{ instance_id: 'renders-b', visible: false }]);
    socketOnB.close();
  });

  it('a render whose instance is gone reads as failed (SERVER_RESTART) on the other, which can start it again', async () => {
    const { session, projectId, onA, onB } = await gameProject();
    expect((await onA('POST', `/api/projects/${projectId}/generate-movie`)).status).toBe(202);
    const onAsRender = renders.at(-1)!;
    onAsRender.request.onProgress?.({ percent: 10, stage: 'rendering' });
    // A's registration runs out (as when it dies and stops renewing it).
    await sql.query(`update public.server_instances set expires_at = now() - interval '1 second' where id = 'renders-a'`);
    expect((await onB('GET', `/api/projects/${projectId}/movie-status`)).json).toMatchObject({ status: 'failed', code: 'SERVER_RESTART' });

    const count = renders.length;
    expect((await onB('POST', `/api/projects/${projectId}/generate-movie`)).status).toBe(202);
    expect(renders).toHaveLength(count + 1);
    expect((await onA('GET', `/api/projects/${projectId}/movie-status`)).json).toMatchObject({ status: 'rendering', percent: 0 });
    // The first render ending late changes nothing: the row is B's now. Its notice comes after A wrote (or did not
    // write) its end, so the status read then shows what that write did.
    const socketOnB = await Client.init(B.url, session.accessToken);
    onAsRender.finish(result(5000));
    await socketOnB.next((m) => m.type === 'notification' && m.notification.event === 'movieCompleted', 10_000);
    expect((await onB('GET', `/api/projects/${projectId}/movie-status`)).json).toMatchObject({ status: 'rendering', percent: 0 });
    socketOnB.close();
    renders.at(-1)!.finish(result(6000));
    await expect.poll(async () => (await onA('GET', `/api/projects/${projectId}/movie-status`)).json).toMatchObject({ status: 'done', duration: 6 });
  });
});

describe('render states on one instance (memory)', () => {
  it('one render at a time per project; progress and end as written; a finished render can be started again', async () => {
    const states = memoryRenderStates();
    const first = await states.claim('p');
    expect(first).toMatchObject({ claimed: true, render: { status: 'rendering', percent: 0 } });
    expect(await states.claim('p')).toMatchObject({ claimed: false, render: { status: 'rendering' } });
    await states.update('p', { percent: 30, stage: 'rendering' });
    expect(await states.get('p')).toMatchObject({ status: 'rendering', percent: 30, stage: 'rendering' });
    await states.update('p', { status: 'failed', error: 'no browser', httpStatus: 500, finishedAt: new Date().toISOString() });
    expect(await states.get('p')).toMatchObject({ status: 'failed', error: 'no browser' });
    expect(await states.claim('p')).toMatchObject({ claimed: true, render: { status: 'rendering', percent: 0 } });
    expect(await states.get('other')).toBeNull();
  });
});
