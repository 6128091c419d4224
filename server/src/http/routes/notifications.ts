/**
 * Notifications and web push (contract/API.md §13): the bell's list (`GET /api/notifications`, the unread count,
 * mark one or all read) and a browser's push subscription (`GET /api/push/vapid-key`, `POST /api/push/subscribe`,
 * `DELETE /api/push/unsubscribe`, `GET /api/push/status`). The notices themselves are made when a job ends
 * (server/src/notifications/notifier.ts).
 */
import express, { type Router } from 'express';
import { UUID_PATTERN } from '@dreamcore/runtime-core';
import type { ServerContext } from '../../context.js';
import type { NotificationType } from '../../db/repository.js';
import { isLanguage, requestLanguageOf } from '../../language.js';
import { notificationWire } from '../../notifications/notifier.js';
import { pushSubscriptionInput } from '../../notifications/push.js';
import { requireAuth, route } from '../guards.js';

const TYPES: readonly NotificationType[] = ['project', 'system', 'social'];

export function notificationRoutes(ctx: ServerContext): Router {
  const r = express.Router();
  const auth = requireAuth(ctx);

  r.get(
    '/api/notifications',
    auth,
    route(async (req, res) => {
      const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
      const offset = req.query.offset === undefined ? 0 : Number(req.query.offset);
      const type = req.query.type;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) return res.status(400).json({ error: 'limit must be 1-100' });
      if (!Number.isInteger(offset) || offset < 0) return res.status(400).json({ error: 'offset must be 0 or more' });
      if (type !== undefined && !TYPES.includes(type as NotificationType)) return res.status(400).json({ error: 'type must be project, system or social' });
      const page = await req.repo.listNotifications(req.identity.userId, { limit, offset, ...(type ? { type: type as NotificationType } : {}) });
      res.setHeader('Cache-Control', 'no-store');
      res.json({ notifications: page.notifications.map(notificationWire), total: page.total, unreadCount: page.unreadCount });
    }),
  );

  r.get(
    '/api/notifications/unread-count',
    auth,
    route(async (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json({ count: await req.repo.unreadNotificationCount(req.identity.userId) });
    }),
  );

  r.post(
    '/api/notifications/read-all',
    auth,
    route(async (req, res) => {
      res.json({ success: true, count: await req.repo.markAllNotificationsRead(req.identity.userId) });
    }),
  );

  r.post(
    '/api/notifications/:id/read',
    auth,
    route(async (req, res) => {
      const id = String(req.params.id);
      if (!UUID_PATTERN.test(id)) return res.status(400).json({ error: 'Invalid notification ID' });
      // Under RLS another user's notice is not there: the same 404 as one that never was.
      if (!(await req.repo.markNotificationRead(id))) return res.status(404).json({ error: 'Notification not found' });
      res.json({ success: true });
    }),
  );

  // ---------------------------------------------------------------- web push
  r.get('/api/push/vapid-key', (_req, res) => {
    const key = ctx.notifier.pushPublicKey;
    if (!key) return res.status(503).json({ error: 'Push notifications are not configured' });
    res.json({ publicKey: key });
  });

  r.get(
    '/api/push/status',
    auth,
    route(async (req, res) => {
      const subscriptions = await ctx.db.service.pushSubscriptionsOf(req.identity.userId);
      res.setHeader('Cache-Control', 'no-store');
      res.json({ enabled: ctx.notifier.pushPublicKey !== null, subscriptions: subscriptions.length });
    }),
  );

  r.post(
    '/api/push/subscribe',
    auth,
    route(async (req, res) => {
      if (!ctx.notifier.pushPublicKey) return res.status(503).json({ error: 'Push notifications are not configured' });
      const parsed = pushSubscriptionInput.safeParse(req.body);
      if (!parsed.success)
        return res.status(400).json({
          error: 'Invalid subscription',
          code: 'INVALID_SUBSCRIPTION',
          detail: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
        });
      // The server will POST to this address: only the browsers' push services (PUSH_SERVICE_HOSTS), nothing stored else.
      const refusal = ctx.notifier.pushEndpointRefusal(parsed.data.endpoint);
      if (refusal) return res.status(400).json({ error: 'Push service not allowed', code: 'PUSH_SERVICE_NOT_ALLOWED', detail: refusal });
      const body = req.body as { language?: unknown };
      if (body.language !== undefined && !isLanguage(body.language))
        return res.status(400).json({ error: 'Unsupported language', code: 'UNSUPPORTED_LANGUAGE' });
      const language = isLanguage(body.language) ? body.language : requestLanguageOf({ cookie: req.get('cookie'), acceptLanguage: req.get('accept-language') });
      await ctx.db.service.savePushSubscription({
        userId: req.identity.userId,
        endpoint: parsed.data.endpoint,
        p256dh: parsed.data.keys.p256dh,
        auth: parsed.data.keys.auth,
        userAgent: parsed.data.userAgent ?? req.get('user-agent') ?? null,
        language,
      });
      res.json({ success: true });
    }),
  );

  r.delete(
    '/api/push/unsubscribe',
    auth,
    route(async (req, res) => {
      const endpoint = (req.body as { endpoint?: unknown } | undefined)?.endpoint;
      if (typeof endpoint !== 'string' || endpoint === '') return res.status(400).json({ error: 'endpoint required' });
      const removed = await ctx.db.service.deletePushSubscription(req.identity.userId, endpoint);
      res.json({ success: true, removed });
    }),
  );

  return r;
}
