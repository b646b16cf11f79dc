import { existsSync } from 'node:fs';
import { chmod, mkdir, rmdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { removeTree } from '../system/safe-fs.ts';

/**
 * Each stage's files directory (uploads): mode 0700, owned by nothing else.
 * Removal is idempotent: the reconciler repeats it until the directory is gone.
 */
export interface FilesDriver {
  exists(path: string): Promise<boolean>;
  ensure(path: string): Promise<void>;
  remove(path: string): Promise<void>;
}

export function localFiles(): FilesDriver {
  return {
    exists: (path) => Promise.resolve(existsSync(path)),
    async ensure(path) {
      await mkdir(dirname(path), { recursive: true, mode: 0o711 });
      await mkdir(path, { recursive: true, mode: 0o700 });
      const info = await stat(path);
      if ((info.mode & 0o777) !== 0o700) await chmod(path, 0o700);
    },
    async remove(path) {
      // The tree is the tenant's: removed relative to open directories, never through its links.
      await removeTree(path);
      // The tenant's directory goes with its last stage.
      await rmdir(dirname(path)).catch(() => undefined);
    },
  };
}
