// Publish: title, description, how to play, tags, visibility (draft: GET/PUT …/publish-draft; publish:
// POST …/publish → {gameId}; unpublish: DELETE …/publish), the thumbnail, and the promo video.
import { h, clear, toast, withBusy, confirmDialog } from '../lib/dom.js';
import { createMovie } from './movie.js';

const VISIBILITY = [
  ['public', 'Public — listed, anyone can play 公開'],
  ['unlisted', 'Unlisted — only people with the link 限定公開'],
  ['private', 'Private — only you 非公開'],
];

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

export function createPublish({ app, projectId, projectName }) {
  const { api } = app;
  let loaded = false;
  let thumbVersion = Date.now();

  const title = h('input', { type: 'text', name: 'title', maxlength: 200, required: true });
  const description = h('textarea', { name: 'description', rows: 3, maxlength: 5000, placeholder: 'What is the game about?' });
  const howToPlay = h('textarea', { name: 'howToPlay', rows: 3, maxlength: 5000, placeholder: 'Arrow keys to move, Space to shoot…' });
  const tags = h('input', { type: 'text', name: 'tags', placeholder: 'shooter, space, retro' });
  const visibility = h(
    'select',
    { name: 'visibility' },
    VISIBILITY.map(([value, label]) => h('option', { value }, label)),
  );
  const allowRemix = h('input', { type: 'checkbox', name: 'allowRemix', checked: true });
  const publishButton = h('button', { type: 'submit', class: 'primary' }, 'Publish');
  const saveButton = h('button', { type: 'button', class: 'ghost', onclick: saveDraft }, 'Save draft');
  const result = h('div', { class: 'publish-result', hidden: true, dataset: { testid: 'publish-result' } });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const thumb = h('img', { class: 'publish-thumb', alt: 'Thumbnail' });
  const thumbEmpty = h('div', { class: 'publish-thumb empty' }, 'No thumbnail yet');
  const thumbInput = h('input', { type: 'file', accept: '.png,.jpg,.jpeg,.webp', hidden: true });
  const thumbButton = h('button', { type: 'button', class: 'small ghost', onclick: () => thumbInput.click() }, 'Upload thumbnail');

  const thumbnailUrl = () => `/api/projects/${projectId}/thumbnail?t=${thumbVersion}`;
  const movie = createMovie({ app, projectId, thumbnailUrl });

  const form = h(
    'form',
    { class: 'publish-form stack' },
    h('label', { class: 'field' }, h('span', {}, 'Title タイトル *'), title),
    h('label', { class: 'field' }, h('span', {}, 'Description 説明'), description),
    h('label', { class: 'field' }, h('span', {}, 'How to play 遊び方'), howToPlay),
    h('label', { class: 'field' }, h('span', {}, 'Tags タグ (comma separated)'), tags),
    h('label', { class: 'field' }, h('span', {}, 'Visibility 公開範囲'), visibility),
    h('label', { class: 'check' }, allowRemix, h('span', {}, 'Allow remixes')),
    error,
    h('div', { class: 'row end' }, saveButton, publishButton),
  );

  const el = h(
    'section',
    { class: 'publish' },
    h('div', { class: 'panel-toolbar' }, h('h2', {}, 'Publish ', h('span', { class: 'ja muted' }, '公開'))),
    h(
      'div',
      { class: 'panel-scroll' },
      result,
      h(
        'div',
        { class: 'publish-layout' },
        h('div', { class: 'card' }, form),
        h(
          'div',
          { class: 'stack' },
          h('section', { class: 'card thumb-card' }, h('h3', {}, 'Thumbnail'), thumb, thumbEmpty, thumbButton, thumbInput),
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

  function showPublished(game) {
    clear(result);
    if (!game) {
      result.hidden = true;
      publishButton.textContent = 'Publish';
      return;
    }
    const gameId = game.public_id ?? game.gameId;
    const href = `/play/${encodeURIComponent(gameId)}`;
    const full = `${location.origin}${href}`;
    result.append(
      h(
        'div',
        { class: 'publish-live' },
        h(
          'span',
          { class: 'badge badge-live' },
          game.visibility === 'private' ? 'Published · private' : game.visibility === 'unlisted' ? 'Live · unlisted' : 'Live · public',
        ),
        h('a', { href, target: '_blank', rel: 'noopener', class: 'play-link', dataset: { testid: 'play-link' } }, full),
      ),
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
                () => toast('Link copied.'),
                () => toast(full),
              ),
          },
          'Copy link',
        ),
        h('a', { class: 'button small', href, target: '_blank', rel: 'noopener' }, 'Open play page ↗'),
        h('button', { type: 'button', class: 'small ghost danger-text', onclick: unpublish }, 'Unpublish'),
      ),
      h('p', { class: 'muted small' }, `${game.play_count ?? 0} plays`),
    );
    result.hidden = false;
    publishButton.textContent = 'Update';
  }

  async function saveDraft() {
    error.hidden = true;
    await withBusy(saveButton, 'Saving…', async () => {
      try {
        const { allowRemix: _unused, ...draft } = fields();
        await api.put(`/api/projects/${projectId}/publish-draft`, draft);
        toast('Draft saved.', 'success');
      } catch (err) {
        showError(err.message);
      }
    });
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const f = fields();
    if (!f.title) return showError('A title is required.');
    await withBusy(publishButton, 'Publishing…', async () => {
      try {
        const { remix: _unused, ...body } = f;
        const res = await api.post(`/api/projects/${projectId}/publish`, body);
        showPublished({ ...res.game, public_id: res.gameId });
        toast('Published! 公開しました', 'success');
      } catch (err) {
        showError(err.message);
      }
    });
  });

  async function unpublish() {
    const ok = await confirmDialog({
      title: 'Unpublish this game?',
      message: 'The play page stops working for everyone until you publish again.',
      confirmLabel: 'Unpublish',
      danger: true,
    });
    if (!ok) return;
    try {
      await api.del(`/api/projects/${projectId}/publish`);
      showPublished(null);
      toast('Unpublished.');
    } catch (err) {
      showError(err.message);
    }
  }

  thumbInput.addEventListener('change', async () => {
    const file = thumbInput.files?.[0];
    thumbInput.value = '';
    if (!file) return;
    const form = new FormData();
    form.append('thumbnail', file, file.name);
    await withBusy(thumbButton, 'Uploading…', async () => {
      try {
        await api.upload(`/api/projects/${projectId}/upload-thumbnail`, form);
        thumbVersion = Date.now();
        thumb.src = thumbnailUrl();
        movie.showThumb();
      } catch (err) {
        toast(`Thumbnail upload failed: ${err.message}`, 'error');
      }
    });
  });

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  async function load() {
    if (loaded) return;
    loaded = true;
    title.value = projectName() ?? '';
    thumb.src = thumbnailUrl();
    try {
      const [draft, published] = await Promise.all([api.get(`/api/projects/${projectId}/publish-draft`), api.get(`/api/projects/${projectId}/published`)]);
      fill(draft);
      if (published?.game) {
        fill(published.game);
        showPublished(published.game);
      }
    } catch (err) {
      loaded = false;
      showError(`Could not load the publish settings: ${err.message}`);
    }
    movie.load();
  }

  return { el, load, dispose: () => movie.dispose() };
}
