/**
 * Access-token verification, local and per request (jose): Supabase's JWKS (ES256/RS256) and, for legacy
 * projects, HS256 with the JWT secret; or the embedded issuer's own keys. Issuer, audience, expiry and role are
 * checked; `alg: none` and unknown keys never verify.
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { isUuid } from '@dreamcore/runtime-core';

export interface Identity {
  userId: string;
  email: string | null;
  /** Seconds since epoch. */
  expiresAt: number;
  token: string;
}

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly reason: 'missing' | 'expired' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

export interface VerifierOptions {
  issuer: string;
  /** Remote JWKS URL (Supabase) or a local key set (embedded issuer). */
  jwks: URL | JSONWebKeySet;
  /** Legacy Supabase HS256 secret. */
  hs256Secret?: string;
}

export type TokenVerifier = (token: string | undefined | null) => Promise<Identity>;

export function createVerifier(options: VerifierOptions): TokenVerifier {
  const keySet = options.jwks instanceof URL ? createRemoteJWKSet(options.jwks, { cooldownDuration: 30_000 }) : createLocalJWKSet(options.jwks);
  const secret = options.hs256Secret ? new TextEncoder().encode(options.hs256Secret) : null;
  const common = { issuer: options.issuer, audience: 'authenticated', clockTolerance: 5 } as const;

  return async (token) => {
    if (!token) throw new AuthError('missing', 'No access token provided');
    let payload: JWTPayload;
    try {
      const [headerPart] = token.split('.');
      const alg = JSON.parse(Buffer.from(headerPart ?? '', 'base64url').toString('utf8') || '{}').alg as string | undefined;
      if (alg === 'HS256' && secret) {
        ({ payload } = await jwtVerify(token, secret, { ...common, algorithms: ['HS256'] }));
      } else {
        ({ payload } = await jwtVerify(token, keySet, { ...common, algorithms: ['ES256', 'RS256'] }));
      }
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AuthError('expired', 'Token expired');
      throw new AuthError('invalid', 'Invalid or expired token');
    }
    if (payload.role !== 'authenticated') throw new AuthError('invalid', 'Invalid or expired token');
    if (typeof payload.sub !== 'string' || !isUuid(payload.sub)) throw new AuthError('invalid', 'Invalid or expired token');
    return {
      userId: payload.sub,
      email: typeof payload.email === 'string' ? payload.email : null,
      expiresAt: payload.exp ?? 0,
      token,
    };
  };
}

/** The token from `Authorization: Bearer …` or V2's alternative `X-Auth-Token`. */
export function tokenFromHeaders(headers: Record<string, string | string[] | undefined>): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim() || null;
  const alt = headers['x-auth-token'];
  return typeof alt === 'string' && alt !== '' ? alt : null;
}
