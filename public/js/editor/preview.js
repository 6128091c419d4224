// The live preview: an iframe on the signed game URL (GET /api/game-url/:id), reloaded when a version lands.
// The server injects a reporter into the game that posts `gameLoaded` / `gameError` to this page.
// The game is loaded only while the preview has a size: most games size their canvas from the window once, at
// start-up, so a game loaded into a hidden pane (the phone layout's chat tab) would stay 0×0 when shown.
import { h, clear } from '../lib/dom.js';

export function createPreview({ app, projectId }) {
  let signed = null; // {url, expiresMs}
  let reloadTimer = null;
  let loads = 0;
  let shown = false; // the stage has a non-zero size
  let deferred = false; // a load was asked for while hidden

  const frame = h('iframe', {
    class: 'preview-frame',
    title: 'Game preview',
    allow: 'autoplay; fullscreen; gamepad; accelerometer; gyroscope',
    dataset: { testid: 'preview-frame' },
  });
  const status = h('span', { class: 'preview-status', dataset: { state: 'idle' } }, 'Loading preview…');
  const errors = h('div', { class: 'preview-errors', hidden: true });
  const openLink = h('a', { class: 'button small ghost', target: '_blank', rel: 'noopener', href: '#', title: 'Open the preview in a new tab' }, 'Open ↗');
  const reloadButton = h('button', { type: 'button', class: 'small ghost', dataset: { action: 'reload-preview' }, onclick: () => reload(true) }, '⟳ Reload');
  const el = h(
    'section',
    { class: 'preview' },
    h('div', { class: 'panel-toolbar' }, status, h('div', { class: 'toolbar-actions' }, reloadButton, openLink)),
    h('div', { class: 'preview-stage' }, frame),
    errors,
  );

  async function url() {
    if (!signed || Date.now() > signed.expiresMs - 60_000) {
      const res = await app.api.get(`/api/game-url/${projectId}`);
      const exp = Date.parse(res.expiresAt);
      // The client keeps it four minutes at most (it is valid for five).
      signed = { url: res.url, expiresMs: Math.min(Number.isNaN(exp) ? Infinity : exp, Date.now() + 4 * 60_000) };
    }
    return signed.url;
  }

  async function load() {
    if (!shown) {
      deferred = true;
      return;
    }
    deferred = false;
    status.textContent = 'Loading preview…';
    status.dataset.state = 'loading';
    errors.hidden = true;
    try {
      const base = await url();
      const src = `${base}${base.includes('?') ? '&' : '?'}t=${Date.now()}`;
      loads++;
      frame.dataset.loads = String(loads);
      frame.src = src;
      openLink.href = src;
    } catch (error) {
      status.textContent = `Preview unavailable: ${error.message}`;
      status.dataset.state = 'error';
    }
  }

  /** A new version: reload soon (several signals may arrive together: completed, gameUpdated, versionRestored). */
  function reload(now = false) {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, now ? 0 : 250);
  }

  function onMessage(event) {
    if (event.source !== frame.contentWindow || !event.data || typeof event.data !== 'object') return;
    const { type } = event.data;
    if (type === 'gameLoaded') {
      const count = Number(event.data.errorCount) || 0;
      status.textContent = count ? `Game loaded with ${count} error${count > 1 ? 's' : ''}` : 'Game loaded';
      if (!count) status.append(h('span', { class: 'desktop-only' }, ' · click the game to play'));
      status.dataset.state = count ? 'warn' : 'ok';
      if (count) showErrors(event.data.errors);
    } else if (type === 'gameError') {
      showErrors(event.data.errors);
    }
  }

  function showErrors(list) {
    if (!Array.isArray(list) || list.length === 0) return;
    clear(errors).append(
      h('strong', {}, 'Errors in the game'),
      h(
        'ul',
        {},
        list.slice(0, 5).map((e) => h('li', {}, `${e.message ?? e.type}${e.line ? ` (line ${e.line})` : ''}`)),
      ),
      h('p', { class: 'muted small' }, 'Tell the agent about them in the chat to get them fixed.'),
    );
    errors.hidden = false;
  }

  window.addEventListener('message', onMessage);
  const stage = el.querySelector('.preview-stage');
  const sizeWatch = new ResizeObserver(() => {
    shown = stage.clientWidth > 0 && stage.clientHeight > 0;
    if (shown && deferred) load();
  });
  sizeWatch.observe(stage);
  frame.addEventListener('load', () => {
    if (status.dataset.state === 'loading') {
      status.textContent = 'Game loaded';
      status.dataset.state = 'ok';
    }
  });

  return {
    el,
    frame,
    load,
    reload,
    dispose() {
      clearTimeout(reloadTimer);
      sizeWatch.disconnect();
      window.removeEventListener('message', onMessage);
      frame.src = 'about:blank';
    },
  };
}
