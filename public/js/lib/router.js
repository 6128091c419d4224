// Hash routes: #/login, #/ (projects), #/project/:id, #/mypage, #/u/:id, #/@username. V2's clean paths that the server
// answers with this page (/project/:id, /login, /create, /mypage, /u/:id, /@username) are understood too.

/**
 * @typedef {{ id: string } | { username: string }} ProfileKey
 * @typedef {{ name: 'editor', projectId: string } | { name: 'login' } | { name: 'projects' } | { name: 'mypage' }
 *   | { name: 'profile', key: ProfileKey }} Route
 */

const USER_ID = /^(u_[0-9A-Za-z]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * @param {string} path `/…` without the hash
 * @returns {Route | null}
 */
function routeOf(path) {
  const editor = /^\/project\/([^/?]+)\/?$/.exec(path);
  if (editor) return { name: 'editor', projectId: decodeURIComponent(editor[1]) };
  if (/^\/login\/?$/.test(path)) return { name: 'login' };
  if (/^\/mypage\/?$/.test(path)) return { name: 'mypage' };
  const byId = /^\/u\/([^/?]+)\/?$/.exec(path);
  if (byId) {
    // /u/ takes V2's ids (a UUID or u_…) and, beyond V2, a username (usernames never look like ids: users.ts).
    const key = decodeURIComponent(byId[1]);
    return { name: 'profile', key: USER_ID.test(key) ? { id: key } : { username: key } };
  }
  const byName = /^\/@([^/?]+)\/?$/.exec(path);
  if (byName) return { name: 'profile', key: { username: decodeURIComponent(byName[1]) } };
  if (/^\/(create\/?)?$/.test(path)) return { name: 'projects' };
  return null;
}

/** @returns {Route} */
export function currentRoute() {
  if (location.hash === '' || location.hash === '#') {
    const fromPath = routeOf(location.pathname);
    if (fromPath) return fromPath;
  }
  const hash = (location.hash.replace(/^#/, '') || '/').replace(/\?.*$/, '');
  if (hash.startsWith('/login')) return { name: 'login' };
  return routeOf(hash) ?? { name: 'projects' };
}

/**
 * @param {string} hash `#/…` or `/…`
 * @param {{ replace?: boolean }} [options]
 */
export function navigate(hash, { replace = false } = {}) {
  const target = hash.startsWith('#') ? hash : `#${hash}`;
  if (location.pathname !== '/') {
    // Leave the path form (/project/:id, /login, /mypage, …) for the hash form.
    location.assign(`/${target}`);
    return;
  }
  if (location.hash === target) {
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    return;
  }
  if (replace) {
    history.replaceState(null, '', target);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = target;
  }
}

/** @param {string} id */
export const projectHash = (id) => `#/project/${encodeURIComponent(id)}`;
