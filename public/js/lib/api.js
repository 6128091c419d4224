// REST calls with the session's bearer token. A 401 refreshes the session once and retries.

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function createApi(auth) {
  async function send(method, path, { json, form, signal, raw = false } = {}, retried = false) {
    const token = await auth.accessToken();
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (json !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, { method, headers, body: json !== undefined ? JSON.stringify(json) : form, signal });
    } catch (error) {
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
    get: (path, options) => send('GET', path, options),
    post: (path, json, options = {}) => send('POST', path, { ...options, json }),
    put: (path, json, options = {}) => send('PUT', path, { ...options, json }),
    del: (path, options) => send('DELETE', path, options),
    upload: (path, form, options = {}) => send('POST', path, { ...options, form }),
    /** The Response itself (for binary bodies such as the movie). */
    raw: (path, options = {}) => send('GET', path, { ...options, raw: true }),
  };
}
