/**
 * Benchmark helpers: every figure is a ratio against a baseline measured in the same run, because this
 * machine is shared and noisy. Absolute times are printed as context only.
 */
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
