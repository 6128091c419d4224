/**
 * The signed-in user's own account (contract/API.md §3): `GET /api/users/me` and `PATCH /api/users/me` for the
 * display name, the name shown on their public games. V2's other profile fields (username, bio, links, avatar) come
 * with profiles; a PATCH naming one of them is refused rather than silently dropped.
 */
import express, { type Router } from 'express';
import type { ServerContext } from '../../context.js';
import type { UserRecord } from '../../db/repository.js';
import { requireAuth, route } from '../guards.js';

export const DISPLAY_NAME_MAX = 50;
const NOT_YET = ['username', 'bio', 'social_links', 'avatar_url'];

/** V2's shape of `/api/users/me`. */
export function meView(user: UserRecord) {
  return {
    id: user.id,
    username: user.username,
    display_name: user.displayName,
    avatar_url: user.avatarUrl,
    bio: user.bio,
    social_links: user.socialLinks,
    public_id: user.publicId,
    created_at: user.createdAt,
    email: user.email,
    updated_at: user.updatedAt,
  };
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

  return r;
}
