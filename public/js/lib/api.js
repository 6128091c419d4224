// REST calls with the session's bearer token. A 401 refreshes the session once and retries.

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
  }
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
      throw new ApiError('Network error: could not reach the server.', 0, null);
    }
    if (res.status === 401 && token && !retried) {
      try {
        await auth.refresh();
      } catch {
        throw new ApiError('Your session has expired. Please sign in again.', 401, null);
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
      const message =
        (body && typeof body === 'object' && (body.error || body.message)) ||
        (typeof body === 'string' && body.length < 200 && body) ||
        `Request failed (${res.status})`;
      throw new ApiError(message, res.status, body);
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
