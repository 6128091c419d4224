// public/js/lib/ids.js: the ids the browser app makes. A chat message's id must be a UUID the server accepts
// (server/src/ws/messages.ts) also where `crypto.randomUUID` is missing: a page over plain http on the local network.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseFrame } from '../src/ws/messages.js';

const IDS = pathToFileURL(join(import.meta.dirname, '..', '..', 'public', 'js', 'lib', 'ids.js')).href;

describe("the app's new ids", () => {
  it('outside a secure context (no randomUUID there): version-4 UUIDs the server accepts, never the same twice', async () => {
    // Node is not a secure context (`isSecureContext` is undefined), so this takes the getRandomValues path.
    expect((globalThis as { isSecureContext?: boolean }).isSecureContext).toBeUndefined();
    const { newUuid, UUID_PATTERN } = (await import(IDS)) as { newUuid: () => string; UUID_PATTERN: RegExp };
    const ids = Array.from({ length: 2000 }, () => newUuid());
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(UUID_PATTERN.test(id)).toBe(true);
      expect(parseFrame(JSON.stringify({ type: 'message', content: 'Make a game', clientMessageId: id }), false)).toMatchObject({
        ok: true,
        message: { clientMessageId: id },
      });
    }
    expect(new Set(ids).size).toBe(ids.length);
  });
});
