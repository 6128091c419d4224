/**
 * The job event log on its own, over an in-memory store: seq numbering, resubscribe-with-last-seq, how stream
 * deltas reach the database (coalesced, every job's in one write) and that one job's bad write loses no other's.
 */
import { sameHiddenClass } from '@dreamcore/runtime-core/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JobEventLog, type JobEvent, type JobEventStore, type SharedEvents } from '../src/jobs/events.js';

type StoredRow = { jobId: string; seq: number; type: string; payload: unknown };

function memoryStore(options: { refuseJob?: string } = {}) {
  const rows: StoredRow[] = [];
  const calls: StoredRow[][] = [];
  const store: JobEventStore = {
    async appendJobEvents(events) {
      calls.push([...events]);
      // All or none, like the real store: a batch naming a refused job writes nothing.
      if (events.some((e) => e.jobId === options.refuseJob)) throw new Error(`job ${options.refuseJob} is gone`);
      rows.push(...events);
    },
    async jobEventsSince(jobId, afterSeq) {
      return rows.filter((r) => r.jobId === jobId && r.seq > afterSeq).sort((a, b) => a.seq - b.seq);
    },
  };
  return { store, rows, calls };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('job event log', () => {
  it('numbers each job’s events from 1, strictly increasing, independently per job', () => {
    const log = new JobEventLog(memoryStore().store, () => undefined);
    const a = [log.emit('a', 'started'), log.emit('a', 'stream', { content: 'x' }), log.emit('a', 'stream', { content: 'y' })];
    const b = [log.emit('b', 'started'), log.emit('b', 'progress', { progress: 10 })];
    expect(a.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(b.map((e) => e.seq)).toEqual([1, 2]);
    expect(log.lastSeq('a')).toBe(3);
  });

  it('makes every stream event with one hidden class (one per delta otherwise, in the old generation)', () => {
    const log = new JobEventLog(memoryStore().store, () => undefined);
    const events = Array.from({ length: 50 }, (_, i) => log.emit('a', 'stream', { content: `d${i}` }));
    expect(events.every((e) => sameHiddenClass(e, events[0]!))).toBe(true);
    expect(events[7]).toEqual({ type: 'stream', jobId: 'a', seq: 8, content: 'd7' });
  });

  it('a subscriber that resubscribes with the last seq it saw gets exactly what it missed, then live events', async () => {
    const log = new JobEventLog(memoryStore().store, () => undefined);
    for (const c of ['a', 'b', 'c', 'd']) log.emit('job', 'stream', { content: c });
    const seen: JobEvent[] = [];
    await log.subscribe('job', 2, (e) => seen.push(e));
    log.emit('job', 'completed');
    expect(seen.map((e) => [e.seq, e.content ?? e.type])).toEqual([
      [3, 'c'],
      [4, 'd'],
      [5, 'completed'],
    ]);
  });

  it('stream deltas are written at most once a second, every job’s in one write, consecutive deltas in one row', async () => {
    vi.useFakeTimers();
    const { store, rows, calls } = memoryStore();
    const log = new JobEventLog(store, () => undefined);
    for (let i = 0; i < 5; i++) {
      log.emit('a', 'stream', { content: `a${i}` });
      log.emit('b', 'stream', { content: `b${i}` });
    }
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
    expect(rows).toEqual([
      { jobId: 'a', seq: 1, type: 'stream', payload: { deltas: ['a0', 'a1', 'a2', 'a3', 'a4'] } },
      { jobId: 'b', seq: 1, type: 'stream', payload: { deltas: ['b0', 'b1', 'b2', 'b3', 'b4'] } },
    ]);
  });

  it('a non-stream event is written at once with the deltas before it, and replay from the database expands them', async () => {
    const { store, calls } = memoryStore();
    const log = new JobEventLog(store, () => undefined);
    log.emit('job', 'stream', { content: 'he' });
    log.emit('job', 'stream', { content: 'llo' });
    log.emit('job', 'progress', { progress: 50 });
    // At once: long before the 1-second stream flush, and without finish().
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.flat().map((r) => [r.seq, r.type])).toEqual([
      [1, 'stream'],
      [3, 'progress'],
    ]);
    log.emit('job', 'stream', { content: '!' });
    await log.finish('job');
    expect(calls.flat().map((r) => [r.seq, r.type])).toEqual([
      [1, 'stream'],
      [3, 'progress'],
      [4, 'stream'],
    ]);
    // Another log (another process after a restart) replays from the store alone.
    const fresh = new JobEventLog(store, () => undefined);
    const replayed: JobEvent[] = [];
    await fresh.subscribe('job', 1, (e) => replayed.push(e));
    expect(replayed.map((e) => [e.seq, e.type, e.content ?? e.progress])).toEqual([
      [2, 'stream', 'llo'],
      [3, 'progress', 50],
      [4, 'stream', '!'],
    ]);
  });

  it('a job whose write is refused does not cost the other jobs in the same batch their events', async () => {
    const errors: unknown[] = [];
    const { store, rows } = memoryStore({ refuseJob: 'gone' });
    const log = new JobEventLog(store, (error) => errors.push(error));
    log.emit('kept', 'stream', { content: 'safe' });
    log.emit('gone', 'stream', { content: 'lost' });
    await log.flush();
    expect(rows.map((r) => r.jobId)).toEqual(['kept']);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('gone');
  });

  it('flush resolves only once every event emitted before it is stored, even with a write already under way', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { store, rows } = memoryStore();
    const slow: JobEventStore = {
      ...store,
      appendJobEvents: async (events) => {
        await gate;
        return store.appendJobEvents(events);
      },
    };
    const log = new JobEventLog(slow, () => undefined);
    log.emit('job', 'started');
    log.emit('job', 'completed');
    let flushed = false;
    const done = log.flush().then(() => (flushed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(flushed).toBe(false);
    release();
    await done;
    expect(rows.map((r) => r.seq)).toEqual([1, 2]);
  });
});

/**
 * Several instances (shared mode): two logs over one store stand for two instances on one database; the store
 * "notifies" every log after each write, as postgres.ts's INSERT … pg_notify does on commit.
 */
function sharedStore() {
  const { store, rows } = memoryStore();
  const listeners = new Set<(jobId: string | null, lastSeq: number) => void>();
  const shared: SharedEvents = {
    async listen(onWritten) {
      listeners.add(onWritten);
      return async () => void listeners.delete(onWritten);
    },
  };
  const notifying: JobEventStore = {
    ...store,
    async appendJobEvents(events) {
      await store.appendJobEvents(events);
      const last = new Map<string, number>();
      for (const e of events) last.set(e.jobId, Math.max(last.get(e.jobId) ?? 0, e.seq));
      queueMicrotask(() => {
        for (const [jobId, seq] of last) for (const fn of listeners) fn(jobId, seq);
      });
    },
    async jobEventsAfter(after) {
      return rows.filter((r) => after.some((a) => a.jobId === r.jobId && r.seq > a.seq)).map((r) => ({ ...r, createdAt: '' }));
    },
  };
  return { store: notifying, shared, rows };
}

/**
 * `sharedStore` as postgres.ts is: a write can read in its statement (`appendJobEventsAndRead`); every round trip
 * is counted by kind.
 */
function readingSharedStore(options: { failCombined?: boolean } = {}) {
  const { store, shared, rows } = sharedStore();
  const trips = { writes: 0, reads: 0, writesWithRead: 0 };
  const counting: JobEventStore = {
    ...store,
    async appendJobEvents(events) {
      trips.writes++;
      return store.appendJobEvents(events);
    },
    async jobEventsAfter(after) {
      trips.reads++;
      return store.jobEventsAfter!(after);
    },
    async appendJobEventsAndRead(events, after) {
      trips.writesWithRead++;
      if (options.failCombined) throw new Error('connection reset');
      // The read sees what was committed before the statement: read first, then write.
      const read = await store.jobEventsAfter!(after);
      await store.appendJobEvents(events);
      return read;
    },
  };
  return { store: counting, shared, rows, trips };
}

describe('job event log, several instances on one database', () => {
  it('an event reaches no socket, here or elsewhere, before it is stored; one row per event', async () => {
    const { store, shared, rows } = sharedStore();
    const owner = new JobEventLog(store, () => undefined, { flushMs: 5, shared });
    await owner.start();
    owner.open('job');
    const local: JobEvent[] = [];
    await owner.subscribe('job', 0, (e) => local.push(e));
    owner.emit('job', 'stream', { content: 'a' });
    owner.emit('job', 'stream', { content: 'b' });
    expect(local).toEqual([]); // queued, not yet written
    await owner.flush();
    expect(local.map((e) => e.seq)).toEqual([1, 2]);
    expect(rows.map((r) => [r.seq, r.payload])).toEqual([
      [1, { deltas: ['a'] }],
      [2, { deltas: ['b'] }],
    ]);
    await owner.stop();
  });

  it('a socket on another instance streams the job live; moved to a third mid-job it gets the rest exactly once', async () => {
    const { store, shared } = sharedStore();
    const [owner, a, c] = [1, 2, 3].map(() => new JobEventLog(store, () => undefined, { flushMs: 5, shared }));
    for (const log of [owner, a, c]) await log!.start();
    owner!.open('job');
    owner!.emit('job', 'started');
    await owner!.flush();

    const onA: JobEvent[] = [];
    const leaveA = await a!.subscribe('job', 0, (e) => onA.push(e));
    for (const content of ['x', 'y', 'z']) owner!.emit('job', 'stream', { content });
    await owner!.flush();
    await vi.waitFor(() => expect(onA.map((e) => e.seq)).toEqual([1, 2, 3, 4]));
    leaveA();

    owner!.emit('job', 'stream', { content: 'missed on the move' });
    await owner!.flush();
    const onC: JobEvent[] = [];
    await c!.subscribe('job', onA.at(-1)!.seq, (e) => onC.push(e));
    owner!.emit('job', 'completed');
    await owner!.flush();
    await vi.waitFor(() => expect(onC.at(-1)?.type).toBe('completed'));
    expect([...onA, ...onC].map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(onC.map((e) => e.content ?? e.type)).toEqual(['missed on the move', 'completed']);
    for (const log of [owner, a, c]) await log!.stop();
  });

  it('an instance streaming jobs of its own reads the others’ events in its writes: one round trip per write, none for reads', async () => {
    const { store, shared, trips } = readingSharedStore();
    // A long flush window: the test writes (below) as the flush timers would, so a slow machine changes nothing.
    const [a, b] = [1, 2].map(() => new JobEventLog(store, () => undefined, { flushMs: 1000, shared }));
    for (const log of [a, b]) await log!.start();
    a!.open('job-a');
    b!.open('job-b');
    a!.emit('job-a', 'started');
    b!.emit('job-b', 'started');
    await Promise.all([a!.flush(), b!.flush()]);
    // Each follows the other's job (the catch-up read of a new subscription is its own round trip).
    const onA: JobEvent[] = [];
    const onB: JobEvent[] = [];
    await a!.subscribe('job-b', 0, (e) => onA.push(e));
    await b!.subscribe('job-a', 0, (e) => onB.push(e));
    await vi.waitFor(() => expect([onA.length, onB.length]).toEqual([1, 1]));
    const before = { ...trips };
    for (let i = 1; i <= 20; i++) {
      a!.emit('job-a', 'stream', { content: `a${i}` });
      b!.emit('job-b', 'stream', { content: `b${i}` });
      // Both write: each write carries the read of what the other wrote before it.
      await Promise.all([a!.flush(), b!.flush()]);
    }
    a!.emit('job-a', 'completed');
    b!.emit('job-b', 'completed');
    // The last reads wait for a write planned within the flush window, then go alone.
    await vi.waitFor(() => expect([onA.at(-1)?.type, onB.at(-1)?.type]).toEqual(['completed', 'completed']), { timeout: 5000 });
    expect(onA.map((e) => e.seq)).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    expect(onB.map((e) => e.content ?? e.type)).toEqual(['started', ...Array.from({ length: 20 }, (_, i) => `a${i + 1}`), 'completed']);
    // Every tail read went in a write's statement: none of their own while both instances were writing.
    expect(trips.writesWithRead - before.writesWithRead).toBeGreaterThan(0);
    expect(trips.reads - before.reads).toBeLessThanOrEqual(2); // at most the last one each, once the writes stopped
    for (const log of [a, b]) await log!.stop();
  });

  it('an instance with no job of its own reads at once, alone; a failed write-and-read still writes and reads', async () => {
    const { store, shared, trips, rows } = readingSharedStore({ failCombined: true });
    const [owner, follower] = [1, 2].map(() => new JobEventLog(store, () => undefined, { flushMs: 50, shared }));
    for (const log of [owner, follower]) await log!.start();
    owner!.open('job');
    owner!.emit('job', 'started');
    await owner!.flush();
    const seen: JobEvent[] = [];
    await follower!.subscribe('job', 0, (e) => seen.push(e));
    owner!.emit('job', 'stream', { content: 'x' });
    await owner!.flush();
    await vi.waitFor(() => expect(seen.map((e) => e.seq)).toEqual([1, 2]));
    expect(trips.writesWithRead).toBe(0); // the follower writes nothing: its reads are its own
    expect(trips.reads).toBeGreaterThanOrEqual(1);

    // The follower gets a job of its own: its planned write carries its next read, and that statement fails. Its rows
    // are then written job by job and its read made alone; nothing is written after, so no later notification could
    // make up for a read dropped there.
    follower!.open('own');
    follower!.emit('own', 'started');
    await follower!.flush();
    follower!.emit('own', 'stream', { content: 'mine' }); // plans the follower's next write, `flushMs` after that one
    owner!.emit('job', 'stream', { content: 'y' });
    await owner!.flush();
    await new Promise((resolve) => setTimeout(resolve, 5)); // the notification is in: the follower waits for its write
    expect(seen).toHaveLength(2);
    await follower!.flush();
    await vi.waitFor(() => expect(seen.map((e) => e.content ?? e.type)).toEqual(['started', 'x', 'y']));
    expect(trips.writesWithRead).toBe(1);
    expect(rows.filter((r) => r.jobId === 'own').map((r) => r.seq)).toEqual([1, 2]);
    for (const log of [owner, follower]) await log!.stop();
  });
});
