/** The ids the server hands out, checked before they go into a request (the server checks them again). */

/** A project or game UUID, in either case as the server accepts it. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A published game's public id. */
export const GAME_PUBLIC_ID_PATTERN = /^g_[A-Za-z0-9]{10}$/;
