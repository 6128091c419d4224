/**
 * Embedded auth: without Supabase the server is its own issuer and speaks the GoTrue subset supabase-js uses for
 * email + password, so the browser code is the same in both modes. Passwords: scrypt. Access tokens: ES256 JWTs
 * (1 h). Refresh tokens: random, stored hashed, single use with reuse detection.
 */
import { createHash, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import express, { type Router } from 'express';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JSONWebKeySet, type JWK } from 'jose';
import { AuthError, type TokenVerifier } from './verify.js';
import type { AuthStore, AuthUserRecord } from '../db/repository.js';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const ACCESS_TTL_S = 3600;
const REFRESH_TTL_MS = 30 * 24 * 3600_000;

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

/** Loads (or creates once) the ES256 signing key kept in the data directory. */
export async function loadIssuer(dataDir: string, issuer: string): Promise<EmbeddedIssuer> {
  const file = path.join(dataDir, '.server', 'auth-signing-key.json');
  let privateJwk: JWK;
  try {
    privateJwk = JSON.parse(await fs.readFile(file, 'utf8')) as JWK;
  } catch {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    privateJwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'ES256', use: 'sig' };
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fs.writeFile(file, JSON.stringify(privateJwk), { mode: 0o600 });
  }
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

export function embeddedAuthRouter(store: AuthStore, issuer: EmbeddedIssuer, verify: TokenVerifier): Router {
  const router = express.Router();
  router.use(express.json({ limit: '16kb' }));

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

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.set('cache-control', 'public, max-age=600').json(issuer.jwks);
  });
  router.get('/settings', (_req, res) => {
    res.json({ external: { email: true, google: false }, disable_signup: false, mailer_autoconfirm: true });
  });
  return router;
}

// A fixed hash to verify against when the email is unknown, so timing does not reveal which emails exist.
const DUMMY_HASH = `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;
