/**
 * Which backends may run on several instances, checked when an instance joins (server/src/instances.ts): Modal
 * anywhere; local only on one machine with one DATA_DIR; never local beside Modal. A refused instance leaves the
 * registry as it found it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isBackendError } from '@dreamcore/runtime-core';
import type { Coordination, InstanceRecord } from '../src/db/repository.js';
import { instanceConflict, joinInstances } from '../src/instances.js';
import { withServerReadCache } from '../src/backend.js';
import { createMemoryBackend } from '@dreamcore/runtime-core/testkit';

const dir = mkdtempSync(path.join(tmpdir(), 'dreamcore-instances-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function registry(existing: Omit<InstanceRecord, 'startedAt' | 'expiresAt'>[]) {
  const live = new Map(existing.map((i) => [i.id, { ...i, startedAt: '', expiresAt: '' }]));
  const coordination = {
    async registerInstance(instance: Omit<InstanceRecord, 'startedAt' | 'expiresAt'>) {
      live.set(instance.id, { ...instance, startedAt: '', expiresAt: '' });
    },
    async liveInstances() {
      return [...live.values()];
    },
    async removeInstance(id: string) {
      live.delete(id);
    },
  } as unknown as Coordination;
  return { coordination, live };
}

describe('instances', () => {
  const local = { backend: 'local', host: 'm1', dataDir: '/data' };
  it('the rule: Modal anywhere, local on one machine and one data dir, no mixing', () => {
    expect(instanceConflict({ id: 'a', backend: 'modal', host: 'm1', dataDir: '/x' }, { id: 'b', backend: 'modal', host: 'm2', dataDir: '/y' })).toBeNull();
    expect(instanceConflict({ id: 'a', ...local }, { id: 'b', ...local })).toBeNull();
    expect(instanceConflict({ id: 'a', ...local }, { id: 'b', ...local, host: 'm2' })).toMatch(/EXECUTION_BACKEND=modal/);
    expect(instanceConflict({ id: 'a', ...local }, { id: 'b', ...local, dataDir: '/other' })).toMatch(/share DATA_DIR/);
    expect(instanceConflict({ id: 'a', backend: 'modal', host: 'm1', dataDir: '/data' }, { id: 'b', ...local })).toMatch(/one backend/);
  });

  it('joining: allowed beside a compatible instance (and leaving unregisters); refused beside another, which stays', async () => {
    const { coordination, live } = registry([{ id: 'first', backend: 'local', host: 'm1', dataDir: dir }]);
    const leave = await joinInstances(coordination, { id: 'second', backend: 'local', host: 'm1', dataDir: dir }, 1000);
    expect([...live.keys()]).toEqual(['first', 'second']);
    await leave();
    expect([...live.keys()]).toEqual(['first']);

    const refused = await joinInstances(coordination, { id: 'third', backend: 'local', host: 'm2', dataDir: dir }, 1000).catch((e: unknown) => e);
    expect(isBackendError(refused, 'CONFLICT')).toBe(true);
    expect((refused as Error).message).toMatch(/first.*m1|m1.*first/);
    expect([...live.keys()]).toEqual(['first']);
  });
});

describe('the read cache on several instances (server/src/backend.ts)', () => {
  const scope = { userId: '6f1c1d2e-0000-4000-8000-000000000001', projectId: '6f1c1d2e-0000-4000-8000-000000000002' };
  /** Two instances over one storage (one Modal volume, one shared DATA_DIR): each with the backend the server would use. */
  async function twoInstances(shared: boolean) {
    const storage = createMemoryBackend();
    const [a, b] = [withServerReadCache({ shared, READ_CACHE_MB: 64 }, storage), withServerReadCache({ shared, READ_CACHE_MB: 64 }, storage)];
    await a.files.write(scope, 'index.html', 'v1');
    expect(await b.files.readText(scope, 'index.html')).toBe('v1');
    await a.files.write(scope, 'index.html', 'v2');
    return b.files.readText(scope, 'index.html');
  }

  it('is off with DATABASE_URL: what one instance wrote is what another reads next', async () => {
    expect(await twoInstances(true)).toBe('v2');
  });

  it('is on for one instance (and would be stale across two, which is why it is off then)', async () => {
    expect(await twoInstances(false)).toBe('v1');
    const storage = createMemoryBackend();
    expect(withServerReadCache({ shared: false, READ_CACHE_MB: 0 }, storage)).toBe(storage);
  });
});
