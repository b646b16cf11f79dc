import { open, readFile, rm } from 'node:fs/promises';
import { ConflictError } from '../core/errors.ts';

/**
 * One Steward per data directory. The lock file holds the owner's pid; a lock
 * whose process is gone (kill -9) is stale and taken over.
 */
export async function acquirePidLock(path: string, what: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => {
        const owner = await readPid(path);
        if (owner === process.pid) await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = await readPid(path);
      if (owner !== undefined && isAlive(owner)) {
        throw new ConflictError(
          `${what} is already in use by a running Steward (pid ${owner}); stop that one first, or use another --data-dir`,
        );
      }
      // Stale: the owner is gone. Remove and try again; another starter may win the race, which is fine.
      await rm(path, { force: true });
    }
  }
  throw new ConflictError(`could not take the lock ${path}; another Steward keeps starting on ${what}`);
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
