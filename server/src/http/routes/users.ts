/**
 * Accounts and profiles (contract/API.md §3): the signed-in user's own account (`GET`/`PATCH /api/users/me`; the
 * display name, the name shown on their public games) and what anyone sees of a user: `GET /api/users/:id/public`
 * (UUID or `u_…`), `GET /api/users/username/:username/public` and `GET /api/users/:id/games` (public games only).
 * V2's other profile fields (username, bio, links, avatar) cannot be changed here yet; a PATCH naming one of them is
 * refused rather than silently dropped.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { ServerContext } from '../../context.js';
import { UUID_PATTERN } from '@dreamcore/runtime-core';
import { USER_PUBLIC_ID_PATTERN, type PublicProfile, type UserRecord } from '../../db/repository.js';
import { publishedGameView } from './publish.js';
import { requireAuth, route } from '../guards.js';

export const DISPLAY_NAME_MAX = 50;
const NOT_YET = ['username', 'bio', 'social_links', 'avatar_url'];

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
      if (unsupported) return res.status(400).json({ error: `${unsupported} cannot be changed on this server yet` });
      if (!Object.hasOwn(body, 'display_name')) return res.status(400).json({ error: 'Nothing to update' });
      const checked = checkDisplayName(body.display_name);
      if (!checked.ok) return res.status(400).json({ error: checked.error });
      const user = await req.repo.updateUser(req.identity.userId, { displayName: checked.value });
      if (!user) return res.status(404).json({ error: 'User not found' });
      res.json(meView(user));
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
