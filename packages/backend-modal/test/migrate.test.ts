/**
 * The production move and its rollback, on the emulator: local → Modal → local with the migration library. The
 * result on the second local backend must be identical to the first (every commit hash, message and order, every
 * file), a second run must copy nothing, and the Modal copy must verify against the source.
 */
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLocalBackend } from '@dreamcore/backend-local';
import { migrate } from '@dreamcore/runtime-core/migrate';
import { generateMigrationDataset, type MigrationDataset } from '@dreamcore/runtime-core/testkit';
import { emulatorPrerequisites, startModalEmulator, type ModalEmulator } from '../src/emulator/index.js';
import { createModalBackend, type ModalBackend } from '../src/index.js';
import { deployForTests } from './support/emulated.js';

const prerequisites = emulatorPrerequisites();
let emulator: ModalEmulator;
let modal: ModalBackend;
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

beforeAll(async () => {
  if (!prerequisites.ok) return;
  emulator = await startModalEmulator();
  process.env.MODAL_CONFIG_PATH = path.join(emulator.stateDir, 'no-modal.toml');
  await deployForTests(emulator, 'migrate-test');
  const env = emulator.clientEnv();
  modal = createModalBackend({
    serverUrl: env.MODAL_SERVER_URL,
    tokenId: env.MODAL_TOKEN_ID,
    tokenSecret: env.MODAL_TOKEN_SECRET,
    appName: 'migrate-test',
    log: () => undefined,
  });
}, 300_000);

afterAll(async () => {
  await modal?.close();
  await emulator?.close();
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
}, 60_000);

it.skipIf(!prerequisites.ok)(
  'local → modal → local yields identical trees and histories; a rerun copies nothing',
  async () => {
    const a = createLocalBackend({ dataDir: tempDir('migrate-a-') });
    const c = createLocalBackend({ dataDir: tempDir('migrate-c-') });
    const data: MigrationDataset = await generateMigrationDataset(a, {
      users: 2,
      projectsPerUser: 2,
      commitsPerProject: 3,
      assetsPerUser: 2,
      movieBytes: 300_000,
    });

    const there = await migrate({ from: a, to: modal, users: data.users, concurrency: 2 });
    expect(there.failed).toEqual([]);
    expect(there.copied).toBeGreaterThan(0);
    const back = await migrate({ from: modal, to: c, users: data.users, concurrency: 2 });
    expect(back.failed).toEqual([]);

    // A ≡ C and A ≡ Modal, checked by the library's own compare (commit lists with hashes, messages, order; file hashes).
    const aVsC = await migrate({ from: a, to: c, users: data.users, verifyOnly: true });
    expect(aVsC.failed).toEqual([]);
    expect(aVsC.skipped).toBe(aVsC.projects + aVsC.assetSpaces);
    const aVsModal = await migrate({ from: a, to: modal, users: data.users, verifyOnly: true });
    expect(aVsModal.failed).toEqual([]);

    // Independent spot checks: the restored project's history, byte for byte.
    const logA = (await a.git.log(data.restored, { limit: 500 })).commits.map((x) => [x.hash, x.message]);
    const logC = (await c.git.log(data.restored, { limit: 500 })).commits.map((x) => [x.hash, x.message]);
    expect(logC).toEqual(logA);
    expect(logA[0]![1]).toMatch(/^Restore/);

    const rerun = await migrate({ from: a, to: modal, users: data.users });
    expect(rerun.copied).toBe(0);
    expect(rerun.failed).toEqual([]);
    await a.close();
    await c.close();
  },
  600_000,
);
