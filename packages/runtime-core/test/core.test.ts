import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BackendError,
  createError,
  errorCodeForExit,
  eventObject,
  isBackendError,
  isInside,
  KeyedMutex,
  normalizeRelativePath,
  openInsideRoot,
  resolveInsideRoot,
  RunChannel,
  runCommitMessage,
  validateFileScope,
  withReadCache,
  type AgentEvent,
} from '@dreamcore/runtime-core';
import { createMemoryBackend, sameHiddenClass } from '@dreamcore/runtime-core/testkit';
import { expectCode } from '@dreamcore/runtime-core/conformance';

describe('normalizeRelativePath', () => {
  it('accepts ordinary names, including dots inside names and non-ASCII', () => {
    for (const ok of ['index.html', 'js/game.js', '.hidden', 'a..b', '...', 'スプライト/画像.png', 'emoji 🎮.txt', 'x/.gitignore', '.github/x.yml']) {
      expect(normalizeRelativePath(ok)).toBe(ok);
    }
  });
  it('treats "" and "." as the root only when allowed', () => {
    expect(normalizeRelativePath('', { allowRoot: true })).toBe('');
    expect(normalizeRelativePath('.', { allowRoot: true })).toBe('');
    expect(() => normalizeRelativePath('')).toThrow(BackendError);
  });
  it('says why a path was refused', () => {
    try {
      normalizeRelativePath('a/../b');
      expect.unreachable();
    } catch (error) {
      expect(isBackendError(error, 'INVALID_PATH')).toBe(true);
      expect((error as BackendError).details.reason).toBe("'..' segment");
    }
  });
});

describe('isInside', () => {
  it('compares against root + sep, never a bare prefix', () => {
    expect(isInside('/data/u1', '/data/u1')).toBe(true);
    expect(isInside('/data/u1', '/data/u1/x')).toBe(true);
    expect(isInside('/data/u1', '/data/u10/x')).toBe(false);
    expect(isInside('/data/u1', '/data')).toBe(false);
  });
});

describe('resolveInsideRoot', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'scope-'));
  const root = path.join(base, 'root');
  mkdirSync(path.join(root, 'inner'), { recursive: true });
  mkdirSync(path.join(base, 'rootsibling'));
  writeFileSync(path.join(base, 'rootsibling', 'secret'), 's');
  symlinkSync(path.join(base, 'rootsibling'), path.join(root, 'prefix-trick'));
  symlinkSync('inner', path.join(root, 'inner-link'));

  it('resolves plain and not-yet-existing paths inside the root', async () => {
    expect((await resolveInsideRoot(root, 'inner/new/file.txt')).absolute).toBe(path.join(root, 'inner/new/file.txt'));
  });
  it('refuses a symlink to a sibling whose name shares the root prefix', async () => {
    await expectCode(resolveInsideRoot(root, 'prefix-trick/secret'), 'ACCESS_DENIED');
  });
  it('allows a symlink that stays inside', async () => {
    expect((await resolveInsideRoot(root, 'inner-link/x')).relative).toBe('inner-link/x');
  });
});

describe('openInsideRoot', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'open-scope-'));
  const root = path.join(base, 'root');
  mkdirSync(path.join(root, 'inner'), { recursive: true });
  writeFileSync(path.join(root, 'inner', 'game.js'), 'inside');
  writeFileSync(path.join(base, 'secret'), 'outside');
  execFileSync('mkfifo', [path.join(base, 'pipe')]);
  symlinkSync(path.join(base, 'secret'), path.join(root, 'to-secret'));
  symlinkSync(path.join(base, 'pipe'), path.join(root, 'to-pipe'));
  symlinkSync(path.join(base, 'missing'), path.join(root, 'dangling'));
  symlinkSync('inner/game.js', path.join(root, 'to-game'));
  // A warm cache is the fast path (open, then check the descriptor's own name); a cold one is the full check first.
  for (const [label, cache] of [
    ['warm root cache', () => new Map([[root, root]])],
    ['cold root cache', () => new Map<string, string>()],
  ] as const) {
    it(`${label}: opens files inside, symlinks that stay inside included`, async () => {
      for (const p of ['inner/game.js', 'to-game']) {
        const { handle, relative } = await openInsideRoot(root, p, { rootCache: cache() });
        expect((await handle.readFile()).toString()).toBe('inside');
        expect(relative).toBe(p);
        await handle.close();
      }
    });
    it(`${label}: a symlink out of the scope is ACCESS_DENIED, a FIFO behind it cannot hang the open`, async () => {
      await expectCode(openInsideRoot(root, 'to-secret', { rootCache: cache() }), 'ACCESS_DENIED');
      await expectCode(openInsideRoot(root, 'to-pipe', { rootCache: cache() }), 'ACCESS_DENIED');
      await expectCode(openInsideRoot(root, 'dangling', { rootCache: cache() }), 'ACCESS_DENIED');
      await expectCode(openInsideRoot(root, '../secret', { rootCache: cache() }), 'INVALID_PATH');
    });
    it(`${label}: a file that is not there is ENOENT, as from fs`, async () => {
      await expect(openInsideRoot(root, 'inner/none.js', { rootCache: cache() })).rejects.toMatchObject({ code: 'ENOENT' });
    });
  }
  it('a symlink swapped in after the check is caught where the file was opened', async () => {
    writeFileSync(path.join(root, 'swap'), 'inside');
    const cache = new Map([[root, root]]);
    await (await openInsideRoot(root, 'swap', { rootCache: cache })).handle.close();
    rmSync(path.join(root, 'swap'));
    symlinkSync(path.join(base, 'secret'), path.join(root, 'swap'));
    await expectCode(openInsideRoot(root, 'swap', { rootCache: cache }), 'ACCESS_DENIED');
  });
});

describe('validateFileScope', () => {
  it('normalizes a project scope and an asset scope', () => {
    const userId = '0190a4b2-0000-7000-8000-000000000001';
    const projectId = '0190a4b2-0000-7000-8000-000000000002';
    expect(validateFileScope({ userId, projectId, extra: 1 } as never)).toEqual({ userId, projectId });
    expect(validateFileScope({ userId, assets: true })).toEqual({ userId, assets: true });
    expect(() => validateFileScope({ userId, assets: false } as never)).toThrow(/asset space/);
  });
});

describe('errors', () => {
  it('carry a stable code, an HTTP status and recoverability', () => {
    const error = createError('TOO_LARGE', 'big', { details: { limit: 1 } });
    expect(error).toMatchObject({ code: 'TOO_LARGE', status: 413, recoverable: false, details: { limit: 1 } });
    expect(JSON.parse(JSON.stringify(error))).toEqual({ code: 'TOO_LARGE', message: 'big', recoverable: false, details: { limit: 1 } });
    expect(isBackendError({ name: 'BackendError', code: 'NOT_FOUND' })).toBe(true);
    expect(isBackendError(new Error('x'))).toBe(false);
    // A code named after a prototype member is not a code (an `in` check once said it was).
    for (const code of ['constructor', 'toString', '__proto__']) expect(isBackendError({ name: 'BackendError', code })).toBe(false);
  });
  it('map agent exit codes the way DreamCore clients expect', () => {
    expect(errorCodeForExit(124)).toBe('CLI_TIMEOUT');
    expect(errorCodeForExit(137)).toBe('CLI_KILLED');
    expect(errorCodeForExit(null, 'SIGKILL')).toBe('CLI_KILLED');
    expect(errorCodeForExit(143)).toBe('CLI_TERMINATED');
    expect(errorCodeForExit(1)).toBe('CLI_GENERAL_ERROR');
  });
});

describe('RunChannel', () => {
  const result = {
    exitCode: 0,
    sessionId: 's',
    text: 'ab',
    costUsd: 0,
    usage: { inputTokens: 1, outputTokens: 1, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
    durationMs: 1,
    numTurns: 1,
    filesChanged: [],
  };

  it('numbers events from 1, buffers until iterated, and ends at the single terminal event', async () => {
    const run = new RunChannel('r1');
    run.emit('started', { runId: 'r1', sessionId: null, model: null });
    run.emit('text', { delta: 'a' });
    setTimeout(() => {
      run.emit('text', { delta: 'b' });
      run.succeed(result);
      run.fail(new Error('late')); // ignored: the run already ended
      run.emit('text', { delta: 'ignored' });
    }, 5);
    const events: AgentEvent[] = [];
    for await (const event of run) events.push(event);
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'started'],
      [2, 'text'],
      [3, 'text'],
      [4, 'result'],
    ]);
    await expect(run.result).resolves.toEqual(result);
  });

  it('rejects the result with the typed error and reports it as the terminal event', async () => {
    const run = new RunChannel();
    run.fail(createError('CLI_TIMEOUT', 'too slow', { details: { exitCode: 124 } }));
    const events: AgentEvent[] = [];
    for await (const event of run) events.push(event);
    expect(events).toEqual([
      expect.objectContaining({ seq: 1, type: 'error', error: { code: 'CLI_TIMEOUT', message: 'too slow', recoverable: true, exitCode: 124 } }),
    ]);
    await expectCode(run.result, 'CLI_TIMEOUT');
  });

  it('keeps no event the consumer has taken: a long stream does not pile up in the channel', async () => {
    const run = new RunChannel();
    const held = () => (run as unknown as { buffer: AgentEvent[] }).buffer.length;
    const iterator = run[Symbol.asyncIterator]();
    run.emit('started', { runId: run.runId, sessionId: null, model: null });
    for (let i = 0; i < 100; i++) run.emit('text', { delta: String(i) });
    expect(held()).toBe(101); // not taken yet: kept
    for (let i = 0; i < 101; i++) await iterator.next();
    const next = iterator.next(); // caught up: waits for the next event
    await new Promise((resolve) => setImmediate(resolve));
    expect(held()).toBe(0);
    run.emit('text', { delta: 'more' });
    expect((await next).value).toMatchObject({ seq: 102, type: 'text', delta: 'more' });
  });

  it('gives every event of one kind one hidden class, whatever its payload (eventObject)', () => {
    // A spread followed by more properties ({ ...payload, type, seq }) makes a new hidden class per object in V8;
    // eventObject must not (its events are made once per streamed delta).
    const make = (i: number) => eventObject({ type: 'text', seq: i, t: i }, { delta: `d${i}` });
    const events = Array.from({ length: 50 }, (_, i) => make(i));
    expect(events.every((e) => sameHiddenClass(e, events[0]!))).toBe(true);
    const spread = (fields: object, i: number) => ({ ...fields, type: 'text', seq: i, t: i });
    const spreadEvents = Array.from({ length: 50 }, (_, i) => spread({ delta: `d${i}` }, i));
    expect(spreadEvents.every((e) => sameHiddenClass(e, spreadEvents[0]!))).toBe(false); // the check can tell
    // The fixed fields win over the payload's, and come first.
    expect(eventObject({ type: 'text', seq: 3 }, { seq: 99, delta: 'x' })).toEqual({ type: 'text', seq: 3, delta: 'x' });
    expect(Object.keys(eventObject({ type: 'text', seq: 3 }, { delta: 'x' }))).toEqual(['type', 'seq', 'delta']);
  });
});

describe('KeyedMutex', () => {
  it('runs tasks of one key one at a time, in order, and other keys in parallel', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([
      mutex.run('a', task('a1', 20)),
      mutex
        .run('a', async () => {
          throw new Error('a2 fails');
        })
        .catch((e: Error) => e.message),
      mutex.run('a', task('a3', 1)),
      mutex.run('b', task('b1', 1)),
    ]);
    expect(results).toEqual(['a1', 'a2 fails', 'a3', 'b1']);
    expect(log.indexOf('end b1')).toBeLessThan(log.indexOf('end a1'));
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a3'));
    expect(mutex.size).toBe(0);
  });
});

describe('withReadCache', () => {
  const scope = { userId: randomUUID(), projectId: randomUUID() };
  /** A memory backend whose reads are counted, and can be held until released. */
  function counted() {
    const inner = createMemoryBackend();
    const calls = { read: 0, list: 0 };
    let gate: Promise<void> | null = null;
    const read = inner.files.read.bind(inner.files);
    inner.files.read = async (s, p) => {
      calls.read++;
      const bytes = await read(s, p);
      await gate;
      return bytes;
    };
    const list = inner.files.list.bind(inner.files);
    inner.files.list = (...args) => {
      calls.list++;
      return list(...args);
    };
    return { inner, calls, hold: (until: Promise<void>) => void (gate = until) };
  }
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

  it('answers a warm read from memory (a copy), and every write to the scope drops what it kept', async () => {
    const { inner, calls } = counted();
    const cached = withReadCache(inner);
    await cached.files.write(scope, 'a.txt', 'one');
    const first = await cached.files.read(scope, 'a.txt');
    first[0] = 0; // a caller changing its copy changes nothing kept
    expect(text(await cached.files.read(scope, 'a.txt'))).toBe('one');
    expect(calls.read).toBe(1);
    expect(cached.readCache).toMatchObject({ hits: 1, misses: 1 });
    await cached.files.list(scope);
    await cached.files.list(scope);
    expect(calls.list).toBe(1);
    await cached.files.write(scope, 'b.txt', 'two'); // another path: the listing and a.txt both go
    expect((await cached.files.list(scope)).map((e) => e.path)).toEqual(['a.txt', 'b.txt']);
    expect(text(await cached.files.read(scope, 'a.txt'))).toBe('one');
    expect(calls).toEqual({ read: 2, list: 2 });
    await cached.files.delete(scope, 'a.txt');
    await expectCode(cached.files.read(scope, 'a.txt'), 'NOT_FOUND');
    // Another scope keeps its entries when this one is written.
    const other = { userId: scope.userId, assets: true as const };
    await cached.files.write(other, 'x.png', 'x');
    await cached.files.read(other, 'x.png');
    await cached.files.write(scope, 'c.txt', 'three');
    await cached.files.read(other, 'x.png');
    expect(calls.read).toBe(4);
    await cached.files.deleteProject(scope);
    await expectCode(cached.files.read(scope, 'b.txt'), 'NOT_FOUND');
  });

  it('returns, but does not keep, a read that was in flight while a write began or ended', async () => {
    const { inner, calls, hold } = counted();
    const cached = withReadCache(inner);
    await cached.files.write(scope, 'a.txt', 'old');
    let release!: () => void;
    hold(new Promise<void>((resolve) => (release = resolve)));
    const slow = cached.files.read(scope, 'a.txt'); // reads "old", answers after the write below
    await expect.poll(() => calls.read).toBe(1);
    hold(Promise.resolve());
    await cached.files.write(scope, 'a.txt', 'new');
    release();
    expect(text(await slow)).toBe('old');
    expect(text(await cached.files.read(scope, 'a.txt'))).toBe('new');
    expect(calls.read).toBe(2);
  });

  it('an agent run is a write in progress on its project: nothing read meanwhile is kept; its end drops the project and keeps after.files', async () => {
    const { inner, calls } = counted();
    const channels: RunChannel[] = [];
    inner.runClaude = () => {
      const run = new RunChannel();
      channels.push(run);
      return run;
    };
    const cached = withReadCache(inner);
    await cached.files.write(scope, 'index.html', 'v1');
    await cached.files.read(scope, 'index.html');
    const run = cached.runClaude({ scope, prompt: 'x' });
    const events = (async () => {
      for await (const event of run) void event;
    })();
    await inner.files.write(scope, 'index.html', 'v2 by the agent'); // the agent writes behind the cache
    expect(text(await cached.files.read(scope, 'index.html'))).toBe('v2 by the agent');
    expect(text(await cached.files.read(scope, 'index.html'))).toBe('v2 by the agent');
    expect(calls.read).toBe(3); // neither read during the run was kept
    await inner.files.write(scope, 'index.html', 'v3 by the agent');
    const result = {
      exitCode: 0,
      sessionId: null,
      text: '',
      costUsd: 0,
      usage: { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
      durationMs: 1,
      numTurns: 1,
      filesChanged: ['index.html'],
    };
    channels[0]!.succeed({ ...result, after: { files: { 'index.html': 'v3 by the agent', 'gone.txt': null } } });
    await events;
    expect(await cached.files.readText(scope, 'index.html')).toBe('v3 by the agent');
    expect(text(await cached.files.read(scope, 'index.html'))).toBe('v3 by the agent');
    expect(calls.read).toBe(3); // both from what the run read at its end
    // A run that fails drops the project too.
    const failing = cached.runClaude({ scope, prompt: 'y' });
    await inner.files.write(scope, 'index.html', 'v4');
    channels[1]!.fail(new Error('boom'));
    await expect(failing.result).rejects.toThrow();
    expect(text(await cached.files.read(scope, 'index.html'))).toBe('v4');
  });

  it('a render, an image, a restore and an import drop what they may change (they write behind the files capability)', async () => {
    const { inner } = counted();
    const assets = { userId: scope.userId, assets: true as const };
    const behind = (target: typeof scope | typeof assets, text: string) => inner.files.write(target, 'out.txt', text);
    inner.renderVideo = async () => (await behind(scope, 'rendered'), {}) as never;
    inner.generateImage = async () => (await behind(assets, 'image'), {}) as never;
    Object.assign(inner.git, {
      restore: async () => (await behind(scope, 'restored'), { committed: true, hash: 'a'.repeat(40) }),
      importBundle: async () => (await behind(scope, 'imported'), { imported: true, head: 'b'.repeat(40), refs: 1 }),
    });
    const cached = withReadCache(inner);
    await cached.files.write(scope, 'out.txt', 'before');
    await cached.files.write(assets, 'out.txt', 'before');
    const read = (target: typeof scope | typeof assets) => cached.files.readText(target, 'out.txt');
    for (const [call, target, expected] of [
      [() => cached.renderVideo({ scope }), scope, 'rendered'],
      [() => cached.generateImage({ scope: { userId: scope.userId }, prompt: 'x' }), assets, 'image'],
      [() => cached.git.restore(scope, 'abcd'), scope, 'restored'],
      [() => cached.git.importBundle(scope, new Uint8Array()), scope, 'imported'],
    ] as const) {
      await read(target); // kept
      await call();
      expect(await read(target)).toBe(expected);
    }
  });

  it('keeps at most maxBytes, dropping the least recently used', async () => {
    const { inner, calls } = counted();
    const cached = withReadCache(inner, { maxBytes: 3000, maxEntryBytes: 2000 });
    for (const name of ['a', 'b', 'c']) await cached.files.write(scope, name, 'x'.repeat(1000));
    await cached.files.read(scope, 'a');
    await cached.files.read(scope, 'b');
    await cached.files.read(scope, 'a'); // a is now the most recent
    await cached.files.read(scope, 'c'); // b goes
    expect(cached.readCache.bytes).toBeLessThanOrEqual(3000);
    const before = calls.read;
    await cached.files.read(scope, 'a');
    await cached.files.read(scope, 'c');
    expect(calls.read).toBe(before);
    await cached.files.read(scope, 'b');
    expect(calls.read).toBe(before + 1);
  });

  it('forgets a project it holds nothing for (a long-running server reads many), never under a read in flight', async () => {
    const { inner, calls, hold } = counted();
    const cached = withReadCache(inner, { maxBytes: 3000, maxEntryBytes: 2000 });
    const projects = Array.from({ length: 5 }, () => ({ userId: scope.userId, projectId: randomUUID() }));
    for (const p of projects) {
      await cached.files.write(p, 'a', 'x'.repeat(1000));
      await cached.files.read(p, 'a');
    }
    // Only what fits is kept; the projects whose entries were evicted are forgotten with them.
    expect(cached.readCache.scopes).toBe(2);
    for (const p of projects) await cached.files.delete(p, 'a');
    expect(cached.readCache.scopes).toBe(0);
    // A read in flight keeps its project's state while a write begins and ends (and drops everything) under it:
    // the slow read's old answer is returned, never kept, and the next read goes to the backend.
    const [p] = projects;
    await cached.files.write(p!, 'a', 'old');
    let release!: () => void;
    hold(new Promise<void>((resolve) => (release = resolve)));
    const slow = cached.files.read(p!, 'a');
    await expect.poll(() => calls.read).toBe(6);
    hold(Promise.resolve());
    await cached.files.write(p!, 'a', 'new');
    expect(cached.readCache.scopes).toBe(1); // held by the read
    release();
    expect(text(await slow)).toBe('old');
    expect(cached.readCache.scopes).toBe(0);
    expect(text(await cached.files.read(p!, 'a'))).toBe('new');
    expect(calls.read).toBe(7);
  });
});

describe('runCommitMessage (after.commit)', () => {
  it('the subject, then the agent reply; nothing for a run without a successful result', () => {
    expect(runCommitMessage('Make a game', { type: 'result', result: '  Done!\r\nIt works.  ' })).toBe('Make a game\n\nDone!\nIt works.');
    expect(runCommitMessage('Make a game', { type: 'result', result: '' })).toBe('Make a game');
    expect(runCommitMessage('Make a game', { type: 'result', result: `a\u0007b${'x'.repeat(3000)}` })).toBe(`Make a game\n\nab${'x'.repeat(1998)}`);
    expect(runCommitMessage('Make a game', { type: 'result', is_error: true, result: 'API error' })).toBeNull();
    expect(runCommitMessage('Make a game', null)).toBeNull();
  });
});
