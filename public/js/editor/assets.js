// Assets: the user's files (GET /api/assets), upload (POST /api/assets/upload), image generation with a style
// (POST /api/generate-image returns the stored asset), and "Use" to put a reference into the message box.
import { h, clear, toast, withBusy } from '../lib/dom.js';
import { t } from '../i18n/index.js';

/** @type {Array<[string, import('../i18n/index.js').Key]>} */
const STYLES = [
  ['', 'assets.styleNone'],
  ['pixel', 'assets.stylePixel'],
  ['anime', 'assets.styleAnime'],
  ['kawaii', 'assets.styleKawaii'],
  ['realistic', 'assets.styleRealistic'],
  ['watercolor', 'assets.styleWatercolor'],
  ['flat', 'assets.styleFlat'],
];
const ACCEPT = '.png,.jpg,.jpeg,.gif,.webp,.svg,.mp3,.wav,.ogg,.json';

/**
 * An asset as `GET /api/assets` lists it (AssetView) and the upload and generation routes return it.
 * @typedef {{ id: string, alias: string, url: string, filename?: string, mimeType?: string, projects?: Array<{ id: string }> }} Asset
 */

/**
 * @param {{ app: import('../main.js').App, projectId: string, onUse?: (asset: Asset) => void }} options
 */
export function createAssets({ app, projectId, onUse }) {
  const { api } = app;
  /** @type {Asset[]} */
  let assets = [];
  let loaded = false;

  const grid = h('div', { class: 'asset-grid', dataset: { testid: 'asset-grid' } });
  const fileInput = h('input', { type: 'file', accept: ACCEPT, hidden: true });
  const uploadButton = h('button', { type: 'button', class: 'small', onclick: () => fileInput.click() }, t('assets.upload'));
  const prompt = h('input', { type: 'text', maxlength: 500, placeholder: t('assets.promptPlaceholder') });
  const style = h(
    'select',
    { 'aria-label': t('assets.styleLabel') },
    STYLES.map(([value, key]) => h('option', { value }, t(key))),
  );
  const generateButton = h('button', { type: 'submit', class: 'primary small' }, t('assets.generate'));
  const generated = h('div', { class: 'generated', hidden: true });
  const genForm = h(
    'form',
    { class: 'generate-form' },
    h('strong', { class: 'generate-title' }, t('assets.generateTitle')),
    h('label', { class: 'field' }, h('span', {}, t('assets.promptLabel')), prompt),
    h('div', { class: 'row' }, style, generateButton),
  );

  const el = h(
    'section',
    { class: 'assets' },
    h('div', { class: 'panel-toolbar' }, h('h2', {}, t('assets.title')), h('div', { class: 'toolbar-actions' }, uploadButton, fileInput)),
    h('div', { class: 'panel-scroll' }, genForm, generated, h('p', { class: 'muted small' }, t('assets.hint')), grid),
  );

  /** @param {Asset} asset */
  function card(asset) {
    const isImage = asset.mimeType?.startsWith('image/');
    return h(
      'figure',
      { class: 'asset-card', dataset: { assetId: asset.id, alias: asset.alias } },
      isImage
        ? h('img', { src: asset.url, alt: asset.filename ?? asset.alias, loading: 'lazy' })
        : h('div', { class: 'asset-icon', 'aria-hidden': 'true' }, asset.mimeType?.startsWith('audio/') ? '♪' : '{ }'),
      h(
        'figcaption',
        {},
        h('span', { class: 'asset-name', title: asset.filename ?? asset.alias }, asset.alias),
        h('button', { type: 'button', class: 'small', dataset: { action: 'use-asset' }, onclick: () => use(asset) }, t('assets.use')),
      ),
    );
  }

  function render() {
    clear(grid);
    if (assets.length === 0) {
      grid.append(h('p', { class: 'muted' }, t('assets.empty')));
      return;
    }
    for (const a of assets) grid.append(card(a));
  }

  /** @param {Asset} asset */
  function use(asset) {
    onUse?.(asset);
    toast(t('assets.added', { name: asset.alias }));
  }

  /** @param {Asset} asset */
  function add(asset) {
    assets = [asset, ...assets.filter((a) => a.id !== asset.id)];
    render();
  }

  async function load() {
    if (loaded) return;
    loaded = true;
    try {
      const res = await api.get(`/api/assets?currentProjectId=${encodeURIComponent(projectId)}`);
      // This game's assets first.
      /** @type {Asset[]} */
      const list = res.assets ?? [];
      assets = [...list.filter((a) => a.projects?.some((p) => p.id === projectId)), ...list.filter((a) => !a.projects?.some((p) => p.id === projectId))];
      render();
    } catch (/** @type {any} */ error) {
      loaded = false;
      clear(grid).append(h('p', { class: 'form-error' }, t('assets.loadFailed', { message: error.message })));
    }
  }

  fileInput.addEventListener('change', async () => {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (!file) return;
    if (file.size > 1024 * 1024) return toast(t('assets.tooLarge'), 'error');
    const form = new FormData();
    form.append('file', file, file.name);
    form.append('projectId', projectId);
    form.append('originalName', file.name);
    await withBusy(uploadButton, t('assets.uploading'), async () => {
      try {
        const res = await api.upload('/api/assets/upload', form);
        add(res.asset);
        toast(t('assets.uploaded', { name: res.asset.alias }), 'success');
      } catch (/** @type {any} */ error) {
        toast(t('assets.uploadFailed', { message: error.message }), 'error', 6000);
      }
    });
  });

  genForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = prompt.value.trim();
    if (!text) return prompt.focus();
    await withBusy(generateButton, t('assets.generating'), async () => {
      try {
        const res = await api.post('/api/generate-image', { prompt: text, ...(style.value ? { style: style.value } : {}) });
        // The server stored it already: use the returned asset (no second upload).
        const asset = { ...res.asset, filename: res.asset.alias, mimeType: 'image/png' };
        add(asset);
        clear(generated).append(
          h('img', { src: res.image, alt: text }),
          h(
            'div',
            { class: 'generated-info' },
            h('strong', {}, res.asset.alias),
            h('span', { class: 'muted small' }, res.prompt ?? text),
            h('button', { type: 'button', class: 'small primary', onclick: () => use(asset) }, t('assets.useInMessage')),
          ),
        );
        generated.hidden = false;
      } catch (/** @type {any} */ error) {
        toast(error.status === 503 ? t('assets.generateUnavailable') : t('assets.generateFailed', { message: error.message }), 'error', 6000);
      }
    });
  });

  return { el, load };
}
