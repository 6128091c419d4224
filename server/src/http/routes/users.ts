/**
 * Accounts and profiles (contract/API.md §3): the signed-in user's own account (`GET`/`PATCH /api/users/me`; the
 * display name, the name shown on their public games) and what anyone sees of a user: `GET /api/users/:id/public`
 * (UUID or `u_…`), `GET /api/users/username/:username/public` and `GET /api/users/:id/games` (public games only).
 *
 * Profile editing (issue 17): the username through `PATCH /api/users/me` (V2's rule: lower-cased,
 * `^[a-z0-9_]{3,20}$`, not reserved, unique; `null`/`""` clears it) and `GET /api/users/username-available?u=`; the
 * avatar through `POST /api/users/me/avatar` (multipart `avatar`, ≤ 2 MB, V2's limit) — made a 256 px square WebP and
 * kept in the user's asset space under `avatars/`, served at `/user-avatars/{userId}/{hash}.webp` (the name changes
 * with the picture, so it is cached for good) — and `DELETE /api/users/me/avatar`. The username and the avatar are
 * written with the service role after these checks (migration 008: a user cannot write those columns directly).
 * Bio and links still cannot be changed here; a PATCH naming one of them is refused rather than silently dropped.
 * Every refusal carries a stable `code` beside V2's `error` text.
 */
import { createHash } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import type { ServerContext } from '../../context.js';
import { isBackendError, UUID_PATTERN, type AssetScope } from '@dreamcore/runtime-core';
import { USER_PUBLIC_ID_PATTERN, USERNAME_PATTERN, type PublicProfile, type UserPatch, type UserRecord } from '../../db/repository.js';
import { publishedGameView } from './publish.js';
import { optionalAuth, requireAuth, route } from '../guards.js';
import { avatarWebp, MAX_AVATAR_UPLOAD_BYTES } from '../image-fit.js';
import { allowedSubtype } from '../file-types.js';
import { singleUpload } from '../upload.js';

export const DISPLAY_NAME_MAX = 50;
const NOT_YET = ['bio', 'social_links', 'avatar_url'];

/**
 * Names that would read as the service speaking, or as one of its pages (`/@mypage`). V2 refused reserved names
 * without publishing its list; this is ours.
 */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set([
  'admin',
  'administrator',
  'root',
  'system',
  'support',
  'help',
  'staff',
  'official',
  'moderator',
  'mod',
  'owner',
  'dreamcore',
  'dream_core',
  'team',
  'security',
  'api',
  'www',
  'mail',
  'login',
  'logout',
  'signin',
  'signup',
  'register',
  'create',
  'editor',
  'mypage',
  'play',
  'game',
  'games',
  'discover',
  'notifications',
  'settings',
  'profile',
  'user',
  'users',
  'assets',
  'null',
  'undefined',
  'anonymous',
  'guest',
  'everyone',
  'here',
]);

export type UsernameCheck = { ok: true; value: string | null } | { ok: false; code: 'USERNAME_INVALID' | 'USERNAME_RESERVED'; error: string };

/** V2's rule: a string, trimmed and lower-cased; `^[a-z0-9_]{3,20}$`; not reserved; null or "" clears. */
export function checkUsername(value: unknown): UsernameCheck {
  if (value === null) return { ok: true, value: null };
  if (typeof value !== 'string') return { ok: false, code: 'USERNAME_INVALID', error: 'username must be a string' };
  const name = value.trim().toLowerCase();
  if (name === '') return { ok: true, value: null };
  if (!USERNAME_PATTERN.test(name)) {
    return { ok: false, code: 'USERNAME_INVALID', error: 'username must be 3-20 characters: lowercase letters, numbers and underscores' };
  }
  // `u_` + 10 characters is how public ids look: /u/u_abcdefghij must name one person.
  if (RESERVED_USERNAMES.has(name) || USER_PUBLIC_ID_PATTERN.test(name)) return { ok: false, code: 'USERNAME_RESERVED', error: 'This username is reserved' };
  return { ok: true, value: name };
}

const AVATAR_FILE = /^[0-9a-f]{16}\.webp$/;
const AVATAR_DIR = 'avatars';
const assetSpace = (userId: string): AssetScope => ({ userId, assets: true });
const avatarUrlOf = (userId: string, file: string) => `/user-avatars/${userId}/${file}`;
/** The file behind one of this server's avatar addresses for `userId`, or null (an OAuth provider's picture, say). */
function ownAvatarFile(userId: string, url: string | null): string | null {
  const prefix = `/user-avatars/${userId}/`;
  if (!url?.startsWith(prefix)) return null;
  const file = url.slice(prefix.length);
  return AVATAR_FILE.test(file) ? file : null;
}

/** V2's shape of a public profile (no e-mail, no update time). */
export function publicProfileView(user: PublicProfile) {
  return {
    id: user.id,
    username: user.username,
    display_name: user.displayName,
    avatar_url: user.avatarUrl,
    bio: user.bio,
    public_id: user.publicId,
    created_at: user.createdAt,
  };
}

/** V2's shape of `/api/users/me`: the public profile and what only its owner sees. */
export function meView(user: UserRecord) {
  return { ...publicProfileView(user), social_links: user.socialLinks, email: user.email, updated_at: user.updatedAt };
}

/** V2's rule: a string, trimmed; empty → null; at most 50 characters. */
export function checkDisplayName(value: unknown): { ok: true; value: string | null } | { ok: false; error: string } {
  if (value === null) return { ok: true, value: null };
  if (typeof value !== 'string') return { ok: false, error: 'display_name must be a string' };
  const name = value.replace(/\s+/g, ' ').trim();
  if (name === '') return { ok: true, value: null };
  if ([...name].length > DISPLAY_NAME_MAX) return { ok: false, error: `display_name max ${DISPLAY_NAME_MAX} chars` };
  return { ok: true, value: name };
}

export function userRoutes(ctx: ServerContext): Router {
  const r = express.Router();
  const auth = requireAuth(ctx);

  r.get(
    '/api/users/me',
    auth,
    route(async (req, res) => {
      const user = await req.repo.getUser(req.identity.userId);
      if (!user) return res.status(404).json({ error: 'User not found' });
      res.json(meView(user));
    }),
  );

  r.patch(
    '/api/users/me',
    auth,
    route(async (req, res) => {
      const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
      const unsupported = NOT_YET.find((field) => Object.hasOwn(body, field));
      if (unsupported) return res.status(400).json({ error: `${unsupported} cannot be changed on this server yet`, code: 'UNSUPPORTED_FIELD' });
      const patch: UserPatch = {};
      if (Object.hasOwn(body, 'display_name')) {
        const checked = checkDisplayName(body.display_name);
        if (!checked.ok) return res.status(400).json({ error: checked.error, code: 'DISPLAY_NAME_INVALID' });
        patch.displayName = checked.value;
      }
      if (Object.hasOwn(body, 'username')) {
        const checked = checkUsername(body.username);
        if (!checked.ok) return res.status(400).json({ error: checked.error, code: checked.code });
        patch.username = checked.value;
      }
      if (Object.keys(patch).length === 0) return res.status(400).json({ error: 'Nothing to update', code: 'INVALID_ARGUMENT' });
      const userId = req.identity.userId;
      let user: UserRecord | null;
      try {
        // A username only through the service role (migration 008), checked above; one statement with the rest.
        user = patch.username !== undefined ? await ctx.db.service.updateUser(userId, patch) : await req.repo.updateUser(userId, patch);
      } catch (error) {
        if (isBackendError(error, 'CONFLICT')) return res.status(409).json({ error: 'Username is already taken', code: 'USERNAME_TAKEN' });
        throw error;
      }
      if (!user) return res.status(404).json({ error: 'User not found', code: 'NOT_FOUND' });
      res.json(meView(user));
    }),
  );

  r.get(
    '/api/users/username-available',
    optionalAuth(ctx),
    route(async (req, res) => {
      const checked = checkUsername(typeof req.query.u === 'string' ? req.query.u : '');
      if (!checked.ok) return res.json({ available: false, error: checked.error, code: checked.code });
      if (checked.value === null) return res.json({ available: false, error: 'username is required', code: 'USERNAME_INVALID' });
      const holder = await ctx.db.service.getPublicProfile({ username: checked.value });
      // One's own name is available to oneself.
      res.json({ available: holder === null || holder.id === req.identity?.userId });
    }),
  );

  const avatarUpload = singleUpload({
    field: 'avatar',
    maxBytes: MAX_AVATAR_UPLOAD_BYTES,
    accept: (file) =>
      ['jpeg', 'jpg', 'png', 'webp', 'gif'].includes(allowedSubtype(file.mimetype) ?? '') ? null : 'Invalid file type. Allowed: jpeg, png, webp, gif',
  });

  r.post(
    '/api/users/me/avatar',
    auth,
    avatarUpload,
    route(async (req, res) => {
      if (!req.file) return res.status(400).json({ error: 'No file uploaded', code: 'INVALID_UPLOAD' });
      const userId = req.identity.userId;
      let webp: Uint8Array;
      try {
        webp = await avatarWebp(new Uint8Array(req.file.buffer.buffer, req.file.buffer.byteOffset, req.file.buffer.byteLength));
      } catch (error) {
        if (isBackendError(error, 'INVALID_ARGUMENT')) return res.status(400).json({ error: 'Invalid image file', code: 'INVALID_FILE' });
        throw error;
      }
      const before = await req.repo.getUser(userId);
      if (!before) return res.status(404).json({ error: 'User not found', code: 'NOT_FOUND' });
      const file = `${createHash('sha256').update(webp).digest('hex').slice(0, 16)}.webp`;
      await ctx.backend.files.write(assetSpace(userId), `${AVATAR_DIR}/${file}`, webp);
      const user = await ctx.db.service.updateUser(userId, { avatarUrl: avatarUrlOf(userId, file) });
      await removeOldAvatar(userId, before.avatarUrl, file);
      res.json({ avatar_url: user?.avatarUrl ?? avatarUrlOf(userId, file) });
    }),
  );

  r.delete(
    '/api/users/me/avatar',
    auth,
    route(async (req, res) => {
      const userId = req.identity.userId;
      const before = await req.repo.getUser(userId);
      if (!before) return res.status(404).json({ error: 'User not found', code: 'NOT_FOUND' });
      await ctx.db.service.updateUser(userId, { avatarUrl: null });
      await removeOldAvatar(userId, before.avatarUrl, null);
      res.json({ avatar_url: null });
    }),
  );

  /** The picture the user had before, when it was one of ours and not the one now in use. Best effort: a leftover file is harmless. */
  const removeOldAvatar = async (userId: string, oldUrl: string | null, current: string | null) => {
    const old = ownAvatarFile(userId, oldUrl);
    if (!old || old === current) return;
    await ctx.backend.files
      .delete(assetSpace(userId), `${AVATAR_DIR}/${old}`)
      .catch((error: unknown) => ctx.log.warn({ err: error, userId }, 'old avatar not removed'));
  };

  // Profile pictures are public, like the profile; the name is the picture's hash, so it never changes meaning.
  r.get(
    '/user-avatars/:userId/:file',
    route(async (req, res) => {
      const { userId, file } = req.params as { userId: string; file: string };
      const notFound = () => res.status(404).type('text/plain').send('Not found');
      if (!UUID_PATTERN.test(userId) || !AVATAR_FILE.test(file)) return notFound();
      let bytes: Uint8Array;
      try {
        bytes = await ctx.backend.files.read(assetSpace(userId), `${AVATAR_DIR}/${file}`);
      } catch (error) {
        if (isBackendError(error, 'NOT_FOUND')) return notFound();
        throw error;
      }
      res.setHeader('Content-Type', 'image/webp');
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }),
  );

  r.get(
    '/api/users/username/:username/public',
    route(async (req, res) => {
      const user = await ctx.db.service.getPublicProfile({ username: String(req.params.username) });
      if (!user) return res.status(404).json({ error: 'User not found' });
      res.json(publicProfileView(user));
    }),
  );

  /** The profile named by `:id` (UUID or `u_…`), or the 400/404 answer already sent. */
  const profileOf = async (req: Request, res: Response) => {
    const id = String(req.params.id);
    if (!isUserKey(id)) return void res.status(400).json({ error: 'Invalid user ID' });
    const user = await ctx.db.service.getPublicProfile({ id });
    if (!user) return void res.status(404).json({ error: 'User not found' });
    return user;
  };

  r.get(
    '/api/users/:id/public',
    route(async (req, res) => {
      const user = await profileOf(req, res);
      if (user) res.json(publicProfileView(user));
    }),
  );

  r.get(
    '/api/users/:id/games',
    route(async (req, res) => {
      const user = await profileOf(req, res);
      if (!user) return;
      const games = await ctx.db.service.listPublicGames(100, 0, user.id);
      res.json({ games: games.map((g) => ({ ...publishedGameView(g), is_cli_game: false })) });
    }),
  );

  return r;
}

const isUserKey = (id: string) => UUID_PATTERN.test(id) || USER_PUBLIC_ID_PATTERN.test(id);
