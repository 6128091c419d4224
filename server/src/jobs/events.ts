/**
 * Job events: every event of a job carries `seq`, strictly increasing per job, so a client that resubscribes
 * with the last `seq` it saw gets exactly what it missed. Events are kept in memory while a job is live and
 * written to the database (stream text coalesced per flush), so replay also works after the job ended or the
 * server restarted.
 */
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
  private readonly live = new Map<string, { events: JobEvent[]; listeners: Set<JobListener>; seq: number }>();
  /** Events not yet in the database, every job's, in the order they happened. */
  private pending: JobEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Writes run one after another, so `flush()` resolving means everything emitted before it is stored. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: JobEventStore,
    private readonly onError: (error: unknown) => void,
  ) {}

  private entry(jobId: string) {
    let e = this.live.get(jobId);
    if (!e) {
      e = { events: [], listeners: new Set(), seq: 0 };
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
    const event: JobEvent = { ...fields, type, jobId, seq: ++e.seq };
    e.events.push(event);
    this.pending.push(event);
    for (const listener of e.listeners) this.deliver(listener, event);
    if (type === 'stream') {
      this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
    } else {
      void this.flush();
    }
    return event;
  }

  /** One subscriber's failure is its own: the job and the other subscribers go on. */
  private deliver(listener: JobListener, event: JobEvent): void {
    try {
      listener(event);
    } catch (error) {
      this.onError(error);
    }
  }

  /** Writes everything queued (all jobs); resolves once it is stored. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) this.writing = this.writing.then(() => this.write(toRows(batch)));
    return this.writing;
  }

  private async write(rows: StoredRow[]): Promise<void> {
    try {
      await this.store.appendJobEvents(rows);
    } catch {
      // One bad job (say, deleted with its project mid-run) must not cost the others their events: write each
      // job's rows on its own and report only what still fails.
      const byJob = new Map<string, StoredRow[]>();
      for (const row of rows) byJob.set(row.jobId, [...(byJob.get(row.jobId) ?? []), row]);
      await Promise.all([...byJob.values()].map((jobRows) => this.store.appendJobEvents(jobRows).catch((error: unknown) => this.onError(error))));
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
      for (const event of e.events) if (event.seq > afterSeq) this.deliver(listener, event);
      e.listeners.add(listener);
      return () => e.listeners.delete(listener);
    }
    for (const event of await this.replay(jobId, afterSeq)) this.deliver(listener, event);
    return () => undefined;
  }

  async replay(jobId: string, afterSeq: number): Promise<JobEvent[]> {
    // Stream rows hold several deltas under their first seq, so read from the start and filter here.
    const rows = await this.store.jobEventsSince(jobId, 0);
    const out: JobEvent[] = [];
    for (const row of rows) {
      if (row.type === 'stream') {
        const deltas = (row.payload as unknown as StoredStream).deltas ?? [];
        deltas.forEach((content, i) => out.push({ type: 'stream', jobId, seq: row.seq + i, content }));
      } else {
        out.push({ ...(row.payload as Record<string, unknown>), type: row.type as JobEventType, jobId, seq: row.seq });
      }
    }
    return out.filter((event) => event.seq > afterSeq);
  }

  lastSeq(jobId: string): number {
    return this.live.get(jobId)?.seq ?? 0;
  }

  /** The job ended: write what is queued and drop the in-memory copy (the database has it). */
  async finish(jobId: string): Promise<void> {
    await this.flush();
    if (this.live.has(jobId)) setTimeout(() => this.live.delete(jobId), 60_000).unref(); // late resubscribes still hit memory
  }
}

/** Database rows for a batch of events: consecutive stream deltas of a job merge into one row under the first seq. */
function toRows(batch: readonly JobEvent[]): StoredRow[] {
  const rows: StoredRow[] = [];
  const lastStreamRow = new Map<string, StoredRow>();
  for (const event of batch) {
    const { type, seq, jobId, ...payload } = event;
    const last = lastStreamRow.get(jobId);
    if (type === 'stream' && last && last.seq + (last.payload as unknown as StoredStream).deltas.length === seq) {
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
