/**
 * Boot: config → database → auth → backend → jobs → HTTP + WebSocket. `startServer` is also what the tests use.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { WebSocketServer } from 'ws';
import { isImageStyle, type ExecutionBackend } from '@dreamcore/runtime-core';
import { loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createBackend, withServerReadCache, type ModelAccess } from './backend.js';
import { createVerifier, type TokenVerifier } from './auth/verify.js';
import { embeddedAuthRouter, loadIssuer, sharedMailThrottle } from './auth/embedded.js';
import { createSignInMailer, type SignInMailer } from './auth/mailer.js';
import { createGoogleClient } from './auth/google.js';
import { openDatabase } from './db/open.js';
import { JobManager } from './jobs/manager.js';
import { Quota } from './quota.js';
import { memoryUserLimiter, type UserLimiter } from './rate-limit.js';
import { dataDirSecrets } from './secrets.js';
import { joinInstances } from './instances.js';
import { createMetrics } from './metrics.js';
import { createPreviewSigner } from './http/signing.js';
import { createApp } from './http/app.js';
import { extraRoutes } from './http/routes/index.js';
import { assetUrl, generateImageAsset } from './http/routes/assets.js';
import { Connection } from './ws/connection.js';
import { memoryRenderStates, sharedRenderStates } from './renders.js';
import { Notifier } from './notifications/notifier.js';
import { deliverEverywhere } from './notifications/fanout.js';
import { localPresence, sharedPresence } from './presence.js';
import { loadVapidKeys, PushSender } from './notifications/push.js';
import { PushServices } from './notifications/push-services.js';
import type { ServerContext } from './context.js';

export interface RunningServer {
  url: string;
  port: number;
  ctx: ServerContext;
  /** The Express app (its route table is what the fuzz tests walk). */
  app: Express;
  close(): Promise<void>;
}

/** AI requests per user and minute: counted in the database when several instances serve the same users. */
function aiLimiter(coordination: ServerContext['db']['coordination'], perMinute: number): UserLimiter {
  if (!coordination) return memoryUserLimiter(perMinute, 60_000);
  return { take: (userId) => coordination.takeRateLimit(`ai:${userId}`, perMinute, 60_000) };
}

/** Demo mode: the real CLI, talking to the built-in scripted model (and a fake Gemini when there is no key). */
async function demoStandIns(config: Config, log: Logger): Promise<{ access: ModelAccess; close: () => Promise<void> }> {
  const closers: (() => Promise<void>)[] = [];
  const access: ModelAccess = {
    anthropicApiKey: config.ANTHROPIC_API_KEY,
    anthropicBaseUrl: config.ANTHROPIC_BASE_URL,
    geminiApiKey: config.geminiKey,
    geminiBaseUrl: config.GEMINI_BASE_URL,
  };
  if (config.demoMode || !config.geminiKey) {
    const testkit = await import('@dreamcore/runtime-core/testkit');
    if (config.demoMode) {
      const { createDemoScript } = await import('@dreamcore/runtime-core/demo');
      const model = await testkit.startModelServer({ script: createDemoScript({ chunkDelayMs: 12, delayMs: 300 }), maxRecorded: 20 });
      access.anthropicBaseUrl = model.url;
      access.anthropicApiKey = undefined;
      closers.push(() => model.close());
      log.warn('DEMO MODE: no ANTHROPIC_API_KEY, so the agent talks to the built-in scripted model (it builds real, simple games)');
    }
    if (!config.geminiKey) {
      const gemini = await testkit.startFakeGemini({ apiKey: 'demo-gemini' });
      access.geminiApiKey = 'demo-gemini';
      access.geminiBaseUrl = gemini.url;
      closers.push(() => gemini.close());
      log.warn('no GEMINI_API_KEY: image generation uses the built-in demo image generator');
    }
  }
  return { access, close: async () => void (await Promise.all(closers.map((c) => c()))) };
}

export async function startServer(
  env: NodeJS.ProcessEnv = process.env,
  /** `pushAgent`: the TLS agent web push goes through (tests: one that trusts the local push service's certificate). */
  options: { backend?: ExecutionBackend; log?: Logger; pushAgent?: HttpsAgent } = {},
): Promise<RunningServer> {
  const config = loadConfig(env);
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  await fs.mkdir(config.DATA_DIR, { recursive: true });

  const db = await openDatabase(config, log);
  const instanceId = config.INSTANCE_ID ?? `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  // Several instances agree on their secrets through the database; one instance keeps them in its data directory.
  const secrets = db.coordination?.sharedSecret.bind(db.coordination) ?? dataDirSecrets(config.DATA_DIR);
  const publicUrl = config.PUBLIC_URL ?? `http://localhost:${config.PORT}`;

  let verify: TokenVerifier;
  let authRouter;
  let mailer: SignInMailer | undefined;
  let authUrl: string;
  let anonKey: string;
  if (config.SUPABASE_URL) {
    authUrl = config.SUPABASE_URL;
    anonKey = config.SUPABASE_ANON_KEY!;
    verify = createVerifier({
      issuer: `${config.SUPABASE_URL.replace(/\/$/, '')}/auth/v1`,
      jwks: new URL(`${config.SUPABASE_URL.replace(/\/$/, '')}/auth/v1/.well-known/jwks.json`),
      hs256Secret: config.SUPABASE_JWT_SECRET,
    });
  } else {
    // Embedded auth: the browser's supabase-js talks to this server's /auth/v1.
    const issuer = await loadIssuer(secrets, 'dreamcore-embedded-auth');
    verify = createVerifier({ issuer: issuer.issuer, jwks: issuer.jwks });
    if (!db.auth) throw new Error('embedded auth needs the embedded database');
    mailer = await createSignInMailer(config.SMTP_URL, config.MAIL_FROM, log);
    authRouter = embeddedAuthRouter(db.auth, issuer, verify, {
      siteUrl: () => ctx.config.PUBLIC_URL ?? ctx.authUrl,
      mailer,
      google:
        config.GOOGLE_CLIENT_ID && config.GOOGLE_CLIENT_SECRET
          ? createGoogleClient({ clientId: config.GOOGLE_CLIENT_ID, clientSecret: config.GOOGLE_CLIENT_SECRET, issuer: config.GOOGLE_ISSUER_URL })
          : null,
      showLinks: config.demoMode && !config.SMTP_URL,
      ...(db.coordination ? { mailThrottle: sharedMailThrottle(db.coordination) } : {}),
      log,
    });
    authUrl = '';
    anonKey = 'embedded';
  }

  const demo = await demoStandIns(config, log);
  const backend = withServerReadCache(config, options.backend ?? (await createBackend(config, log, demo.access)));
  // Before any job: may this backend run beside the instances already up? (local: one machine, one data dir.)
  const leaveInstances = db.coordination
    ? await joinInstances(db.coordination, { id: instanceId, backend: backend.name, host: os.hostname(), dataDir: config.DATA_DIR }, config.JOB_LEASE_MS)
    : async () => undefined;
  const metrics = createMetrics();
  const connections = new Set<Connection>();
  const vapid = await loadVapidKeys(config, secrets, log);
  const presence = db.coordination ? sharedPresence(db.coordination, instanceId, connections, log) : localPresence(connections);
  const notices = await deliverEverywhere(
    db.coordination,
    instanceId,
    (userId, message) => {
      for (const connection of connections) if (connection.userId === userId) connection.send(message);
    },
    log,
  );
  const notifier = new Notifier({
    repo: db.service,
    deliver: notices.deliver,
    watching: (userId, at) => presence.watching(userId, at),
    push: vapid ? new PushSender(vapid, PushServices.parse(config.PUSH_SERVICE_HOSTS), db.service, log, options.pushAgent) : null,
    log,
  });
  const jobs = new JobManager(
    db.service,
    backend,
    { perUser: config.MAX_JOBS_PER_USER, total: config.MAX_JOBS_TOTAL, timeoutMs: config.JOB_TIMEOUT_MS },
    log,
    {
      onFinished: (job, ms, request) => {
        metrics.jobsTotal.inc({ status: job.status });
        metrics.jobDuration.observe({ status: job.status }, ms / 1000);
        if (job.status === 'completed' || job.status === 'failed') {
          const event = job.status === 'completed' ? 'generationCompleted' : 'generationFailed';
          void notifier.jobEnded({
            userId: job.userId,
            projectId: job.projectId,
            jobId: job.id,
            event,
            language: request.language ?? 'ja',
            endedAt: request.endedAt,
          });
        }
      },
      onBoundaryError: () => metrics.boundaryErrors.inc({ where: 'job' }),
    },
    {
      gameCheck: config.GAME_CHECK,
      repairTurns: config.GAME_CHECK_REPAIR_TURNS,
      maxImagesPerJob: config.AGENT_IMAGES_PER_JOB,
      // The agent's image tool: the same path as POST /api/generate-image, for the job's user.
      async generateImage(userId, request) {
        const style = isImageStyle(request.style) ? request.style : undefined;
        const { asset } = await generateImageAsset({ backend, db }, db.service, userId, { ...request, style });
        return { alias: asset.alias, url: assetUrl(asset) };
      },
    },
    {
      id: instanceId,
      leaseMs: config.JOB_LEASE_MS,
      eventFlushMs: config.JOB_EVENT_FLUSH_MS ?? (config.shared ? 5 : 1000),
      coordination: db.coordination,
    },
  );
  await jobs.reapInterrupted();

  const ctx: ServerContext = {
    config,
    log,
    backend,
    db,
    verify,
    jobs,
    quota: new Quota(db.service, { projects_created: config.DAILY_PROJECT_LIMIT, messages_sent: config.DAILY_MESSAGE_LIMIT }, log),
    aiLimiter: aiLimiter(db.coordination, config.WS_AI_MESSAGES_PER_MIN),
    renders: db.coordination ? sharedRenderStates(db.coordination, instanceId, log) : memoryRenderStates(),
    presence,
    metrics,
    signer: createPreviewSigner(config.GAME_SIGNING_SECRET ?? (await secrets('game-signing-secret', () => randomBytes(32).toString('hex')))),
    connections,
    notifier,
    authUrl: authUrl || publicUrl,
    anonKey,
  };

  const app = createApp(ctx, { authRouter, routers: extraRoutes(ctx) });
  const server = http.createServer(app);
  const wss = new WebSocketServer({ server, maxPayload: config.WS_MAX_PAYLOAD_BYTES });
  wss.on('connection', (socket) => {
    try {
      new Connection(socket, ctx);
    } catch (error) {
      metrics.boundaryErrors.inc({ where: 'ws' });
      log.error({ err: error }, 'websocket connection setup failed');
      socket.terminate();
    }
  });
  // An 'error' event without a listener throws from the emitter: these belong in the log, not in the process.
  wss.on('error', (error) => log.error({ err: error }, 'websocket server error'));
  server.on('error', (error) => log.error({ err: error }, 'http server error'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  if (!config.PUBLIC_URL) ctx.authUrl = authUrl || `http://localhost:${port}`;
  log.info(
    { url: `http://localhost:${port}`, backend: backend.name, database: config.database, instance: instanceId, demoMode: config.demoMode },
    'DreamCore server ready',
  );

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    ctx,
    app,
    close() {
      closing ??= (async () => {
        for (const client of wss.clients) client.terminate();
        await jobs.cancelAll();
        await jobs.stop();
        await leaveInstances();
        await notices.stop();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await backend.close();
        await demo.close();
        mailer?.close();
        await db.close();
      })();
      return closing;
    },
  };
}
