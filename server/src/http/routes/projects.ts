/**
 * Projects, jobs, quota and the signed game preview (docs/protocol.md, "Quota, projects, jobs" and "The editor's preview").
 */
import { ZipFile } from 'yazl';
import express, { type Router } from 'express';
import { isBackendError, isUuid } from '@dreamcore/runtime-core';
import type { ServerContext } from '../../context.js';
import { ownProject, requireAuth, route, scopeOf, type AuthedRequest } from '../guards.js';
import { CORS_IMAGES_SHIM, SANDBOX, sendProjectFile, STORAGE_SHIM } from '../game-files.js';
import { capabilitySegment, parseCapabilitySegment } from '../signing.js';
import { sendErrorPage, wantsPage } from '../error-pages.js';
import { tokenFromHeaders } from '../../auth/verify.js';
import { jobWire, projectRowWire } from '../../wire.js';
import type { JobRecord } from '../../db/repository.js';
import { isGameContent } from '../../game-content.js';

/** Files the code view shows as text. */
const CODE_FILE = /\.(html?|css|m?js|json|md|txt|svg)$/i;

export function projectRoutes(ctx: ServerContext): Router {
  const r = express.Router();
  const auth = requireAuth(ctx);

  r.get(
    '/api/quota',
    auth,
    route(async (req, res) => res.json(await ctx.quota.status(req.identity.userId))),
  );

  r.get(
    '/api/projects',
    auth,
    route(async (req, res) => {
      if (req.query.published === 'true') {
        const games = (await req.repo.listMyGames(req.identity.userId)) as unknown as Record<string, unknown>[];
        return res.json({
          projects: games.map((g) => ({
            id: g.project_id ?? g.projectId,
            name: g.title,
            description: g.description ?? '',
            isPublic: true,
            isPublished: true,
            thumbnailUrl: g.thumbnail_url ?? g.thumbnailUrl ?? null,
            publishedGameId: g.public_id ?? g.publicId,
            createdAt: g.published_at ?? g.publishedAt,
            updatedAt: g.updated_at ?? g.updatedAt,
          })),
        });
      }
      res.json({ projects: await req.repo.listProjects(req.identity.userId) });
    }),
  );

  r.get(
    '/api/projects/:projectId',
    auth,
    ownProject(),
    route(async (req, res) => res.json(projectRowWire(req.project!))),
  );

  r.get(
    '/api/projects/:projectId/code',
    auth,
    ownProject(),
    route(async (req, res) => {
      // Beyond V2: `?path=` reads another file of the game, for the read-only code view (text only).
      const requested = typeof req.query.path === 'string' ? req.query.path : 'index.html';
      if (!isGameContent(requested) || !CODE_FILE.test(requested))
        return res.status(400).json({ error: 'Not a code file of this game', code: 'INVALID_ARGUMENT' });
      try {
        res.json({ code: await ctx.backend.files.readText(scopeOf(req), requested), path: requested });
      } catch (error) {
        if (isBackendError(error, 'NOT_FOUND')) return res.status(404).json({ error: 'Project not found' });
        throw error;
      }
    }),
  );

  // The game as a zip to keep or to host elsewhere: every game file at its current state (no history, no promo video,
  // thumbnail or publish form). V2 put only index.html and assets/ in it.
  r.get(
    '/api/projects/:projectId/download',
    auth,
    ownProject(),
    route(async (req, res) => {
      const scope = scopeOf(req);
      const entries = await ctx.backend.files.list(scope).catch((e: unknown) => (isBackendError(e, 'NOT_FOUND') ? null : Promise.reject(e)));
      const files = (entries ?? []).filter((f) => f.kind === 'file' && isGameContent(f.path));
      if (files.length === 0) return res.status(404).json({ error: 'Project not found' });
      const zip = new ZipFile();
      // Read first (one call per file), then stream: a read that fails is an error answer, not a broken download.
      for (const file of files) zip.addBuffer(Buffer.from(await ctx.backend.files.read(scope, file.path)), file.path, { mtime: new Date(file.mtime) });
      zip.end();
      const name = `${req.project!.name.replace(/[^\p{L}\p{N} _-]+/gu, '').trim() || 'game'}.zip`;
      res.setHeader('Content-Type', 'application/zip');
      res.setHeader('Content-Disposition', `attachment; filename="game.zip"; filename*=UTF-8''${encodeURIComponent(name)}`);
      zip.outputStream.pipe(res);
    }),
  );

  r.get(
    '/api/projects/:projectId/files',
    auth,
    ownProject(),
    route(async (req, res) => {
      const files = await ctx.backend.files.list(scopeOf(req)).catch((e: unknown) => (isBackendError(e, 'NOT_FOUND') ? [] : Promise.reject(e)));
      res.json({ files: files.filter((f) => f.kind === 'file' && !f.path.split('/').some((s) => s.startsWith('.'))) });
    }),
  );

  r.get(
    '/api/projects/:projectId/preview',
    auth,
    ownProject(),
    route(async (req, res) => {
      try {
        const html = await ctx.backend.files.readText(scopeOf(req), 'index.html');
        res.type('text/html').send(html);
      } catch (error) {
        if (isBackendError(error, 'NOT_FOUND')) return res.status(404).type('text/plain').send('Game file not found');
        throw error;
      }
    }),
  );

  r.get(
    '/api/projects/:projectId/versions',
    auth,
    ownProject(),
    route(async (req, res) => {
      const { listVersions } = await import('../../versions.js');
      res.json(await listVersions(ctx.backend, scopeOf(req)));
    }),
  );

  // ---------------------------------------------------------------- jobs
  const ownJob = route(async (req, res, next) => {
    const id = req.params.jobId;
    if (!isUuid(id)) return res.status(400).json({ error: 'Invalid job ID' });
    const job = await ctx.db.service.getJob(id);
    if (!job) return res.status(404).json({ error: 'Job not found' });
    if (job.userId !== req.identity.userId) return res.status(403).json({ error: 'Access denied' });
    (req as AuthedRequest & { job: JobRecord }).job = job;
    next();
  });

  r.get(
    '/api/jobs/:jobId',
    auth,
    ownJob,
    route(async (req, res) => res.json(jobWire((req as unknown as { job: JobRecord }).job))),
  );

  /** Beyond V2: the job's events after `after` (its last seen seq), for clients that were away. */
  r.get(
    '/api/jobs/:jobId/events',
    auth,
    ownJob,
    route(async (req, res) => {
      const after = Math.max(0, Number.parseInt(String(req.query.after ?? '0'), 10) || 0);
      res.json({ events: await ctx.jobs.events.replay(String(req.params.jobId), after) });
    }),
  );

  r.post(
    '/api/jobs/:jobId/cancel',
    auth,
    ownJob,
    route(async (req, res) => {
      const job = await ctx.jobs.cancel(String(req.params.jobId));
      res.json({ success: true, job: job ? jobWire(job) : null });
    }),
  );

  r.get(
    '/api/projects/:projectId/active-job',
    auth,
    ownProject(),
    route(async (req, res) => {
      const job = await req.repo.activeJobForProject(req.project!.id);
      res.json({ job: job ? jobWire(job) : null });
    }),
  );

  r.get(
    '/api/projects/:projectId/jobs',
    auth,
    ownProject(),
    route(async (req, res) => {
      const limit = Math.min(100, Math.max(1, Number.parseInt(String(req.query.limit ?? '20'), 10) || 20));
      res.json({ jobs: (await req.repo.listJobs(req.project!.id, limit)).map(jobWire) });
    }),
  );

  // ---------------------------------------------------------------- preview
  r.get(
    '/api/game-url/:projectId',
    auth,
    ownProject(),
    route(async (req, res) => {
      const { url, expiresAt } = ctx.signer.sign(req.identity.userId, req.project!.id);
      res.json({ url, expiresAt });
    }),
  );

  /**
   * The editor's preview. Agent-written code must not run on the app's origin, where it could read the user's session
   * from localStorage: HTML is served with the CSP `sandbox` (an opaque origin), as published games are on `/g/`.
   * In an opaque origin the browser sends no usable Referer, so the contract's signed URL (`?sig=&exp=`) redirects to
   * the same file under a capability prefix (`/s-{exp}-{sig}/`, valid 2 h so a game can still load files lazily);
   * every relative URL the game loads then carries the signature in its path. V2 let any request whose Referer merely
   * named the project read its non-HTML files; that is gone.
   * A browser opening an expired or broken link (a tab, a frame) gets a page in the user's language instead of V2's
   * JSON; for the project's owner the expired page gets a fresh link and goes on (public/js/preview-expired.js).
   */
  r.get(
    /^\/game\/([^/]+)\/([^/]+)(?:\/(.*))?$/,
    route(async (req, res) => {
      const userId = req.params[0]!;
      const projectId = req.params[1]!;
      let file = req.params[2] || 'index.html';
      const refuse = (status: number, error: string, page: 'preview-expired' | 'preview-invalid') =>
        wantsPage(req) ? sendErrorPage(req, res, status, page) : res.status(status).json({ error });
      if (!isUuid(userId) || !isUuid(projectId)) return refuse(400, 'Invalid ID format', 'preview-invalid');
      const [first, ...rest] = file.split('/');
      const capability = parseCapabilitySegment(first!);
      if (capability) file = rest.join('/') || 'index.html';
      if (file.includes('..') || file.startsWith('/')) return res.status(400).json({ error: 'Invalid file path' });
      const isHtml = /\.html?$/i.test(file);
      if (capability) {
        const verdict = ctx.signer.verify(userId, projectId, capability.sig, capability.exp);
        if (verdict === 'expired') return refuse(401, 'URL expired', 'preview-expired');
        if (verdict === 'invalid') return refuse(401, 'Invalid signature', 'preview-invalid');
      } else if (req.query.sig !== undefined || req.query.exp !== undefined) {
        const verdict = ctx.signer.verify(userId, projectId, req.query.sig, req.query.exp);
        if (verdict === 'expired') return refuse(401, 'URL expired', 'preview-expired');
        if (verdict === 'invalid') return refuse(401, 'Invalid signature', 'preview-invalid');
        const { exp, sig } = ctx.signer.sign(userId, projectId, PREVIEW_CAPABILITY_SECONDS);
        const path = file.split('/').map(encodeURIComponent).join('/');
        res.setHeader('Cache-Control', 'no-store');
        return res.redirect(302, `/game/${userId}/${projectId}/${capabilitySegment(exp, sig)}/${path}`);
      } else if (tokenFromHeaders(req.headers)) {
        const identity = await ctx.verify(tokenFromHeaders(req.headers)).catch(() => null);
        if (!identity) return res.status(401).json({ error: 'Invalid or expired token' });
        if (identity.userId !== userId) return res.status(403).json({ error: 'Access denied' });
      } else {
        return refuse(401, 'Authentication required', 'preview-invalid');
      }
      res.removeHeader('X-Frame-Options');
      // Opaque-origin documents fetch modules, JSON and audio with CORS; the capability in the path is the access check.
      res.setHeader('Access-Control-Allow-Origin', '*');
      if (isHtml) res.setHeader('Content-Security-Policy', `frame-ancestors 'self'; ${SANDBOX}`);
      await sendProjectFile(res, ctx.backend, { userId, projectId }, file, {
        assetBase: assetBase(ctx, req),
        inject: file === 'index.html',
        extraHead: STORAGE_SHIM + CORS_IMAGES_SHIM,
      });
    }),
  );

  return r;
}

/** How long a preview's capability prefix stays valid: a game may load files long after its page. */
const PREVIEW_CAPABILITY_SECONDS = 2 * 60 * 60;

export function assetBase(ctx: ServerContext, req: express.Request): string {
  return ctx.config.ASSET_BASE_URL ?? `${req.protocol}://${req.get('host')}`;
}
