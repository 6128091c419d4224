/**
 * Whether a user is looking at the app (notifications/notifier.ts: a job that ends while its user watches is not
 * pushed, and its notice is stored read). A socket knows (ws/connection.ts `watching`: its tab said it is visible and
 * it was heard from in the last WATCHING_MS). One instance asks its own sockets. Several also share it through the
 * database (migration 011): an instance writes, per user, whether one of their sockets on it is visible, at once when
 * that changes and otherwise at most every PRESENCE_WRITE_MS while it stays visible (the app pings every 10 s); the
 * instance where a job ends asks its own sockets, then the other live instances' rows. A row lags its sockets by at
 * most PRESENCE_WRITE_MS, so at the very end of the window a user may be pushed although still watching: a push too
 * many, never a notice missed.
 */
import type { Coordination } from './db/repository.js';
import type { Logger } from './logger.js';
import { WATCHING_MS } from './notifications/notifier.js';

export interface Presence {
  /** A socket of the user here was heard from, changed its visibility, or closed; `watching`: that socket's own say. */
  heard(userId: string, watching: boolean): void;
  /** Whether the user was watching at `at` (ms), on any instance. */
  watching(userId: string, at: number): Promise<boolean>;
}

/** What `Presence` needs of a socket. */
export interface WatchedSocket {
  readonly userId: string | null;
  watching(at?: number): boolean;
}

const PRESENCE_WRITE_MS = 5_000;

export function localPresence(sockets: Iterable<WatchedSocket>): Presence {
  return {
    heard: () => undefined,
    watching: async (userId, at) => watchingHere(sockets, userId, at),
  };
}

export function sharedPresence(coordination: Coordination, instanceId: string, sockets: Iterable<WatchedSocket>, log: Logger): Presence {
  /** What was last written per user with a socket here. */
  const written = new Map<string, { visible: boolean; at: number }>();
  return {
    heard(userId, socketWatching) {
      // Every ping comes here: the common cases return before looking at the other sockets.
      const last = written.get(userId);
      if (!last && !socketWatching) return; // no row says they watch here (a visible socket would have written one)
      const now = Date.now();
      if (last?.visible && socketWatching && now - last.at < PRESENCE_WRITE_MS) return; // said recently
      const visible = watchingHere(sockets, userId, now);
      if (last && last.visible === visible && (!visible || now - last.at < PRESENCE_WRITE_MS)) return;
      let any = false;
      for (const socket of sockets) any ||= socket.userId === userId;
      if (any) written.set(userId, { visible, at: now });
      else written.delete(userId); // the user's last socket here closed: this write says so, and nothing is kept
      coordination.markPresence(userId, instanceId, visible).catch((error: unknown) => log.warn({ err: error, userId }, 'writing presence failed'));
    },
    async watching(userId, at) {
      if (watchingHere(sockets, userId, at)) return true;
      try {
        return await coordination.watchingElsewhere(userId, instanceId, at, WATCHING_MS);
      } catch (error) {
        log.warn({ err: error, userId }, 'reading presence failed');
        return false; // a push too many rather than a notice missed
      }
    },
  };
}

function watchingHere(sockets: Iterable<WatchedSocket>, userId: string, at: number): boolean {
  for (const socket of sockets) if (socket.userId === userId && socket.watching(at)) return true;
  return false;
}
