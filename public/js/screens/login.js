// Sign in / create account (email + password), and Google when the server uses a real Supabase project.
import { h } from '../lib/dom.js';
import { NAME_MAX, suggestName, t } from '../strings/account.js';
import { magicLinkSection } from './login-link.js';

/** @type {import('../main.js').Screen} */
export function mountLogin(root, app) {
  /** @type {'signin' | 'signup'} */
  let mode = 'signin';
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true, placeholder: 'you@example.com' });
  const password = h('input', {
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
    minlength: 8,
    placeholder: '8 characters or more',
  });
  // Sign-up only: the name shown on the user's games, suggested from the e-mail until they type their own.
  const displayName = h('input', { type: 'text', name: 'displayName', autocomplete: 'nickname', maxlength: NAME_MAX, placeholder: t('namePlaceholder') });
  let nameEdited = false;
  displayName.addEventListener('input', () => (nameEdited = displayName.value.trim() !== ''));
  email.addEventListener('input', () => {
    if (!nameEdited) displayName.value = suggestName(email.value.trim());
  });
  const nameField = h(
    'label',
    { class: 'field', hidden: true, dataset: { testid: 'signup-name' } },
    h('span', {}, t('nameLabel')),
    displayName,
    h('small', { class: 'muted' }, t('nameHint')),
  );
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const notice = h('p', { class: 'form-notice', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary wide' }, 'Sign in');
  const tabSignIn = h('button', { type: 'button', class: 'seg active', dataset: { mode: 'signin' }, onclick: () => setMode('signin') }, 'Sign in');
  const tabSignUp = h('button', { type: 'button', class: 'seg', dataset: { mode: 'signup' }, onclick: () => setMode('signup') }, 'Create account');

  /** @param {'signin' | 'signup'} next */
  function setMode(next) {
    mode = next;
    tabSignIn.classList.toggle('active', mode === 'signin');
    tabSignUp.classList.toggle('active', mode === 'signup');
    submit.textContent = mode === 'signin' ? 'Sign in' : 'Create account';
    password.autocomplete = mode === 'signin' ? 'current-password' : 'new-password';
    nameField.hidden = mode !== 'signup';
    error.hidden = true;
    notice.hidden = true;
  }

  const form = h(
    'form',
    { class: 'auth-form stack', novalidate: true },
    h('div', { class: 'segmented', role: 'tablist' }, tabSignIn, tabSignUp),
    h('label', { class: 'field' }, h('span', {}, 'Email'), email),
    h('label', { class: 'field' }, h('span', {}, 'Password'), password),
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
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) return showError('Enter a valid email address.');
    if (password.value.length < 8) return showError('The password needs at least 8 characters.');
    const name = displayName.value.replace(/\s+/g, ' ').trim();
    if (mode === 'signup' && name === '') return showError(t('nameRequired'));
    if (mode === 'signup' && [...name].length > NAME_MAX) return showError(t('nameTooLong'));
    submit.disabled = true;
    submit.textContent = mode === 'signin' ? 'Signing in…' : 'Creating account…';
    try {
      if (mode === 'signin') {
        await app.auth.signIn(address, password.value);
      } else {
        const result = await app.auth.signUp(address, password.value, { display_name: name });
        if ('confirmEmail' in result) {
          notice.textContent = 'Check your inbox: confirm your email address, then sign in.';
          notice.hidden = false;
          setMode('signin');
        }
      }
    } catch (/** @type {any} */ err) {
      showError(err.message);
    } finally {
      submit.disabled = false;
      submit.textContent = mode === 'signin' ? 'Sign in' : 'Create account';
    }
  });

  /** @param {string} message */
  function showError(message) {
    error.textContent = message;
    error.hidden = false;
  }

  const google = app.config.googleEnabled
    ? [
        h('div', { class: 'divider' }, h('span', {}, 'or')),
        h(
          'button',
          { type: 'button', class: 'google wide', onclick: () => app.auth.signInWithGoogle() },
          h('span', { class: 'g-logo', 'aria-hidden': 'true' }, 'G'),
          'Sign in with Google',
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
        h(
          'p',
          { class: 'tagline' },
          'Make browser games by chatting with an AI agent.',
          h('br'),
          h('span', { class: 'ja' }, 'チャットするだけでゲームが作れる'),
        ),
        form,
        linkSection,
        google,
      ),
    ),
  );
  setTimeout(() => email.focus(), 0);
  return () => undefined;
}
