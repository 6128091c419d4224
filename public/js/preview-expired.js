// The page an expired preview link shows (server/src/http/error-pages.ts). For the game's owner, signed in on this
// browser, it asks for a fresh signed link (GET /api/game-url/:projectId) and goes on to the preview; for anyone
// else it keeps the explanation. The words are the server's, already in the reader's language.
import { loadConfig } from './lib/config.js';
import { Auth } from './lib/auth.js';
import { createApi } from './lib/api.js';
import { UUID_PATTERN } from './lib/ids.js';

/** @type {HTMLElement | null} */
const working = document.querySelector('[data-role="working"]');
/** @type {HTMLElement | null} */
const fallback = document.querySelector('[data-role="fallback"]');

async function freshLink() {
  const [, , , projectId] = location.pathname.split('/');
  if (!projectId || !UUID_PATTERN.test(projectId)) return null;
  const auth = new Auth(await loadConfig());
  if (!auth.signedIn) return null;
  if (working) working.hidden = false;
  if (fallback) fallback.hidden = true;
  try {
    const { url } = await createApi(auth).get(`/api/game-url/${projectId}`);
    return typeof url === 'string' && url.startsWith('/game/') ? url : null;
  } catch {
    return null; // not the owner, or signed out meanwhile
  }
}

freshLink().then(
  (url) => {
    if (url) return location.replace(url);
    if (working) working.hidden = true;
    if (fallback) fallback.hidden = false;
  },
  () => {
    if (working) working.hidden = true;
    if (fallback) fallback.hidden = false;
  },
);
