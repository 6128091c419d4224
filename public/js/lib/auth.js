// Email + password (and Google via Supabase) against GoTrue's REST API, the same requests supabase-js makes:
//   POST {auth}/signup, POST {auth}/token?grant_type=password|refresh_token, GET {auth}/user, POST {auth}/logout.
// The session lives in localStorage and is refreshed shortly before it expires (one tab at a time: refresh
// tokens are single use).
import { t } from '../i18n/index.js';

const STORAGE_KEY = 'dreamcore.session.v1';
const REFRESH_MARGIN_S = 60;

/**
 * The session as it is kept in localStorage (the shape supabase-js keeps).
 * @typedef {{ access_token: string, refresh_token: string, token_type: string, expires_at: number,
 *   user: { id: string, email: string } | null }} Session
 */

export class AuthError extends Error {
  /**
   * @param {string} message
   * @param {number} [status] HTTP status; 0 when the service could not be reached
   * @param {string} [code] GoTrue's error code
   */
  constructor(message, status = 0, code = '') {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * @param {any} body GoTrue's JSON error
 * @param {number} status
 */
function goTrueMessage(body, status) {
  if (body && typeof body === 'object') {
    return body.msg || body.error_description || body.message || (typeof body.error === 'string' ? body.error : '') || `Request failed (${status})`;
  }
  return `Request failed (${status})`;
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

/** Events: `signedIn`, `signedOut`, `refreshed`. */
export class Auth extends EventTarget {
  /** @param {import('./config.js').Config} config */
  constructor(config) {
    super();
    this.config = config;
    this.base = config.authBase;
    /** @type {Session | null} */
    this.session = this.read();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.refreshTimer = undefined;
    /** @type {Promise<Session | null> | null} */
    this.refreshing = null;
    // Another tab signed in, refreshed or signed out.
    window.addEventListener('storage', (e) => {
      if (e.key !== STORAGE_KEY) return;
      const before = this.session;
      this.session = this.read();
      this.schedule();
      if (!before && this.session) this.emit('signedIn');
      else if (before && !this.session) this.emit('signedOut');
      else this.emit('refreshed');
    });
    this.schedule();
  }

  /** @param {'signedIn' | 'signedOut' | 'refreshed'} type */
  emit(type) {
    this.dispatchEvent(new Event(type));
  }

  get user() {
    return this.session?.user ?? null;
  }

  get signedIn() {
    return Boolean(this.session?.access_token);
  }

  /** @returns {Session | null} */
  read() {
    try {
      const s = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
      return s && typeof s.access_token === 'string' && typeof s.refresh_token === 'string' ? s : null;
    } catch {
      return null;
    }
  }

  /** @param {Session | null} session */
  store(session) {
    this.session = session;
    if (session) localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    else localStorage.removeItem(STORAGE_KEY);
    this.schedule();
  }

  schedule() {
    clearTimeout(this.refreshTimer);
    if (!this.session) return;
    const inMs = Math.max(1000, (this.session.expires_at - REFRESH_MARGIN_S - nowSeconds()) * 1000);
    // setTimeout holds at most ~24.8 days; sessions are hours.
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => undefined), Math.min(inMs, 2 ** 31 - 1));
  }

  /** @param {Record<string, string>} [extra] */
  headers(extra = {}) {
    return {
      'content-type': 'application/json',
      apikey: this.config.supabaseAnonKey,
      authorization: `Bearer ${this.config.supabaseAnonKey}`,
      'x-client-info': 'dreamcore-web/1.0',
      ...extra,
    };
  }

  /**
   * One GoTrue request; resolves with its JSON, rejects with an AuthError.
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @param {Record<string, string>} [headers]
   * @returns {Promise<any>}
   */
  async call(method, path, body, headers) {
    let res;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers: headers ?? this.headers(), body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new AuthError(t('errors.authNetwork'), 0, 'network');
    }
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    if (!res.ok) throw new AuthError(goTrueMessage(json, res.status), res.status, json?.error_code ?? json?.error ?? '');
    return json;
  }

  /**
   * @param {any} body a GoTrue token answer (or the OAuth redirect's fragment)
   * @returns {Session}
   */
  toSession(body) {
    const expiresAt = Number(body.expires_at) || nowSeconds() + (Number(body.expires_in) || 3600);
    return {
      access_token: body.access_token,
      refresh_token: body.refresh_token,
      token_type: body.token_type ?? 'bearer',
      expires_at: expiresAt,
      user: body.user ? { id: body.user.id, email: body.user.email ?? '' } : (this.session?.user ?? null),
    };
  }

  /**
   * Returns {session} when signed in at once, or {confirmEmail:true} when the project requires confirmation.
   * `profile.display_name` goes in as user metadata; the sign-up trigger makes it the name on the user's games.
   * @param {string} email
   * @param {string} password
   * @param {{ display_name?: string }} [profile]
   * @returns {Promise<{ session: Session | null } | { confirmEmail: true }>}
   */
  async signUp(email, password, profile = {}) {
    const body = await this.call('POST', '/signup', { email, password, data: { ...profile }, gotrue_meta_security: {} });
    if (body?.access_token) {
      this.store(this.toSession(body));
      this.emit('signedIn');
      return { session: this.session };
    }
    return { confirmEmail: true };
  }

  /**
   * @param {string} email
   * @param {string} password
   */
  async signIn(email, password) {
    const body = await this.call('POST', '/token?grant_type=password', { email, password, gotrue_meta_security: {} });
    this.store(this.toSession(body));
    this.emit('signedIn');
    return this.session;
  }

  /**
   * A sign-in link by e-mail (GoTrue's magic link); opening it comes back here with the session in the URL fragment.
   * The embedded server in demo mode without mail answers with the link itself.
   * @param {string} email
   * @returns {Promise<{ demoLink: string | null }>}
   */
  async sendMagicLink(email) {
    const redirect = encodeURIComponent(`${location.origin}/`);
    const body = await this.call('POST', `/otp?redirect_to=${redirect}`, { email, create_user: true, data: {}, gotrue_meta_security: {} });
    return { demoLink: typeof body?.demo_link === 'string' ? body.demo_link : null };
  }

  /** Google (Supabase's or the embedded server's): the browser leaves, and comes back with the session in the URL fragment. */
  signInWithGoogle() {
    const redirect = `${location.origin}/`;
    location.assign(`${this.base}/authorize?provider=google&redirect_to=${encodeURIComponent(redirect)}`);
  }

  /** After an OAuth redirect: `#access_token=…&refresh_token=…&expires_in=…`. True when a session was taken. */
  async takeSessionFromUrl() {
    const hash = location.hash.replace(/^#/, '');
    if (!/(^|&)(access_token|error)=/.test(hash)) return false;
    const params = new URLSearchParams(hash);
    history.replaceState(null, '', location.pathname + location.search);
    const error = params.get('error');
    if (error) throw new AuthError(params.get('error_description') || error, 0, params.get('error_code') || error);
    const session = this.toSession(Object.fromEntries(params));
    const user = await this.call('GET', '/user', undefined, this.headers({ authorization: `Bearer ${session.access_token}` }));
    session.user = { id: user.id, email: user.email ?? '' };
    this.store(session);
    this.emit('signedIn');
    return true;
  }

  /**
   * Exchanges the refresh token; on a definite refusal the user is signed out. One refresh at a time, across tabs.
   * @returns {Promise<Session | null>}
   */
  refresh() {
    if (this.refreshing) return this.refreshing;
    const run = async () => {
      // Another tab may have refreshed already: its session is in storage.
      const stored = this.read();
      if (stored && stored.refresh_token !== this.session?.refresh_token && stored.expires_at - nowSeconds() > REFRESH_MARGIN_S) {
        this.session = stored;
        this.schedule();
        this.emit('refreshed');
        return this.session;
      }
      const current = stored ?? this.session;
      if (!current) throw new AuthError(t('errors.notSignedIn'), 401);
      try {
        const body = await this.call('POST', '/token?grant_type=refresh_token', { refresh_token: current.refresh_token });
        this.store(this.toSession(body));
        this.emit('refreshed');
        return this.session;
      } catch (/** @type {any} */ error) {
        if (error.status >= 400 && error.status < 500) {
          this.store(null);
          this.emit('signedOut');
        } else {
          // Offline or a server hiccup: try again in a little while.
          clearTimeout(this.refreshTimer);
          this.refreshTimer = setTimeout(() => this.refresh().catch(() => undefined), 15_000);
        }
        throw error;
      }
    };
    // (The lock resolves with what `run` resolves with: its typing nests the promise.)
    const locked = navigator.locks?.request
      ? /** @type {Promise<Session | null>} */ (/** @type {unknown} */ (navigator.locks.request('dreamcore-auth-refresh', run)))
      : run();
    const refreshing = locked.finally(() => {
      this.refreshing = null;
    });
    this.refreshing = refreshing;
    return refreshing;
  }

  /**
   * A usable access token (refreshed first when it is about to expire), or null when signed out.
   * @returns {Promise<string | null>}
   */
  async accessToken() {
    if (!this.session) return null;
    if (this.session.expires_at - nowSeconds() < 30) {
      try {
        await this.refresh();
      } catch {
        return this.session?.access_token ?? null;
      }
    }
    return this.session?.access_token ?? null;
  }

  async signOut() {
    const token = this.session?.access_token;
    this.store(null);
    this.emit('signedOut');
    if (token) {
      await this.call('POST', '/logout?scope=global', undefined, this.headers({ authorization: `Bearer ${token}` })).catch(() => undefined);
    }
  }
}
