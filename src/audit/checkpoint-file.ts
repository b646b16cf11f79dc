import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  checkpointLine,
  parseCheckpoint,
  type CheckpointStore,
  type StoredCheckpoint,
} from './checkpoints.ts';

/**
 * The local checkpoint file: one JSON line per checkpoint, only ever appended
 * to (O_APPEND, 0600, fsync before the checkpoint counts as written), never a
 * link followed. `<dataDir>/audit/checkpoints.jsonl`.
 */
export function checkpointFile(path: string): CheckpointStore {
  return {
    name: 'local',
    async append(checkpoint) {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const handle = await open(
        path,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
        0o600,
      );
      try {
        await handle.writeFile(`${checkpointLine(checkpoint)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    async read() {
      let text: string;
      try {
        const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          text = await handle.readFile('utf8');
        } finally {
          await handle.close();
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
      const stored: StoredCheckpoint[] = [];
      text.split('\n').forEach((line, index) => {
        if (line.trim() !== '') stored.push(parseCheckpoint(line, `${path} line ${index + 1}`));
      });
      return stored;
    },
  };
}
