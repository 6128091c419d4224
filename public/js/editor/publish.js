// Publish: title, description, how to play, tags, visibility (draft: GET/PUT …/publish-draft; publish:
// POST …/publish → {gameId}; unpublish: DELETE …/publish), the thumbnail, and the promo video.
//
// Publishing makes the project's current version public; later changes stay private until "Update the public
// version" (GET …/published says `upToDate`). The state is shown where the Publish button is, and the editor shows
// "changes not yet public" through `onStatus`. Unpublishing hides the game; publishing again brings back its link.
import { h, clear, toast, withBusy, confirmDialog } from '../lib/dom.js';
import { t } from '../i18n/index.js';
import { createMovie } from './movie.js';
import { pictureButton, shareSheet, takeGamePicture, writeForMeButton } from './publish-help.js';

/** @type {Array<[string, import('../i18n/index.js').Key]>} */
const VISIBILITY = [
  ['public', 'publish.visibilityPublic'],
  ['unlisted', 'publish.visibilityUnlisted'],
  ['private', 'publish.visibilityPrivate'],
];

/** @param {string} text */
function parseTags(text) {
  return [
    ...new Set(
      text
        .split(/[,、#\s]+/)
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ].slice(0, 20);
}

/**
 * What the editor's badge shows: nothing published, published but hidden, live and current, or live and behind.
 * @typedef {{ state: 'none' | 'hidden' | 'live' | 'behind', game: any }} PublishStatus
 */

/**
 * @param {{ app: import('../main.js').App, projectId: string, projectName: () => string,
 *   onStatus?: (status: PublishStatus) => void }} options
 */
export function createPublish({ app, projectId, projectName, onStatus }) {
  const { api } = app;
  let loaded = false;
  let thumbVersion = Date.now();
  // Answers about the published state can cross (a read started before a publish ends after it): only the newest counts.
  let statusSeq = 0;

  const title = h('input', { type: 'text', name: 'title', maxlength: 200, required: true });
  const description = h('textarea', { name: 'description', rows: 3, maxlength: 5000, placeholder: t('publish.descriptionPlaceholder') });
  const howToPlay = h('textarea', { name: 'howToPlay', rows: 3, maxlength: 5000, placeholder: t('publish.howToPlayPlaceholder') });
  const tags = h('input', { type: 'text', name: 'tags', placeholder: t('publish.tagsPlaceholder') });
  const visibility = h(
    'select',
    { name: 'visibility' },
    VISIBILITY.map(([value, key]) => h('option', { value }, t(key))),
  );
  const allowRemix = h('input', { type: 'checkbox', name: 'allowRemix', checked: true });
  const publishButton = h('button', { type: 'submit', class: 'primary', dataset: { action: 'publish' } }, t('publish.publish'));
  const saveButton = h('button', { type: 'button', class: 'ghost', onclick: saveDraft }, t('publish.saveDraft'));
  const result = h('div', { class: 'publish-result', role: 'status', hidden: true, dataset: { testid: 'publish-result', state: 'none' } });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const thumb = h('img', { class: 'publish-thumb', alt: t('publish.thumbnailAlt') });
  const thumbEmpty = h('div', { class: 'publish-thumb empty' }, t('publish.noThumbnail'));
  const thumbInput = h('input', { type: 'file', accept: '.png,.jpg,.jpeg,.webp', hidden: true });
  const thumbButton = h('button', { type: 'button', class: 'small ghost', onclick: () => thumbInput.click() }, t('publish.uploadThumbnail'));

  const thumbnailUrl = () => `/api/projects/${projectId}/thumbnail?t=${thumbVersion}`;
  const movie = createMovie({ app, projectId, thumbnailUrl });

  const form = h(
    'form',
    { class: 'publish-form stack' },
    writeForMeButton({ app, projectId, onInfo: (info) => fill(info) }),
    h('label', { class: 'field' }, h('span', {}, t('publish.titleLabel')), title),
    h('label', { class: 'field' }, h('span', {}, t('publish.descriptionLabel')), description),
    h('label', { class: 'field' }, h('span', {}, t('publish.howToPlayLabel')), howToPlay),
    h('label', { class: 'field' }, h('span', {}, t('publish.tagsLabel')), tags),
    h('label', { class: 'field' }, h('span', {}, t('publish.visibilityLabel')), visibility),
    h('label', { class: 'check' }, allowRemix, h('span', {}, t('publish.allowRemix'))),
    error,
    // Where the Publish button is, so the outcome appears where the user is looking.
    result,
    h('div', { class: 'row end' }, saveButton, publishButton),
  );

  const el = h(
    'section',
    { class: 'publish' },
    h('div', { class: 'panel-toolbar' }, h('h2', {}, t('publish.heading'))),
    h(
      'div',
      { class: 'panel-scroll' },
      h(
        'div',
        { class: 'publish-layout' },
        h('div', { class: 'card' }, form),
        h(
          'div',
          { class: 'stack' },
          h(
            'section',
            { class: 'card thumb-card' },
            h('h3', {}, t('publish.thumbnailTitle')),
            thumb,
            thumbEmpty,
            h('div', { class: 'row' }, pictureButton({ app, projectId, onPicture: showNewThumb }), thumbButton),
            thumbInput,
          ),
          movie.el,
        ),
      ),
    ),
  );

  thumb.addEventListener('load', () => {
    thumb.hidden = false;
    thumbEmpty.hidden = true;
  });
  thumb.addEventListener('error', () => {
    thumb.hidden = true;
    thumbEmpty.hidden = false;
  });

  function fields() {
    return {
      title: title.value.trim(),
      description: description.value.trim(),
      howToPlay: howToPlay.value.trim(),
      tags: parseTags(tags.value),
      visibility: visibility.value,
      allowRemix: allowRemix.checked,
      remix: allowRemix.checked ? 'allowed' : 'disallow',
    };
  }

  /** @param {any} source a saved draft or the published game (snake_case or camelCase fields) */
  function fill(source) {
    if (!source) return;
    if (source.title) title.value = source.title;
    if (source.description != null) description.value = source.description;
    const how = source.howToPlay ?? source.how_to_play;
    if (how != null) howToPlay.value = how;
    if (Array.isArray(source.tags)) tags.value = source.tags.join(', ');
    if (source.visibility) visibility.value = source.visibility;
    if (source.remix) allowRemix.checked = source.remix !== 'disallow';
    if (typeof source.allow_remix === 'boolean') allowRemix.checked = source.allow_remix;
  }

  /**
   * `GET …/published` (or a publish answer) → the status block, the button label and the editor's badge.
   * @param {any} status
   */
  function showStatus(status) {
    const game = status?.game ?? null;
    const live = Boolean(status?.published && game);
    const behind = live && status.upToDate === false;
    /** @type {PublishStatus['state']} */
    const state = !game ? 'none' : !live ? 'hidden' : behind ? 'behind' : 'live';
    clear(result);
    result.dataset.state = state;
    publishButton.textContent = live ? t('publish.updatePublic') : t('publish.publish');
    onStatus?.({ state, game });
    if (!game) {
      result.hidden = true;
      return;
    }
    const gameId = game.public_id ?? game.gameId;
    const href = `/play/${encodeURIComponent(gameId)}`;
    const full = `${location.origin}${href}`;
    const link = h('a', { href, target: '_blank', rel: 'noopener', class: 'play-link', dataset: { testid: 'play-link' } }, full);
    result.hidden = false;
    if (state === 'hidden') {
      result.append(h('p', { class: 'publish-hidden' }, ...withLink(t('publish.hidden', { link: '\u0000' }), link)));
      return;
    }
    const plays = t('publish.plays', { count: game.play_count ?? 0 });
    const badge =
      game.visibility === 'private' ? t('publish.livePrivate') : game.visibility === 'unlisted' ? t('publish.liveUnlisted') : t('publish.liveBadge');
    // (Element.append would print a null as the text "null": the optional block is spread in.)
    result.append(
      ...(behind
        ? [
            h(
              'div',
              { class: 'publish-behind', dataset: { testid: 'changes-pending' } },
              h('strong', {}, t('publish.changesPending')),
              h('p', { class: 'small' }, t('publish.changesPendingDetail')),
              h(
                'button',
                { type: 'button', class: 'primary small', dataset: { action: 'update-public' }, onclick: () => form.requestSubmit() },
                t('publish.updatePublic'),
              ),
            ),
          ]
        : []),
      h('div', { class: 'publish-live' }, h('span', { class: 'badge badge-live' }, badge), link),
      shareSheet({ gameId, url: full, title: game.title ?? title.value }),
      h(
        'div',
        { class: 'row' },
        h(
          'button',
          {
            type: 'button',
            class: 'small ghost',
            onclick: () =>
              navigator.clipboard?.writeText(full).then(
                () => toast(t('publish.copied')),
                () => toast(full),
              ),
          },
          t('publish.copyLink'),
        ),
        h('a', { class: 'button small', href, target: '_blank', rel: 'noopener' }, t('publish.openPlayPage')),
        h('button', { type: 'button', class: 'small ghost danger-text', dataset: { action: 'unpublish' }, onclick: unpublish }, t('publish.unpublish')),
      ),
      h('p', { class: 'muted small' }, plays, ' · ', behind ? t('publish.changesPending') : t('publish.upToDate')),
    );
  }

  /**
   * Splits a text at the placeholder NUL and puts `node` there.
   * @param {string} text
   * @param {Node} node
   */
  function withLink(text, node) {
    const [before, after = ''] = text.split('\u0000');
    return [before, node, after];
  }

  /** Reads the published state again (after a generation, a restore, or when the tab is shown). */
  async function refreshStatus() {
    const asked = ++statusSeq;
    try {
      const status = await api.get(`/api/projects/${projectId}/published`);
      if (asked === statusSeq) showStatus(status);
    } catch {
      // The badge simply stays as it was; the tab shows errors when opened.
    }
  }

  async function saveDraft() {
    error.hidden = true;
    await withBusy(saveButton, t('publish.saving'), async () => {
      try {
        const { allowRemix: _unused, ...draft } = fields();
        await api.put(`/api/projects/${projectId}/publish-draft`, draft);
        toast(t('publish.draftSaved'), 'success');
      } catch (/** @type {any} */ err) {
        showError(err.message);
      }
    });
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const f = fields();
    if (!f.title) return showError(t('publish.titleRequired'));
    const wasLive = result.dataset.state === 'live' || result.dataset.state === 'behind';
    await withBusy(publishButton, wasLive ? t('publish.updating') : t('publish.publishing'), async () => {
      // A game published without a thumbnail gets a picture of itself first.
      if (thumb.naturalWidth === 0) {
        publishButton.textContent = t('publishHelp.autoPicture');
        if (await takeGamePicture(app, projectId)) showNewThumb();
        publishButton.textContent = wasLive ? t('publish.updating') : t('publish.publishing');
      }
      try {
        const { remix: _unused, ...body } = f;
        const res = await api.post(`/api/projects/${projectId}/publish`, body);
        statusSeq++;
        showStatus({ published: true, game: { ...res.game, public_id: res.gameId }, upToDate: true });
        // The outcome, where the button is: no toast over the video beside it.
        result.prepend(h('p', { class: 'publish-done', dataset: { testid: 'publish-done' } }, wasLive ? t('publish.updated') : t('publish.published')));
        result.scrollIntoView({ block: 'nearest' });
      } catch (/** @type {any} */ err) {
        showError(t('publish.saveFailed', { message: err.message }));
      }
    });
  });

  async function unpublish() {
    const ok = await confirmDialog({
      title: t('publish.unpublishTitle'),
      message: t('publish.unpublishMessage'),
      confirmLabel: t('publish.unpublish'),
      danger: true,
    });
    if (!ok) return;
    try {
      await api.del(`/api/projects/${projectId}/publish`);
      await refreshStatus();
      toast(t('publish.unpublished'));
    } catch (/** @type {any} */ err) {
      showError(err.message);
    }
  }

  thumbInput.addEventListener('change', async () => {
    const file = thumbInput.files?.[0];
    thumbInput.value = '';
    if (!file) return;
    const form = new FormData();
    form.append('thumbnail', file, file.name);
    await withBusy(thumbButton, t('publish.uploading'), async () => {
      try {
        await api.upload(`/api/projects/${projectId}/upload-thumbnail`, form);
        showNewThumb();
      } catch (/** @type {any} */ err) {
        toast(t('publish.thumbnailFailed', { message: err.message }), 'error');
      }
    });
  });

  function showNewThumb() {
    thumbVersion = Date.now();
    thumb.src = thumbnailUrl();
    movie.showThumb();
  }

  /** @param {string} message */
  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  async function load() {
    if (loaded) return;
    loaded = true;
    title.value = projectName() ?? '';
    thumb.src = thumbnailUrl();
    const asked = ++statusSeq;
    try {
      const [draft, published] = await Promise.all([api.get(`/api/projects/${projectId}/publish-draft`), api.get(`/api/projects/${projectId}/published`)]);
      fill(draft);
      if (published?.game) fill(published.game);
      if (asked === statusSeq) showStatus(published);
    } catch (/** @type {any} */ err) {
      loaded = false;
      showError(t('publish.loadFailed', { message: err.message }));
    }
    movie.load();
  }

  return { el, load, refreshStatus, dispose: () => movie.dispose() };
}
