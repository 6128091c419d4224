/**
 * Structured logs (pino). Tokens, keys, passwords and cookies are redacted by path, and `safeText` scrubs
 * anything that looks like a bearer token or provider key out of free text before it is logged.
 */
import { pino, type Logger } from 'pino';

const REDACT = [
  'req.headers.authorization',
  'req.headers["x-auth-token"]',
  'req.headers.apikey',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  '*.access_token',
  '*.refresh_token',
  '*.password',
  '*.token',
  '*.apiKey',
  '*.secret',
  'access_token',
  'refresh_token',
  'password',
  'token',
];

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: undefined });
}

const SECRETISH = /(Bearer\s+)[\w.~+/=-]+|\b(sk-ant-[\w-]+|eyJ[\w-]+\.[\w-]+\.[\w-]+|dcrun-[\w-]+|AIza[\w-]{20,})/g;

export function safeText(text: string): string {
  return text.replace(SECRETISH, (_m, bearer: string | undefined) => `${bearer ?? ''}[redacted]`);
}

export type { Logger };
