/**
 * Google sign-in for embedded auth: the OAuth 2.0 authorization code flow with PKCE (S256), state and an OpenID nonce,
 * done with oauth4webapi against the provider's discovery document. The server is the confidential client: the
 * browser only ever sees the provider's consent page and, at the end, a DreamCore session. oauth4webapi checks the ID
 * token's claims (iss, aud, exp, nonce) but, as OIDC allows for a token fetched over TLS, not its signature; we check
 * that too with jose against the provider's published keys, so a token the provider did not sign never signs anyone in.
 */
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';

export interface GoogleSettings {
  clientId: string;
  clientSecret: string;
  /** https://accounts.google.com, or a local stand-in in tests. */
  issuer: string;
}

/** What the provider vouches for, once the code is exchanged and the ID token checked. */
export interface ExternalIdentity {
  subject: string;
  email: string;
  name: string | null;
  picture: string | null;
}

export class OAuthFlowError extends Error {
  override readonly name = 'OAuthFlowError';
  constructor(
    readonly code: 'provider_error' | 'email_not_verified' | 'bad_response',
    message: string,
  ) {
    super(message);
  }
}

/** The secrets of one sign-in under way; kept server-side (hashed state) until the callback. */
export interface PendingFlow {
  state: string;
  codeVerifier: string;
  nonce: string;
}

export interface GoogleClient {
  newFlow(): PendingFlow;
  /** The provider's consent page for this flow. */
  authorizationUrl(flow: PendingFlow, redirectUri: string): Promise<URL>;
  /** Checks the callback (state, error), exchanges the code (PKCE verifier, same redirect_uri) and checks the ID token. */
  finish(callbackUrl: URL, flow: PendingFlow, redirectUri: string): Promise<ExternalIdentity>;
}

export function createGoogleClient(settings: GoogleSettings): GoogleClient {
  const issuer = new URL(settings.issuer);
  // Plain http only for a provider on this machine (the tests' stand-in); Google itself is https.
  const insecure = issuer.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
  const options = { [oauth.allowInsecureRequests]: insecure };
  const client: oauth.Client = { client_id: settings.clientId };
  const clientAuth = oauth.ClientSecretPost(settings.clientSecret);
  let metadata: Promise<oauth.AuthorizationServer> | null = null;
  let keys: ReturnType<typeof createRemoteJWKSet> | null = null;
  const server = () => {
    metadata ??= oauth
      .discoveryRequest(issuer, { ...options, algorithm: 'oidc' })
      .then((response) => oauth.processDiscoveryResponse(issuer, response))
      .catch((error: unknown) => {
        metadata = null; // try again on the next sign-in
        throw error;
      });
    return metadata;
  };

  return {
    newFlow: () => ({ state: oauth.generateRandomState(), codeVerifier: oauth.generateRandomCodeVerifier(), nonce: oauth.generateRandomNonce() }),

    async authorizationUrl(flow, redirectUri) {
      const as = await server();
      if (!as.authorization_endpoint) throw new OAuthFlowError('bad_response', 'the provider has no authorization endpoint');
      const url = new URL(as.authorization_endpoint);
      url.search = new URLSearchParams({
        client_id: settings.clientId,
        redirect_uri: redirectUri,
        response_type: 'code',
        scope: 'openid email profile',
        state: flow.state,
        nonce: flow.nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(flow.codeVerifier),
        code_challenge_method: 'S256',
        prompt: 'select_account',
      }).toString();
      return url;
    },

    async finish(callbackUrl, flow, redirectUri) {
      const as = await server();
      let claims: oauth.IDToken | undefined;
      try {
        const params = oauth.validateAuthResponse(as, client, callbackUrl, flow.state);
        const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, flow.codeVerifier, options);
        const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: flow.nonce, requireIdToken: true });
        claims = oauth.getValidatedIdTokenClaims(result);
        if (!as.jwks_uri || !result.id_token) throw new OAuthFlowError('bad_response', 'the provider publishes no keys to check its ID token with');
        keys ??= createRemoteJWKSet(new URL(as.jwks_uri));
        await jwtVerify(result.id_token, keys, { issuer: as.issuer, audience: settings.clientId, algorithms: ['RS256', 'ES256'], clockTolerance: 30 });
      } catch (error) {
        if (error instanceof joseErrors.JOSEError) throw new OAuthFlowError('bad_response', `the ID token does not verify (${error.code})`);
        if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.ResponseBodyError) {
          throw new OAuthFlowError('provider_error', `${error.error}: ${error.error_description ?? error.message}`);
        }
        if (error instanceof oauth.OperationProcessingError) throw new OAuthFlowError('bad_response', error.message);
        throw error;
      }
      if (!claims || typeof claims.email !== 'string') throw new OAuthFlowError('bad_response', 'the ID token has no e-mail address');
      // Only an address the provider has verified may take over an existing account with that address.
      if (claims.email_verified !== true) throw new OAuthFlowError('email_not_verified', 'the Google account’s e-mail address is not verified');
      return {
        subject: claims.sub,
        email: claims.email.toLowerCase(),
        name: typeof claims.name === 'string' ? claims.name : null,
        picture: typeof claims.picture === 'string' ? claims.picture : null,
      };
    },
  };
}
