/**
 * The game check (checkGame after every agent turn): chromium kept open between checks (the local backend's pool,
 * @dreamcore/media browser-pool.ts) against chromium launched for each check and closed after it, as the check did
 * before. Interleaved rounds (baseline, ours, …) so a busy neighbour hits both alike. Reported: the median wall time
 * of a check (the user's wait), and as context the CPU this process and everything it started spent per check.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
// Relative, not the package's demo export: `npm run bench` may run without the "source" condition.
import { buildGame } from '../packages/runtime-core/src/demo/games.js';
import { ChromiumPool, checkGameFolder, defaultBrowserExecutable } from '../packages/media/src/index.js';
import { report, section, TreeMeter, type Measurement } from './lib.js';

const ROUNDS = Number(process.env.BENCH_CHECK_ROUNDS) || 6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchCheck(): Promise<Measurement[]> {
  section('checkGame: chromium kept open between checks vs launched for each check');
  const browserExecutable = defaultBrowserExecutable();
  if (!browserExecutable) {
    console.log('  skipped: no chromium (npm run setup installs it)');
    return [];
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-check-'));
  writeFileSync(path.join(dir, 'index.html'), buildGame('shooter', { title: 'Bench Shooter' }));
  const pool = new ChromiumPool();
  const figures = { ours: { ms: [] as number[], cpu: [] as number[] }, base: { ms: [] as number[], cpu: [] as number[] } };
  let meter: TreeMeter | undefined;
  // Chromium's processes live for most of a check; sampled often, little of their time falls between two samples.
  const sampler = setInterval(() => meter?.sample(), 50);
  const once = async (which: 'ours' | 'base') => {
    meter = new TreeMeter();
    meter.start();
    const started = performance.now();
    const result = await checkGameFolder(dir, { browserExecutable, ...(which === 'ours' ? { browsers: pool } : {}) });
    const ms = performance.now() - started;
    if (!result.passed) throw new Error(`the bench game failed its check: ${JSON.stringify(result)}`);
    figures[which].ms.push(ms);
    figures[which].cpu.push(meter.cpuMs());
    meter = undefined;
  };
  try {
    // Warm-up: the first check of ours launches the pool's chromium (a server's first check after an idle spell).
    await once('ours');
    figures.ours = { ms: [], cpu: [] };
    for (let round = 0; round < ROUNDS; round++) {
      await once('base');
      await once('ours');
    }
  } finally {
    clearInterval(sampler);
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const measured = (name: string, ours: number[], base: number[]): Measurement => {
    const m = { name, baseline: 'chromium launched per check', ours: median(ours), base: median(base), ratio: median(ours) / median(base) };
    report(m);
    return m;
  };
  return [
    measured('game check (wall)', figures.ours.ms, figures.base.ms),
    measured('game check (CPU of this process tree)', figures.ours.cpu, figures.base.cpu),
  ];
}
