// A person's page (V2's /u/:id, /@username, and /mypage for oneself): name, picture and their public games, each a
// link to its play page. Anyone may open someone's page; /mypage needs a session and is where one edits one's
// profile: the name shown, the username (/@username follows it; checked as it is typed) and the picture (uploaded,
// made a small square by the server).
import { h, toast, withBusy } from '../lib/dom.js';
import { brand, accountMenu } from './chrome.js';
import { locale, t } from '../i18n/index.js';

/** V2's rule (server/src/http/routes/users.ts): 3–20 of a–z, 0–9 and _. */
const USERNAME = /^[a-z0-9_]{3,20}$/;
const AVATAR_LIMIT = 2 * 1024 * 1024;

/**
 * @typedef {{ id: string, username: string | null, display_name: string | null, avatar_url: string | null,
 *   public_id: string, created_at: string }} PublicProfile
 * @typedef {{ id: string, public_id: string, project_id: string, title: string, description: string | null,
 *   thumbnail_url: string | null }} ProfileGame
 */

/**
 * @param {PublicProfile} user
 * @returns {HTMLElement}
 */
function avatar(user) {
  const initial = (user.display_name ?? user.username ?? '?').trim().charAt(0).toUpperCase() || '?';
  const el = h('span', { class: 'avatar big', 'aria-hidden': 'true' }, initial);
  if (user.avatar_url) el.replaceChildren(h('img', { src: user.avatar_url, alt: '', referrerpolicy: 'no-referrer' }));
  return el;
}

/**
 * @param {ProfileGame} game
 * @returns {HTMLElement}
 */
function gameCard(game) {
  const href = `/play/${encodeURIComponent(game.public_id)}`;
  return h(
    'article',
    { class: 'profile-game', dataset: { gameId: game.public_id } },
    h(
      'a',
      { class: 'profile-game-thumb', href },
      h('img', { src: game.thumbnail_url || `/api/projects/${encodeURIComponent(game.project_id)}/thumbnail`, alt: '', loading: 'lazy' }),
    ),
    h('a', { class: 'profile-game-title', href }, game.title),
    game.description ? h('p', { class: 'muted small' }, game.description) : null,
  );
}

/**
 * What a refused username means, in the user's words (by the server's code).
 * @param {string | undefined} code
 */
function usernameWords(code) {
  if (code === 'USERNAME_TAKEN') return t('profile.usernameTaken');
  if (code === 'USERNAME_RESERVED') return t('profile.usernameReserved');
  return t('profile.usernameInvalid');
}

/**
 * The profile editor of /mypage. `onSaved` redraws the page head with the saved profile.
 * @param {import('../main.js').App} app
 * @param {PublicProfile} user
 * @param {(user: PublicProfile) => void} onSaved
 */
function profileEditor(app, user, onSaved) {
  const nameInput = h('input', { type: 'text', name: 'display_name', maxlength: 50, value: user.display_name ?? '', autocomplete: 'nickname' });
  const usernameInput = h('input', {
    type: 'text',
    name: 'username',
    maxlength: 20,
    value: user.username ?? '',
    autocomplete: 'username',
    autocapitalize: 'none',
    spellcheck: false,
  });
  const usernameStatus = h('p', { class: 'muted small', dataset: { testid: 'username-status' }, 'aria-live': 'polite' }, t('profile.usernameHint'));
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'primary' }, t('profile.save'));
  const fileInput = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif', hidden: true });
  const picture = h('div', { class: 'profile-edit-picture' });
  const changePicture = h(
    'button',
    { type: 'button', class: 'small', dataset: { action: 'change-avatar' }, onclick: () => fileInput.click() },
    t('profile.changePicture'),
  );
  const removePicture = h('button', { type: 'button', class: 'small ghost', dataset: { action: 'remove-avatar' } }, t('profile.removePicture'));

  const drawPicture = () => {
    picture.replaceChildren(avatar(user));
    removePicture.hidden = !user.avatar_url;
  };
  drawPicture();

  // Checked as it is typed (after a pause): the rule first, then whether someone has it.
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let checkSeq = 0;
  usernameInput.addEventListener('input', () => {
    clearTimeout(timer);
    const name = usernameInput.value.trim().toLowerCase();
    const seq = ++checkSeq;
    usernameStatus.classList.remove('form-error');
    if (name === '' || name === user.username) return void (usernameStatus.textContent = t('profile.usernameHint'));
    if (!USERNAME.test(name)) {
      usernameStatus.classList.add('form-error');
      return void (usernameStatus.textContent = t('profile.usernameInvalid'));
    }
    usernameStatus.textContent = t('profile.usernameChecking');
    timer = setTimeout(async () => {
      try {
        const res = await app.api.get(`/api/users/username-available?u=${encodeURIComponent(name)}`);
        if (seq !== checkSeq) return;
        if (res.available) usernameStatus.textContent = t('profile.usernameAvailable', { name });
        else {
          usernameStatus.classList.add('form-error');
          usernameStatus.textContent = usernameWords(res.code ?? 'USERNAME_TAKEN');
        }
      } catch {
        if (seq === checkSeq) usernameStatus.textContent = t('profile.usernameHint');
      }
    }, 300);
  });

  const form = h(
    'form',
    { class: 'profile-edit stack', dataset: { testid: 'profile-edit' } },
    h('h2', {}, t('profile.editTitle')),
    h(
      'div',
      { class: 'profile-edit-row' },
      picture,
      h(
        'div',
        { class: 'stack' },
        h('div', { class: 'row' }, changePicture, removePicture, fileInput),
        h('p', { class: 'muted small' }, t('profile.pictureHint')),
      ),
    ),
    h('label', { class: 'field' }, h('span', {}, t('profile.nameLabel')), nameInput),
    h(
      'label',
      { class: 'field' },
      h('span', {}, t('profile.usernameLabel')),
      h('div', { class: 'username-field' }, h('span', { class: 'muted' }, '@'), usernameInput),
    ),
    usernameStatus,
    formError,
    h('div', { class: 'row' }, save),
  );

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formError.hidden = true;
    await withBusy(save, t('profile.saving'), async () => {
      try {
        const saved = await app.api.patch('/api/users/me', { display_name: nameInput.value, username: usernameInput.value.trim().toLowerCase() });
        user = saved;
        usernameInput.value = saved.username ?? '';
        usernameStatus.classList.remove('form-error');
        usernameStatus.textContent = t('profile.usernameHint');
        onSaved(saved);
        toast(t('profile.saved'), 'success');
      } catch (/** @type {any} */ error) {
        const code = error?.body?.code;
        if (code?.startsWith('USERNAME_')) {
          // Said once, here, not also on the line under the field.
          clearTimeout(timer);
          checkSeq++;
          usernameStatus.classList.remove('form-error');
          usernameStatus.textContent = t('profile.usernameHint');
        }
        formError.textContent = code?.startsWith('USERNAME_')
          ? usernameWords(code)
          : code === 'DISPLAY_NAME_INVALID'
            ? t('profile.nameInvalid')
            : t('profile.saveFailed', { message: error.message });
        formError.hidden = false;
      }
    });
  });

  fileInput.addEventListener('change', async () => {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (!file) return;
    if (file.size > AVATAR_LIMIT) return toast(t('profile.pictureTooLarge'), 'error', 6000);
    const body = new FormData();
    body.append('avatar', file, file.name);
    await withBusy(changePicture, t('profile.uploading'), async () => {
      try {
        const res = await app.api.upload('/api/users/me/avatar', body);
        user = { ...user, avatar_url: res.avatar_url };
        drawPicture();
        onSaved(user);
        toast(t('profile.pictureSaved'), 'success');
      } catch (/** @type {any} */ error) {
        const code = error?.body?.code;
        toast(
          code === 'TOO_LARGE'
            ? t('profile.pictureTooLarge')
            : code === 'UNSUPPORTED_TYPE' || code === 'INVALID_FILE'
              ? t('profile.pictureWrongType')
              : t('profile.saveFailed', { message: error.message }),
          'error',
          6000,
        );
      }
    });
  });

  removePicture.addEventListener('click', async () => {
    await withBusy(removePicture, null, async () => {
      try {
        await app.api.del('/api/users/me/avatar');
        user = { ...user, avatar_url: null };
        drawPicture();
        onSaved(user);
      } catch (/** @type {any} */ error) {
        toast(t('profile.saveFailed', { message: error.message }), 'error', 6000);
      }
    });
  });

  return form;
}

/** @type {import('../main.js').Screen} */
export function mountProfile(root, app, route) {
  const mine = route.name === 'mypage';
  const body = h('main', { class: 'profile-main' }, h('p', { class: 'muted' }, t('profile.loading')));
  const right = app.auth.signedIn
    ? h('div', { class: 'topbar-right' }, h('a', { class: 'button small ghost', href: '/#/' }, t('profile.myGames')), accountMenu(app))
    : null;
  root.append(h('div', { class: 'profile-screen' }, h('header', { class: 'topbar' }, brand(), right), body));

  const controller = new AbortController();
  (async () => {
    /** @type {PublicProfile} */
    let user;
    if (mine) {
      user = await app.api.get('/api/users/me', { signal: controller.signal });
    } else {
      const key = route.key;
      const path = 'username' in key ? `/api/users/username/${encodeURIComponent(key.username)}/public` : `/api/users/${encodeURIComponent(key.id)}/public`;
      const res = await fetch(path, { signal: controller.signal });
      if (res.status === 404 || res.status === 400) {
        body.replaceChildren(h('div', { class: 'empty-state' }, h('h1', {}, t('profile.missing')), h('p', { class: 'muted' }, t('profile.missingHint'))));
        return;
      }
      if (!res.ok) throw new Error(String(res.status));
      user = await res.json();
    }
    const games = /** @type {{ games: ProfileGame[] }} */ (
      await (await fetch(`/api/users/${encodeURIComponent(user.id)}/games`, { signal: controller.signal })).json()
    ).games;
    const since = new Intl.DateTimeFormat(locale(), { year: 'numeric', month: 'long' }).format(new Date(user.created_at));
    /** @param {PublicProfile} who */
    const head = (who) => {
      const name = who.display_name ?? (who.username ? `@${who.username}` : '');
      document.title = `${name || t('profile.myPage')} - DreamCore`;
      // Where others find this person: /@username once there is one, else the public id.
      const address = who.username ? `/@${encodeURIComponent(who.username)}` : `/u/${encodeURIComponent(who.public_id)}`;
      return h(
        'section',
        { class: 'profile-head', dataset: { testid: 'profile-head' } },
        avatar(who),
        h(
          'div',
          {},
          h('h1', {}, name || t('profile.noName')),
          who.username ? h('p', { class: 'muted' }, `@${who.username}`) : null,
          h('p', { class: 'muted small' }, t('profile.since', { date: since })),
          mine ? h('a', { class: 'small', href: address, dataset: { testid: 'public-page-link' } }, t('profile.viewPublic')) : null,
        ),
      );
    };
    let shownHead = head(user);
    const editor = mine
      ? [
          profileEditor(app, user, (saved) => {
            const next = head(saved);
            shownHead.replaceWith(next);
            shownHead = next;
          }),
        ]
      : [];
    body.replaceChildren(
      shownHead,
      ...editor,
      h('h2', {}, t('profile.games')),
      games.length ? h('div', { class: 'profile-games' }, games.map(gameCard)) : h('p', { class: 'muted' }, t('profile.noGames')),
    );
  })().catch((/** @type {any} */ error) => {
    if (error?.name === 'AbortError') return;
    body.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, t('profile.failed')));
  });
  return () => controller.abort();
}
