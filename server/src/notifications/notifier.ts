/**
 * Being told when a long job ends (issue 17, item 8; contract API.md §13): a game generation, a promo video, the
 * publishing help. When one ends the server stores a notice for its user (the bell's list), sends it at once to
 * the user's open sockets on every instance (`{type:"notification"}`; fanout.ts), and pushes it to their browsers
 * (web push) unless they are looking at the app right now: a socket that said it is visible (`viewState`) and was
 * heard from (`ping`) in the last 15 s. A notice that ends while its user is watching is stored already read: the
 * bell counts what happened while they were away.
 *
 * The words are the app's catalogue (public/js/i18n/areas/notifications.js: `title_<event>`, `body_<event>`), so
 * the notice says the same in the list, in a V2 client and on the phone's lock screen.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '../logger.js';
import type { NotificationRecord, ServiceRepository } from '../db/repository.js';
import { LANGUAGES, type Language } from '../language.js';
import type { PushSender } from './push.js';

export const NOTICE_EVENTS = ['generationCompleted', 'generationFailed', 'movieCompleted', 'movieFailed', 'publishInfoCompleted', 'publishInfoFailed'] as const;
export type NoticeEvent = (typeof NOTICE_EVENTS)[number];

/** How recently a visible socket must have been heard from to count as someone watching (contract: 15 s). */
export const WATCHING_MS = 15_000;

export interface JobEnd {
  userId: string;
  projectId: string;
  /** The job, render or request: one notice per id. */
  jobId: string;
  event: NoticeEvent;
  /** The language of the request that started it (the stored notice's words). */
  language: Language;
  /** When it ended (ms): whether the user was watching is judged then. Default: now. */
  endedAt?: number;
}

export type NotifierRepo = Pick<ServiceRepository, 'createNotification' | 'getProject' | 'unreadNotificationCount'>;

export interface NotifierDeps {
  repo: NotifierRepo;
  /** Sends a message to every open socket of the user (on every instance: fanout.ts). */
  deliver: (userId: string, message: Record<string, unknown>) => void;
  /** Whether the user was looking at the app at `at` (a visible socket heard from within WATCHING_MS). */
  watching: (userId: string, at: number) => boolean | Promise<boolean>;
  push: PushSender | null;
  log: Logger;
}

type Words = Record<Language, Record<string, string | { other: string }>>;

const CATALOGUE_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../public/js/i18n/areas/notifications.js');
let catalogue: Promise<Words> | null = null;

/** The catalogue's notification area (a plain ES module the browser loads too). */
function words(): Promise<Words> {
  catalogue ??= import(pathToFileURL(CATALOGUE_FILE).href).then((module: { default: Words }) => module.default);
  return catalogue;
}

/** A notice's title and body in a language, with `{project}` filled in. */
export async function noticeText(event: NoticeEvent, language: Language, params: Record<string, string>): Promise<{ title: string; body: string }> {
  const area = await words();
  const lang = LANGUAGES.includes(language) ? language : 'en';
  const say = (key: string) => {
    const text = area[lang][key] ?? area.en[key];
    if (text === undefined) throw new Error(`notifications.${key} is not in the catalogue`);
    const plain = typeof text === 'string' ? text : text.other;
    return plain.replace(/\{(\w+)\}/g, (whole, name: string) => params[name] ?? whole);
  };
  return { title: say(`title_${event}`), body: say(`body_${event}`) };
}

/** The notice as V2's REST and socket carry it (API.md §13), plus `event`/`params` for the app's own words. */
export function notificationWire(n: NotificationRecord) {
  return {
    id: n.id,
    user_id: n.userId,
    type: n.type,
    title: n.title,
    message: n.message,
    icon: n.icon,
    project_id: n.projectId,
    job_id: n.jobId,
    event: n.event,
    params: n.params,
    read: n.read,
    read_at: n.readAt,
    created_at: n.createdAt,
  };
}

export class Notifier {
  constructor(private readonly deps: NotifierDeps) {}

  /** The VAPID public key browsers subscribe with; null when there is no web push. */
  get pushPublicKey(): string | null {
    return this.deps.push?.publicKey ?? null;
  }

  /** Why a subscription's endpoint is refused (not on an allowed push service), or null; see push-services.ts. */
  pushEndpointRefusal(endpoint: string): string | null {
    return this.deps.push ? this.deps.push.endpointRefusal(endpoint) : 'web push is off';
  }

  /** Records and delivers the notice of an ended job. Never rejects (a job's end is not undone by its notice). */
  async jobEnded(end: JobEnd): Promise<NotificationRecord | null> {
    const { repo, log } = this.deps;
    const endedAt = end.endedAt ?? Date.now();
    try {
      const project = await repo.getProject(end.projectId);
      const params = { project: project?.name ?? '' };
      const { title, body } = await noticeText(end.event, end.language, params);
      const watching = await this.deps.watching(end.userId, endedAt);
      const notification = await repo.createNotification({
        userId: end.userId,
        type: 'project',
        title,
        message: body,
        icon: end.event.endsWith('Failed') ? 'warning' : 'success',
        projectId: end.projectId,
        jobId: end.jobId,
        event: end.event,
        params,
        read: watching,
      });
      if (!notification) return null; // this job's end was already told
      const unreadCount = await repo.unreadNotificationCount(end.userId);
      this.deps.deliver(end.userId, { type: 'notification', notification: notificationWire(notification), unreadCount });
      if (!watching && this.deps.push) {
        // Each device is told in the language it subscribed with.
        const texts = new Map(await Promise.all(LANGUAGES.map(async (language) => [language, await noticeText(end.event, language, params)] as const)));
        const sent = await this.deps.push.send(end.userId, (language) => ({
          ...(texts.get(language) ?? { title, body }),
          url: `/project/${end.projectId}`,
          tag: notification.id,
        }));
        log.debug({ userId: end.userId, event: end.event, ...sent }, 'push sent');
      }
      return notification;
    } catch (error) {
      log.warn({ err: error, userId: end.userId, event: end.event }, 'notification not recorded');
      return null;
    }
  }
}
