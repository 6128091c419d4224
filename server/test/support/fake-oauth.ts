/**
 * A local OpenID provider standing in for Google in tests, as strict as Google where the sign-in depends on it:
 * discovery document; `/authorize` refuses an unknown client, an unregistered `redirect_uri`, a response type other
 * than `code`, a scope without `openid`, a missing state or a PKCE challenge other than S256; `/token` refuses a wrong
 * client secret, a code used before or expired, a `redirect_uri` other than the authorize request's and a
 * `code_verifier` that does not hash to the challenge. ID tokens are RS256 JWTs with iss, aud, nonce and the e-mail.
 * `/authorize` consents at once as `nextAccount` (there is no person to click) — the only shortcut. `forgeNext` makes
 * the next ID token one the client must refuse (signed by another key, or for another issuer, audience or nonce).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface FakeAccount {
  sub: string;
  email: string;
  email_verified: boolean;
  name?: string;
}

export interface FakeOAuthProvider {
  url: string;
  clientId: string;
  clientSecret: string;
  /** Who consents at the next `/authorize`. */
  nextAccount: FakeAccount;
  /** Every refusal, as `endpoint: error` (tests assert what was refused). */
  refusals: string[];
  /** What is wrong with the next ID token issued (then it is back to honest tokens). */
  forgeNext: 'signature' | 'issuer' | 'audience' | 'nonce' | null;
  /** Codes issued and whether they were redeemed. */
  codes: Map<string, { redeemed: boolean }>;
  close(): Promise<void>;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce: string | undefined;
  account: FakeAccount;
  expiresAt: number;
  redeemed: boolean;
}

export async function startFakeOAuthProvider(options: { redirectUris: () => string[] }): Promise<FakeOAuthProvider> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const strangersKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: 'fake-1', alg: 'RS256', use: 'sig' };
  const grants = new Map<string, Grant>();
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider: FakeOAuthProvider = {
    url,
    clientId: 'fake-client.apps.example',
    clientSecret: randomBytes(12).toString('hex'),
    nextAccount: { sub: '1000001', email: 'someone@example.com', email_verified: true, name: 'Someone' },
    refusals: [],
    forgeNext: null,
    codes: new Map(),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const refuse = (res: express.Response, where: string, status: number, error: string, description: string) => {
    provider.refusals.push(`${where}: ${error}`);
    res.status(status).json({ error, error_description: description });
  };

  app.get('/.well-known/openid-configuration', (_req, res) => {
    res.json({
      issuer: url,
      authorization_endpoint: `${url}/authorize`,
      token_endpoint: `${url}/token`,
      jwks_uri: `${url}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      scopes_supported: ['openid', 'email', 'profile'],
    });
  });
  app.get('/jwks', (_req, res) => res.json({ keys: [jwk] }));

  app.get('/authorize', (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    if (q.client_id !== provider.clientId) return refuse(res, 'authorize', 400, 'invalid_client', 'The OAuth client was not found.');
    if (!q.redirect_uri || !options.redirectUris().includes(q.redirect_uri))
      return refuse(res, 'authorize', 400, 'redirect_uri_mismatch', 'The redirect URI in the request does not match the ones authorized.');
    if (q.response_type !== 'code') return refuse(res, 'authorize', 400, 'unsupported_response_type', 'response_type must be code');
    if (!q.scope?.split(' ').includes('openid')) return refuse(res, 'authorize', 400, 'invalid_scope', 'openid scope required');
    if (!q.state) return refuse(res, 'authorize', 400, 'invalid_request', 'state required');
    if (q.code_challenge_method !== 'S256' || !q.code_challenge) return refuse(res, 'authorize', 400, 'invalid_request', 'PKCE S256 required');
    const code = randomBytes(16).toString('base64url');
    grants.set(code, {
      clientId: q.client_id,
      redirectUri: q.redirect_uri,
      challenge: q.code_challenge,
      nonce: q.nonce,
      account: provider.nextAccount,
      expiresAt: Date.now() + 60_000,
      redeemed: false,
    });
    provider.codes.set(code, { redeemed: false });
    const back = new URL(q.redirect_uri);
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.state);
    res.redirect(302, back.toString());
  });

  app.post('/token', async (req, res) => {
    const body = req.body as Record<string, string | undefined>;
    let clientId = body.client_id;
    let secret = body.client_secret;
    const basic = /^Basic (.+)$/.exec(req.get('authorization') ?? '');
    if (basic) [clientId, secret] = Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent);
    if (clientId !== provider.clientId || secret !== provider.clientSecret) return refuse(res, 'token', 401, 'invalid_client', 'Unauthorized');
    if (body.grant_type !== 'authorization_code') return refuse(res, 'token', 400, 'unsupported_grant_type', 'grant_type');
    const grant = body.code ? grants.get(body.code) : undefined;
    if (!grant || grant.redeemed || grant.expiresAt < Date.now() || grant.clientId !== clientId)
      return refuse(res, 'token', 400, 'invalid_grant', 'Malformed auth code.');
    grant.redeemed = true; // one use, even when the rest of the request is refused
    provider.codes.set(body.code!, { redeemed: true });
    if (body.redirect_uri !== grant.redirectUri) return refuse(res, 'token', 400, 'redirect_uri_mismatch', 'Bad Request');
    const hashed = createHash('sha256')
      .update(body.code_verifier ?? '')
      .digest('base64url');
    if (!body.code_verifier || hashed !== grant.challenge) return refuse(res, 'token', 400, 'invalid_grant', 'Invalid code verifier.');
    const forge = provider.forgeNext;
    provider.forgeNext = null;
    const nonce = forge === 'nonce' ? 'another-sign-in' : grant.nonce;
    const idToken = await new SignJWT({
      email: grant.account.email,
      email_verified: grant.account.email_verified,
      ...(grant.account.name ? { name: grant.account.name } : {}),
      ...(nonce ? { nonce } : {}),
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'fake-1', typ: 'JWT' })
      .setIssuer(forge === 'issuer' ? 'https://accounts.example' : url)
      .setAudience(forge === 'audience' ? 'another-client.apps.example' : provider.clientId)
      .setSubject(grant.account.sub)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(forge === 'signature' ? strangersKey : privateKey);
    res.set('cache-control', 'no-store').json({
      access_token: randomBytes(16).toString('hex'),
      token_type: 'Bearer',
      expires_in: 3599,
      scope: 'openid email profile',
      id_token: idToken,
    });
  });
  return provider;
}
