/**
 * The HTTP side: security headers, body limits, per-IP rate limits, the embedded auth endpoints, the REST
 * contract, the browser app, health and metrics. Routes only translate HTTP to jobs and backend calls.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Express, type Router } from 'express';
import { isBackendError } from '@dreamcore/runtime-core';
import type { ServerContext } from '../context.js';
import { RateLimiter } from '../rate-limit.js';
import { projectRoutes } from './routes/projects.js';
import { sendErrorPage, wantsPage } from './error-pages.js';
import { NUL_MESSAGE } from './guards.js';

const publicDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../public');
const startedAt = Date.now();

// Paths the general limiter leaves alone (as V2 did): public game reads, config, thumbnails.
const RATE_EXEMPT = [
  /^\/api\/projects\/[^/]+\/movie-status$/,
  /^\/api\/published-games\//,
  /^\/api\/config$/,
  /^\/api\/projects\/[^/]+\/thumbnail$/,
  /^\/api\/health$/,
];

export interface AppExtras {
  /** Mounted at /auth/v1 (embedded auth only). */
  authRouter?: Router;
  /** Further route groups (assets, publish, ...). */
  routers?: Router[];
}

export function createApp(ctx: ServerContext, extras: AppExtras = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.use((req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'strict-origin-when-cross-origin');
    // Game pages must be embeddable by the editor; everything else must not be framed.
    if (!req.path.startsWith('/game/') && !req.path.startsWith('/g/')) res.setHeader('X-Frame-Options', 'DENY');
    res.on('finish', () => ctx.metrics.httpRequests.inc({ method: req.method, status: String(res.statusCode) }));
    next();
  });

  const limiter = new RateLimiter(ctx.config.RATE_LIMIT_PER_MIN, 60_000);
  app.use('/api', (req, res, next) => {
    const full = `/api${req.path}`;
    if (RATE_EXEMPT.some((re) => re.test(full))) return next();
    const key = req.ip ?? 'unknown';
    if (!limiter.take(key)) {
      res.setHeader('Retry-After', String(limiter.retryAfter(key)));
      return res.status(429).json({ error: 'Too many requests, please try again later.' });
    }
    next();
  });

  // NUL in the path or query, or in a JSON body (where it can only arrive as the escape \u0000): a clear 400 here
  // rather than a database error later (NUL_MESSAGE, guards.ts).
  app.use((req, res, next) => {
    if (/%00/.test(req.url)) return res.status(400).json({ error: NUL_MESSAGE });
    next();
  });
  app.use(
    express.json({
      limit: ctx.config.JSON_BODY_LIMIT,
      verify: (_req, _res, body) => {
        if (body.includes('\\u0000')) throw Object.assign(new Error(NUL_MESSAGE), { type: 'entity.nul' });
      },
    }),
  );

  app.get('/api/health', (_req, res) => {
    res.json({
      status: 'ok',
      commit: process.env.GIT_COMMIT ?? 'unknown',
      timestamp: new Date().toISOString(),
      uptime: (Date.now() - startedAt) / 1000,
      backend: ctx.backend.name,
      demoMode: ctx.config.demoMode,
    });
  });
  app.get('/api/config', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=3600').json({
      supabaseUrl: ctx.authUrl,
      supabaseAnonKey: ctx.anonKey,
      playDomain: ctx.config.PLAY_DOMAIN,
      publicGameBaseUrl: ctx.config.PUBLIC_URL ?? '',
      demoMode: ctx.config.demoMode,
      backend: ctx.backend.name,
      embeddedAuth: ctx.config.database === 'pglite',
      // Supabase runs its own Google sign-in (enabled in its dashboard); embedded auth when configured here.
      googleSignIn: ctx.config.database === 'supabase' || Boolean(ctx.config.GOOGLE_CLIENT_ID),
    });
  });
  app.get('/metrics', async (_req, res) => {
    ctx.metrics.sockets.set(ctx.connections.size);
    ctx.metrics.jobsRunning.set(ctx.jobs.runningCount);
    res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });

  if (extras.authRouter) app.use('/auth/v1', extras.authRouter);
  app.use(projectRoutes(ctx));
  for (const router of extras.routers ?? []) app.use(router);

  // The app routes on the client; deep links to an editor load the same page.
  app.get(/^\/project\/[^/]+\/?$/, (_req, res) => res.sendFile(path.join(publicDir, 'index.html')));
  app.use(express.static(publicDir, { index: 'index.html', extensions: ['html'] }));
  app.use('/api', (_req, res) => res.status(404).json({ error: 'Not found' }));
  // Any other address a person opens: a page that says so, in their language.
  app.use((req, res, next) => (req.method === 'GET' && wantsPage(req) ? sendErrorPage(req, res, 404, 'page-missing') : next()));

  const onError: ErrorRequestHandler = (error, req, res, _next) => {
    const status = (error as { status?: number; statusCode?: number }).status ?? (error as { statusCode?: number }).statusCode;
    if ((error as { type?: string }).type === 'entity.too.large') return res.status(413).json({ error: 'Request body too large' });
    if ((error as { type?: string }).type === 'entity.parse.failed') return res.status(400).json({ error: 'Invalid JSON body' });
    if ((error as { type?: string }).type === 'entity.nul') return res.status(400).json({ error: NUL_MESSAGE });
    if (isBackendError(error)) {
      if (error.status >= 500) ctx.log.error({ err: error, path: req.path }, 'backend error');
      return res.status(error.status === 499 ? 409 : error.status).json({ error: error.message, code: error.code });
    }
    if (status && status >= 400 && status < 500) return res.status(status).json({ error: (error as Error).message });
    ctx.metrics.boundaryErrors.inc({ where: 'http' });
    ctx.log.error({ err: error, path: req.path }, 'request failed');
    if (!res.headersSent) res.status(500).json({ error: 'Internal server error' });
  };
  app.use(onError);
  return app;
}
