/**
 * Live published games by id, looked up once every few seconds rather than once per file: a game page pulls many
 * files. Publishing, updating or unpublishing in this process forgets the game at once, so its owner and players see
 * the change on the next request (another server instance sees it when its entry expires).
 */
import type { ServiceRepository, PublishedGameRecord } from '../db/repository.js';

const CACHE_MS = 5_000;
const MAX_ENTRIES = 1000;

export class PublicGames {
  private readonly cache = new Map<string, { game: PublishedGameRecord | null; expires: number }>();

  constructor(private readonly db: Pick<ServiceRepository, 'getPublicGame'>) {}

  /** The live public or unlisted game with this UUID or `g_` id, or null. */
  async get(id: string): Promise<PublishedGameRecord | null> {
    const now = Date.now();
    const hit = this.cache.get(id);
    if (hit && hit.expires > now) return hit.game;
    const game = await this.db.getPublicGame(id);
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    this.cache.set(id, { game, expires: now + CACHE_MS });
    return game;
  }

  /** Drops what is known of a game (by either of its ids) after it was published, updated or hidden. */
  forget(game: Pick<PublishedGameRecord, 'id' | 'publicId'>): void {
    this.cache.delete(game.id);
    this.cache.delete(game.publicId);
  }
}
