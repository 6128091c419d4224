/**
 * Published games for players (docs/protocol.md, "Publishing"): `/g/:gameId/…` serves a public or unlisted game's files
 * through the backend, and `/play/:gameId` is the page that frames it.
 *
 * Differences from V2, and why:
 * - V2 answered `/g/` only on its separate play domain, so other people's game code never ran on the app's origin.
 *   This server may have a single origin, and a game running there could read a player's session from
 *   localStorage. So unless the request came in on a separate `PLAY_DOMAIN`, the game is served with a CSP
 *   `sandbox` (an opaque origin: no access to the app's storage, cookies or DOM) and an in-memory `localStorage`
 *   stand-in so games that keep high scores still run. Files carry `Access-Control-Allow-Origin: *` so the
 *   sandboxed game can still load its modules and fetch its JSON and audio, and images a script loads from this
 *   server are requested with CORS so drawing them does not taint a canvas.
 * - No R2/CDN redirect: files come from the project through the execution backend.
 * - Players get the version the owner published (the commit recorded at publish, read from the project's history),
 *   not the project's current files: what the owner changes afterwards goes public only when they publish again.
 * - Dot-files (`.git`, `.ai-context/`, …) and `PUBLISH.json` are not served.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Router } from 'express';
import type { ServerContext } from '../../context.js';
import type { PublishedGameRecord } from '../../db/repository.js';
import { route } from '../guards.js';
import { CORS_IMAGES_SHIM, SANDBOX, sendGameFile, STORAGE_SHIM } from '../game-files.js';
import { SnapshotFiles } from '../snapshot-files.js';
import type { PublicGames } from '../public-games.js';
import { assetBase } from './projects.js';
import { sendErrorPage, wantsPage } from '../error-pages.js';
import { isGameId } from './publish.js';
import { escapeAttr } from '../svg.js';

const publicDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../public');

/** Text is not selectable in a game (long-presses on phones would otherwise select the canvas). */
export const NO_SELECT_CSS =
  '<style>html,body{-webkit-user-select:none;user-select:none;-webkit-touch-callout:none;-webkit-tap-highlight-color:transparent}' +
  'input,textarea,[contenteditable]{-webkit-user-select:text;user-select:text}</style>';

/** A file path inside a game: relative, no `..`, no backslashes or NULs. */
export function isSafeGamePath(file: string): boolean {
  if (file === '' || file.startsWith('/') || file.includes('\\') || file.includes('\0')) return false;
  return file.split('/').every((segment) => segment !== '..' && segment !== '.' && segment !== '');
}

/** Project files a published game never exposes. */
export function isHiddenGamePath(file: string): boolean {
  return file.split('/').some((segment) => segment.startsWith('.')) || file === 'PUBLISH.json';
}

/** Top-level navigation (the address bar, a link) to a game page, which must only run framed by its play page. */
export function isTopLevelDocument(req: Pick<Request, 'get'>): boolean {
  return req.get('sec-fetch-dest') === 'document';
}

/** The page used when the browser app has no `public/play.html`: the game, full screen, with its title. */
export function fallbackPlayPage(game: Pick<PublishedGameRecord, 'publicId' | 'title' | 'description'>, nonce: string): string {
  const id = encodeURIComponent(game.publicId);
  const title = escapeAttr(game.title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>${title} - DreamCore</title>
<meta property="og:title" content="${title}">
${game.description ? `<meta name="description" content="${escapeAttr(game.description.slice(0, 300))}">` : ''}
<style>html,body{margin:0;height:100%;background:#000;color:#fff;font-family:system-ui,sans-serif}
header{position:fixed;top:0;left:0;right:0;padding:6px 12px;font-size:14px;background:rgba(0,0,0,.5);z-index:1;pointer-events:none}
iframe{position:fixed;inset:0;width:100%;height:100%;border:0}</style>
</head>
<body>
<header>${title}</header>
<iframe src="/g/${id}/index.html" title="${title}" allow="autoplay; fullscreen; gamepad; accelerometer; gyroscope"></iframe>
<script nonce="${nonce}">fetch('/api/published-games/${id}/play',{method:'POST'}).catch(function(){});</script>
</body>
</html>
`;
}

export function playRoutes(ctx: ServerContext, games: PublicGames): Router {
  const r = express.Router();
  const snapshots = new SnapshotFiles(ctx.backend);
  const publicGame = (id: string) => games.get(id);

  /** True when this request came in on a play domain separate from the app's own. */
  function onSeparatePlayDomain(req: Request): boolean {
    const playDomain = ctx.config.PLAY_DOMAIN.toLowerCase();
    if (req.hostname.toLowerCase() !== playDomain) return false;
    const appHost = ctx.config.PUBLIC_URL ? new URL(ctx.config.PUBLIC_URL).hostname.toLowerCase() : null;
    return appHost !== null && appHost !== playDomain;
  }

  r.get(
    /^\/g\/([^/]+)(?:\/(.*))?$/,
    route(async (req, res) => {
      const id = req.params[0]!;
      const rest = req.params[1];
      const file = rest === undefined || rest === '' ? 'index.html' : rest;
      res.setHeader('Cache-Control', 'no-store');
      const page = wantsPage(req);
      if (!isGameId(id)) return page ? sendErrorPage(req, res, 400, 'bad-game-link') : res.status(400).type('text/plain').send('Invalid game ID');
      if (!isSafeGamePath(file)) return res.status(400).type('text/plain').send('Invalid file path');
      if (/\.html?$/i.test(file) && isTopLevelDocument(req)) {
        return sendErrorPage(req, res, 403, 'play-on-page', { actionHref: `/play/${encodeURIComponent(id)}` });
      }
      if (rest === undefined) return res.redirect(302, `/g/${encodeURIComponent(id)}/index.html`);
      if (isHiddenGamePath(file)) return res.status(404).type('text/plain').send('File not found');

      const game = await publicGame(id);
      if (!game) return page ? sendErrorPage(req, res, 404, 'game-missing') : res.status(404).type('text/plain').send('Game not found');

      res.removeHeader('Cache-Control');
      res.removeHeader('X-Frame-Options');
      res.setHeader('Access-Control-Allow-Origin', '*');
      const separate = onSeparatePlayDomain(req);
      const ancestors = separate && ctx.config.PUBLIC_URL ? `'self' ${new URL(ctx.config.PUBLIC_URL).origin}` : "'self'";
      res.setHeader('Content-Security-Policy', separate ? `frame-ancestors ${ancestors}` : `frame-ancestors ${ancestors}; ${SANDBOX}`);
      const scope = { userId: game.userId, projectId: game.projectId };
      const commit = game.commitHash;
      // A game published before snapshots existed has no commit: it serves the current files until published again.
      const read = commit ? () => snapshots.read(scope, commit, file) : () => ctx.backend.files.read(scope, file);
      await sendGameFile(res, file, read, {
        assetBase: assetBase(ctx, req),
        inject: file === 'index.html',
        extraHead: separate ? NO_SELECT_CSS : STORAGE_SHIM + CORS_IMAGES_SHIM + NO_SELECT_CSS,
      });
    }),
  );

  r.get(
    '/play/:gameId',
    route(async (req, res) => {
      const id = req.params.gameId;
      if (!isGameId(id)) return sendErrorPage(req, res, 400, 'bad-game-link');
      const page = path.join(publicDir, 'play.html');
      const exists = await fs.access(page).then(
        () => true,
        () => false,
      );
      if (exists) {
        res.setHeader('Cache-Control', 'no-cache');
        return res.sendFile(page);
      }
      const game = await publicGame(id);
      if (!game) return sendErrorPage(req, res, 404, 'game-missing');
      const nonce = randomBytes(16).toString('base64');
      res.setHeader(
        'Content-Security-Policy',
        `default-src 'none'; frame-src 'self'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'`,
      );
      res.setHeader('Cache-Control', 'no-cache');
      res.type('text/html').send(fallbackPlayPage(game, nonce));
    }),
  );

  return r;
}
