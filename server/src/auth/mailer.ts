/**
 * The sign-in mail of embedded auth: a magic link, in the reader's language, sent over SMTP (nodemailer, `SMTP_URL`).
 * Without `SMTP_URL` the link is written to the server log, where whoever runs the server can pick it up (and the demo
 * shows it on the sign-in screen).
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '../logger.js';

export type MailLanguage = 'en' | 'ja';

/** The words of the mail; one table, so they can move into the app's catalogue as they are. */
const WORDS: Record<MailLanguage, { subject: string; intro: string; button: string; ignore: string }> = {
  en: {
    subject: 'Your DreamCore sign-in link',
    intro: 'Open this link to sign in to DreamCore. It works once, within one hour.',
    button: 'Sign in to DreamCore',
    ignore: 'If you did not ask for it, ignore this mail: nobody can sign in without the link.',
  },
  ja: {
    subject: 'DreamCore ログインリンク',
    intro: '下のリンクを開くと DreamCore にログインできます。1回だけ、1時間以内に使えます。',
    button: 'DreamCore にログイン',
    ignore: 'お心当たりがない場合は、このメールを無視してください。リンクがなければ誰もログインできません。',
  },
};

export interface SignInMailer {
  /** True when mail really leaves the server (SMTP); false when links only go to the log. */
  readonly sends: boolean;
  sendMagicLink(to: string, link: string, language: MailLanguage): Promise<void>;
  close(): void;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function createSignInMailer(smtpUrl: string | undefined, from: string, log: Logger): SignInMailer {
  const transport: Transporter | null = smtpUrl ? nodemailer.createTransport(smtpUrl) : null;
  return {
    sends: transport !== null,
    async sendMagicLink(to, link, language) {
      const words = WORDS[language];
      if (!transport) {
        log.warn({ to, link }, 'magic link (no SMTP_URL: not mailed; open this link to sign in)');
        return;
      }
      await transport.sendMail({
        from,
        to,
        subject: words.subject,
        text: `${words.intro}\n\n${link}\n\n${words.ignore}\n`,
        html:
          `<p>${escapeHtml(words.intro)}</p>` +
          `<p><a href="${escapeHtml(link)}">${escapeHtml(words.button)}</a></p>` +
          `<p style="color:#666">${escapeHtml(words.ignore)}</p>`,
      });
    },
    close() {
      transport?.close();
    },
  };
}
