/**
 * Kill the server with SIGKILL in the middle of a job, start it again: the job is failed (recoverable), the project
 * is at its last commit, and the next message works. The server runs as a real child process, as in production.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startModelServer, type ModelServer } from '@dreamcore/runtime-core/testkit';
import { createLocalBackend } from '@dreamcore/backend-local';
import { api, Client, signUp } from './support/harness.js';

const root = path.resolve(import.meta.dirname, '../..');
let model: ModelServer;
let dataDir: string;
let child: ChildProcess | null = null;

function boot(): Promise<{ url: string; logs: string[]; server: ChildProcess }> {
  const logs: string[] = [];
  // `npm start`'s command, plus the test workers' --liftoff-only (vitest.config.ts says why): each boot compiles the
  // embedded database's WebAssembly, and TurboFan's share of that (≈ 4 s of CPU per boot here) is no part of a crash.
  const server = spawn(process.execPath, ['--liftoff-only', '--conditions=source', '--import', 'tsx', 'server/src/cli.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ANTHROPIC_API_KEY: 'sk-ant-crash-test',
      ANTHROPIC_BASE_URL: model.url,
      GEMINI_API_KEY: 'x',
      GEMINI_BASE_URL: 'http://127.0.0.1:9',
      PGLITE_TEMPLATE_DIR: path.join(tmpdir(), 'dreamcore-pglite-templates'),
      // As in the harness: the game check (chromium on every finished job) is not what these cases are about, and
      // costs the run ~3.5 s of CPU; the agent tests turn it on.
      GAME_CHECK: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = server;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${logs.join('\n')}`)), 60_000);
    for (const stream of [server.stdout!, server.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        logs.push(line);
        const match = /running: (http:\/\/localhost:\d+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve({ url: match[1]!.replace('localhost', '127.0.0.1'), logs, server });
        }
      });
    }
    server.once('exit', (code) => reject(new Error(`server exited ${code}: ${logs.join('\n')}`)));
  });
}

beforeAll(async () => {
  model = await startModelServer({ script: [{ text: 'working on it', fault: { hang: true } }] });
  dataDir = mkdtempSync(path.join(tmpdir(), 'dreamcore-crash-'));
});

afterAll(async () => {
  child?.kill('SIGKILL');
  await model?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

/** Names every plain object answers through its prototype: a frame once used one as a schema key and the process died. */
const PROTOTYPE_NAMES = [
  'toString',
  'constructor',
  'hasOwnProperty',
  '__proto__',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupSetter__',
];

it('no frame stops the process: prototype names as message types, before init, are refused and the server answers on', async () => {
  // This case's own process (not `child`): if the case ran past its timeout, the next case's server must not be the one killed.
  const { url, logs, server } = await boot();
  const hostile = await Client.connect(url);
  for (const type of PROTOTYPE_NAMES) {
    hostile.send({ type });
    expect(await hostile.next((m) => m.type === 'error')).toMatchObject({ message: 'Unknown message type' });
  }
  // The same names inside a valid message type, and as the raw frame.
  hostile.send('{"type":"ping","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}');
  await hostile.next((m) => m.type === 'pong');
  hostile.send('"__proto__"');
  await hostile.next((m) => m.type === 'error');
  expect(hostile.closeInfo).toBeNull();

  // Still the same process, and it serves everyone: health, a new socket, a sign-in.
  expect(server.exitCode).toBeNull();
  expect((await fetch(`${url}/api/health`)).status).toBe(200);
  const user = await signUp(url);
  const other = await Client.init(url, user.accessToken);
  other.send({ type: 'ping' });
  await other.next((m) => m.type === 'pong');
  expect(logs.join('\n')).not.toMatch(/uncaught exception|unhandled promise rejection|ws handler failed/);
  hostile.close();
  other.close();
  server.kill('SIGKILL');
  // A server boot under load takes tens of seconds (a loaded run saw this case time out at vitest's default 30 s).
}, 120_000);

it('a job interrupted by SIGKILL is failed-recoverable after restart and the project stays at its last commit', async () => {
  const first = await boot();
  const user = await signUp(first.url);
  const client = await Client.init(first.url, user.accessToken);
  client.send({ type: 'createProject', name: 'Crash' });
  const projectId = (await client.next((m) => m.type === 'projectCreated')).project.id as string;
  client.send({ type: 'selectProject', projectId });
  await client.next((m) => m.type === 'projectSelected');
  client.send({ type: 'message', content: 'build something' });
  const jobId = (await client.next((m) => m.type === 'jobStarted')).job.id as string;
  await client.next((m) => m.type === 'started' && m.jobId === jobId);
  await expect.poll(() => model.messageRequests.length, { timeout: 30_000 }).toBeGreaterThan(0);

  const exited = new Promise((resolve) => child!.once('exit', resolve));
  child!.kill('SIGKILL');
  await exited;

  const second = await boot();
  expect(second.logs.join('\n')).toMatch(/interrupted jobs failed/);
  const job = (
    await api(
      second.url,
      (
        (await fetch(`${second.url}/auth/v1/token?grant_type=password`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: user.email, password: 'correct horse battery' }),
        }).then((r) => r.json())) as { access_token: string }
      ).access_token,
    )('GET', `/api/jobs/${jobId}`)
  ).json;
  expect(job).toMatchObject({ status: 'failed', error_code: 'SERVER_RESTART', recoverable: true });

  // The project is at its last commit: the interrupted run committed nothing.
  const backend = createLocalBackend({ dataDir });
  const log = await backend.git.log({ userId: user.userId, projectId });
  expect(log.commits.map((c) => c.message)).toEqual(['Initial project setup']);
  await backend.close();

  // ... and it is not blocked: a new message starts a new job.
  model.setScript([{ text: 'done this time' }]);
  const session = (await fetch(`${second.url}/auth/v1/token?grant_type=password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: user.email, password: 'correct horse battery' }),
  }).then((r) => r.json())) as { access_token: string };
  const again = await Client.init(second.url, session.access_token);
  again.send({ type: 'selectProject', projectId });
  const selected = await again.next((m) => m.type === 'projectSelected');
  expect(selected.activeJob).toBeNull();
  again.send({ type: 'message', content: 'try again' });
  const next = await again.next((m) => m.type === 'jobStarted');
  expect(next.job.id).not.toBe(jobId);
  expect((await again.next((m) => m.type === 'completed' && m.jobId === next.job.id, 60_000)).job.status).toBe('completed');
  // Logs never carry tokens or keys.
  const all = [...first.logs, ...second.logs].join('\n');
  expect(all).not.toContain(user.accessToken);
  expect(all).not.toContain('sk-ant-crash-test');
  again.close();
  client.close();
}, 180_000);
