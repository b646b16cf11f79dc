import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AccessLogFile } from '../../src/dataplane/access-log-file.ts';
import type { AccessLogRecord } from '../../src/dataplane/access-log-stream.ts';

/** The access log on disk: a file per day, bounded in days and bytes, never through a symlink. */

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync('/tmp/st-alf-');
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const record = (n: number): AccessLogRecord => ({
  ts: 1_796_000_000_000 + n,
  id: `r${n}`,
  client: '192.0.2.1',
  method: 'GET',
  host: 'prod.acme.test',
  path: `/orders/${n}`,
  status: 200,
  ms: 3,
  bytes: 10,
  backend: 'st_s1',
  ua: 'test',
});

function clockAt(iso: string) {
  let now = new Date(iso);
  return { now: () => now, set: (next: string) => (now = new Date(next)) };
}

describe('the access log file', () => {
  it('writes one JSON line per record into the day’s file, mode 600, and starts a new file each day', async () => {
    const dir = join(tempDir(), 'access');
    const clock = clockAt('2026-12-07T23:59:59Z');
    const file = new AccessLogFile({ dir, clock });
    file.write(record(1));
    file.write(record(2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    clock.set('2026-12-08T00:00:01Z');
    file.write(record(3));
    await file.close();
    const first = readFileSync(join(dir, 'access-2026-12-07.jsonl'), 'utf8').trim().split('\n');
    expect(first.map((line) => (JSON.parse(line) as AccessLogRecord).id)).toEqual(['r1', 'r2']);
    expect(readFileSync(join(dir, 'access-2026-12-08.jsonl'), 'utf8')).toBe(`${JSON.stringify(record(3))}\n`);
    expect(statSync(join(dir, 'access-2026-12-08.jsonl')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(file.counts()).toEqual({ written: 3, dropped: 0 });
  });

  it('keeps the newest maxDays files and leaves other files alone', async () => {
    const dir = tempDir();
    for (const day of ['2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04'])
      writeFileSync(join(dir, `access-${day}.jsonl`), '{}\n');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const file = new AccessLogFile({ dir, maxDays: 2, clock: clockAt('2026-12-05T08:00:00Z') });
    file.write(record(1));
    await file.close();
    expect(readdirSync(dir).sort()).toEqual([
      'access-2026-12-04.jsonl',
      'access-2026-12-05.jsonl',
      'notes.txt',
    ]);
  });

  it('writes at most maxBytesPerDay a day (counting what the file held) and counts the rest', async () => {
    const dir = tempDir();
    const line = `${JSON.stringify(record(1))}\n`;
    writeFileSync(join(dir, 'access-2026-12-07.jsonl'), line);
    const file = new AccessLogFile({
      dir,
      maxBytesPerDay: Buffer.byteLength(line) * 3,
      clock: clockAt('2026-12-07T10:00:00Z'),
    });
    file.write(record(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let n = 2; n <= 5; n += 1) file.write(record(n));
    await file.close();
    expect(readFileSync(join(dir, 'access-2026-12-07.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(file.counts()).toEqual({ written: 2, dropped: 3 });
  });

  it('never writes through a symlink planted at the day’s path', async () => {
    const dir = tempDir();
    const target = join(tempDir(), 'elsewhere');
    writeFileSync(target, 'untouched');
    symlinkSync(target, join(dir, 'access-2026-12-07.jsonl'));
    const file = new AccessLogFile({ dir, clock: clockAt('2026-12-07T10:00:00Z') });
    file.write(record(1));
    await file.close();
    expect(readFileSync(target, 'utf8')).toBe('untouched');
    expect(file.counts()).toEqual({ written: 0, dropped: 1 });
  });

  it('refuses bounds that are not whole numbers, naming the field', () => {
    expect(() => new AccessLogFile({ dir: '/tmp/x', maxDays: 0 })).toThrow(
      /maxDays "0" is not accepted: use a whole number, 1 or more/,
    );
  });
});
