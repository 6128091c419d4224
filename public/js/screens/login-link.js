// The sign-in screen's "Email me a sign-in link": GoTrue's /otp (Supabase's own mail, or the embedded server's), the
// e-mail taken from the sign-in form. In demo mode without mail the server hands the link back and it is shown here.
import { h } from '../lib/dom.js';
import { t } from '../strings/signin.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * @param {import('../main.js').App} app
 * @param {HTMLInputElement} email the form's e-mail field
 * @param {(message: string) => void} showError
 * @returns {HTMLElement}
 */
export function magicLinkSection(app, email, showError) {
  const status = h('p', { class: 'form-notice', role: 'status', hidden: true, dataset: { testid: 'magic-link-status' } });
  const button = h('button', { type: 'button', class: 'wide', dataset: { testid: 'magic-link' } }, t('linkButton'));
  button.addEventListener('click', async () => {
    status.hidden = true;
    const address = email.value.trim();
    if (!EMAIL.test(address)) {
      showError(t('linkInvalidEmail'));
      email.focus();
      return;
    }
    button.disabled = true;
    button.textContent = t('linkSending');
    try {
      const answer = await app.auth.sendMagicLink(address);
      status.replaceChildren(t('linkSent', { email: address }));
      if (answer.demoLink) {
        status.append(h('br'), t('linkDemo'), ' ', h('a', { href: answer.demoLink, dataset: { testid: 'demo-link' } }, t('linkDemoOpen')));
      }
      status.hidden = false;
    } catch (/** @type {any} */ error) {
      showError(error.status === 429 ? t('linkTooSoon') : t('linkFailed'));
    } finally {
      button.disabled = false;
      button.textContent = t('linkButton');
    }
  });
  return h('div', { class: 'magic-link stack' }, button, h('small', { class: 'muted' }, t('linkHint')), status);
}
