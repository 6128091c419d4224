/**
 * V2's page addresses (contract/API.md, "Pages"): the clean paths answer with the app (which routes on the client) or
 * a redirect, and V2's old `.html` names move permanently to the clean ones, query kept, so bookmarks and shared links
 * from V2 keep working.
 *
 * - `/create`, `/login`, `/mypage`, `/u/:id`, `/@:username` → the app.
 * - `/editor?project=<id>` (or `id=`) → `/project/<id>`; without a project → `/create`.
 * - `/p/:id` (a game's public id or UUID) → `/play/<public id>`; no such game → the "not here" page.
 * - `/icons/icon-192.png`, `/icons/icon-512.png`: the app's icon for the PWA manifest.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response, type Router } from 'express';
import sharp from 'sharp';
import { UUID_PATTERN } from '@dreamcore/runtime-core';
import type { ServerContext } from '../../context.js';
import { route } from '../guards.js';
import { sendErrorPage } from '../error-pages.js';
import { isGameId } from './publish.js';

const publicDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../public');
const appPage = path.join(publicDir, 'index.html');
const iconSvg = path.join(publicDir, 'icons/icon.svg');

/** V2's old page files and where each lives now. */
const LEGACY: Record<string, (query: URLSearchParams) => string> = {
  '/index.html': () => '/',
  '/create.html': () => '/create',
  '/login.html': () => '/login',
  '/editor.html': () => '/editor',
  '/mypage.html': () => '/mypage',
  '/discover.html': () => '/',
  '/publish.html': () => '/create',
  '/user.html': (q) => {
    const username = q.get('username');
    const id = q.get('id');
    if (username) {
      q.delete('username');
      return `/@${encodeURIComponent(username)}`;
    }
    if (id) {
      q.delete('id');
      return `/u/${encodeURIComponent(id)}`;
    }
    return '/mypage';
  },
};

const queryOf = (req: Request) => new URLSearchParams(req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '');

export function pageRoutes(ctx: ServerContext): Router {
  const r = express.Router();
  const sendApp = (_req: Request, res: Response) => res.sendFile(appPage);

  for (const page of ['/create', '/login', '/mypage', '/u/:id', '/@:username']) r.get(page, sendApp);

  r.get('/editor', (req, res) => {
    const q = queryOf(req);
    const project = q.get('project') ?? q.get('id') ?? q.get('projectId');
    res.redirect(302, project && UUID_PATTERN.test(project) ? `/project/${project}` : '/create');
  });

  r.get(
    '/p/:id',
    route(async (req, res) => {
      const id = String(req.params.id);
      const game = isGameId(id) ? await ctx.db.service.getPublicGame(id) : null;
      if (!game) return sendErrorPage(req, res, 404, 'game-missing');
      res.redirect(302, `/play/${encodeURIComponent(game.publicId)}`);
    }),
  );

  // The installed app's icons (PWA manifest): the SVG icon drawn at the sizes phones ask for, once each.
  const icons = new Map<number, Promise<Buffer>>();
  r.get('/icons/icon-:size.png', (req, res, next) => {
    const size = Number(req.params.size);
    if (size !== 192 && size !== 512) return next();
    if (!icons.has(size))
      icons.set(
        size,
        sharp(iconSvg, { density: (72 * size) / 512 })
          .resize(size, size)
          .png()
          .toBuffer(),
      );
    icons
      .get(size)!
      .then((png) => res.set('Cache-Control', 'public, max-age=86400').type('image/png').send(png))
      .catch(next);
  });

  for (const [file, target] of Object.entries(LEGACY)) {
    r.get(file, (req, res) => {
      const q = queryOf(req);
      const to = target(q);
      const rest = q.toString();
      res.redirect(301, rest ? `${to}?${rest}` : to);
    });
  }
  return r;
}
