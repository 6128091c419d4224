/**
 * The environment's volumes, from the control plane's VolumeList (what `modal volume list` uses; the JS SDK has no
 * volume listing), paged newest first on the current fields: `metadata.name`, `metadata.version`,
 * `metadata.creationInfo.createdAt` (the item's own `label` and `createdAt` are superseded and may be empty). The cursor
 * must move back in time on every page, or the listing stops with an error rather than loop.
 */
import type { ModalClient } from 'modal';
import { createError } from '@dreamcore/runtime-core';
import { modalFailure, withDeadline } from './client.js';
import type { ResolvedModalConfig } from './config.js';

export interface ListedVolume {
  name: string;
  /** 1 or 2 (Modal answers 0 for a volume made without a version, which is v1). */
  version: 1 | 2;
}

const PAGE = 100;

export async function listVolumes(client: ModalClient, config: ResolvedModalConfig): Promise<ListedVolume[]> {
  const volumes: ListedVolume[] = [];
  let createdBefore = 0;
  for (;;) {
    const response = await withDeadline(config.deadlines.rpcMs, 'listing volumes', () =>
      client.cpClient.volumeList({ environmentName: client.environmentName(config.environment), pagination: { maxObjects: PAGE, createdBefore } }),
    ).catch((error: unknown) => {
      throw modalFailure(error, 'listing volumes');
    });
    for (const item of response.items) {
      if (item.metadata?.name) volumes.push({ name: item.metadata.name, version: item.metadata.version === 2 ? 2 : 1 });
    }
    if (response.items.length < PAGE) return volumes;
    const oldest = Math.min(...response.items.map((item) => item.metadata?.creationInfo?.createdAt ?? 0));
    if (!(oldest > 0) || (createdBefore !== 0 && oldest >= createdBefore)) {
      throw createError('INTERNAL', 'listing volumes: Modal returned a page whose creation times do not move the cursor back', {
        details: { createdBefore, oldest },
      });
    }
    createdBefore = oldest;
  }
}
