import { randomUUID } from 'node:crypto';
import { describe, expect } from 'vitest';
import { bytesOf, expectCode, newProject, sha256, type ConformanceOptions, useBackend } from './context.js';
import type { AssetScope } from '../contract.js';

const MB = 1024 * 1024;

export function filesCases(options: ConformanceOptions): void {
  describe('files', () => {
    const s = useBackend(options);
    const b = () => s.backend();

    s.testUnsupported('files', async () => {
      const p = newProject();
      await expectCode(b().files.write(p, 'index.html', 'x'), 'UNSUPPORTED');
      await expectCode(b().files.read(p, 'index.html'), 'UNSUPPORTED');
      await expectCode(b().files.list(p), 'UNSUPPORTED');
      await expectCode(b().files.exists(p, 'index.html'), 'UNSUPPORTED');
      await expectCode(b().files.listProjects({ userId: p.userId }), 'UNSUPPORTED');
    });

    s.test('text round trip returns the entry and the same text', 'files', async () => {
      const p = newProject();
      const html = '<!doctype html><title>Hi</title><p>こんにちは 🎮</p>\n';
      const entry = await b().files.write(p, 'index.html', html);
      expect(entry).toMatchObject({ path: 'index.html', kind: 'file', size: Buffer.byteLength(html) });
      expect(Number.isNaN(Date.parse(entry.mtime))).toBe(false);
      expect(await b().files.readText(p, 'index.html')).toBe(html);
    });

    s.test('binary round trip keeps every byte value', 'files', async () => {
      const p = newProject();
      const all = new Uint8Array(256 * 4).map((_, i) => i % 256);
      await b().files.write(p, 'all-bytes.bin', all);
      const back = await b().files.read(p, 'all-bytes.bin');
      expect(back).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(back).equals(Buffer.from(all))).toBe(true);
    });

    s.test('empty file round trip', 'files', async () => {
      const p = newProject();
      expect((await b().files.write(p, 'empty.txt', new Uint8Array())).size).toBe(0);
      expect((await b().files.read(p, 'empty.txt')).byteLength).toBe(0);
      expect(await b().files.readText(p, 'empty.txt')).toBe('');
      expect(await b().files.exists(p, 'empty.txt')).toBe(true);
    });

    s.test(
      '5 MB binary round trip',
      'files',
      async (ctx) => {
        if (b().capabilities.files.maxFileBytes < 5 * MB) ctx.skip();
        const p = newProject();
        const big = bytesOf(5 * MB, 7);
        const entry = await b().files.write(p, 'assets/big.bin', big);
        expect(entry.size).toBe(5 * MB);
        expect(sha256(await b().files.read(p, 'assets/big.bin'))).toBe(sha256(big));
      },
      60_000,
    );

    s.test('non-ASCII names round trip and list as written', 'files', async () => {
      const p = newProject();
      const names = ['スプライト/プレイヤー.png', 'émoji 🎮.txt', 'Ünïcödé/ß.js', '中文 名字.md', 'with space.css'];
      for (const [i, name] of names.entries()) await b().files.write(p, name, `file ${i}`);
      for (const [i, name] of names.entries()) expect(await b().files.readText(p, name)).toBe(`file ${i}`);
      const listed = (await b().files.list(p)).filter((e) => e.kind === 'file').map((e) => e.path);
      expect(listed.sort()).toEqual([...names].sort());
    });

    s.test('nested writes create their parent directories', 'files', async () => {
      const p = newProject();
      await b().files.write(p, 'a/b/c/d.txt', 'deep');
      expect(await b().files.readText(p, 'a/b/c/d.txt')).toBe('deep');
      const dirs = (await b().files.list(p)).filter((e) => e.kind === 'directory').map((e) => e.path);
      expect(dirs).toEqual(['a', 'a/b', 'a/b/c']);
      expect((await b().files.stat(p, 'a/b')).kind).toBe('directory');
    });

    s.test('overwrite replaces the whole content', 'files', async () => {
      const p = newProject();
      await b().files.write(p, 'game.js', 'x'.repeat(1000));
      await b().files.write(p, 'game.js', 'short');
      expect(await b().files.readText(p, 'game.js')).toBe('short');
      expect((await b().files.stat(p, 'game.js')).size).toBe(5);
      expect((await b().files.list(p)).map((e) => e.path)).toEqual(['game.js']);
    });

    s.test('list is recursive and sorted by default, shallow on request, relative to the scope root', 'files', async () => {
      const p = newProject();
      await b().files.write(p, 'index.html', '1');
      await b().files.write(p, 'js/main.js', '22');
      await b().files.write(p, 'js/lib/util.js', '333');
      await b().files.write(p, 'css/style.css', '4444');
      const all = await b().files.list(p);
      expect(all.map((e) => e.path)).toEqual(['css', 'css/style.css', 'index.html', 'js', 'js/lib', 'js/lib/util.js', 'js/main.js']);
      expect(all.find((e) => e.path === 'js/lib/util.js')).toMatchObject({ kind: 'file', size: 3 });
      expect(all.find((e) => e.path === 'js')).toMatchObject({ kind: 'directory', size: 0 });
      const shallow = await b().files.list(p, '', { recursive: false });
      expect(shallow.map((e) => e.path)).toEqual(['css', 'index.html', 'js']);
      const sub = await b().files.list(p, 'js');
      expect(sub.map((e) => e.path)).toEqual(['js/lib', 'js/lib/util.js', 'js/main.js']);
    });

    s.test('stat and exists describe files and directories', 'files', async () => {
      const p = newProject();
      await b().files.write(p, 'dir/file.txt', 'abc');
      expect(await b().files.stat(p, 'dir/file.txt')).toMatchObject({ path: 'dir/file.txt', kind: 'file', size: 3 });
      expect(await b().files.stat(p, 'dir')).toMatchObject({ path: 'dir', kind: 'directory' });
      expect(await b().files.exists(p, 'dir/file.txt')).toBe(true);
      expect(await b().files.exists(p, 'dir')).toBe(true);
      expect(await b().files.exists(p, 'dir/nope.txt')).toBe(false);
      expect(await b().files.exists(newProject(), 'index.html')).toBe(false);
    });

    s.test('delete removes a file, or a directory with its contents', 'files', async () => {
      const p = newProject();
      await b().files.write(p, 'keep.txt', 'k');
      await b().files.write(p, 'gone.txt', 'g');
      await b().files.write(p, 'dir/a.txt', 'a');
      await b().files.write(p, 'dir/sub/b.txt', 'b');
      await b().files.delete(p, 'gone.txt');
      await b().files.delete(p, 'dir');
      expect((await b().files.list(p)).map((e) => e.path)).toEqual(['keep.txt']);
      await expectCode(b().files.delete(p, 'gone.txt'), 'NOT_FOUND');
    });

    s.test('missing files and directories are NOT_FOUND', 'files', async () => {
      const p = newProject();
      await expectCode(b().files.read(p, 'index.html'), 'NOT_FOUND');
      await expectCode(b().files.readText(p, 'index.html'), 'NOT_FOUND');
      await expectCode(b().files.stat(p, 'index.html'), 'NOT_FOUND');
      await expectCode(b().files.list(p), 'NOT_FOUND');
      await b().files.write(p, 'index.html', 'x');
      await expectCode(b().files.read(p, 'nope/index.html'), 'NOT_FOUND');
      await expectCode(b().files.list(p, 'nope'), 'NOT_FOUND');
    });

    s.test('a file where a directory is needed, and the reverse, are CONFLICT', 'files', async () => {
      const p = newProject();
      await b().files.write(p, 'file.txt', 'x');
      await b().files.write(p, 'dir/inner.txt', 'y');
      await expectCode(b().files.write(p, 'file.txt/child.txt', 'z'), 'CONFLICT');
      await expectCode(b().files.write(p, 'dir', 'z'), 'CONFLICT');
      await expectCode(b().files.read(p, 'dir'), 'CONFLICT');
      await expectCode(b().files.list(p, 'file.txt'), 'CONFLICT');
      expect(await b().files.readText(p, 'file.txt')).toBe('x');
    });

    s.test(
      'writes above the size limit are TOO_LARGE and change nothing',
      'files',
      async () => {
        const p = newProject();
        const limit = b().capabilities.files.maxFileBytes;
        await b().files.write(p, 'x.bin', 'before');
        const error = await expectCode(b().files.write(p, 'x.bin', new Uint8Array(limit + 1)), 'TOO_LARGE');
        expect(error.message).toMatch(/limit|large/i);
        await expectCode(b().files.write(p, 'new.bin', new Uint8Array(limit + 1)), 'TOO_LARGE');
        expect(await b().files.readText(p, 'x.bin')).toBe('before');
        expect(await b().files.exists(p, 'new.bin')).toBe(false);
      },
      120_000,
    );

    s.test('data that is neither text nor bytes is INVALID_ARGUMENT', 'files', async () => {
      const p = newProject();
      await expectCode(b().files.write(p, 'x.txt', 42 as unknown as string), 'INVALID_ARGUMENT');
      await expectCode(b().files.write(p, 'x.txt', { a: 1 } as unknown as string), 'INVALID_ARGUMENT');
      expect(await b().files.exists(p, 'x.txt')).toBe(false);
    });

    s.test('the asset space is separate from every project', 'files', async () => {
      const userId = randomUUID();
      const p = newProject(userId);
      const assets: AssetScope = { userId, assets: true };
      await b().files.write(assets, 'player_1a2b3c4d.png', new Uint8Array([1, 2, 3]));
      await b().files.write(p, 'player_1a2b3c4d.png', new Uint8Array([9]));
      expect([...(await b().files.read(assets, 'player_1a2b3c4d.png'))]).toEqual([1, 2, 3]);
      expect([...(await b().files.read(p, 'player_1a2b3c4d.png'))]).toEqual([9]);
      expect((await b().files.list(assets)).map((e) => e.path)).toEqual(['player_1a2b3c4d.png']);
      expect(await b().files.listProjects({ userId })).toEqual([p.projectId]);
    });

    s.test('listProjects and deleteProject', 'files', async () => {
      const userId = randomUUID();
      const ids = [newProject(userId), newProject(userId), newProject(userId)];
      for (const p of ids) await b().files.write(p, 'index.html', p.projectId);
      expect(await b().files.listProjects({ userId })).toEqual(ids.map((p) => p.projectId).sort());
      expect(await b().files.listProjects({ userId: randomUUID() })).toEqual([]);
      await b().files.deleteProject(ids[1]!);
      expect(await b().files.listProjects({ userId })).toEqual([ids[0]!, ids[2]!].map((p) => p.projectId).sort());
      await expectCode(b().files.readText(ids[1]!, 'index.html'), 'NOT_FOUND');
      expect(await b().files.readText(ids[0]!, 'index.html')).toBe(ids[0]!.projectId);
      await expectCode(b().files.deleteProject(ids[1]!), 'NOT_FOUND');
    });

    s.test('concurrent writes to different files all land', 'files', async () => {
      const p = newProject();
      await Promise.all(Array.from({ length: 24 }, (_, i) => b().files.write(p, `many/f${i}.txt`, `v${i}`)));
      const files = (await b().files.list(p, 'many')).map((e) => e.path);
      expect(files).toHaveLength(24);
      for (let i = 0; i < 24; i++) expect(await b().files.readText(p, `many/f${i}.txt`)).toBe(`v${i}`);
    });

    s.test('concurrent writes to one file leave one whole version', 'files', async () => {
      const p = newProject();
      const versions = Array.from({ length: 8 }, (_, i) => String(i).repeat(50_000 + i));
      await Promise.all(versions.map((v) => b().files.write(p, 'race.txt', v)));
      expect(versions).toContain(await b().files.readText(p, 'race.txt'));
      expect((await b().files.list(p)).map((e) => e.path)).toEqual(['race.txt']);
    });

    s.test('listUsers (when offered) lists every user with a space, sorted', 'files', async (ctx) => {
      if (!b().files.listUsers) ctx.skip();
      const p = newProject();
      const other = randomUUID();
      await b().files.write(p, 'index.html', 'x');
      await b().files.write({ userId: other, assets: true }, 'a.png', 'png');
      const users = await b().files.listUsers!();
      expect(users).toEqual([...users].sort());
      expect(users).toContain(p.userId);
      expect(users).toContain(other);
    });
  });
}
