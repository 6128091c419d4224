/**
 * Style preview cards (`imageUrl` of `styleOptions`): public, drawn from the catalogue, cacheable.
 */
import { Router } from 'express';
import { findStyle } from '../../styles.js';
import { stylePreviewSvg } from '../../style-previews.js';

export function styleRoutes(): Router {
  const router = Router();
  router.get('/styles/:dimension/:file', (req, res) => {
    const match = /^([a-z0-9_]+)\.svg$/.exec(req.params.file);
    const style = match ? findStyle(req.params.dimension, match[1]!) : undefined;
    if (!style) return void res.status(404).json({ error: 'Not found' });
    res.setHeader('Content-Type', 'image/svg+xml; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=86400');
    // Served as an image only: no script runs even if opened directly.
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    res.send(stylePreviewSvg(style));
  });
  return router;
}
