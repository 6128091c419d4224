/**
 * The job event log on its own, over an in-memory store: seq numbering, resubscribe-with-last-seq, how stream
 * deltas reach the database (coalesced, every job's in one write) and that one job's bad write loses no other's.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JobEventLog, type JobEvent, type JobEventStore } from '../src/jobs/events.js';

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
