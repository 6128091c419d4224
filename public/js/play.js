// The public play page, /play/:gameId: the game's details (GET /api/published-games/:id), the game framed from
// /g/:id/index.html, and one play counted (POST /api/published-games/:id/play).
import { h, clear } from './lib/dom.js';
import { GAME_PUBLIC_ID_PATTERN, UUID_PATTERN } from './lib/ids.js';
import { t, translatePage, formatDay } from './i18n/index.js';
import { remixSection } from './play-remix.js';

const root = /** @type {HTMLElement} */ (document.getElementById('play'));
translatePage();

function gameIdFromPath() {
  const match = /^\/play\/([^/]+)\/?$/.exec(location.pathname);
  return match ? decodeURIComponent(match[1]) : new URLSearchParams(location.search).get('id');
}

/** @param {string} message */
function notFound(message) {
  document.title = `${t('play.missingTitle')} · DreamCore`;
  clear(root).append(
    h(
      'div',
      { class: 'play-missing', dataset: { testid: 'play-missing' } },
      h('div', { class: 'denied-icon', 'aria-hidden': 'true' }, '🕹️'),
      h('h1', {}, t('play.missingTitle')),
      h('p', {}, message),
      h('a', { class: 'button primary', href: '/' }, t('play.makeYourOwn')),
    ),
  );
}

async function main() {
  const id = gameIdFromPath();
  if (!id || !(GAME_PUBLIC_ID_PATTERN.test(id) || UUID_PATTERN.test(id))) {
    return notFound(t('play.notALink'));
  }
  let game;
  try {
    const res = await fetch(`/api/published-games/${encodeURIComponent(id)}`);
    if (res.status === 404 || res.status === 400) return notFound(t('play.notPublished'));
    if (!res.ok) return notFound(t('play.couldNotLoad'));
    game = await res.json();
  } catch {
    return notFound(t('play.couldNotLoad'));
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
  const plays = h('span', { class: 'plays' }, t('play.plays', { count }));
  const stage = h('div', { class: 'play-stage' }, frame);
  const fullscreen = h(
    'button',
    { type: 'button', class: 'small ghost', onclick: () => stage.requestFullscreen?.().catch(() => undefined) },
    t('play.fullscreen'),
  );
  const author = game.users?.display_name;

  clear(root).append(
    h(
      'header',
      { class: 'play-bar' },
      h('a', { class: 'brand', href: '/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), h('span', { class: 'brand-name' }, 'DreamCore')),
      h('a', { class: 'button small primary', href: '/' }, t('play.makeOwnShort')),
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
          author ? h('span', { class: 'author', dataset: { testid: 'play-author' } }, t('play.by', { name: author })) : null,
          author ? ' · ' : '',
          plays,
          game.published_at ? ` · ${t('play.published', { date: formatDay(game.published_at) })}` : '',
        ),
        Array.isArray(game.tags) && game.tags.length
          ? h(
              'div',
              { class: 'chips' },
              game.tags.map((/** @type {string} */ tag) => h('span', { class: 'chip static' }, `#${tag}`)),
            )
          : null,
        game.description ? h('div', { class: 'play-block' }, h('h2', {}, t('play.about')), h('p', { class: 'prewrap' }, game.description)) : null,
        game.how_to_play ? h('div', { class: 'play-block' }, h('h2', {}, t('play.howToPlay')), h('p', { class: 'prewrap' }, game.how_to_play)) : null,
      ),
    ),
  );
  frame.addEventListener('load', () => frame.focus(), { once: true });
  // A press on the game gives it the keyboard again (games that cancel pointerdown cancel that focus too).
  window.addEventListener('message', (event) => {
    if (event.source === frame.contentWindow && event.data?.type === 'gamePointerDown' && document.activeElement !== frame) frame.focus();
  });

  // Remix and lineage (a failure to load them leaves the game page as it is).
  remixSection(publicId)
    .then((section) => section && root.querySelector('.play-info')?.append(section))
    .catch(() => undefined);

  // One play per page view.
  fetch(`/api/published-games/${encodeURIComponent(publicId)}/play`, { method: 'POST' }).catch(() => undefined);
}

main();
