/**
 * The sign-in mail of embedded auth: a magic link, in the reader's language, sent over SMTP (nodemailer, `SMTP_URL`).
 * Without `SMTP_URL` the link is written to the server log, where whoever runs the server can pick it up (and the demo
 * shows it on the sign-in screen).
 */
import type { Transporter } from 'nodemailer';
import type { Logger } from '../logger.js';
import type { Language } from '../language.js';

/** The words of the mail, in the six languages of the app's catalogue (public/js/i18n). */
const WORDS: Record<Language, { subject: string; intro: string; button: string; ignore: string }> = {
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
  zh: {
    subject: '你的 DreamCore 登录链接',
    intro: '打开下面的链接即可登录 DreamCore。链接只能使用一次，一小时内有效。',
    button: '登录 DreamCore',
    ignore: '如果这不是你本人的请求，请忽略这封邮件：没有这个链接，谁都无法登录。',
  },
  ko: {
    subject: 'DreamCore 로그인 링크',
    intro: '아래 링크를 열면 DreamCore에 로그인됩니다. 한 번만, 1시간 안에 사용할 수 있습니다.',
    button: 'DreamCore에 로그인',
    ignore: '요청하신 적이 없다면 이 메일을 무시하세요. 링크가 없으면 아무도 로그인할 수 없습니다.',
  },
  es: {
    subject: 'Tu enlace para entrar en DreamCore',
    intro: 'Abre este enlace para entrar en DreamCore. Funciona una sola vez y durante una hora.',
    button: 'Entrar en DreamCore',
    ignore: 'Si no lo has pedido, ignora este correo: nadie puede entrar sin el enlace.',
  },
  pt: {
    subject: 'Seu link para entrar no DreamCore',
    intro: 'Abra este link para entrar no DreamCore. Ele funciona uma única vez, dentro de uma hora.',
    button: 'Entrar no DreamCore',
    ignore: 'Se você não pediu este link, ignore este e-mail: ninguém consegue entrar sem ele.',
  },
};

export interface SignInMailer {
  /** True when mail really leaves the server (SMTP); false when links only go to the log. */
  readonly sends: boolean;
  sendMagicLink(to: string, link: string, language: Language): Promise<void>;
  close(): void;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function createSignInMailer(smtpUrl: string | undefined, from: string, log: Logger): Promise<SignInMailer> {
  // nodemailer is loaded only when mail is configured: a server without SMTP_URL never needs it.
  const transport: Transporter | null = smtpUrl ? (await import('nodemailer')).default.createTransport(smtpUrl) : null;
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
