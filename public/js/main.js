// Boot: config → session → socket → the screen for the current route.
import { loadConfig } from './lib/config.js';
import { Auth } from './lib/auth.js';
import { createApi } from './lib/api.js';
import { Socket } from './lib/socket.js';
import { currentRoute, navigate } from './lib/router.js';
import { clear, h, toast } from './lib/dom.js';
import { mountLogin } from './screens/login.js';
import { mountProjects } from './screens/projects.js';
import { mountEditor } from './screens/editor.js';
import { t, translatePage } from './i18n/index.js';
import { returnedErrorText } from './screens/login-link.js';
import { mountProfile } from './screens/profile.js';
import { followLanguage } from './screens/notifications.js';

/**
 * What every screen is handed: the server's configuration, the session, REST and the socket, and navigation.
 * @typedef {{ config: import('./lib/config.js').Config, auth: Auth, api: ReturnType<typeof createApi>, socket: Socket,
 *   navigate: typeof navigate }} App
 */

/**
 * A screen draws itself into `root` and returns what undoes it.
 * @typedef {(root: HTMLElement, app: App, route: any) => (() => void) | null | undefined | void} Screen
 */

const AFTER_LOGIN = 'dreamcore.after-login';
/** @type {Record<import('./lib/router.js').Route['name'], Screen>} */
const screens = { login: mountLogin, projects: mountProjects, editor: mountEditor, mypage: mountProfile, profile: mountProfile };
const root = /** @type {HTMLElement} */ (document.getElementById('app'));
/** @type {App} */
let app;
/** @type {(() => void) | null} */
let unmount = null;

/** @param {import('./lib/config.js').Config} config */
function showDemoBanner(config) {
  const banner = document.getElementById('demo-banner');
  if (!banner || !config.demoMode) return;
  clear(banner).append(
    h('strong', {}, t('app.demoTitle')),
    ' · ',
    t('app.demoText'),
    ' ',
    h('span', { class: 'nowrap' }, ...withCode(t('app.demoSetup', { key: '\u0000' }), 'ANTHROPIC_API_KEY')),
  );
  banner.hidden = false;
}

/**
 * A text with a setting's name in it as code: the catalogue's `{key}` was filled with NUL.
 * @param {string} text
 * @param {string} name
 */
function withCode(text, name) {
  const [before, after = ''] = text.split('\u0000');
  return [before, h('code', {}, name), after];
}

function render() {
  const route = currentRoute();
  // A profile page is for everyone; every other screen needs a session.
  if (!app.auth.signedIn && route.name !== 'login' && route.name !== 'profile') {
    if (route.name === 'editor') sessionStorage.setItem(AFTER_LOGIN, location.hash || `#/project/${route.projectId}`);
    if (route.name === 'mypage') sessionStorage.setItem(AFTER_LOGIN, '#/mypage');
    navigate('/login', { replace: true });
    return;
  }
  if (app.auth.signedIn && route.name === 'login') {
    const next = sessionStorage.getItem(AFTER_LOGIN) || '#/';
    sessionStorage.removeItem(AFTER_LOGIN);
    navigate(next, { replace: true });
    return;
  }
  try {
    unmount?.();
  } catch (error) {
    console.error('unmount failed', error);
  }
  unmount = null;
  clear(root);
  document.body.dataset.screen = route.name;
  unmount = screens[route.name](root, app, route) ?? null;
}

async function boot() {
  translatePage();
  let config;
  try {
    config = await loadConfig();
  } catch (/** @type {any} */ error) {
    clear(root).append(
      h(
        'div',
        { class: 'fatal' },
        h('h1', {}, 'DreamCore'),
        h('p', {}, error.message),
        h('button', { class: 'primary', onclick: () => location.reload() }, t('app.retry')),
      ),
    );
    return;
  }
  showDemoBanner(config);
  const auth = new Auth(config);
  try {
    await auth.takeSessionFromUrl();
  } catch (/** @type {any} */ error) {
    toast(returnedErrorText(error.code), 'error', 8000);
  }
  if (auth.session && auth.session.expires_at - Date.now() / 1000 < 60) {
    await auth.refresh().catch(() => undefined);
  }
  const api = createApi(auth);
  const socket = new Socket(auth);
  app = { config, auth, api, socket, navigate };
  followLanguage(app);

  // A handle for debugging and for the browser tests (drop the connection as a network failure would).
  /** @type {any} */ (window).dreamcoreDebug = {
    socket,
    dropConnection: () => socket.drop(),
    stats: () => ({ ...socket.stats, state: socket.state, cursor: socket.resume?.() ?? null }),
  };

  auth.addEventListener('signedIn', () => {
    socket.start();
    render();
  });
  auth.addEventListener('signedOut', () => {
    socket.stop();
    render();
  });
  window.addEventListener('hashchange', render);
  // The language switch: the banner and the screen draw themselves again in the new language.
  window.addEventListener('languagechange', () => {
    showDemoBanner(config);
    render();
  });
  if (auth.signedIn) socket.start();
  render();
}

boot();

// Installable on a phone (PWA), and a page that says "offline" instead of the browser's error (public/sw.js).
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => undefined);
