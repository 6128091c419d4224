// Signing in by e-mailed link and the answers of a link or Google sign-in that did not work (issue 17; these move into
// the app-wide catalogue with the rest).
import { catalogue } from './catalogue.js';

export const t = catalogue({
  en: {
    linkButton: 'Email me a sign-in link',
    linkHint: 'No password needed: we send you a link that signs you in.',
    linkSending: 'Sending…',
    linkSent: 'We sent a sign-in link to {email}. Open it on this device to sign in.',
    linkDemo: 'Demo mode: nothing is mailed. Open your sign-in link here:',
    linkDemoOpen: 'Open the sign-in link',
    linkInvalidEmail: 'Enter your email address first.',
    linkTooSoon: 'A link was sent a moment ago. Wait a minute before asking for another.',
    linkFailed: 'The sign-in link could not be sent. Try again in a moment.',
    linkExpired: 'That sign-in link has already been used or has expired. Ask for a new one.',
    googleRefused: 'Google sign-in did not work. Try again.',
    googleUnverified: 'Your Google account’s email address is not verified, so it cannot be used to sign in.',
  },
  ja: {
    linkButton: 'ログイン用リンクをメールで受け取る',
    linkHint: 'パスワードは不要です。開くだけでログインできるリンクをお送りします。',
    linkSending: '送信中…',
    linkSent: '{email} にログイン用リンクを送りました。この端末でメールを開いてください。',
    linkDemo: 'デモモードのためメールは送られません。こちらのリンクからログインできます：',
    linkDemoOpen: 'ログイン用リンクを開く',
    linkInvalidEmail: '先にメールアドレスを入力してください。',
    linkTooSoon: 'さきほどリンクを送りました。次のリンクは1分ほど待ってからお試しください。',
    linkFailed: 'ログイン用リンクを送れませんでした。少ししてからもう一度お試しください。',
    linkExpired: 'このログイン用リンクは使用済みか、有効期限が切れています。新しいリンクを受け取ってください。',
    googleRefused: 'Google でログインできませんでした。もう一度お試しください。',
    googleUnverified: 'Google アカウントのメールアドレスが確認されていないため、ログインに使えません。',
  },
});

/**
 * The words for a sign-in that came back refused (GoTrue's `error_code` in the landing page's fragment).
 * @param {string} code
 * @returns {string}
 */
export function returnedErrorText(code) {
  if (code === 'otp_expired') return t('linkExpired');
  if (code === 'email_not_verified') return t('googleUnverified');
  return t('googleRefused');
}
