/**
 * Which execution backends may run on several instances at once, enforced when an instance joins (docs/design.md,
 * "Several instances"):
 * - `modal`: yes, anywhere. Its state lives in Modal (volumes, sandboxes) and in the database; an instance holds
 *   nothing another one needs.
 * - `local` (and any other backend): only instances on one machine sharing one DATA_DIR. The projects are folders
 *   on that disk; an instance elsewhere would not see them. On one disk the database keeps one job per project for
 *   the whole service, and git's own lock files refuse a second concurrent write to a repository (an error the user
 *   can retry, never a corrupted history); see the note in design.md for what that leaves.
 * Mixing `local` with `modal` instances is refused too: the same project would be in two places.
 */
import { realpathSync } from 'node:fs';
import { createError } from '@dreamcore/runtime-core';
import type { Coordination, InstanceRecord } from './db/repository.js';

export interface InstanceIdentity {
  id: string;
  backend: string;
  host: string;
  dataDir: string;
}

/** Why `me` may not run beside `other`, or null when it may. */
export function instanceConflict(me: InstanceIdentity, other: Pick<InstanceRecord, 'id' | 'backend' | 'host' | 'dataDir'>): string | null {
  if (me.backend === 'modal' && other.backend === 'modal') return null;
  if (me.backend !== other.backend) return `instance ${other.id} runs the ${other.backend} backend and this one ${me.backend}: one service uses one backend`;
  if (other.host !== me.host)
    return `the ${me.backend} backend keeps projects on this machine's disk, and instance ${other.id} runs on ${other.host}: several instances need EXECUTION_BACKEND=modal`;
  if (other.dataDir !== me.dataDir)
    return `the ${me.backend} backend's instances on one machine must share DATA_DIR (${other.id} uses ${other.dataDir}, this one ${me.dataDir})`;
  return null;
}

/**
 * Registers this instance (renewed by the job heartbeat) and refuses to start beside an instance it may not share
 * the service with. Returns the leave function (shutdown).
 */
export async function joinInstances(coordination: Coordination, me: InstanceIdentity, leaseMs: number): Promise<() => Promise<void>> {
  const identity = { ...me, dataDir: realpathSync(me.dataDir) };
  // Register first, then look: of two instances starting together, at least one sees the other.
  await coordination.registerInstance(identity, leaseMs);
  const others = (await coordination.liveInstances()).filter((other) => other.id !== identity.id);
  for (const other of others) {
    const conflict = instanceConflict(identity, other);
    if (conflict) {
      await coordination.removeInstance(identity.id);
      throw createError('CONFLICT', `this instance may not join the running ones: ${conflict}`, { details: { other: other.id } });
    }
  }
  return () => coordination.removeInstance(identity.id);
}
