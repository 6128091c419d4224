/**
 * Issue 8 figures: migration throughput (projects per minute, MB/s) of `@dreamcore/runtime-core/migrate` local → local
 * on a generated data set, against copying the same data directory with fs.cp (the floor: bytes on disk, no checks).
 * A second run over the finished target measures the "nothing to do" pass (compare only).
 *
 * `benchMigrate({ targets })` takes other targets, e.g. the Modal backend on the emulator with a 50 ms RPC delay:
 *
 *   await benchMigrate({ targets: [{ name: 'modal-emulator (50 ms RPC)', make: async () => { … } }] });
 *
 * Standalone: node --conditions=source --import tsx bench/migrate.ts
 */
import { promises as fs, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalBackend } from '@dreamcore/backend-local';
import type { ExecutionBackend } from '@dreamcore/runtime-core';
import { formatBytes, migrate, type MigrateSummary } from '@dreamcore/runtime-core/migrate';
import { generateMigrationDataset } from '@dreamcore/runtime-core/testkit';
import { report, section, type Measurement } from './lib.js';

export interface MigrateBenchTarget {
  name: string;
  /** A fresh, empty target backend. */
  make(): Promise<{ backend: ExecutionBackend; dispose(): Promise<void> }>;
}

export interface MigrateBenchOptions {
  users?: number;
  projectsPerUser?: number;
  commitsPerProject?: number;
  concurrency?: number;
  /** Targets besides local (which is always measured first, as the baseline figure). */
  targets?: MigrateBenchTarget[];
}

export interface MigrateThroughput extends Measurement {
  projects: number;
  /** Working-tree bytes plus history (bundle) bytes moved. */
  bytes: number;
  projectsPerMinute: number;
  mbPerSecond: number;
  /** The second, nothing-to-do run. */
  identicalRunMs: number;
}

async function du(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    total += entry.isDirectory() ? await du(abs) : (await fs.lstat(abs)).size;
  }
  return total;
}

export async function benchMigrate(options: MigrateBenchOptions = {}): Promise<MigrateThroughput[]> {
  const temp: string[] = [];
  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    temp.push(dir);
    return dir;
  };
  const out: MigrateThroughput[] = [];
  try {
    section('migration (runtime-core/migrate: bundles + files + verification, vs fs.cp of the data directory)');
    const source = createLocalBackend({ dataDir: tempDir('bench-migrate-src-') });
    const data = await generateMigrationDataset(source, {
      users: options.users ?? 3,
      projectsPerUser: options.projectsPerUser ?? 4,
      commitsPerProject: options.commitsPerProject ?? 4,
      movieBytes: 4_000_000,
    });
    const onDisk = await du(source.dataDir);
    console.log(`  data set: ${data.users.length} users, ${data.projects.length} projects, ${data.commits} commits, ${formatBytes(onDisk)} on disk`);

    const t0 = process.hrtime.bigint();
    await fs.cp(source.dataDir, tempDir('bench-migrate-cp-'), { recursive: true });
    const cpMs = Number(process.hrtime.bigint() - t0) / 1e6;

    const local: MigrateBenchTarget = {
      name: 'local → local',
      async make() {
        const backend = createLocalBackend({ dataDir: tempDir('bench-migrate-dst-') });
        return { backend, dispose: () => backend.close() };
      },
    };
    for (const target of [local, ...(options.targets ?? [])]) {
      const { backend, dispose } = await target.make();
      try {
        const run = async (): Promise<[number, MigrateSummary]> => {
          const start = process.hrtime.bigint();
          const summary = await migrate({ from: source, to: backend, users: data.users, concurrency: options.concurrency ?? 4 });
          if (summary.failed.length) throw new Error(`bench migration failed: ${JSON.stringify(summary.failed)}`);
          return [Number(process.hrtime.bigint() - start) / 1e6, summary];
        };
        const [ms, summary] = await run();
        const [identicalRunMs] = await run();
        const bytes = summary.sourceBytes + summary.historyBytes;
        const m: MigrateThroughput = {
          name: `migrate ${target.name} (${data.projects.length} projects)`,
          baseline: 'fs.cp of the data dir',
          ours: ms,
          base: cpMs,
          ratio: ms / cpMs,
          unit: 'ms',
          projects: data.projects.length,
          bytes,
          projectsPerMinute: data.projects.length / (ms / 60_000),
          mbPerSecond: bytes / 1024 / 1024 / (ms / 1000),
          identicalRunMs,
        };
        report(m);
        console.log(
          `    ${m.projectsPerMinute.toFixed(0)} projects/min, ${m.mbPerSecond.toFixed(2)} MB/s (${formatBytes(bytes)}: trees + bundles); ` +
            `second run (nothing to copy) ${identicalRunMs.toFixed(0)} ms`,
        );
        out.push(m);
      } finally {
        await dispose();
      }
    }
  } finally {
    await Promise.all(temp.map((d) => fs.rm(d, { recursive: true, force: true })));
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await benchMigrate();
}
