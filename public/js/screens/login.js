// Sign in / create account (email + password), and Google when the server uses a real Supabase project.
import { h } from '../lib/dom.js';
import { NAME_MAX, suggestName } from '../lib/names.js';
import { t } from '../i18n/index.js';
import { languageSwitch } from './chrome.js';
import { magicLinkSection } from './login-link.js';

/** @type {Record<string, import('../i18n/index.js').Key>} */
const AUTH_ERRORS = {
  invalid_credentials: 'errors.invalidCredentials',
  invalid_grant: 'errors.invalidCredentials',
  user_already_exists: 'errors.userExists',
  email_exists: 'errors.userExists',
  weak_password: 'errors.weakPassword',
  validation_failed: 'errors.invalidEmail',
  email_address_invalid: 'errors.invalidEmail',
  email_not_confirmed: 'errors.emailNotConfirmed',
  over_request_rate_limit: 'errors.rateLimited',
  over_email_send_rate_limit: 'errors.rateLimited',
  network: 'errors.authNetwork',
};

/**
 * A refused sign-in or sign-up in the user's words (GoTrue's `error_code`; its `msg` is English).
 * @param {any} err
 */
function authErrorText(err) {
  const key = AUTH_ERRORS[err?.code];
  if (key) return t(key);
  if (err?.status === 429) return t('errors.rateLimited');
  return err?.status >= 500 ? t('common.serverError') : err?.message || t('common.somethingWrong');
}

/** @type {import('../main.js').Screen} */
export function mountLogin(root, app) {
  /** @type {'signin' | 'signup'} */
  let mode = 'signin';
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true, placeholder: t('account.emailPlaceholder') });
  const password = h('input', {
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
    minlength: 8,
    placeholder: t('account.passwordPlaceholder'),
  });
  // Sign-up only: the name shown on the user's games, suggested from the e-mail until they type their own.
  const displayName = h('input', {
    type: 'text',
    name: 'displayName',
    autocomplete: 'nickname',
    maxlength: NAME_MAX,
    placeholder: t('account.namePlaceholder'),
  });
  let nameEdited = false;
  displayName.addEventListener('input', () => (nameEdited = displayName.value.trim() !== ''));
  email.addEventListener('input', () => {
    if (!nameEdited) displayName.value = suggestName(email.value.trim());
  });
  const nameField = h(
    'label',
    { class: 'field', hidden: true, dataset: { testid: 'signup-name' } },
    h('span', {}, t('account.nameLabel')),
    displayName,
    h('small', { class: 'muted' }, t('account.nameHint')),
  );
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const notice = h('p', { class: 'form-notice', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary wide' }, t('account.signIn'));
  const tabSignIn = h('button', { type: 'button', class: 'seg active', dataset: { mode: 'signin' }, onclick: () => setMode('signin') }, t('account.signIn'));
  const tabSignUp = h('button', { type: 'button', class: 'seg', dataset: { mode: 'signup' }, onclick: () => setMode('signup') }, t('account.createAccount'));

  /** @param {'signin' | 'signup'} next */
  function setMode(next) {
    mode = next;
    tabSignIn.classList.toggle('active', mode === 'signin');
    tabSignUp.classList.toggle('active', mode === 'signup');
    submit.textContent = mode === 'signin' ? t('account.signIn') : t('account.createAccount');
    password.autocomplete = mode === 'signin' ? 'current-password' : 'new-password';
    nameField.hidden = mode !== 'signup';
    error.hidden = true;
    notice.hidden = true;
  }

  const form = h(
    'form',
    { class: 'auth-form stack', novalidate: true },
    h('div', { class: 'segmented', role: 'tablist' }, tabSignIn, tabSignUp),
    h('label', { class: 'field' }, h('span', {}, t('account.email')), email),
    h('label', { class: 'field' }, h('span', {}, t('account.password')), password),
    nameField,
    error,
    notice,
    submit,
  );
  const linkSection = magicLinkSection(app, email, showError);
  tabSignIn.addEventListener('click', () => (linkSection.hidden = false));
  tabSignUp.addEventListener('click', () => (linkSection.hidden = true));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    notice.hidden = true;
    const address = email.value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) return showError(t('account.invalidEmail'));
    if (password.value.length < 8) return showError(t('account.shortPassword'));
    const name = displayName.value.replace(/\s+/g, ' ').trim();
    if (mode === 'signup' && name === '') return showError(t('account.nameRequired'));
    if (mode === 'signup' && [...name].length > NAME_MAX) return showError(t('account.nameTooLong'));
    submit.disabled = true;
    submit.textContent = mode === 'signin' ? t('account.signingIn') : t('account.creatingAccount');
    try {
      if (mode === 'signin') {
        await app.auth.signIn(address, password.value);
      } else {
        const result = await app.auth.signUp(address, password.value, { display_name: name });
        if ('confirmEmail' in result) {
          notice.textContent = t('account.confirmEmail');
          notice.hidden = false;
          setMode('signin');
        }
      }
    } catch (/** @type {any} */ err) {
      showError(authErrorText(err));
    } finally {
      submit.disabled = false;
      submit.textContent = mode === 'signin' ? t('account.signIn') : t('account.createAccount');
    }
  });

  /** @param {string} message */
  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  const google = app.config.googleEnabled
    ? [
        h('div', { class: 'divider' }, h('span', {}, t('account.or'))),
        h(
          'button',
          { type: 'button', class: 'google wide', onclick: () => app.auth.signInWithGoogle() },
          h('span', { class: 'g-logo', 'aria-hidden': 'true' }, 'G'),
          t('account.google'),
        ),
      ]
    : [];

  root.append(
    h(
      'div',
      { class: 'auth-screen' },
      h(
        'div',
        { class: 'auth-card' },
        h('div', { class: 'brand big' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'), 'DreamCore'),
        h('p', { class: 'tagline' }, t('app.tagline')),
        form,
        linkSection,
        google,
        h('div', { class: 'auth-language' }, languageSwitch()),
      ),
    ),
  );
  setTimeout(() => email.focus(), 0);
  return () => undefined;
}
