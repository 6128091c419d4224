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
