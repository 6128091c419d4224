/**
 * Assets and image generation (docs/protocol.md, "Assets and images"). Bytes live in the user's asset space behind the execution
 * backend (`{userId, assets:true}`), named `{aliasBase}_{sha8}{ext}`; the database row gives the public address
 * `/user-assets/{ownerId}/{alias}` and the metadata.
 *
 * Beyond V2: an oversize or wrong-type upload gets a 413 / 400 JSON answer (upload.ts); `.mp3` uploads with the
 * `audio/mpeg` type browsers send are accepted and the bytes must look like the type they claim (file-types.ts); a
 * generated image is stored and listed as an asset right away. The library's management (issue 17): a picture of up
 * to 12 MB is made to fit (image-fit.ts: ≤ 2048 px, ≤ 1 MB, its own format, transparency kept); `PUT /api/assets/:id`
 * also renames (`filename`: the name shown; the alias, the address games use, never changes); search ignores case
 * and full-/half-width. Every refusal carries a stable `code` beside V2's `error` text.
 */
import { createHash } from 'node:crypto';
import express, { type Response, type Router } from 'express';
import {
  aliasBaseFromPrompt,
  isBackendError,
  isImageStyle,
  isUuid,
  KeyedMutex,
  pickAlias,
  storedAssetName,
  type AssetRef,
  type AssetScope,
  type ImageStyle,
} from '@dreamcore/runtime-core';
import type { ServerContext } from '../../context.js';
import type { AssetMetaPatch, AssetRecord } from '../../db/repository.js';
import { optionalAuth, requireAuth, route, type AuthedRequest } from '../guards.js';
import { aliasSourceName, checkAssetType, prepareAssetBytes } from '../file-types.js';
import { fitAssetImage, isRasterImage, MAX_IMAGE_UPLOAD_BYTES, type FittedImage } from '../image-fit.js';
import { formatBytes, singleUpload } from '../upload.js';

/** What a stored sound, JSON or SVG file may weigh (V2's limit); pictures are made to fit it (image-fit.ts). */
export const MAX_ASSET_BYTES = 1024 * 1024;
export const MAX_NAME_LENGTH = 200;
const MAX_TAGS_LENGTH = 1000;
const MAX_DESCRIPTION_LENGTH = 5000;

// ---------------------------------------------------------------- views

export function assetUrl(asset: Pick<AssetRecord, 'ownerId' | 'alias'>): string {
  return `/user-assets/${asset.ownerId}/${encodeURIComponent(asset.alias)}`;
}

/** AssetView (docs/protocol.md, "Shapes used below"). */
export function assetView(asset: AssetRecord) {
  return {
    id: asset.id,
    filename: asset.originalName ?? asset.filename ?? asset.alias,
    alias: asset.alias,
    mimeType: asset.mimeType,
    size: asset.size,
    isPublic: asset.isPublic,
    tags: asset.tags,
    description: asset.description,
    url: assetUrl(asset),
  };
}

/** Where the bytes are inside the owner's asset space. V2 rows kept an absolute path; its last segment is the name. */
function storedPath(asset: AssetRecord): string | null {
  const name = asset.filename ?? asset.storagePath?.split(/[\\/]/).pop() ?? null;
  return name || null;
}

function isAvailable(asset: AssetRecord, now = Date.now()): boolean {
  if (asset.availableFrom && Date.parse(asset.availableFrom) > now) return false;
  if (asset.availableUntil && Date.parse(asset.availableUntil) < now) return false;
  return true;
}

function canRead(asset: AssetRecord, userId: string | undefined): boolean {
  if (asset.isDeleted || !isAvailable(asset)) return false;
  return (userId !== undefined && asset.ownerId === userId) || asset.isPublic || asset.isGlobal;
}

/** The asset's bytes, or null when its file is gone. */
async function readAssetBytes(ctx: ServerContext, asset: AssetRecord): Promise<Uint8Array | null> {
  const path = storedPath(asset);
  if (!asset.ownerId || !path) return null;
  try {
    return await ctx.backend.files.read({ userId: asset.ownerId, assets: true }, path);
  } catch (error) {
    if (isBackendError(error, 'NOT_FOUND') || isBackendError(error, 'INVALID_PATH') || isBackendError(error, 'CONFLICT')) return null;
    throw error;
  }
}

function sendAssetBytes(res: Response, asset: AssetRecord, bytes: Uint8Array): void {
  res.setHeader('Content-Type', asset.mimeType ?? 'application/octet-stream');
  res.setHeader('Content-Length', String(bytes.byteLength));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // An asset opened directly (an SVG above all) is inert: no script, no fetches, its own opaque origin.
  res.setHeader('Content-Security-Policy', "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox");
  if (asset.isPublic || asset.isGlobal) {
    res.setHeader('Cache-Control', 'public, max-age=300');
    // Games run sandboxed (an opaque origin) and may fetch() their audio and JSON.
    res.setHeader('Access-Control-Allow-Origin', '*');
  } else {
    res.setHeader('Cache-Control', 'private, no-cache');
  }
  res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

// ---------------------------------------------------------------- naming

/** Upload and generation pick aliases one at a time per user (list, pick, write, insert). */
const naming = new KeyedMutex();

const assetScope = (userId: string): AssetScope => ({ userId, assets: true });

/** Every alias the user's new asset must avoid: the asset space's file names and every alias in the database. */
async function namesInUse(ctx: Pick<ServerContext, 'backend' | 'db'>, userId: string): Promise<string[]> {
  const [entries, aliases] = await Promise.all([
    ctx.backend.files
      .list(assetScope(userId), undefined, { recursive: false })
      .catch((error: unknown) => (isBackendError(error, 'NOT_FOUND') ? [] : Promise.reject(error))),
    ctx.db.service.aliasesOf(userId),
  ]);
  return [...entries.filter((e) => e.kind === 'file').map((e) => e.path.split('/').pop()!), ...aliases];
}

/** A refusal: V2's `error` text and a stable `code` the client words its message by. */
function refuse(res: Response, status: number, code: string, error: string) {
  return res.status(status).json({ error, code });
}

/** The name shown for an asset: one line, trimmed, 1–200 characters (no control characters). */
export function checkAssetName(value: unknown): { ok: true; value: string } | { ok: false; error: string } {
  if (typeof value !== 'string') return { ok: false, error: 'filename must be a string' };
  const name = value.trim();
  if (name === '') return { ok: false, error: 'filename must not be empty' };
  if ([...name].length > MAX_NAME_LENGTH) return { ok: false, error: `filename is too long (max ${MAX_NAME_LENGTH} characters)` };
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) return { ok: false, error: 'filename must be one line of text' };
  return { ok: true, value: name };
}

/** Text compared for search: case and full-/half-width forms (Ａ/A, ｶ/カ) do not matter. */
export const searchable = (text: string) => text.normalize('NFKC').toLowerCase();

function optionalText(value: unknown, max: number, field: string): { value: string | null } | { error: string } {
  if (value === undefined || value === null) return { value: null };
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) value = value.join(', ');
  if (typeof value !== 'string') return { error: `${field} must be a string` };
  if (value.length > max) return { error: `${field} is too long (max ${max} characters)` };
  return { value };
}

// ---------------------------------------------------------------- image generation

/** `"512x512"` → {width:512, height:512}; anything unreadable → the default size. */
export function parseImageSize(size: unknown): { width: number; height: number } | null {
  if (size === undefined || size === null || size === '') return { width: 512, height: 512 };
  const match = /^\s*(\d{1,5})\s*[x×*]\s*(\d{1,5})\s*$/i.exec(String(size));
  if (!match) return null;
  return { width: Number(match[1]), height: Number(match[2]) };
}

const AI_LIMIT_MESSAGE = 'Too many AI requests. Please wait a minute before trying again.';

// ---------------------------------------------------------------- routes

export function assetRoutes(ctx: ServerContext): Router {
  const r = express.Router();
  const auth = requireAuth(ctx);
  const optAuth = optionalAuth(ctx);

  const upload = singleUpload({
    field: 'file',
    // Pictures may come big (they are made to fit); anything else is held to MAX_ASSET_BYTES after the upload.
    maxBytes: MAX_IMAGE_UPLOAD_BYTES,
    accept: (file) => {
      const check = checkAssetType(file.originalname, file.mimetype);
      return check.ok ? null : check.error;
    },
  });

  /** own:asset — 400 Invalid asset ID / 404 Asset not found / 403 Access denied. */
  const ownAsset = route(async (req, res, next) => {
    const id = req.params.id;
    if (!isUuid(id)) return refuse(res, 400, 'INVALID_ARGUMENT', 'Invalid asset ID');
    const asset = await req.repo.getAsset(id);
    if (!asset || asset.isDeleted) return refuse(res, 404, 'NOT_FOUND', 'Asset not found');
    if (asset.ownerId !== req.identity.userId) return refuse(res, 403, 'ACCESS_DENIED', 'Access denied');
    (req as AuthedRequest & { asset: AssetRecord }).asset = asset;
    next();
  });
  const assetOf = (req: AuthedRequest) => (req as AuthedRequest & { asset: AssetRecord }).asset;

  r.post(
    '/api/assets/upload',
    auth,
    upload,
    route(async (req, res) => {
      const file = req.file;
      if (!file) return refuse(res, 400, 'INVALID_UPLOAD', 'No file uploaded');
      const userId = req.identity.userId;
      const body = (req.body ?? {}) as Record<string, unknown>;

      let projectId: string | null = null;
      if (body.projectId !== undefined && body.projectId !== '') {
        if (!isUuid(body.projectId)) return refuse(res, 400, 'INVALID_ARGUMENT', 'Invalid project ID');
        const project = await req.repo.getProject(body.projectId);
        if (!project || project.userId !== userId) return refuse(res, 403, 'ACCESS_DENIED', 'Access denied to project');
        projectId = project.id;
      }
      const tags = optionalText(body.tags, MAX_TAGS_LENGTH, 'tags');
      if ('error' in tags) return refuse(res, 400, 'INVALID_ARGUMENT', tags.error);
      const description = optionalText(body.description, MAX_DESCRIPTION_LENGTH, 'description');
      if ('error' in description) return refuse(res, 400, 'INVALID_ARGUMENT', description.error);
      const originalName = typeof body.originalName === 'string' && body.originalName.trim() !== '' ? body.originalName.trim() : file.originalname;
      if (originalName.length > MAX_NAME_LENGTH) return refuse(res, 400, 'INVALID_NAME', `File name is too long (max ${MAX_NAME_LENGTH} characters)`);

      const type = checkAssetType(file.originalname, file.mimetype);
      if (!type.ok) return refuse(res, 400, 'UNSUPPORTED_TYPE', type.error);
      const prepared = prepareAssetBytes(type.ext, new Uint8Array(file.buffer.buffer, file.buffer.byteOffset, file.buffer.byteLength));
      if (!prepared.ok) return refuse(res, 400, 'INVALID_FILE', prepared.error);
      let fitted: FittedImage | null = null;
      if (isRasterImage(type.ext)) {
        try {
          fitted = await fitAssetImage(prepared.bytes, type.ext);
        } catch (error) {
          if (isBackendError(error, 'TOO_LARGE')) return refuse(res, 413, 'TOO_LARGE', `${error.message} (max ${formatBytes(MAX_ASSET_BYTES)})`);
          if (isBackendError(error, 'INVALID_ARGUMENT')) return refuse(res, 400, 'INVALID_FILE', error.message);
          throw error;
        }
      } else if (prepared.bytes.byteLength > MAX_ASSET_BYTES) {
        return refuse(res, 413, 'TOO_LARGE', `File too large (max ${formatBytes(MAX_ASSET_BYTES)})`);
      }
      const bytes = fitted?.bytes ?? prepared.bytes;
      const sha256 = createHash('sha256').update(bytes).digest('hex');

      const asset = await naming.run(userId, async () => {
        const picked = pickAlias(aliasSourceName(originalName, type.ext), await namesInUse(ctx, userId));
        const stored = storedAssetName(picked.aliasBase, sha256, picked.ext);
        await ctx.backend.files.write(assetScope(userId), stored, bytes);
        try {
          return await req.repo.createAsset({
            ownerId: userId,
            alias: picked.alias,
            hash: sha256,
            filename: stored,
            originalName,
            storagePath: stored,
            mimeType: type.mimeType,
            size: bytes.byteLength,
            isPublic: true,
            createdInProjectId: projectId,
            tags: tags.value,
            description: description.value,
          });
        } catch (error) {
          // No row, no file: a later upload must not find this name taken by an orphan.
          await ctx.backend.files.delete(assetScope(userId), stored).catch(() => undefined);
          throw error;
        }
      });
      if (projectId) await req.repo.linkAsset(projectId, asset.id, 'image');

      res.json({
        success: true,
        asset: { id: asset.id, alias: asset.alias, filename: originalName, mimeType: asset.mimeType, size: asset.size, url: assetUrl(asset) },
        // Beyond V2: what making the picture fit did (null when it was stored as it came).
        compressed: fitted?.changed ? { fromBytes: file.size, toBytes: bytes.byteLength, width: fitted.width, height: fitted.height } : null,
      });
    }),
  );

  r.get(
    '/api/assets',
    auth,
    route(async (req, res) => {
      const assets = await req.repo.listAssets(req.identity.userId);
      const currentProjectId = typeof req.query.currentProjectId === 'string' ? req.query.currentProjectId : null;
      res.json({
        assets: assets.map((a) => ({ ...assetView(a), projects: a.projects, createdAt: a.createdAt })),
        currentProjectId,
      });
    }),
  );

  r.get(
    '/api/assets/search',
    auth,
    route(async (req, res) => {
      const q = typeof req.query.q === 'string' ? searchable(req.query.q.trim()) : '';
      const assets = await req.repo.listAssets(req.identity.userId);
      const hits = q === '' ? assets : assets.filter((a) => [a.alias, a.originalName, a.tags, a.description].some((f) => f && searchable(f).includes(q)));
      res.json({ assets: hits.map((a) => ({ ...assetView(a), isOwner: true })) });
    }),
  );

  r.get(
    '/api/assets/:id',
    optAuth,
    route(async (req, res) => {
      const id = req.params.id;
      if (!isUuid(id)) return res.status(400).json({ error: 'Invalid asset ID' });
      const asset = await ctx.db.service.getAsset(id);
      if (!asset || !canRead(asset, req.identity?.userId)) return res.status(404).json({ error: 'Asset not found' });
      const bytes = await readAssetBytes(ctx, asset);
      if (!bytes) return res.status(404).json({ error: 'Asset file not found' });
      sendAssetBytes(res, asset, bytes);
    }),
  );

  r.get(
    '/api/assets/:id/meta',
    auth,
    ownAsset,
    route(async (req, res) => {
      const asset = assetOf(req);
      res.json({ ...assetView(asset), createdAt: asset.createdAt });
    }),
  );

  r.put(
    '/api/assets/:id',
    auth,
    ownAsset,
    route(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const tags = optionalText(body.tags, MAX_TAGS_LENGTH, 'tags');
      if ('error' in tags) return refuse(res, 400, 'INVALID_ARGUMENT', tags.error);
      const description = optionalText(body.description, MAX_DESCRIPTION_LENGTH, 'description');
      if ('error' in description) return refuse(res, 400, 'INVALID_ARGUMENT', description.error);
      const patch: AssetMetaPatch = {};
      if (body.tags !== undefined) patch.tags = tags.value;
      if (body.description !== undefined) patch.description = description.value;
      // Renaming (beyond V2): the name shown changes; the alias in every game's address stays.
      if (body.filename !== undefined) {
        const name = checkAssetName(body.filename);
        if (!name.ok) return refuse(res, 400, 'INVALID_NAME', name.error);
        patch.originalName = name.value;
      }
      const updated = await req.repo.updateAsset(assetOf(req).id, patch);
      if (!updated) return refuse(res, 404, 'NOT_FOUND', 'Asset not found');
      res.json({ success: true, asset: { id: updated.id, tags: updated.tags, description: updated.description, filename: assetView(updated).filename } });
    }),
  );

  r.put(
    '/api/assets/:id/publish',
    auth,
    ownAsset,
    route(async (req, res) => {
      const isPublic = (req.body as Record<string, unknown> | undefined)?.isPublic;
      if (typeof isPublic !== 'boolean') return refuse(res, 400, 'INVALID_ARGUMENT', 'isPublic must be a boolean');
      const updated = await req.repo.setAssetPublic(assetOf(req).id, isPublic);
      if (!updated) return refuse(res, 404, 'NOT_FOUND', 'Asset not found');
      res.json({ success: true, asset: { id: updated.id, isPublic: updated.isPublic } });
    }),
  );

  r.delete(
    '/api/assets/:id',
    auth,
    ownAsset,
    route(async (req, res) => {
      const asset = assetOf(req);
      try {
        const used = (await req.repo.listAssets(req.identity.userId)).find((a) => a.id === asset.id)?.projects.length ?? 0;
        // Soft delete is a service-role write (V2); ownership was checked above.
        if (!(await ctx.db.service.softDeleteAsset(asset.id))) return refuse(res, 404, 'NOT_FOUND', 'Asset not found or already deleted');
        res.json({
          success: true,
          message: used > 0 ? `Asset deleted. It was used in ${used} project(s) - they will now see a placeholder.` : 'Asset deleted.',
        });
      } catch (error) {
        ctx.log.error({ err: error, assetId: asset.id }, 'asset delete failed');
        res.status(500).json({ error: 'Failed to delete asset' });
      }
    }),
  );

  // Public address of an asset; plain-text 404 for every refusal so nothing is learned about private assets.
  r.get(
    '/user-assets/:userId/:alias',
    optAuth,
    route(async (req, res) => {
      const notFound = () => res.status(404).type('text/plain').send('Not found');
      const { userId, alias } = req.params as { userId: string; alias: string };
      if (!isUuid(userId)) return notFound();
      const asset = await ctx.db.service.assetByAlias(userId, alias);
      if (!asset || !canRead(asset, req.identity?.userId)) return notFound();
      const bytes = await readAssetBytes(ctx, asset);
      if (!bytes) return notFound();
      sendAssetBytes(res, asset, bytes);
    }),
  );

  // ---------------------------------------------------------------- image generation
  r.post(
    '/api/generate-image',
    auth,
    route(async (req, res) => {
      const userId = req.identity.userId;
      const body = (req.body ?? {}) as Record<string, unknown>;
      const prompt = typeof body.prompt === 'string' ? body.prompt.trim() : '';
      if (!prompt) return res.status(400).json({ error: 'prompt is required', success: false });
      const size = parseImageSize(body.size);
      if (!size) return res.status(400).json({ error: 'size must look like "512x512"', success: false });
      if (!(await ctx.aiLimiter.take(userId))) return res.status(429).json({ error: AI_LIMIT_MESSAGE, success: false });
      // V2 ignored an unknown style (no hint appended); so does this.
      const style = isImageStyle(body.style) ? body.style : undefined;

      try {
        const { asset, bytes, ref } = await generateImageAsset(ctx, req.repo, userId, { prompt, style, width: size.width, height: size.height });
        res.json({
          success: true,
          image: `data:${ref.mimeType};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`,
          prompt,
          asset: { id: asset.id, alias: asset.alias, url: assetUrl(asset) },
        });
      } catch (error) {
        const mapped = imageErrorResponse(error);
        if (mapped.status >= 500) ctx.log.error({ err: error, userId }, 'image generation failed');
        res.status(mapped.status).json({ error: mapped.error, success: false });
      }
    }),
  );

  return r;
}

/**
 * Generates an image on the backend into the user's asset space and lists it as their asset (a row with the public
 * address): the REST route and the agent's image tool both come here.
 */
export async function generateImageAsset(
  ctx: Pick<ServerContext, 'backend' | 'db'>,
  repo: Pick<ServerContext['db']['service'], 'createAsset'>,
  userId: string,
  request: { prompt: string; style?: ImageStyle; width?: number; height?: number; signal?: AbortSignal },
): Promise<{ asset: AssetRecord; bytes: Uint8Array; ref: AssetRef }> {
  const { prompt } = request;
  // Pick the alias over the files AND the database (the backend only sees files), then let the backend take it.
  const wanted = pickAlias(`${aliasBaseFromPrompt(prompt)}.png`, await namesInUse(ctx, userId));
  const ref = await ctx.backend.generateImage({ scope: { userId }, ...request, name: wanted.aliasBase });
  const bytes = await ctx.backend.files.read(assetScope(userId), ref.path);
  const asset = await naming.run(userId, async () => {
    let alias = ref.alias;
    // Someone took the alias in the database meanwhile: the row gets the next free one (the file keeps its name).
    const taken = new Set((await ctx.db.service.aliasesOf(userId)).map((a) => a.toLowerCase()));
    if (taken.has(alias.toLowerCase())) alias = pickAlias(ref.alias, taken).alias;
    return repo.createAsset({
      ownerId: userId,
      alias,
      hash: ref.sha256,
      filename: ref.path,
      originalName: ref.alias,
      storagePath: ref.path,
      mimeType: ref.mimeType,
      size: ref.size,
      isPublic: true,
      description: prompt.slice(0, MAX_DESCRIPTION_LENGTH),
    });
  });
  return { asset, bytes, ref };
}

/** How a failed generateImage answers (docs/protocol.md, "Assets and images", plus the backend's typed errors). */
export function imageErrorResponse(error: unknown): { status: number; error: string } {
  if (isBackendError(error)) {
    switch (error.code) {
      case 'NOT_CONFIGURED':
      case 'UNSUPPORTED':
        return { status: 503, error: 'Image generation service not available' };
      case 'SAFETY_BLOCKED':
        return { status: 422, error: error.message || 'The image was blocked by the safety filter' };
      case 'RATE_LIMIT':
        return { status: 429, error: 'Image generation is busy. Please wait a minute before trying again.' };
      case 'INVALID_ARGUMENT':
        return { status: 400, error: error.message };
      default:
        return { status: 500, error: error.message || 'Image generation failed' };
    }
  }
  return { status: 500, error: 'Image generation failed' };
}
