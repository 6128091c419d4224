/**
 * Sliding-window rate limiting per key (connection, user or IP), in memory: it guards one process, which is what
 * a single DreamCore server is. Old keys are dropped as their windows pass.
 */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Records a hit for `key`; false when the key is over its limit (the hit is not counted then). */
  take(key: string, now = Date.now()): boolean {
    const since = now - this.windowMs;
    const list = (this.hits.get(key) ?? []).filter((t) => t > since);
    if (list.length >= this.limit) {
      this.hits.set(key, list);
      return false;
    }
    list.push(now);
    this.hits.set(key, list);
    if (this.hits.size > 10_000) this.sweep(now);
    return true;
  }

  /** Seconds until `key` may try again. */
  retryAfter(key: string, now = Date.now()): number {
    const list = this.hits.get(key) ?? [];
    return list.length < this.limit ? 0 : Math.ceil((list[0]! + this.windowMs - now) / 1000);
  }

  private sweep(now: number): void {
    for (const [key, list] of this.hits) if (list.every((t) => t <= now - this.windowMs)) this.hits.delete(key);
  }
}

/** A per-user limit as the handlers see it: in memory (one instance) or in the database (several, migration 007). */
export interface UserLimiter {
  take(key: string): Promise<boolean>;
}

export function memoryUserLimiter(limit: number, windowMs: number): UserLimiter {
  const limiter = new RateLimiter(limit, windowMs);
  return { take: async (key) => limiter.take(key) };
}

/**
 * A token bucket: `capacity` frames at once, refilled at `perSecond`. The WebSocket layer takes one token per
 * frame before parsing it; when the bucket is empty the socket is paused until the next token is due.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    now = Date.now(),
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }

  /** Takes a token; false when there is none (nothing is taken then). */
  take(now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is available (0 when one is). */
  msUntilNext(now = Date.now()): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }
}
