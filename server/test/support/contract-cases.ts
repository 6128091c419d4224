/**
 * DreamCore's client contract over real HTTP and WebSocket clients against a running server (local backend,
 * embedded database and auth, the real Claude CLI talking to the scripted model).
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { SignJWT, generateKeyPair } from 'jose';
import sharp from 'sharp';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainDemoScript as demoScript } from '@dreamcore/runtime-core/demo';
import { loadConfig } from '../../src/config.js';
import { api, Client, runMessage, signUp, startHarness, type Harness, type HarnessOptions, type Session } from './harness.js';

/**
 * The client contract, registered for one server set-up. contract.test.ts runs it on the local backend and
 * contract-modal.test.ts on the Modal backend (emulator): the same cases, the same expectations (the full-size demo
 * movie only where `movie` is set).
 */
export function contractCases(label: string, options: Omit<HarnessOptions, 'script'> & { movie?: boolean } = {}): void {
  const { movie, ...harness } = options;
  describe(`server contract (${label})`, () => {
    let h: Harness;
    let alice: Session;
    let bob: Session;

    beforeAll(async () => {
      h = await startHarness({ ...harness, script: demoScript });
      [alice, bob] = await Promise.all([signUp(h.url), signUp(h.url)]);
    }, 180_000);

    afterAll(async () => {
      await h?.close();
    }, 120_000);

    /** Creates a project over the socket and returns its id. */
    async function createProject(client: Client, name = 'My Game'): Promise<string> {
      client.send({ type: 'createProject', name });
      const created = await client.next((m) => m.type === 'projectCreated');
      return created.project.id as string;
    }

    /** Sends a chat message in the selected project and collects the job's events until it ends. */
    const generate = (client: Client, projectId: string, content: string) => runMessage(client, projectId, content);

    describe('health, config and embedded auth', () => {
      it('serves health and config', async () => {
        const health = await api(h.url)('GET', '/api/health');
        expect(health.status).toBe(200);
        expect(health.json).toMatchObject({ status: 'ok', backend: label });
        const config = await api(h.url)('GET', '/api/config');
        expect(config.json).toMatchObject({ supabaseUrl: expect.stringMatching(/^http/), embeddedAuth: true });
      });

      it('supabase-js signs up, signs in, refreshes, reads the user and signs out against the embedded GoTrue subset', async () => {
        // Node 20 has no global WebSocket: supabase-js needs `ws` for its realtime client.
        const supabase = createClient(h.url, 'embedded', {
          auth: { persistSession: false, autoRefreshToken: false },
          realtime: { transport: WebSocket as never },
        });
        const email = `js-${Date.now()}@example.com`;
        const signUpResult = await supabase.auth.signUp({ email, password: 'a long password' });
        expect(signUpResult.error).toBeNull();
        expect(signUpResult.data.session?.access_token).toBeTruthy();
        const again = await supabase.auth.signUp({ email, password: 'a long password' });
        expect(again.error?.message).toMatch(/already registered/);
        const bad = await supabase.auth.signInWithPassword({ email, password: 'wrong password' });
        expect(bad.error?.message).toMatch(/Invalid login credentials/);
        const signIn = await supabase.auth.signInWithPassword({ email, password: 'a long password' });
        expect(signIn.error).toBeNull();
        const user = await supabase.auth.getUser();
        expect(user.data.user?.email).toBe(email);
        const refreshed = await supabase.auth.refreshSession();
        expect(refreshed.error).toBeNull();
        expect(refreshed.data.session?.refresh_token).not.toBe(signIn.data.session?.refresh_token);
        // The old refresh token is single-use.
        const reuse = await api(h.url)('POST', '/auth/v1/token?grant_type=refresh_token', { refresh_token: signIn.data.session!.refresh_token });
        expect(reuse.status).toBe(400);
        expect((await supabase.auth.signOut()).error).toBeNull();
      });

      it('refuses forged, expired and alg:none tokens on REST and WebSocket', async () => {
        const { privateKey } = await generateKeyPair('ES256');
        const forged = await new SignJWT({ role: 'authenticated' })
          .setProtectedHeader({ alg: 'ES256', kid: 'x' })
          .setSubject(alice.userId)
          .setIssuer('dreamcore-embedded-auth')
          .setAudience('authenticated')
          .setExpirationTime('1h')
          .sign(privateKey);
        const [head, body] = alice.accessToken.split('.');
        const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${body}.`;
        const payload = JSON.parse(Buffer.from(body!, 'base64url').toString());
        const expiredBody = Buffer.from(JSON.stringify({ ...payload, exp: Math.floor(Date.now() / 1000) - 3600 })).toString('base64url');
        const tampered = `${head}.${expiredBody}.${alice.accessToken.split('.')[2]}`;
        for (const token of [forged, none, tampered, 'garbage', `${alice.accessToken}x`]) {
          const res = await api(h.url, token)('GET', '/api/projects');
          expect(res.status).toBe(401);
          const client = await Client.connect(h.url);
          client.send({ type: 'init', access_token: token });
          expect((await client.closed()).code).toBe(4001);
        }
        expect((await api(h.url)('GET', '/api/projects')).json).toEqual({ error: 'No access token provided' });
      });

      it('closes a socket that never authenticates with 4008', async () => {
        // The timer is real (WS_AUTH_TIMEOUT_MS: 10 s by default, 1.5 s in the harness); this case waits for it.
        expect(loadConfig({}).WS_AUTH_TIMEOUT_MS).toBe(10_000);
        const opened = Date.now();
        const client = await Client.connect(h.url);
        client.send({ type: 'ping' });
        await client.next((m) => m.type === 'pong');
        expect((await client.closed(15_000)).code).toBe(4008);
        // Not before the configured time (a timer started per socket, not one shared by all).
        expect(Date.now() - opened).toBeGreaterThanOrEqual(Number(h.env.WS_AUTH_TIMEOUT_MS) - 50);
      }, 20_000);
    });

    describe('projects, generation, versions', () => {
      it('create → message → streamed reply → game → versions → restore, and history survives reconnect', async () => {
        const client = await Client.init(h.url, alice.accessToken);
        const projectId = await createProject(client, 'Space Game');
        const first = await generate(client, projectId, 'Make a space shooter game');
        expect(first.end.type).toBe('completed');
        // Every job event carries seq, strictly increasing from 1.
        expect(first.events.map((e) => e.seq)).toEqual(first.events.map((_, i) => i + 1));
        const types = first.events.map((e) => e.type);
        expect(types[0]).toBe('started');
        expect(types).toContain('progress');
        const streamed = first.events
          .filter((e) => e.type === 'stream')
          .map((e) => e.content)
          .join('');
        expect(streamed.length).toBeGreaterThan(10);
        expect(first.end.result.message).toBe(streamed.trim());
        expect(first.end.result.html).toContain('<canvas');
        await client.next((m) => m.type === 'gameUpdated' && m.projectId === projectId);

        const code = await api(h.url, alice.accessToken)('GET', `/api/projects/${projectId}/code`);
        expect(code.json.code).toContain('<canvas');

        const second = await generate(client, projectId, 'Make it faster and change the colors');
        expect(second.end.type).toBe('completed');

        client.send({ type: 'getVersions', projectId });
        const versions = await client.next((m) => m.type === 'versionsList');
        expect(versions.versions).toHaveLength(2);
        expect(versions.versions[1].message).toContain('Make a space shooter');
        const firstVersion = versions.versions[1].id as string;

        client.send({ type: 'restoreVersion', projectId, versionId: firstVersion });
        await client.next((m) => m.type === 'restoreProgress');
        const restored = await client.next((m) => m.type === 'versionRestored');
        expect(restored.versionId).toBe(firstVersion);
        const after = await api(h.url, alice.accessToken)('GET', `/api/projects/${projectId}/code`);
        expect(after.json.code).toBe(first.end.result.html);
        const list = await client.next((m) => m.type === 'versionsList');
        expect(list.versions).toHaveLength(3); // the restore is itself a version (undoable)

        client.close();
        const again = await Client.init(h.url, alice.accessToken);
        again.send({ type: 'selectProject', projectId });
        const selected = await again.next((m) => m.type === 'projectSelected');
        expect(selected.history.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
        expect(selected.history[0].content).toBe('Make a space shooter game');
        again.close();
      }, 180_000);

      it('a client that resubscribes with its last seq gets exactly what it missed', async () => {
        const client = await Client.init(h.url, alice.accessToken);
        const projectId = await createProject(client);
        const { jobId, events } = await generate(client, projectId, 'Make a snake game');
        for (const cut of [0, 3, Math.floor(events.length / 2), events.length - 1]) {
          const late = await Client.init(h.url, alice.accessToken);
          late.send({ type: 'subscribeJob', jobId, lastSeq: cut });
          await late.next((m) => m.type === 'subscribed');
          await late.next((m) => m.jobId === jobId && m.seq === events.length);
          const replayed = late.messages.filter((m) => m.jobId === jobId && typeof m.seq === 'number');
          expect(replayed.map((e) => e.seq)).toEqual(events.slice(cut).map((e) => e.seq));
          expect(replayed.map((e) => e.content ?? e.type)).toEqual(events.slice(cut).map((e) => e.content ?? e.type));
          late.close();
        }
        const rest = await api(h.url, alice.accessToken)('GET', `/api/jobs/${jobId}/events?after=2`);
        expect(rest.json.events.map((e: { seq: number }) => e.seq)).toEqual(events.slice(2).map((e) => e.seq));
        client.close();
      }, 120_000);

      it('a message sent again with its id (its answer lost to a dropped connection) gets the job it started, running or over, never a second one', async () => {
        // A user of its own: alice's messages in the other cases would count against the same AI rate.
        const dave = await signUp(h.url);
        const clientMessageId = randomUUID();
        const message = { type: 'message', content: 'Make a breakout game', clientMessageId };
        /** A new socket on the project that sends `msg` and returns the server's `jobStarted`. */
        const sendOn = async (msg: Record<string, unknown>) => {
          const socket = await Client.init(h.url, dave.accessToken);
          socket.send({ type: 'selectProject', projectId });
          await socket.next((m) => m.type === 'projectSelected' && m.projectId === projectId);
          socket.send(msg);
          return { socket, started: await socket.next((m) => m.type === 'jobStarted') };
        };
        const messagesUsed = async () => (await api(h.url, dave.accessToken)('GET', '/api/quota')).json.messages.used as number;
        const client = await Client.init(h.url, dave.accessToken);
        const projectId = await createProject(client, 'Sent twice');
        client.close();

        const usedBefore = await messagesUsed();
        const first = await sendOn(message);
        expect(first.started).toMatchObject({ isExisting: false, job: { client_message_id: clientMessageId } });
        const jobId = first.started.job.id as string;
        // Sent again at once on another socket (the job most likely still running): that job.
        const whileRunning = await sendOn(message);
        expect(whileRunning.started).toMatchObject({ isExisting: true, job: { id: jobId } });
        whileRunning.socket.close();
        await first.socket.next((m) => m.jobId === jobId && m.type === 'completed', 90_000);
        const events = first.socket.messages.filter((m) => m.jobId === jobId && typeof m.seq === 'number');
        first.socket.close();

        // Sent again after it ended: the same job, replayed from its first event to its end, nothing run again.
        const afterEnd = await sendOn(message);
        expect(afterEnd.started).toMatchObject({ isExisting: true, job: { id: jobId, status: 'completed', client_message_id: clientMessageId } });
        await afterEnd.socket.next((m) => m.jobId === jobId && m.type === 'completed');
        const replayed = afterEnd.socket.messages.filter((m) => m.jobId === jobId && typeof m.seq === 'number');
        expect(replayed.map((e) => `${e.seq}:${e.type}:${e.content ?? ''}`)).toEqual(events.map((e) => `${e.seq}:${e.type}:${e.content ?? ''}`));
        const jobs = await api(h.url, dave.accessToken)('GET', `/api/projects/${projectId}/jobs`);
        expect(jobs.json.jobs.map((j: { id: string }) => j.id)).toEqual([jobId]);
        afterEnd.socket.send({ type: 'selectProject', projectId });
        const selected = await afterEnd.socket.next((m) => m.type === 'projectSelected' && m.projectId === projectId);
        expect(selected.history.filter((m: { role: string }) => m.role === 'user').map((m: { content: string }) => m.content)).toEqual([
          'Make a breakout game',
        ]);
        // One message spent from the day's quota, not three. (A new id is a new message: db-contract's admission case and
        // the browser's second message show that.)
        expect(await messagesUsed()).toBe(usedBefore + 1);

        afterEnd.socket.close();
      }, 180_000);

      it('renames and deletes projects; cancels a running job', async () => {
        const client = await Client.init(h.url, alice.accessToken);
        const projectId = await createProject(client, 'Temp');
        client.send({ type: 'renameProject', projectId, name: 'Renamed' });
        const renamed = await client.next((m) => m.type === 'projectRenamed');
        expect(renamed.project.name).toBe('Renamed');
        h.model.setScript([{ text: 'thinking…', fault: { hang: true } }]);
        client.send({ type: 'selectProject', projectId });
        await client.next((m) => m.type === 'projectSelected');
        client.send({ type: 'message', content: 'make something slow' });
        const started = await client.next((m) => m.type === 'jobStarted');
        await client.next((m) => m.type === 'started' && m.jobId === started.job.id);
        client.send({ type: 'cancelJob', jobId: started.job.id });
        await client.next((m) => m.type === 'jobCancelled');
        const cancelled = await client.next((m) => m.type === 'cancelled' && m.jobId === started.job.id, 10_000);
        expect(cancelled.job.status).toBe('cancelled');
        const job = await api(h.url, alice.accessToken)('GET', `/api/jobs/${started.job.id}`);
        expect(job.json.status).toBe('cancelled');
        h.model.setScript(demoScript);
        client.send({ type: 'deleteProject', projectId });
        const deleted = await client.next((m) => m.type === 'projectDeleted');
        expect(deleted.projects.map((p: { id: string }) => p.id)).not.toContain(projectId);
        client.close();
      }, 60_000);
    });

    describe('demo movie', () => {
      // A full-size promo render (1080×1920, 7 s) is not cheap: it runs where `movie` is set, the Modal lane, where the
      // render happens in a render sandbox and the server process runs no game code. The local renderer is covered by
      // the conformance suite's renderVideo cases.
      it.runIf(movie)(
        'generate-movie renders the game into movie.mp4 and thumbnail.webp in the background, and serves both',
        async () => {
          const client = await Client.init(h.url, alice.accessToken);
          const projectId = await createProject(client, 'Movie Game');
          const call = api(h.url, alice.accessToken);
          expect((await generate(client, projectId, 'Make a space shooter game')).end.type).toBe('completed');

          const started = await call('POST', `/api/projects/${projectId}/generate-movie`);
          expect(started.status).toBe(202);
          expect(started.json).toMatchObject({ success: true, status: 'rendering', statusUrl: `/api/projects/${projectId}/movie-status` });
          // A second request joins the running render and, with ?wait=true, answers when it is done.
          const done = await call('POST', `/api/projects/${projectId}/generate-movie?wait=true`);
          expect(done.status).toBe(200);
          expect(done.json).toMatchObject({ success: true, movieUrl: expect.stringContaining(`/api/projects/${projectId}/movie`), duration: 7 });
          const status = await call('GET', `/api/projects/${projectId}/movie-status`);
          expect(status.json).toMatchObject({ status: 'done', percent: 100, stage: 'done' });

          const auth = { authorization: `Bearer ${alice.accessToken}` };
          const video = await fetch(`${h.url}${done.json.movieUrl as string}`, { headers: auth });
          expect(video.status).toBe(200);
          expect(video.headers.get('content-type')).toContain('video/mp4');
          const mp4 = Buffer.from(await video.arrayBuffer());
          expect(mp4.toString('latin1', 4, 8)).toBe('ftyp');
          const thumbnail = await fetch(`${h.url}/api/projects/${projectId}/thumbnail`);
          expect(thumbnail.status).toBe(200);
          const webp = Buffer.from(await thumbnail.arrayBuffer());
          expect(webp.toString('latin1', 0, 4) + webp.toString('latin1', 8, 12)).toBe('RIFFWEBP');
          // Both are in the project, next to the game (committed, but not a version of the game).
          const files = await call('GET', `/api/projects/${projectId}/files`);
          expect(files.json.files.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(['index.html', 'movie.mp4', 'thumbnail.webp']));
          client.send({ type: 'getVersions', projectId });
          expect((await client.next((m) => m.type === 'versionsList')).versions).toHaveLength(1);
          client.close();
        },
        240_000,
      );
    });

    describe('style selection before a first 2D/3D game', () => {
      it('asks for a style (no quota spent), blocks while pending, writes STYLE.md and gives the agent the guideline; skip is remembered', async () => {
        // A user of its own: this case sends more messages than the per-minute AI rate leaves the others.
        const carol = await signUp(h.url);
        const client = await Client.init(h.url, carol.accessToken);
        const call = api(h.url, carol.accessToken);
        const projectId = await createProject(client, 'Styled');
        client.send({ type: 'selectProject', projectId });
        await client.next((m) => m.type === 'projectSelected' && m.projectId === projectId);
        const quotaBefore = (await call('GET', '/api/quota')).json.messages.used;
        const requestsBefore = h.model.messageRequests.length;

        const content = '2Dのシューティングゲームを作って';
        client.send({ type: 'message', content });
        const options = await client.next((m) => m.type === 'styleOptions' || m.type === 'jobStarted');
        expect(options).toMatchObject({ type: 'styleOptions', dimension: '2d', originalMessage: content });
        expect(options.styles.length).toBeGreaterThanOrEqual(4);
        for (const style of options.styles) expect(Object.keys(style).sort()).toEqual(['description', 'id', 'imageUrl', 'name', 'nameEn']);
        // Every preview card is a real image.
        for (const style of options.styles as { imageUrl: string }[]) {
          const res = await fetch(`${h.url}${style.imageUrl}`);
          expect(res.status).toBe(200);
          expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
          expect(await res.text()).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>.*<\/svg>$/s);
        }
        expect((await fetch(`${h.url}/styles/2d/nope.svg`)).status).toBe(404);

        // Pending: another message gets the reminder, no job, no quota.
        client.send({ type: 'message', content: 'make a 2D racing game' });
        const reminder = await client.next((m) => ['info', 'styleOptions', 'jobStarted'].includes(m.type));
        expect(reminder).toMatchObject({ type: 'info', message: 'スタイルを選択してください。' });
        // An unknown style is refused and changes nothing.
        client.send({ type: 'message', content, selectedStyle: { dimension: '2d', styleId: 'no-such-style' } });
        expect(await client.next((m) => m.type === 'error' || m.type === 'jobStarted')).toMatchObject({ type: 'error', message: 'Invalid request' });
        expect((await call('GET', '/api/quota')).json.messages.used).toBe(quotaBefore);
        expect(h.model.messageRequests.length).toBe(requestsBefore);
        expect((await call('GET', `/api/projects/${projectId}/code`)).json.code).not.toContain('<canvas');

        const chosen = options.styles.find((s: { id: string }) => s.id === 'retro') ?? options.styles[0];
        // An answer refused by the job limit (another project is generating) writes nothing and hands the choice back.
        const busy = await createProject(client, 'Busy');
        h.model.setScript([{ text: 'thinking…', fault: { hang: true } }]);
        client.send({ type: 'selectProject', projectId: busy });
        await client.next((m) => m.type === 'projectSelected' && m.projectId === busy);
        client.send({ type: 'message', content: 'make something slow' });
        const busyJob = await client.next((m) => m.type === 'jobStarted');
        client.send({ type: 'selectProject', projectId });
        await client.next((m) => m.type === 'projectSelected' && m.projectId === projectId);
        client.send({ type: 'message', content, selectedStyle: { dimension: '2d', styleId: chosen.id } });
        const refused = await client.next((m) => m.type === 'limitExceeded' || m.type === 'jobStarted');
        expect(refused).toMatchObject({ type: 'limitExceeded', pendingPrompt: { content, selectedStyle: { dimension: '2d', styleId: chosen.id } } });
        expect(JSON.stringify((await call('GET', `/api/projects/${projectId}/files`)).json)).not.toContain('STYLE.md');
        client.send({ type: 'cancelJob', jobId: busyJob.job.id });
        // On Modal the job may still be starting its sandbox when the cancel arrives; on a loaded machine (load 13 in a
        // run with other suites) that took longer than 15 s, so the bound is the case's own, not a tighter one.
        await client.next((m) => m.type === 'cancelled' && m.jobId === busyJob.job.id, 90_000);
        h.model.setScript(demoScript);

        // The answer: the same message with the chosen style.
        client.send({ type: 'message', content, selectedStyle: { dimension: '2d', styleId: chosen.id } });
        const started = await client.next((m) => m.type === 'jobStarted');
        const end = await client.next((m) => m.jobId === started.job.id && ['completed', 'failed'].includes(m.type), 90_000);
        expect(end.type).toBe('completed');
        expect((await call('GET', '/api/quota')).json.messages.used).toBe(quotaBefore + 3); // busy job, the refused answer, this one
        const prompts = h.model.messageRequests.slice(requestsBefore).map((r) => JSON.stringify(r.body));
        expect(prompts.some((p) => p.includes(content) && p.includes('STYLE.md') && p.includes(`Visual style: ${chosen.nameEn}`))).toBe(true);
        // STYLE.md holds the chosen style itself (read as the project's owner reads any game file).
        const styleFile = await call('GET', `/game/${carol.userId}/${projectId}/STYLE.md`);
        expect(styleFile.status).toBe(200);
        const heading = `# ${chosen.nameEn} (${chosen.name})\n\nid: ${chosen.id}\ndimension: 2d\n\nVisual style: ${chosen.nameEn}`;
        expect(styleFile.text.slice(0, heading.length)).toBe(heading);
        // The chat keeps the user's words; the version is named after them, not the guideline.
        client.send({ type: 'selectProject', projectId });
        const selected = await client.next((m) => m.type === 'projectSelected' && m.projectId === projectId);
        expect(selected.history[0]).toMatchObject({ role: 'user', content });
        client.send({ type: 'getVersions', projectId });
        const versions = await client.next((m) => m.type === 'versionsList' && m.projectId === projectId && m.versions.length === 1);
        expect(versions.versions[0].message).toBe(content);
        // A style is decided: the next creation request goes straight to a job.
        client.send({ type: 'message', content: '2Dのパズルゲームを作って' });
        const next = await client.next((m) => m.type === 'styleOptions' || m.type === 'jobStarted');
        expect(next.type).toBe('jobStarted');
        await client.next((m) => m.jobId === next.job.id && ['completed', 'failed'].includes(m.type), 90_000);

        // Skipping is remembered too.
        const other = await createProject(client, 'Unstyled');
        client.send({ type: 'selectProject', projectId: other });
        await client.next((m) => m.type === 'projectSelected' && m.projectId === other);
        client.send({ type: 'message', content: 'Make a 3D maze game' });
        expect(await client.next((m) => m.type === 'styleOptions' || m.type === 'jobStarted')).toMatchObject({ type: 'styleOptions', dimension: '3d' });
        client.send({ type: 'message', content: 'Make a 3D maze game', skipStyleSelection: true });
        const skipped = await client.next((m) => m.type === 'jobStarted');
        await client.next((m) => m.jobId === skipped.job.id && ['completed', 'failed'].includes(m.type), 90_000);
        expect((await call('GET', `/game/${carol.userId}/${other}/STYLE.md`)).text).toMatch(/^# SKIPPED\n/);
        client.send({ type: 'message', content: 'Make a 3D maze game with more levels' });
        const again = await client.next((m) => m.type === 'styleOptions' || m.type === 'jobStarted');
        expect(again.type).toBe('jobStarted');
        await client.next((m) => m.jobId === again.job.id && ['completed', 'failed'].includes(m.type), 90_000);
        client.close();
      }, 300_000);
    });

    describe('asset library and profile pictures (issue 17)', () => {
      /** A multipart upload through fetch's own FormData, as the browser app sends it. */
      const upload = async (path: string, field: string, name: string, type: string, bytes: Uint8Array) => {
        const form = new FormData();
        form.append(field, new Blob([bytes], { type }), name);
        const res = await fetch(`${h.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${alice.accessToken}` }, body: form });
        return { status: res.status, json: (await res.json()) as Record<string, any> };
      };
      const bytesAt = async (url: string) => new Uint8Array(await (await fetch(`${h.url}${url}`)).arrayBuffer());

      it('a picture wider than 2048 px is stored made to fit, renamed, hidden, deleted; an avatar replaces the last one', async () => {
        const wide = await sharp({ create: { width: 2400, height: 120, channels: 4, background: { r: 0, g: 90, b: 200, alpha: 0.5 } } })
          .png()
          .toBuffer();
        const made = await upload('/api/assets/upload', 'file', 'banner.png', 'image/png', wide);
        expect(made.status).toBe(200);
        expect(made.json.compressed).toMatchObject({ width: 2048, height: 102 });
        const { id, url } = made.json.asset as { id: string; url: string };
        const stored = await sharp(await bytesAt(url)).metadata();
        expect(stored).toMatchObject({ format: 'png', width: 2048, hasAlpha: true });
        const as = api(h.url, alice.accessToken);
        expect((await as('PUT', `/api/assets/${id}`, { filename: 'バナー' })).json.asset.filename).toBe('バナー');
        expect((await as('PUT', `/api/assets/${id}/publish`, { isPublic: false })).status).toBe(200);
        expect((await fetch(`${h.url}${url}`)).status).toBe(404);
        expect((await as('DELETE', `/api/assets/${id}`)).status).toBe(200);

        const picture = (r: number) =>
          sharp({ create: { width: 300, height: 200, channels: 3, background: { r, g: 10, b: 10 } } })
            .png()
            .toBuffer();
        const first = await upload('/api/users/me/avatar', 'avatar', 'me.png', 'image/png', await picture(200));
        expect(await sharp(await bytesAt(first.json.avatar_url as string)).metadata()).toMatchObject({ format: 'webp', width: 256, height: 256 });
        const second = await upload('/api/users/me/avatar', 'avatar', 'me.png', 'image/png', await picture(20));
        expect((await fetch(`${h.url}${first.json.avatar_url as string}`)).status).toBe(404);
        expect((await fetch(`${h.url}${second.json.avatar_url as string}`)).status).toBe(200);
        expect((await as('GET', '/api/users/me')).json.avatar_url).toBe(second.json.avatar_url);
      });
    });

    describe('isolation between users', () => {
      it("another user and a stranger get 401/403/404 on everything of alice's", async () => {
        const client = await Client.init(h.url, alice.accessToken);
        const projectId = await createProject(client, 'Private');
        const { jobId } = await generate(client, projectId, 'Make a breakout game');
        client.close();
        const asBob = api(h.url, bob.accessToken);
        const asNobody = api(h.url);
        for (const route of [
          `/api/projects/${projectId}`,
          `/api/projects/${projectId}/code`,
          `/api/projects/${projectId}/preview`,
          `/api/game-url/${projectId}`,
          `/api/projects/${projectId}/jobs`,
          `/api/projects/${projectId}/active-job`,
        ]) {
          expect([403, 404]).toContain((await asBob('GET', route)).status);
          expect((await asNobody('GET', route)).status).toBe(401);
        }
        for (const route of [`/api/jobs/${jobId}`, `/api/jobs/${jobId}/events`]) {
          expect([403, 404]).toContain((await asBob('GET', route)).status);
          expect((await asNobody('GET', route)).status).toBe(401);
        }
        expect([403, 404]).toContain((await asBob('POST', `/api/jobs/${jobId}/cancel`)).status);
        // The game file itself, with bob's token, without one, with a bad signature.
        expect((await asBob('GET', `/game/${alice.userId}/${projectId}/index.html`)).status).toBe(403);
        expect((await asNobody('GET', `/game/${alice.userId}/${projectId}/index.html`)).status).toBe(401);
        expect(
          (await asNobody('GET', `/game/${alice.userId}/${projectId}/index.html?sig=${'0'.repeat(64)}&exp=${Math.floor(Date.now() / 1000) + 100}`)).status,
        ).toBe(401);

        const bobWs = await Client.init(h.url, bob.accessToken);
        for (const message of [
          { type: 'selectProject', projectId },
          { type: 'getVersions', projectId },
          { type: 'renameProject', projectId, name: 'pwned' },
          { type: 'deleteProject', projectId },
          { type: 'restoreVersion', projectId, versionId: 'abcdef0' },
        ]) {
          bobWs.send(message);
          expect((await bobWs.next((m) => m.type === 'error')).message).toBe('Access denied');
        }
        bobWs.send({ type: 'subscribeJob', jobId });
        expect((await bobWs.next((m) => m.type === 'error')).message).toBe('Job not found');
        bobWs.send({ type: 'getJobStatus', jobId });
        expect((await bobWs.next((m) => m.type === 'jobStatus')).job).toBeNull();
        bobWs.close();
        expect((await api(h.url, alice.accessToken)('GET', `/api/projects/${projectId}`)).json.name).toBe('Private');
      }, 120_000);

      it('the signed preview URL serves the game with the injection, and expires', async () => {
        const client = await Client.init(h.url, alice.accessToken);
        const projectId = await createProject(client, 'Preview');
        client.close();
        const signed = await api(h.url, alice.accessToken)('GET', `/api/game-url/${projectId}`);
        const page = await fetch(`${h.url}${signed.json.url}`);
        expect(page.status).toBe(200);
        const html = await page.text();
        expect(html).toContain('Your game will appear here');
        expect(html).toContain('window.ASSET_BASE_URL=');
        expect(html).toContain('gameLoaded');
        expect(page.headers.get('x-frame-options')).toBeNull();
        const expired = signed.json.url.replace(/exp=\d+/, 'exp=1');
        expect((await fetch(`${h.url}${expired}`)).status).toBe(401);
      });

      it('the preview runs sandboxed: the signed URL moves the signature into the path, which every file the game loads carries', async () => {
        const client = await Client.init(h.url, alice.accessToken);
        const projectId = await createProject(client, 'Sandboxed');
        client.close();
        const asAlice = api(h.url, alice.accessToken);
        const signed = await asAlice('GET', `/api/game-url/${projectId}`);
        const first = await fetch(`${h.url}${signed.json.url}`, { redirect: 'manual' });
        expect(first.status).toBe(302);
        const location = first.headers.get('location')!;
        expect(location).toMatch(new RegExp(`^/game/${alice.userId}/${projectId}/s-\\d+-[0-9a-f]{64}/index\\.html$`));
        const page = await fetch(`${h.url}${location}`);
        expect(page.status).toBe(200);
        // An opaque origin: the game cannot read the app's storage or cookies, and gets an in-memory localStorage.
        expect(page.headers.get('content-security-policy')).toMatch(/\bsandbox allow-scripts\b/);
        expect(page.headers.get('content-security-policy')).not.toMatch(/allow-same-origin/);
        expect(await page.text()).toContain("['localStorage','sessionStorage']");
        // A relative URL from the page keeps the capability prefix, so it is served; the prefix is the only key.
        const prefix = location.slice(0, location.lastIndexOf('/'));
        const sub = await fetch(`${h.url}${prefix}/index.html`);
        expect(sub.status).toBe(200);
        expect(sub.headers.get('access-control-allow-origin')).toBe('*');
        const sig = /s-(\d+)-([0-9a-f]{64})/.exec(location)!;
        const forged = prefix.replace(sig[2]!, '0'.repeat(64));
        expect((await fetch(`${h.url}${forged}/index.html`)).status).toBe(401);
        const otherProject = await asAlice(
          'GET',
          `/api/game-url/${await (async () => {
            const c = await Client.init(h.url, alice.accessToken);
            const id = await createProject(c, 'Other');
            c.close();
            return id;
          })()}`,
        );
        const otherSig = /sig=([0-9a-f]{64})&exp=(\d+)/.exec(otherProject.json.url)!;
        expect((await fetch(`${h.url}/game/${alice.userId}/${projectId}/s-${otherSig[2]}-${otherSig[1]}/index.html`)).status).toBe(401);
        // V2 served any non-HTML file to a request whose Referer named the project; a Referer is no key.
        const referer = { headers: { referer: `${h.url}/game/${alice.userId}/${projectId}/index.html` } };
        expect((await fetch(`${h.url}/game/${alice.userId}/${projectId}/index.js`, referer)).status).toBe(401);
      });
    });

    describe('hardening', () => {
      it('answers malformed and unknown messages with errors and keeps the connection', async () => {
        const client = await Client.init(h.url, alice.accessToken);
        client.send('not json');
        expect((await client.next((m) => m.type === 'error')).message).toBe('Invalid message format');
        client.send({ type: 'nope' });
        expect((await client.next((m) => m.type === 'error')).message).toBe('Unknown message type');
        client.send({ type: 'selectProject', projectId: 'not-a-uuid' });
        expect((await client.next((m) => m.type === 'error')).message).toBe('Invalid request');
        client.send({ type: 'message', content: 'Make a game', clientMessageId: 'not-a-uuid' });
        expect((await client.next((m) => m.type === 'error')).message).toBe('Invalid request');
        client.send({ type: 'ping' });
        await client.next((m) => m.type === 'pong');
        expect(client.ws.readyState).toBe(WebSocket.OPEN);
        client.close();
      });

      it('refuses oversized frames and bodies', async () => {
        const big = await api(h.url, alice.accessToken)('POST', '/api/jobs/00000000-0000-4000-8000-000000000000/cancel', { pad: 'x'.repeat(3 * 1024 * 1024) });
        expect(big.status).toBe(413);
        const client = await Client.init(h.url, alice.accessToken);
        client.send({ type: 'ping', pad: 'x'.repeat(2 * 1024 * 1024) });
        expect((await client.closed()).code).toBe(1009);
      });

      it('exposes Prometheus metrics', async () => {
        const res = await fetch(`${h.url}/metrics`);
        const text = await res.text();
        expect(text).toContain('dreamcore_jobs_total');
        expect(text).toContain('dreamcore_websockets_active');
        expect(text).toMatch(/dreamcore_jobs_total\{status="completed"\} \d+/);
      });
    });
  });
}
