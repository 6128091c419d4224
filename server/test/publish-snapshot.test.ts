/**
 * Published = a snapshot, over REST: players get the commit recorded at publish; `GET …/published` says which game
 * files changed since (media and settings do not count); unpublish hides and a republish brings back the same id.
 * And the snapshot file cache underneath (SnapshotFiles).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionBackend } from '@dreamcore/runtime-core';
import { api, Client, signUp, startHarness, type Harness } from './support/harness.js';
import { isGameContent } from '../src/game-content.js';
import { SnapshotFiles } from '../src/http/snapshot-files.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
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
