/**
 * Remix (contract/API.md §11): a public game that allows it becomes a new project of the signed-in user, with the
 * game's files as they were published (never the owner's later, unpublished changes) and a history of its own that
 * starts at "Remixed from …". The project remembers where it came from (`remixed_from`), which the game pages show
 * with the public remixes of each game (`GET /api/games/:gameId/lineage`).
 *
 * Differences from V2: the lineage answer is one level each way (where it came from, its remixes), not V2's tree; a
 * remix counts against the daily project limit like any new project; on Modal the files are written to the remixer's
 * volume (V2 wrote nothing there, ⚠ in the contract).
 */
import express, { type Router } from 'express';
import type { ServerContext } from '../../context.js';
import type { PublishedGameRecord } from '../../db/repository.js';
import { requireAuth, route } from '../guards.js';
import { isGameContent } from '../../game-content.js';
import { projectBrief } from '../../wire.js';
import { isGameId } from './publish.js';

/** What a game page shows of a related game. */
function relatedView(game: PublishedGameRecord) {
  return {
    public_id: game.publicId,
    title: game.title,
    thumbnail_url: game.thumbnailUrl,
    project_id: game.projectId,
    author: game.author ? { display_name: game.author.displayName, avatar_url: game.author.avatarUrl } : null,
  };
}

export function remixRoutes(ctx: ServerContext): Router {
  const r = express.Router();
  const auth = requireAuth(ctx);

  r.post(
    '/api/games/:gameId/remix',
    auth,
    route(async (req, res) => {
      const gameId = String(req.params.gameId);
      if (!isGameId(gameId)) return res.status(400).json({ error: 'Invalid game ID format' });
      const game = await ctx.db.service.getPublicGame(gameId);
      // Unlisted games are for people with the link, not for copying: as V2, they are "not found" here.
      if (!game || game.visibility !== 'public') return res.status(404).json({ error: 'Game not found' });
      if (!game.allowRemix) return res.status(403).json({ error: 'Remix not allowed for this game' });
      const userId = req.identity.userId;
      const quota = await ctx.quota.consume(userId, 'projects_created');
      if (!quota.allowed) {
        return res.status(429).json({ error: 'Daily project limit reached', code: 'DAILY_PROJECT_LIMIT_EXCEEDED', limit: quota.limit, resetAt: quota.resetAt });
      }

      const source = { userId: game.userId, projectId: game.projectId };
      const version = game.commitHash ?? (await ctx.backend.git.log(source, { limit: 1 })).commits[0]?.hash;
      if (!version) return res.status(404).json({ error: 'Game not found' });
      const paths = (await ctx.backend.git.listAt(source, version)).filter(isGameContent);
      const files = await Promise.all(paths.map(async (path) => ({ path, bytes: await ctx.backend.git.readAt(source, version, path) })));

      const name = `${game.project?.name ?? game.title} (Remix)`.slice(0, 100);
      const project = await req.repo.createProject(userId, name, { remixedFrom: game.projectId });
      const scope = { userId, projectId: project.id };
      for (const file of files) await ctx.backend.files.write(scope, file.path, file.bytes);
      await ctx.backend.git.init(scope, { message: `Remixed from “${game.title}” (${game.publicId})` });
      ctx.log.info({ userId, projectId: project.id, from: game.publicId, files: files.length }, 'remixed');
      const brief = projectBrief(project);
      res.json({ success: true, project: { id: brief.id, name: brief.name, remixedFrom: game.projectId, createdAt: brief.createdAt } });
    }),
  );

  r.get(
    '/api/games/:gameId/lineage',
    route(async (req, res) => {
      const gameId = String(req.params.gameId);
      if (!isGameId(gameId)) return res.status(400).json({ error: 'Invalid game ID format' });
      const game = await ctx.db.service.getPublicGame(gameId);
      if (!game) return res.status(404).json({ error: 'Game not found' });
      const project = await ctx.db.service.getProject(game.projectId);
      const parentId = project?.remixedFrom ?? null;
      // The game it came from when that is still public or unlisted; otherwise only that it came from somewhere.
      const parent = parentId ? await ctx.db.service.getGameOfProject(parentId) : null;
      const remixes = await ctx.db.service.listRemixes(game.projectId);
      res.json({
        remixedFrom: parentId ? (parent ? relatedView(parent) : { hidden: true }) : null,
        remixes: remixes.map(relatedView),
        allowRemix: game.allowRemix && game.visibility === 'public',
      });
    }),
  );
  return r;
}
