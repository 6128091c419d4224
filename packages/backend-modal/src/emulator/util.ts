/** Small helpers shared by the emulator's services: ids, tokens, waiting. */
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { ServerError, type Status } from 'nice-grpc';

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) out += ALPHANUMERIC[(bytes[i % bytes.length] ?? 0) % 62];
  return out;
}

/** A Modal-shaped object id: `ap-`, `vo-`, `st-`, `im-`, `ta-` + 22 alphanumerics. */
export function newId(prefix: string): string {
  return `${prefix}-${base62(randomBytes(22), 22)}`;
}

/** The same shape, derived from a key, so named objects keep their id across emulator restarts on one state dir. */
export function stableId(prefix: string, key: string): string {
  return `${prefix}-${base62(createHash('sha256').update(key).digest(), 22)}`;
}

/**
 * Sandbox ids pick the SDK's code path: `sb-` + exactly 22 alphanumerics is a V1 sandbox (control-plane exec),
 * anything else V2 (task command router). The emulator only implements V2, so its ids carry a `-v2` suffix.
 */
export function newSandboxId(): string {
  return `${newId('sb')}-v2`;
}

/**
 * HS256 JWTs. The SDK only reads `exp` (to schedule refreshes); the emulator checks the signature and claims so a
 * token minted for one sandbox cannot drive another, as on Modal.
 */
export class TokenSigner {
  private readonly key = randomBytes(32);

  sign(claims: Record<string, unknown>, ttlSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(JSON.stringify({ ...claims, iat: now, exp: now + ttlSeconds }));
    return `${header}.${payload}.${this.mac(`${header}.${payload}`)}`;
  }

  /** Returns the claims, `'expired'`, or `undefined` for anything that is not a token of ours. */
  verify(token: string): Record<string, unknown> | 'expired' | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    const expected = Buffer.from(this.mac(`${header}.${payload}`));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    if (typeof claims['exp'] === 'number' && claims['exp'] * 1000 <= Date.now()) return 'expired';
    return claims;
  }

  private mac(input: string): string {
    return createHmac('sha256', this.key).update(input).digest('base64url');
  }
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** A promise plus its resolver, for "done" latches. */
export interface Latch<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function latch<T>(): Latch<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Waits for `promise` up to `ms` (or until `signal` aborts); `undefined` when it did not settle in time. */
export async function within<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | undefined> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([promise, delay(ms, controller.signal).then(() => undefined)]);
  } finally {
    controller.abort();
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A gRPC error with Modal's status code and one of several wordings, picked at random: a client may branch on the
 * code (as the SDK does), never on the text, which Modal does not promise either.
 */
export function modalError(status: Status, ...wordings: [string, ...string[]]): ServerError {
  return new ServerError(status, wordings[randomInt(wordings.length)]!);
}
