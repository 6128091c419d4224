// The game's code (issue 17): a read-only view of its text files (GET …/files, GET …/code?path=) and a zip of the
// game files to keep (GET …/download, fetched with the session and saved through a blob link).
import { h, openDialog, toast, withBusy } from '../lib/dom.js';
import { t } from '../i18n/index.js';

const CODE_FILE = /\.(html?|css|m?js|json|md|txt|svg)$/i;

/**
 * @param {{ app: import('../main.js').App, projectId: string, projectName: () => string }} options
 * @returns {HTMLElement}
 */
export function codeActions({ app, projectId, projectName }) {
  const view = h('button', { type: 'button', class: 'small ghost', dataset: { action: 'view-code' } }, t('code.viewCode'));
  const download = h('button', { type: 'button', class: 'small ghost', dataset: { action: 'download-zip' } }, t('code.download'));

  view.addEventListener('click', async () => {
    /** @type {{ files: { path: string }[] }} */
    let listing;
    try {
      listing = await app.api.get(`/api/projects/${projectId}/files`);
    } catch {
      return toast(t('code.failed'), 'error');
    }
    const paths = listing.files.map((f) => f.path).filter((p) => CODE_FILE.test(p) && p !== 'PUBLISH.json' && p !== 'STYLE.md');
    const code = h('pre', { class: 'code-view', dataset: { testid: 'code-view' } }, h('code', {}));
    const picker = h(
      'select',
      { 'aria-label': t('code.title'), dataset: { testid: 'code-file' } },
      paths.map((p) => h('option', { value: p, selected: p === 'index.html' }, p)),
    );
    const show = async () => {
      try {
        const answer = await app.api.get(`/api/projects/${projectId}/code?path=${encodeURIComponent(picker.value)}`);
        code.firstElementChild?.replaceChildren(answer.code);
      } catch {
        code.firstElementChild?.replaceChildren(t('code.failed'));
      }
    };
    picker.addEventListener('change', show);
    const opened = openDialog({
      title: t('code.title'),
      className: 'code-dialog',
      body: h('div', { class: 'stack' }, h('p', { class: 'muted small' }, t('code.readOnly')), picker, code),
      actions: [{ label: t('code.close'), id: 'close', value: null }],
    });
    await show();
    await opened;
  });

  download.addEventListener('click', () =>
    withBusy(download, '…', async () => {
      try {
        const res = await app.api.raw(`/api/projects/${projectId}/download`);
        const url = URL.createObjectURL(await res.blob());
        const a = h('a', {
          href: url,
          download: `${
            projectName()
              .replace(/[\\/:*?"<>|]+/g, '')
              .trim() || 'game'
          }.zip`,
          hidden: true,
        });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      } catch {
        toast(t('code.downloadFailed'), 'error');
      }
    }),
  );
  return h('div', { class: 'row code-actions' }, view, download);
}
