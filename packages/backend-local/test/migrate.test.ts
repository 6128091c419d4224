/**
 * The migration (runtime-core/migrate) end to end on real backends: a realistic data set moved local → target → local
 * with identical trees and histories, idempotent re-runs, interrupted runs that finish when started again, corruption
 * on the target found by a verify-only run, dry runs that write nothing, and a DreamCore-V2 data directory imported
 * as it is on disk (read-only).
 *
 * TARGETS is the list of middle legs: the Modal backend on the emulator joins it as `{ name: 'modal', make }`.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GIT_ENV, isBackendError, type ExecutionBackend, type ProjectScope } from '@dreamcore/runtime-core';
import { migrate, migrateCommand as migrateCli, unaddressableEntries, type MigrateEvent, type MigrateSummary } from '@dreamcore/runtime-core/migrate';
import { generateMigrationDataset, type MigrationDataset } from '@dreamcore/runtime-core/testkit';
import { createLocalBackend, scopeRoot, type LocalBackend } from '../src/index.js';

// ---------------------------------------------------------------- backends

interface Leg {
  name: string;
  /** A fresh, empty backend and how to dispose of it. */
  make(): Promise<{ backend: ExecutionBackend; dispose(): Promise<void> }>;
}

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

function freshLocal(): LocalBackend {
  return createLocalBackend({ dataDir: tempDir('dreamcore-migrate-') });
}

const localLeg: Leg = {
  name: 'local',
  async make() {
    const backend = freshLocal();
    return { backend, dispose: () => backend.close() };
  },
};

/** Middle legs of the round trip. */
const TARGETS: Leg[] = [localLeg];

// ---------------------------------------------------------------- observing backends

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Everything a user can observe through the contract: every project's full history and working tree, and the assets. */
async function describeBackend(backend: ExecutionBackend, users: string[]) {
  const out: Record<string, unknown> = {};
  for (const userId of users) {
    for (const projectId of await backend.files.listProjects({ userId })) {
      const p = { userId, projectId };
      const history = [];
      try {
        for (let skip = 0; ; skip += 500) {
          const page = await backend.git.log(p, { limit: 500, skip });
          history.push(...page.commits);
          if (!page.hasMore) break;
        }
      } catch (error) {
        if (!isBackendError(error, 'NOT_FOUND')) throw error;
      }
      out[`${userId}/${projectId}`] = { history, tree: await tree(backend, p) };
    }
    out[`${userId}/assets`] = await tree(backend, { userId, assets: true });
  }
  return out;
}

async function tree(backend: ExecutionBackend, scope: Parameters<ExecutionBackend['files']['list']>[0]) {
  const files: Record<string, string> = {};
  let entries;
  try {
    entries = await backend.files.list(scope);
  } catch (error) {
    if (isBackendError(error, 'NOT_FOUND')) return files;
    throw error;
  }
  for (const e of entries) if (e.kind !== 'directory') files[e.path] = e.kind === 'file' ? sha(await backend.files.read(scope, e.path)) : e.kind;
  return files;
}

/** Every byte and timestamp under a directory, `.git` included: proves a source was not written to. */
async function diskSnapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string) => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, entry.name);
      const st = await fs.lstat(abs);
      const rel = path.relative(root, abs);
      if (st.isDirectory()) {
        out[rel] = `dir ${st.mtimeMs}`;
        await walk(abs);
      } else {
        out[rel] = `${st.size} ${st.mtimeMs} ${st.isFile() ? sha(await fs.readFile(abs)) : await fs.readlink(abs)}`;
      }
    }
  };
  await walk(root);
  return out;
}

function expectClean(summary: MigrateSummary) {
  expect(summary.failed, JSON.stringify(summary.failed, null, 2)).toEqual([]);
  expect(summary.aborted).toBe(false);
}

/** A target that dies (throws) at the Nth write or Nth import, as a killed process would stop. */
function crashing(backend: ExecutionBackend, at: { write?: number; import?: number }): ExecutionBackend {
  let writes = 0;
  let imports = 0;
  return {
    ...backend,
    files: {
      ...backend.files,
      write: async (...args) => {
        if (++writes === at.write) throw new Error('simulated crash during a file write');
        return backend.files.write(...args);
      },
    },
    git: {
      ...backend.git,
      importBundle: async (...args) => {
        if (++imports === at.import) throw new Error('simulated crash during a history import');
        return backend.git.importBundle(...args);
      },
    },
  };
}

const gitEnv = { ...process.env, ...GIT_ENV, HOME: '/nonexistent' };
function gitIn(dir: string, args: string[], extraEnv: Record<string, string> = {}): string {
  return execFileSync('git', args, { cwd: dir, env: { ...gitEnv, ...extraEnv }, encoding: 'utf8' });
}

// ---------------------------------------------------------------- the data set

let source: LocalBackend;
let data: MigrationDataset;
let expected: Record<string, unknown>;
let sourceDisk: Record<string, string>;

beforeAll(async () => {
  source = freshLocal();
  data = await generateMigrationDataset(source, { users: 3, projectsPerUser: 3, commitsPerProject: 3 });
  expected = await describeBackend(source, data.users);
  sourceDisk = await diskSnapshot(source.dataDir);
}, 120_000);

afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** One finished migration of the data set, made once; tests that start from it get a copy of its directory. */
let migratedOnce: Promise<string> | undefined;
async function migratedCopy(): Promise<LocalBackend> {
  migratedOnce ??= (async () => {
    const target = freshLocal();
    expectClean(await migrate({ from: source, to: target, users: 'all' }));
    return target.dataDir;
  })();
  const copy = tempDir('dreamcore-migrated-');
  await fs.cp(await migratedOnce, copy, { recursive: true, preserveTimestamps: true });
  return createLocalBackend({ dataDir: copy });
}

const itemCount = () => data.projects.length + data.users.length; // projects + one asset space per user

describe('migrate', () => {
  it('the data set is what the migration must carry', async () => {
    const restored = expected[`${data.restored.userId}/${data.restored.projectId}`] as { history: { message: string }[] };
    expect(restored.history[0]!.message).toMatch(/^Restore to [0-9a-f]{7}$/);
    const empty = expected[`${data.empty.userId}/${data.empty.projectId}`] as { history: unknown[]; tree: object };
    expect(empty.history).toHaveLength(1);
    expect(empty.tree).toEqual({});
    const dirty = expected[`${data.dirty.userId}/${data.dirty.projectId}`] as { tree: Record<string, string> };
    expect(dirty.tree['.current-version']).toBeDefined();
    expect(dirty.tree['specs/game.md']).toBeUndefined();
    expect(Object.keys(expected).some((k) => /プレイヤー|キャラ/.test(JSON.stringify((expected[k] as { tree?: object }).tree ?? expected[k])))).toBe(true);
    expect(data.commits).toBeGreaterThan(25);
  });

  for (const leg of TARGETS) {
    it(`local → ${leg.name} → local: identical trees and histories; a second run copies nothing`, async () => {
      const middle = await leg.make();
      try {
        const events: MigrateEvent[] = [];
        const there = await migrate({ from: source, to: middle.backend, users: 'all', concurrency: 4, onProgress: (e) => events.push(e) });
        expectClean(there);
        expect(there).toMatchObject({ users: 3, projects: 9, assetSpaces: 3, copied: itemCount(), skipped: 0, commits: data.commits });
        expect(there.files).toBeGreaterThan(0);
        expect(there.bytes + there.historyBytes).toBeGreaterThan(1_500_000);
        expect(events[0]).toMatchObject({ type: 'plan', items: itemCount() });
        expect(events.filter((e) => e.type === 'item-done')).toHaveLength(itemCount());
        expect(events.at(-1)).toMatchObject({ type: 'done' });
        expect(await describeBackend(middle.backend, data.users)).toEqual(expected);

        const again = await migrate({ from: source, to: middle.backend, users: 'all' });
        expectClean(again);
        expect(again).toMatchObject({ copied: 0, skipped: itemCount(), files: 0, bytes: 0, commits: 0, deleted: 0 });

        const back = freshLocal();
        const home = await migrate({ from: middle.backend, to: back, users: data.users, concurrency: 2 });
        expectClean(home);
        expect(home.commits).toBe(data.commits);
        expect(await describeBackend(back, data.users)).toEqual(expected);
        expect((await back.git.verify(data.restored)).ok).toBe(true);
        migratedOnce ??= Promise.resolve(back.dataDir); // a finished migration, reused (copied) by later tests
      } finally {
        await middle.dispose();
      }
      expect(await diskSnapshot(source.dataDir)).toEqual(sourceDisk); // the source was only read
    }, 120_000);
  }

  it('dry run says what would move and writes nothing', async () => {
    const target = freshLocal();
    const plan = await migrate({ from: source, to: target, users: 'all', dryRun: true });
    expectClean(plan);
    expect(plan).toMatchObject({ dryRun: true, copied: itemCount(), commits: data.commits });
    expect(plan.files).toBeGreaterThan(data.projects.length);
    expect(await fs.readdir(target.dataDir)).toEqual([]);
  });

  it('a run killed midway finishes correctly when started again', async () => {
    const target = freshLocal();
    // 1. Aborted after three items.
    const controller = new AbortController();
    const first = await migrate({
      from: source,
      to: target,
      users: 'all',
      concurrency: 2,
      signal: controller.signal,
      onProgress: (e) => e.type === 'item-done' && e.done === 3 && controller.abort(),
    });
    expect(first.aborted).toBe(true);
    expect(first.pending).toBeGreaterThan(0);
    // 2. Crashes: one during a file write, one right after a history import, on the restarted run.
    const second = await migrate({ from: source, to: crashing(target, { write: 5, import: 2 }), users: 'all', concurrency: 3 });
    expect(second.failed.length).toBeGreaterThanOrEqual(1);
    expect(second.failed.every((f) => /simulated crash/.test(f.reason))).toBe(true);
    // 3. A half-done import left behind on disk: `main` gone, objects and the other refs still there; a lost file.
    // (one the first two runs did copy: which ones they reached depends on scheduling)
    const hasMain = (dir: string) => {
      try {
        return gitIn(dir, ['rev-parse', '--verify', '-q', 'refs/heads/main']).length > 0;
      } catch {
        return false; // no such directory yet, or no main
      }
    };
    const copied = data.projects.filter((p) => p !== data.empty && p !== data.dirty && hasMain(scopeRoot(target.dataDir, p)));
    expect(copied.length).toBeGreaterThan(0);
    const half = copied[0]!;
    gitIn(scopeRoot(target.dataDir, half), ['update-ref', '-d', 'refs/heads/main']);
    await fs.rm(path.join(scopeRoot(target.dataDir, data.dirty), 'index.html'), { force: true });
    // 4. Started again: everything ends identical, and one more run has nothing left to do.
    const third = await migrate({ from: source, to: target, users: 'all' });
    expectClean(third);
    expect(third.copied).toBeGreaterThan(0);
    expect(await describeBackend(target, data.users)).toEqual(expected);
    const fourth = await migrate({ from: source, to: target, users: 'all' });
    expect(fourth).toMatchObject({ copied: 0, skipped: itemCount(), failed: [] });
  }, 120_000);

  it('a corrupted copy on the target is found by a verify-only run, and repaired only as asked', async () => {
    const target = await migratedCopy();
    const [p1, p2] = data.projects.filter((p) => p !== data.empty);
    // Bit rot in a working-tree file, a changed asset, and a rewritten history.
    const victim = path.join(scopeRoot(target.dataDir, p1!), 'index.html');
    await fs.writeFile(victim, (await fs.readFile(victim, 'utf8')).replace('<canvas>', '<canvas id="x">'));
    const assetDir = scopeRoot(target.dataDir, { userId: data.users[2]!, assets: true });
    const asset = (await fs.readdir(assetDir))[0]!;
    const bytes = await fs.readFile(path.join(assetDir, asset));
    bytes[100] = bytes[100]! ^ 0xff;
    await fs.writeFile(path.join(assetDir, asset), bytes);
    gitIn(scopeRoot(target.dataDir, p2!), ['commit', '-q', '--amend', '-m', 'rewritten'], { GIT_DIR: path.join(scopeRoot(target.dataDir, p2!), '.git') });

    const before = await diskSnapshot(target.dataDir);
    const check = await migrate({ from: source, to: target, users: 'all', verifyOnly: true });
    expect(await diskSnapshot(target.dataDir)).toEqual(before); // verify-only writes nothing
    const failed = Object.fromEntries(check.failed.map((f) => [f.projectId ?? `${f.userId}/assets`, f.reason]));
    expect(Object.keys(failed).sort()).toEqual([p1!.projectId, p2!.projectId, `${data.users[2]}/assets`].sort());
    expect(failed[p1!.projectId]).toMatch(/index\.html differs/);
    expect(failed[`${data.users[2]}/assets`]).toMatch(new RegExp(`${asset.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} differs`));
    expect(failed[p2!.projectId]).toMatch(/commit\(s\) the source lacks/);

    // A normal run repairs the file damage; the rewritten history is refused until overwrite is asked for.
    const repair = await migrate({ from: source, to: target, users: 'all' });
    expect(repair.failed.map((f) => f.projectId)).toEqual([p2!.projectId]);
    expect(repair.failed[0]!.code).toBe('CONFLICT');
    const forced = await migrate({ from: source, to: target, users: 'all', overwrite: true });
    expectClean(forced);
    expect(await describeBackend(target, data.users)).toEqual(expected);
  }, 120_000);
});

// ---------------------------------------------------------------- DreamCore-V2 data directory

describe('importing a DreamCore-V2 data directory', () => {
  it('reads it as it is on disk, without writing to it, and reports what it cannot move', async () => {
    const v2 = tempDir('dreamcore-v2-');
    const userId = randomUUID();
    const userDir = path.join(v2, 'users', userId);
    const project = (id: string) => path.join(userDir, 'projects', id);
    const env = { GIT_AUTHOR_DATE: '2026-01-27T10:00:00+09:00', GIT_COMMITTER_DATE: '2026-01-27T10:00:00+09:00' };
    const v2git = (dir: string, args: string[]) => gitIn(dir, ['-c', 'init.defaultBranch=master', ...args], { GIT_DIR: path.join(dir, '.git'), ...env });
    const put = async (dir: string, rel: string, data: string | Uint8Array) => {
      await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await fs.writeFile(path.join(dir, rel), data);
    };

    // A generated game with history on V2's default branch, dot-files, skills, traces, publish info, non-ASCII names.
    const game = randomUUID();
    await put(project(game), 'index.html', '<h1>Welcome to Game Creator</h1>');
    v2git(project(game), ['init', '-q']);
    v2git(project(game), ['add', '-A']);
    v2git(project(game), ['commit', '-q', '-m', 'Initial project setup']);
    await put(project(game), 'index.html', '<canvas></canvas><script src="js/ゲーム.js"></script>');
    await put(project(game), 'js/ゲーム.js', 'console.log("始め")');
    await put(project(game), 'PUBLISH.json', '{"title":"シューティング","visibility":"public"}');
    await put(
      project(game),
      'thumbnail.webp',
      new Uint8Array(5000).map((_, i) => (i * 7) & 0xff),
    );
    v2git(project(game), ['add', '-A']);
    v2git(project(game), ['commit', '-q', '-m', 'シューティングゲームを作って']);
    await put(project(game), '.ai-context/2026-01-27T01:00:00.000Z.json', '{"prompt":"x"}');
    await put(project(game), '.claude/skills/p5js/SKILL.md', '# p5');
    await put(project(game), '.current-version', 'abc1234');
    await put(project(game), '.style-pending.json', '');
    // Files and no repository; a half-made repository (HEAD but no commits); a damaged one; an empty folder.
    const noGit = randomUUID();
    await put(project(noGit), 'index.html', 'files only');
    const halfGit = randomUUID();
    await put(project(halfGit), 'index.html', 'half');
    await put(project(halfGit), '.git/HEAD', 'ref: refs/heads/master\n');
    await fs.mkdir(path.join(project(halfGit), '.git', 'objects'), { recursive: true });
    await fs.mkdir(path.join(project(halfGit), '.git', 'refs', 'heads'), { recursive: true });
    const brokenGit = randomUUID(); // a .git folder git does not recognise (no HEAD): it may still hold objects
    await put(project(brokenGit), 'index.html', 'broken');
    await put(project(brokenGit), '.git/objects/ab/cdef', 'x');
    const damaged = randomUUID();
    await put(project(damaged), 'index.html', 'x');
    v2git(project(damaged), ['init', '-q']);
    v2git(project(damaged), ['add', '-A']);
    v2git(project(damaged), ['commit', '-q', '-m', 'one']);
    const objects = path.join(project(damaged), '.git', 'objects');
    const fan = (await fs.readdir(objects)).find((d) => /^[0-9a-f]{2}$/.test(d))!;
    await fs.rm(path.join(objects, fan), { recursive: true });
    const emptyProject = randomUUID();
    await fs.mkdir(project(emptyProject), { recursive: true });
    await fs.mkdir(path.join(userDir, 'projects', 'legacy-project'), { recursive: true }); // not a UUID
    await put(
      userDir,
      'assets/bg_1a2b3c4d.png',
      new Uint8Array(3000).map((_, i) => i & 0xff),
    );
    await put(
      userDir,
      'assets/キャラ_5e6f7a8b.png',
      new Uint8Array(2000).map((_, i) => (i * 3) & 0xff),
    );

    const before = await diskSnapshot(v2);
    const v2Backend = createLocalBackend({ dataDir: v2, readOnly: true });
    expect(() => createLocalBackend({ dataDir: path.join(v2, 'missing'), readOnly: true })).toThrow(/does not exist/);
    await expect(v2Backend.files.write({ userId, projectId: game }, 'x', 'y')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    await expect(v2Backend.git.commit({ userId, projectId: game }, 'x')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    expect(await v2Backend.files.listUsers!()).toEqual([userId]);
    expect(unaddressableEntries(v2)).toEqual([`users/${userId}/projects/legacy-project`]);

    const target = freshLocal();
    const summary = await migrate({ from: v2Backend, to: target, users: 'all' });
    expect(await diskSnapshot(v2)).toEqual(before); // nothing in the V2 directory was written
    expect(summary.failed.map((f) => f.projectId).sort()).toEqual([brokenGit, damaged].sort());
    for (const f of summary.failed) expect(f.reason).toMatch(/damaged/);
    expect(await target.files.listProjects({ userId })).not.toContain(damaged);
    expect(summary.warnings.some((w) => w.includes(halfGit) && /no commits/.test(w))).toBe(true);
    expect(summary.warnings.some((w) => w.includes(emptyProject) && /empty project/.test(w))).toBe(true);

    const g: ProjectScope = { userId, projectId: game };
    expect(await tree(target, g)).toEqual(await tree(v2Backend, g)); // dot-files, .claude/, .ai-context/, PUBLISH.json
    expect(Object.keys(await tree(target, g))).toEqual(
      expect.arrayContaining([
        '.ai-context/2026-01-27T01:00:00.000Z.json',
        '.claude/skills/p5js/SKILL.md',
        '.current-version',
        '.style-pending.json',
        'PUBLISH.json',
        'js/ゲーム.js',
      ]),
    );
    const [v2Log, newLog] = [await v2Backend.git.log(g), await target.git.log(g)];
    expect(newLog).toEqual(v2Log);
    expect(newLog.commits.map((c) => c.message)).toEqual(['シューティングゲームを作って', 'Initial project setup']);
    // HEAD is on main now (V2's master is kept too), and work goes on there.
    expect(gitIn(scopeRoot(target.dataDir, g), ['symbolic-ref', 'HEAD'], { GIT_DIR: path.join(scopeRoot(target.dataDir, g), '.git') }).trim()).toBe(
      'refs/heads/main',
    );
    await target.files.write(g, 'index.html', 'after the move');
    expect((await target.git.commit(g, 'Update index.html')).committed).toBe(true);
    for (const id of [noGit, halfGit]) {
      expect(await tree(target, { userId, projectId: id })).toEqual(await tree(v2Backend, { userId, projectId: id }));
      await expect(target.git.log({ userId, projectId: id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    expect(await tree(target, { userId, assets: true })).toEqual(await tree(v2Backend, { userId, assets: true }));

    // The command: same result, the unaddressable folder reported, a failed project means exit code 1.
    const out: string[] = [];
    const sink = { write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WritableStream;
    const target2 = tempDir('dreamcore-migrate-cli-');
    const code = await migrateCli(['--from', 'v2', '--data-dir', v2, '--to', 'local', '--to-data-dir', target2, '--all', '--plain', '--concurrency', '2'], {
      stdout: sink,
      stderr: sink,
    });
    const text = out.join('');
    expect(code).toBe(1);
    expect(text).toContain('legacy-project');
    expect(text).toMatch(/migration local → local/);
    expect(text).toContain(`✗ ${userId}/${damaged}`);
    expect(await diskSnapshot(v2)).toEqual(before);
    const usage = await migrateCli(['--from', 'local'], { stdout: sink, stderr: sink });
    expect(usage).toBe(2);
  }, 60_000);
});
