/**
 * Route groups beyond projects/jobs/preview: assets and images, publish and media, public play, style previews.
 */
import type { Router } from 'express';
import type { ServerContext } from '../../context.js';
import { assetRoutes } from './assets.js';
import { playRoutes } from './play.js';
import { publishRoutes } from './publish.js';
import { styleRoutes } from './styles.js';

export function extraRoutes(ctx: ServerContext): Router[] {
  return [assetRoutes(ctx), publishRoutes(ctx), playRoutes(ctx), styleRoutes()];
}
