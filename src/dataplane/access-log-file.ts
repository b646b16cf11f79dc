import { constants, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { InputError, showValue } from '../core/errors.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { AccessLogRecord } from './access-log-stream.ts';
import { checkPath } from './names.ts';

/**
 * The access log on disk: one JSON line per request, one file per UTC day
 * (`access-2026-12-07.jsonl`, mode 600) in a directory of Steward's own,
 * bounded twice: at most `maxBytesPerDay` a day (further records that day
 * are counted, not written) and `maxDays` files (older ones are removed when
 * a day begins). A slow disk costs records, never memory: past `maxPendingBytes`
 * not yet written, records are dropped and counted.
 */
export interface AccessLogFileOptions {
  readonly dir: string;
  readonly maxDays?: number;
  readonly maxBytesPerDay?: number;
  readonly maxPendingBytes?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

const filePattern = /^access-(\d{4}-\d{2}-\d{2})\.jsonl$/;

export const accessLogFileDefaults = {
  maxDays: 14,
  maxBytesPerDay: 512 * 1024 * 1024,
  maxPendingBytes: 8 * 1024 * 1024,
} as const;

function checkCount(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new InputError(`${field} ${showValue(value)} is not accepted: use a whole number, 1 or more`, {
      field,
    });
  }
  return value;
}

export class AccessLogFile {
  readonly #dir: string;
  readonly #maxDays: number;
  readonly #maxBytesPerDay: number;
  readonly #maxPendingBytes: number;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  #day: string | undefined;
  #stream: WriteStream | undefined;
  /** Opening today's file: records wait for it (bounded like the stream's buffer). */
  #opening: Promise<void> | undefined;
  #bytesToday = 0;
  #written = 0;
  #dropped = 0;

  constructor(options: AccessLogFileOptions) {
    this.#dir = checkPath('accessLogDir', options.dir);
    this.#maxDays = checkCount('maxDays', options.maxDays ?? accessLogFileDefaults.maxDays);
    this.#maxBytesPerDay = checkCount(
      'maxBytesPerDay',
      options.maxBytesPerDay ?? accessLogFileDefaults.maxBytesPerDay,
    );
    this.#maxPendingBytes = checkCount(
      'maxPendingBytes',
      options.maxPendingBytes ?? accessLogFileDefaults.maxPendingBytes,
    );
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
  }

  /** Lines written and dropped (over a bound, or the file could not be opened) since start. */
  counts(): { written: number; dropped: number } {
    return { written: this.#written, dropped: this.#dropped };
  }

  write(record: AccessLogRecord): void {
    const day = this.#clock.now().toISOString().slice(0, 10);
    if (day !== this.#day) this.#begin(day);
    const line = `${JSON.stringify(record)}\n`;
    const bytes = Buffer.byteLength(line);
    const pending = this.#stream?.writableLength ?? 0;
    if (this.#bytesToday + bytes > this.#maxBytesPerDay || pending + bytes > this.#maxPendingBytes) {
      this.#dropped += 1;
      return;
    }
    this.#bytesToday += bytes;
    if (this.#stream) {
      this.#stream.write(line);
      this.#written += 1;
      return;
    }
    // Today's file is being opened: write when it is there.
    void this.#opening?.then(() => {
      if (this.#stream) {
        this.#stream.write(line);
        this.#written += 1;
      } else this.#dropped += 1;
    });
  }

  #begin(day: string): void {
    this.#day = day;
    this.#bytesToday = 0;
    const previous = this.#stream;
    this.#stream = undefined;
    previous?.end();
    this.#opening = this.#open(day).catch((error: unknown) => {
      this.#logger?.warn(
        { err: error },
        'cannot open the access log file; records are dropped until tomorrow',
      );
    });
  }

  async #open(day: string): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const path = join(this.#dir, `access-${day}.jsonl`);
    // No symlink followed: whatever sits at the path, Steward only appends to its own regular file.
    const handle = await open(
      path,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      0o600,
    );
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      throw new InputError(`access log file ${path} is not a regular file`, { field: 'accessLogDir' });
    }
    this.#bytesToday += stat.size;
    if (this.#day !== day) {
      await handle.close();
      return;
    }
    const stream = handle.createWriteStream();
    stream.on('error', (error) => this.#logger?.warn({ err: error }, 'the access log file failed'));
    this.#stream = stream;
    await this.#prune(day);
  }

  /** Removes the files of days older than the newest `maxDays`. */
  async #prune(today: string): Promise<void> {
    const days = (await readdir(this.#dir))
      .map((name) => filePattern.exec(name)?.[1])
      .filter((day): day is string => day !== undefined && day <= today)
      .sort();
    for (const day of days.slice(0, Math.max(0, days.length - this.#maxDays)))
      await unlink(join(this.#dir, `access-${day}.jsonl`)).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#opening;
    const stream = this.#stream;
    this.#stream = undefined;
    this.#day = undefined;
    if (stream) await new Promise<void>((resolve) => stream.end(() => resolve()));
  }
}
