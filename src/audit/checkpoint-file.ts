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
 * link followed. `<dataDir>/audit/checkpoints.jsonl`. A crash mid-append
 * leaves a line without its newline: the next append starts on a line of its
 * own, and readers skip the torn one (the checkpoint after it names the one
 * before it, as the torn one never counted).
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
        // A line torn by a crash mid-append is left behind, never continued.
        const { size } = await handle.stat();
        const torn = size > 0 && !(await endsWithNewline(path, size));
        await handle.writeFile(`${torn ? '\n' : ''}${checkpointLine(checkpoint)}\n`);
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
      // A last line without its newline is torn (a crash before the fsync): it never counted as written.
      text
        .split('\n')
        .slice(0, -1)
        .forEach((line, index) => {
          if (line.trim() !== '') stored.push(parseCheckpoint(line, `${path} line ${index + 1}`));
        });
      return stored;
    },
  };
}

async function endsWithNewline(path: string, size: number): Promise<boolean> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    await handle.close();
  }
}
