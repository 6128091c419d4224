/**
 * Embedded auth: without Supabase the server is its own issuer and speaks the GoTrue subset supabase-js uses for
 * email + password, magic links (`/otp`, `/verify`) and Google (`/authorize`, `/callback`), so the browser code is the
 * same in both modes. Passwords: scrypt. Access tokens: ES256 JWTs (1 h). Refresh tokens: random, stored hashed,
 * single use with reuse detection. Magic links and OAuth states: random, stored hashed, single use, short-lived.
 */
import { createHash, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import express, { type Router } from 'express';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JSONWebKeySet, type JWK } from 'jose';
import { AuthError, type TokenVerifier } from './verify.js';
import type { AuthStore, AuthUserRecord, Coordination } from '../db/repository.js';
import { RateLimiter } from '../rate-limit.js';
import type { SignInMailer } from './mailer.js';
import { requestLanguageOf } from '../language.js';
import { OAuthFlowError, type GoogleClient, type PendingFlow } from './google.js';
import type { Logger } from '../logger.js';
import type { SecretSource } from '../secrets.js';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const ACCESS_TTL_S = 3600;
const REFRESH_TTL_MS = 30 * 24 * 3600_000;
const MAGIC_LINK_TTL_MS = 3600_000;
const OAUTH_FLOW_TTL_MS = 10 * 60_000;
/** GoTrue's default: one sign-in mail per address per minute. */
const MAGIC_LINK_INTERVAL_MS = 60_000;
const OAUTH_COOKIE = 'dreamcore_oauth';

type AuthUser = AuthUserRecord;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return timingSafeEqual(actual, expected);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface EmbeddedIssuer {
  issuer: string;
  jwks: JSONWebKeySet;
  sign(user: { id: string; email: string }, ttlSeconds?: number): Promise<{ token: string; expiresAt: number }>;
}

/** Loads (or creates once) the ES256 signing key, kept where `secrets` keeps it (the data directory, or the database). */
export async function loadIssuer(secrets: SecretSource, issuer: string): Promise<EmbeddedIssuer> {
  const privateJwk = JSON.parse(
    await secrets('auth-signing-key.json', async () => {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      return JSON.stringify({ ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'ES256', use: 'sig' });
    }),
  ) as JWK;
  const { d: _private, ...publicJwk } = privateJwk;
  const key = await importJWK(privateJwk, 'ES256');
  return {
    issuer,
    jwks: { keys: [publicJwk] },
    async sign(user, ttlSeconds = ACCESS_TTL_S) {
      const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
      const token = await new SignJWT({ email: user.email, role: 'authenticated', aal: 'aal1', app_metadata: { provider: 'email' } })
        .setProtectedHeader({ alg: 'ES256', kid: privateJwk.kid!, typ: 'JWT' })
        .setSubject(user.id)
        .setIssuer(issuer)
        .setAudience('authenticated')
        .setIssuedAt()
        .setExpirationTime(expiresAt)
        .sign(key);
      return { token, expiresAt };
    },
  };
}

function goTrueError(res: express.Response, status: number, errorCode: string, msg: string) {
  res.status(status).json({ code: status, error_code: errorCode, msg });
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface EmbeddedAuthOptions {
  /** The origin people open the app at (links in mail, the OAuth redirect URI); known once the server listens. */
  siteUrl: () => string;
  mailer: SignInMailer;
  /** Null: Google sign-in is not configured. */
  google: GoogleClient | null;
  /** Demo mode without SMTP: the `/otp` answer carries the link (`demo_link`), which the sign-in screen shows. */
  showLinks: boolean;
  log: Logger;
  /**
   * One sign-in mail per address per MAGIC_LINK_INTERVAL_MS: resolves 0 when this one may go, else the seconds to
   * wait. Default: counted in this process (memoryMailThrottle); several instances count in the database
   * (sharedMailThrottle), or each would send its own.
   */
  mailThrottle?: (address: string) => Promise<number>;
}

/** The mail throttle of one process. */
export function memoryMailThrottle(): (address: string) => Promise<number> {
  const limiter = new RateLimiter(1, MAGIC_LINK_INTERVAL_MS);
  return async (address) => (limiter.take(address) ? 0 : limiter.retryAfter(address));
}

/**
 * The mail throttle of several instances: the database's fixed windows (migration 007's take_rate_limit, aligned on
 * the epoch like the wait computed here), keyed by a hash of the address (no address in that table).
 */
export function sharedMailThrottle(coordination: Pick<Coordination, 'takeRateLimit'>): (address: string) => Promise<number> {
  return async (address) =>
    (await coordination.takeRateLimit(`magic-link:${sha256(address)}`, 1, MAGIC_LINK_INTERVAL_MS))
      ? 0
      : Math.ceil((MAGIC_LINK_INTERVAL_MS - (Date.now() % MAGIC_LINK_INTERVAL_MS)) / 1000);
}

export function embeddedAuthRouter(store: AuthStore, issuer: EmbeddedIssuer, verify: TokenVerifier, options: EmbeddedAuthOptions): Router {
  const router = express.Router();
  router.use(express.json({ limit: '16kb' }));
  const mailThrottle = options.mailThrottle ?? memoryMailThrottle();

  const userJson = (u: AuthUser) => ({
    id: u.id,
    aud: 'authenticated',
    role: 'authenticated',
    email: u.email,
    email_confirmed_at: u.createdAt,
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: u.meta ?? {},
    identities: [],
    created_at: u.createdAt,
    updated_at: u.createdAt,
  });

  async function session(user: AuthUser, parent: string | null = null) {
    const { token, expiresAt } = await issuer.sign(user);
    const refresh = randomBytes(32).toString('base64url');
    await store.storeRefreshToken(sha256(refresh), user.id, new Date(Date.now() + REFRESH_TTL_MS).toISOString(), parent);
    return { access_token: token, token_type: 'bearer', expires_in: ACCESS_TTL_S, expires_at: expiresAt, refresh_token: refresh, user: userJson(user) };
  }

  router.post('/signup', async (req, res, next) => {
    try {
      const { email, password, data } = (req.body ?? {}) as { email?: unknown; password?: unknown; data?: unknown };
      if (typeof email !== 'string' || !EMAIL.test(email))
        return goTrueError(res, 400, 'validation_failed', 'Unable to validate email address: invalid format');
      if (typeof password !== 'string' || password.length < 8) return goTrueError(res, 422, 'weak_password', 'Password should be at least 8 characters.');
      const normalized = email.trim().toLowerCase();
      if (await store.authUserByEmail(normalized)) return goTrueError(res, 422, 'user_already_exists', 'User already registered');
      const meta = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
      const user = await store.createAuthUser(normalized, await hashPassword(password), meta);
      res.json(await session(user));
    } catch (error) {
      next(error);
    }
  });

  router.post('/token', async (req, res, next) => {
    try {
      const grant = req.query.grant_type;
      const body = (req.body ?? {}) as { email?: unknown; password?: unknown; refresh_token?: unknown };
      if (grant === 'password') {
        const user = typeof body.email === 'string' ? await store.authUserByEmail(body.email.trim().toLowerCase()) : null;
        // Same work and the same answer for an unknown email and a wrong password.
        const ok = await verifyPassword(typeof body.password === 'string' ? body.password : '', user?.passwordHash ?? DUMMY_HASH);
        if (!user || !ok) return goTrueError(res, 400, 'invalid_credentials', 'Invalid login credentials');
        return res.json(await session(user));
      }
      if (grant === 'refresh_token') {
        const refresh = typeof body.refresh_token === 'string' ? body.refresh_token : '';
        const user = refresh ? await store.useRefreshToken(sha256(refresh)) : null;
        if (!user) return goTrueError(res, 400, 'refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found');
        return res.json(await session(user, sha256(refresh)));
      }
      return goTrueError(res, 400, 'unsupported_grant_type', 'unsupported grant_type');
    } catch (error) {
      next(error);
    }
  });

  const authenticated = async (req: express.Request) => {
    const header = req.headers.authorization;
    return verify(typeof header === 'string' ? header.replace(/^Bearer\s+/i, '') : null);
  };

  router.get('/user', async (req, res, next) => {
    try {
      const identity = await authenticated(req);
      const user = await store.authUserById(identity.userId);
      if (!user) return goTrueError(res, 404, 'user_not_found', 'User not found');
      res.json(userJson(user));
    } catch (error) {
      if (error instanceof AuthError) return goTrueError(res, 401, 'bad_jwt', error.message);
      next(error);
    }
  });

  router.post('/logout', async (req, res, next) => {
    try {
      const identity = await authenticated(req);
      await store.revokeUserTokens(identity.userId);
      res.status(204).end();
    } catch (error) {
      if (error instanceof AuthError) return goTrueError(res, 401, 'bad_jwt', error.message);
      next(error);
    }
  });

  /** Where to land after a link or Google: the app's own origin only (as GoTrue's allow list), else its start page. */
  const landing = (requested: unknown): string => {
    const site = new URL(options.siteUrl());
    if (typeof requested === 'string' && requested !== '') {
      try {
        const url = new URL(requested, site);
        if (url.origin === site.origin) return `${url.origin}${url.pathname}${url.search}`;
      } catch {
        /* not a URL: the start page */
      }
    }
    return `${site.origin}/`;
  };
  /** GoTrue's implicit-flow answer: the session in the fragment of the landing page. */
  const withSession = async (target: string, user: AuthUser, type: string) => {
    const s = await session(user);
    const fragment = new URLSearchParams({
      access_token: s.access_token,
      expires_at: String(s.expires_at),
      expires_in: String(s.expires_in),
      refresh_token: s.refresh_token,
      token_type: s.token_type,
      type,
    });
    return `${target}#${fragment.toString()}`;
  };
  const withError = (target: string, errorCode: string, description: string) =>
    `${target}#${new URLSearchParams({ error: 'access_denied', error_code: errorCode, error_description: description }).toString()}`;
  // The language the app's switch chose (its cookie), else the browser's: the same choice as every other page.
  const mailLanguage = (req: express.Request) => requestLanguageOf({ cookie: req.get('cookie'), acceptLanguage: req.get('accept-language') });

  // ---------------------------------------------------------------- magic link
  router.post('/otp', async (req, res, next) => {
    try {
      const { email, create_user: createUser, data } = (req.body ?? {}) as { email?: unknown; create_user?: unknown; data?: unknown };
      if (typeof email !== 'string' || !EMAIL.test(email.trim()))
        return goTrueError(res, 400, 'validation_failed', 'Unable to validate email address: invalid format');
      const address = email.trim().toLowerCase();
      if (createUser === false && !(await store.authUserByEmail(address))) return goTrueError(res, 422, 'otp_disabled', 'Signups not allowed for otp');
      // Counted before the mail goes, and not given back when it fails: a mail server that refuses is not retried by
      // every click.
      const wait = await mailThrottle(address);
      if (wait > 0) return goTrueError(res, 429, 'over_email_send_rate_limit', `For security purposes, you can only request this after ${wait} seconds.`);
      const token = randomBytes(32).toString('base64url');
      const meta = typeof data === 'object' && data !== null && !Array.isArray(data) ? data : {};
      await store.storeOneTimeToken(sha256(token), 'magiclink', { email: address, data: meta }, new Date(Date.now() + MAGIC_LINK_TTL_MS));
      const link = new URL('/auth/v1/verify', options.siteUrl());
      link.search = new URLSearchParams({ token, type: 'magiclink', redirect_to: landing(req.query.redirect_to) }).toString();
      try {
        await options.mailer.sendMagicLink(address, link.toString(), mailLanguage(req));
      } catch (error) {
        options.log.error({ err: error }, 'magic link mail failed');
        return goTrueError(res, 500, 'unexpected_failure', 'Error sending magic link email');
      }
      res.json(options.showLinks ? { demo_link: link.toString() } : {});
    } catch (error) {
      next(error);
    }
  });

  /** The user a magic-link token signs in (created on first use, as GoTrue's `create_user`), or null. */
  const redeemMagicLink = async (token: unknown): Promise<AuthUser | null> => {
    if (typeof token !== 'string' || token === '') return null;
    const payload = await store.useOneTimeToken(sha256(token), 'magiclink');
    if (!payload || typeof payload.email !== 'string') return null;
    const existing = await store.authUserByEmail(payload.email);
    if (existing) return existing;
    try {
      return await store.createAuthUser(payload.email, null, (payload.data as Record<string, unknown>) ?? {});
    } catch {
      // Signed up with a password between the mail and the click.
      return store.authUserByEmail(payload.email);
    }
  };

  router.get('/verify', async (req, res, next) => {
    try {
      const target = landing(req.query.redirect_to);
      const user = req.query.type === 'magiclink' ? await redeemMagicLink(req.query.token) : null;
      if (!user) return res.redirect(303, withError(target, 'otp_expired', 'Email link is invalid or has expired'));
      res.redirect(303, await withSession(target, user, 'magiclink'));
    } catch (error) {
      next(error);
    }
  });

  // supabase-js verifyOtp({ token_hash, type }): the same token, answered with the session as JSON.
  router.post('/verify', async (req, res, next) => {
    try {
      const { type, token_hash: tokenHash } = (req.body ?? {}) as { type?: unknown; token_hash?: unknown };
      if (type !== 'magiclink' && type !== 'email') return goTrueError(res, 400, 'validation_failed', 'Verify requires a verification type');
      const user = await redeemMagicLink(tokenHash);
      if (!user) return goTrueError(res, 403, 'otp_expired', 'Email link is invalid or has expired');
      res.json(await session(user));
    } catch (error) {
      next(error);
    }
  });

  // ---------------------------------------------------------------- Google
  const callbackUrl = () => new URL('/auth/v1/callback', options.siteUrl()).toString();

  router.get('/authorize', async (req, res, next) => {
    try {
      if (req.query.provider !== 'google' || !options.google)
        return goTrueError(res, 400, 'validation_failed', 'Unsupported provider: provider is not enabled');
      const flow = options.google.newFlow();
      // Binds the flow to this browser: a callback carrying someone else's state (login CSRF) lacks the cookie.
      const binding = randomBytes(16).toString('base64url');
      const url = await options.google.authorizationUrl(flow, callbackUrl());
      await store.storeOneTimeToken(
        sha256(flow.state),
        'oauth_state',
        { codeVerifier: flow.codeVerifier, nonce: flow.nonce, binding, redirectTo: landing(req.query.redirect_to) },
        new Date(Date.now() + OAUTH_FLOW_TTL_MS),
      );
      res.cookie(OAUTH_COOKIE, binding, {
        httpOnly: true,
        sameSite: 'lax',
        secure: new URL(options.siteUrl()).protocol === 'https:',
        path: '/auth/v1/callback',
        maxAge: OAUTH_FLOW_TTL_MS,
      });
      res.redirect(302, url.toString());
    } catch (error) {
      next(error);
    }
  });

  router.get('/callback', async (req, res, next) => {
    try {
      const site = landing(undefined);
      const state = typeof req.query.state === 'string' ? req.query.state : '';
      const payload = state && options.google ? await store.useOneTimeToken(sha256(state), 'oauth_state') : null;
      res.clearCookie(OAUTH_COOKIE, { path: '/auth/v1/callback' });
      if (!payload || !options.google) return res.redirect(303, withError(site, 'bad_oauth_state', 'OAuth state is invalid or has expired'));
      const target = typeof payload.redirectTo === 'string' ? payload.redirectTo : site;
      if (cookieValue(req.headers.cookie, OAUTH_COOKIE) !== payload.binding)
        return res.redirect(303, withError(target, 'bad_oauth_callback', 'OAuth callback does not match the browser that started the sign-in'));
      const flow: PendingFlow = { state, codeVerifier: String(payload.codeVerifier), nonce: String(payload.nonce) };
      let identity;
      try {
        identity = await options.google.finish(new URL(req.originalUrl, options.siteUrl()), flow, callbackUrl());
      } catch (error) {
        if (!(error instanceof OAuthFlowError)) throw error;
        options.log.warn({ err: error }, 'Google sign-in refused');
        return res.redirect(303, withError(target, error.code, error.message));
      }
      let user = await store.userByIdentity('google', identity.subject);
      if (!user) {
        user =
          (await store.authUserByEmail(identity.email)) ??
          (await store.createAuthUser(identity.email, null, {
            ...(identity.name ? { display_name: identity.name, full_name: identity.name } : {}),
            ...(identity.picture ? { avatar_url: identity.picture } : {}),
          }));
        await store.linkIdentity('google', identity.subject, user.id);
      }
      res.redirect(303, await withSession(target, user, 'signup'));
    } catch (error) {
      next(error);
    }
  });

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.set('cache-control', 'public, max-age=600').json(issuer.jwks);
  });
  router.get('/settings', (_req, res) => {
    res.json({ external: { email: true, google: options.google !== null }, disable_signup: false, mailer_autoconfirm: true });
  });
  return router;
}

// A fixed hash to verify against when the email is unknown, so timing does not reveal which emails exist.
const DUMMY_HASH = `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}
