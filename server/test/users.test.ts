/**
 * The user's own account over REST: GET /api/users/me and the display name through PATCH (V2's rules: trimmed,
 * empty → null, at most 50 characters; fields this server cannot change yet are refused, not dropped).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startHarness, type Harness } from './support/harness.js';
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
    expect((await call('GET', '/api/users/me')).json).toMatchObject({ display_name: 'Ren', public_id: expect.stringMatching(/^u_/) });
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
