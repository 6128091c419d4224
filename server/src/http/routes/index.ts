/**
 * Route groups beyond projects/jobs/preview: assets and images, publish and media, public play, style previews, the
 * user's own account and profiles, V2's page addresses.
 */
import type { Router } from 'express';
import type { ServerContext } from '../../context.js';
import { assetRoutes } from './assets.js';
import { playRoutes } from './play.js';
import { publishRoutes } from './publish.js';
import { styleRoutes } from './styles.js';
import { userRoutes } from './users.js';
import { pageRoutes } from './pages.js';
import { remixRoutes } from './remix.js';
import { notificationRoutes } from './notifications.js';
import { PublicGames } from '../public-games.js';

export function extraRoutes(ctx: ServerContext): Router[] {
  // Publishing forgets what the play routes have cached of the game.
  const games = new PublicGames(ctx.db.service);
  return [
    assetRoutes(ctx),
    publishRoutes(ctx, games),
    playRoutes(ctx, games),
    styleRoutes(),
    userRoutes(ctx),
    remixRoutes(ctx),
    notificationRoutes(ctx),
    pageRoutes(ctx),
  ];
}
