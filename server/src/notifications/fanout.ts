/**
 * A notice reaches the user's sockets on every instance, not only on the one where the job ended: with several
 * instances (a database `Coordination`), each notice delivered here is also NOTIFYed on USER_NOTICES_CHANNEL, and
 * every other instance hands it to its own sockets of that user. The payload is the socket message itself (a notice
 * is a few hundred bytes, far under NOTIFY's 8000), so no instance reads it back. A notice missed while an instance's
 * listening connection was down is still in the bell's list (`GET /api/notifications`).
 */
import { USER_NOTICES_CHANNEL, type Coordination } from '../db/repository.js';
import type { Logger } from '../logger.js';

type Deliver = (userId: string, message: Record<string, unknown>) => void;

/** `deliverHere` on this instance, and on the others through the database. Returns the deliver and the stop. */
export async function deliverEverywhere(
  coordination: Coordination | null,
  instanceId: string,
  deliverHere: Deliver,
  log: Logger,
): Promise<{ deliver: Deliver; stop: () => Promise<void> }> {
  if (!coordination) return { deliver: deliverHere, stop: async () => undefined };
  const stop = await coordination.listen(USER_NOTICES_CHANNEL, (payload) => {
    if (payload === '') return; // the listening connection came back: what it missed is in the bell's list
    try {
      const notice = JSON.parse(payload) as { from: string; userId: string; message: Record<string, unknown> };
      if (notice.from !== instanceId) deliverHere(notice.userId, notice.message);
    } catch (error) {
      log.warn({ err: error }, 'a notice from another instance could not be read');
    }
  });
  return {
    deliver(userId, message) {
      deliverHere(userId, message);
      void coordination.notify(USER_NOTICES_CHANNEL, JSON.stringify({ from: instanceId, userId, message }));
    },
    stop,
  };
}
