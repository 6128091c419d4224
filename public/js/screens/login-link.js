// The sign-in screen's "Email me a sign-in link": GoTrue's /otp (Supabase's own mail, or the embedded server's), the
// e-mail taken from the sign-in form. In demo mode without mail the server hands the link back and it is shown here.
import { h } from '../lib/dom.js';
import { t } from '../i18n/index.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * @param {import('../main.js').App} app
 * @param {HTMLInputElement} email the form's e-mail field
 * @param {(message: string) => void} showError
 * @returns {HTMLElement}
 */
export function magicLinkSection(app, email, showError) {
  const status = h('p', { class: 'form-notice', role: 'status', hidden: true, dataset: { testid: 'magic-link-status' } });
  const button = h('button', { type: 'button', class: 'wide', dataset: { testid: 'magic-link' } }, t('signin.linkButton'));
  button.addEventListener('click', async () => {
    status.hidden = true;
    const address = email.value.trim();
    if (!EMAIL.test(address)) {
      showError(t('signin.linkInvalidEmail'));
      email.focus();
      return;
    }
    button.disabled = true;
    button.textContent = t('signin.linkSending');
    try {
      const answer = await app.auth.sendMagicLink(address);
      status.replaceChildren(t('signin.linkSent', { email: address }));
      if (answer.demoLink) {
        status.append(h('br'), t('signin.linkDemo'), ' ', h('a', { href: answer.demoLink, dataset: { testid: 'demo-link' } }, t('signin.linkDemoOpen')));
      }
      status.hidden = false;
    } catch (/** @type {any} */ error) {
      showError(error.status === 429 ? t('signin.linkTooSoon') : t('signin.linkFailed'));
    } finally {
      button.disabled = false;
      button.textContent = t('signin.linkButton');
    }
  });
  return h('div', { class: 'magic-link stack' }, button, h('small', { class: 'muted' }, t('signin.linkHint')), status);
}

/**
 * The words for a sign-in that came back refused (GoTrue's `error_code` in the landing page's fragment).
 * @param {string} code
 * @returns {string}
 */
export function returnedErrorText(code) {
  if (code === 'otp_expired') return t('signin.linkExpired');
  if (code === 'email_not_verified') return t('signin.googleUnverified');
  return t('signin.googleRefused');
}
