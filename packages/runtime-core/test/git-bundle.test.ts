/** The bundle check that runs before importBundle writes anything (git-ops.ts `parseBundle`). */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isBackendError, parseBundle } from '@dreamcore/runtime-core';

const OID = 'a'.repeat(40);

function pack(objects = 0, algorithm: 'sha1' | 'sha256' = 'sha1'): Buffer {
  const body = Buffer.alloc(12);
  body.write('PACK', 0, 'latin1');
  body.writeUInt32BE(2, 4);
  body.writeUInt32BE(objects, 8);
  return Buffer.concat([body, createHash(algorithm).update(body).digest()]);
}

const bundle = (header: string, body: Buffer = pack()) => new Uint8Array(Buffer.concat([Buffer.from(`${header}\n\n`), body]));

function reason(bytes: Uint8Array): string {
  try {
    parseBundle(bytes);
  } catch (error) {
    expect(isBackendError(error, 'INVALID_ARGUMENT')).toBe(true);
    return String((error as { details: { reason: string } }).details.reason);
  }
  return 'accepted';
}

describe('parseBundle', () => {
  it('accepts v2 and v3 bundles with refs and an intact pack', () => {
    const v2 = parseBundle(bundle(`# v2 git bundle\n${OID} refs/heads/master\n${OID} HEAD`));
    expect(v2).toMatchObject({ version: 2, objectFormat: 'sha1', objects: 0 });
    expect(v2.refs).toEqual([
      { name: 'refs/heads/master', oid: OID },
      { name: 'HEAD', oid: OID },
    ]);
    const v3 = parseBundle(bundle(`# v3 git bundle\n@object-format=sha256\n${'b'.repeat(64)} refs/heads/main`, pack(0, 'sha256')));
    expect(v3).toMatchObject({ version: 3, objectFormat: 'sha256' });
  });

  it('refuses what is not one complete, intact history', () => {
    const good = bundle(`# v2 git bundle\n${OID} refs/heads/main`);
    expect(reason(good)).toBe('accepted');
    expect(reason(bundle(`# v2 git bundle\n-${OID} needs this\n${OID} refs/heads/main`))).toMatch(/prerequisites/);
    expect(reason(bundle(`# v3 git bundle\n@filter=blob:none\n${OID} refs/heads/main`))).toMatch(/capability/);
    expect(reason(bundle('# v2 git bundle'))).toMatch(/no refs/);
    expect(reason(bundle(`# v4 git bundle\n${OID} refs/heads/main`))).toMatch(/signature/);
    for (const name of ['refs/heads/../x', 'refs/heads/a b', 'refs/heads/x.lock', 'main', '--upload-pack=x', 'refs/heads/a:b', 'refs/heads/']) {
      expect(reason(bundle(`# v2 git bundle\n${OID} ${name}`))).toMatch(/ref name/);
    }
    expect(reason(bundle(`# v2 git bundle\n${OID.slice(1)} refs/heads/main`))).toMatch(/malformed/);
    expect(reason(good.subarray(0, good.length - 1))).toMatch(/no packfile/);
    expect(reason(new Uint8Array(Buffer.concat([Buffer.from(good), Buffer.from('x')])))).toMatch(/checksum/);
    const flipped = good.slice();
    flipped[flipped.length - 25]! ^= 1;
    expect(reason(flipped)).toMatch(/checksum/);
    expect(reason(new Uint8Array(0))).toMatch(/header/);
  });
});
