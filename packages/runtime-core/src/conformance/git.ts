import { randomUUID } from 'node:crypto';
import { describe, expect } from 'vitest';
import { bytesOf, expectCode, newProject, sha256, snapshot, type ConformanceOptions, useBackend } from './context.js';
import type { ExecutionBackend, ProjectScope } from '../contract.js';

const HASH = /^[0-9a-f]{40}$/;

async function project(b: ExecutionBackend, files: Record<string, string | Uint8Array> = { 'index.html': 'v0' }) {
  const p = newProject();
  for (const [path, data] of Object.entries(files)) await b.files.write(p, path, data);
  await b.git.init(p);
  return p;
}

/** Every commit reachable from HEAD, newest first. */
async function fullLog(b: ExecutionBackend, p: ProjectScope) {
  const out = [];
  for (let skip = 0; ; skip += 500) {
    const page = await b.git.log(p, { limit: 500, skip });
    out.push(...page.commits);
    if (!page.hasMore) return out;
  }
}

/** What a history is: each commit's hash, message, parents, author, date, in order. */
async function history(b: ExecutionBackend, p: ProjectScope) {
  return (await fullLog(b, p)).map(({ hash, message, parents, author, date }) => ({ hash, message, parents, author, date }));
}

async function commitFiles(b: ExecutionBackend, p: ProjectScope, message: string, files: Record<string, string | null>) {
  for (const [path, data] of Object.entries(files)) {
    if (data === null) await b.files.delete(p, path);
    else await b.files.write(p, path, data);
  }
  const result = await b.git.commit(p, message);
  expect(result.committed).toBe(true);
  return result.hash;
}

export function gitCases(options: ConformanceOptions): void {
  describe('git', () => {
    const s = useBackend(options);
    const b = () => s.backend();

    s.testUnsupported('git', async () => {
      const p = newProject();
      await expectCode(b().git.init(p), 'UNSUPPORTED');
      await expectCode(b().git.commit(p, 'x'), 'UNSUPPORTED');
      await expectCode(b().git.log(p), 'UNSUPPORTED');
      await expectCode(b().git.restore(p, 'abcdef0'), 'UNSUPPORTED');
      await expectCode(b().git.exportBundle(p), 'UNSUPPORTED');
      await expectCode(b().git.importBundle(p, new Uint8Array(8)), 'UNSUPPORTED');
    });

    s.test('init creates a repository with one initial commit and is idempotent', 'git', async () => {
      const p = newProject();
      await b().files.write(p, 'index.html', '<h1>Welcome</h1>');
      const first = await b().git.init(p, { message: 'Initial project setup' });
      expect(first.created).toBe(true);
      expect(first.head).toMatch(HASH);
      const second = await b().git.init(p);
      expect(second).toEqual({ created: false, head: first.head });
      const log = await b().git.log(p);
      expect(log.commits.map((c) => c.hash)).toEqual([first.head]);
      expect(log.commits[0]!.files).toEqual(['index.html']);
      expect(log.commits[0]!.message).toBe('Initial project setup');
      expect(log.hasMore).toBe(false);
    });

    s.test('init of an empty project still makes a commit; of a missing one is NOT_FOUND', 'git', async () => {
      const p = newProject();
      await b().files.write(p, 'tmp.txt', 'x');
      await b().files.delete(p, 'tmp.txt');
      const { head } = await b().git.init(p);
      expect(head).toMatch(HASH);
      await expectCode(b().git.init(newProject()), 'NOT_FOUND');
      await expectCode(b().git.log(newProject()), 'NOT_FOUND');
    });

    s.test('the repository is invisible and unreachable through files', 'git', async () => {
      const p = await project(b());
      expect((await b().files.list(p)).map((e) => e.path)).toEqual(['index.html']);
      await expectCode(b().files.read(p, '.git/config'), 'INVALID_PATH');
      await expectCode(b().files.write(p, '.git/hooks/post-commit', '#!/bin/sh\ntouch /tmp/pwned'), 'INVALID_PATH');
      await expectCode(b().files.delete(p, '.git'), 'INVALID_PATH');
      expect((await b().git.verify(p)).ok).toBe(true);
    });

    s.test('commit returns the new hash; a commit with no change says so and keeps HEAD', 'git', async () => {
      const p = await project(b());
      await b().files.write(p, 'index.html', 'v1');
      const made = await b().git.commit(p, 'Update index');
      expect(made.committed).toBe(true);
      expect(made.hash).toMatch(HASH);
      const again = await b().git.commit(p, 'Nothing here');
      expect(again).toEqual({ committed: false, hash: made.hash });
      const log = await b().git.log(p);
      expect(log.commits[0]).toMatchObject({ hash: made.hash, shortHash: made.hash.slice(0, 7), message: 'Update index' });
      expect(log.commits).toHaveLength(2);
    });

    s.test('commit initialises a project that has files but no repository', 'git', async () => {
      const p = newProject();
      await b().files.write(p, 'index.html', 'x');
      const result = await b().git.commit(p, 'First generation');
      expect(result.hash).toMatch(HASH);
      const log = await b().git.log(p);
      expect(log.commits.length).toBeGreaterThanOrEqual(1);
      expect(await b().git.readAt(p, result.hash, 'index.html')).toEqual(new TextEncoder().encode('x'));
    });

    s.test('commit with `log` also answers the history page right after it, as log does; its options are checked first', 'git', async () => {
      const p = await project(b());
      await b().files.write(p, 'index.html', 'v1');
      const made = await b().git.commit(p, 'Update index', { log: { limit: 1 } });
      expect(made).toMatchObject({ committed: true, log: { hasMore: true } });
      expect(made.log).toEqual(await b().git.log(p, { limit: 1 }));
      expect(made.log!.commits[0]).toMatchObject({ hash: made.hash, message: 'Update index', files: ['index.html'] });
      // Nothing to commit: HEAD unchanged, and the page as it is.
      const again = await b().git.commit(p, 'Nothing here', { log: {} });
      expect(again).toEqual({ committed: false, hash: made.hash, log: await b().git.log(p) });
      expect(again.log!.commits).toHaveLength(2);
      // A bad page is refused before anything is committed.
      await b().files.write(p, 'index.html', 'v2');
      await expectCode(b().git.commit(p, 'Refused', { log: { limit: 0 } }), 'INVALID_ARGUMENT');
      await expectCode(b().git.commit(p, 'Refused', { log: { skip: -1 } }), 'INVALID_ARGUMENT');
      const kept = (await b().git.log(p)).commits;
      expect(kept).toHaveLength(2);
      expect(kept[0]!.message).toBe('Update index');
      // A project without a repository is initialised and committed, and its page answered too.
      const fresh = newProject();
      await b().files.write(fresh, 'index.html', 'x');
      const first = await b().git.commit(fresh, 'First generation', { log: { limit: 20 } });
      expect(first.log).toEqual(await b().git.log(fresh, { limit: 20 }));
      expect(first.log!.commits[0]!.hash).toBe(first.hash);
      // Without the option a commit answers no page.
      await b().files.write(p, 'index.html', 'v3');
      expect(Object.keys(await b().git.commit(p, 'Plain')).sort()).toEqual(['committed', 'hash']);
    });

    s.test('log entries carry message, ISO date, author, parents and changed files', 'git', async () => {
      const p = await project(b(), { 'index.html': 'v0', 'old.js': 'old' });
      const before = Date.now();
      const hash = await commitFiles(b(), p, 'Add sprite\n\nLonger body line.', {
        'img/ß sprite.png': 'png',
        'old.js': null,
        'index.html': 'v1',
      });
      const [latest, initial] = (await b().git.log(p)).commits;
      expect(latest).toMatchObject({ hash, message: 'Add sprite\n\nLonger body line.', author: 'Game Creator' });
      expect(latest!.parents).toEqual([initial!.hash]);
      expect(initial!.parents).toEqual([]);
      expect([...latest!.files].sort()).toEqual(['img/ß sprite.png', 'index.html', 'old.js']);
      expect(Math.abs(Date.parse(latest!.date) - before)).toBeLessThan(5 * 60_000);
      expect(latest!.date).toBe(new Date(latest!.date).toISOString());
    });

    s.test('log is newest first and pages without gaps or overlap', 'git', async () => {
      const p = await project(b());
      const hashes: string[] = [];
      for (let i = 1; i <= 24; i++) hashes.push(await commitFiles(b(), p, `change ${i}`, { 'index.html': `v${i}` }));
      const all = (await b().git.log(p, { limit: 500 })).commits;
      expect(all).toHaveLength(25);
      expect(all.slice(0, 24).map((c) => c.hash)).toEqual([...hashes].reverse());
      const pages = [];
      for (let skip = 0; ; skip += 10) {
        const page = await b().git.log(p, { limit: 10, skip });
        pages.push(page);
        if (!page.hasMore) break;
      }
      expect(pages.map((pg) => pg.commits.length)).toEqual([10, 10, 5]);
      expect(pages.flatMap((pg) => pg.commits.map((c) => c.hash))).toEqual(all.map((c) => c.hash));
      expect((await b().git.log(p, { skip: 25 })).commits).toEqual([]);
      await expectCode(b().git.log(p, { limit: 0 }), 'INVALID_ARGUMENT');
      await expectCode(b().git.log(p, { limit: 501 }), 'INVALID_ARGUMENT');
      await expectCode(b().git.log(p, { skip: -1 }), 'INVALID_ARGUMENT');
    });

    s.test('diff between versions lists each change and a unified patch', 'git', async () => {
      const p = await project(b(), { 'index.html': 'line1\nline2\n', 'gone.js': 'bye\n' });
      const base = (await b().git.log(p)).commits[0]!.hash;
      const next = await commitFiles(b(), p, 'edit', { 'index.html': 'line1\nline2 changed\n', 'gone.js': null, 'new.css': 'a{}\n' });
      const diff = await b().git.diff(p, base, next);
      expect(diff.from).toBe(base);
      expect(diff.to).toBe(next);
      const byPath = Object.fromEntries(diff.files.map((f) => [f.path, f.status]));
      expect(byPath).toEqual({ 'gone.js': 'deleted', 'index.html': 'modified', 'new.css': 'added' });
      expect(diff.patch).toContain('-line2');
      expect(diff.patch).toContain('+line2 changed');
      expect(diff.patch).toContain('+a{}');
      expect((await b().git.diff(p, base)).to).toBe(next); // default: to HEAD
      const reverse = await b().git.diff(p, next, base);
      expect(Object.fromEntries(reverse.files.map((f) => [f.path, f.status]))).toEqual({
        'gone.js': 'added',
        'index.html': 'modified',
        'new.css': 'deleted',
      });
      expect((await b().git.diff(p, next, next)).files).toEqual([]);
    });

    s.test('readAt returns a file as it was, bytes and names intact; listAt names every file of a version', 'git', async () => {
      const png = bytesOf(70_000, 3);
      const endsInNewlines = 'line one\r\nline two\n\n';
      const p = await project(b(), { 'index.html': 'first', 'sprites/プレイヤー.png': png, 'notes.txt': endsInNewlines });
      const v0 = (await b().git.log(p)).commits[0]!.hash;
      await commitFiles(b(), p, 'second', { 'index.html': 'second', 'sprites/プレイヤー.png': null });
      expect(new TextDecoder().decode(await b().git.readAt(p, v0, 'index.html'))).toBe('first');
      expect(new TextDecoder().decode(await b().git.readAt(p, v0.slice(0, 7), 'index.html'))).toBe('first');
      expect(sha256(await b().git.readAt(p, v0, 'sprites/プレイヤー.png'))).toBe(sha256(png));
      expect(new TextDecoder().decode(await b().git.readAt(p, v0, 'notes.txt'))).toBe(endsInNewlines); // last newlines kept
      const head = (await b().git.log(p)).commits[0]!.hash;
      await expectCode(b().git.readAt(p, head, 'sprites/プレイヤー.png'), 'NOT_FOUND');
      await expectCode(b().git.readAt(p, 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef', 'index.html'), 'NOT_FOUND');
      // Every path of a version, in one call (what a remix copies).
      expect(await b().git.listAt(p, v0)).toEqual(['index.html', 'notes.txt', 'sprites/プレイヤー.png']);
      expect(await b().git.listAt(p, head)).toEqual(['index.html', 'notes.txt']);
      await expectCode(b().git.listAt(p, 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef'), 'NOT_FOUND');
      await expectCode(b().git.listAt(p, '--output=/tmp/x'), 'INVALID_ARGUMENT');
    });

    s.test('malformed versions and messages are INVALID_ARGUMENT', 'git', async () => {
      const p = await project(b());
      for (const bad of ['HEAD~1', '--output=/tmp/x', 'main', 'zzzzzzz', 'abc', '', 'ABCDEF0', 'a'.repeat(41), '-n1']) {
        await expectCode(b().git.readAt(p, bad, 'index.html'), 'INVALID_ARGUMENT');
        await expectCode(b().git.diff(p, bad), 'INVALID_ARGUMENT');
        await expectCode(b().git.restore(p, bad), 'INVALID_ARGUMENT');
      }
      await expectCode(b().git.commit(p, ''), 'INVALID_ARGUMENT');
      await expectCode(b().git.commit(p, '   '), 'INVALID_ARGUMENT');
      await expectCode(b().git.commit(p, 'bad\u0000message'), 'INVALID_ARGUMENT');
      expect((await b().git.log(p)).commits).toHaveLength(1);
    });

    s.test('restore is a new commit whose tree equals the chosen version', 'git', async () => {
      const p = await project(b(), { 'index.html': 'v0', 'keep.js': 'k0' });
      const v0 = (await b().git.log(p)).commits[0]!.hash;
      const v0Files = await snapshot(b(), p);
      const v1 = await commitFiles(b(), p, 'v1', { 'index.html': 'v1', 'added.css': 'x', 'keep.js': null });
      const v1Files = await snapshot(b(), p);
      const restored = await b().git.restore(p, v0);
      expect(restored.committed).toBe(true);
      expect(restored.hash).not.toBe(v0);
      expect(await snapshot(b(), p)).toEqual(v0Files);
      const log = (await b().git.log(p)).commits;
      expect(log[0]!.hash).toBe(restored.hash);
      expect(log.map((c) => c.hash)).toContain(v1); // history kept
      expect(log[0]!.parents).toEqual([v1]);
      expect((await b().git.diff(p, v0, restored.hash)).files).toEqual([]);
      // ... and the restore is itself undoable.
      const undo = await b().git.restore(p, v1);
      expect(undo.committed).toBe(true);
      expect(await snapshot(b(), p)).toEqual(v1Files);
      expect((await b().git.log(p, { limit: 100 })).commits).toHaveLength(4);
      expect((await b().git.verify(p)).ok).toBe(true);
    });

    s.test('restore keeps uncommitted work in history first', 'git', async () => {
      const p = await project(b(), { 'index.html': 'v0' });
      const v0 = (await b().git.log(p)).commits[0]!.hash;
      await b().files.write(p, 'index.html', 'unsaved work');
      const restored = await b().git.restore(p, v0);
      expect(await b().files.readText(p, 'index.html')).toBe('v0');
      const log = (await b().git.log(p)).commits;
      expect(log[0]!.hash).toBe(restored.hash);
      const saved = log[1]!;
      expect(new TextDecoder().decode(await b().git.readAt(p, saved.hash, 'index.html'))).toBe('unsaved work');
    });

    s.test('restore to the current version changes nothing', 'git', async () => {
      const p = await project(b());
      const head = (await b().git.log(p)).commits[0]!.hash;
      expect(await b().git.restore(p, head)).toEqual({ committed: false, hash: head });
      expect((await b().git.log(p)).commits).toHaveLength(1);
    });

    s.test(
      'concurrent commits to one project are serialized without corruption',
      'git',
      async () => {
        const p = await project(b());
        const n = 16;
        const results = await Promise.all(
          Array.from({ length: n }, async (_, i) => {
            await b().files.write(p, `parallel/f${i}.txt`, `content ${i}`);
            return b().git.commit(p, `parallel ${i}`);
          }),
        );
        const log = (await b().git.log(p, { limit: 500 })).commits;
        const made = results.filter((r) => r.committed).map((r) => r.hash);
        expect(made.length).toBeGreaterThanOrEqual(1);
        expect(new Set(made).size).toBe(made.length);
        for (const hash of made) expect(log.map((c) => c.hash)).toContain(hash);
        // A straight line of history: each commit's parent is the next one in the log.
        for (let i = 0; i < log.length - 1; i++) expect(log[i]!.parents).toEqual([log[i + 1]!.hash]);
        const head = log[0]!.hash;
        for (let i = 0; i < n; i++) {
          expect(new TextDecoder().decode(await b().git.readAt(p, head, `parallel/f${i}.txt`))).toBe(`content ${i}`);
        }
        expect(await b().git.verify(p)).toEqual({ ok: true, problems: [] });
      },
      120_000,
    );

    s.test('projects have separate histories', 'git', async () => {
      const userId = randomUUID();
      const a = newProject(userId);
      const c = newProject(userId);
      await b().files.write(a, 'index.html', 'a');
      await b().files.write(c, 'index.html', 'c');
      await b().git.init(a);
      await b().git.init(c);
      await commitFiles(b(), a, 'only in a', { 'a.txt': 'a' });
      expect((await b().git.log(a)).commits).toHaveLength(2);
      expect((await b().git.log(c)).commits).toHaveLength(1);
      const aHead = (await b().git.log(a)).commits[0]!.hash;
      await expectCode(b().git.readAt(c, aHead, 'a.txt'), 'NOT_FOUND');
    });

    s.test(
      'a bundle moves a whole history to another project: hashes, messages, order and trees intact',
      'git',
      async () => {
        const png = bytesOf(50_000, 11);
        const a = await project(b(), { 'index.html': '<h1>v0</h1>', 'assets/スプライト.png': png, '.claude/skills/x/SKILL.md': '# x' });
        const v0 = (await b().git.log(a)).commits[0]!.hash;
        await commitFiles(b(), a, 'Add level\n\nWith a body.', { 'js/level-1.js': 'let x = 1;', 'PUBLISH.json': '{"title":"ゲーム"}' });
        await commitFiles(b(), a, 'Remove sprite', { 'assets/スプライト.png': null, 'index.html': '<h1>v2</h1>' });
        await b().git.restore(a, v0); // the last commit is a restore
        const bundle = await b().git.exportBundle(a);
        expect(bundle).toBeInstanceOf(Uint8Array);
        expect(new TextDecoder().decode(bundle.subarray(0, 16))).toMatch(/^# v[23] git bundle/);

        const target = newProject(); // another user, another project: nothing exists yet
        const result = await b().git.importBundle(target, bundle);
        expect(result).toMatchObject({ imported: true, head: (await b().git.log(a)).commits[0]!.hash });
        expect(await history(b(), target)).toEqual(await history(b(), a));
        expect(await fullLog(b(), target)).toEqual(await fullLog(b(), a)); // changed files per commit too
        expect(await snapshot(b(), target)).toEqual(await snapshot(b(), a)); // working tree checked out to HEAD
        expect(sha256(await b().git.readAt(target, v0, 'assets/スプライト.png'))).toBe(sha256(png));
        expect(await b().files.listProjects({ userId: target.userId })).toEqual([target.projectId]);
        expect(await b().git.verify(target)).toEqual({ ok: true, problems: [] });
        // The copy is a full repository: work goes on there, and it exports again.
        await commitFiles(b(), target, 'After the move', { 'index.html': 'moved' });
        const again = newProject();
        await b().git.importBundle(again, await b().git.exportBundle(target));
        expect(await history(b(), again)).toEqual(await history(b(), target));
        // The source was only read.
        expect((await b().git.log(a, { limit: 500 })).commits).toHaveLength(4);
      },
      60_000,
    );

    s.test(
      'import is idempotent; a different history is CONFLICT unless replace',
      'git',
      async () => {
        const a = await project(b(), { 'index.html': 'a0' });
        await commitFiles(b(), a, 'a1', { 'index.html': 'a1' });
        const bundle = await b().git.exportBundle(a);
        const target = newProject();
        const first = await b().git.importBundle(target, bundle);
        expect(first.imported).toBe(true);
        await b().files.write(target, 'notes.txt', 'untracked work'); // survives an idempotent import
        const second = await b().git.importBundle(target, bundle);
        expect(second).toEqual({ ...first, imported: false });
        expect(await b().files.readText(target, 'notes.txt')).toBe('untracked work');
        expect(await history(b(), target)).toEqual(await history(b(), a));

        const other = await project(b(), { 'index.html': 'other' });
        await commitFiles(b(), other, 'other work', { 'other.js': 'o' });
        const before = { files: await snapshot(b(), other), history: await history(b(), other) };
        const conflict = await expectCode(b().git.importBundle(other, bundle), 'CONFLICT');
        expect((conflict as unknown as { details: Record<string, unknown> }).details).toMatchObject({ bundleHead: first.head });
        expect(await snapshot(b(), other)).toEqual(before.files);
        expect(await history(b(), other)).toEqual(before.history);
        const replaced = await b().git.importBundle(other, bundle, { replace: true });
        expect(replaced).toMatchObject({ imported: true, head: first.head });
        expect(await history(b(), other)).toEqual(await history(b(), a));
        expect(await snapshot(b(), other)).toEqual(await snapshot(b(), a));
        expect((await b().git.verify(other)).ok).toBe(true);
      },
      60_000,
    );

    s.test(
      'a corrupted or partial bundle is INVALID_ARGUMENT and changes nothing',
      'git',
      async () => {
        const a = await project(b(), { 'index.html': 'a0', 'big.bin': bytesOf(40_000, 5) });
        await commitFiles(b(), a, 'a1', { 'index.html': 'a1' });
        const good = await b().git.exportBundle(a);
        const flipped = good.slice();
        flipped[Math.floor(flipped.length * 0.6)]! ^= 0x5a;
        const header = new TextDecoder().decode(good.subarray(0, good.indexOf(10) + 1));
        const head = (await b().git.log(a)).commits[0]!.hash;
        const increment = new TextEncoder().encode(`${header}-${head} a prerequisite\n${head} refs/heads/main\n\n`);
        const bad = [
          flipped,
          good.subarray(0, good.length - 7),
          good.subarray(0, 40),
          new Uint8Array(0),
          new TextEncoder().encode('not a bundle at all\n\n'),
          increment,
        ];

        const fresh = newProject();
        const existing = await project(b(), { 'index.html': 'mine' });
        await b().files.write(existing, 'wip.txt', 'uncommitted');
        const before = { files: await snapshot(b(), existing), history: await history(b(), existing) };
        for (const bytes of bad) {
          await expectCode(b().git.importBundle(fresh, bytes), 'INVALID_ARGUMENT');
          await expectCode(b().git.importBundle(existing, bytes, { replace: true }), 'INVALID_ARGUMENT');
        }
        await expectCode(b().git.importBundle(fresh, 'text' as unknown as Uint8Array), 'INVALID_ARGUMENT');
        expect(await b().files.listProjects({ userId: fresh.userId })).toEqual([]);
        await expectCode(b().git.log(fresh), 'NOT_FOUND');
        expect(await snapshot(b(), existing)).toEqual(before.files);
        expect(await history(b(), existing)).toEqual(before.history);
        // ... and the intact bundle still goes in.
        expect((await b().git.importBundle(fresh, good)).imported).toBe(true);
      },
      60_000,
    );

    s.test('export of a project without history, or of a missing project, is NOT_FOUND', 'git', async () => {
      const p = newProject();
      await b().files.write(p, 'index.html', 'no history yet');
      await expectCode(b().git.exportBundle(p), 'NOT_FOUND');
      await expectCode(b().git.exportBundle(newProject()), 'NOT_FOUND');
      await expectCode(b().git.importBundle({ userId: 'nope', projectId: 'x' } as ProjectScope, new Uint8Array(4)), 'INVALID_SCOPE', 'INVALID_ARGUMENT');
      expect(await b().files.list(p)).toHaveLength(1); // untouched
    });
  });
}
