/**
 * `npm test`'s temporary files on tmpfs (vitest globalSetup). The suite makes hundreds of thousands of small files
 * (a database copied from its template at every server boot, git objects, sandbox volumes, project trees), and on this
 * project's VM a file made on the disk costs about 0.5 ms of kernel time, on tmpfs a tenth of that: a server test
 * file spent 5.6 s of system CPU with its files on the disk, 3.7 s on /dev/shm. Every process the tests start
 * (servers, the Claude CLI, git, chromium, sandboxes) inherits TMPDIR. DREAMCORE_TEST_TMPDIR=keep leaves TMPDIR as it
 * is; where /dev/shm is missing, not writable or has under 2 GB free, nothing changes either.
 */
import { chmodSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';

const FREE_BYTES_NEEDED = 2 * 1024 ** 3;

export default function tmpdirOnTmpfs() {
  if (process.env.DREAMCORE_TEST_TMPDIR === 'keep') return undefined;
  let dir;
  try {
    const fs = statfsSync('/dev/shm');
    if (fs.bavail * fs.bsize < FREE_BYTES_NEEDED) return undefined;
    dir = mkdtempSync('/dev/shm/dreamcore-test-');
    // As /tmp is: other users (PostgreSQL's initdb runs as `postgres`, the agent as its own uid) make their files here.
    chmodSync(dir, 0o1777);
  } catch {
    return undefined;
  }
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(dir, { recursive: true, force: true });
  };
}
