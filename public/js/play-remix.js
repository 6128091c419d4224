// The game page's remix part: the "Remix this game" button (a signed-in player gets a copy as a new project and lands
// in its editor; others are sent to sign in first) and the game's lineage (where it came from, its public remixes).
import { h } from './lib/dom.js';
import { loadConfig } from './lib/config.js';
import { Auth } from './lib/auth.js';
import { createApi } from './lib/api.js';
import { t } from './i18n/index.js';

/**
 * @typedef {{ public_id: string, title: string, thumbnail_url: string | null, author: { display_name: string | null } | null }} Related
 * @typedef {{ remixedFrom: Related | { hidden: true } | null, remixes: Related[], allowRemix: boolean }} Lineage
 */

/** @param {Related} game */
const gameLink = (game) => h('a', { href: `/play/${encodeURIComponent(game.public_id)}` }, game.title);

/**
 * @param {string} publicId
 * @returns {Promise<HTMLElement | null>}
 */
export async function remixSection(publicId) {
  const res = await fetch(`/api/games/${encodeURIComponent(publicId)}/lineage`);
  if (!res.ok) return null;
  /** @type {Lineage} */
  const lineage = await res.json();
  const from = lineage.remixedFrom;
  /** @type {HTMLElement | null} */
  let origin = null;
  if (from && 'hidden' in from) origin = h('p', { class: 'muted small', dataset: { testid: 'remixed-from' } }, t('remix.remixedFromHidden'));
  else if (from) {
    const name = from.author?.display_name;
    const [before, after = ''] = (name ? t('remix.remixedFromBy', { title: '\u0000', name }) : t('remix.remixedFrom', { title: '\u0000' })).split('\u0000');
    origin = h('p', { class: 'small', dataset: { testid: 'remixed-from' } }, before, gameLink(from), after);
  }
  const remixes = lineage.remixes.length
    ? h(
        'div',
        { class: 'play-block', dataset: { testid: 'remixes' } },
        h('h2', {}, t('remix.remixes', { count: lineage.remixes.length })),
        h(
          'ul',
          { class: 'remix-list' },
          lineage.remixes.map((game) =>
            h(
              'li',
              {},
              gameLink(game),
              game.author?.display_name ? h('span', { class: 'muted small' }, ` · ${t('remix.by', { name: game.author.display_name })}`) : null,
            ),
          ),
        ),
      )
    : null;
  return h('section', { class: 'play-remix stack' }, origin, lineage.allowRemix ? await remixButton(publicId) : null, remixes);
}

/** @param {string} publicId */
async function remixButton(publicId) {
  const auth = new Auth(await loadConfig());
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  if (!auth.signedIn) {
    return h(
      'div',
      { class: 'stack' },
      h('a', { class: 'button', href: '/login', dataset: { action: 'remix-sign-in' } }, t('remix.signInToRemix')),
      h('small', { class: 'muted' }, t('remix.remixHint')),
    );
  }
  const button = h('button', { type: 'button', class: 'primary', dataset: { action: 'remix' } }, t('remix.remix'));
  button.addEventListener('click', async () => {
    error.hidden = true;
    button.disabled = true;
    button.textContent = t('remix.remixing');
    try {
      // The app's API client: a refused remix is said in the user's words (by status), not the server's English.
      const body = await createApi(auth).post(`/api/games/${encodeURIComponent(publicId)}/remix`);
      location.assign(`/project/${encodeURIComponent(body.project.id)}`);
    } catch (/** @type {any} */ err) {
      error.textContent = err.body?.code === 'DAILY_PROJECT_LIMIT_EXCEEDED' ? t('remix.remixLimit') : t('remix.remixFailed', { message: err.message });
      error.hidden = false;
      button.disabled = false;
      button.textContent = t('remix.remix');
    }
  });
  return h('div', { class: 'stack' }, button, h('small', { class: 'muted' }, t('remix.remixHint')), error);
}
