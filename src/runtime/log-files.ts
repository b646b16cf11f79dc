import { constants } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * A supervised process writes to its log file through a descriptor it
 * inherited (O_APPEND), not through a pipe to Steward: it keeps logging when
 * Steward dies. Rotation therefore copies and truncates in place; the child's
 * O_APPEND descriptor then writes at the new end of the file.
 */

/** Opens the log file for appending; the child gets `handle.fd`, the caller closes the handle after the spawn. */
export async function openLogForChild(file: string): Promise<FileHandle> {
  await mkdir(dirname(file), { recursive: true, mode: 0o750 });
  return open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o640);
}

export interface RotationOptions {
  readonly maxBytes: number;
  readonly generations: number;
}

/** Rotates when the file is over the limit: `<file>.1` is the newest generation. True when it rotated. */
export async function rotateIfLarge(file: string, options: RotationOptions): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return false;
  }
  if (size <= options.maxBytes) return false;
  const generations = Math.max(1, options.generations);
  await rm(`${file}.${generations}`, { force: true });
  for (let n = generations - 1; n >= 1; n--) {
    await rename(`${file}.${n}`, `${file}.${n + 1}`).catch(() => undefined);
  }
  await copyFile(file, `${file}.1`);
  // Lines written between the copy and the truncation are lost; that window is short and bounded.
  await truncate(file, 0);
  return true;
}

/** The last `count` lines of a file, reading at most `maxBytes` from its end. */
export async function tailLines(file: string, count: number, maxBytes = 64 * 1024): Promise<string[]> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return [];
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n');
    if (length < size) lines.shift(); // the first line is probably cut
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-count);
  } finally {
    await handle.close();
  }
}
