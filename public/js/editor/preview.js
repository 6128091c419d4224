// The live preview: an iframe on the signed game URL (GET /api/game-url/:id), reloaded when a version lands.
// The server injects a reporter into the game that posts `gameLoaded` / `gameError` to this page, and
// `gamePointerDown` when the player presses on the game.
// The game is loaded only while the preview has a size: most games size their canvas from the window once, at
// start-up, so a game loaded into a hidden pane (the phone layout's chat tab) would stay 0×0 when shown.
//
// Keyboard: a press on the game normally focuses its frame, but games that cancel `pointerdown` (to stop scrolling or
// text selection on phones, as the demo games do) also cancel that, so the keys never reached them. The frame is
// therefore focused from here when the game reports a press, and after a new version loads (unless the message box
// holds something being typed). The status line says where the keys go.
//
// Links: a signed preview URL lives five minutes. "Open ↗" is renewed before that, so the link on the button always
// works; a link that did expire leads to a page that gets its owner a fresh one (server/src/http/error-pages.ts).
import { h, clear } from '../lib/dom.js';
import { t } from '../i18n/index.js';

/** Renew the signed URL this long before it expires. */
const RENEW_BEFORE_MS = 60_000;
const TOUCH = window.matchMedia('(hover: none) and (pointer: coarse)');

/**
 * @param {{ app: import('../main.js').App, projectId: string, messageBox?: () => HTMLTextAreaElement | null | undefined }} options
 */
export function createPreview({ app, projectId, messageBox }) {
  /** @type {{ url: string, expiresMs: number } | null} */
  let signed = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let reloadTimer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let renewTimer;
  let loads = 0;
  let shown = false; // the stage has a non-zero size
  let deferred = false; // a load was asked for while hidden
  let focusOnLoad = false; // a new version: hand the keys to it once it has loaded
  let disposed = false;

  const frame = h('iframe', {
    class: 'preview-frame',
    title: t('preview.frameTitle'),
    allow: 'autoplay; fullscreen; gamepad; accelerometer; gyroscope',
    dataset: { testid: 'preview-frame' },
  });
  const status = h('span', { class: 'preview-status', role: 'status', dataset: { state: 'idle', focus: 'page' } }, t('preview.loading'));
  const errors = h('div', { class: 'preview-errors', hidden: true });
  const openLink = h(
    'a',
    { class: 'button small ghost', target: '_blank', rel: 'noopener', href: '#', title: t('preview.openTitle'), dataset: { testid: 'open-preview' } },
    t('preview.open'),
  );
  const reloadButton = h(
    'button',
    {
      type: 'button',
      class: 'small ghost',
      dataset: { action: 'reload-preview' },
      onclick: () => {
        focusOnLoad = true;
        reload(true);
      },
    },
    t('preview.reload'),
  );
  const el = h(
    'section',
    { class: 'preview' },
    h('div', { class: 'panel-toolbar' }, status, h('div', { class: 'toolbar-actions' }, reloadButton, openLink)),
    h('div', { class: 'preview-stage' }, frame),
    errors,
  );

  /** @returns {Promise<string>} */
  async function url() {
    if (!signed || Date.now() > signed.expiresMs - RENEW_BEFORE_MS) {
      const res = await app.api.get(`/api/game-url/${projectId}`);
      const exp = Date.parse(res.expiresAt);
      // The client keeps it four minutes at most (it is valid for five).
      signed = { url: res.url, expiresMs: Math.min(Number.isNaN(exp) ? Infinity : exp, Date.now() + 4 * 60_000) };
      scheduleRenewal();
    }
    return signed.url;
  }

  /** @param {string} base */
  const withStamp = (base) => `${base}${base.includes('?') ? '&' : '?'}t=${Date.now()}`;

  /** Keeps "Open ↗" on a link that works: a fresh one shortly before the current one expires. */
  function scheduleRenewal() {
    clearTimeout(renewTimer);
    if (!signed || disposed) return;
    renewTimer = setTimeout(renewOpenLink, Math.max(1_000, signed.expiresMs - RENEW_BEFORE_MS - Date.now()));
  }

  async function renewOpenLink() {
    if (disposed) return;
    try {
      openLink.href = withStamp(await url());
    } catch {
      // Offline for now: try again in a while (the expired-link page covers a click in between).
      renewTimer = setTimeout(renewOpenLink, 30_000);
    }
  }

  async function load() {
    if (!shown) {
      deferred = true;
      return;
    }
    deferred = false;
    setStatus('loading', t('preview.loading'));
    errors.hidden = true;
    try {
      const src = withStamp(await url());
      loads++;
      frame.dataset.loads = String(loads);
      frame.src = src;
      openLink.href = src;
    } catch (/** @type {any} */ error) {
      setStatus('error', t('preview.unavailable', { message: error.message }));
    }
  }

  /** A new version: reload soon (several signals may arrive together: completed, gameUpdated, versionRestored). */
  function reload(now = false) {
    focusOnLoad = true;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, now ? 0 : 250);
  }

  /**
   * @param {string} state
   * @param {string} text
   */
  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  /** After loading, the status line says how to play (or that the keys already go to the game). */
  function howToPlay() {
    if (status.dataset.state !== 'ok') return;
    const playing = status.dataset.focus === 'game';
    status.textContent = playing
      ? t('preview.playing')
      : t('common.twoSentences', { first: t('preview.loaded'), second: TOUCH.matches ? t('preview.tapToPlay') : t('preview.clickToPlay') });
  }

  /** Gives the game the keyboard, unless the message box holds something being typed. */
  function focusGame() {
    const box = messageBox?.();
    if (box && document.activeElement === box && box.value.trim() !== '') return;
    frame.focus();
    trackFocus();
  }

  function trackFocus() {
    status.dataset.focus = document.activeElement === frame ? 'game' : 'page';
    howToPlay();
  }

  /** @param {MessageEvent} event what the reporter injected into the game posts */
  function onMessage(event) {
    if (event.source !== frame.contentWindow || !event.data || typeof event.data !== 'object') return;
    const { type } = event.data;
    if (type === 'gamePointerDown') {
      if (document.activeElement !== frame) {
        frame.focus();
        trackFocus();
      }
    } else if (type === 'gameLoaded') {
      const count = Number(event.data.errorCount) || 0;
      if (count) {
        setStatus('warn', t('preview.loadedWithErrors', { count }));
        showErrors(event.data.errors);
      } else {
        setStatus('ok', t('preview.loaded'));
        howToPlay();
      }
    } else if (type === 'gameError') {
      showErrors(event.data.errors);
    }
  }

  /** @param {unknown} list */
  function showErrors(list) {
    if (!Array.isArray(list) || list.length === 0) return;
    clear(errors).append(
      h('strong', {}, t('preview.problems')),
      h(
        'ul',
        {},
        list.slice(0, 5).map((e) => h('li', {}, e.line ? t('preview.atLine', { message: e.message ?? e.type, line: e.line }) : (e.message ?? e.type))),
      ),
      h('p', { class: 'muted small' }, t('preview.askAgent')),
    );
    errors.hidden = false;
  }

  window.addEventListener('message', onMessage);
  // Focus moving into the frame blurs this window; coming back focuses it. (activeElement settles after the event.)
  const trackSoon = () => setTimeout(trackFocus, 0);
  window.addEventListener('blur', trackSoon);
  window.addEventListener('focus', trackSoon);
  document.addEventListener('focusin', trackSoon);
  document.addEventListener('pointerdown', trackSoon);
  const stage = /** @type {HTMLElement} */ (el.querySelector('.preview-stage'));
  const sizeWatch = new ResizeObserver(() => {
    shown = stage.clientWidth > 0 && stage.clientHeight > 0;
    if (shown && deferred) load();
  });
  sizeWatch.observe(stage);
  frame.addEventListener('load', () => {
    if (status.dataset.state === 'loading') setStatus('ok', t('preview.loaded'));
    if (focusOnLoad && shown) {
      focusOnLoad = false;
      focusGame();
    }
    howToPlay();
  });

  return {
    el,
    frame,
    load,
    reload,
    dispose() {
      disposed = true;
      clearTimeout(reloadTimer);
      clearTimeout(renewTimer);
      sizeWatch.disconnect();
      window.removeEventListener('message', onMessage);
      window.removeEventListener('blur', trackSoon);
      window.removeEventListener('focus', trackSoon);
      document.removeEventListener('focusin', trackSoon);
      document.removeEventListener('pointerdown', trackSoon);
      frame.src = 'about:blank';
    },
  };
}
