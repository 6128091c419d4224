/**
 * `dreamcore-modal migrate-v1 <volume>... | --all` (`npm run modal:migrate-v1 -- ...`): moves v1 volumes to v2, which
 * the backend requires (on v1 nothing is durable until the sandbox that wrote it ends). Modal cannot change a
 * volume's version, so each one is copied:
 *
 * 1. the user's sandbox (named like the volume) is ended, which commits what it wrote to the v1 volume;
 * 2. a new v2 volume `<name>.v2` is filled from the old one inside a sandbox (`cp -a`, `sync`), and the copy is
 *    verified file by file (sha256 of every file, both sides);
 * 3. the old volume is renamed `<name>.v1` (kept: nothing is deleted) and the new one takes the name.
 *
 * Safe to run again: a volume that is already v2 is skipped. Run it while the server is stopped, or at least while
 * the users concerned are not working (a sandbox started between steps 1 and 3 would write to the old volume).
 */
import type { ModalClient, Volume } from 'modal';
import { createError, isUuid } from '@dreamcore/runtime-core';
import { createModalClient, errorClass, execText, modalFailure, withDeadline } from './client.js';
import { resolveModalConfig, type ModalBackendOptions, type ResolvedModalConfig } from './config.js';
import { imageSpec } from './images.js';
import { listVolumes } from './volume-list.js';

export interface MigrateV1Options extends ModalBackendOptions {
  /** Volume names to migrate; or `all` for every v1 volume of this deployment (user volumes and skills). */
  volumes: string[] | 'all';
  onStep?: (line: string) => void;
}

export interface MigrateV1Report {
  migrated: { name: string; files: number; backup: string }[];
  skipped: { name: string; why: string }[];
}

export async function migrateV1Volumes(options: MigrateV1Options, env: NodeJS.ProcessEnv = process.env): Promise<MigrateV1Report> {
  const config = resolveModalConfig(options, env);
  const say = options.onStep ?? (() => undefined);
  const { client } = await createModalClient(config);
  const scope = config.environment ? { environment: config.environment } : {};
  const report: MigrateV1Report = { migrated: [], skipped: [] };
  try {
    const names = options.volumes === 'all' ? await v1VolumesOfDeployment(client, config) : options.volumes;
    for (const name of names) {
      const old = await client.volumes.fromName(name, { version: 1, ...scope }).catch((error: unknown) => {
        if (errorClass(error) === 'InvalidError') return 'v2' as const;
        if (errorClass(error) === 'NotFoundError') return 'missing' as const;
        throw modalFailure(error, `looking up ${name}`);
      });
      if (old === 'v2' || old === 'missing') {
        report.skipped.push({ name, why: old === 'v2' ? 'already v2' : 'no such volume' });
        say(`${name}: ${old === 'v2' ? 'already v2, nothing to do' : 'no such volume'}`);
        continue;
      }
      const files = await migrateOne(client, config, name, old);
      report.migrated.push({ name, files, backup: `${name}.v1` });
      say(`${name}: moved to v2 (${files} files, verified); the v1 volume is kept as ${name}.v1`);
    }
    return report;
  } finally {
    client.close();
  }
}

/** This deployment's v1 volumes: user volumes (`<prefix><uuid>`) and the skills volume. */
async function v1VolumesOfDeployment(client: ModalClient, config: ResolvedModalConfig): Promise<string[]> {
  const isUserVolume = (name: string) => name.startsWith(config.volumePrefix) && isUuid(name.slice(config.volumePrefix.length));
  return (await listVolumes(client, config)).filter((v) => v.version === 1 && (isUserVolume(v.name) || v.name === config.skillsVolume)).map((v) => v.name);
}

async function migrateOne(client: ModalClient, config: ResolvedModalConfig, name: string, old: Volume): Promise<number> {
  const scope = config.environment ? { environment: config.environment } : {};
  const { rpcMs, commandMs, sandboxStartMs } = config.deadlines;
  // 1. End the user's sandbox: a v1 volume commits when its sandbox ends.
  const running = await client.sandboxes.fromName(config.appName, name, scope).catch(() => undefined);
  if (running) {
    await withDeadline(rpcMs, 'ending the user sandbox', () => running.terminate());
    await withDeadline(sandboxStartMs, 'waiting for the user sandbox to end', () => running.wait());
  }
  // 2. Copy into a fresh v2 volume and verify.
  const fresh = await client.volumes.fromName(`${name}.v2`, { createIfMissing: true, version: 2, ...scope });
  const app = await client.apps.fromName(config.appName, { createIfMissing: true, ...scope });
  const image = await client.images.fromName(imageSpec(config, 'user').name, scope);
  const sandbox = await withDeadline(sandboxStartMs, 'starting the migration sandbox', () =>
    client.sandboxes.create(app, image, {
      tags: { app: 'dreamcore', role: 'migrate' },
      volumes: { '/old': old.withMountOptions({ readOnly: true }), '/new': fresh },
      blockNetwork: true,
      timeoutMs: 3600_000,
    }),
  );
  try {
    const sums = (dir: string) => `(cd ${dir} && find . -type f -print0 | xargs -0 -r sha256sum | LC_ALL=C sort)`;
    const script = `set -e; rm -rf /new/..?* /new/.[!.]* /new/* ; cp -a /old/. /new/; sync /new; ${sums('/old')} > /tmp/old; ${sums('/new')} > /tmp/new; cmp -s /tmp/old /tmp/new || { echo "copy differs" >&2; exit 3; }; wc -l < /tmp/old`;
    const r = await execText(sandbox, ['sh', '-c', script], { timeoutMs: Math.max(commandMs, 3600_000), rpcMs });
    if (r.exitCode !== 0) throw createError('INTERNAL', `copying ${name} to v2 failed: ${r.stderr.trim().slice(0, 300)}`);
    const files = Number(r.stdout.trim()) || 0;
    // 3. Swap the names; the old volume stays as a backup.
    await withDeadline(rpcMs, 'renaming the v1 volume', () => client.cpClient.volumeRename({ volumeId: old.volumeId, name: `${name}.v1` }));
    await withDeadline(rpcMs, 'renaming the v2 volume', () => client.cpClient.volumeRename({ volumeId: fresh.volumeId, name }));
    return files;
  } finally {
    await withDeadline(rpcMs, 'ending the migration sandbox', () => sandbox.terminate()).catch(() => undefined);
  }
}
