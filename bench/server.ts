/**
 * Issue 6 figures: stream latency from a token leaving the agent to a WebSocket client (p50/p99, with 1 and 50
 * concurrent jobs), memory per idle WebSocket with 1,000 connected, and boot to healthy on an existing data dir.
 *
 * The agent here is bench/fake-claude.mjs in place of the Claude CLI (50 real CLIs would measure the CPU, not the
 * server): it prints stream-json deltas stamped with the time they were written. Everything after its stdout is
 * the real server path: backend spawn, stream-json translation, job events with seq, database flushes, WebSocket.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, promises as fs, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLocalBackend } from '@dreamcore/backend-local';
import { startServer } from '../server/src/main.js';
import { Client, signUp } from '../server/test/support/harness.js';
import { section, type Measurement } from './lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const TEMPLATES = path.join(tmpdir(), 'dreamcore-pglite-templates');
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function streamLatency(concurrent: number): Promise<{ p50: number; p99: number; samples: number }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-server-'));
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    ANTHROPIC_API_KEY: 'sk-bench',
    ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
    GEMINI_API_KEY: 'x',
    GEMINI_BASE_URL: 'http://127.0.0.1:9',
    MAX_JOBS_TOTAL: '100',
    DAILY_PROJECT_LIMIT: '-1',
    DAILY_MESSAGE_LIMIT: '-1',
    RATE_LIMIT_PER_MIN: '100000',
    PGLITE_TEMPLATE_DIR: TEMPLATES,
  };
  const backend = createLocalBackend({
    dataDir,
    agent: { anthropicBaseUrl: 'http://127.0.0.1:9', claudePath: path.join(here, 'fake-claude.mjs'), isolation: 'none', onIsolation: () => undefined },
  });
  const server = await startServer(env, { backend });
  const latencies: number[] = [];
  try {
    const users = await Promise.all(Array.from({ length: concurrent }, () => signUp(server.url)));
    const clients = await Promise.all(users.map((u) => Client.init(server.url, u.accessToken)));
    // Set-up is not what is measured: create the projects ten at a time.
    const projects: string[] = [];
    for (let i = 0; i < clients.length; i += 10) {
      projects.push(
        ...(await Promise.all(
          clients.slice(i, i + 10).map(async (c) => {
            c.send({ type: 'createProject', name: 'bench' });
            return (await c.next((m) => m.type === 'projectCreated', 120_000)).project.id as string;
          }),
        )),
      );
    }
    await Promise.all(
      clients.map(async (c, i) => {
        c.send({ type: 'selectProject', projectId: projects[i] });
        await c.next((m) => m.type === 'projectSelected', 120_000);
      }),
    );
    // The fake agents of all jobs start streaming at the same moment, once every job is running.
    const startAt = Date.now() + 3000 + concurrent * 100;
    await Promise.all(
      clients.map(async (c) => {
        c.ws.on('message', (data) => {
          const at = performance.timeOrigin + performance.now();
          const m = JSON.parse(String(data)) as { type: string; content?: string };
          if (m.type !== 'stream' || !m.content) return;
          for (const match of m.content.matchAll(/⟨\d+@([\d.]+)⟩/g)) latencies.push(at - Number(match[1]));
        });
        c.send({ type: 'message', content: `stream please start@${startAt}` });
        const jobId = (await c.next((m) => m.type === 'jobStarted', 120_000)).job.id;
        await c.next((m) => m.jobId === jobId && (m.type === 'completed' || m.type === 'failed'), 120_000);
      }),
    );
    clients.forEach((c) => c.close());
  } finally {
    await server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  return { p50: pct(latencies, 50), p99: pct(latencies, 99), samples: latencies.length };
}

function rssKb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.replace(/\D+/g, ''));
}

export async function bootChild(
  dataDir: string,
  extraEnv: Record<string, string> = {},
): Promise<{ url: string; pid: number; ms: number; stop: () => Promise<void> }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'server/src/cli.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      ANTHROPIC_API_KEY: 'sk-bench',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
      GEMINI_API_KEY: 'x',
      GEMINI_BASE_URL: 'http://127.0.0.1:9',
      PGLITE_TEMPLATE_DIR: TEMPLATES,
      RATE_LIMIT_PER_MIN: '100000',
      WS_MESSAGES_PER_MIN: '100000',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /running: (http:\/\/localhost:\d+)/.exec(line);
      if (m) resolve(m[1]!.replace('localhost', '127.0.0.1'));
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  for (;;) {
    if ((await fetch(`${url}/api/health`).catch(() => null))?.ok) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - started;
  return {
    url,
    pid: child.pid!,
    ms,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Baseline for boot: the same node + tsx start of a minimal HTTP server answering /api/health. */
async function bootBaseline(): Promise<number> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '-e', "require('node:http').createServer((q,s)=>s.end('ok')).listen(0,'127.0.0.1',function(){console.log(this.address().port)})"],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  while (!(await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null))?.ok) await new Promise((r) => setTimeout(r, 10));
  const ms = performance.now() - started;
  child.kill('SIGKILL');
  return ms;
}

export async function benchServer(): Promise<Measurement[]> {
  const out: Measurement[] = [];
  section('server: stream latency, token written by the agent → WebSocket client (fake CLI, real server path)');
  for (const n of [1, 50]) {
    const { p50, p99, samples } = await streamLatency(n);
    console.log(
      `  ${String(n).padStart(2)} concurrent job(s): p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${samples} tokens${n === 50 ? `  (goal p99 ≤ 25 ms: ${p99 <= 25 ? 'met' : 'NOT met'})` : ''}`,
    );
    out.push({ name: `stream latency p99, ${n} jobs`, baseline: 'ms (absolute)', ours: p99, base: 25, ratio: p99 / 25, unit: `p50 ${p50.toFixed(1)} ms` });
  }

  section('server: memory per idle WebSocket (1,000 connected and initialised), boot to healthy');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-boot-'));
  const first = await bootChild(dataDir);
  const user = await signUp(first.url);
  await first.stop();
  const baseline = await bootBaseline();
  const booted = await bootChild(dataDir); // existing data dir: database reopened, not created
  console.log(
    `  boot to healthy on an existing data dir: ${booted.ms.toFixed(0)} ms (minimal node+tsx HTTP server: ${baseline.toFixed(0)} ms, ratio ${(booted.ms / baseline).toFixed(2)}×)`,
  );
  out.push({
    name: 'boot to healthy (existing data dir)',
    baseline: 'minimal node+tsx http server',
    ours: booted.ms,
    base: baseline,
    ratio: booted.ms / baseline,
  });
  const before = rssKb(booted.pid);
  const clients: Client[] = [];
  for (let i = 0; i < 1000; i += 50) {
    clients.push(...(await Promise.all(Array.from({ length: 50 }, () => Client.init(booted.url, user.accessToken)))));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssKb(booted.pid);
  const perSocket = ((after - before) * 1024) / clients.length;
  console.log(
    `  server RSS ${(before / 1024).toFixed(0)} MB → ${(after / 1024).toFixed(0)} MB with ${clients.length} sockets: ${(perSocket / 1024).toFixed(1)} KB per idle socket`,
  );
  out.push({ name: 'memory per idle WebSocket (KB)', baseline: 'absolute', ours: perSocket / 1024, base: 1, ratio: perSocket / 1024 });
  clients.forEach((c) => c.close());
  await booted.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
  return out;
}
