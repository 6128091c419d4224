/**
 * Benchmark helpers: every figure is a ratio against a baseline measured in the same run, because this
 * machine is shared and noisy. Absolute times are printed as context only.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface Measurement {
  name: string;
  baseline: string;
  ours: number; // median ms
  base: number; // median ms
  ratio: number;
  goal?: number;
  unit?: string;
}

export async function medianMs(fn: () => Promise<unknown>, iterations: number, warmup = Math.min(5, iterations)): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/**
 * Measures ours and the baseline interleaved in rounds (A B A B ...) so drift on a shared machine hits both alike.
 */
export async function compare(
  name: string,
  baseline: string,
  ours: () => Promise<unknown>,
  base: () => Promise<unknown>,
  { iterations = 50, rounds = 5, goal }: { iterations?: number; rounds?: number; goal?: number } = {},
): Promise<Measurement> {
  const o: number[] = [];
  const b: number[] = [];
  const per = Math.max(1, Math.round(iterations / rounds));
  for (let r = 0; r < rounds; r++) {
    b.push(await medianMs(base, per, r === 0 ? 3 : 0));
    o.push(await medianMs(ours, per, r === 0 ? 3 : 0));
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const m = { name, baseline, ours: med(o), base: med(b), ratio: med(o) / med(b), goal };
  report(m);
  return m;
}

export function report(m: Measurement): void {
  const goal = m.goal === undefined ? '' : `  goal ≤ ${m.goal}×  ${m.ratio <= m.goal ? 'met' : 'NOT met'}`;
  console.log(
    `  ${m.name.padEnd(44)} ${m.ours.toFixed(3).padStart(9)} ms vs ${m.base.toFixed(3).padStart(9)} ms (${m.baseline})  ratio ${m.ratio.toFixed(2)}×${goal}`,
  );
}

export function section(title: string): void {
  console.log(`\n== ${title}`);
}

const CLK_TCK = 100; // Linux USER_HZ

/** Every live process below `root`, from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    for (const child of children.get(stack.pop()!) ?? []) {
      out.push(child);
      stack.push(child);
    }
  }
  return out;
}

/**
 * CPU time and memory of this process and everything below it, sampled from /proc. Each process's own user + system
 * ticks are followed while it lives (a parent's "reaped children" totals are not used: chromium's zygote and
 * sandbox helpers do not hand their children's time up the tree, so those totals undercount badly). A process that
 * starts and ends between two samples is missed; here that is only Remotion's short final remux.
 */
export class TreeMeter {
  private readonly ticks = new Map<number, { first: number; last: number }>();
  private started = false;
  peakPssKb = 0;

  sample(): void {
    let pssKb = 0;
    for (const pid of [process.pid, ...descendants(process.pid)]) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (fields[0] === 'Z') continue; // exited: its last live sample stands
        const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
        const seen = this.ticks.get(pid);
        if (seen) seen.last = Math.max(seen.last, ticks);
        else this.ticks.set(pid, { first: this.started ? 0 : ticks, last: ticks });
        pssKb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
      } catch {
        // exited while we looked
      }
    }
    this.peakPssKb = Math.max(this.peakPssKb, pssKb);
  }

  /** Zero point: processes alive now count from their current time, later ones from their start. */
  start(): void {
    this.ticks.clear();
    this.started = false;
    this.sample();
    this.started = true;
  }

  cpuMs(): number {
    this.sample();
    let total = 0;
    for (const { first, last } of this.ticks.values()) total += last - first;
    return (total * 1000) / CLK_TCK;
  }
}
