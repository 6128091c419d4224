/**
 * A running server for contract tests: real HTTP and WebSocket clients against `startServer` on a loopback port,
 * the local backend, the embedded database and auth, and the scripted model / fake Gemini as upstreams.
 */
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startModelServer, startFakeGemini, type ModelServer, type FakeGemini, type Script } from '@dreamcore/runtime-core/testkit';
import type { ExecutionBackend } from '@dreamcore/runtime-core';
import { startServer, type RunningServer } from '../../src/main.js';

export interface Harness {
  server: RunningServer;
  model: ModelServer;
  gemini: FakeGemini;
  dataDir: string;
  url: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  script?: Script;
  env?: Record<string, string>;
  dataDir?: string;
  /** Another backend than the local one the server would build (e.g. Modal on the emulator), given the stand-ins. */
  /** The TLS agent the server's web push goes through (a local push service's certificate). */
  pushAgent?: import('node:https').Agent;
  makeBackend?: (standIns: { anthropicBaseUrl: string; anthropicApiKey: string; geminiBaseUrl: string; geminiApiKey: string }) => Promise<ExecutionBackend>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const model = await startModelServer({ script: options.script ?? [] });
  const gemini = await startFakeGemini({ apiKey: 'test-gemini-key' });
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'dreamcore-server-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ANTHROPIC_API_KEY: 'sk-ant-server-test-key',
    ANTHROPIC_BASE_URL: model.url,
    GEMINI_API_KEY: 'test-gemini-key',
    GEMINI_BASE_URL: gemini.url,
    DAILY_PROJECT_LIMIT: '100',
    DAILY_MESSAGE_LIMIT: '100',
    RATE_LIMIT_PER_MIN: '10000',
    PGLITE_TEMPLATE_DIR: path.join(tmpdir(), 'dreamcore-pglite-templates'),
    // The 4008 case waits for this timer (10 s in production): a short one keeps the wait short.
    WS_AUTH_TIMEOUT_MS: '1500',
    // The game check loads every generated game in chromium: tests about the agent turn it on (agent.test.ts).
    GAME_CHECK: 'false',
    ...options.env,
  };
  const backend = await options.makeBackend?.({
    anthropicBaseUrl: model.url,
    anthropicApiKey: env.ANTHROPIC_API_KEY!,
    geminiBaseUrl: gemini.url,
    geminiApiKey: 'test-gemini-key',
  });
  const server = await startServer(env, { ...(backend ? { backend } : {}), ...(options.pushAgent ? { pushAgent: options.pushAgent } : {}) });
  return {
    server,
    model,
    gemini,
    dataDir,
    url: server.url,
    env,
    async close() {
      await server.close();
      await model.close();
      await gemini.close();
      if (!options.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Session {
  userId: string;
  email: string;
  accessToken: string;
  refreshToken: string;
}

let counter = 0;
export async function signUp(url: string, email = `user${Date.now()}-${++counter}@example.com`, password = 'correct horse battery'): Promise<Session> {
  const res = await fetch(`${url}/auth/v1/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', apikey: 'embedded' },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new Error(`signup failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { access_token: string; refresh_token: string; user: { id: string } };
  return { userId: body.user.id, email, accessToken: body.access_token, refreshToken: body.refresh_token };
}

export function api(url: string, token?: string) {
  return async (method: string, route: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, json: json as Record<string, any>, text, headers: res.headers };
  };
}

/** A WebSocket client that queues every message and can wait for one matching a predicate. */
export class Client {
  readonly messages: Record<string, any>[] = [];
  private waiters: {
    match: (m: Record<string, any>) => boolean;
    resolve: (m: Record<string, any>) => void;
    reject: (e: Error) => void;
    timer: NodeJS.Timeout;
  }[] = [];
  closeInfo: { code: number; reason: string } | null = null;
  private cursor = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as Record<string, any>;
      this.messages.push(message);
      for (const w of [...this.waiters]) {
        if (w.match(message)) {
          clearTimeout(w.timer);
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(message);
        }
      }
    });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: String(reason) };
      // Nothing more will arrive: a waiter learns it now rather than at its timeout.
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`socket closed (${code} ${String(reason)}) while waiting; got: ${JSON.stringify(this.messages.slice(-5)).slice(0, 1500)}`));
      }
    });
  }

  static async connect(url: string): Promise<Client> {
    const ws = new WebSocket(url.replace(/^http/, 'ws'));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Client(ws);
  }

  static async init(url: string, token: string): Promise<Client> {
    const client = await Client.connect(url);
    client.send({ type: 'init', access_token: token });
    await client.next((m) => m.type === 'init');
    return client;
  }

  send(message: Record<string, unknown> | string): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message (after those already consumed by `next`) matching `match`. */
  next(match: (m: Record<string, any>) => boolean, timeoutMs = 30_000): Promise<Record<string, any>> {
    for (let i = this.cursor; i < this.messages.length; i++) {
      if (match(this.messages[i]!)) {
        this.cursor = i + 1;
        return Promise.resolve(this.messages[i]!);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting; got: ${JSON.stringify(this.messages.slice(-5)).slice(0, 1500)}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (m) => {
          this.cursor = this.messages.length;
          resolve(m);
        },
        reject,
        timer,
      });
    });
  }

  async closed(timeoutMs = 15_000): Promise<{ code: number; reason: string }> {
    const start = Date.now();
    while (!this.closeInfo) {
      if (Date.now() - start > timeoutMs) throw new Error('socket did not close');
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closeInfo;
  }

  close(): void {
    this.ws.close();
  }
}

/** Sends a chat message in a project over `client` and collects the job's events (those with a seq) until it ends. */
export async function runMessage(client: Client, projectId: string, content: string, timeoutMs = 90_000) {
  client.send({ type: 'selectProject', projectId });
  await client.next((m) => m.type === 'projectSelected' && m.projectId === projectId);
  client.send({ type: 'message', content });
  const started = await client.next((m) => m.type === 'jobStarted');
  const jobId = started.job.id as string;
  const end = await client.next((m) => m.jobId === jobId && ['completed', 'failed', 'cancelled'].includes(m.type), timeoutMs);
  const events = client.messages.filter((m) => m.jobId === jobId && typeof m.seq === 'number');
  return { jobId, end, events };
}
