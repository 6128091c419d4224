/**
 * What is specific to the Modal backend (the conformance suite covers the contract): one sandbox per user however
 * many first calls race, transparent replacement of a dead sandbox, attaching to a sandbox another process made,
 * symlink escapes to the same user's other project or asset space, sandbox death during a run, and the RPC cost of
 * the common operations. All through the real SDK against the emulator.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withReadCache } from '@dreamcore/runtime-core';
import { CONFORMANCE_GAME, expectCode } from '@dreamcore/runtime-core/conformance';
import { emulatorPrerequisites } from '../src/emulator/index.js';
import { MOUNT, type ModalBackend } from '../src/index.js';
import { helperOf, readLines as readLinesInto } from '../src/client.js';
import { sh, useEmulatedBackends } from './support/emulated.js';

const lane = emulatorPrerequisites().ok ? describe : describe.skip;

/**
 * Counts the processes started in a user's sandbox while `fn` runs. The sandbox's last process id (/proc/loadavg, per
 * PID namespace): ids are handed out in order, so the difference between two readings is the number of processes
 * started in between, less the reading's own exec (measured first).
 */
async function processCounter(b: ModalBackend, userId: string) {
  const lastPid = async () => Number((await sh(b, userId, 'cat /proc/loadavg')).trim().split(/\s+/)[4]);
  const started = async (fn: () => Promise<unknown>) => {
    const before = await lastPid();
    await fn();
    return (await lastPid()) - before;
  };
  const reading = await started(async () => undefined);
  expect(reading).toBeGreaterThan(0);
  return async (fn: () => Promise<unknown>) => (await started(fn)) - reading;
}

lane('Modal backend specifics (emulator)', () => {
  const { emulator, model, make } = useEmulatedBackends('specifics');

  it('concurrent first calls for one user create exactly one sandbox', async () => {
    const b = make();
    const userId = randomUUID();
    emulator().resetCounts();
    const scopes = Array.from({ length: 6 }, () => ({ userId, projectId: randomUUID() }));
    await Promise.all([b.prewarm({ userId }), ...scopes.map((s) => b.files.write(s, 'index.html', s.projectId)), b.files.listProjects({ userId })]);
    expect(emulator().rpcCounts().SandboxCreateV2).toBe(1);
    expect(await b.files.listProjects({ userId })).toEqual(scopes.map((s) => s.projectId).sort());
  });

  it('a terminated sandbox is replaced transparently and the data is still there', async () => {
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'kept');
    await b.git.init(scope);
    const first = await b.userSandbox(scope.userId);
    await first.terminate();
    expect(await b.files.readText(scope, 'index.html')).toBe('kept');
    const second = await b.userSandbox(scope.userId);
    expect(second.sandboxId).not.toBe(first.sandboxId);
    // git, too, after another death.
    await second.terminate();
    expect((await b.git.log(scope)).commits).toHaveLength(1);
  });

  it('a second backend (another server process) attaches to the running sandbox by name', async () => {
    const a = make();
    const b = make({ terminateOnClose: false });
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await a.files.write(scope, 'index.html', 'from a');
    emulator().resetCounts();
    expect(await b.files.readText(scope, 'index.html')).toBe('from a');
    const counts = emulator().rpcCounts();
    expect(counts.SandboxGetFromNameV2).toBe(1);
    expect((await a.userSandbox(scope.userId)).sandboxId).toBe((await b.userSandbox(scope.userId)).sandboxId);
  });

  it("symlinks to the same user's other project, the asset space or the volume root are refused", async () => {
    const b = make();
    const userId = randomUUID();
    const mine = { userId, projectId: randomUUID() };
    const sibling = { userId, projectId: randomUUID() };
    const assets = { userId, assets: true as const };
    await b.files.write(mine, 'index.html', 'mine');
    await b.files.write(sibling, 'index.html', 'sibling');
    await b.files.write(assets, 'hero_00000000.png', 'png');
    const root = `${MOUNT.volume}/projects/${mine.projectId}`;
    await sh(
      b,
      userId,
      `ln -s ${MOUNT.volume}/projects/${sibling.projectId} ${root}/to-sibling; ln -s ../${sibling.projectId} ${root}/rel-sibling; ` +
        `ln -s ${MOUNT.volume}/assets ${root}/to-assets; ln -s ${MOUNT.volume} ${root}/to-vol; ln -s ../../assets/hero_00000000.png ${root}/hero.png; ` +
        `ln -s ${MOUNT.volume}/projects/${mine.projectId}-x ${root}/prefix-trick; ln -s loop-b ${root}/loop-a; ln -s loop-a ${root}/loop-b`,
    );
    // A symlink loop is refused as a typed error too (not a raw ELOOP).
    for (const op of ['read', 'stat', 'exists', 'list'] as const) {
      await expectCode((b.files[op] as (s: typeof mine, p: string) => Promise<unknown>)(mine, 'loop-a/x'), 'ACCESS_DENIED');
    }
    for (const through of [
      'to-sibling/index.html',
      'rel-sibling/index.html',
      'to-assets/hero_00000000.png',
      'to-vol/assets',
      'hero.png',
      'to-sibling',
      'prefix-trick',
    ]) {
      await expectCode(b.files.read(mine, through), 'ACCESS_DENIED');
      await expectCode(b.files.write(mine, through, 'pwned'), 'ACCESS_DENIED');
      await expectCode(b.files.write(mine, `${through}/new.txt`, 'pwned'), 'ACCESS_DENIED', 'CONFLICT');
      await expectCode(b.files.delete(mine, through), 'ACCESS_DENIED');
      await expectCode(b.files.list(mine, through), 'ACCESS_DENIED');
    }
    expect(await b.files.readText(sibling, 'index.html')).toBe('sibling');
    expect(await b.files.readText(assets, 'hero_00000000.png')).toBe('png');
    expect(await b.files.readText(mine, 'index.html')).toBe('mine');
  });

  it('a sandbox that dies during a run ends it with SANDBOX_ERROR, and the next call gets a new sandbox', async () => {
    const b = make();
    model().setScript([{ text: 'Working...', fault: { hang: true } }]);
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'README.md', 'x');
    const run = b.runClaude({ scope, prompt: 'take forever' });
    const events = [];
    for await (const event of run) {
      events.push(event);
      if (event.type === 'status' && event.status === 'requesting') await (await b.userSandbox(scope.userId)).terminate();
    }
    expect(events.at(-1)).toMatchObject({ type: 'error', error: { code: 'SANDBOX_ERROR' } });
    await expectCode(run.result, 'SANDBOX_ERROR');
    expect(await b.files.readText(scope, 'README.md')).toBe('x');
  }, 60_000);

  it("the agent runs as its own uid; the project dir and .git are root's again after it, .git intact", async () => {
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'x');
    await b.git.init(scope);
    const commands = ['id -u', 'mv .git .moved-git && echo moved', 'touch made-by-agent', 'setsid sleep 300 > /dev/null 2>&1 < /dev/null & echo detached'];
    model().setScript((_req, ctx) =>
      ctx.turnIndex < commands.length
        ? { text: `step ${ctx.turnIndex}`, toolUses: [{ name: 'Bash', input: { command: commands[ctx.turnIndex], description: 'x' } }] }
        : { text: 'done' },
    );
    const events = [];
    for await (const event of b.runClaude({ scope, prompt: 'go' })) events.push(event);
    const outputs = events.flatMap((e) => (e.type === 'tool_result' ? [e.content] : []));
    expect(Number(outputs[0])).toBeGreaterThanOrEqual(10_000);
    expect(outputs[1]).toContain('moved'); // the agent could move it (it owns the project dir); the backend put it back
    expect((await b.git.verify(scope)).ok).toBe(true);
    expect((await b.files.list(scope)).map((e) => e.path)).toEqual(['index.html', 'made-by-agent']);
    // Between runs no other project's agent can enter the project (0700 root, even with the same uid), nor change .git;
    // the files stay the agent's (see the next case).
    const project = `${MOUNT.volume}/projects/${scope.projectId}`;
    expect((await sh(b, scope.userId, `stat -c '%U %a' ${project}`)).trim()).toBe('root 700');
    expect((await sh(b, scope.userId, `find ${project}/.git -printf '%u\\n' | sort -u`)).trim()).toBe('root');
    expect((await sh(b, scope.userId, `stat -c %u ${project}/made-by-agent`)).trim()).toBe(outputs[0]!.trim());
    // Nothing the agent started outlives the run, not even a process in a session of its own.
    expect(outputs[3]).toContain('detached');
    expect(await sh(b, scope.userId, `pgrep -U ${outputs[0]!.trim()} || true`)).toBe('');
  }, 60_000);

  it("a run's volume commit carries only what changed: ownership is not churned per run", async () => {
    // Before: every run gave the whole tree to the agent's uid and back to root, so every file's entry changed and each
    // run's `sync` re-committed the whole project. Seen here in the volume's committed state: a file a commit carries
    // is written there anew (a new inode); one it does not carry keeps its inode.
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'x');
    await b.files.write(scope, 'game.js', 'let score = 0;');
    await b.git.init(scope);
    const run = async (file: string) => {
      model().setScript([{ text: 'Writing.', toolUses: [{ name: 'Write', input: { file_path: file, content: 'made\n' } }] }, { text: 'Done.' }]);
      const events = [];
      for await (const event of b.runClaude({ scope, prompt: `make ${file}` })) events.push(event);
      expect(events.at(-1)).toMatchObject({ type: 'result' });
    };
    await run('a.txt');
    const committed = emulator().volumePath(`dreamcore-user-${scope.userId}`)!;
    const inode = (file: string) => statSync(path.join(committed, 'projects', scope.projectId, file)).ino;
    const before = { index: inode('index.html'), game: inode('game.js'), a: inode('a.txt'), head: inode('.git/HEAD') };
    await run('b.txt');
    expect(readFileSync(path.join(committed, 'projects', scope.projectId, 'b.txt'), 'utf8')).toBe('made\n');
    expect({ index: inode('index.html'), game: inode('game.js'), a: inode('a.txt'), head: inode('.git/HEAD') }).toEqual(before);
    // A file the backend wrote since is the agent's at the next run (it may edit it), and only it is carried again.
    await b.files.write(scope, 'game.js', 'let score = 1;');
    const game = inode('game.js');
    await run('c.txt');
    expect(inode('index.html')).toBe(before.index);
    expect(inode('game.js')).not.toBe(game);
    const agent = (await sh(b, scope.userId, `stat -c %u ${MOUNT.volume}/projects/${scope.projectId}/game.js`)).trim();
    expect(Number(agent)).toBeGreaterThanOrEqual(10_000);
  }, 60_000);

  it('renderVideo runs in a render sandbox of its own, one per render, ended after; the user sandbox sees the movie at once', async () => {
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', CONFORMANCE_GAME);
    const userSandbox = (await b.userSandbox(scope.userId)).sandboxId;
    const client = await b.modalClient();
    const before = emulator().runningSandboxes();
    let during: string[] | undefined;
    let tagged: Promise<string[]> | undefined;
    emulator().resetCounts();
    const result = await b.renderVideo({
      scope,
      width: 160,
      height: 90,
      fps: 10,
      durationSeconds: 1,
      onProgress: () => {
        // The first report comes from the renderer itself, well before it ends.
        if (during) return;
        during = emulator()
          .runningSandboxes()
          .filter((id) => !before.includes(id));
        tagged = (async () => {
          const ids: string[] = [];
          for await (const sandbox of client.sandboxes.list({ tags: { app: 'dreamcore', role: 'render', user: scope.userId } })) ids.push(sandbox.sandboxId);
          return ids;
        })();
      },
    });
    expect(during).toHaveLength(1);
    expect(await tagged).toEqual(during);
    const counts = emulator().rpcCounts();
    expect(counts.SandboxCreateV2).toBe(1);
    expect(counts.SandboxTerminateV2).toBeGreaterThanOrEqual(1);
    // Torn down once the result was committed; the user's sandbox is the same one and reads the new files.
    expect(emulator().runningSandboxes()).not.toContain(during![0]);
    expect((await b.userSandbox(scope.userId)).sandboxId).toBe(userSandbox);
    expect((await b.files.stat(scope, 'movie.mp4')).size).toBe(result.movie.size);
    expect((await b.files.list(scope)).map((e) => e.path)).toEqual(['index.html', 'movie.mp4', 'thumbnail.webp']);
  }, 120_000);

  it("writes and bundle imports do not wait for the sandbox's entrypoint: the scratch folder is made when missing", async () => {
    // On a new sandbox the first command can run before the entrypoint has made /vol/.tmp (seen as "Directory
    // nonexistent" in the conformance suite); removing it here is that moment, made certain.
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'x');
    await b.git.init(scope);
    const bundle = await b.git.exportBundle(scope);
    await sh(b, scope.userId, `rm -rf ${MOUNT.volume}/.tmp`);
    await b.files.write(scope, 'index.html', 'y');
    expect(await b.files.readText(scope, 'index.html')).toBe('y');
    expect((await sh(b, scope.userId, `stat -c %a ${MOUNT.volume}/.tmp`)).trim()).toBe('700');
    await sh(b, scope.userId, `rm -rf ${MOUNT.volume}/.tmp`);
    const copy = { userId: scope.userId, projectId: randomUUID() };
    await b.git.importBundle(copy, bundle);
    expect(await b.files.readText(copy, 'index.html')).toBe('x');
  });

  it('a warm operation costs one RPC: files and git through the command helper', async () => {
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'v0');
    await b.git.init(scope);
    const cost = async (fn: () => Promise<unknown>) => {
      emulator().resetCounts();
      await fn();
      return emulator().rpcCounts();
    };
    // One TaskExecStdinWrite each: the request to the helper; the answer comes on its stdout, already being read.
    const one = { TaskExecStdinWrite: 1 };
    expect(await cost(() => b.files.write(scope, 'a.txt', 'x'))).toEqual(one);
    expect(await cost(() => b.files.readText(scope, 'a.txt'))).toEqual(one);
    expect(await cost(() => b.files.stat(scope, 'a.txt'))).toEqual(one);
    expect(await cost(() => b.files.exists(scope, 'a.txt'))).toEqual(one);
    expect(await cost(() => b.files.list(scope))).toEqual(one);
    expect(await cost(() => b.files.listProjects({ userId: scope.userId }))).toEqual(one);
    expect(await cost(() => b.git.commit(scope, 'c'))).toEqual(one);
    expect(await cost(() => b.git.log(scope))).toEqual(one);
    // What a remix does per version and per file: the probe, the version's resolution and the read go together.
    const [head] = (await b.git.log(scope)).commits;
    let listed: string[] = [];
    expect(await cost(async () => (listed = await b.git.listAt(scope, head!.shortHash)))).toEqual(one);
    expect(listed).toEqual(['a.txt', 'index.html']);
    let bytes: Uint8Array = new Uint8Array();
    expect(await cost(async () => (bytes = await b.git.readAt(scope, head!.shortHash, 'a.txt')))).toEqual(one);
    expect(new TextDecoder().decode(bytes)).toBe('x');
    // A commit and the history page after it (`log` option): one request, one RPC (two calls: two).
    await b.files.write(scope, 'c2.txt', 'y');
    let page: unknown;
    expect(await cost(async () => (page = (await b.git.commit(scope, 'c2', { log: { limit: 20 } })).log))).toEqual(one);
    expect(page).toEqual(await b.git.log(scope, { limit: 20 }));
    expect(await cost(() => b.files.delete(scope, 'a.txt'))).toEqual(one);
    expect((await b.git.log(scope)).commits.map((c) => c.message.trim())).toEqual(['c2', 'c', 'Initial commit']);
    // A new game as the server makes it: index.html written, then its repository and first commit, one request each
    // (the init was five before: probe, init, add, commit, rev-parse). On a project that has one: refused, then HEAD.
    const fresh = { userId: scope.userId, projectId: randomUUID() };
    await b.files.write(fresh, 'index.html', 'new game');
    let created: { created: boolean; head: string } | undefined;
    expect(await cost(async () => (created = await b.git.init(fresh, { message: 'Initial project setup' })))).toEqual(one);
    expect((await b.git.log(fresh)).commits.map((c) => [c.hash, c.message.trim()])).toEqual([[created!.head, 'Initial project setup']]);
    expect(await b.git.readAt(fresh, created!.head, 'index.html')).toEqual(new TextEncoder().encode('new game'));
    let again: { created: boolean; head: string } | undefined;
    expect(await cost(async () => (again = await b.git.init(fresh)))).toEqual({ TaskExecStdinWrite: 2 });
    expect(again).toEqual({ created: false, head: created!.head });
    // A repository without commits (a `git init` cut short before its commit): refused, HEAD, then the first commit.
    const bare = { userId: scope.userId, projectId: randomUUID() };
    await b.files.write(bare, 'index.html', 'bare');
    await sh(b, scope.userId, `git init -q ${MOUNT.volume}/projects/${bare.projectId}`);
    let first: { created: boolean; head: string } | undefined;
    expect(await cost(async () => (first = await b.git.init(bare)))).toEqual({ TaskExecStdinWrite: 3 });
    expect((await b.git.log(bare)).commits.map((c) => [c.hash, c.message.trim()])).toEqual([[first!.head, 'Initial commit']]);
    expect(first!.created).toBe(true);
    // An agent turn as the server makes it (run, commit, read index.html) is one RPC too: the prompt goes with the
    // request, the CLI's output streams back on the helper's stdout, and the commit and the read are steps of the same
    // request (`after`), answered with the run's end. (Before `after`: run, commit and read, 3 RPCs.)
    model().setScript([{ text: 'Writing.', toolUses: [{ name: 'Write', input: { file_path: 'b.txt', content: 'made\n' } }] }, { text: 'Done.' }]);
    const events: string[] = [];
    let turn: { version: string; html: string | null } | undefined;
    expect(
      await cost(async () => {
        const run = b.runClaude({ scope, prompt: 'make b.txt', after: { commit: { subject: 'Make b' }, read: ['index.html'] } });
        for await (const event of run) events.push(event.type);
        const { after } = await run.result;
        turn = {
          version: (after?.commit ?? (await b.git.commit(scope, 'Make b'))).hash,
          html: after?.files ? after.files['index.html']! : await b.files.readText(scope, 'index.html'),
        };
      }),
    ).toEqual(one);
    expect(events).not.toContain('error');
    expect(events.at(-1)).toBe('result');
    const [made] = (await b.git.log(scope)).commits;
    expect(made).toMatchObject({ hash: turn!.version, message: 'Make b\n\nDone.', files: ['a.txt', 'b.txt'] }); // a.txt: deleted above
    expect(turn!.html).toBe('v0');
    expect(await b.files.readText(scope, 'b.txt')).toBe('made\n');
    // Behind the server's read cache a warm read costs nothing at all.
    const cached = withReadCache(b);
    await cached.files.readText(scope, 'b.txt');
    expect(await cost(() => cached.files.readText(scope, 'b.txt'))).toEqual({});
  });

  it('the helper serves files itself: a warm read, stat, exists, list or project list starts no process; a write only `sync`', async () => {
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'v0');
    await b.git.init(scope);
    const spawned = await processCounter(b, scope.userId);
    expect(
      await spawned(async () => {
        expect(await b.files.readText(scope, 'index.html')).toBe('v0');
        expect((await b.files.stat(scope, 'index.html')).size).toBe(2);
        expect(await b.files.exists(scope, 'nope.txt')).toBe(false);
        expect((await b.files.list(scope)).map((e) => e.path)).toEqual(['index.html']);
        expect(await b.files.listProjects({ userId: scope.userId })).toEqual([scope.projectId]);
        await expectCode(b.files.readText(scope, 'nope.txt'), 'NOT_FOUND');
      }),
    ).toBe(0);
    // git's probe is the helper's too: a log page is one git process.
    expect(await spawned(() => b.git.log(scope))).toBe(1);
    // A write commits the volume: `sync /vol` is the one command it starts (the emulator's `sync` is a shell script that
    // starts `mkfifo` for its answer: 2 ids; Modal's is one process).
    expect(await spawned(() => b.files.write(scope, 'a.txt', 'x'))).toBe(2);
    expect(await spawned(() => b.files.delete(scope, 'a.txt'))).toBe(2);
    expect(await b.files.exists(scope, 'a.txt')).toBe(false);
  });

  it('an agent turn starts few processes: the run script, the CLI and two walks; the diff, cleanup and watchdog are the helper’s', async () => {
    // Each process start is paid on every turn (more under gVisor). Counted as above (the sandbox's last process id),
    // with a model that uses no tool, so what is counted is the turn's own machinery plus what the CLI starts itself.
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'v0');
    await b.git.init(scope);
    const turn = async () => {
      model().setScript([{ text: 'Nothing to do.' }]);
      const run = b.runClaude({ scope, prompt: 'hello', after: { commit: { subject: 'Hello' }, read: ['index.html'] } });
      for await (const event of run) void event;
      const { after, filesChanged } = await run.result;
      expect(after?.files?.['index.html']).toBe('v0');
      expect(filesChanged).toEqual([]);
    };
    await turn(); // the first run makes the state and skills dirs
    const spawned = await processCounter(b, scope.userId);
    // Three turns: one run in sixteen (its random marker starts with 0) also sweeps what stopped runs left behind, one
    // `find` more (35; it failed whole runs twice when one turn was counted). A process more in every turn's machinery
    // raises the least of the three; the sweep is at most one more. A sweep in all three turns: 1 in 4096.
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) counts.push(await spawned(turn));
    const started = Math.min(...counts);
    expect(Math.max(...counts) - started, `ids taken per turn: ${counts.join(', ')}`).toBeLessThanOrEqual(1);
    // 34 with the CLI this image pins, of which about 24 are the CLI's own (its git and shell probes, the same on the
    // local backend). The turn's: the script's shell, the modes walk, the before walk and its chown, the CLI's start
    // (setsid, setpriv and env exec into it), pkill, the after walk and its chown, the emulator's `sync` (its shell
    // and mkfifo; Modal's is one process). Was 39: the manifests' sort and uniq, the rm and the watchdog's subshell
    // and sleep are the helper's own steps now (`@changed`, a step's `watch`).
    expect(started, `ids taken per turn: ${counts.join(', ')}`).toBeLessThanOrEqual(34);
  }, 120_000);

  it("the helper's watch kills a started command's session at its bound and lets the command go on", async () => {
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'v0');
    const sandbox = await b.userSandbox(scope.userId);
    const helper = helperOf(sandbox)!;
    await helper.ready();
    const pidFile = `/tmp/watch-${randomUUID()}.pid`;
    // A session of its own (as the agent's CLI has), which the step waits for, then reports on and goes on after.
    const script = `setsid sh -c 'sleep 30 & wait' & pid=$!; echo $pid > ${pidFile}; wait $pid; echo "waited $?"; echo after`;
    const streamed = (await helper.spawn({ argv: ['sh', '-c', script], watch: { pidFile, afterMs: 300 } }, new Uint8Array(0), 120_000))!;
    let out = '';
    await Promise.all([readLinesInto(streamed.stdout, (line) => (out += `${line}\n`)), streamed.wait()]);
    expect(await streamed.wait()).toBe(0);
    expect(out).toBe('waited 137\nafter\n');
    expect(await sh(b, scope.userId, `pgrep -s "$(cat ${pidFile})" || true`)).toBe('');
  }, 60_000);

  it('without a helper the same in-sandbox steps run as execs (node for the helper’s own steps), with the same answers', async () => {
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'v0');
    await b.git.init(scope);
    // As on a sandbox where the helper cannot run: every command is an exec of its own from here on.
    helperOf(await b.userSandbox(scope.userId))!.close();
    emulator().resetCounts();
    await b.files.write(scope, 'dir/a.txt', 'xy');
    expect(await b.files.readText(scope, 'dir/a.txt')).toBe('xy');
    expect(await b.files.stat(scope, 'dir/a.txt')).toMatchObject({ kind: 'file', size: 2 });
    expect((await b.files.list(scope)).map((e) => `${e.path}:${e.kind}`)).toEqual(['dir:directory', 'dir/a.txt:file', 'index.html:file']);
    expect(await b.files.exists(scope, 'dir')).toBe(true);
    expect(await b.files.listProjects({ userId: scope.userId })).toEqual([scope.projectId]);
    await sh(b, scope.userId, `ln -s ../../assets ${MOUNT.volume}/projects/${scope.projectId}/out`);
    await expectCode(b.files.readText(scope, 'out/x.png'), 'ACCESS_DENIED');
    await expectCode(b.files.readText(scope, 'dir'), 'CONFLICT');
    expect((await b.git.commit(scope, 'c')).committed).toBe(true);
    expect((await b.git.log(scope)).commits.map((c) => c.message.trim())).toEqual(['c', 'Initial commit']);
    // A repository made where there is none (its first step's `absent` checked by sh), not made again where there is.
    const fresh = { userId: scope.userId, projectId: randomUUID() };
    await b.files.write(fresh, 'index.html', 'new');
    const created = await b.git.init(fresh);
    expect(created.created).toBe(true);
    expect(await b.git.init(fresh)).toEqual({ created: false, head: created.head });
    expect((await b.git.log(fresh)).commits).toHaveLength(1);
    await b.files.delete(scope, 'dir');
    await expectCode(b.files.stat(scope, 'dir/a.txt'), 'NOT_FOUND');
    expect(emulator().rpcCounts().TaskExecStdinWrite ?? 0).toBeGreaterThan(0); // a write's content goes on an exec's stdin
    expect(emulator().rpcCounts().TaskExecStart).toBeGreaterThan(10);
  });

  it('a helper that dies is replaced: the command in flight runs as an exec, the next ones through a new helper', async () => {
    const b = make();
    const scope = { userId: randomUUID(), projectId: randomUUID() };
    await b.files.write(scope, 'index.html', 'v0');
    // The helper is the sandbox's only `node -e` process.
    await sh(b, scope.userId, "pkill -KILL -f '^node -e' ; true");
    emulator().resetCounts();
    expect(await b.files.readText(scope, 'index.html')).toBe('v0');
    // Found gone before the read was sent (a new helper took it) or after (it ran as an exec, and a new helper started).
    expect(emulator().rpcCounts().TaskExecStart ?? 0).toBeLessThanOrEqual(2);
    await b.prewarm({ userId: scope.userId }); // waits for the new helper
    emulator().resetCounts();
    await b.files.write(scope, 'index.html', 'v1');
    const counts = emulator().rpcCounts();
    expect(counts.TaskExecStart).toBeUndefined();
    expect(counts.TaskExecStdinWrite).toBe(1);
    expect(await b.files.readText(scope, 'index.html')).toBe('v1');
  });
});
