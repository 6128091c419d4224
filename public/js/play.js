// The public play page, /play/:gameId: the game's details (GET /api/published-games/:id), the game framed from
// /g/:id/index.html, and one play counted (POST /api/published-games/:id/play).
import { h, clear, formatDate } from './lib/dom.js';
import { GAME_PUBLIC_ID_PATTERN, UUID_PATTERN } from './lib/ids.js';

const root = document.getElementById('play');

function gameIdFromPath() {
  const match = /^\/play\/([^/]+)\/?$/.exec(location.pathname);
  return match ? decodeURIComponent(match[1]) : new URLSearchParams(location.search).get('id');
}

function notFound(message) {
  document.title = 'Game not found · DreamCore';
  clear(root).append(
    h(
      'div',
      { class: 'play-missing', dataset: { testid: 'play-missing' } },
      h('div', { class: 'denied-icon', 'aria-hidden': 'true' }, '🕹️'),
      h('h1', {}, 'Game not found'),
      h('p', {}, message),
      h('a', { class: 'button primary', href: '/' }, 'Make your own game on DreamCore'),
    ),
  );
}

async function main() {
  const id = gameIdFromPath();
  if (!id || !(GAME_PUBLIC_ID_PATTERN.test(id) || UUID_PATTERN.test(id))) {
    return notFound('This link does not point to a game.');
  }
  let game;
  try {
    const res = await fetch(`/api/published-games/${encodeURIComponent(id)}`);
    if (res.status === 404 || res.status === 400) return notFound('This game is not published, or the link is wrong. このゲームは見つかりませんでした。');
    if (!res.ok) throw new Error(`server answered ${res.status}`);
    game = await res.json();
  } catch (error) {
    return notFound(`The game could not be loaded (${error.message}).`);
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
  const plays = h('span', { class: 'plays' }, `${(game.play_count ?? 0) + 1} ${(game.play_count ?? 0) + 1 === 1 ? 'play' : 'plays'}`);
  const stage = h('div', { class: 'play-stage' }, frame);
  const fullscreen = h('button', { type: 'button', class: 'small ghost', onclick: () => stage.requestFullscreen?.().catch(() => undefined) }, 'Fullscreen');
  const author = game.users?.display_name;

  clear(root).append(
    h(
      'header',
      { class: 'play-bar' },
      h('a', { class: 'brand', href: '/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), h('span', { class: 'brand-name' }, 'DreamCore')),
      h('a', { class: 'button small primary', href: '/' }, 'Make your own'),
    ),
    h(
      'main',
      { class: 'play-main' },
      stage,
      h(
        'section',
        { class: 'play-info' },
        h('div', { class: 'play-title-row' }, h('h1', { dataset: { testid: 'play-title' } }, game.title), fullscreen),
        h('p', { class: 'muted small' }, author ? `by ${author} · ` : '', plays, game.published_at ? ` · published ${formatDate(game.published_at)}` : ''),
        Array.isArray(game.tags) && game.tags.length
          ? h(
              'div',
              { class: 'chips' },
              game.tags.map((t) => h('span', { class: 'chip static' }, `#${t}`)),
            )
          : null,
        game.description ? h('div', { class: 'play-block' }, h('h2', {}, 'About'), h('p', { class: 'prewrap' }, game.description)) : null,
        game.how_to_play ? h('div', { class: 'play-block' }, h('h2', {}, 'How to play 遊び方'), h('p', { class: 'prewrap' }, game.how_to_play)) : null,
      ),
    ),
  );
  frame.addEventListener('load', () => frame.focus(), { once: true });

  // One play per page view.
  fetch(`/api/published-games/${encodeURIComponent(publicId)}/play`, { method: 'POST' }).catch(() => undefined);
}

main();
