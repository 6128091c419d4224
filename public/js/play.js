// The public play page, /play/:gameId: the game's details (GET /api/published-games/:id), the game framed from
// /g/:id/index.html, and one play counted (POST /api/published-games/:id/play).
import { h, clear, formatDate } from './lib/dom.js';
import { GAME_PUBLIC_ID_PATTERN, UUID_PATTERN } from './lib/ids.js';
import { language } from './strings/catalogue.js';
import { t } from './strings/play.js';

const root = /** @type {HTMLElement} */ (document.getElementById('play'));
document.documentElement.lang = language();

function gameIdFromPath() {
  const match = /^\/play\/([^/]+)\/?$/.exec(location.pathname);
  return match ? decodeURIComponent(match[1]) : new URLSearchParams(location.search).get('id');
}

/** @param {string} message */
function notFound(message) {
  document.title = `${t('missingTitle')} · DreamCore`;
  clear(root).append(
    h(
      'div',
      { class: 'play-missing', dataset: { testid: 'play-missing' } },
      h('div', { class: 'denied-icon', 'aria-hidden': 'true' }, '🕹️'),
      h('h1', {}, t('missingTitle')),
      h('p', {}, message),
      h('a', { class: 'button primary', href: '/' }, t('makeYourOwn')),
    ),
  );
}

async function main() {
  const id = gameIdFromPath();
  if (!id || !(GAME_PUBLIC_ID_PATTERN.test(id) || UUID_PATTERN.test(id))) {
    return notFound(t('notALink'));
  }
  let game;
  try {
    const res = await fetch(`/api/published-games/${encodeURIComponent(id)}`);
    if (res.status === 404 || res.status === 400) return notFound(t('notPublished'));
    if (!res.ok) throw new Error(`server answered ${res.status}`);
    game = await res.json();
  } catch {
    return notFound(t('couldNotLoad'));
  }

  const publicId = game.public_id ?? id;
  document.title = `${game.title} · DreamCore`;
  const frame = h('iframe', {
    class: 'play-frame',
    src: `/g/${encodeURIComponent(publicId)}/index.html`,
    title: game.title,
    allow: 'autoplay; fullscreen; gamepad; accelerometer; gyroscope',
    dataset: { testid: 'play-frame' },
  });
  const count = (game.play_count ?? 0) + 1;
  const plays = h('span', { class: 'plays' }, count === 1 ? t('onePlay') : t('plays', { count }));
  const stage = h('div', { class: 'play-stage' }, frame);
  const fullscreen = h('button', { type: 'button', class: 'small ghost', onclick: () => stage.requestFullscreen?.().catch(() => undefined) }, t('fullscreen'));
  const author = game.users?.display_name;

  clear(root).append(
    h(
      'header',
      { class: 'play-bar' },
      h('a', { class: 'brand', href: '/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), h('span', { class: 'brand-name' }, 'DreamCore')),
      h('a', { class: 'button small primary', href: '/' }, t('makeOwnShort')),
    ),
    h(
      'main',
      { class: 'play-main' },
      stage,
      h(
        'section',
        { class: 'play-info' },
        h('div', { class: 'play-title-row' }, h('h1', { dataset: { testid: 'play-title' } }, game.title), fullscreen),
        h(
          'p',
          { class: 'muted small' },
          author ? h('span', { class: 'author', dataset: { testid: 'play-author' } }, t('by', { name: author })) : null,
          author ? ' · ' : '',
          plays,
          game.published_at ? ` · ${t('published', { date: formatDate(game.published_at) })}` : '',
        ),
        Array.isArray(game.tags) && game.tags.length
          ? h(
              'div',
              { class: 'chips' },
              game.tags.map((/** @type {string} */ t) => h('span', { class: 'chip static' }, `#${t}`)),
            )
          : null,
        game.description ? h('div', { class: 'play-block' }, h('h2', {}, t('about')), h('p', { class: 'prewrap' }, game.description)) : null,
        game.how_to_play ? h('div', { class: 'play-block' }, h('h2', {}, t('howToPlay')), h('p', { class: 'prewrap' }, game.how_to_play)) : null,
      ),
    ),
  );
  frame.addEventListener('load', () => frame.focus(), { once: true });
  // A press on the game gives it the keyboard again (games that cancel pointerdown cancel that focus too).
  window.addEventListener('message', (event) => {
    if (event.source === frame.contentWindow && event.data?.type === 'gamePointerDown' && document.activeElement !== frame) frame.focus();
  });

  // One play per page view.
  fetch(`/api/published-games/${encodeURIComponent(publicId)}/play`, { method: 'POST' }).catch(() => undefined);
}

main();
