/**
 * A local SMTP server (smtp-server: the real protocol, as nodemailer speaks it to any mail relay) that keeps every
 * message it accepts, decoded enough for a test to read the subject and the links. Like a real relay it takes mail
 * only after AUTH with its account (user and password in `url`, as `SMTP_URL` carries them); a wrong password or no
 * AUTH at all is refused. STARTTLS is left out: a local test has no certificate the client would trust.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  subject: string;
  /** The decoded body parts (quoted-printable and base64 undone), joined. */
  text: string;
}

export interface FakeSmtp {
  /** `smtp://user:password@127.0.0.1:port`. */
  url: string;
  /** The same server without the account (for checking that it refuses). */
  anonymousUrl: string;
  /** Every refused AUTH, in order (MAIL FROM before AUTH is refused by smtp-server itself, 530). */
  refusals: string[];
  mails: ReceivedMail[];
  /** The next mail to `to` that arrives from now on. */
  next(to: string): Promise<ReceivedMail>;
  close(): Promise<void>;
}

function decodeQuotedPrintable(body: string): string {
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function decodeParts(raw: string): string {
  const out: string[] = [];
  for (const part of raw.split(/\r?\n--[^\r\n]+\r?\n/)) {
    const split = part.search(/\r?\n\r?\n/);
    if (split < 0) continue;
    const headers = part.slice(0, split);
    const body = part.slice(split).trim();
    if (/content-transfer-encoding:\s*quoted-printable/i.test(headers)) out.push(decodeQuotedPrintable(body));
    else if (/content-transfer-encoding:\s*base64/i.test(headers)) out.push(Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8'));
    else out.push(body);
  }
  return out.join('\n');
}

function decodeSubject(raw: string): string {
  const line = /^Subject: (.*(?:\r?\n[ \t].*)*)/im.exec(raw)?.[1] ?? '';
  return line
    .replace(/\r?\n[ \t]/g, ' ')
    .replace(/=\?utf-8\?([BQ])\?([^?]*)\?=\s*/gi, (_m, kind: string, text: string) =>
      kind.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' ')),
    )
    .trim();
}

export async function startFakeSmtp(): Promise<FakeSmtp> {
  const mails: ReceivedMail[] = [];
  const refusals: string[] = [];
  const account = { user: `relay-${randomBytes(4).toString('hex')}`, password: randomBytes(12).toString('hex') };
  const waiters: { to: string; resolve: (m: ReceivedMail) => void }[] = [];
  const server = new SMTPServer({
    authOptional: false,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true, // plain TCP on loopback only (see above)
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === account.user && auth.password === account.password) return callback(null, { user: auth.username });
      refusals.push(`auth: ${auth.username ?? ''}`);
      callback(new Error('535 5.7.8 Authentication credentials invalid'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const mail: ReceivedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          subject: decodeSubject(raw),
          text: decodeParts(raw),
        };
        mails.push(mail);
        for (const w of [...waiters]) {
          if (mail.to.includes(w.to)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(mail);
          }
        }
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://${account.user}:${account.password}@127.0.0.1:${port}`,
    anonymousUrl: `smtp://127.0.0.1:${port}`,
    refusals,
    mails,
    next(to) {
      return new Promise((resolve) => waiters.push({ to, resolve }));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
