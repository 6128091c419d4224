// Hash routes: #/login, #/ (projects), #/project/:id. A path /project/:id (should the server serve the app there)
// is understood too.

/**
 * @typedef {{ name: 'editor', projectId: string } | { name: 'login' } | { name: 'projects' }} Route
 */

/** @returns {Route} */
export function currentRoute() {
  const pathMatch = /^\/project\/([^/]+)\/?$/.exec(location.pathname);
  if (pathMatch && (location.hash === '' || location.hash === '#')) return { name: 'editor', projectId: decodeURIComponent(pathMatch[1]) };
  const hash = location.hash.replace(/^#/, '') || '/';
  const editor = /^\/project\/([^/?]+)/.exec(hash);
  if (editor) return { name: 'editor', projectId: decodeURIComponent(editor[1]) };
  if (hash.startsWith('/login')) return { name: 'login' };
  return { name: 'projects' };
}

/**
 * @param {string} hash `#/…` or `/…`
 * @param {{ replace?: boolean }} [options]
 */
export function navigate(hash, { replace = false } = {}) {
  const target = hash.startsWith('#') ? hash : `#${hash}`;
  if (location.pathname !== '/' && location.pathname.startsWith('/project/')) {
    // Leave the path form for the hash form.
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
