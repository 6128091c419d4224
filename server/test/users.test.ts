/**
 * The user's own account over REST: GET /api/users/me and the display name through PATCH (V2's rules: trimmed,
 * empty → null, at most 50 characters; fields this server cannot change yet are refused, not dropped). Public
 * profiles (no e-mail, public games only) and V2's page addresses (clean paths, redirects, old .html names).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, Client, signUp, startHarness, type Harness } from './support/harness.js';
import { checkDisplayName } from '../src/http/routes/users.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 60_000);
afterAll(async () => {
  await h?.close();
});

async function signUpNamed(email: string, data: Record<string, unknown>) {
  const res = await fetch(`${h.url}/auth/v1/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', apikey: 'embedded' },
    body: JSON.stringify({ email, password: 'correct horse battery', data }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('/api/users/me', () => {
  it('the name chosen at sign-up, then changed; bad values refused and nothing changed', async () => {
    const token = await signUpNamed(`named-${Date.now()}@example.com`, { display_name: 'Ren' });
    const call = api(h.url, token);
    const me = (await call('GET', '/api/users/me')).json;
    expect(me).toMatchObject({ display_name: 'Ren', public_id: expect.stringMatching(/^u_/) });
    // V2's fields, every one: the public profile's and the owner's own (e-mail, links, update time).
    expect(Object.keys(me).sort()).toEqual(
      ['avatar_url', 'bio', 'created_at', 'display_name', 'email', 'id', 'public_id', 'social_links', 'updated_at', 'username'].sort(),
    );
    expect((await call('PATCH', '/api/users/me', { display_name: '  Ren   the  Builder ' })).json.display_name).toBe('Ren the Builder');
    for (const body of [{ display_name: 'x'.repeat(51) }, { display_name: 5 }, { bio: 'hi' }, {}]) {
      expect((await call('PATCH', '/api/users/me', body)).status).toBe(400);
    }
    expect((await call('GET', '/api/users/me')).json.display_name).toBe('Ren the Builder');
    expect((await call('PATCH', '/api/users/me', { display_name: '' })).json.display_name).toBeNull();
    expect((await api(h.url)('GET', '/api/users/me')).status).toBe(401);
  });

  it('counts characters, not UTF-16 units', () => {
    expect(checkDisplayName('🎮'.repeat(50))).toEqual({ ok: true, value: '🎮'.repeat(50) });
    expect(checkDisplayName('あ'.repeat(51)).ok).toBe(false);
  });
});

describe('public profiles and V2 page addresses', () => {
  async function publishedGame(title: string, visibility = 'public') {
    const user = await signUp(h.url);
    const ws = await Client.init(h.url, user.accessToken);
    ws.send({ type: 'createProject', name: title });
    const projectId = (await ws.next((m) => m.type === 'projectCreated')).project.id as string;
    ws.close();
    const scope = { userId: user.userId, projectId };
    await h.server.ctx.backend.files.write(scope, 'index.html', `<p>${title}</p>`);
    await h.server.ctx.backend.git.commit(scope, 'first');
    const published = await api(h.url, user.accessToken)('POST', `/api/projects/${projectId}/publish`, { title, visibility });
    expect(published.status).toBe(200);
    return { user, projectId, gameId: published.json.gameId as string };
  }

  it('a profile shows the public games only and never the e-mail; bad ids are 400, unknown ones 404', async () => {
    const { user, gameId } = await publishedGame('Star Catcher');
    const me = (await api(h.url, user.accessToken)('GET', '/api/users/me')).json;
    const anyone = api(h.url);
    for (const key of [user.userId, me.public_id]) {
      const profile = await anyone('GET', `/api/users/${key}/public`);
      expect(profile.status).toBe(200);
      expect(profile.json).toMatchObject({ id: user.userId, public_id: me.public_id });
      expect(profile.json).not.toHaveProperty('email');
      expect(profile.text).not.toContain(user.email);
    }
    const games = await anyone('GET', `/api/users/${me.public_id}/games`);
    expect(games.json.games.map((g: { public_id: string }) => g.public_id)).toEqual([gameId]);

    // An unlisted game stays off the page of its author.
    const unlisted = await publishedGame('Secret', 'unlisted');
    expect((await anyone('GET', `/api/users/${unlisted.user.userId}/games`)).json.games).toEqual([]);

    expect((await anyone('GET', '/api/users/not-an-id/public')).status).toBe(400);
    expect((await anyone('GET', '/api/users/u_0000000000/public')).status).toBe(404);
    expect((await anyone('GET', '/api/users/username/nobody_here/public')).status).toBe(404);
    expect((await anyone('GET', '/api/users/username/Bad%20Name/public')).status).toBe(404);
  });

  it('the clean paths answer with the app, /p/:id and /editor redirect, old .html names move for good', async () => {
    const { gameId, projectId } = await publishedGame('Linked');
    const get = (path: string) => fetch(`${h.url}${path}`, { redirect: 'manual', headers: { accept: 'text/html' } });
    for (const page of ['/create', '/login', '/mypage', '/u/u_abcdefghij', '/@mika_07']) {
      const res = await get(page);
      expect(res.status, page).toBe(200);
      expect(await res.text(), page).toContain('/js/main.js');
    }
    const p = await get(`/p/${gameId}`);
    expect([p.status, p.headers.get('location')]).toEqual([302, `/play/${gameId}`]);
    expect((await get('/p/g_0000000000')).status).toBe(404);
    expect((await get('/p/whatever')).status).toBe(404);
    expect((await get(`/editor?project=${projectId}`)).headers.get('location')).toBe(`/project/${projectId}`);
    expect((await get('/editor?project=../../etc')).headers.get('location')).toBe('/create');
    const moved: [string, string][] = [
      ['/create.html?ref=mail', '/create?ref=mail'],
      ['/login.html', '/login'],
      ['/mypage.html', '/mypage'],
      ['/editor.html?project=abc', '/editor?project=abc'],
      ['/user.html?id=u_abcdefghij', '/u/u_abcdefghij'],
      ['/user.html?username=mika', '/@mika'],
      ['/index.html', '/'],
    ];
    for (const [from, to] of moved) {
      const res = await get(from);
      expect([res.status, res.headers.get('location')], from).toEqual([301, to]);
    }
  });

  it('the app installs on a phone: a manifest whose icons exist, a service worker and its offline page', async () => {
    const manifest = (await api(h.url)('GET', '/manifest.webmanifest')).json;
    expect(manifest).toMatchObject({ name: 'DreamCore', start_url: '/', display: 'standalone' });
    for (const icon of manifest.icons as { src: string; sizes: string; type: string }[]) {
      const res = await fetch(`${h.url}${icon.src}`);
      expect(res.status, icon.src).toBe(200);
      expect(res.headers.get('content-type'), icon.src).toContain(icon.type);
      if (icon.type === 'image/png') {
        const { width } = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
        expect(`${width}x${width}`).toBe(icon.sizes);
      }
    }
    expect((await fetch(`${h.url}/icons/icon-100.png`)).status).toBe(404);
    const sw = await fetch(`${h.url}/sw.js`);
    expect(sw.headers.get('content-type')).toMatch(/javascript/);
    const cached = JSON.parse(
      /const OFFLINE = (\[[^\]]*\]);/
        .exec(await sw.text())![1]!
        .replace(/'/g, '"')
        .replace(/,\s*\]/, ']'),
    ) as string[];
    for (const file of cached) expect((await fetch(`${h.url}${file}`)).status, file).toBe(200);
    // The offline page works without the network: every module it imports, transitively, is in the cache.
    const seen = new Set<string>();
    const walk = async (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = await (await fetch(`${h.url}${file}`)).text();
      for (const [, spec] of source.matchAll(/^(?:import|export)[^'"]*?from\s+'(\.[^']+)'/gm)) await walk(new URL(spec!, `http://x${file}`).pathname);
    };
    await walk('/js/offline.js');
    expect([...seen].filter((file) => !cached.includes(file))).toEqual([]);
    expect(await (await fetch(`${h.url}/`)).text()).toContain('<link rel="manifest" href="/manifest.webmanifest">');
  });
});
