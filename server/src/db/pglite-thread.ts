/**
 * PGlite on its own worker thread (pglite-worker.mjs), seen from the server's thread: the same query / exec /
 * transaction calls as a PGlite instance, answered by messages. Queries are still serialised (PGlite is one
 * connection), but none of them runs on the thread that serves HTTP and WebSocket traffic.
 */
import { Worker } from 'node:worker_threads';
import { createError } from '@dreamcore/runtime-core';
import type { Row } from './rows.js';

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: { message: string; code?: string; [field: string]: unknown };
}

/** A PostgreSQL error from the worker, with its fields (`code`, `detail`, …) as PGlite reported them. */
export class DatabaseThreadError extends Error {
  readonly code: string | undefined;
  readonly fields: Record<string, unknown>;
  constructor(fields: NonNullable<Reply['error']>) {
    super(fields.message);
    this.name = 'DatabaseError';
    this.code = typeof fields.code === 'string' ? fields.code : undefined;
    this.fields = fields;
  }
}

export class PgliteThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private stopped: Error | null = null;

  private constructor() {
    // No inherited loader flags (tsx, --conditions): the worker is plain JavaScript and starts faster without them.
    this.worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), { execArgv: [] });
    // Idle, the database does not keep the process alive; a request in flight does (see call()).
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(new DatabaseThreadError(reply.error!));
    });
    const stop = (error: Error) => {
      this.stopped ??= error;
      for (const waiter of this.pending.values()) waiter.reject(this.stopped);
      this.pending.clear();
    };
    this.worker.on('error', (error) => stop(createError('UNAVAILABLE', `the embedded database thread failed: ${error.message}`, { cause: error })));
    this.worker.on('exit', (code) => stop(createError('UNAVAILABLE', `the embedded database thread stopped (exit code ${code})`)));
  }

  /** Starts the thread and opens the database in `dataDir` (in memory without one). */
  static async open(dataDir: string | undefined): Promise<PgliteThread> {
    const thread = new PgliteThread();
    try {
      await thread.call({ op: 'open', dataDir });
    } catch (error) {
      await thread.worker.terminate();
      throw error;
    }
    return thread;
  }

  private call<T>(message: Record<string, unknown>): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  query(sql: string, params?: unknown[]): Promise<Row[]> {
    return this.call({ op: 'query', sql, params });
  }

  /** Runs one or more statements without parameters (simple query protocol). */
  async exec(sql: string): Promise<void> {
    await this.call({ op: 'exec', sql });
  }

  /** Runs the statements in one transaction, in one round trip; resolves to the last statement's rows. */
  transaction(statements: { sql: string; params?: unknown[] }[]): Promise<Row[]> {
    return this.call({ op: 'transaction', statements });
  }

  /**
   * A transaction whose statements depend on earlier results: `fn` queries inside it; it commits when `fn`
   * resolves and rolls back when it throws. The database serves nothing else meanwhile, so keep `fn` short.
   */
  async interactive<T>(fn: (query: (sql: string, params?: unknown[]) => Promise<Row[]>) => Promise<T>): Promise<T> {
    const txId = await this.call<number>({ op: 'begin' });
    let result: T;
    try {
      result = await fn((sql, params) => this.call({ op: 'txQuery', txId, sql, params }));
    } catch (error) {
      await this.call({ op: 'end', txId, commit: false }).catch(() => undefined);
      throw error;
    }
    await this.call({ op: 'end', txId, commit: true });
    return result;
  }

  /** Closes the database (its files are consistent afterwards) and ends the thread. */
  async close(): Promise<void> {
    if (!this.stopped) await this.call({ op: 'close' }).catch(() => undefined);
    this.worker.ref(); // idle, it is unref'd: keep the process up until the thread has ended
    await this.worker.terminate();
  }
}
