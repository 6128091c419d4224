/**
 * Isolation: hostile paths, hostile scopes and symlink escapes must fail with the typed error and change nothing,
 * on every backend. The victim is another user's project and asset space.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect } from 'vitest';
import { expectCode, snapshot, type ConformanceOptions, useBackend } from './context.js';
import { isUuid } from '../scope.js';
import type { AssetScope, ExecutionBackend, FileScope, ProjectScope } from '../contract.js';

const PATH_CODES = ['INVALID_PATH', 'ACCESS_DENIED'] as const;
const SCOPE_CODES = ['INVALID_SCOPE'] as const;

/** At least 50 paths that must never name a file inside the scope. `victim` is `{userId}/projects/{projectId}`. */
export function hostilePaths(victim: ProjectScope): unknown[] {
  const v = `${victim.userId}/projects/${victim.projectId}`;
  return [
    // traversal
    '..',
    '../x',
    '../../etc/passwd',
    'a/../../x',
    'a/../b',
    './../x',
    'a/b/../../../x',
    `../../../${v}/index.html`,
    `../${victim.projectId}/index.html`,
    '../../assets/x.png',
    // absolute and rooted
    '/etc/passwd',
    '/',
    '//x',
    '/../x',
    `/data/users/${v}/index.html`,
    'C:\\Windows\\win.ini',
    'c:/x',
    'C:',
    // backslash tricks
    '\\..\\x',
    'a\\b',
    '..\\..\\x',
    '..\\',
    '\\\\server\\share',
    // NUL and control characters
    'a\u0000b',
    '\u0000',
    'index.html\u0000.png',
    'x\ny',
    'x\r\n',
    '\t../x',
    'a\u001bb',
    'a\u007fb',
    // percent-encoded (single and double)
    '%2e%2e/x',
    '%2e%2e%2fx',
    '..%2fx',
    '%2E%2E/etc/passwd',
    '%252e%252e/x',
    'a/%2e%2e/%2e%2e/x',
    '%5c..%5cx',
    'x%00.png',
    // unicode look-alikes and invisible characters
    '\uff0e\uff0e/x',
    '..\uff0fx',
    '\uff0e\uff0e\uff0f\uff0e\uff0e\uff0fetc',
    'a\uff0f..',
    '\u2025/x',
    '\u2024\u2024/x',
    '..\u2215x',
    '..\u2044x',
    '..\uff3cx',
    'a/\u202e../x',
    '\u200b../x',
    '..\u200b/x',
    '\ufeff../x',
    'a/\ud800b',
    // the repository and shell-isms
    '.git/config',
    '.git/hooks/post-commit',
    '.GIT/config',
    'sub/.git/config',
    '.git',
    '~/x',
    '~',
    // empty segments, dots, and sizes
    'a//b',
    'a/',
    '',
    '.',
    './',
    'a/./b',
    `${'x'.repeat(300)}.txt`,
    `${'d/'.repeat(600)}x`,
    // not strings
    123,
    null,
    undefined,
    {},
    ['index.html'],
  ];
}

/** Scopes that are malformed; every call must refuse them. */
export function hostileScopes(victim: ProjectScope): unknown[] {
  const u = victim.userId;
  return [
    { userId: '', projectId: victim.projectId },
    { userId: 'abc', projectId: victim.projectId },
    { userId: u.toUpperCase(), projectId: victim.projectId },
    { userId: `../${u}`, projectId: victim.projectId },
    { userId: ` ${u}`, projectId: victim.projectId },
    { userId: `${u}\n`, projectId: victim.projectId },
    { userId: u.replace(/-/g, ''), projectId: victim.projectId },
    { userId: `${u}/projects/${victim.projectId}`, projectId: victim.projectId },
    { userId: '00000000-0000-0000-0000-00000000000g', projectId: victim.projectId },
    { userId: u, projectId: '..' },
    { userId: u, projectId: `../../${u}/projects/${victim.projectId}` },
    { userId: u, projectId: '' },
    { userId: u, projectId: `${victim.projectId}%00` },
    { userId: u, projectId: victim.projectId.toUpperCase() },
    { userId: u, projectId: 42 },
    { userId: u, projectId: victim.projectId, assets: true },
    { userId: null, projectId: victim.projectId },
    { projectId: victim.projectId },
    { userId: u },
    null,
    'not-a-scope',
  ];
}

async function victimState(b: ExecutionBackend, scopes: FileScope[]) {
  const state: Record<string, unknown> = {};
  for (const scope of scopes) state[JSON.stringify(scope)] = await snapshot(b, scope);
  return state;
}

export function isolationCases(options: ConformanceOptions): void {
  describe('isolation', () => {
    const s = useBackend(options);
    const b = () => s.backend();
    const victim: ProjectScope = { userId: randomUUID(), projectId: randomUUID() };
    const victimAssets: AssetScope = { userId: victim.userId, assets: true };
    const attacker: ProjectScope = { userId: randomUUID(), projectId: randomUUID() };
    const attackerAssets: AssetScope = { userId: attacker.userId, assets: true };
    const watched: FileScope[] = [victim, victimAssets, attacker, attackerAssets];

    beforeAll(async () => {
      if (!b().capabilities.files.supported) return;
      await b().files.write(victim, 'index.html', '<h1>victim game</h1>');
      await b().files.write(victim, 'secret/notes.md', 'victim notes');
      await b().files.write(victimAssets, 'hero_0badf00d.png', new Uint8Array([137, 80, 78, 71]));
      await b().files.write(attacker, 'index.html', '<h1>attacker game</h1>');
      await b().files.write(attackerAssets, 'mine_12345678.png', new Uint8Array([1]));
      if (b().capabilities.git.supported) {
        await b().git.init(victim);
        await b().git.init(attacker);
      }
    });

    s.test(`the corpus has at least 50 hostile paths`, 'files', async () => {
      expect(hostilePaths(victim).length).toBeGreaterThanOrEqual(50);
    });

    s.test(
      'hostile paths fail with a typed error on every file operation and change nothing',
      'files',
      async () => {
        const before = await victimState(b(), watched);
        for (const scope of [attacker, attackerAssets] as FileScope[]) {
          for (const hostile of hostilePaths(victim)) {
            const p = hostile as string;
            await expectCode(b().files.read(scope, p), ...PATH_CODES);
            await expectCode(b().files.readText(scope, p), ...PATH_CODES);
            await expectCode(b().files.write(scope, p, 'pwned'), ...PATH_CODES);
            await expectCode(b().files.delete(scope, p), ...PATH_CODES);
            await expectCode(b().files.stat(scope, p), ...PATH_CODES);
            await expectCode(b().files.exists(scope, p), ...PATH_CODES);
            // '' and undefined mean the root for list.
            if (p !== '' && p !== '.' && p !== undefined) await expectCode(b().files.list(scope, p), ...PATH_CODES);
          }
        }
        expect(await victimState(b(), watched)).toEqual(before);
      },
      120_000,
    );

    s.test(
      'hostile paths fail on git readAt and change nothing',
      'git',
      async () => {
        const before = await victimState(b(), watched);
        const head = (await b().git.log(attacker)).commits[0]!.hash;
        for (const hostile of hostilePaths(victim)) {
          await expectCode(b().git.readAt(attacker, head, hostile as string), ...PATH_CODES);
        }
        expect(await victimState(b(), watched)).toEqual(before);
      },
      120_000,
    );

    s.test(
      'malformed scopes fail with INVALID_SCOPE on every operation and change nothing',
      'files',
      async () => {
        const before = await victimState(b(), watched);
        for (const hostile of hostileScopes(victim)) {
          const scope = hostile as ProjectScope;
          await expectCode(b().files.read(scope, 'index.html'), ...SCOPE_CODES);
          await expectCode(b().files.write(scope, 'index.html', 'pwned'), ...SCOPE_CODES);
          await expectCode(b().files.delete(scope, 'index.html'), ...SCOPE_CODES);
          await expectCode(b().files.list(scope), ...SCOPE_CODES);
          await expectCode(b().files.exists(scope, 'index.html'), ...SCOPE_CODES);
          await expectCode(b().files.stat(scope, 'index.html'), ...SCOPE_CODES);
          await expectCode(b().files.deleteProject(scope), ...SCOPE_CODES);
          // listProjects takes only a user: it must refuse a malformed userId (other fields are not its business).
          if (!isUuid((scope as { userId?: unknown } | null)?.userId)) {
            await expectCode(b().files.listProjects(scope), ...SCOPE_CODES);
          }
          if (b().capabilities.git.supported) {
            await expectCode(b().git.init(scope), ...SCOPE_CODES);
            await expectCode(b().git.commit(scope, 'x'), ...SCOPE_CODES);
            await expectCode(b().git.log(scope), ...SCOPE_CODES);
            await expectCode(b().git.restore(scope, 'abcdef0'), ...SCOPE_CODES);
          }
        }
        expect(await victimState(b(), watched)).toEqual(before);
      },
      120_000,
    );

    s.test("another user's project id under your own user id reaches nothing of theirs", 'files', async () => {
      const before = await victimState(b(), watched);
      const crossed: ProjectScope = { userId: attacker.userId, projectId: victim.projectId };
      await expectCode(b().files.readText(crossed, 'index.html'), 'NOT_FOUND');
      await expectCode(b().files.list(crossed), 'NOT_FOUND');
      expect(await b().files.exists(crossed, 'index.html')).toBe(false);
      await expectCode(b().files.deleteProject(crossed), 'NOT_FOUND');
      expect(await b().files.listProjects({ userId: attacker.userId })).toEqual([attacker.projectId]);
      if (b().capabilities.git.supported) await expectCode(b().git.log(crossed), 'NOT_FOUND');
      // A write lands in the attacker's own space, never in the victim's.
      await b().files.write(crossed, 'index.html', 'mine');
      expect(await b().files.readText(victim, 'index.html')).toBe('<h1>victim game</h1>');
      await b().files.deleteProject(crossed);
      expect(await victimState(b(), watched)).toEqual(before);
    });

    s.test('symlinks that leave the scope are refused for every operation; victims unchanged', 'files', async (ctx) => {
      const harness = s.options.harness;
      if (!b().capabilities.files.symlinks || !harness?.symlink) ctx.skip();
      const link = harness!.symlink!.bind(harness);
      const p: ProjectScope = { userId: attacker.userId, projectId: randomUUID() };
      await b().files.write(p, 'index.html', 'own');
      await b().files.write(p, 'dir/inner.txt', 'inner');
      await link(b(), p, 'to-victim', { kind: 'project', scope: victim });
      await link(b(), p, 'to-etc', { kind: 'system', path: '/etc' });
      await link(b(), p, 'up', { kind: 'relative', path: '../..' });
      await link(b(), p, 'dir/up2', { kind: 'relative', path: '../../..' });
      await link(b(), p, 'dangling', { kind: 'relative', path: '../../../nowhere-new-file' });
      await link(b(), p, 'passwd', { kind: 'system', path: '/etc/passwd' });
      await link(b(), p, 'loop-a', { kind: 'relative', path: 'loop-b' });
      await link(b(), p, 'loop-b', { kind: 'relative', path: 'loop-a' });
      const before = await victimState(b(), watched);
      const through = [
        'to-victim/index.html',
        'to-victim/secret/notes.md',
        'to-etc/passwd',
        'up/x',
        'dir/up2/x',
        'dangling',
        'passwd',
        'to-victim',
        'loop-a',
        'loop-a/x',
      ];
      for (const target of through) {
        await expectCode(b().files.read(p, target), 'ACCESS_DENIED', 'INVALID_PATH');
        await expectCode(b().files.write(p, target, 'pwned'), 'ACCESS_DENIED', 'INVALID_PATH');
        await expectCode(b().files.write(p, `${target}/new.txt`, 'pwned'), 'ACCESS_DENIED', 'INVALID_PATH');
        await expectCode(b().files.stat(p, target), 'ACCESS_DENIED', 'INVALID_PATH');
        await expectCode(b().files.exists(p, target), 'ACCESS_DENIED', 'INVALID_PATH');
        await expectCode(b().files.list(p, target), 'ACCESS_DENIED', 'INVALID_PATH');
      }
      await expectCode(b().files.delete(p, 'to-victim/index.html'), 'ACCESS_DENIED', 'INVALID_PATH');
      await expectCode(b().files.delete(p, 'to-victim/secret'), 'ACCESS_DENIED', 'INVALID_PATH');
      // Listing the project shows the links as links and never descends through them.
      const listed = await b().files.list(p);
      expect(listed.filter((e) => e.path.startsWith('to-victim/') || e.path.startsWith('to-etc/'))).toEqual([]);
      expect(listed.find((e) => e.path === 'to-victim')?.kind).toBe('symlink');
      expect(await victimState(b(), watched)).toEqual(before);
      expect(await b().files.readText(victim, 'index.html')).toBe('<h1>victim game</h1>');
    });

    s.test('symlinks that stay inside the scope work like the file they name', 'files', async (ctx) => {
      const harness = s.options.harness;
      if (!b().capabilities.files.symlinks || !harness?.symlink) ctx.skip();
      const p: ProjectScope = { userId: attacker.userId, projectId: randomUUID() };
      await b().files.write(p, 'real/game.js', 'game');
      await harness!.symlink!(b(), p, 'alias.js', { kind: 'relative', path: 'real/game.js' });
      await harness!.symlink!(b(), p, 'alias-dir', { kind: 'relative', path: 'real' });
      expect(await b().files.readText(p, 'alias.js')).toBe('game');
      expect(await b().files.readText(p, 'alias-dir/game.js')).toBe('game');
    });
  });
}
