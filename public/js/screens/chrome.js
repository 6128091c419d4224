// Pieces every signed-in screen shares: the top bar, the connection indicator, the account menu.
import { h, openDialog, toast } from '../lib/dom.js';
import { NAME_MAX, t as accountWords } from '../strings/account.js';

/** @type {Record<import('../lib/socket.js').SocketState, string>} */
const STATE_LABELS = { ready: 'Connected', connecting: 'Connecting…', offline: 'Reconnecting…', idle: 'Offline', stopped: 'Offline' };

/**
 * A dot + label that follows the socket's state. Returns {el, dispose}.
 * @param {import('../lib/socket.js').Socket} socket
 */
export function connectionBadge(socket) {
  const label = h('span', { class: 'conn-label' });
  const el = h(
    'span',
    { class: 'conn-status', role: 'status', title: 'Connection to the server' },
    h('span', { class: 'conn-dot', 'aria-hidden': 'true' }),
    label,
  );
  const update = () => {
    el.dataset.state = socket.state;
    label.textContent = STATE_LABELS[socket.state] ?? socket.state;
  };
  update();
  const off = socket.on('state', update);
  return { el, dispose: off };
}

/**
 * The signed-in user: their name (or e-mail until the name is known), settings, and sign out.
 * @param {import('../main.js').App} app
 */
export function accountMenu(app) {
  const email = app.auth.user?.email ?? '';
  const who = h('span', { class: 'account-email', title: email, dataset: { testid: 'account-name' } }, email);
  myName(app).then((/** @type {string | null} */ name) => {
    if (name) who.textContent = name;
  });
  return h(
    'div',
    { class: 'account' },
    who,
    h(
      'button',
      {
        type: 'button',
        class: 'ghost small icon-button',
        title: accountWords('settings'),
        'aria-label': accountWords('settings'),
        dataset: { testid: 'open-settings' },
        onclick: () => openSettings(app, who),
      },
      '⚙',
    ),
    h('button', { type: 'button', class: 'ghost small', dataset: { testid: 'sign-out' }, onclick: () => app.auth.signOut() }, 'Sign out'),
  );
}

/** @type {{ userId: string, me: Promise<{ display_name?: string | null } | null> } | null} */
let known = null;

/**
 * The signed-in user's display name (GET /api/users/me), asked once per user and page load.
 * @param {import('../main.js').App} app
 * @returns {Promise<string | null>}
 */
function myName(app) {
  const userId = app.auth.user?.id ?? '';
  if (known?.userId !== userId) {
    known = {
      userId,
      me: app.api.get('/api/users/me').then(
        (me) => me,
        () => null,
      ),
    };
  }
  return known.me.then((me) => me?.display_name ?? null);
}

/**
 * Settings: the name shown on the user's games (PATCH /api/users/me).
 * @param {import('../main.js').App} app
 * @param {HTMLElement} who the account name in the bar, updated on save
 */
async function openSettings(app, who) {
  const current = (await myName(app)) ?? '';
  const input = h('input', { type: 'text', name: 'displayName', value: current, maxlength: NAME_MAX, autocomplete: 'nickname' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'stack settings-form' },
    h('label', { class: 'field' }, h('span', {}, accountWords('nameLabel')), input, h('small', { class: 'muted' }, accountWords('nameHint'))),
    error,
    // At phone width the bar has no room for "Sign out": it is here.
    h('button', { type: 'button', class: 'ghost small settings-sign-out', onclick: () => app.auth.signOut() }, accountWords('signOut')),
  );
  const save = async () => {
    const name = input.value.replace(/\s+/g, ' ').trim();
    if (!name) return showError(accountWords('nameRequired'));
    if ([...name].length > NAME_MAX) return showError(accountWords('nameTooLong'));
    try {
      const me = await app.api.patch('/api/users/me', { display_name: name });
      known = { userId: app.auth.user?.id ?? '', me: Promise.resolve(me) };
      who.textContent = me.display_name ?? who.textContent;
      /** @type {(HTMLDialogElement & { closeDialog?: (value: unknown) => void }) | null} */ (document.querySelector('dialog.settings-dialog'))?.closeDialog?.(
        true,
      );
      toast(accountWords('saved'), 'success');
    } catch (err) {
      showError(accountWords('saveFailed', { message: err instanceof Error ? err.message : String(err) }));
    }
  };
  /** @param {string} message */
  const showError = (message) => {
    error.textContent = message;
    error.hidden = false;
  };
  const opened = openDialog({
    title: accountWords('settingsTitle'),
    className: 'settings-dialog',
    body: form,
    actions: [
      { label: accountWords('cancel'), id: 'cancel', class: 'ghost', value: null },
      // Saving keeps the dialog open until the server has the name (an error shows in it).
      { label: accountWords('save'), id: 'save', class: 'primary', keepOpen: true, onclick: save },
    ],
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    save();
  });
  await opened;
}

export function brand() {
  return h('a', { class: 'brand', href: '#/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), h('span', { class: 'brand-name' }, 'DreamCore'));
}

/**
 * Shows a structured or plain server error as text.
 * @param {{ message?: string, error?: any, [field: string]: unknown } | null | undefined} message
 */
export function errorText(message) {
  if (message?.error && typeof message.error === 'object') {
    const e = message.error;
    if (e.code === 'DAILY_PROJECT_LIMIT_EXCEEDED' || e.code === 'DAILY_MESSAGE_LIMIT_EXCEEDED') {
      const reset = e.resetAt ? ` It resets at ${new Date(e.resetAt).toLocaleString()}.` : '';
      return `${e.message} (daily limit ${e.limit ?? ''}).${reset}`;
    }
    return e.message || e.code || 'Something went wrong';
  }
  return message?.message || 'Something went wrong';
}
