/**
 * Embedded auth's magic link (mailed over real SMTP to a local smtp-server) and Google sign-in (the code flow with
 * PKCE against a strict local OpenID provider): each link and each callback works once, the landing page stays on
 * this site, bad input is refused with GoTrue's error codes and creates nobody.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { api, signUp, startHarness, type Harness } from './support/harness.js';
import { startFakeSmtp, type FakeSmtp } from './support/fake-smtp.js';
import { startFakeOAuthProvider, type FakeOAuthProvider } from './support/fake-oauth.js';

let h: Harness;
let smtp: FakeSmtp;
let google: FakeOAuthProvider;
/** The site as the server names itself (links in mail, the OAuth redirect URI). */
let site: string;

beforeAll(async () => {
  smtp = await startFakeSmtp();
  google = await startFakeOAuthProvider({ redirectUris: () => [`${site}/auth/v1/callback`] });
  h = await startHarness({
    env: { SMTP_URL: smtp.url, GOOGLE_CLIENT_ID: google.clientId, GOOGLE_CLIENT_SECRET: google.clientSecret, GOOGLE_ISSUER_URL: google.url },
  });
  site = h.server.ctx.authUrl;
}, 60_000);
afterAll(async () => {
  await h?.close();
  await smtp?.close();
  await google?.close();
});

const requestLink = (email: string, language = 'en', redirectTo = `${site}/`, cookie = '') =>
  fetch(`${h.url}/auth/v1/otp?redirect_to=${encodeURIComponent(redirectTo)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', apikey: 'embedded', 'accept-language': language, ...(cookie ? { cookie } : {}) },
    body: JSON.stringify({ email, create_user: true, data: {} }),
  });

const linkIn = (text: string) => /https?:\/\/\S+\/auth\/v1\/verify\?[^\s"<>]+/.exec(text)?.[0]?.replace(/&amp;/g, '&') ?? null;

/** Follows one redirect by hand and reads the session (or error) in the fragment of where it lands. */
async function land(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { redirect: 'manual', headers });
  const location = res.headers.get('location') ?? '';
  const [target, fragment = ''] = location.split('#');
  return { status: res.status, target, params: new URLSearchParams(fragment), res };
}

describe('magic link', () => {
  it('mails a link in the reader’s language that signs in once and lands on the site', async () => {
    const email = `mika-${Date.now()}@example.com`;
    const mail = smtp.next(email);
    const res = await requestLink(email, 'ja,en;q=0.5');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({}); // no link in the answer when mail is really sent
    const received = await mail;
    expect(received.subject).toBe('DreamCore ログインリンク');
    expect(received.text).toContain('1時間以内');
    const link = linkIn(received.text);
    expect(link).toMatch(new RegExp(`^${site}/auth/v1/verify\\?token=`));
    // The relay took it over AUTH with the account in SMTP_URL; it refuses a client without one, as a real relay does.
    expect(smtp.refusals).toEqual([]);
    const anonymous = nodemailer.createTransport(smtp.anonymousUrl);
    await expect(anonymous.sendMail({ from: 'someone@example.com', to: email, text: 'x' })).rejects.toMatchObject({ responseCode: 530 });
    anonymous.close();

    const first = await land(link!);
    expect(first.status).toBe(303);
    expect(first.target).toBe(`${site}/`);
    const token = first.params.get('access_token')!;
    expect(first.params.get('type')).toBe('magiclink');
    const me = await api(h.url, token)('GET', '/api/users/me');
    expect(me.status).toBe(200);
    expect(me.json.email).toBe(email);

    // The same link again: refused, no session.
    const again = await land(link!);
    expect(again.params.get('access_token')).toBeNull();
    expect(again.params.get('error_code')).toBe('otp_expired');
  });

  it('the mail speaks the language chosen in the app (its cookie) over the browser’s, in each of the six', async () => {
    const subjects: Record<string, string> = {};
    for (const language of ['ko', 'zh', 'es', 'pt', 'en', 'ja']) {
      const email = `lang-${language}-${Date.now()}@example.com`;
      const mail = smtp.next(email);
      expect((await requestLink(email, 'fr-FR,fr;q=0.9', `${site}/`, `dreamcore_lang=${language}`)).status).toBe(200);
      subjects[language] = (await mail).subject;
    }
    expect(subjects).toEqual({
      ko: 'DreamCore 로그인 링크',
      zh: '你的 DreamCore 登录链接',
      es: 'Tu enlace para entrar en DreamCore',
      pt: 'Seu link para entrar no DreamCore',
      en: 'Your DreamCore sign-in link',
      ja: 'DreamCore ログインリンク',
    });
  });

  it('an existing password account signs in by link as itself; one mail a minute per address', async () => {
    const session = await signUp(h.url);
    const mail = smtp.next(session.email);
    expect((await requestLink(session.email)).status).toBe(200);
    const received = await mail;
    expect(received.subject).toBe('Your DreamCore sign-in link');
    const landed = await land(linkIn(received.text)!);
    const me = await api(h.url, landed.params.get('access_token')!)('GET', '/api/users/me');
    expect(me.json.id).toBe(session.userId);

    const before = smtp.mails.length;
    const second = await requestLink(session.email);
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error_code: string }).error_code).toBe('over_email_send_rate_limit');
    expect(smtp.mails.length).toBe(before);
  });

  it('refuses a bad address and a made-up token; a foreign landing page becomes the site', async () => {
    const before = smtp.mails.length;
    const bad = await requestLink('not-an-address');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error_code: string }).error_code).toBe('validation_failed');
    const missing = await fetch(`${h.url}/auth/v1/otp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `nobody-${Date.now()}@example.com`, create_user: false }),
    });
    expect(missing.status).toBe(422);
    expect(smtp.mails.length).toBe(before);

    const forged = await land(`${h.url}/auth/v1/verify?token=made-up&type=magiclink&redirect_to=${encodeURIComponent(`${site}/`)}`);
    expect(forged.params.get('error_code')).toBe('otp_expired');
    const posted = await api(h.url)('POST', '/auth/v1/verify', { type: 'magiclink', token_hash: 'made-up' });
    expect(posted.status).toBe(403);

    const email = `elsewhere-${Date.now()}@example.com`;
    const mail = smtp.next(email);
    await requestLink(email, 'en', 'https://evil.example/steal');
    const link = linkIn((await mail).text)!;
    expect(new URL(link).searchParams.get('redirect_to')).toBe(`${site}/`);
    const landed = await land(link);
    expect(landed.target).toBe(`${site}/`);
    expect(landed.params.get('access_token')).toBeTruthy();
  });
});

describe('Google sign-in (embedded)', () => {
  /** Starts a sign-in as the browser would: /authorize, the provider's consent, back to the callback. */
  async function startGoogle(redirectTo = `${site}/`) {
    const start = await fetch(`${h.url}/auth/v1/authorize?provider=google&redirect_to=${encodeURIComponent(redirectTo)}`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const cookie = (start.headers.get('set-cookie') ?? '').split(';')[0]!;
    const consent = new URL(start.headers.get('location')!);
    expect(consent.origin).toBe(google.url);
    expect(consent.searchParams.get('code_challenge_method')).toBe('S256');
    const atProvider = await fetch(consent, { redirect: 'manual' });
    expect(atProvider.status).toBe(302);
    const callback = atProvider.headers.get('location')!;
    expect(callback.startsWith(`${site}/auth/v1/callback?`)).toBe(true);
    return { cookie, callback: callback.replace(site, h.url) };
  }

  it('signs a new person in with a verified Google address, once per callback', async () => {
    google.nextAccount = { sub: `g-${Date.now()}`, email: `Aoi-${Date.now()}@Example.com`, email_verified: true, name: 'Aoi' };
    const { cookie, callback } = await startGoogle();
    const landed = await land(callback, { cookie });
    expect(landed.status).toBe(303);
    expect(landed.target).toBe(`${site}/`);
    const token = landed.params.get('access_token')!;
    const me = await api(h.url, token)('GET', '/api/users/me');
    expect(me.json).toMatchObject({ email: google.nextAccount.email.toLowerCase(), display_name: 'Aoi' });

    // The provider saw the right verifier and redirect_uri (else it would have refused) and the code is spent.
    expect(google.refusals).toEqual([]);
    expect([...google.codes.values()].every((c) => c.redeemed)).toBe(true);
    // The same callback again (replay): the state is used up.
    const replay = await land(callback, { cookie });
    expect(replay.params.get('access_token')).toBeNull();
    expect(replay.params.get('error_code')).toBe('bad_oauth_state');

    // Signing in again with the same Google account is the same user.
    const second = await startGoogle();
    const again = await land(second.callback, { cookie: second.cookie });
    expect((await api(h.url, again.params.get('access_token')!)('GET', '/api/users/me')).json.id).toBe(me.json.id);
  });

  it('joins an existing account with the same verified address; refuses an unverified one and creates nobody', async () => {
    const session = await signUp(h.url);
    google.nextAccount = { sub: `g2-${Date.now()}`, email: session.email, email_verified: true };
    const first = await startGoogle();
    const landed = await land(first.callback, { cookie: first.cookie });
    expect((await api(h.url, landed.params.get('access_token')!)('GET', '/api/users/me')).json.id).toBe(session.userId);

    const stranger = `unverified-${Date.now()}@example.com`;
    google.nextAccount = { sub: `g3-${Date.now()}`, email: stranger, email_verified: false };
    const second = await startGoogle();
    const refused = await land(second.callback, { cookie: second.cookie });
    expect(refused.params.get('access_token')).toBeNull();
    expect(refused.params.get('error_code')).toBe('email_not_verified');
    expect(await h.server.ctx.db.auth!.authUserByEmail(stranger)).toBeNull();
  });

  it('refuses an ID token the provider did not sign, or one for another issuer, client or sign-in, and creates nobody', async () => {
    for (const forge of ['signature', 'issuer', 'audience', 'nonce'] as const) {
      google.nextAccount = { sub: `forged-${forge}-${Date.now()}`, email: `forged-${forge}-${Date.now()}@example.com`, email_verified: true };
      const { cookie, callback } = await startGoogle();
      google.forgeNext = forge;
      const refused = await land(callback, { cookie });
      expect([forge, refused.params.get('access_token'), refused.params.get('error_code')]).toEqual([forge, null, 'bad_response']);
      expect(google.forgeNext).toBeNull(); // the forged token was really issued and refused
      expect(await h.server.ctx.db.auth!.authUserByEmail(google.nextAccount.email)).toBeNull();
    }
  });

  it('refuses a callback from another browser (no cookie), a made-up state and an unknown provider', async () => {
    google.nextAccount = { sub: `g4-${Date.now()}`, email: `csrf-${Date.now()}@example.com`, email_verified: true };
    const { callback } = await startGoogle();
    const noCookie = await land(callback);
    expect(noCookie.params.get('error_code')).toBe('bad_oauth_callback');
    expect(await h.server.ctx.db.auth!.authUserByEmail(google.nextAccount.email)).toBeNull();

    const forged = await land(`${h.url}/auth/v1/callback?code=abc&state=made-up`);
    expect(forged.params.get('error_code')).toBe('bad_oauth_state');

    const other = await api(h.url)('GET', '/auth/v1/authorize?provider=github');
    expect(other.status).toBe(400);
    expect(other.json.error_code).toBe('validation_failed');
    expect((await api(h.url)('GET', '/api/config')).json.googleSignIn).toBe(true);
  });
});
