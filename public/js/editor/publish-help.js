// Help with publishing (issue 17): the title, description, how to play and tags written by the AI in the user's
// language (POST …/generate-publish-info), a picture of the running game as the thumbnail (POST …/generate-thumbnail:
// the server's game check plays it headless and keeps the frame), and the share sheet of a published game (its link,
// a QR code for phones, and the phone's own share menu where there is one).
import { h, toast, withBusy } from '../lib/dom.js';
import { language, t } from '../i18n/index.js';

/**
 * @typedef {{ title: string, description: string, howToPlay: string, tags: string[] }} PublishInfo
 */

/**
 * "Write it for me": fills the form with what the AI wrote.
 * @param {{ app: import('../main.js').App, projectId: string, onInfo: (info: PublishInfo) => void }} options
 */
export function writeForMeButton({ app, projectId, onInfo }) {
  const note = h('p', { class: 'muted small', role: 'status', hidden: true, dataset: { testid: 'publish-info-note' } });
  const button = h('button', { type: 'button', class: 'small', dataset: { action: 'generate-info' } }, t('publishHelp.writeForMe'));
  button.addEventListener('click', () =>
    withBusy(button, t('publishHelp.writing'), async () => {
      note.hidden = true;
      try {
        onInfo(await app.api.post(`/api/projects/${projectId}/generate-publish-info`, { language: language() }));
        note.textContent = t('publishHelp.written');
      } catch (/** @type {any} */ error) {
        note.textContent = error.status === 429 ? t('publishHelp.tooMany') : t('publishHelp.writeFailed');
      }
      note.hidden = false;
    }),
  );
  return h('div', { class: 'publish-help stack' }, button, note);
}

/**
 * Takes a picture of the running game as the thumbnail; resolves true when it did.
 * @param {import('../main.js').App} app
 * @param {string} projectId
 * @returns {Promise<boolean>}
 */
export async function takeGamePicture(app, projectId) {
  try {
    await app.api.post(`/api/projects/${projectId}/generate-thumbnail`, {});
    return true;
  } catch (/** @type {any} */ error) {
    toast(error.status === 429 ? t('publishHelp.tooMany') : t('publishHelp.pictureFailed'), 'error', 6000);
    return false;
  }
}

/**
 * @param {{ app: import('../main.js').App, projectId: string, onPicture: () => void }} options
 */
export function pictureButton({ app, projectId, onPicture }) {
  const button = h('button', { type: 'button', class: 'small', dataset: { action: 'take-picture' } }, t('publishHelp.takePicture'));
  button.addEventListener('click', () =>
    withBusy(button, t('publishHelp.takingPicture'), async () => {
      if (await takeGamePicture(app, projectId)) {
        onPicture();
        toast(t('publishHelp.pictureTaken'), 'success');
      }
    }),
  );
  return button;
}

/**
 * The share sheet of a published game: QR code of its link and, on phones, the system's share menu.
 * @param {{ gameId: string, url: string, title: string }} game
 */
export function shareSheet({ gameId, url, title }) {
  const canShare = typeof navigator.share === 'function';
  return h(
    'div',
    { class: 'share-sheet', dataset: { testid: 'share-sheet' } },
    h(
      'figure',
      { class: 'share-qr' },
      h('img', {
        src: `/api/published-games/${encodeURIComponent(gameId)}/qr`,
        alt: t('publishHelp.qrAlt'),
        width: 120,
        height: 120,
        dataset: { testid: 'share-qr' },
      }),
      h('figcaption', { class: 'muted small' }, t('publishHelp.qrHint')),
    ),
    canShare
      ? h(
          'button',
          {
            type: 'button',
            class: 'small primary',
            dataset: { action: 'native-share' },
            onclick: () => navigator.share({ title, text: t('publishHelp.shareText', { title }), url }).catch(() => undefined),
          },
          t('publishHelp.share'),
        )
      : null,
  );
}
