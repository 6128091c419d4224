// A person's page (V2's /u/:id, /@username, and /mypage for oneself): name, picture and their public games, each a
// link to its play page. Anyone may open someone's page; /mypage needs a session.
import { h } from '../lib/dom.js';
import { brand, accountMenu } from './chrome.js';
import { locale, t } from '../i18n/index.js';

/**
 * @typedef {{ id: string, username: string | null, display_name: string | null, avatar_url: string | null,
 *   public_id: string, created_at: string }} PublicProfile
 * @typedef {{ id: string, public_id: string, project_id: string, title: string, description: string | null,
 *   thumbnail_url: string | null }} ProfileGame
 */

/**
 * @param {PublicProfile} user
 * @returns {HTMLElement}
 */
function avatar(user) {
  const initial = (user.display_name ?? user.username ?? '?').trim().charAt(0).toUpperCase() || '?';
  const el = h('span', { class: 'avatar big', 'aria-hidden': 'true' }, initial);
  if (user.avatar_url) el.replaceChildren(h('img', { src: user.avatar_url, alt: '', referrerpolicy: 'no-referrer' }));
  return el;
}

/**
 * @param {ProfileGame} game
 * @returns {HTMLElement}
 */
function gameCard(game) {
  const href = `/play/${encodeURIComponent(game.public_id)}`;
  return h(
    'article',
    { class: 'profile-game', dataset: { gameId: game.public_id } },
    h(
      'a',
      { class: 'profile-game-thumb', href },
      h('img', { src: game.thumbnail_url || `/api/projects/${encodeURIComponent(game.project_id)}/thumbnail`, alt: '', loading: 'lazy' }),
    ),
    h('a', { class: 'profile-game-title', href }, game.title),
    game.description ? h('p', { class: 'muted small' }, game.description) : null,
  );
}

/** @type {import('../main.js').Screen} */
export function mountProfile(root, app, route) {
  const mine = route.name === 'mypage';
  const body = h('main', { class: 'profile-main' }, h('p', { class: 'muted' }, t('profile.loading')));
  const right = app.auth.signedIn
    ? h('div', { class: 'topbar-right' }, h('a', { class: 'button small ghost', href: '/#/' }, t('profile.myGames')), accountMenu(app))
    : null;
  root.append(h('div', { class: 'profile-screen' }, h('header', { class: 'topbar' }, brand(), right), body));

  const controller = new AbortController();
  (async () => {
    /** @type {PublicProfile} */
    let user;
    if (mine) {
      user = await app.api.get('/api/users/me', { signal: controller.signal });
    } else {
      const key = route.key;
      const path = 'username' in key ? `/api/users/username/${encodeURIComponent(key.username)}/public` : `/api/users/${encodeURIComponent(key.id)}/public`;
      const res = await fetch(path, { signal: controller.signal });
      if (res.status === 404 || res.status === 400) {
        body.replaceChildren(h('div', { class: 'empty-state' }, h('h1', {}, t('profile.missing')), h('p', { class: 'muted' }, t('profile.missingHint'))));
        return;
      }
      if (!res.ok) throw new Error(String(res.status));
      user = await res.json();
    }
    const games = /** @type {{ games: ProfileGame[] }} */ (
      await (await fetch(`/api/users/${encodeURIComponent(user.id)}/games`, { signal: controller.signal })).json()
    ).games;
    const name = user.display_name ?? (user.username ? `@${user.username}` : '');
    document.title = `${name || t('profile.myPage')} - DreamCore`;
    const since = new Intl.DateTimeFormat(locale(), { year: 'numeric', month: 'long' }).format(new Date(user.created_at));
    body.replaceChildren(
      h(
        'section',
        { class: 'profile-head', dataset: { testid: 'profile-head' } },
        avatar(user),
        h(
          'div',
          {},
          h('h1', {}, name),
          user.username ? h('p', { class: 'muted' }, `@${user.username}`) : null,
          h('p', { class: 'muted small' }, t('profile.since', { date: since })),
        ),
      ),
      h('h2', {}, t('profile.games')),
      games.length ? h('div', { class: 'profile-games' }, games.map(gameCard)) : h('p', { class: 'muted' }, t('profile.noGames')),
    );
  })().catch((/** @type {any} */ error) => {
    if (error?.name === 'AbortError') return;
    body.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, t('profile.failed')));
  });
  return () => controller.abort();
}
