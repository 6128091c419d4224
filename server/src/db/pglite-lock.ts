/**
 * One process per PGlite data directory: two PGlite instances writing the same files corrupt them, and nothing in
 * PGlite prevents it. The lock is a file beside the directory holding the owner's pid.
 */
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { createError } from '@dreamcore/runtime-core';

const LOCK_SUFFIX = '.lock';
/** Data directories this process has open (a lock file cannot tell this process's two opens apart). */
const openHere = new Set<string>();

/** Locks the data directory; returns the release. A stale lock (its process is gone) is taken over. */
export async function acquireLock(dataDir: string): Promise<() => Promise<void>> {
  // Beside the data directory, not in it: PGlite's initdb refuses a directory that is not empty.
  const file = `${path.resolve(dataDir)}${LOCK_SUFFIX}`;
  const key = path.resolve(dataDir);
  if (openHere.has(key)) {
    throw createError('UNAVAILABLE', `the database in ${dataDir} is already open in this process`, {
      details: { dataDir },
    });
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      openHere.add(key);
      return async () => {
        openHere.delete(key);
        await rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      // Our own pid in the file is a previous incarnation's (containers reuse pids, often 1): this process's own
      // open databases are tracked in `openHere` instead.
      if (pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw createError('UNAVAILABLE', `the database in ${dataDir} is in use by process ${pid}`, {
          details: { dataDir, pid },
        });
      }
      await rm(file, { force: true });
    }
  }
  throw createError('UNAVAILABLE', `could not lock the database in ${dataDir}`, { details: { dataDir } });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
