/**
 * The order `npm test` starts its files in: the longest first, so the parallel workers finish together instead of
 * one of them starting a long file at the end.
 *
 * After a run vitest knows every file's duration (its cache) and that order is used. A fresh clone (CI) has no cache,
 * so a file's length is estimated from what it starts: a whole conformance suite, a browser, a Modal emulator, a
 * server, the Claude CLI. New test files are ranked the same way without being listed anywhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** What makes a test file long (weights: roughly seconds on a 2-core machine, measured one file at a time). */
const COSTS: [RegExp, number][] = [
  [/runConformanceSuite\(/, 60], // every capability's cases on one backend
  [/launchChromium\(|chromium\.launch\(/, 50], // pages in a real browser, agent runs behind them
  [/startModalEmulator\(|emulatorLane|withEmulator|emulated\b/, 25], // sandboxes are processes: every call execs
  [/startCluster\(/, 30], // PostgreSQL and three server processes
  [/startHarness\(|startServer\(|spawn\([^)]*cli\.ts/, 15], // a server with its database
  [/fc\.assert\(|fast-check/, 15], // property runs
  [/startModelServer\(|runClaude\(|demoScript|createDemoScript\(/, 10], // the real Claude CLI
  [/startPg15Stack\(|openPgliteDatabase\(/, 10], // a database of its own
  [/'--import',\s*'tsx'/, 10], // a program of ours started as a process
];

/** A test file's source with the sources of the files it imports by a relative path (its shared cases, its kit). */
function sourceWithHelpers(file: string): string {
  const source = readFileSync(file, 'utf8');
  const helpers = [...source.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)].map((match) => path.resolve(path.dirname(file), `${match[1]}.ts`));
  return [source, ...helpers.map((helper) => (existsSync(helper) ? readFileSync(helper, 'utf8') : ''))].join('\n');
}

export function estimatedCost(source: string): number {
  return COSTS.reduce((sum, [pattern, cost]) => sum + (pattern.test(source) ? cost : 0), 0) + source.length / 4_000;
}

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const key = (file: TestSpecification) => `${file.project.name}:${path.relative(this.ctx.config.root, file.moduleId)}`;
    if (files.every((file) => cache.getFileTestResults(key(file)))) return super.sort(files);
    const cost = new Map(files.map((file) => [file, estimatedCost(sourceWithHelpers(file.moduleId))]));
    return [...files].sort((a, b) => cost.get(b)! - cost.get(a)!);
  }
}
