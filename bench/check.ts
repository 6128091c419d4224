/**
 * The game check (checkGame after every agent turn), two comparisons, each in interleaved rounds (baseline, ours, …)
 * so a busy neighbour hits both alike:
 * - chromium kept open between checks (the local backend's pool, @dreamcore/media browser-pool.ts) against chromium
 *   launched for each check and closed after it, as the check did before;
 * - Debian's chromium-headless-shell (what @dreamcore/media picks first) against full chromium in headless mode, both
 *   kept open in a pool.
 * Reported: the median wall time of a check (the user's wait), and the CPU this process and everything it started
 * spent per check.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
// Relative, not the package's demo export: `npm run bench` may run without the "source" condition.
import { buildGame } from '../packages/runtime-core/src/demo/games.js';
import { ChromiumPool, checkGameFolder, defaultBrowserExecutable, installedChromium, type GameCheckOptions } from '../packages/media/src/index.js';
import { report, section, TreeMeter, type Measurement } from './lib.js';

const ROUNDS = Number(process.env.BENCH_CHECK_ROUNDS) || 6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Figures = { ms: number[]; cpu: number[] };

/** Checks `dir` with `base` then `ours`, `ROUNDS` times, after one warm-up check of each (a pool's launch). */
async function interleaved(dir: string, base: GameCheckOptions, ours: GameCheckOptions): Promise<{ base: Figures; ours: Figures }> {
  const figures = { base: { ms: [] as number[], cpu: [] as number[] }, ours: { ms: [] as number[], cpu: [] as number[] } };
  let meter: TreeMeter | undefined;
  // Chromium's processes live for most of a check; sampled often, little of their time falls between two samples.
  const sampler = setInterval(() => meter?.sample(), 50);
  const once = async (which: 'base' | 'ours', record = true) => {
    meter = new TreeMeter();
    meter.start();
    const started = performance.now();
    const result = await checkGameFolder(dir, which === 'ours' ? ours : base);
    const ms = performance.now() - started;
    if (!result.passed) throw new Error(`the bench game failed its check: ${JSON.stringify(result)}`);
    if (record) {
      figures[which].ms.push(ms);
      figures[which].cpu.push(meter.cpuMs());
    }
    meter = undefined;
  };
  try {
    await once('base', false);
    await once('ours', false);
    for (let round = 0; round < ROUNDS; round++) {
      await once('base');
      await once('ours');
    }
  } finally {
    clearInterval(sampler);
  }
  return figures;
}

function measured(name: string, baseline: string, ours: number[], base: number[]): Measurement {
  const m = { name, baseline, ours: median(ours), base: median(base), ratio: median(ours) / median(base) };
  report(m);
  return m;
}

export async function benchCheck(): Promise<Measurement[]> {
  const browserExecutable = defaultBrowserExecutable();
  if (!browserExecutable) {
    section('checkGame');
    console.log('  skipped: no chromium (npm run setup installs it)');
    return [];
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-check-'));
  writeFileSync(path.join(dir, 'index.html'), buildGame('shooter', { title: 'Bench Shooter' }));
  const results: Measurement[] = [];
  // Each comparison's pools are closed before the next starts: an open browser's idle time would count in the next.
  const pools: ChromiumPool[] = [];
  const pool = () => {
    const made = new ChromiumPool();
    pools.push(made);
    return made;
  };
  const closePools = () => Promise.all(pools.splice(0).map((made) => made.close()));
  try {
    section('checkGame: chromium kept open between checks vs launched for each check');
    const kept = await interleaved(dir, { browserExecutable }, { browserExecutable, browsers: pool() });
    await closePools();
    const launched = 'chromium launched per check';
    results.push(measured('game check (wall)', launched, kept.ours.ms, kept.base.ms));
    results.push(measured('game check (CPU of this process tree)', launched, kept.ours.cpu, kept.base.cpu));

    section("checkGame: Debian's chromium-headless-shell vs full chromium (both kept open)");
    const shell = installedChromium('headless-shell');
    const full = installedChromium('full');
    if (!shell || !full) {
      console.log(`  skipped: needs both (found ${shell ?? 'no headless shell'}, ${full ?? 'no full chromium'}; npm run setup installs them)`);
    } else {
      const lighter = await interleaved(dir, { browserExecutable: full, browsers: pool() }, { browserExecutable: shell, browsers: pool() });
      const fullName = 'full chromium, headless';
      results.push(measured('game check on the headless shell (wall)', fullName, lighter.ours.ms, lighter.base.ms));
      results.push(measured('game check on the headless shell (CPU of this process tree)', fullName, lighter.ours.cpu, lighter.base.cpu));
    }
  } finally {
    await closePools();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
