/**
 * Signed preview URLs for the editor's iframe: `/game/{userId}/{projectId}/index.html?sig=…&exp=…`,
 * HMAC-SHA256 over "{userId}:{projectId}:{exp}", valid 300 s, checked in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface PreviewSigner {
  sign(userId: string, projectId: string, ttlSeconds?: number): { url: string; expiresAt: string; exp: number; sig: string };
  verify(userId: string, projectId: string, sig: unknown, exp: unknown, now?: number): 'ok' | 'expired' | 'invalid';
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
