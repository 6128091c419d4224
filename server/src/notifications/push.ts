/**
 * Web push (issue 17, item 8): a notice sent to a user's browsers through their push services with the standard
 * protocol: a VAPID JWT signed with this server's key (RFC 8292) and the payload encrypted for the browser
 * (RFC 8291, `Content-Encoding: aes128gcm`), by the `web-push` package. A push service that says the subscription is
 * gone (404, 410) gets it deleted, so nothing is sent there again.
 *
 * Keys: VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY / VAPID_SUBJECT. In demo mode without them a pair is generated once and
 * kept with the server's other secrets (the data directory, or the shared database), so browsers that subscribed stay
 * subscribed across restarts. Without keys outside demo mode there is no web push (the in-app list still works).
 */
import type { Agent } from 'node:https';
import webpush, { WebPushError } from 'web-push';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import type { PushSubscriptionRecord, ServiceRepository } from '../db/repository.js';
import type { Language } from '../language.js';
import type { PushServices } from './push-services.js';

export interface VapidKeys {
  /** Uncompressed P-256 point, base64url (what the browser's `applicationServerKey` takes). */
  publicKey: string;
  privateKey: string;
  /** `mailto:` or `https:` contact for push services (RFC 8292 §2.1). */
  subject: string;
}

/** What the service worker receives (public/sw.js shows it). */
export interface PushMessage {
  title: string;
  body: string;
  /** The app page the notice opens. */
  url: string;
  /** One notice per job on the device (a second push about it replaces the first). */
  tag: string;
}

export type PushRepo = Pick<ServiceRepository, 'pushSubscriptionsOf' | 'deletePushSubscription' | 'touchPushSubscription'>;

/** How long a push service keeps a notice for a browser that is offline: a day (stale after that). */
const TTL_SECONDS = 24 * 60 * 60;
const SEND_TIMEOUT_MS = 10_000;

const base64url = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+={0,2}$/)
    .refine((value) => Buffer.from(value, 'base64url').length === bytes, `must be ${bytes} bytes, base64url`);

/** A browser's PushSubscription as `toJSON()` gives it (endpoint on https, P-256 key, 16-byte auth secret). */
export const pushSubscriptionInput = z.object({
  endpoint: z
    .string()
    .url()
    .max(2048)
    .refine((value) => value.startsWith('https://'), 'push endpoints are https'),
  keys: z.object({
    p256dh: base64url(65).refine((value) => Buffer.from(value, 'base64url')[0] === 0x04, 'must be an uncompressed P-256 point'),
    auth: base64url(16),
  }),
  userAgent: z.string().max(512).optional(),
  expirationTime: z.number().nullable().optional(),
});

/**
 * The server's VAPID keys: configured, or (demo mode) generated once and kept with the server's secrets; null when
 * there is no web push.
 */
export async function loadVapidKeys(
  config: { VAPID_PUBLIC_KEY?: string | undefined; VAPID_PRIVATE_KEY?: string | undefined; VAPID_SUBJECT: string; demoMode: boolean },
  secrets: (name: string, create: () => string) => Promise<string>,
  log: Logger,
): Promise<VapidKeys | null> {
  if (config.VAPID_PUBLIC_KEY && config.VAPID_PRIVATE_KEY) {
    return { publicKey: config.VAPID_PUBLIC_KEY, privateKey: config.VAPID_PRIVATE_KEY, subject: config.VAPID_SUBJECT };
  }
  if (!config.demoMode) {
    log.info('web push is off: set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY to turn it on (the in-app notifications work without)');
    return null;
  }
  let generated = false;
  const stored = await secrets('vapid-keys', () => {
    generated = true;
    return JSON.stringify(webpush.generateVAPIDKeys());
  });
  const keys = JSON.parse(stored) as { publicKey: string; privateKey: string };
  log.warn(
    { publicKey: keys.publicKey },
    generated
      ? 'demo mode: generated a VAPID key pair for web push and stored it with the server secrets; set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY for production'
      : 'demo mode: web push uses the VAPID key pair generated earlier (server secrets); set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY for production',
  );
  return { ...keys, subject: config.VAPID_SUBJECT };
}

export class PushSender {
  constructor(
    private readonly keys: VapidKeys,
    /** The push services endpoints may be on (PUSH_SERVICE_HOSTS). */
    private readonly services: PushServices,
    private readonly repo: PushRepo,
    private readonly log: Logger,
    /** The TLS agent for push services (tests: one that trusts the local stand-in's certificate). */
    private readonly agent?: Agent,
  ) {}

  get publicKey(): string {
    return this.keys.publicKey;
  }

  /** Why the server would not send to this endpoint (not on a listed push service), or null. */
  endpointRefusal(endpoint: string): string | null {
    return this.services.refusal(endpoint);
  }

  /**
   * Sends to every browser of the user, each in the language it subscribed with. Never rejects: a push that fails
   * is logged (the in-app list has the notice anyway). Returns how many were accepted and how many subscriptions
   * the push services said are gone (deleted).
   */
  async send(userId: string, message: (language: Language) => PushMessage): Promise<{ delivered: number; removed: number }> {
    let subscriptions: PushSubscriptionRecord[];
    try {
      subscriptions = await this.repo.pushSubscriptionsOf(userId);
    } catch (error) {
      this.log.warn({ err: error, userId }, 'push: subscriptions could not be read');
      return { delivered: 0, removed: 0 };
    }
    const outcomes = await Promise.all(subscriptions.map((subscription) => this.sendOne(subscription, message(subscription.language as Language))));
    return { delivered: outcomes.filter((o) => o === 'delivered').length, removed: outcomes.filter((o) => o === 'removed').length };
  }

  private async sendOne(subscription: PushSubscriptionRecord, message: PushMessage): Promise<'delivered' | 'removed' | 'failed'> {
    // A subscription stored before its push service left the list (or before there was one) is not sent to.
    const refusal = this.endpointRefusal(subscription.endpoint);
    if (refusal) {
      this.log.warn({ userId: subscription.userId, refusal }, 'push: endpoint not on an allowed push service, not sent');
      return 'failed';
    }
    try {
      await webpush.sendNotification(
        { endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } },
        JSON.stringify(message),
        {
          vapidDetails: this.keys,
          TTL: TTL_SECONDS,
          contentEncoding: 'aes128gcm',
          urgency: 'normal',
          timeout: SEND_TIMEOUT_MS,
          ...(this.agent ? { agent: this.agent } : {}),
        },
      );
      await this.repo.touchPushSubscription(subscription.id).catch(() => undefined);
      return 'delivered';
    } catch (error) {
      if (error instanceof WebPushError && (error.statusCode === 404 || error.statusCode === 410)) {
        // RFC 8030 §7.3: the subscription expired or was removed; the browser has to subscribe again.
        await this.repo
          .deletePushSubscription(subscription.userId, subscription.endpoint)
          .catch((e: unknown) => this.log.warn({ err: e }, 'push: a gone subscription could not be deleted'));
        this.log.info({ userId: subscription.userId, status: error.statusCode }, 'push: subscription gone, deleted');
        return 'removed';
      }
      const status = error instanceof WebPushError ? error.statusCode : undefined;
      this.log.warn({ err: error, status, userId: subscription.userId }, 'push: not delivered');
      return 'failed';
    }
  }
}
