/**
 * Job events: every event of a job carries `seq`, strictly increasing per job, so a client that resubscribes
 * with the last `seq` it saw gets exactly what it missed. Events are kept in memory while a job is live and
 * written to the database (stream text coalesced per flush), so replay also works after the job ended or the
 * server restarted.
 *
 * With several instances on one database (`shared`), the database is the one stream every socket reads:
 * - an event reaches this instance's sockets only once it is written (every `flushMs`, one insert for every job), so
 *   no socket anywhere sees an event that a crash could lose, and seq stays one sequence for everyone;
 * - the write notifies (`jobId:lastSeq`, migration 007 / postgres.ts) and every other instance with a socket on that
 *   job reads the rows after what it delivered, by seq, all jobs in one query; when that instance has a write of its
 *   own planned (a job of its own streaming, so at most `flushMs` away), the read goes in that write's statement
 *   (`appendJobEventsAndRead`): under load each instance makes one round trip per `flushMs`, not one for its writes
 *   and more for its reads;
 * - each row is one event (no coalescing), so "after seq N" is an index range.
 */
import { eventObject } from '@dreamcore/runtime-core';

export type JobEventType = 'started' | 'progress' | 'stream' | 'gameCheck' | 'imagesGenerated' | 'projectRenamed' | 'completed' | 'failed' | 'cancelled';

export interface JobEvent {
  type: JobEventType;
  jobId: string;
  seq: number;
  [field: string]: unknown;
}

export type JobListener = (event: JobEvent) => void;

export interface JobEventStore {
  appendJobEvents(events: readonly { jobId: string; seq: number; type: string; payload: unknown }[]): Promise<void>;
  jobEventsSince(jobId: string, afterSeq: number): Promise<{ seq: number; type: string; payload: unknown }[]>;
  /** Shared mode: the rows after each job's seq, several jobs in one round trip. */
  jobEventsAfter?(after: readonly { jobId: string; seq: number }[]): Promise<StoredEvent[]>;
  /**
   * Shared mode: `appendJobEvents(events)` and `jobEventsAfter(after)` in one round trip. The rows read are those
   * committed before the statement began (none of `events` among them).
   */
  appendJobEventsAndRead?(
    events: readonly { jobId: string; seq: number; type: string; payload: unknown }[],
    after: readonly { jobId: string; seq: number }[],
  ): Promise<StoredEvent[]>;
}

type StoredEvent = { jobId: string; seq: number; type: string; payload: unknown };

/** Several instances: where notifications of written events come from (postgres.ts's LISTEN). */
export interface SharedEvents {
  /** `onWritten(jobId, lastSeq)` for every write by any instance; `onWritten(null)` when some may have been missed. */
  listen(onWritten: (jobId: string | null, lastSeq: number) => void): Promise<() => Promise<void>>;
}

export interface JobEventLogOptions {
  /** How often queued events are written (default 1000 ms; in shared mode this is the cross-instance latency). */
  flushMs?: number;
  shared?: SharedEvents | null;
}

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/** A socket here following a job that runs elsewhere: what it has been sent so far. */
interface RemoteSubscription {
  jobId: string;
  delivered: number;
  listener: JobListener;
  /** Still replaying its backlog: the tail reader leaves it alone. */
  catchingUp: boolean;
}

/** Stream deltas are written as one row holding consecutive deltas; replay expands them again. */
interface StoredStream {
  deltas: string[];
}

type StoredRow = { jobId: string; seq: number; type: string; payload: Record<string, unknown> };

/**
 * Stream deltas reach subscribers at once and the database at most once a second, every running job's in one
 * write: 50 jobs streaming cost one insert a second, not 50 (or one per token).
 */
const FLUSH_MS = 1000;

export class JobEventLog {
  /** `delivered`: the last seq subscribers here were sent (shared mode: written first; otherwise every emitted). */
  private readonly live = new Map<string, { events: JobEvent[]; listeners: Set<JobListener>; seq: number; delivered: number }>();
  private readonly remote = new Map<string, Set<RemoteSubscription>>();
  /**
   * Jobs with news for a remote subscription, read by the next tail read (one in flight at a time): the next write's
   * statement when one is planned and the store reads in it (`piggyback`), a read of their own otherwise.
   */
  private readonly wanted = new Set<string>();
  private reading = false;
  private readonly piggyback: boolean;
  /** A write's statement is under way (its `finally` looks at `wanted` again). */
  private writingNow = false;
  /** When this instance last emitted an event (performance.now()): it has jobs of its own streaming. */
  private lastEmitAt = -Infinity;
  private stopListening: (() => Promise<void>) | null = null;
  private readonly flushMs: number;
  private readonly shared: SharedEvents | null;
  /** Events not yet in the database, every job's, in the order they happened. */
  private pending: JobEvent[] = [];
  private timer: NodeJS.Timeout | { cancel(): void } | null = null;
  /** When the last write started (performance.now()). */
  private lastWriteAt = -Infinity;
  /** Writes run one after another, so `flush()` resolving means everything emitted before it is stored. */
  private writing: Promise<void> = Promise.resolve();
  /** The write that takes what is queued once the current one has ended (null: none planned yet). */
  private next: Promise<void> | null = null;

  constructor(
    private readonly store: JobEventStore,
    private readonly onError: (error: unknown) => void,
    options: JobEventLogOptions = {},
  ) {
    this.flushMs = options.flushMs ?? FLUSH_MS;
    this.shared = options.shared ?? null;
    this.piggyback = this.shared !== null && typeof store.appendJobEventsAndRead === 'function';
  }

  /** Shared mode: starts following the other instances' writes. */
  async start(): Promise<void> {
    if (!this.shared || this.stopListening) return;
    this.stopListening = await this.shared.listen((jobId, lastSeq) => this.written(jobId, lastSeq));
  }

  async stop(): Promise<void> {
    await this.stopListening?.();
    this.stopListening = null;
  }

  private entry(jobId: string) {
    let e = this.live.get(jobId);
    if (!e) {
      e = { events: [], listeners: new Set(), seq: 0, delivered: 0 };
      this.live.set(jobId, e);
    }
    return e;
  }

  /** Starts the in-memory log of a job that runs in this process (before anyone subscribes to it). */
  open(jobId: string): void {
    this.entry(jobId);
  }

  /** Assigns the next seq, delivers to subscribers, and queues the event for the database. */
  emit(jobId: string, type: JobEventType, fields: Record<string, unknown> = {}): JobEvent {
    const e = this.entry(jobId);
    const event: JobEvent = eventObject({ type, jobId, seq: ++e.seq }, fields);
    e.events.push(event);
    this.pending.push(event);
    this.lastEmitAt = performance.now();
    if (!this.shared) this.deliverLocal(event);
    if (type === 'stream' || (this.shared && !TERMINAL.has(type))) this.schedule();
    else void this.flush();
    return event;
  }

  /**
   * Plans the next write. Alone: `flushMs` after the first queued event (deltas reach sockets before they are stored).
   * Shared (sockets wait for the write): writes start at most every `flushMs`, and at once (once this turn's events
   * are queued) when the last one started longer ago than that, so a quiet stream does not wait for the timer.
   */
  private schedule(): void {
    if (this.timer) return;
    const wait = this.shared ? this.lastWriteAt + this.flushMs - performance.now() : this.flushMs;
    if (wait > 0) {
      this.timer = setTimeout(() => void this.flush(), wait);
    } else {
      const immediate = setImmediate(() => void this.flush());
      this.timer = { cancel: () => clearImmediate(immediate) };
    }
  }

  /** To this instance's subscribers of a job that runs here. */
  private deliverLocal(event: JobEvent): void {
    const e = this.live.get(event.jobId);
    if (!e || event.seq <= e.delivered) return;
    e.delivered = event.seq;
    for (const listener of e.listeners) this.deliver(listener, event);
  }

  /** One subscriber's failure is its own: the job and the other subscribers go on. */
  private deliver(listener: JobListener, event: JobEvent): void {
    try {
      listener(event);
    } catch (error) {
      this.onError(error);
    }
  }

  /**
   * Writes everything queued (all jobs); resolves once it is stored. While a write is under way, whatever is queued
   * meanwhile waits for it and then goes in one write, however many flushes asked (group commit): a slow database
   * makes batches bigger, never a queue of small writes that falls further and further behind.
   */
  flush(): Promise<void> {
    if (this.timer && 'cancel' in this.timer) this.timer.cancel();
    else if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) {
      this.readTail(true); // a read that waited for this write goes on its own
      return this.writing;
    }
    this.next ??= this.writing.then(async () => {
      this.next = null;
      const batch = this.pending;
      this.pending = [];
      if (batch.length === 0) return this.readTail(true);
      this.lastWriteAt = performance.now();
      // The other instances' rows this one is waiting for, read in the same statement (unless a read is under way).
      const after = this.piggyback && !this.reading ? this.takeWanted() : [];
      if (after.length > 0) this.reading = true;
      this.writingNow = true;
      try {
        const read = await this.write(toRows(batch, !this.shared), after);
        // Shared mode: sockets here get an event once it is stored (even when storing failed: they are owed it).
        if (this.shared) for (const event of batch) this.deliverLocal(event);
        this.deliverRead(read);
      } finally {
        this.writingNow = false;
        if (after.length > 0) this.reading = false;
        this.readTail();
      }
    });
    this.writing = this.next;
    return this.next;
  }

  /** Writes `rows` and, with `after`, reads in the same statement what this instance waits for. */
  private async write(rows: StoredRow[], after: readonly { jobId: string; seq: number }[]): Promise<StoredEvent[]> {
    try {
      if (after.length > 0) return await this.store.appendJobEventsAndRead!(rows, after);
      await this.store.appendJobEvents(rows);
      return [];
    } catch {
      // One bad job (say, deleted with its project mid-run) must not cost the others their events: write each
      // job's rows on its own and report only what still fails.
      const byJob = new Map<string, StoredRow[]>();
      for (const row of rows) {
        const jobRows = byJob.get(row.jobId);
        if (jobRows) jobRows.push(row);
        else byJob.set(row.jobId, [row]);
      }
      await Promise.all([...byJob.values()].map((jobRows) => this.store.appendJobEvents(jobRows).catch((error: unknown) => this.onError(error))));
      return after.length > 0 ? this.readAfter(after).catch((error: unknown) => (this.onError(error), [])) : [];
    }
  }

  /**
   * Sends every event after `afterSeq` (from memory, or from the database for jobs not live here), then
   * keeps `listener` subscribed to new ones. Returns the unsubscribe function.
   */
  async subscribe(jobId: string, afterSeq: number, listener: JobListener): Promise<() => void> {
    const e = this.live.get(jobId);
    if (e) {
      // Deliver the backlog and subscribe in one synchronous step, so nothing falls between them.
      for (const event of e.events) if (event.seq > afterSeq && event.seq <= e.delivered) this.deliver(listener, event);
      e.listeners.add(listener);
      return () => e.listeners.delete(listener);
    }
    if (!this.shared) {
      for (const event of await this.replay(jobId, afterSeq)) this.deliver(listener, event);
      return () => undefined;
    }
    // Another instance may be running it: follow the database. Registered before the backlog is read, so a write
    // notified meanwhile is read afterwards instead of lost.
    const sub: RemoteSubscription = { jobId, delivered: afterSeq, listener, catchingUp: true };
    const subs = this.remote.get(jobId) ?? new Set();
    this.remote.set(jobId, subs);
    subs.add(sub);
    const unsubscribe = () => {
      subs.delete(sub);
      if (subs.size === 0 && this.remote.get(jobId) === subs) this.remote.delete(jobId);
    };
    try {
      this.deliverRemote(sub, await this.replay(jobId, afterSeq));
    } finally {
      sub.catchingUp = false;
    }
    this.want(jobId);
    return unsubscribe;
  }

  /** Events in seq order to one remote subscription, each once; it ends with the job's terminal event. */
  private deliverRemote(sub: RemoteSubscription, events: readonly JobEvent[]): void {
    for (const event of events) {
      if (event.seq <= sub.delivered) continue;
      sub.delivered = event.seq;
      this.deliver(sub.listener, event);
      if (TERMINAL.has(event.type)) {
        this.remote.get(sub.jobId)?.delete(sub);
        return;
      }
    }
  }

  /** A notification: another instance (or this one) wrote events of `jobId` up to `lastSeq`. */
  private written(jobId: string | null, lastSeq: number): void {
    if (jobId === null) {
      for (const id of this.remote.keys()) this.wanted.add(id);
    } else {
      const subs = this.remote.get(jobId);
      if (!subs || ![...subs].some((s) => s.delivered < lastSeq)) return;
      this.wanted.add(jobId);
    }
    this.readTail();
  }

  private want(jobId: string): void {
    this.wanted.add(jobId);
    this.readTail();
  }

  /**
   * One read in flight at a time, for every job wanted meanwhile: a burst of writes costs one query. It starts once
   * the notifications that arrived together are all in `wanted` (setImmediate), not with the first of them.
   */
  private readTail(alone = false): void {
    if (this.reading || this.wanted.size === 0) return;
    if (this.piggyback && !alone) {
      // A write is planned (at most `flushMs` away) or under way (when it ends, the next one or a read takes them).
      if (this.timer !== null || this.next !== null || this.writingNow) return;
      // This instance's own jobs emitted within `flushMs`: plan the write now; it reads them (alone if nothing came).
      if (performance.now() - this.lastEmitAt < this.flushMs) return this.schedule();
    }
    this.reading = true;
    setImmediate(() => void this.readWanted());
  }

  /** What the wanted jobs' remote subscriptions need: the rows after the least any of them was sent. */
  private takeWanted(): { jobId: string; seq: number }[] {
    const after: { jobId: string; seq: number }[] = [];
    for (const jobId of this.wanted) {
      const subs = [...(this.remote.get(jobId) ?? [])].filter((s) => !s.catchingUp);
      if (subs.length > 0) after.push({ jobId, seq: Math.min(...subs.map((s) => s.delivered)) });
    }
    this.wanted.clear();
    return after;
  }

  private async readAfter(after: readonly { jobId: string; seq: number }[]): Promise<StoredEvent[]> {
    return this.store.jobEventsAfter
      ? await this.store.jobEventsAfter(after)
      : (await Promise.all(after.map(async (a) => (await this.store.jobEventsSince(a.jobId, a.seq)).map((row) => ({ ...row, jobId: a.jobId }))))).flat();
  }

  /** Rows read for remote subscriptions (in job, seq order), to those still following. */
  private deliverRead(rows: readonly StoredEvent[]): void {
    const byJob = new Map<string, JobEvent[]>();
    for (const row of rows) {
      let events = byJob.get(row.jobId);
      if (!events) byJob.set(row.jobId, (events = []));
      events.push(...expand(row.jobId, row));
    }
    for (const [jobId, events] of byJob) for (const sub of [...(this.remote.get(jobId) ?? [])]) if (!sub.catchingUp) this.deliverRemote(sub, events);
  }

  /** One read; what was wanted meanwhile goes to the next one, or to a write planned by then. */
  private async readWanted(): Promise<void> {
    try {
      const after = this.takeWanted();
      if (after.length > 0) this.deliverRead(await this.readAfter(after));
    } catch (error) {
      this.onError(error);
    } finally {
      this.reading = false;
      this.readTail();
    }
  }

  async replay(jobId: string, afterSeq: number): Promise<JobEvent[]> {
    // Stream rows hold several deltas under their first seq, so read from the start and filter here.
    const rows = await this.store.jobEventsSince(jobId, 0);
    return rows.flatMap((row) => expand(jobId, row)).filter((event) => event.seq > afterSeq);
  }

  lastSeq(jobId: string): number {
    return this.live.get(jobId)?.delivered ?? 0;
  }

  /** Drops what is queued for a job that is no longer this instance's (its terminal event was written by another). */
  discard(jobId: string): void {
    this.pending = this.pending.filter((event) => event.jobId !== jobId);
  }

  /** The job ended: write what is queued and drop the in-memory copy (the database has it). */
  async finish(jobId: string): Promise<void> {
    await this.flush();
    if (this.live.has(jobId)) setTimeout(() => this.live.delete(jobId), 60_000).unref(); // late resubscribes still hit memory
  }
}

/** One stored row as the events it holds (a stream row holds consecutive deltas under its first seq). */
function expand(jobId: string, row: { seq: number; type: string; payload: unknown }): JobEvent[] {
  if (row.type === 'stream') {
    const deltas = (row.payload as StoredStream | null)?.deltas ?? [];
    return deltas.map((content, i) => ({ type: 'stream', jobId, seq: row.seq + i, content }));
  }
  return [eventObject({ type: row.type as JobEventType, jobId, seq: row.seq }, row.payload as Record<string, unknown>)];
}

/**
 * Database rows for a batch of events: with `merge`, consecutive stream deltas of a job merge into one row under the
 * first seq (one instance: fewer rows); without, one row per event (shared: readers ask for "after seq N").
 */
function toRows(batch: readonly JobEvent[], merge: boolean): StoredRow[] {
  const rows: StoredRow[] = [];
  const lastStreamRow = new Map<string, StoredRow>();
  for (const event of batch) {
    const { type, seq, jobId, ...payload } = event;
    const last = lastStreamRow.get(jobId);
    if (merge && type === 'stream' && last && last.seq + (last.payload as unknown as StoredStream).deltas.length === seq) {
      (last.payload as unknown as StoredStream).deltas.push(String(payload.content ?? ''));
      continue;
    }
    const row: StoredRow = type === 'stream' ? { jobId, seq, type, payload: { deltas: [String(payload.content ?? '')] } } : { jobId, seq, type, payload };
    rows.push(row);
    if (type === 'stream') lastStreamRow.set(jobId, row);
    else lastStreamRow.delete(jobId);
  }
  return rows;
}
