/**
 * The user's own account over REST: GET /api/users/me and the display name through PATCH (V2's rules: trimmed,
 * empty → null, at most 50 characters; fields this server cannot change yet are refused, not dropped). Public
 * profiles (no e-mail, public games only) and V2's page addresses (clean paths, redirects, old .html names).
 * Issue 17: the username and the avatar, and the asset library's management (compressed uploads, rename, search,
 * private/public, delete), each refusal with its code and nothing changed.
 */
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, Client, signUp, startHarness, type Harness } from './support/harness.js';
import { startFakePushService, type FakePushService } from './support/fake-push.js';
import { checkDisplayName } from '../src/http/routes/users.js';
import { DEFAULT_PUSH_SERVICE_HOSTS, PushServices } from '../src/notifications/push-services.js';

let h: Harness;
let push: FakePushService;
const vapid = webpush.generateVAPIDKeys();
beforeAll(async () => {
  push = await startFakePushService();
  h = await startHarness({
    env: {
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:ops@dreamcore.test',
      // The browsers' push services, and this test's stand-in for them.
      PUSH_SERVICE_HOSTS: `${DEFAULT_PUSH_SERVICE_HOSTS},${new URL(push.url).host}`,
    },
    pushAgent: push.agent,
  });
}, 60_000);
afterAll(async () => {
  await h?.close();
  await push?.close();
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

// ---------------------------------------------------------------- issue 17: profile editing and the asset library

/** A multipart upload through fetch's own FormData (what the browser app sends). */
async function upload(
  token: string | undefined,
  path: string,
  field: string,
  file: { name: string; type: string; bytes: Uint8Array },
  fields: Record<string, string> = {},
) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append(field, new Blob([file.bytes], { type: file.type }), file.name);
  const res = await fetch(`${h.url}${path}`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {}, body: form });
  const text = await res.text();
  return { status: res.status, json: (text.startsWith('{') ? JSON.parse(text) : {}) as Record<string, any> };
}

/** A picture sharp draws: a gradient with grain (so it does not compress to nothing), transparent left quarter. */
async function picture(width: number, height: number, format: 'png' | 'jpeg', grain = 40): Promise<Buffer> {
  const channels = format === 'png' ? 4 : 3;
  const raw = Buffer.alloc(width * height * channels);
  let seed = 7;
  const noise = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % grain) - grain / 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      raw[i] = Math.max(0, Math.min(255, (x * 255) / width + noise()));
      raw[i + 1] = Math.max(0, Math.min(255, (y * 255) / height + noise()));
      raw[i + 2] = Math.max(0, Math.min(255, 128 + noise()));
      if (channels === 4) raw[i + 3] = x < width / 4 ? 0 : 255;
    }
  }
  const image = sharp(raw, { raw: { width, height, channels } });
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 95 }).toBuffer();
}

describe('profile editing (issue 17)', () => {
  it('a username: V2 rules, taken and reserved names refused with their codes and nothing changed; /@name follows it', async () => {
    const mika = await signUp(h.url);
    const other = await signUp(h.url);
    const call = api(h.url, mika.accessToken);
    const name = `mika_${Date.now() % 100000}`;
    const set = await call('PATCH', '/api/users/me', { username: ` ${name.toUpperCase()} `, display_name: 'Mika' });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ username: name, display_name: 'Mika' }); // lower-cased and trimmed, as V2
    expect((await api(h.url)('GET', `/api/users/username/${name}/public`)).json).toMatchObject({ id: mika.userId, username: name });
    expect((await call('GET', `/api/users/username-available?u=${name}`)).json).toEqual({ available: true }); // one's own
    expect((await api(h.url, other.accessToken)('GET', `/api/users/username-available?u=${name}`)).json).toEqual({ available: false });
    expect((await api(h.url)('GET', '/api/users/username-available?u=admin')).json).toMatchObject({ available: false, code: 'USERNAME_RESERVED' });

    const refusals: [unknown, number, string][] = [
      ['ab', 400, 'USERNAME_INVALID'],
      ['bad name!', 400, 'USERNAME_INVALID'],
      ['x'.repeat(21), 400, 'USERNAME_INVALID'],
      ['ミカ', 400, 'USERNAME_INVALID'],
      [42, 400, 'USERNAME_INVALID'],
      ['admin', 400, 'USERNAME_RESERVED'],
      ['MyPage', 400, 'USERNAME_RESERVED'],
      ['u_abcdefghij', 400, 'USERNAME_RESERVED'], // looks like a public id: /u/u_abcdefghij must name one person
    ];
    const taken = `taken_${Date.now() % 100000}`;
    expect((await api(h.url, other.accessToken)('PATCH', '/api/users/me', { username: taken })).status).toBe(200);
    refusals.push([taken, 409, 'USERNAME_TAKEN'], [taken.toUpperCase(), 409, 'USERNAME_TAKEN']);
    for (const [username, status, code] of refusals) {
      // With a display name in the same request: a refused username changes nothing at all.
      const res = await call('PATCH', '/api/users/me', { username, display_name: 'Changed' });
      expect([res.status, res.json.code], String(username)).toEqual([status, code]);
    }
    expect((await call('GET', '/api/users/me')).json).toMatchObject({ username: name, display_name: 'Mika' });

    // A new name: the old address is free and gone, the new one answers.
    const renamed = `${name}_b`;
    expect((await call('PATCH', '/api/users/me', { username: renamed })).json.username).toBe(renamed);
    expect((await api(h.url)('GET', `/api/users/username/${name}/public`)).status).toBe(404);
    expect((await api(h.url)('GET', `/api/users/username/${renamed}/public`)).json.id).toBe(mika.userId);
    expect((await call('PATCH', '/api/users/me', { username: '' })).json.username).toBeNull();
    expect((await api(h.url)('PATCH', '/api/users/me', { username: 'nobody_at_all' })).status).toBe(401);
  });

  it('an avatar: any picture becomes a 256 px WebP at its own address; too large, wrong type, unreadable refused and nothing changed', async () => {
    const mika = await signUp(h.url);
    const call = api(h.url, mika.accessToken);
    const first = await upload(mika.accessToken, '/api/users/me/avatar', 'avatar', {
      name: 'me.png',
      type: 'image/png',
      bytes: await picture(900, 600, 'png'),
    });
    expect(first.status).toBe(200);
    const url = first.json.avatar_url as string;
    expect(url).toMatch(new RegExp(`^/user-avatars/${mika.userId}/[0-9a-f]{16}\\.webp$`));
    const served = await fetch(`${h.url}${url}`);
    expect([served.status, served.headers.get('content-type')]).toEqual([200, 'image/webp']);
    expect(await sharp(Buffer.from(await served.arrayBuffer())).metadata()).toMatchObject({ format: 'webp', width: 256, height: 256 });
    expect((await call('GET', '/api/users/me')).json.avatar_url).toBe(url);
    expect((await api(h.url)('GET', `/api/users/${mika.userId}/public`)).json.avatar_url).toBe(url);

    const refusals: [{ name: string; type: string; bytes: Uint8Array }, number, string][] = [
      [{ name: 'big.png', type: 'image/png', bytes: Buffer.alloc(2 * 1024 * 1024 + 1) }, 413, 'TOO_LARGE'],
      [{ name: 'me.txt', type: 'text/plain', bytes: Buffer.from('hello') }, 400, 'UNSUPPORTED_TYPE'],
      [{ name: 'me.png', type: 'image/png', bytes: Buffer.from('not a picture at all') }, 400, 'INVALID_FILE'],
    ];
    for (const [file, status, code] of refusals) {
      const res = await upload(mika.accessToken, '/api/users/me/avatar', 'avatar', file);
      expect([res.status, res.json.code], file.name).toEqual([status, code]);
    }
    expect((await upload(mika.accessToken, '/api/users/me/avatar', 'picture', { name: 'me.png', type: 'image/png', bytes: Buffer.from('x') })).json.code).toBe(
      'INVALID_UPLOAD',
    );
    expect((await upload(undefined, '/api/users/me/avatar', 'avatar', { name: 'me.png', type: 'image/png', bytes: Buffer.from('x') })).status).toBe(401);
    expect((await call('GET', '/api/users/me')).json.avatar_url).toBe(url);

    // A new picture replaces the old one (whose file is removed); then none.
    const second = await upload(mika.accessToken, '/api/users/me/avatar', 'avatar', {
      name: 'me.jpg',
      type: 'image/jpeg',
      bytes: await picture(400, 700, 'jpeg'),
    });
    expect(second.json.avatar_url).not.toBe(url);
    expect((await fetch(`${h.url}${url}`)).status).toBe(404);
    expect((await fetch(`${h.url}${second.json.avatar_url as string}`)).status).toBe(200);
    expect((await call('DELETE', '/api/users/me/avatar')).json).toEqual({ avatar_url: null });
    expect((await fetch(`${h.url}${second.json.avatar_url as string}`)).status).toBe(404);
    expect((await fetch(`${h.url}/user-avatars/${mika.userId}/..%2F..%2Fsecret.webp`)).status).toBe(404);
  });
});

describe('the asset library (issue 17)', () => {
  const list = async (token: string) => ((await api(h.url, token)('GET', '/api/assets')).json.assets as Record<string, any>[]).map((a) => a.alias as string);

  it('a picture within the limits is stored as it came; a big one is made to fit, in its own format, transparency kept', async () => {
    const mika = await signUp(h.url);
    const small = await picture(300, 200, 'png');
    const kept = await upload(mika.accessToken, '/api/assets/upload', 'file', { name: 'small.png', type: 'image/png', bytes: small });
    expect([kept.status, kept.json.compressed]).toEqual([200, null]);
    expect(Buffer.from(await (await fetch(`${h.url}${kept.json.asset.url as string}`)).arrayBuffer()).equals(small)).toBe(true);

    const big = await picture(2400, 1600, 'png', 12);
    expect(big.byteLength).toBeGreaterThan(1024 * 1024);
    const fitted = await upload(mika.accessToken, '/api/assets/upload', 'file', { name: 'Big Sprite.png', type: 'image/png', bytes: big });
    expect(fitted.status).toBe(200);
    expect(fitted.json.asset).toMatchObject({ alias: 'Big_Sprite.png', mimeType: 'image/png' });
    expect(fitted.json.compressed).toMatchObject({ fromBytes: big.byteLength, width: 2048, height: 1365 });
    const stored = Buffer.from(await (await fetch(`${h.url}${fitted.json.asset.url as string}`)).arrayBuffer());
    expect(stored.byteLength).toBe(fitted.json.compressed.toBytes);
    expect(stored.byteLength).toBeLessThanOrEqual(1024 * 1024);
    const { data, info } = await sharp(stored).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([2048, 1365, 4]);
    const alphaAt = (x: number, y: number) => data[(y * info.width + x) * 4 + 3];
    expect(alphaAt(100, 600)).toBe(0); // the transparent quarter is still transparent
    expect(alphaAt(1500, 600)).toBe(255);

    const photo = await picture(2600, 1950, 'jpeg', 90);
    expect(photo.byteLength).toBeGreaterThan(1024 * 1024);
    const jpeg = await upload(mika.accessToken, '/api/assets/upload', 'file', { name: 'photo.jpg', type: 'image/jpeg', bytes: photo });
    expect(jpeg.json.compressed).toMatchObject({ width: 2048, height: 1536 });
    expect(jpeg.json.asset.size).toBeLessThanOrEqual(1024 * 1024);
    expect((await sharp(Buffer.from(await (await fetch(`${h.url}${jpeg.json.asset.url as string}`)).arrayBuffer())).metadata()).format).toBe('jpeg');
  });

  it('uploads refused with a code (too large, wrong type, not what it says) store nothing', async () => {
    const mika = await signUp(h.url);
    const refusals: [{ name: string; type: string; bytes: Uint8Array }, number, string][] = [
      [{ name: 'level.json', type: 'application/json', bytes: Buffer.from(JSON.stringify({ pad: 'x'.repeat(1024 * 1024) })) }, 413, 'TOO_LARGE'],
      [{ name: 'huge.png', type: 'image/png', bytes: Buffer.alloc(12 * 1024 * 1024 + 1) }, 413, 'TOO_LARGE'],
      [{ name: 'tool.exe', type: 'application/octet-stream', bytes: Buffer.from('MZ') }, 400, 'UNSUPPORTED_TYPE'],
      [{ name: 'notes.txt', type: 'text/plain', bytes: Buffer.from('hi') }, 400, 'UNSUPPORTED_TYPE'],
      [{ name: 'fake.png', type: 'image/png', bytes: Buffer.from('GIF89a not a png') }, 400, 'INVALID_FILE'],
    ];
    for (const [file, status, code] of refusals) {
      const res = await upload(mika.accessToken, '/api/assets/upload', 'file', file);
      expect([res.status, res.json.code], file.name).toEqual([status, code]);
    }
    expect(await list(mika.accessToken)).toEqual([]);
    expect(await h.server.ctx.db.service.aliasesOf(mika.userId)).toEqual([]);
  });

  it('rename, search, private and public, delete: the owner only, bad names refused, the address never changes', async () => {
    const [mika, ren] = [await signUp(h.url), await signUp(h.url)];
    const asMika = api(h.url, mika.accessToken);
    const asRen = api(h.url, ren.accessToken);
    const made = await upload(mika.accessToken, '/api/assets/upload', 'file', { name: 'dragon.png', type: 'image/png', bytes: await picture(64, 64, 'png') });
    const { id, url, alias } = made.json.asset as { id: string; url: string; alias: string };
    await upload(mika.accessToken, '/api/assets/upload', 'file', { name: 'coin.png', type: 'image/png', bytes: await picture(32, 32, 'png') });

    // Rename: the name shown changes, the alias (what games use) does not.
    const renamed = await asMika('PUT', `/api/assets/${id}`, { filename: '  赤いドラゴン  ' });
    expect(renamed.json).toMatchObject({ success: true, asset: { id, filename: '赤いドラゴン' } });
    const meta = (await asMika('GET', `/api/assets/${id}/meta`)).json;
    expect(meta).toMatchObject({ filename: '赤いドラゴン', alias, url });
    expect((await fetch(`${h.url}${url}`)).status).toBe(200);
    for (const filename of ['', '   ', 'x'.repeat(201), 'two\nlines', 5, null]) {
      const res = await asMika('PUT', `/api/assets/${id}`, { filename });
      expect([res.status, res.json.code], JSON.stringify(filename)).toEqual([400, 'INVALID_NAME']);
    }
    // Not the owner: refused with its code, and nothing changed.
    expect(await asRen('PUT', `/api/assets/${id}`, { filename: 'mine now' })).toMatchObject({ status: 403, json: { code: 'ACCESS_DENIED' } });
    expect(await asRen('PUT', `/api/assets/${id}/publish`, { isPublic: false })).toMatchObject({ status: 403, json: { code: 'ACCESS_DENIED' } });
    expect(await asRen('DELETE', `/api/assets/${id}`)).toMatchObject({ status: 403, json: { code: 'ACCESS_DENIED' } });
    expect(await asMika('PUT', '/api/assets/not-an-id', { filename: 'x' })).toMatchObject({ status: 400, json: { code: 'INVALID_ARGUMENT' } });
    expect((await asMika('GET', `/api/assets/${id}/meta`)).json).toMatchObject({ filename: '赤いドラゴン', isPublic: true });

    // Search: case and full-/half-width forms do not matter; only one's own assets.
    const search = async (as: typeof asMika, q: string) =>
      ((await as('GET', `/api/assets/search?q=${encodeURIComponent(q)}`)).json.assets as { id: string }[]).map((a) => a.id);
    expect(await search(asMika, 'ﾄﾞﾗｺﾞﾝ')).toEqual([id]);
    expect(await search(asMika, 'ＤＲＡＧＯＮ')).toEqual([id]);
    expect(await search(asMika, 'coin')).toHaveLength(1);
    expect(await search(asMika, '')).toHaveLength(2);
    expect(await search(asRen, 'dragon')).toEqual([]);

    // Private: only the owner can load it; public again for everyone.
    expect(await asMika('PUT', `/api/assets/${id}/publish`, { isPublic: 'no' })).toMatchObject({ status: 400, json: { code: 'INVALID_ARGUMENT' } });
    expect((await asMika('PUT', `/api/assets/${id}/publish`, { isPublic: false })).json).toEqual({ success: true, asset: { id, isPublic: false } });
    expect((await fetch(`${h.url}${url}`)).status).toBe(404);
    expect((await fetch(`${h.url}${url}`, { headers: { authorization: `Bearer ${ren.accessToken}` } })).status).toBe(404);
    expect((await fetch(`${h.url}${url}`, { headers: { authorization: `Bearer ${mika.accessToken}` } })).status).toBe(200);
    await asMika('PUT', `/api/assets/${id}/publish`, { isPublic: true });
    expect((await fetch(`${h.url}${url}`)).status).toBe(200);

    // Delete: gone from the list and its address; a second delete is NOT_FOUND.
    expect((await asMika('DELETE', `/api/assets/${id}`)).json).toEqual({ success: true, message: 'Asset deleted.' });
    expect(await list(mika.accessToken)).toEqual(['coin.png']);
    expect((await fetch(`${h.url}${url}`)).status).toBe(404);
    expect(await asMika('DELETE', `/api/assets/${id}`)).toMatchObject({ status: 404, json: { code: 'NOT_FOUND' } });
  });
});

describe('notifications (the bell) and web push', () => {
  /** A user with a project and a socket that says its tab is in the background. */
  async function userAway(projectName: string) {
    const user = await signUp(h.url);
    const ws = await Client.init(h.url, user.accessToken);
    ws.send({ type: 'createProject', name: projectName });
    const projectId = (await ws.next((m) => m.type === 'projectCreated')).project.id as string;
    await tab(ws, false);
    return { user, ws, projectId, call: api(h.url, user.accessToken) };
  }
  /** The app's report of its tab; a ping round trip after it means the server has read it (a socket's order). */
  async function tab(ws: Client, visible: boolean) {
    ws.send({ type: 'viewState', visible });
    ws.send({ type: 'ping' });
    await ws.next((m) => m.type === 'pong');
  }
  const ended = (
    userId: string,
    projectId: string,
    event: 'generationCompleted' | 'movieCompleted' | 'generationFailed',
    language: 'ja' | 'en',
    jobId = randomUUID(),
  ) => h.server.ctx.notifier.jobEnded({ userId, projectId, jobId, event, language });

  it('a job that ends while the tab is away: stored in the user’s language, live on the socket, listed, marked read; nobody else’s', async () => {
    const { user, ws, projectId, call } = await userAway('ほしのゲーム');
    const jobId = randomUUID();
    const live = ws.next((m) => m.type === 'notification');
    await ended(user.userId, projectId, 'generationCompleted', 'ja', jobId);
    const message = await live;
    expect(message.unreadCount).toBe(1);
    expect(message.notification).toMatchObject({
      type: 'project',
      title: 'ゲームができました',
      message: '「ほしのゲーム」ができあがりました。開いて遊んでみましょう。',
      icon: 'success',
      project_id: projectId,
      job_id: jobId,
      event: 'generationCompleted',
      params: { project: 'ほしのゲーム' },
      read: false,
      read_at: null,
    });
    // A job ends once: told again (a retried hook), nothing new.
    expect(await ended(user.userId, projectId, 'generationCompleted', 'ja', jobId)).toBeNull();

    const list = (await call('GET', '/api/notifications')).json;
    expect(list).toMatchObject({ total: 1, unreadCount: 1 });
    expect(Object.keys(list.notifications[0]).sort()).toEqual(
      ['id', 'user_id', 'type', 'title', 'message', 'icon', 'project_id', 'job_id', 'event', 'params', 'read', 'read_at', 'created_at'].sort(),
    );
    const id = list.notifications[0].id as string;
    expect((await call('GET', '/api/notifications/unread-count')).json).toEqual({ count: 1 });
    for (const query of ['?limit=0', '?limit=101', '?offset=-1', '?type=other'])
      expect((await call('GET', `/api/notifications${query}`)).status, query).toBe(400);
    expect((await call('POST', '/api/notifications/not-an-id/read')).json).toEqual({ error: 'Invalid notification ID' });
    expect((await api(h.url)('GET', '/api/notifications')).status).toBe(401);

    // Another user sees none of it and cannot mark it.
    const other = api(h.url, (await signUp(h.url)).accessToken);
    expect((await other('GET', '/api/notifications')).json).toEqual({ notifications: [], total: 0, unreadCount: 0 });
    expect((await other('POST', `/api/notifications/${id}/read`)).status).toBe(404);
    expect((await call('GET', '/api/notifications/unread-count')).json).toEqual({ count: 1 });

    expect((await call('POST', `/api/notifications/${id}/read`)).json).toEqual({ success: true });
    const read = (await call('GET', '/api/notifications')).json;
    expect(read).toMatchObject({ total: 1, unreadCount: 0, notifications: [{ id, read: true, read_at: expect.any(String) }] });

    // While the tab is visible the user sees the job end: the notice is kept, already read.
    await tab(ws, true);
    const seen = ws.next((m) => m.type === 'notification');
    await ended(user.userId, projectId, 'generationFailed', 'ja');
    expect(await seen).toMatchObject({ unreadCount: 0, notification: { read: true, icon: 'warning', title: 'ゲームを作れませんでした' } });

    // Away again: two unread, both marked at once.
    await tab(ws, false);
    await ended(user.userId, projectId, 'movieCompleted', 'en');
    await ended(user.userId, projectId, 'generationCompleted', 'en');
    const page = (await call('GET', '/api/notifications?limit=2')).json;
    expect(page).toMatchObject({ total: 4, unreadCount: 2 });
    expect(page.notifications.map((n: { title: string }) => n.title)).toEqual(['Your game is ready', 'Your promo video is ready']);
    expect((await call('POST', '/api/notifications/read-all')).json).toEqual({ success: true, count: 2 });
    expect((await call('GET', '/api/notifications/unread-count')).json).toEqual({ count: 0 });
    ws.close();
  });

  it('web push: VAPID and aes128gcm to a strict push service, each device in its language; a gone subscription is deleted', async () => {
    const { user, ws, projectId, call } = await userAway('ほしのゲーム');
    const { publicKey } = (await api(h.url)('GET', '/api/push/vapid-key')).json;
    expect(publicKey).toBe(vapid.publicKey);
    const phone = push.subscribe(publicKey);
    const laptop = push.subscribe(publicKey);
    // What a browser would never send is refused, and nothing is stored.
    const bad = [
      { ...phone.json, endpoint: phone.json.endpoint.replace('https:', 'http:') },
      { ...phone.json, keys: { ...phone.json.keys, auth: 'c2hvcnQ' } },
      { ...phone.json, keys: { ...phone.json.keys, p256dh: phone.json.keys.auth } },
      { ...phone.json, language: 'fr' },
      { endpoint: phone.json.endpoint },
    ];
    for (const body of bad) expect((await call('POST', '/api/push/subscribe', body)).status, JSON.stringify(body)).toBe(400);
    expect((await call('GET', '/api/push/status')).json).toEqual({ enabled: true, subscriptions: 0 });
    expect((await api(h.url)('POST', '/api/push/subscribe', phone.json)).status).toBe(401);
    expect((await call('POST', '/api/push/subscribe', { ...phone.json, language: 'ja' })).json).toEqual({ success: true });
    // The laptop's language comes from the app's switch (its cookie) when the body does not say.
    expect((await call('POST', '/api/push/subscribe', laptop.json, { cookie: 'dreamcore_lang=en' })).json).toEqual({ success: true });
    expect((await call('GET', '/api/push/status')).json).toEqual({ enabled: true, subscriptions: 2 });

    // The server POSTs to whatever endpoint a subscription names: only the listed push services, by name, on their
    // port, without credentials. Each of these would reach the stand-in (or an address of the user's choosing).
    const tablet = push.subscribe(publicKey);
    const { port } = new URL(push.url);
    const path = new URL(tablet.json.endpoint).pathname;
    const elsewhere = [
      `https://127.0.0.1:${port}${path}`, // the same service by IP address
      `https://0x7f.0.0.1:${port}${path}`, // …in a form the URL parser turns into 127.0.0.1
      `https://[::1]:${port}${path}`,
      `https://push:secret@localhost:${port}${path}`, // credentials
      `https://localhost:${port}@internal.example${path}`, // a "host" that is a user name
      `https://localhost:${Number(port) + 1}${path}`, // another port on a listed host
      `https://localhost${path}`, // the default port, not the listed one
      `https://localhost.:${port}${path}`, // trailing dot
      'https://metadata.google.internal/computeMetadata/v1/',
      'https://fcm.googleapis.com.attacker.example/fcm/send/x', // a listed name as a prefix
      'https://evil-notify.windows.com.example/w/?token=x',
      'https://notify.windows.com/w/?token=x', // a wildcard entry does not list the bare domain
      'https://fcm.googleapis.com:8443/fcm/send/x',
    ];
    for (const endpoint of elsewhere) {
      const refused = await call('POST', '/api/push/subscribe', { ...tablet.json, endpoint });
      expect([refused.status, refused.json.code], endpoint).toEqual([400, 'PUSH_SERVICE_NOT_ALLOWED']);
    }
    expect((await call('GET', '/api/push/status')).json).toEqual({ enabled: true, subscriptions: 2 });
    // The browsers' own push services are accepted (this user's notices below do not go there: it is removed first).
    const browsers = [
      'https://fcm.googleapis.com/fcm/send/abc:APA91b',
      'https://fcm.googleapis.com/wp/abc',
      'https://updates.push.services.mozilla.com/wpush/v2/gAAAA',
      'https://web.push.apple.com/QGuQyavXutnMH',
      'https://wns2-par02p.notify.windows.com/w/?token=BQYAAA',
    ];
    for (const endpoint of browsers) {
      expect((await call('POST', '/api/push/subscribe', { ...tablet.json, endpoint })).json, endpoint).toEqual({ success: true });
      expect((await call('DELETE', '/api/push/unsubscribe', { endpoint })).json, endpoint).toEqual({ success: true, removed: true });
    }
    expect(() => PushServices.parse('fcm.googleapis.com,127.0.0.1')).toThrow(/127\.0\.0\.1/);
    expect(() => PushServices.parse('https://fcm.googleapis.com')).toThrow();
    // A row stored before its host left the list (written here directly) is never sent to.
    await h.server.ctx.db.service.savePushSubscription({
      userId: user.userId,
      endpoint: `https://127.0.0.1:${port}${path}`,
      p256dh: tablet.json.keys.p256dh,
      auth: tablet.json.keys.auth,
      userAgent: null,
      language: 'ja',
    });

    const [onPhone, onLaptop] = [push.next(phone.id), push.next(laptop.id)];
    const before = Math.floor(Date.now() / 1000);
    const notice = await ended(user.userId, projectId, 'movieCompleted', 'ja');
    const [p, l] = await Promise.all([onPhone, onLaptop]);
    expect(p.payload).toEqual({ title: 'プロモ動画ができました', body: '「ほしのゲーム」の動画が見られます。', url: `/project/${projectId}`, tag: notice!.id });
    expect(l.payload).toMatchObject({ title: 'Your promo video is ready', body: 'The video of “ほしのゲーム” is ready to watch.' });
    expect(p.claims.aud).toBe(push.url);
    expect(p.claims.exp).toBeGreaterThan(before);
    expect(p.claims.exp).toBeLessThanOrEqual(before + 24 * 3600 + 5);
    expect(p.ttl).toBe(24 * 3600);
    expect(push.refused).toEqual([]);
    expect(push.delivered.filter((d) => d.subscriptionId === tablet.id)).toEqual([]);
    await call('DELETE', '/api/push/unsubscribe', { endpoint: `https://127.0.0.1:${port}${path}` });

    // Watching (a visible tab heard from just now): the bell has it; no device is pushed.
    await tab(ws, true);
    const count = push.delivered.length;
    await ended(user.userId, projectId, 'generationCompleted', 'ja');
    expect(push.delivered.length).toBe(count);

    // The phone's subscription expires at its push service (410 Gone): the server deletes it; the laptop still gets it.
    await tab(ws, false);
    push.expire(phone.id);
    const laptopAgain = push.next(laptop.id);
    await ended(user.userId, projectId, 'generationFailed', 'ja');
    expect((await laptopAgain).payload).toMatchObject({ title: 'Your game could not be made' });
    expect(push.refused).toEqual([{ subscriptionId: phone.id, status: 410, reason: 'subscription expired' }]);
    expect((await call('GET', '/api/push/status')).json).toEqual({ enabled: true, subscriptions: 1 });

    // Someone else signs in on the laptop's browser: its endpoint is theirs now, this user's notices stop going there.
    const next = await signUp(h.url);
    expect((await api(h.url, next.accessToken)('POST', '/api/push/subscribe', { ...laptop.json, language: 'en' })).json).toEqual({ success: true });
    expect((await call('GET', '/api/push/status')).json).toEqual({ enabled: true, subscriptions: 0 });
    expect((await api(h.url, next.accessToken)('DELETE', '/api/push/unsubscribe', { endpoint: laptop.json.endpoint })).json).toEqual({
      success: true,
      removed: true,
    });
    expect((await api(h.url, next.accessToken)('GET', '/api/push/status')).json).toEqual({ enabled: true, subscriptions: 0 });
    ws.close();
  });
});
