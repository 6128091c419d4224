import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG = 'scripts/test-env-fixture/vitest.config.mjs';
const VITEST = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

/** Runs the fixture's two files in one worker; `withSetup` false leaves out scripts/test-env.ts. */
async function runFixture(withSetup: boolean): Promise<{ exitCode: number; output: string; pids: string[] }> {
  // The nested vitest must not take this run's worker settings for its own.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST')));
  env.WITH_TEST_ENV = withSetup ? '1' : '0';
  delete env.FORCE_COLOR;
  env.NO_COLOR = '1';
  let exitCode = 0;
  let output: string;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [VITEST, 'run', '-c', CONFIG, '--reporter=verbose'], { cwd: ROOT, env });
    output = stdout + stderr;
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    exitCode = failed.code ?? -1;
    output = `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
  }
  return { exitCode, output, pids: [...output.matchAll(/ran in process (\d+)/g)].map((match) => match[1]!) };
}

describe('test files sharing a worker process (vitest.config.ts: isolate: false)', () => {
  it('each file starts with the environment as it was before the other file ran (scripts/test-env.ts)', async () => {
    const shared = await runFixture(true);
    expect(shared.output).toContain('2 passed');
    expect(shared.exitCode).toBe(0);
    // Both files ran, in one process: otherwise this would prove nothing about sharing.
    expect(shared.pids).toHaveLength(2);
    expect(new Set(shared.pids).size).toBe(1);

    // The same two files without the setup file: the second one sees the first one's variable.
    const leaking = await runFixture(false);
    expect(leaking.pids).toHaveLength(2);
    expect(new Set(leaking.pids).size).toBe(1);
    expect(leaking.output).toContain('1 failed');
    // ... and it fails for that reason, not another.
    expect(leaking.output).toMatch(/expected 'set by the (first|second) file' to be undefined/);
    expect(leaking.exitCode).toBe(1);
  }, 60_000);
});
