/**
 * Signed preview URLs for the editor's iframe: `/game/{userId}/{projectId}/index.html?sig=…&exp=…`,
 * HMAC-SHA256 over "{userId}:{projectId}:{exp}", valid 300 s, checked in constant time.
 *
 * The same signature also travels in the path, `/game/{userId}/{projectId}/s-{exp}-{sig}/index.html` (a capability
 * prefix): the preview runs sandboxed in an opaque origin, where the browser sends no usable Referer, so every file
 * the game loads by a relative URL must carry its own proof. See routes/projects.ts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface PreviewSigner {
  sign(userId: string, projectId: string, ttlSeconds?: number): { url: string; expiresAt: string; exp: number; sig: string };
  verify(userId: string, projectId: string, sig: unknown, exp: unknown, now?: number): 'ok' | 'expired' | 'invalid';
}

const CAPABILITY = /^s-(\d{1,12})-([0-9a-f]{64})$/;

/** The path segment that carries a signature (`s-{exp}-{sig}`). */
export function capabilitySegment(exp: number, sig: string): string {
  return `s-${exp}-${sig}`;
}

/** `{exp, sig}` when `segment` is a capability segment, else null. */
export function parseCapabilitySegment(segment: string): { exp: number; sig: string } | null {
  const match = CAPABILITY.exec(segment);
  return match ? { exp: Number(match[1]), sig: match[2]! } : null;
}

export function createPreviewSigner(secret: string): PreviewSigner {
  const mac = (userId: string, projectId: string, exp: number) => createHmac('sha256', secret).update(`${userId}:${projectId}:${exp}`).digest('hex');
  return {
    sign(userId, projectId, ttlSeconds = 300) {
      const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
      const sig = mac(userId, projectId, exp);
      return { url: `/game/${userId}/${projectId}/index.html?sig=${sig}&exp=${exp}`, expiresAt: new Date(exp * 1000).toISOString(), exp, sig };
    },
    verify(userId, projectId, sig, exp, now = Date.now()) {
      const expNum = Number(exp);
      if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig) || !Number.isInteger(expNum)) return 'invalid';
      if (expNum * 1000 < now) return 'expired';
      const expected = Buffer.from(mac(userId, projectId, expNum), 'hex');
      return timingSafeEqual(expected, Buffer.from(sig, 'hex')) ? 'ok' : 'invalid';
    },
  };
}
