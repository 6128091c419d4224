/**
 * The volume listing's paging, against a control plane that misbehaves in ways the emulator does not: it must read the
 * current fields only, and stop with an error (not loop) when a page would not move the cursor back in time.
 */
import type { ModalClient } from 'modal';
import { describe, expect, it } from 'vitest';
import { isBackendError } from '@dreamcore/runtime-core';
import { resolveModalConfig } from '../src/index.js';
import { listVolumes } from '../src/volume-list.js';

type Page = { items: { label: string; createdAt: number; metadata?: { name: string; version: number; creationInfo?: { createdAt: number } } }[] };

/** A client whose VolumeList answers `page(createdBefore)`, counting the calls. */
function controlPlane(page: (createdBefore: number) => Page) {
  const calls: number[] = [];
  const client = {
    environmentName: () => 'main',
    cpClient: {
      volumeList: async (request: { pagination: { createdBefore: number } }) => {
        calls.push(request.pagination.createdBefore);
        return page(request.pagination.createdBefore);
      },
    },
  } as unknown as ModalClient;
  return { client, calls };
}

const config = resolveModalConfig({ tokenId: 'ak-x', tokenSecret: 'as-x', log: () => undefined }, {});
const item = (i: number, createdAt: number) => ({
  label: '', // superseded: empty on current Modal
  createdAt: 0, // superseded
  metadata: { name: `v-${i}`, version: i % 2 ? 2 : 0, creationInfo: { createdAt } },
});

describe('listVolumes', () => {
  it('pages back in time on metadata.creationInfo.createdAt and names volumes by metadata.name', async () => {
    // 250 volumes, one a second: pages of 100 (newest first), each before the previous page's oldest.
    const all = Array.from({ length: 250 }, (_, i) => item(i, 1_000 + i)).reverse();
    const { client, calls } = controlPlane((before) => ({ items: all.filter((v) => !before || v.metadata.creationInfo.createdAt < before).slice(0, 100) }));
    const volumes = await listVolumes(client, config);
    expect(volumes).toHaveLength(250);
    expect(new Set(volumes.map((v) => v.name)).size).toBe(250);
    expect(volumes.find((v) => v.name === 'v-1')).toEqual({ name: 'v-1', version: 2 });
    expect(volumes.find((v) => v.name === 'v-2')).toEqual({ name: 'v-2', version: 1 }); // 0 = made without a version = v1
    expect(calls).toEqual([0, 1_150, 1_050]);
  });

  it('a page that does not move the cursor back is an error, not an endless loop', async () => {
    const stuck = Array.from({ length: 100 }, (_, i) => item(i, 5_000));
    const { client, calls } = controlPlane(() => ({ items: stuck }));
    const error = await listVolumes(client, config).catch((e: unknown) => e);
    expect(isBackendError(error, 'INTERNAL')).toBe(true);
    expect(calls).toEqual([0, 5_000]);
  });
});
