/**
 * The parity rule, checked on every `npm test`: the conformance cases that pass on the Modal backend are exactly those
 * that pass on the local one ("behaves identically" means the same passing case names, not the same count).
 *
 * It compares block by block (files, git, runClaude, ...) and only blocks both lanes ran, so a run of one file, or of
 * half a split suite, compares what it can. A difference fails the run and names the cases.
 */
import type { Reporter, TestModule } from 'vitest/node';

const LANES = ['local', 'modal'] as const;

export interface ConformanceCase {
  /** `conformance: <lane> > <block> > ... > <case>` */
  fullName: string;
  state: 'passed' | 'failed' | 'skipped' | 'pending';
}

/** The parity problems in a run's conformance cases: one line per case that passes on one lane and not the other. */
export function parityDifferences(cases: Iterable<ConformanceCase>): string[] {
  // lane → block → names of passing cases (and the blocks that ran at all)
  const passing = new Map<string, Map<string, Set<string>>>(LANES.map((lane) => [lane, new Map()]));
  for (const { fullName, state } of cases) {
    const [suite, block, ...rest] = fullName.split(' > ');
    const lane = LANES.find((name) => suite === `conformance: ${name}`);
    if (!lane || !block || rest.length === 0) continue;
    const blocks = passing.get(lane)!;
    if (!blocks.has(block)) blocks.set(block, new Set());
    if (state === 'passed') blocks.get(block)!.add(`${block} > ${rest.join(' > ')}`);
  }
  const local = passing.get('local')!;
  const modal = passing.get('modal')!;
  const problems: string[] = [];
  for (const [block, localNames] of local) {
    const modalNames = modal.get(block);
    if (!modalNames) continue; // the run did not include this block on Modal
    for (const name of localNames) if (!modalNames.has(name)) problems.push(`passes on local only: ${name}`);
    for (const name of modalNames) if (!localNames.has(name)) problems.push(`passes on modal only: ${name}`);
  }
  return problems;
}

export default class ParityReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const cases: ConformanceCase[] = [];
    for (const module of modules) for (const test of module.children.allTests()) cases.push({ fullName: test.fullName, state: test.result().state });
    const problems = parityDifferences(cases);
    if (problems.length === 0) return;
    console.error(`\nparity: the conformance lanes differ (${problems.length}):\n  ${problems.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}
