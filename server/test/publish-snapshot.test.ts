/**
 * Published = a snapshot, over REST: players get the commit recorded at publish; `GET …/published` says which game
 * files changed since (media and settings do not count); unpublish hides and a republish brings back the same id.
 * And the snapshot file cache underneath (SnapshotFiles).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionBackend } from '@dreamcore/runtime-core';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { api, Client, signUp, startHarness, type Harness } from './support/harness.js';
import { isGameContent } from '../src/game-content.js';
import { SnapshotFiles } from '../src/http/snapshot-files.js';
import { demoScript } from '@dreamcore/runtime-core/demo';
import { movableGame } from './support/browser-kit.js';

let h: Harness;

beforeAll(async () => {
  // The demo model answers the publish-info request (the other cases here do not use the model).
  h = await startHarness({ script: demoScript });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

async function projectWith(html: string) {
  const user = await signUp(h.url);
  const ws = await Client.init(h.url, user.accessToken);
  ws.send({ type: 'createProject', name: 'Snap' });
  const projectId = (await ws.next((m) => m.type === 'projectCreated')).project.id as string;
  ws.close();
  const scope = { userId: user.userId, projectId };
  const { backend } = h.server.ctx;
  await backend.files.write(scope, 'index.html', html);
  await backend.git.commit(scope, 'first');
  return { user, scope, backend, call: api(h.url, user.accessToken) };
}

describe('published snapshots over REST', () => {
  it('players get the published commit until the owner publishes again', async () => {
    const { scope, backend, call } = await projectWith('<p>version one</p>');
    const published = await call('POST', `/api/projects/${scope.projectId}/publish`, { title: 'Snap' });
    expect(published.status).toBe(200);
    const gameId = published.json.gameId as string;
    expect(published.json.game.commit_hash).toMatch(/^[0-9a-f]{40}$/);

    await backend.files.write(scope, 'index.html', '<p>version two</p>');
    await backend.files.write(scope, 'extra.js', 'console.log(2)');
    await backend.git.commit(scope, 'second');
    expect((await api(h.url)('GET', `/g/${gameId}/index.html`)).text).toContain('version one');
    expect((await api(h.url)('GET', `/g/${gameId}/extra.js`)).status).toBe(404); // not in the snapshot
    let status = await call('GET', `/api/projects/${scope.projectId}/published`);
    expect(status.json).toMatchObject({ published: true, upToDate: false });
    expect((status.json.changedFiles as string[]).sort()).toEqual(['extra.js', 'index.html']);

    await call('POST', `/api/projects/${scope.projectId}/publish`, { title: 'Snap' });
    expect((await api(h.url)('GET', `/g/${gameId}/index.html`)).text).toContain('version two');
    expect((await api(h.url)('GET', `/g/${gameId}/extra.js`)).text).toBe('console.log(2)');
    status = await call('GET', `/api/projects/${scope.projectId}/published`);
    expect(status.json).toMatchObject({ published: true, upToDate: true, changedFiles: [] });
  });

  it('a new promo video, thumbnail or publish form is not a change players miss', async () => {
    const { scope, backend, call } = await projectWith('<p>game</p>');
    await call('POST', `/api/projects/${scope.projectId}/publish`, { title: 'Snap' });
    await backend.files.write(scope, 'movie.mp4', new Uint8Array([1, 2, 3]));
    await backend.files.write(scope, 'thumbnail.webp', new Uint8Array([4, 5]));
    await backend.git.commit(scope, 'Generate demo movie');
    await call('PUT', `/api/projects/${scope.projectId}/publish-draft`, { title: 'Snap, the sequel' });
    const status = await call('GET', `/api/projects/${scope.projectId}/published`);
    expect(status.json).toMatchObject({ published: true, upToDate: true, changedFiles: [] });
  });

  it('unpublish hides the game; publishing again brings back the same id', async () => {
    const { scope, call } = await projectWith('<p>game</p>');
    const first = await call('POST', `/api/projects/${scope.projectId}/publish`, { title: 'Snap' });
    const gameId = first.json.gameId as string;
    expect((await call('DELETE', `/api/projects/${scope.projectId}/publish`)).status).toBe(200);
    expect((await api(h.url)('GET', `/g/${gameId}/index.html`)).status).toBe(404);
    expect((await api(h.url)('GET', `/api/published-games/${gameId}`)).status).toBe(404);
    const hidden = await call('GET', `/api/projects/${scope.projectId}/published`);
    expect(hidden.json).toMatchObject({ published: false, game: { public_id: gameId, unpublished_at: expect.any(String) } });
    const again = await call('POST', `/api/projects/${scope.projectId}/publish`, { title: 'Snap' });
    expect(again.json.gameId).toBe(gameId);
    expect((await api(h.url)('GET', `/g/${gameId}/index.html`)).status).toBe(200);
  });
});

describe('which files are the game', () => {
  it('media, the publish form, the style and hidden paths are not', () => {
    expect(['index.html', 'js/main.js', 'assets/hero.png'].every(isGameContent)).toBe(true);
    expect(['movie.mp4', 'thumbnail.webp', 'thumbnail.png', 'PUBLISH.json', 'STYLE.md', '.git/HEAD', 'a/.secret'].some(isGameContent)).toBe(false);
  });
});

describe('SnapshotFiles', () => {
  /** A backend whose readAt counts calls and returns `size` bytes, or fails for paths named "missing". */
  function countingBackend(size: number) {
    const calls: string[] = [];
    const backend = {
      git: {
        readAt: async (_scope: unknown, commit: string, path: string) => {
          calls.push(`${commit}:${path}`);
          if (path === 'missing') throw Object.assign(new Error('nope'), { code: 'NOT_FOUND' });
          return new Uint8Array(size);
        },
      },
    } as unknown as ExecutionBackend;
    return { backend, calls };
  }
  const scope = { userId: 'u', projectId: 'p' };

  it('reads a commit file once, then from memory; a failed read is asked again', async () => {
    const { backend, calls } = countingBackend(10);
    const files = new SnapshotFiles(backend);
    await Promise.all([files.read(scope, 'c1', 'a.js'), files.read(scope, 'c1', 'a.js')]);
    await files.read(scope, 'c1', 'a.js');
    await files.read(scope, 'c2', 'a.js');
    expect(calls).toEqual(['c1:a.js', 'c2:a.js']);
    await expect(files.read(scope, 'c1', 'missing')).rejects.toThrow('nope');
    await expect(files.read(scope, 'c1', 'missing')).rejects.toThrow('nope');
    expect(calls.filter((c) => c.endsWith('missing'))).toHaveLength(2);
  });

  it('keeps at most maxBytes, dropping the least recently used; large files are not kept', async () => {
    const { backend, calls } = countingBackend(40);
    const files = new SnapshotFiles(backend, { maxBytes: 100, maxFileBytes: 50 });
    await files.read(scope, 'c', 'a');
    await files.read(scope, 'c', 'b');
    await files.read(scope, 'c', 'a'); // a is now the most recent
    await files.read(scope, 'c', 'c'); // 120 bytes: b goes
    expect(files.size).toBe(80);
    calls.length = 0;
    await files.read(scope, 'c', 'a');
    await files.read(scope, 'c', 'b');
    expect(calls).toEqual(['c:b']);

    const big = countingBackend(60);
    const small = new SnapshotFiles(big.backend, { maxBytes: 1000, maxFileBytes: 50 });
    await small.read(scope, 'c', 'big');
    await small.read(scope, 'c', 'big');
    expect(big.calls).toHaveLength(2);
    expect(small.size).toBe(0);
  });
});

describe('publishing help: info from the model, a picture of the running game, the QR code', () => {
  // A demo-made shooter (its kind in the meta the demo model reads) that draws and answers keys.
  const shooter = movableGame('help').replace('<title>', '<meta name="dreamcore-demo" content="shooter"><title>');

  it('the model writes title, description, how to play and tags in the language asked for; nothing else changes', { timeout: 120_000 }, async () => {
    const { scope, backend, call } = await projectWith(shooter);
    await backend.files.write(scope, 'SPEC.md', '# ほしブラスター\n\n宇宙シューティング\n');
    await backend.git.commit(scope, 'spec');
    const before = (await backend.git.log(scope)).commits.length;
    const filesBefore = await backend.files.list(scope);
    const ja = await call('POST', `/api/projects/${scope.projectId}/generate-publish-info`, { language: 'ja' });
    expect(ja.status).toBe(200);
    expect(ja.json).toEqual({
      title: 'ほしブラスター',
      description: expect.stringContaining('宇宙シューティング'),
      howToPlay: expect.stringContaining('スペース'),
      tags: ['シューティング', '宇宙', 'アーケード'],
    });
    // No body language: the request's Accept-Language.
    const en = await call('POST', `/api/projects/${scope.projectId}/generate-publish-info`, {}, { 'accept-language': 'en-GB,en;q=0.9' });
    expect(en.json.tags).toEqual(['shooter', 'space', 'arcade']);
    expect(en.json.description).toMatch(/^A space shooter/);
    expect((await backend.git.log(scope)).commits.length).toBe(before);
    expect(await backend.files.list(scope)).toEqual(filesBefore);
  });

  it('refuses another user’s project (it does not exist for them), an unknown language and a project with no game, and writes nothing', async () => {
    const { scope, call } = await projectWith(shooter);
    const stranger = api(h.url, (await signUp(h.url)).accessToken);
    const before = await h.server.ctx.backend.files.list(scope);
    expect((await stranger('POST', `/api/projects/${scope.projectId}/generate-publish-info`, { language: 'ja' })).status).toBe(404);
    expect((await stranger('POST', `/api/projects/${scope.projectId}/generate-thumbnail`, {})).status).toBe(404);
    expect((await call('POST', `/api/projects/${scope.projectId}/generate-publish-info`, { language: 'xx' })).json).toEqual({ error: 'Unsupported language' });
    expect(await h.server.ctx.backend.files.list(scope)).toEqual(before);
    const empty = await projectWith('<p>x</p>');
    await empty.backend.files.delete(empty.scope, 'index.html');
    expect((await empty.call('POST', `/api/projects/${empty.scope.projectId}/generate-publish-info`, {})).status).toBe(404);
    expect((await empty.call('POST', `/api/projects/${empty.scope.projectId}/generate-thumbnail`, {})).status).toBe(404);
  });

  it('both spend one of the user’s AI requests: over the limit they are refused and nothing runs', async () => {
    const { user, scope, backend, call } = await projectWith(shooter);
    let spare = 0;
    while (await h.server.ctx.aiLimiter.take(user.userId)) spare += 1;
    expect(spare).toBeGreaterThan(0);
    const before = await backend.git.log(scope);
    for (const route of ['generate-publish-info', 'generate-thumbnail']) {
      const res = await call('POST', `/api/projects/${scope.projectId}/${route}`, { language: 'en' });
      expect([route, res.status, res.json.error]).toEqual([route, 429, expect.stringMatching(/Too many AI requests/)]);
    }
    expect(await backend.git.log(scope)).toEqual(before);
  });

  it('the thumbnail is a picture of the running game; publishing stays up to date; the QR code names the play page', { timeout: 60_000 }, async () => {
    const { scope, backend, call } = await projectWith(shooter);
    const published = await call('POST', `/api/projects/${scope.projectId}/publish`, { title: 'Shooter' });
    const gameId = published.json.gameId as string;
    const res = await call('POST', `/api/projects/${scope.projectId}/generate-thumbnail`, {});
    expect(res.status).toBe(200);
    expect(res.json.thumbnailUrl).toMatch(new RegExp(`^/api/projects/${scope.projectId}/thumbnail\\?t=\\d+$`));
    const picture = await fetch(`${h.url}/api/projects/${scope.projectId}/thumbnail`);
    expect(picture.headers.get('content-type')).toBe('image/webp');
    const { width, height } = await sharp(Buffer.from(await picture.arrayBuffer())).metadata();
    expect([width, height]).toEqual([480, 640]);
    expect((await backend.git.log(scope)).commits[0]?.message).toContain('Thumbnail');
    // A thumbnail is not a change players miss.
    expect((await call('GET', `/api/projects/${scope.projectId}/published`)).json).toMatchObject({ upToDate: true });

    const qr = await api(h.url)('GET', `/api/published-games/${gameId}/qr`);
    expect(qr.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(qr.text).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect((await api(h.url)('GET', '/api/published-games/g_0000000000/qr')).status).toBe(404);
    expect((await api(h.url)('GET', '/api/published-games/nope/qr')).status).toBe(400);
  });
});

describe('remix and lineage', () => {
  it('a public game becomes the remixer’s project: the published files, a history of its own, lineage both ways', { timeout: 60_000 }, async () => {
    const { scope, backend, call } = await projectWith('<p>published version</p>');
    await backend.files.write(scope, 'SPEC.md', '# Original\n');
    await backend.git.commit(scope, 'spec');
    const gameId = (await call('POST', `/api/projects/${scope.projectId}/publish`, { title: 'Original' })).json.gameId as string;
    // The owner's later, unpublished work is not part of a remix.
    await backend.files.write(scope, 'index.html', '<p>secret draft</p>');
    await backend.files.write(scope, 'draft.js', 'secret');
    await backend.git.commit(scope, 'private work');

    const remixer = await signUp(h.url);
    const asRemixer = api(h.url, remixer.accessToken);
    const res = await asRemixer('POST', `/api/games/${gameId}/remix`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ success: true, project: { name: 'Snap (Remix)', remixedFrom: scope.projectId } });
    const mine = { userId: remixer.userId, projectId: res.json.project.id as string };
    expect(new TextDecoder().decode(await backend.files.read(mine, 'index.html'))).toBe('<p>published version</p>');
    expect(await backend.files.exists(mine, 'draft.js')).toBe(false);
    const history = (await backend.git.log(mine)).commits;
    expect(history.map((c) => c.message.trim())).toEqual([`Remixed from “Original” (${gameId})`]);

    const remixGameId = (await asRemixer('POST', `/api/projects/${mine.projectId}/publish`, { title: 'My remix' })).json.gameId as string;
    const anyone = api(h.url);
    expect((await anyone('GET', `/api/games/${remixGameId}/lineage`)).json).toMatchObject({
      remixedFrom: { public_id: gameId, title: 'Original' },
      remixes: [],
    });
    expect((await anyone('GET', `/api/games/${gameId}/lineage`)).json).toMatchObject({
      remixedFrom: null,
      remixes: [{ public_id: remixGameId, title: 'My remix' }],
      allowRemix: true,
    });
    // The original goes private: the remix still says it came from somewhere, not from what.
    await call('POST', `/api/projects/${scope.projectId}/publish`, { title: 'Original', visibility: 'private' });
    expect((await anyone('GET', `/api/games/${remixGameId}/lineage`)).json.remixedFrom).toEqual({ hidden: true });
  });

  it('nobody remixes a private or unlisted game, one that forbids it, or without signing in; nothing is created', { timeout: 60_000 }, async () => {
    const owner = await projectWith('<p>mine</p>');
    const remixer = await signUp(h.url);
    const asRemixer = api(h.url, remixer.accessToken);
    const projectsBefore = await h.server.ctx.db.service.listProjects(remixer.userId);
    const publish = (fields: Record<string, unknown>) => owner.call('POST', `/api/projects/${owner.scope.projectId}/publish`, { title: 'Mine', ...fields });
    const gameId = (await publish({ visibility: 'private' })).json.gameId as string;
    expect((await asRemixer('POST', `/api/games/${gameId}/remix`)).json).toEqual({ error: 'Game not found' });
    await publish({ visibility: 'unlisted' });
    expect((await asRemixer('POST', `/api/games/${gameId}/remix`)).status).toBe(404);
    await publish({ visibility: 'public', allowRemix: false });
    expect(await asRemixer('POST', `/api/games/${gameId}/remix`)).toMatchObject({ status: 403, json: { error: 'Remix not allowed for this game' } });
    expect((await api(h.url)('GET', `/api/games/${gameId}/lineage`)).json.allowRemix).toBe(false);
    await publish({ visibility: 'public', allowRemix: true });
    expect((await api(h.url)('POST', `/api/games/${gameId}/remix`)).status).toBe(401);
    expect((await asRemixer('POST', '/api/games/not-a-game/remix')).status).toBe(400);
    expect((await asRemixer('POST', '/api/games/g_0000000000/remix')).status).toBe(404);
    expect(await h.server.ctx.db.service.listProjects(remixer.userId)).toEqual(projectsBefore);
    // And now it is allowed.
    expect((await asRemixer('POST', `/api/games/${gameId}/remix`)).status).toBe(200);
  });
});

describe("the game's code: read-only view and zip download", () => {
  it('the owner reads any code file and downloads the game files as a zip; nobody else can; bad paths are refused', async () => {
    const { scope, backend, call, user } = await projectWith('<p>zip me</p>');
    await backend.files.write(scope, 'js/game.js', 'console.log("ゲーム")');
    await backend.files.write(scope, 'PUBLISH.json', '{"title":"x"}');
    await backend.git.commit(scope, 'more');
    expect((await call('GET', `/api/projects/${scope.projectId}/code`)).json).toEqual({ code: '<p>zip me</p>', path: 'index.html' });
    expect((await call('GET', `/api/projects/${scope.projectId}/code?path=js/game.js`)).json.code).toBe('console.log("ゲーム")');
    for (const bad of ['../../etc/passwd', '.git/config', 'PUBLISH.json', 'movie.mp4', '/index.html']) {
      const res = await call('GET', `/api/projects/${scope.projectId}/code?path=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
    }
    expect((await call('GET', `/api/projects/${scope.projectId}/code?path=missing.js`)).status).toBe(404);

    const res = await fetch(`${h.url}/api/projects/${scope.projectId}/download`, { headers: { authorization: `Bearer ${user.accessToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="game.zip"; filename\*=UTF-8''Snap.zip$/);
    const zipFile = path.join(h.dataDir, `download-${Date.now()}.zip`);
    await fs.writeFile(zipFile, Buffer.from(await res.arrayBuffer()));
    // Read back with Info-ZIP's unzip, as a person's computer would.
    const run = promisify(execFile);
    const { stdout } = await run('unzip', ['-Z1', zipFile]);
    expect(stdout.trim().split('\n').sort()).toEqual(['index.html', 'js/game.js']);
    expect((await run('unzip', ['-p', zipFile, 'js/game.js'])).stdout).toBe('console.log("ゲーム")');

    const stranger = api(h.url, (await signUp(h.url)).accessToken);
    expect((await stranger('GET', `/api/projects/${scope.projectId}/download`)).status).toBe(404);
    expect((await stranger('GET', `/api/projects/${scope.projectId}/code?path=js/game.js`)).status).toBe(404);
    expect((await api(h.url)('GET', `/api/projects/${scope.projectId}/download`)).status).toBe(401);
  });
});
