// Pieces every signed-in screen shares: the top bar, the connection indicator, the account menu.
import { h, openDialog, toast } from '../lib/dom.js';
import { NAME_MAX } from '../lib/names.js';
import { LANGUAGES, LANGUAGE_NAMES, language, setLanguage, t, formatDate } from '../i18n/index.js';
import { forgetThisDevice, notificationBell, pushSetting } from './notifications.js';

/** @type {Record<import('../lib/socket.js').SocketState, import('../i18n/index.js').Key>} */
const STATE_LABELS = { ready: 'app.connected', connecting: 'app.connecting', offline: 'app.reconnecting', idle: 'app.offline', stopped: 'app.offline' };

/**
 * The language switch: each language in its own words; the choice is remembered (i18n/index.js setLanguage) and the
 * screen draws itself again in it.
 * @param {() => void} [onChange] runs before the new language is set
 */
export function languageSwitch(onChange = () => {}) {
  const select = h(
    'select',
    { class: 'language-switch', 'aria-label': t('app.language'), title: t('app.language'), dataset: { testid: 'language-switch' } },
    LANGUAGES.map((lang) => h('option', { value: lang, lang, selected: lang === language() }, LANGUAGE_NAMES[lang])),
  );
  select.addEventListener('change', () => {
    onChange();
    setLanguage(/** @type {import('../i18n/index.js').Lang} */ (select.value));
  });
  return select;
}

/**
 * A dot + label that follows the socket's state. Returns {el, dispose}.
 * @param {import('../lib/socket.js').Socket} socket
 */
export function connectionBadge(socket) {
  const label = h('span', { class: 'conn-label' });
  const el = h(
    'span',
    { class: 'conn-status', role: 'status', title: t('app.connectionTitle') },
    h('span', { class: 'conn-dot', 'aria-hidden': 'true' }),
    label,
  );
  const update = () => {
    el.dataset.state = socket.state;
    label.textContent = t(STATE_LABELS[socket.state] ?? 'app.offline');
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
    notificationBell(app),
    h(
      'button',
      {
        type: 'button',
        class: 'ghost small icon-button',
        title: t('account.settings'),
        'aria-label': t('account.settings'),
        dataset: { testid: 'open-settings' },
        onclick: () => openSettings(app, who),
      },
      '⚙',
    ),
    languageSwitch(),
    h('button', { type: 'button', class: 'ghost small', dataset: { testid: 'sign-out' }, onclick: () => signOut(app) }, t('account.signOut')),
  );
}

/**
 * Signing out: this browser stops being told about this user's jobs first (web push goes to a browser, not a person).
 * @param {import('../main.js').App} app
 */
function signOut(app) {
  forgetThisDevice(app).finally(() => app.auth.signOut());
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
    h('label', { class: 'field' }, h('span', {}, t('account.nameLabel')), input, h('small', { class: 'muted' }, t('account.nameHint'))),
    // At phone width the bar has no room for the language switch and "Sign out": they are here too. A new language
    // closes the dialog (the screen behind it draws itself again in that language).
    h(
      'label',
      { class: 'field' },
      h('span', {}, t('app.language')),
      languageSwitch(() => /** @type {any} */ (document.querySelector('dialog.settings-dialog'))?.closeDialog?.(null)),
    ),
    error,
    pushSetting(app),
    h('button', { type: 'button', class: 'ghost small settings-sign-out', onclick: () => signOut(app) }, t('account.signOut')),
  );
  const save = async () => {
    const name = input.value.replace(/\s+/g, ' ').trim();
    if (!name) return showError(t('account.nameRequired'));
    if ([...name].length > NAME_MAX) return showError(t('account.nameTooLong'));
    try {
      const me = await app.api.patch('/api/users/me', { display_name: name });
      known = { userId: app.auth.user?.id ?? '', me: Promise.resolve(me) };
      who.textContent = me.display_name ?? who.textContent;
      /** @type {(HTMLDialogElement & { closeDialog?: (value: unknown) => void }) | null} */ (document.querySelector('dialog.settings-dialog'))?.closeDialog?.(
        true,
      );
      toast(t('account.saved'), 'success');
    } catch (err) {
      showError(t('account.saveFailed', { message: err instanceof Error ? err.message : String(err) }));
    }
  };
  /** @param {string} message */
  const showError = (message) => {
    error.textContent = message;
    error.hidden = false;
  };
  const opened = openDialog({
    title: t('account.settingsTitle'),
    className: 'settings-dialog',
    body: form,
    actions: [
      { label: t('common.cancel'), id: 'cancel', class: 'ghost', value: null },
      // Saving keeps the dialog open until the server has the name (an error shows in it).
      { label: t('common.save'), id: 'save', class: 'primary', keepOpen: true, onclick: save },
    ],
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    save();
  });
  await opened;
}

export function brand() {
  return h(
    'a',
    { class: 'brand', href: '#/', title: t('app.home') },
    h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'),
    h('span', { class: 'brand-name' }, 'DreamCore'),
  );
}

/** @type {Record<string, import('../i18n/index.js').Key>} */
const ERROR_CODES = {
  DAILY_PROJECT_LIMIT_EXCEEDED: 'errors.dailyProjectLimit',
  DAILY_MESSAGE_LIMIT_EXCEEDED: 'errors.dailyMessageLimit',
  RATE_LIMITED: 'errors.rateLimited',
  SYSTEM_LIMIT_EXCEEDED: 'errors.systemBusy',
  OPERATION_FAILED: 'errors.operationFailed',
};

/**
 * The plain socket errors (V2's fixed English texts, docs/protocol.md) a person can meet, by their text: the others
 * (a malformed frame, a message before sign-in) are the app's own mistakes, said as "something went wrong".
 * @type {Record<string, import('../i18n/index.js').Key>}
 */
const ERROR_MESSAGES = {
  'Access denied': 'errors.accessDenied',
  'A generation is running for this project; cancel it first': 'errors.restoreWhileRunning',
  'Failed to restore version': 'errors.restoreFailed',
};

/**
 * A server error (socket `error`, structured or plain) in the user's words: a known code (or a known plain text) in
 * the catalogue, else a general word. Never the server's own text: it is English or Japanese, whatever the user's
 * language, and written for developers.
 * @param {{ message?: string, error?: any, [field: string]: unknown } | null | undefined} message
 */
export function errorText(message) {
  const e = message?.error && typeof message.error === 'object' ? message.error : null;
  const key = e ? ERROR_CODES[e.code] : undefined;
  if (e && key) {
    const words = t(key, { limit: e.limit ?? '' });
    return e.resetAt ? `${words} ${t('errors.resetsAt', { date: formatDate(e.resetAt) })}` : words;
  }
  const plain = typeof message?.message === 'string' ? ERROR_MESSAGES[message.message] : undefined;
  return t(plain ?? 'common.somethingWrong');
}
