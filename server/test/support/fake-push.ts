/**
 * A local push service (RFC 8030) as strict as a browser vendor's, for web-push tests. It plays both sides a real
 * browser and its push service play:
 * - `subscribe(applicationServerKey)` is what `pushManager.subscribe()` gives a page: an endpoint on this service, a
 *   P-256 key pair and a 16-byte auth secret made here (the private key never leaves), bound to the server's VAPID
 *   public key;
 * - a POST to an endpoint is checked like a push service checks it, and refused otherwise: HTTPS only; `TTL`
 *   present (400); `Content-Encoding: aes128gcm` (415); `Authorization: vapid t=<JWT>, k=<key>` (RFC 8292) whose key
 *   is the one the subscription was made with (403) and whose JWT is ES256-signed by it, with `aud` = the endpoint's
 *   origin, `exp` in the future and at most 24 h away, and a `sub` (401); a body within 4096 bytes (413); an expired
 *   subscription answers 410 Gone and an unknown one 404. The payload is decrypted with the subscriber's private key
 *   (RFC 8291 key derivation, RFC 8188 record) and must end with the last-record delimiter (400 otherwise).
 * Written from the RFCs for these tests (nothing copied from web-push).
 */
import { createECDH, createDecipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';

export interface FakeSubscription {
  id: string;
  /** What the browser gives the page (`PushSubscription.toJSON()`). */
  json: { endpoint: string; keys: { p256dh: string; auth: string } };
}

export interface DeliveredPush {
  subscriptionId: string;
  ttl: number;
  urgency: string | null;
  claims: { aud: string; exp: number; sub: string };
  /** The decrypted payload, parsed as JSON. */
  payload: Record<string, unknown>;
}

export interface FakePushService {
  url: string;
  /** Trusts this service's self-signed certificate (what the server under test sends through). */
  agent: https.Agent;
  subscribe(applicationServerKey: string): FakeSubscription;
  /** From now on the subscription answers 410 Gone (the user revoked it, the browser dropped it). */
  expire(id: string): void;
  delivered: DeliveredPush[];
  /** Every refusal, with its status and reason. */
  refused: { subscriptionId: string; status: number; reason: string }[];
  /** The next delivery to a subscription; rejects with the reason when the next request to it is refused. */
  next(id: string): Promise<DeliveredPush>;
  close(): Promise<void>;
}

interface Subscriber {
  ecdh: ReturnType<typeof createECDH>;
  publicKey: Buffer;
  auth: Buffer;
  applicationServerKey: string;
  expired: boolean;
}

const MAX_PAYLOAD = 4096;
const DAY_S = 24 * 60 * 60;

class Refusal extends Error {
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** A certificate for 127.0.0.1 and localhost, made by openssl for this run. */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fake-push-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      ], // prettier-ignore
      { stdio: 'ignore' },
    );
    return { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** RFC 8292 §3.1: `vapid t=<jwt>, k=<key>`. */
function vapidAuthorization(header: string | undefined): { t: string; k: string } {
  const match = /^vapid\s+(.+)$/i.exec(header ?? '');
  if (!match) throw new Refusal(401, 'no vapid Authorization');
  const params = Object.fromEntries(
    match[1]!.split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()];
    }),
  );
  if (!params.t || !params.k) throw new Refusal(401, 'vapid Authorization without t and k');
  return { t: params.t, k: params.k };
}

/** RFC 8291 §3.4 + RFC 8188 §2: one record, decrypted with the subscriber's private key. */
function decrypt(body: Buffer, subscriber: Subscriber): Buffer {
  if (body.length < 21) throw new Refusal(400, 'body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  if (idlen !== 65) throw new Refusal(400, `keyid must be the sender's 65-byte public key, got ${idlen} bytes`);
  const senderKey = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  if (rs < 18 || ciphertext.length > rs) throw new Refusal(400, 'a push message is one record');
  const shared = subscriber.ecdh.computeSecret(senderKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), subscriber.publicKey, senderKey]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, subscriber.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  } catch {
    throw new Refusal(400, 'payload does not decrypt with the subscription keys');
  }
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (end < 0 || plain[end] !== 2) throw new Refusal(400, 'no last-record padding delimiter');
  return plain.subarray(0, end);
}

export async function startFakePushService(): Promise<FakePushService> {
  const { key, cert } = selfSigned();
  const subscribers = new Map<string, Subscriber>();
  const delivered: DeliveredPush[] = [];
  const refused: FakePushService['refused'] = [];
  const waiting = new Map<string, { resolve: (push: DeliveredPush) => void; reject: (error: Error) => void }[]>();
  let origin = '';

  const accept = async (id: string, headers: Record<string, string | string[] | undefined>, body: Buffer): Promise<DeliveredPush> => {
    const subscriber = subscribers.get(id);
    if (!subscriber) throw new Refusal(404, 'no such subscription');
    if (subscriber.expired) throw new Refusal(410, 'subscription expired');
    const ttl = Number(headers.ttl);
    if (headers.ttl === undefined || !Number.isInteger(ttl) || ttl < 0) throw new Refusal(400, 'TTL header missing or invalid');
    const urgency = typeof headers.urgency === 'string' ? headers.urgency : null;
    if (urgency !== null && !['very-low', 'low', 'normal', 'high'].includes(urgency)) throw new Refusal(400, 'bad Urgency');
    if (headers['content-encoding'] !== 'aes128gcm') throw new Refusal(415, `Content-Encoding must be aes128gcm, got ${String(headers['content-encoding'])}`);
    if (body.length > MAX_PAYLOAD) throw new Refusal(413, 'payload too large');
    const { t, k } = vapidAuthorization(headers.authorization as string | undefined);
    if (k.replace(/=+$/, '') !== subscriber.applicationServerKey.replace(/=+$/, '')) throw new Refusal(403, 'k is not the key the subscription was made with');
    const point = Buffer.from(k, 'base64url');
    if (point.length !== 65 || point[0] !== 4) throw new Refusal(401, 'k is not an uncompressed P-256 point');
    if (decodeProtectedHeader(t).alg !== 'ES256') throw new Refusal(401, 'JWT must be ES256');
    const publicKey = await importJWK(
      { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
      'ES256',
    );
    let claims: { aud?: unknown; exp?: unknown; sub?: unknown };
    try {
      ({ payload: claims } = await jwtVerify(t, publicKey, { audience: origin, algorithms: ['ES256'], requiredClaims: ['exp', 'aud'] }));
    } catch (error) {
      throw new Refusal(401, `VAPID JWT refused: ${(error as Error).message}`);
    }
    const exp = Number(claims.exp);
    if (exp > Date.now() / 1000 + DAY_S) throw new Refusal(401, 'VAPID JWT exp more than 24 h away');
    if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) throw new Refusal(401, 'VAPID JWT sub must be mailto: or https:');
    const payload = JSON.parse(decrypt(body, subscriber).toString('utf8')) as Record<string, unknown>;
    return { subscriptionId: id, ttl, urgency, claims: { aud: String(claims.aud), exp, sub: claims.sub }, payload };
  };

  const server = https.createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const id = /^\/push\/([0-9a-f-]{36})$/.exec(req.url ?? '')?.[1] ?? '';
      const answer = req.method !== 'POST' ? Promise.reject(new Refusal(405, 'POST only')) : accept(id, req.headers, Buffer.concat(chunks));
      answer.then(
        (push) => {
          delivered.push(push);
          for (const waiter of waiting.get(id) ?? []) waiter.resolve(push);
          waiting.delete(id);
          res.writeHead(201, { Location: `${origin}/message/${randomUUID()}` }).end();
        },
        (error: unknown) => {
          const status = error instanceof Refusal ? error.status : 500;
          refused.push({ subscriptionId: id, status, reason: (error as Error).message });
          for (const waiter of waiting.get(id) ?? []) waiter.reject(new Error(`push refused (${status}): ${(error as Error).message}`));
          waiting.delete(id);
          res.writeHead(status, { 'content-type': 'text/plain' }).end((error as Error).message);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Named, like a real push service: the server refuses endpoints that are IP addresses (PUSH_SERVICE_HOSTS).
  origin = `https://localhost:${(server.address() as AddressInfo).port}`;

  return {
    url: origin,
    agent: new https.Agent({ ca: cert }),
    subscribe(applicationServerKey) {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const id = randomUUID();
      const subscriber: Subscriber = { ecdh, publicKey: ecdh.getPublicKey(), auth: randomBytes(16), applicationServerKey, expired: false };
      subscribers.set(id, subscriber);
      return {
        id,
        json: { endpoint: `${origin}/push/${id}`, keys: { p256dh: subscriber.publicKey.toString('base64url'), auth: subscriber.auth.toString('base64url') } },
      };
    },
    expire(id) {
      subscribers.get(id)!.expired = true;
    },
    delivered,
    refused,
    next(id) {
      return new Promise((resolve, reject) => waiting.set(id, [...(waiting.get(id) ?? []), { resolve, reject }]));
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
