/**
 * Issue 2 figures: local files against raw fs.promises, local git against the plain git CLI doing the same work.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promises as fs, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createLocalBackend, scopeRoot } from '@dreamcore/backend-local';
import { GIT_ENV } from '@dreamcore/runtime-core';
import { compare, section, type Measurement } from './lib.js';

const run = promisify(execFile);

export async function benchFilesAndGit(): Promise<Measurement[]> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-local-'));
  const rawDir = mkdtempSync(path.join(tmpdir(), 'bench-raw-'));
  const backend = createLocalBackend({ dataDir });
  const scope = { userId: randomUUID(), projectId: randomUUID() };
  const out: Measurement[] = [];
  try {
    section('files (local backend vs raw fs.promises on the same disk)');
    for (const [label, size, iterations] of [
      ['4 KB', 4096, 400],
      ['1 MB', 1024 * 1024, 60],
    ] as const) {
      const data = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
      await backend.files.write(scope, `w-${size}.bin`, data);
      await fs.writeFile(path.join(rawDir, `w-${size}.bin`), data);
      out.push(
        await compare(
          `files.write ${label}`,
          'fs.promises.writeFile',
          () => backend.files.write(scope, `w-${size}.bin`, data),
          () => fs.writeFile(path.join(rawDir, `w-${size}.bin`), data),
          { iterations, goal: 1.3 },
        ),
      );
      out.push(
        await compare(
          `files.read ${label}`,
          'fs.promises.readFile',
          () => backend.files.read(scope, `w-${size}.bin`),
          () => fs.readFile(path.join(rawDir, `w-${size}.bin`)),
          { iterations, goal: 1.3 },
        ),
      );
    }

    section('git (local backend vs the git CLI running the same commands: add, commit, rev-parse, log)');
    await backend.git.init(scope);
    const rawRepo = path.join(rawDir, 'repo');
    await fs.mkdir(rawRepo);
    const env = { ...process.env, ...GIT_ENV };
    const git = (args: string[]) => run('git', args, { cwd: rawRepo, env, encoding: 'buffer' });
    await git(['init', '-q']);
    await fs.writeFile(path.join(rawRepo, 'index.html'), 'x');
    await git(['add', '-A']);
    await git(['commit', '-q', '-m', 'init']);
    let n = 0;
    out.push(
      await compare(
        'git.commit + git.log (20)',
        'git add/commit/rev-parse/log',
        async () => {
          await backend.files.write(scope, 'index.html', `v${++n}`);
          await backend.git.commit(scope, `change ${n}`);
          await backend.git.log(scope, { limit: 20 });
        },
        async () => {
          await fs.writeFile(path.join(rawRepo, 'index.html'), `v${++n}`);
          await git(['add', '-A']);
          await git(['commit', '-q', '-m', `change ${n}`]);
          await git(['rev-parse', 'HEAD']);
          await git(['log', '-z', '--name-only', '--max-count=21', '--format=%x1e%H%x1f%P%x1f%aI%x1f%an%x1f%B%x1f', 'HEAD', '--']);
        },
        { iterations: 40, goal: 1.2 },
      ),
    );
    void scopeRoot;
  } finally {
    await backend.close();
    await fs.rm(dataDir, { recursive: true, force: true });
    await fs.rm(rawDir, { recursive: true, force: true });
  }
  return out;
}
