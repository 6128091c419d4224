/**
 * Publish draft, thumbnail, demo movie and published games (docs/protocol.md, "Publishing").
 *
 * Beyond V2: the draft's `PUBLISH.json` commit is awaited (V2 fired and forgot it); thumbnail uploads that are too
 * large or not an image get a 413 / 400 JSON answer; a movie render reports its progress
 * (`GET …/movie-status`) and the POST answers 202 at once unless `?wait=true`; the movie supports Range requests.
 *
 * Published = a snapshot: publishing records the project's current version (its newest commit), and players get
 * that version until the owner publishes again. `GET …/published` says which game files changed since
 * (`changedFiles`, `upToDate`), so the editor can show "changes not yet public". Unpublishing hides the game and keeps
 * its row: publishing again brings back the same address and counts (V2 deleted the row, so the shared link died).
 */
import { randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import sharp from 'sharp';
import QRCode from 'qrcode';
import {
  isBackendError,
  isPublishInfoLanguage,
  parsePublishInfo,
  publishInfoPrompt,
  splitExtension,
  UUID_PATTERN,
  type ProjectScope,
  type PublishInfoLanguage,
} from '@dreamcore/runtime-core';
import type { ServerContext } from '../../context.js';
import { isLanguage, requestLanguageOf } from '../../language.js';
import {
  GAME_PUBLIC_ID_PATTERN,
  type DraftInput,
  type PublishDraft,
  type PublishedGameRecord,
  type PublishFields,
  type RemixSetting,
  type Visibility,
} from '../../db/repository.js';
import { ownProject, requireAuth, route, scopeOf } from '../guards.js';
import { headCommit, snapshotStatus } from '../../game-content.js';
import type { RenderRecord } from '../../renders.js';
import type { PublicGames } from '../public-games.js';
import { singleUpload } from '../upload.js';

export const MAX_THUMBNAIL_BYTES = 5 * 1024 * 1024;
const THUMBNAIL_TYPES = new Set(['.jpg', '.jpeg', '.png', '.webp']);
const THUMBNAIL_SUBTYPES = new Set(['jpeg', 'jpg', 'pjpeg', 'png', 'webp']);
const VISIBILITIES: readonly Visibility[] = ['public', 'unlisted', 'private'];
const REMIX_SETTINGS: readonly RemixSetting[] = ['allowed', 'disallow'];
const AI_LIMIT_MESSAGE = 'Too many AI requests. Please wait a minute before trying again.';
/** A publish-info run reads two files and answers: a minute and a half is generous even on a slow sandbox start. */
const PUBLISH_INFO_TIMEOUT_MS = 90_000;

/** The reader's language (the app's switch, else the browser's; English when neither is one the app speaks). */
function requestLanguage(req: Request): PublishInfoLanguage {
  return requestLanguageOf({ cookie: req.get('cookie'), acceptLanguage: req.get('accept-language') });
}

export const PUBLISH_LIMITS = { title: 200, description: 5000, howToPlay: 5000, tags: 20, tag: 50, url: 2048 } as const;

// ---------------------------------------------------------------- validation (pure)

type Result<T> = { ok: true; value: T } | { ok: false; error: string };

function text(value: unknown, max: number, label: string): Result<string | null> {
  if (value === undefined || value === null) return { ok: true, value: null };
  if (typeof value !== 'string') return { ok: false, error: `${label} must be a string` };
  if (value.length > max) return { ok: false, error: `${label} is too long (max ${max} characters)` };
  return { ok: true, value };
}

function tagList(value: unknown): Result<string[]> {
  if (value === undefined || value === null) return { ok: true, value: [] };
  if (!Array.isArray(value) || !value.every((t) => typeof t === 'string')) return { ok: false, error: 'Tags must be an array of strings' };
  const tags = [...new Set((value as string[]).map((t) => t.trim()).filter((t) => t !== ''))];
  if (tags.length > PUBLISH_LIMITS.tags) return { ok: false, error: `Too many tags (max ${PUBLISH_LIMITS.tags})` };
  if (tags.some((t) => t.length > PUBLISH_LIMITS.tag)) return { ok: false, error: `Tags must be at most ${PUBLISH_LIMITS.tag} characters` };
  return { ok: true, value: tags };
}

/** A thumbnail URL the pages may put in `<img src>`: a same-site path or an http(s) URL. */
function thumbnailUrl(value: unknown): Result<string | null> {
  if (value === undefined || value === null || value === '') return { ok: true, value: null };
  if (typeof value !== 'string' || value.length > PUBLISH_LIMITS.url) return { ok: false, error: 'Invalid thumbnail URL' };
  const url = value.trim();
  if (url.startsWith('/') && !url.startsWith('//') && !url.includes('\\')) return { ok: true, value: url };
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'https:' || parsed.protocol === 'http:') return { ok: true, value: parsed.toString() };
  } catch {
    /* below */
  }
  return { ok: false, error: 'Invalid thumbnail URL' };
}

/** `POST /api/projects/:id/publish` body → the fields to store, or V2's 400 message. */
export function validatePublish(body: unknown): Result<PublishFields> {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const title = typeof b.title === 'string' ? b.title.trim() : '';
  if (!title) return { ok: false, error: 'Title is required' };
  if (title.length > PUBLISH_LIMITS.title) return { ok: false, error: `Title is too long (max ${PUBLISH_LIMITS.title} characters)` };
  const visibility = b.visibility ?? 'public';
  if (!VISIBILITIES.includes(visibility as Visibility)) return { ok: false, error: 'Invalid visibility option' };
  const tags = tagList(b.tags);
  if (!tags.ok) return tags;
  const description = text(b.description, PUBLISH_LIMITS.description, 'Description');
  if (!description.ok) return description;
  const howToPlay = text(b.howToPlay, PUBLISH_LIMITS.howToPlay, 'How to play');
  if (!howToPlay.ok) return howToPlay;
  const thumbnail = thumbnailUrl(b.thumbnailUrl);
  if (!thumbnail.ok) return thumbnail;
  return {
    ok: true,
    value: {
      title,
      description: description.value,
      howToPlay: howToPlay.value,
      tags: tags.value,
      visibility: visibility as Visibility,
      allowRemix: b.allowRemix !== false,
      thumbnailUrl: thumbnail.value,
    },
  };
}

/** `PUT …/publish-draft` body → the draft (saved whole; absent fields take the defaults). */
export function validateDraft(body: unknown): Result<Required<DraftInput>> {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const title = text(b.title, PUBLISH_LIMITS.title, 'Title');
  if (!title.ok) return title;
  const description = text(b.description, PUBLISH_LIMITS.description, 'Description');
  if (!description.ok) return description;
  const howToPlay = text(b.howToPlay, PUBLISH_LIMITS.howToPlay, 'How to play');
  if (!howToPlay.ok) return howToPlay;
  const tags = tagList(b.tags);
  if (!tags.ok) return tags;
  const visibility = b.visibility === undefined || b.visibility === null || b.visibility === '' ? 'public' : b.visibility;
  if (!VISIBILITIES.includes(visibility as Visibility)) return { ok: false, error: 'Invalid visibility option' };
  const remix = b.remix === undefined || b.remix === null || b.remix === '' ? 'allowed' : b.remix;
  if (!REMIX_SETTINGS.includes(remix as RemixSetting)) return { ok: false, error: 'Invalid remix option' };
  const thumbnail = thumbnailUrl(b.thumbnailUrl);
  if (!thumbnail.ok) return thumbnail;
  return {
    ok: true,
    value: {
      title: title.value,
      description: description.value,
      howToPlay: howToPlay.value,
      tags: tags.value,
      visibility: visibility as Visibility,
      remix: remix as RemixSetting,
      thumbnailUrl: thumbnail.value,
    },
  };
}

export function isGameId(id: unknown): id is string {
  return typeof id === 'string' && (UUID_PATTERN.test(id) || GAME_PUBLIC_ID_PATTERN.test(id));
}

// ---------------------------------------------------------------- Range (pure)

export type RangeResult = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * A `Range` header against a representation of `size` bytes (RFC 9110 §14). One range is served; several, another
 * unit or a malformed header mean the whole body (which the RFC allows); a range starting past the end is 416.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'full' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (!Number.isSafeInteger(suffix)) return { kind: 'full' };
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'full' };
  if (last !== '' && end < start) return { kind: 'full' }; // invalid: ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

/** Sends `bytes` honouring a Range request (206 / 416 / 200). */
export function sendWithRanges(req: Request, res: Response, bytes: Uint8Array, type: string): void {
  const size = bytes.byteLength;
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', type);
  // No validators are sent, so a conditional range (If-Range) can never match: the whole body, as the RFC says.
  const range = req.headers['if-range'] ? ({ kind: 'full' } as const) : parseRange(req.headers.range, size);
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (range.kind === 'unsatisfiable') {
    res.status(416).setHeader('Content-Range', `bytes */${size}`);
    res.end();
    return;
  }
  if (range.kind === 'partial') {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
    res.end(body.subarray(range.start, range.end + 1));
    return;
  }
  res.setHeader('Content-Length', String(size));
  res.end(body);
}

// ---------------------------------------------------------------- views

/** PublishedGame as the API shows it (snake_case, with `projects` / `users` when joined). */
export function publishedGameView(game: PublishedGameRecord) {
  return {
    id: game.id,
    public_id: game.publicId,
    project_id: game.projectId,
    user_id: game.userId,
    title: game.title,
    description: game.description,
    how_to_play: game.howToPlay,
    tags: game.tags,
    thumbnail_url: game.thumbnailUrl,
    visibility: game.visibility,
    allow_remix: game.allowRemix,
    play_count: game.playCount,
    like_count: game.likeCount,
    published_at: game.publishedAt,
    updated_at: game.updatedAt,
    commit_hash: game.commitHash,
    unpublished_at: game.unpublishedAt,
    ...(game.project !== undefined ? { projects: game.project } : {}),
    ...(game.author !== undefined ? { users: game.author && { display_name: game.author.displayName, avatar_url: game.author.avatarUrl } } : {}),
  };
}

/** The draft row with V2's camelCase aliases. */
export function draftView(draft: PublishDraft) {
  return {
    project_id: draft.projectId,
    title: draft.title,
    description: draft.description,
    how_to_play: draft.howToPlay,
    tags: draft.tags,
    visibility: draft.visibility,
    remix: draft.remix,
    thumbnail_url: draft.thumbnailUrl,
    updated_at: draft.updatedAt,
    howToPlay: draft.howToPlay,
    thumbnailUrl: draft.thumbnailUrl,
  };
}

// ---------------------------------------------------------------- movie renders

export interface MovieStatus {
  status: 'idle' | 'rendering' | 'done' | 'failed';
  percent: number;
  stage: string;
  error?: string;
  code?: string;
  movieUrl?: string;
  duration?: number;
  startedAt?: string;
  finishedAt?: string;
}

/** How often a `?wait=true` POST looks at a render another instance runs. */
const WAIT_POLL_MS = 500;

function movieErrorResponse(error: unknown): { status: number; error: string; code?: string } {
  if (isBackendError(error)) {
    switch (error.code) {
      case 'UNSUPPORTED':
      case 'NOT_CONFIGURED':
        return { status: 503, error: 'Movie generation service is not yet available', code: error.code };
      case 'NOT_FOUND':
        return { status: 404, error: 'Game code not found', code: error.code };
      case 'CANCELLED':
        return { status: 409, error: 'Movie generation was cancelled', code: error.code };
      default:
        return { status: 500, error: `Failed to generate movie: ${error.message}`, code: error.code };
    }
  }
  return { status: 500, error: 'Failed to generate movie' };
}

const movieUrl = (projectId: string) => `/api/projects/${projectId}/movie?t=${Date.now()}`;

// ---------------------------------------------------------------- routes

async function firstExisting(ctx: ServerContext, scope: ProjectScope, paths: string[]): Promise<{ path: string; bytes: Uint8Array } | null> {
  for (const path of paths) {
    try {
      return { path, bytes: await ctx.backend.files.read(scope, path) };
    } catch (error) {
      if (!isBackendError(error, 'NOT_FOUND') && !isBackendError(error, 'CONFLICT')) throw error;
    }
  }
  return null;
}

export function publishRoutes(ctx: ServerContext, games: PublicGames): Router {
  const r = express.Router();
  const auth = requireAuth(ctx);
  const own = ownProject();
  const renders = ctx.renders;
  /** Renders running in this process: each settles (never rejects) when the render and its commit are over. */
  const running = new Map<string, Promise<void>>();

  // ---------------------------------------------------------------- draft
  r.get(
    '/api/projects/:projectId/publish-draft',
    auth,
    own,
    route(async (req, res) => {
      const draft = await req.repo.getDraft(req.project!.id);
      res.json(draft ? draftView(draft) : null);
    }),
  );

  r.put(
    '/api/projects/:projectId/publish-draft',
    auth,
    own,
    route(async (req, res) => {
      const checked = validateDraft(req.body);
      if (!checked.ok) return res.status(400).json({ error: checked.error });
      const draft = checked.value;
      const scope = scopeOf(req);
      try {
        const saved = await req.repo.upsertDraft(scope.projectId, draft);
        const file = {
          title: draft.title ?? '',
          description: draft.description ?? '',
          howToPlay: draft.howToPlay ?? '',
          tags: draft.tags,
          visibility: draft.visibility,
          remix: draft.remix,
          thumbnailUrl: draft.thumbnailUrl,
          updatedAt: saved.updatedAt,
        };
        await ctx.backend.files.write(scope, 'PUBLISH.json', `${JSON.stringify(file, null, 2)}\n`);
        await ctx.backend.git.commit(scope, 'Update publish info');
        res.json({ success: true });
      } catch (error) {
        ctx.log.error({ err: error, projectId: scope.projectId }, 'saving the publish draft failed');
        res.status(isBackendError(error) && error.status < 500 ? error.status : 500).json({ error: 'Failed to save publish info' });
      }
    }),
  );

  // ---------------------------------------------------------------- thumbnail
  const thumbnailUpload = singleUpload({
    field: 'thumbnail',
    maxBytes: MAX_THUMBNAIL_BYTES,
    accept: (file) => {
      const { ext } = splitExtension(file.originalname);
      const subtype = file.mimetype.split(';')[0]!.trim().toLowerCase().split('/')[1] ?? '';
      return THUMBNAIL_TYPES.has(ext) && THUMBNAIL_SUBTYPES.has(subtype) ? null : 'Invalid file type. Allowed: jpeg, jpg, png, webp';
    },
  });

  r.post(
    '/api/projects/:projectId/upload-thumbnail',
    auth,
    own,
    thumbnailUpload,
    route(async (req, res) => {
      if (!req.file) return res.status(400).json({ error: 'No file uploaded' });
      let webp: Buffer;
      try {
        webp = await sharp(req.file.buffer, { limitInputPixels: 64_000_000 })
          .rotate()
          .resize({ width: 1080, height: 1920, fit: 'inside', withoutEnlargement: true })
          .webp({ quality: 85 })
          .toBuffer();
      } catch {
        return res.status(400).json({ error: 'Invalid image file' });
      }
      res.json({ success: true, thumbnailUrl: await saveThumbnail(scopeOf(req), webp, 'Update thumbnail') });
    }),
  );

  /** Writes the project's thumbnail (WebP) in place of any earlier one and commits it (not a game version). */
  const saveThumbnail = async (scope: ProjectScope, webp: Uint8Array, message: string) => {
    await ctx.backend.files.write(scope, 'thumbnail.webp', webp);
    await ctx.backend.files.delete(scope, 'thumbnail.png').catch((error: unknown) => (isBackendError(error, 'NOT_FOUND') ? undefined : Promise.reject(error)));
    await ctx.backend.git.commit(scope, message);
    return `/api/projects/${scope.projectId}/thumbnail?t=${Date.now()}`;
  };

  /**
   * The preamble every AI job on a project's game shares (picture, publish info, movie): the game must exist, then one
   * of the user’s AI requests is spent (not before, so asking about an empty project costs nothing; the scope is the
   * signed-in owner’s, `own` has checked). Sends the refusal and answers false, or answers true.
   */
  const readyForAiWork = async (res: Response, scope: ProjectScope, extra: { success?: false } = {}) => {
    if (!(await ctx.backend.files.exists(scope, 'index.html'))) {
      res.status(404).json({ ...extra, error: 'Game code not found' });
      return false;
    }
    if (!(await ctx.aiLimiter.take(scope.userId))) {
      res.status(429).json({ ...extra, error: AI_LIMIT_MESSAGE });
      return false;
    }
    return true;
  };

  // ---------------------------------------------------------------- publishing help (AI)
  // A picture of the running game: the game check (a headless chromium where the backend runs games: a render sandbox
  // on Modal) loads it, plays a few keys and returns the frame; it becomes thumbnail.webp.
  r.post(
    '/api/projects/:projectId/generate-thumbnail',
    auth,
    own,
    route(async (req, res) => {
      const scope = scopeOf(req);
      if (!ctx.backend.capabilities.checkGame.supported) return res.status(503).json({ error: 'Thumbnail service is not available' });
      if (!(await readyForAiWork(res, scope))) return;
      const check = await ctx.backend.checkGame({ scope, picture: true });
      if (!check.picture || !check.checks.draws)
        return res.status(422).json({ error: 'The game shows nothing to take a picture of', code: 'NOTHING_DRAWN', errors: check.errors });
      const webp = await sharp(check.picture).resize({ width: 1080, height: 1920, fit: 'inside', withoutEnlargement: true }).webp({ quality: 85 }).toBuffer();
      res.json({ success: true, thumbnailUrl: await saveThumbnail(scope, webp, 'Thumbnail from the running game') });
    }),
  );

  // Title, description, how to play and tags written by the model from the game's files, in the user's language.
  r.post(
    '/api/projects/:projectId/generate-publish-info',
    auth,
    own,
    route(async (req, res) => {
      const scope = scopeOf(req);
      const body = (req.body ?? {}) as { language?: unknown };
      if (body.language !== undefined && !isPublishInfoLanguage(body.language)) return res.status(400).json({ error: 'Unsupported language' });
      const language = isPublishInfoLanguage(body.language) ? body.language : requestLanguage(req);
      if (!(await readyForAiWork(res, scope))) return;
      // The user may have gone to another tab while the model writes: they are told when it is done, either way.
      let written = false;
      try {
        const run = ctx.backend.runClaude({ scope, prompt: publishInfoPrompt(language), skills: [], timeoutMs: PUBLISH_INFO_TIMEOUT_MS });
        const result = await run.result;
        try {
          res.json(parsePublishInfo(result.text));
          written = true;
        } catch (error) {
          if (!isBackendError(error, 'INVALID_ARGUMENT')) throw error;
          ctx.log.warn({ err: error, projectId: scope.projectId }, 'publish info: unusable answer');
          res.status(500).json({ error: 'Failed to parse AI response', raw: result.text.slice(0, 2000) });
        }
      } finally {
        void ctx.notifier.jobEnded({
          ...scope,
          jobId: randomUUID(),
          event: written ? 'publishInfoCompleted' : 'publishInfoFailed',
          language: isLanguage(language) ? language : 'en',
        });
      }
    }),
  );

  // No auth, as V2 (the publish page and game cards load it with a plain <img>).
  r.get(
    '/api/projects/:projectId/thumbnail',
    route(async (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      const notFound = () => res.status(404).type('text/plain').send('Not found');
      const projectId = String(req.params.projectId);
      if (!UUID_PATTERN.test(projectId)) return notFound();
      try {
        const project = await ctx.db.service.getProject(projectId);
        if (!project) return notFound();
        const found = await firstExisting(ctx, { userId: project.userId, projectId: project.id }, ['thumbnail.webp', 'thumbnail.png']);
        if (!found) return notFound();
        res.setHeader('Content-Type', found.path.endsWith('.webp') ? 'image/webp' : 'image/png');
        res.setHeader('Content-Length', String(found.bytes.byteLength));
        res.end(Buffer.from(found.bytes.buffer, found.bytes.byteOffset, found.bytes.byteLength));
      } catch (error) {
        ctx.log.warn({ err: error, projectId }, 'thumbnail read failed');
        notFound();
      }
    }),
  );

  // ---------------------------------------------------------------- movie
  const respondWithRender = (res: Response, projectId: string, render: RenderRecord) => {
    if (render.status === 'done') return res.json({ success: true, movieUrl: movieUrl(projectId), duration: render.duration });
    return res.status(render.httpStatus ?? 500).json({ success: false, error: render.error, code: render.code });
  };

  /** The project's render once it has ended, here or on another instance. */
  async function ended(projectId: string, render: RenderRecord): Promise<RenderRecord> {
    const here = running.get(projectId);
    if (here) {
      await here;
      return (await renders.get(projectId)) ?? render;
    }
    let now: RenderRecord | null = render;
    while (now?.status === 'rendering') {
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      now = await renders.get(projectId);
    }
    return now ?? render;
  }

  r.post(
    '/api/projects/:projectId/generate-movie',
    auth,
    own,
    route(async (req, res) => {
      const scope = scopeOf(req);
      const wait = req.query.wait === 'true' || req.query.wait === '1';
      let render = await renders.get(scope.projectId);

      if (render?.status !== 'rendering') {
        if (!ctx.backend.capabilities.renderVideo.supported) {
          return res.status(503).json({ success: false, error: 'Movie generation service is not yet available' });
        }
        if (!(await readyForAiWork(res, scope, { success: false }))) return;
        const title = (await req.repo.getDraft(scope.projectId).catch(() => null))?.title?.trim() || undefined;
        // Taken in one step (in memory, or one statement on every instance's database): two POSTs make one render.
        const claim = await renders.claim(scope.projectId);
        render = claim.render;
        if (claim.claimed) startRender(scope, title, requestLanguage(req));
      }

      if (wait) return respondWithRender(res, scope.projectId, await ended(scope.projectId, render));
      // A render that fails at once (no browser, no game) is reported now rather than through the status route.
      const here = running.get(scope.projectId);
      if (here) {
        await Promise.race([here, new Promise((resolve) => setTimeout(resolve, 150))]);
        render = (await renders.get(scope.projectId)) ?? render;
      }
      if (render.status === 'failed' || render.status === 'done') return respondWithRender(res, scope.projectId, render);
      res.status(202).json({
        success: true,
        status: 'rendering',
        percent: render.percent,
        stage: render.stage,
        statusUrl: `/api/projects/${scope.projectId}/movie-status`,
      });
    }),
  );

  /** Renders here the render this instance has claimed, writing its progress and its end to `renders`. */
  function startRender(scope: ProjectScope, title: string | undefined, language: string): void {
    let percent = 0;
    const done = (async () => {
      let end: RenderRecord['status'] = 'failed';
      try {
        try {
          const result = await ctx.backend.renderVideo({
            scope,
            ...(title ? { title } : {}),
            onProgress: (progress) => {
              percent = Math.max(percent, Math.min(100, Math.round(progress.percent)));
              void renders.update(scope.projectId, { percent, stage: progress.stage });
            },
          });
          try {
            await ctx.backend.git.commit(scope, 'Generate demo movie');
          } catch (error) {
            ctx.log.warn({ err: error, projectId: scope.projectId }, 'committing the demo movie failed');
          }
          end = 'done';
          await renders.update(scope.projectId, {
            status: 'done',
            percent: 100,
            stage: 'done',
            duration: Math.round(result.durationMs / 100) / 10,
            finishedAt: new Date().toISOString(),
          });
        } catch (error) {
          if (end === 'done') throw error; // the render was fine; writing its end was not
          const mapped = movieErrorResponse(error);
          if (mapped.status >= 500 && mapped.status !== 503) ctx.log.error({ err: error, projectId: scope.projectId }, 'movie render failed');
          await renders.update(scope.projectId, {
            status: 'failed',
            error: mapped.error,
            httpStatus: mapped.status,
            finishedAt: new Date().toISOString(),
            ...(mapped.code ? { code: mapped.code } : {}),
          });
        }
      } catch (error) {
        ctx.log.error({ err: error, projectId: scope.projectId }, 'recording the end of a movie render failed');
      } finally {
        void ctx.notifier.jobEnded({
          ...scope,
          jobId: randomUUID(),
          event: end === 'done' ? 'movieCompleted' : 'movieFailed',
          language: isLanguage(language) ? language : 'en',
        });
      }
    })();
    running.set(scope.projectId, done);
    void done.finally(() => {
      if (running.get(scope.projectId) === done) running.delete(scope.projectId);
    });
  }

  r.get(
    '/api/projects/:projectId/movie-status',
    auth,
    own,
    route(async (req, res) => {
      const scope = scopeOf(req);
      const render = await renders.get(scope.projectId);
      res.setHeader('Cache-Control', 'no-store');
      if (render) {
        const { httpStatus: _answer, ...status } = render;
        return res.json({ ...status, ...(render.status === 'done' ? { movieUrl: movieUrl(scope.projectId) } : {}) } satisfies MovieStatus);
      }
      const hasMovie = await ctx.backend.files.exists(scope, 'movie.mp4');
      res.json({ status: 'idle', percent: 0, stage: 'idle', ...(hasMovie ? { movieUrl: movieUrl(scope.projectId) } : {}) } satisfies MovieStatus);
    }),
  );

  r.get(
    '/api/projects/:projectId/movie',
    auth,
    own,
    route(async (req, res) => {
      let bytes: Uint8Array;
      try {
        bytes = await ctx.backend.files.read(scopeOf(req), 'movie.mp4');
      } catch (error) {
        if (isBackendError(error, 'NOT_FOUND') || isBackendError(error, 'CONFLICT')) return res.status(404).type('text/plain').send('Movie not found');
        throw error;
      }
      res.setHeader('Cache-Control', 'private, no-cache');
      sendWithRanges(req, res, bytes, 'video/mp4');
    }),
  );

  // ---------------------------------------------------------------- publish
  r.post(
    '/api/projects/:projectId/publish',
    auth,
    own,
    route(async (req, res) => {
      const checked = validatePublish(req.body);
      if (!checked.ok) return res.status(400).json({ error: checked.error });
      const scope = scopeOf(req);
      const fields = checked.value;
      try {
        // The snapshot: the newest commit. A job still writing files has not committed them, so they are not in it.
        const commit = await headCommit(ctx.backend, scope);
        if (!commit) return res.status(409).json({ error: 'There is no version of this game to publish yet' });
        if (!fields.thumbnailUrl) {
          const found = await firstExisting(ctx, scope, ['thumbnail.webp', 'thumbnail.png']).catch(() => null);
          if (found) fields.thumbnailUrl = `/api/projects/${scope.projectId}/thumbnail`;
        }
        const game = await req.repo.publishGame(scope.projectId, scope.userId, { ...fields, commitHash: commit });
        games.forget(game);
        res.json({ success: true, gameId: game.publicId, game: publishedGameView(game), upToDate: true, changedFiles: [] });
      } catch (error) {
        ctx.log.error({ err: error, projectId: scope.projectId }, 'publish failed');
        res.status(500).json({ error: 'Failed to publish game' });
      }
    }),
  );

  r.get(
    '/api/projects/:projectId/published',
    auth,
    own,
    route(async (req, res) => {
      const game = await req.repo.getPublished(req.project!.id);
      // A hidden game is still shown to its owner (its address and counts come back with a publish), as not published.
      const live = game !== null && game.unpublishedAt === null;
      const status = live ? await snapshotStatus(ctx.backend, scopeOf(req), game.commitHash) : null;
      res.setHeader('Cache-Control', 'no-store');
      res.json({
        published: live,
        game: game ? publishedGameView(game) : null,
        ...(status ? { upToDate: status.changedFiles.length === 0, changedFiles: status.changedFiles } : {}),
      });
    }),
  );

  r.delete(
    '/api/projects/:projectId/publish',
    auth,
    own,
    route(async (req, res) => {
      try {
        const game = await req.repo.getPublished(req.project!.id);
        await req.repo.unpublish(req.project!.id);
        if (game) games.forget(game);
        res.json({ success: true });
      } catch (error) {
        ctx.log.error({ err: error, projectId: req.project!.id }, 'unpublish failed');
        res.status(500).json({ error: 'Failed to unpublish game' });
      }
    }),
  );

  // ---------------------------------------------------------------- public reads
  r.get(
    '/api/published-games',
    route(async (req, res) => {
      const limit = Math.min(100, Math.max(1, Number.parseInt(String(req.query.limit ?? '50'), 10) || 50));
      const offset = Math.min(1_000_000, Math.max(0, Number.parseInt(String(req.query.offset ?? '0'), 10) || 0));
      const games = await ctx.db.service.listPublicGames(limit, offset);
      res.json({ games: games.map(publishedGameView) });
    }),
  );

  r.get(
    '/api/published-games/:id',
    route(async (req, res) => {
      if (!isGameId(req.params.id)) return res.status(400).json({ error: 'Invalid game ID' });
      const game = await ctx.db.service.getPublicGame(req.params.id);
      if (!game) return res.status(404).json({ error: 'Game not found' });
      res.json({ ...publishedGameView(game), play_domain: ctx.config.PLAY_DOMAIN });
    }),
  );

  // The share sheet's QR code: the game's play page (on PUBLIC_URL, else the address the request came to), as SVG.
  r.get(
    '/api/published-games/:id/qr',
    route(async (req, res) => {
      if (!isGameId(req.params.id)) return res.status(400).json({ error: 'Invalid game ID' });
      const game = await ctx.db.service.getPublicGame(req.params.id);
      if (!game) return res.status(404).json({ error: 'Game not found' });
      const origin = ctx.config.PUBLIC_URL?.replace(/\/$/, '') ?? `${req.protocol}://${req.get('host')}`;
      const svg = await QRCode.toString(`${origin}/play/${encodeURIComponent(game.publicId)}`, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      res.set('Cache-Control', 'public, max-age=3600').type('image/svg+xml').send(svg);
    }),
  );

  r.post(
    '/api/published-games/:id/play',
    route(async (req, res) => {
      if (!isGameId(req.params.id)) return res.status(400).json({ error: 'Invalid game ID' });
      const game = await ctx.db.service.getPublicGame(req.params.id);
      if (!game) return res.status(404).json({ error: 'Game not found' });
      if (!(await ctx.db.service.incrementPlayCount(game.id))) return res.status(404).json({ error: 'Game not found' });
      res.json({ success: true });
    }),
  );

  r.get(
    '/api/my-published-games',
    auth,
    route(async (req, res) => {
      const games = await req.repo.listMyGames(req.identity.userId);
      res.json({ games: games.map(publishedGameView) });
    }),
  );

  return r;
}
