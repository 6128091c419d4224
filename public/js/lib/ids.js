/** The ids the server hands out, checked before they go into a request (the server checks them again), and the ids the app makes. */

/** A project or game UUID, in either case as the server accepts it. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A published game's public id. */
export const GAME_PUBLIC_ID_PATTERN = /^g_[A-Za-z0-9]{10}$/;

/**
 * A new id (a UUID v4), such as a chat message's: `crypto.randomUUID` needs a secure context, which a self-hosted server reached over
 * plain http on the local network is not; `getRandomValues` works everywhere.
 */
export function newUuid() {
  if (typeof crypto.randomUUID === 'function' && globalThis.isSecureContext) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
