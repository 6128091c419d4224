/**
 * An append-only byte log that readers follow by offset, the model behind Modal's stdio RPCs: a reader asks for
 * "everything from offset N", gets what exists, then waits for more until the writer closes. Offsets make reads
 * resumable, which is what the SDK relies on when it retries a dropped stream.
 */

/** Largest chunk sent in one stream message (gRPC messages are bounded; 1 MiB keeps them small). */
const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface OutputChunk {
  /** Offset of `data[0]` in the whole stream. */
  readonly offset: number;
  readonly data: Buffer;
}

export class OutputBuffer {
  private chunks: Buffer[] = [];
  /** Stream offset of each chunk's first byte. */
  private starts: number[] = [];
  /** Offset of chunks[0]: bytes before it were dropped by the retention cap. */
  private base = 0;
  private retained = 0;
  private ended = false;
  private waiters = new Set<() => void>();

  /** @param retainBytes keep at most this many recent bytes (Modal keeps only the tail of sandbox-level stdio). */
  constructor(private readonly retainBytes = Number.POSITIVE_INFINITY) {}

  get length(): number {
    return this.base + this.retained;
  }

  get closed(): boolean {
    return this.ended;
  }

  push(data: Buffer): void {
    if (this.ended || data.length === 0) return;
    this.starts.push(this.length);
    this.chunks.push(data);
    this.retained += data.length;
    while (this.retained > this.retainBytes && this.chunks.length > 1) {
      const dropped = this.chunks.shift()!;
      this.starts.shift();
      this.base += dropped.length;
      this.retained -= dropped.length;
    }
    this.wake();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.wake();
  }

  /**
   * Yields chunks from `offset` on (or from the oldest retained byte if that was dropped) until the buffer is
   * closed and drained, or `signal` aborts.
   */
  async *read(offset: number, signal?: AbortSignal): AsyncGenerator<OutputChunk> {
    let position = Math.max(0, offset);
    while (!signal?.aborted) {
      if (position < this.base) position = this.base;
      if (position < this.length) {
        const data = this.slice(position, Math.min(this.length, position + MAX_MESSAGE_BYTES));
        yield { offset: position, data };
        position += data.length;
        continue;
      }
      if (this.ended) return;
      await this.changed(signal);
    }
  }

  private slice(from: number, to: number): Buffer {
    // Chunk i starts at base + (sum of earlier lengths); find the first chunk that ends after `from` by binary
    // search over the running offsets, so following a long-running process's output stays linear overall.
    let low = 0;
    let high = this.chunks.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.starts[mid]! + this.chunks[mid]!.length <= from) low = mid + 1;
      else high = mid;
    }
    const parts: Buffer[] = [];
    for (let i = low; i < this.chunks.length; i++) {
      const start = this.starts[i]!;
      if (start >= to) break;
      const chunk = this.chunks[i]!;
      parts.push(chunk.subarray(Math.max(0, from - start), Math.min(chunk.length, to - start)));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private changed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
