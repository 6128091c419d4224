// Version history (`versionsList`), a diff per version (`getVersionEdits` → `versionEdits`), and restore
// (`restoreVersion` → `restoreProgress` … `versionRestored`) after a confirmation.
//
// Each version says what changed in words (the agent's summary of its turn, and the files it touched); the code
// changes are behind a button, wrapped to the screen's width. Promo videos and publish settings are not versions.
import { h, clear, toast, timeAgo, formatDate, confirmDialog, openDialog } from '../lib/dom.js';
import { t } from '../i18n/index.js';

/**
 * A version as `versionsList` lists it (`summary` and `files` are this server's additions).
 * @typedef {{ id: string, hash: string, number: number, message: string, summary?: string, files?: string[], timestamp: string }} Version
 */

/** @type {Record<string, import('../i18n/index.js').Key>} */
const STATUS_WORDS = {
  added: 'versions.added',
  modified: 'versions.modified',
  deleted: 'versions.deleted',
  renamed: 'versions.renamed',
  'type-changed': 'versions.modified',
};

/**
 * @param {Array<{ diff?: string, path?: string, old_string?: string, new_string?: string }> | undefined} edits
 * @param {Array<{ path: string, status: string }> | undefined} files
 */
function diffView(edits, files) {
  /** @type {HTMLElement[]} */
  const blocks = [];
  if (files?.length) {
    blocks.push(
      h(
        'ul',
        { class: 'diff-files' },
        files.map((f) => h('li', {}, h('span', { class: `file-status file-${f.status}` }, t(STATUS_WORDS[f.status] ?? 'versions.modified')), ' ', f.path)),
      ),
    );
  }
  for (const edit of edits ?? []) {
    if (typeof edit.diff === 'string') {
      const pre = h('pre', { class: 'diff' });
      for (const line of edit.diff.split('\n')) {
        let kind = 'ctx';
        if (line.startsWith('+++') || line.startsWith('---') || line.startsWith('diff ') || line.startsWith('index ')) kind = 'head';
        else if (line.startsWith('@@')) kind = 'hunk';
        else if (line.startsWith('+')) kind = 'add';
        else if (line.startsWith('-')) kind = 'del';
        // git's "Binary files a/x and b/x differ" is not for people.
        const text = /^Binary files .* differ$/.test(line) ? t('versions.binaryChanged') : line;
        pre.append(h('span', { class: `diff-line diff-${kind}` }, text || ' '));
      }
      blocks.push(pre);
    } else if (edit.path) {
      blocks.push(
        h(
          'div',
          { class: 'edit-block' },
          h('div', { class: 'edit-path' }, edit.path),
          h(
            'pre',
            { class: 'diff' },
            h('span', { class: 'diff-line diff-del' }, edit.old_string ?? ''),
            h('span', { class: 'diff-line diff-add' }, edit.new_string ?? ''),
          ),
        ),
      );
    }
  }
  if (blocks.length === 0) blocks.push(h('p', { class: 'muted' }, t('versions.noChanges')));
  return h('div', { class: 'diff-view' }, blocks);
}

/**
 * @param {{ app: import('../main.js').App, projectId: string, onRestored?: (message: import('../lib/socket.js').ServerMessage) => void }} options
 */
export function createVersions({ app, projectId, onRestored }) {
  const { socket } = app;
  /** @type {Array<() => void>} */
  const offs = [];
  /** @type {Version[]} */
  let versions = [];
  /** @type {string | null} */
  let currentHead = null;
  /** @type {Version | null} */
  let restoring = null;
  /** @type {Version | null} */
  let pendingDiff = null;

  const list = h('ol', { class: 'version-list', dataset: { testid: 'version-list' } });
  const notice = h('p', { class: 'muted small', hidden: true });
  const restoreMessage = h('span', { class: 'restore-message' }, t('versions.restoring', { version: '' }));
  const progress = h('div', { class: 'restore-progress', hidden: true }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), restoreMessage);
  const el = h(
    'section',
    { class: 'versions' },
    h(
      'div',
      { class: 'panel-toolbar' },
      h('h2', {}, t('versions.title')),
      h(
        'button',
        {
          type: 'button',
          class: 'small ghost',
          dataset: { action: 'refresh-versions' },
          title: t('versions.refresh'),
          'aria-label': t('versions.refresh'),
          onclick: refresh,
        },
        '⟳',
      ),
    ),
    notice,
    progress,
    list,
  );

  /** @param {Version} v */
  const label = (v) => `v${versions.length - v.number + 1}`;

  /**
   * "Restore to 1ebca4a" → "Restored v1 · Make a space shooter game".
   * @param {Version} v
   */
  function describe(v) {
    const restoredFrom = /^Restore to ([0-9a-f]{7,40})/.exec(v.message)?.[1];
    const target = restoredFrom && versions.find((o) => o !== v && (restoredFrom.startsWith(o.hash) || o.hash.startsWith(restoredFrom)));
    if (!target) return v.message;
    return h('span', {}, h('span', { class: 'restore-tag' }, t('versions.restoredTag', { version: label(target) })), ' · ', target.message);
  }

  function render() {
    clear(list);
    if (versions.length === 0) {
      list.append(h('li', { class: 'muted empty' }, t('versions.empty')));
      return;
    }
    for (const v of versions) {
      const current = v.id === currentHead || v.hash === currentHead;
      list.append(
        h(
          'li',
          { class: `version-item${current ? ' current' : ''}`, dataset: { versionId: v.id, number: String(v.number) } },
          h(
            'div',
            { class: 'version-head' },
            h('span', { class: 'version-number' }, label(v)),
            current ? h('span', { class: 'badge badge-live' }, t('versions.current')) : null,
            h('time', { class: 'muted small', datetime: v.timestamp, title: formatDate(v.timestamp) }, timeAgo(v.timestamp)),
          ),
          h('div', { class: 'version-message' }, describe(v)),
          // What changed, in words: the agent's own summary of the turn, and the game files it touched.
          v.summary
            ? h(
                'p',
                {
                  class: 'version-summary',
                  dataset: { testid: 'version-summary' },
                  onclick: (/** @type {Event} */ e) => /** @type {HTMLElement} */ (e.currentTarget).classList.toggle('open'),
                },
                v.summary,
              )
            : null,
          v.files?.length ? h('p', { class: 'version-files muted small' }, t('versions.changedFiles', { files: v.files.join(', ') })) : null,
          h(
            'div',
            { class: 'version-actions' },
            h('button', { type: 'button', class: 'small ghost', dataset: { action: 'diff' }, onclick: () => showDiff(v) }, t('versions.showChanges')),
            h(
              'button',
              { type: 'button', class: 'small', dataset: { action: 'restore' }, disabled: current || Boolean(restoring), onclick: () => restore(v) },
              t('versions.restore'),
            ),
          ),
        ),
      );
    }
  }

  function refresh() {
    socket.send({ type: 'getVersions', projectId });
  }

  /** @param {Version} v */
  function showDiff(v) {
    pendingDiff = v;
    if (!socket.send({ type: 'getVersionEdits', projectId, versionHash: v.hash })) toast(t('versions.offline'), 'error');
  }

  /** @param {Version} v */
  async function restore(v) {
    const ok = await confirmDialog({
      title: t('versions.restoreTitle', { version: label(v) }),
      message: t('versions.restoreMessage', { message: v.message }),
      confirmLabel: t('versions.restore'),
    });
    if (!ok) return;
    if (!socket.send({ type: 'restoreVersion', projectId, versionId: v.id })) {
      toast(t('versions.offline'), 'error');
      return;
    }
    restoring = v;
    progress.hidden = false;
    restoreMessage.textContent = t('versions.restoring', { version: label(v) });
    render();
  }

  function endRestore() {
    restoring = null;
    progress.hidden = true;
    render();
  }

  offs.push(
    socket.on('versionsList', (m) => {
      if (m.projectId !== projectId) return;
      versions = m.versions ?? [];
      currentHead = m.currentHead ?? null;
      notice.hidden = !m.autoInitialized;
      notice.textContent = m.autoInitialized ? t('versions.autoInitialized') : '';
      render();
      el.dataset.count = String(versions.length);
    }),
    socket.on('versionEdits', (m) => {
      if (m.projectId !== projectId || !pendingDiff) return;
      const v = pendingDiff;
      pendingDiff = null;
      openDialog({
        title: t('versions.changesTitle', { version: label(v), message: v.message }),
        className: 'diff-dialog',
        body: diffView(m.edits, m.files),
        actions: [{ label: t('versions.close'), id: 'close', class: 'primary', value: true }],
      });
    }),
    socket.on('restoreProgress', () => {
      if (restoring) restoreMessage.textContent = t('versions.restoring', { version: label(restoring) });
    }),
    socket.on('versionRestored', (m) => {
      if (m.projectId !== projectId) return;
      const name = restoring ? label(restoring) : t('versions.theVersion');
      endRestore();
      toast(t('versions.restored', { version: name }), 'success');
      onRestored?.(m);
    }),
    socket.on('error', () => {
      if (restoring) endRestore();
    }),
  );

  render();
  return { el, refresh, dispose: () => offs.forEach((off) => off()) };
}
