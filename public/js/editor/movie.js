// The promo video: POST …/generate-movie (202 while it renders), progress from GET …/movie-status polling, then
// the video itself (GET …/movie needs the bearer token, so it is fetched and played from a blob URL).
import { h, toast } from '../lib/dom.js';
import { t, hasKey } from '../i18n/index.js';

const POLL_MS = 1000;

/**
 * A render stage in the user's words (the server names it: capture, bundle, render, thumbnail, done).
 * @param {unknown} stage
 */
function stageWords(stage) {
  const key = `movie.stage${String(stage).charAt(0).toUpperCase()}${String(stage).slice(1)}`;
  return hasKey(key) ? t(key) : t('movie.making');
}

/**
 * @param {{ app: import('../main.js').App, projectId: string, thumbnailUrl: () => string }} options
 */
export function createMovie({ app, projectId, thumbnailUrl }) {
  const { api } = app;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let pollTimer;
  /** @type {string | null} */
  let blobUrl = null;
  let disposed = false;

  const fill = h('div', { class: 'progress-fill' });
  const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' }, fill);
  const stageLine = h('span', { class: 'muted small' }, '');
  const progress = h('div', { class: 'movie-progress', hidden: true }, bar, stageLine);
  const message = h('p', { class: 'muted small movie-message' }, t('movie.intro'));
  const video = h('video', { class: 'movie-video', controls: true, playsinline: true, preload: 'metadata', hidden: true, dataset: { testid: 'movie-video' } });
  const poster = h('img', { class: 'movie-thumb', alt: t('movie.thumbnailAlt'), hidden: true });
  const renderButton = h('button', { type: 'button', class: 'small', dataset: { action: 'render-movie' }, onclick: start }, t('movie.make'));
  const el = h(
    'section',
    { class: 'movie card' },
    h('div', { class: 'section-head' }, h('h3', {}, t('movie.title')), renderButton),
    message,
    progress,
    h('div', { class: 'movie-media' }, poster, video),
  );

  function showThumb() {
    const src = thumbnailUrl();
    poster.onerror = () => (poster.hidden = true);
    poster.onload = () => (poster.hidden = !video.hidden);
    poster.src = src;
    video.poster = src;
  }

  /**
   * @param {unknown} percent
   * @param {unknown} stage
   */
  function setProgress(percent, stage) {
    const p = Math.max(0, Math.min(100, Math.round(Number(percent) || 0)));
    progress.hidden = false;
    fill.style.width = `${p}%`;
    bar.setAttribute('aria-valuenow', String(p));
    stageLine.textContent = t('movie.progress', { percent: p, stage: stageWords(stage) });
  }

  async function start() {
    renderButton.disabled = true;
    message.textContent = t('movie.starting');
    try {
      const res = await api.post(`/api/projects/${projectId}/generate-movie`);
      if (res.status === 'rendering') {
        setProgress(res.percent, res.stage);
        poll();
      } else if (res.movieUrl) {
        await done(res.movieUrl);
      }
    } catch (/** @type {any} */ error) {
      renderButton.disabled = false;
      progress.hidden = true;
      message.textContent = error.status === 503 ? t('movie.unavailable') : t('movie.failed', { message: error.message });
      if (error.status !== 503) toast(message.textContent, 'error');
    }
  }

  function poll() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(async () => {
      if (disposed) return;
      try {
        const s = await api.get(`/api/projects/${projectId}/movie-status`);
        if (s.status === 'rendering') {
          setProgress(s.percent, s.stage);
          message.textContent = t('movie.making');
          poll();
        } else if (s.status === 'done') {
          setProgress(100, 'done');
          await done(s.movieUrl);
        } else if (s.status === 'failed') {
          renderButton.disabled = false;
          progress.hidden = true;
          message.textContent = t('movie.failedNoReason');
        } else {
          renderButton.disabled = false;
          progress.hidden = true;
        }
      } catch {
        poll(); // a blip: keep polling
      }
    }, POLL_MS);
  }

  /** @param {string} movieUrl */
  async function done(movieUrl) {
    renderButton.disabled = false;
    renderButton.textContent = t('movie.makeAgain');
    message.textContent = t('movie.ready');
    try {
      const res = await api.raw(movieUrl);
      const blob = await res.blob();
      if (disposed) return;
      if (blobUrl) URL.revokeObjectURL(blobUrl);
      blobUrl = URL.createObjectURL(blob);
      video.src = blobUrl;
      video.hidden = false;
      poster.hidden = true;
      progress.hidden = true;
      showThumb();
    } catch (/** @type {any} */ error) {
      message.textContent = t('movie.loadFailed', { message: error.message });
    }
  }

  /** On opening the panel: a render in progress keeps its progress bar; a finished one is shown. */
  async function load() {
    showThumb();
    try {
      const s = await api.get(`/api/projects/${projectId}/movie-status`);
      if (s.status === 'rendering') {
        renderButton.disabled = true;
        setProgress(s.percent, s.stage);
        poll();
      } else if (s.movieUrl) {
        await done(s.movieUrl);
      }
    } catch {
      /* no status: the button still works */
    }
  }

  return {
    el,
    load,
    showThumb,
    dispose() {
      disposed = true;
      clearTimeout(pollTimer);
      if (blobUrl) URL.revokeObjectURL(blobUrl);
    },
  };
}
