// REST calls with the session's bearer token. A 401 refreshes the session once and retries. A refusal's message is
// in the user's words (by HTTP status); the server's own text stays on the error as `detail`.
import { t } from '../i18n/index.js';

/** @typedef {import('./auth.js').Auth} Auth */

/** A refused or failed request: `status` 0 when the server could not be reached. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   * @param {unknown} body the answer's JSON (or text)
   */
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
    /** What the server said (English or Japanese), for the console and for tests. */
    this.detail = '';
  }
}

/**
 * A refused request in the user's words.
 * @param {number} status
 */
function statusText(status) {
  if (status === 401) return t('common.sessionExpired');
  if (status === 403 || status === 404) return t('common.notAllowed');
  if (status === 413) return t('common.tooLarge');
  if (status === 429) return t('common.tooMany');
  if (status === 503) return t('common.unavailable');
  if (status >= 500) return t('common.serverError');
  return t('common.badRequest');
}

/**
 * What a call may carry: a JSON body, a form (uploads), an abort signal; `raw` returns the Response itself.
 * @typedef {{ json?: unknown, form?: FormData, signal?: AbortSignal, raw?: boolean }} RequestOptions
 */

/**
 * @param {Auth} auth
 */
export function createApi(auth) {
  /**
   * Resolves with the answer's JSON (any shape: each caller reads the fields its route documents).
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions} [options]
   * @returns {Promise<any>}
   */
  async function send(method, path, { json, form, signal, raw = false } = {}, retried = false) {
    const token = await auth.accessToken();
    /** @type {Record<string, string>} */
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (json !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: json !== undefined ? JSON.stringify(json) : form, signal });
    } catch (/** @type {any} */ error) {
      if (error?.name === 'AbortError') throw error;
      throw new ApiError(t('common.network'), 0, null);
    }
    if (res.status === 401 && token && !retried) {
      try {
        await auth.refresh();
      } catch {
        throw new ApiError(t('common.sessionExpired'), 401, null);
      }
      return send(method, path, { json, form, signal, raw }, true);
    }
    if (raw && res.ok) return res;
    const text = await res.text();
    let body;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    if (!res.ok) {
      const error = new ApiError(statusText(res.status), res.status, body);
      error.detail = String((body && typeof body === 'object' && (body.error || body.message)) || (typeof body === 'string' ? body.slice(0, 200) : ''));
      throw error;
    }
    return body;
  }

  return {
    /** @type {(path: string, options?: RequestOptions) => Promise<any>} */
    get: (path, options) => send('GET', path, options),
    /** @type {(path: string, json?: unknown, options?: RequestOptions) => Promise<any>} */
    post: (path, json, options = {}) => send('POST', path, { ...options, json }),
    /** @type {(path: string, json: unknown, options?: RequestOptions) => Promise<any>} */
    put: (path, json, options = {}) => send('PUT', path, { ...options, json }),
    /** @type {(path: string, json: unknown, options?: RequestOptions) => Promise<any>} */
    patch: (path, json, options = {}) => send('PATCH', path, { ...options, json }),
    /** @type {(path: string, options?: RequestOptions) => Promise<any>} */
    del: (path, options) => send('DELETE', path, options),
    /** @type {(path: string, form: FormData, options?: RequestOptions) => Promise<any>} */
    upload: (path, form, options = {}) => send('POST', path, { ...options, form }),
    /**
     * The Response itself (for binary bodies such as the movie).
     * @type {(path: string, options?: RequestOptions) => Promise<Response>}
     */
    raw: (path, options = {}) => send('GET', path, { ...options, raw: true }),
  };
}
