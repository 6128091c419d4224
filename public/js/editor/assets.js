// Assets: the user's files (GET /api/assets), upload (POST /api/assets/upload; big pictures are made smaller by the
// server), image generation with a style (POST /api/generate-image returns the stored asset), and "Use" to put a
// reference into the message box. The library's management: search (GET /api/assets/search), rename (PUT
// /api/assets/:id {filename}: the name shown; the address games use stays), only-me / everyone (PUT …/publish),
// delete (DELETE /api/assets/:id, confirmed).
import { h, clear, toast, withBusy, confirmDialog, promptDialog } from '../lib/dom.js';
import { formatNumber, t } from '../i18n/index.js';

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
/** The server's limits (server/src/http/image-fit.ts, assets.ts): pictures come in up to 12 MB and are made smaller. */
const PICTURE_LIMIT = 12 * 1024 * 1024;
const OTHER_LIMIT = 1024 * 1024;
const PICTURE = /\.(png|jpe?g|gif|webp)$/i;

/**
 * An asset as `GET /api/assets` lists it (AssetView) and the upload and generation routes return it.
 * @typedef {{ id: string, alias: string, url: string, filename?: string, mimeType?: string, isPublic?: boolean,
 *   projects?: Array<{ id: string }> }} Asset
 */

/** @param {number} bytes */
const sizeText = (bytes) =>
  bytes >= 1024 * 1024
    ? t('assets.megabytes', { size: formatNumber(Math.round(bytes / 104857.6) / 10) })
    : t('assets.kilobytes', { size: formatNumber(Math.max(1, Math.round(bytes / 1024))) });

/**
 * A refused upload in the user's words, by the server's code.
 * @param {any} error
 */
function uploadRefusal(error) {
  switch (error?.body?.code) {
    case 'TOO_LARGE':
      return t('assets.tooLarge');
    case 'UNSUPPORTED_TYPE':
      return t('assets.wrongType');
    case 'INVALID_FILE':
      return t('assets.unreadable');
    default:
      return t('assets.uploadFailed', { message: error.message });
  }
}

/**
 * @param {{ app: import('../main.js').App, projectId: string, onUse?: (asset: Asset) => void }} options
 */
export function createAssets({ app, projectId, onUse }) {
  const { api } = app;
  /** @type {Asset[]} */
  let assets = [];
  let loaded = false;

  const grid = h('div', { class: 'asset-grid', dataset: { testid: 'asset-grid' } });
  const search = h('input', { type: 'search', class: 'asset-search', placeholder: t('assets.searchPlaceholder'), 'aria-label': t('assets.searchLabel') });
  /** The words searched for, '' for the whole library. */
  let query = '';
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
    h('div', { class: 'panel-scroll' }, genForm, generated, h('p', { class: 'muted small' }, t('assets.hint')), search, grid),
  );

  /**
   * The picture on a card. A private one is served only to its owner, and an <img> cannot send the owner's token, so
   * it is fetched with the token and shown from memory (without this the owner saw a broken picture after a reload).
   * @param {Asset} asset @param {string} name @param {boolean} isPublic
   */
  function picture(asset, name, isPublic) {
    if (isPublic) return h('img', { src: asset.url, alt: name, loading: 'lazy' });
    const img = /** @type {HTMLImageElement} */ (h('img', { alt: name }));
    api
      .raw(asset.url)
      .then(async (res) => {
        const url = URL.createObjectURL(await res.blob());
        img.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
        img.src = url;
      })
      .catch(() => undefined); // the alt text stands in for a picture that cannot be loaded
    return img;
  }

  /** @param {Asset} asset */
  function card(asset) {
    const isImage = asset.mimeType?.startsWith('image/');
    const name = asset.filename ?? asset.alias;
    const isPublic = asset.isPublic !== false;
    /** @param {string} action @param {string} icon @param {string} label @param {() => unknown} onclick */
    const tool = (action, icon, label, onclick) =>
      h('button', { type: 'button', class: 'icon-button small', dataset: { action }, title: label, 'aria-label': label, onclick }, icon);
    return h(
      'figure',
      { class: 'asset-card', dataset: { assetId: asset.id, alias: asset.alias, public: String(isPublic) } },
      isImage ? picture(asset, name, isPublic) : h('div', { class: 'asset-icon', 'aria-hidden': 'true' }, asset.mimeType?.startsWith('audio/') ? '♪' : '{ }'),
      isPublic ? null : h('span', { class: 'asset-badge', dataset: { testid: 'asset-private' } }, t('assets.privateBadge')),
      h(
        'figcaption',
        {},
        h('span', { class: 'asset-name', title: name }, name),
        h('button', { type: 'button', class: 'small', dataset: { action: 'use-asset' }, onclick: () => use(asset) }, t('assets.use')),
      ),
      h(
        'div',
        { class: 'asset-tools' },
        tool('rename-asset', '✏️', t('assets.rename'), () => rename(asset)),
        tool('toggle-public', isPublic ? '🌐' : '🔒', isPublic ? t('assets.makePrivate') : t('assets.makePublic'), () => setPublic(asset, !isPublic)),
        tool('delete-asset', '🗑', t('assets.delete'), () => remove(asset)),
      ),
    );
  }

  function render() {
    clear(grid);
    const shown = query === '' ? assets : found;
    if (shown.length === 0) {
      grid.append(h('p', { class: 'muted' }, query === '' ? t('assets.empty') : t('assets.noMatch', { query })));
      return;
    }
    for (const a of shown) grid.append(card(a));
  }

  /** @type {Asset[]} the search's hits, in the library's order */
  let found = [];
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let searchTimer;
  let searchSeq = 0;
  async function runSearch() {
    const q = search.value.trim();
    const seq = ++searchSeq;
    if (q === '') {
      query = '';
      return render();
    }
    try {
      const res = await api.get(`/api/assets/search?q=${encodeURIComponent(q)}`);
      if (seq !== searchSeq) return; // a later keystroke's search owns the grid
      const ids = new Set((res.assets ?? []).map((/** @type {Asset} */ a) => a.id));
      query = q;
      found = assets.filter((a) => ids.has(a.id));
      render();
    } catch (/** @type {any} */ error) {
      if (seq === searchSeq) clear(grid).append(h('p', { class: 'form-error' }, t('assets.loadFailed', { message: error.message })));
    }
  }
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  });

  /** @param {Asset} asset @param {Partial<Asset>} changes */
  function replace(asset, changes) {
    assets = assets.map((a) => (a.id === asset.id ? { ...a, ...changes } : a));
    found = found.map((a) => (a.id === asset.id ? { ...a, ...changes } : a));
    render();
  }

  /** @param {Asset} asset */
  async function rename(asset) {
    const name = await promptDialog({ title: t('assets.renameTitle'), label: t('assets.renameLabel'), value: asset.filename ?? asset.alias, maxLength: 200 });
    if (name === null || name === (asset.filename ?? asset.alias)) return;
    try {
      const res = await api.put(`/api/assets/${encodeURIComponent(asset.id)}`, { filename: name });
      replace(asset, { filename: res.asset.filename });
      toast(t('assets.renamed', { name: res.asset.filename }), 'success');
    } catch (/** @type {any} */ error) {
      toast(error?.body?.code === 'INVALID_NAME' ? t('assets.badName') : t('assets.changeFailed', { message: error.message }), 'error', 6000);
    }
  }

  /** @param {Asset} asset @param {boolean} isPublic */
  async function setPublic(asset, isPublic) {
    try {
      await api.put(`/api/assets/${encodeURIComponent(asset.id)}/publish`, { isPublic });
      replace(asset, { isPublic });
      toast(
        isPublic ? t('assets.nowPublic', { name: asset.filename ?? asset.alias }) : t('assets.nowPrivate', { name: asset.filename ?? asset.alias }),
        'success',
        6000,
      );
    } catch (/** @type {any} */ error) {
      toast(t('assets.changeFailed', { message: error.message }), 'error', 6000);
    }
  }

  /** @param {Asset} asset */
  async function remove(asset) {
    const name = asset.filename ?? asset.alias;
    const games = asset.projects?.length ?? 0;
    const ok = await confirmDialog({
      title: t('assets.deleteTitle', { name }),
      message: games > 0 ? t('assets.deleteUsed', { count: games }) : t('assets.deleteMessage'),
      confirmLabel: t('assets.delete'),
      danger: true,
    });
    if (!ok) return;
    try {
      await api.del(`/api/assets/${encodeURIComponent(asset.id)}`);
      assets = assets.filter((a) => a.id !== asset.id);
      found = found.filter((a) => a.id !== asset.id);
      render();
      toast(t('assets.deleted', { name }), 'success');
    } catch (/** @type {any} */ error) {
      toast(t('assets.changeFailed', { message: error.message }), 'error', 6000);
    }
  }

  /** @param {Asset} asset */
  function use(asset) {
    onUse?.(asset);
    toast(t('assets.added', { name: asset.alias }));
  }

  /** @param {Asset} asset */
  function add(asset) {
    assets = [{ isPublic: true, ...asset }, ...assets.filter((a) => a.id !== asset.id)];
    search.value = '';
    query = '';
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
    if (file.size > (PICTURE.test(file.name) ? PICTURE_LIMIT : OTHER_LIMIT)) return toast(t('assets.tooLarge'), 'error', 6000);
    const form = new FormData();
    form.append('file', file, file.name);
    form.append('projectId', projectId);
    form.append('originalName', file.name);
    await withBusy(uploadButton, t('assets.uploading'), async () => {
      try {
        const res = await api.upload('/api/assets/upload', form);
        add(res.asset);
        const name = res.asset.filename ?? res.asset.alias;
        if (res.compressed) {
          const { fromBytes, toBytes } = res.compressed;
          toast(t('assets.uploadedSmaller', { name, from: sizeText(fromBytes), to: sizeText(toBytes) }), 'success', 6000);
        } else {
          toast(t('assets.uploaded', { name }), 'success');
        }
      } catch (/** @type {any} */ error) {
        toast(uploadRefusal(error), 'error', 6000);
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
