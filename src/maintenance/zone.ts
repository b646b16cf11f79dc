import { InputError, showValue } from '../core/errors.ts';

/**
 * Local wall-clock times in an IANA zone, with Intl as the only source of
 * offsets. Pure.
 */
export interface LocalTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function checkTimeZone(value: unknown, field = 'tz'): string {
  const bad = (): InputError =>
    new InputError(
      `field "${field}": ${showValue(value)} is not a time zone; use an IANA name such as Europe/Berlin, America/New_York or UTC`,
      { field },
    );
  // Intl also takes offsets such as "+01:00": a fixed offset has no DST, not what a tenant's clock does.
  if (typeof value !== 'string' || !/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(value))
    throw bad();
  try {
    formatter(value);
  } catch {
    throw bad();
  }
  return value;
}

/** The wall clock in `timeZone` at `at`, as if it were UTC (ms, whole minutes). */
function wallClock(at: Date, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(at))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const get = (k: string): number => parts[k] ?? 0;
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
}

/**
 * The instant of a local time in `timeZone`: a time the clocks pass twice
 * (when they fall back) is the first; one they skip is 'skipped'; a date
 * that does not exist (02-30) is undefined.
 */
export function zonedInstant(t: LocalTime, timeZone: string): Date | 'skipped' | undefined {
  const wall = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute);
  const back = new Date(wall);
  if (
    back.getUTCFullYear() !== t.year ||
    back.getUTCMonth() !== t.month - 1 ||
    back.getUTCDate() !== t.day ||
    t.hour > 23 ||
    t.minute > 59
  ) {
    return undefined;
  }
  // The offsets a day either side: at most one change lies within a day of the wall time.
  const offsets = [-86_400_000, 86_400_000].map((d) => wallClock(new Date(wall + d), timeZone) - (wall + d));
  const candidates = offsets
    .map((offset) => wall - offset)
    .filter((at) => wallClock(new Date(at), timeZone) === wall);
  return candidates.length > 0 ? new Date(Math.min(...candidates)) : 'skipped';
}

/** "2026-12-05 23:00" as the wall clock in `timeZone` shows `at`. */
export function formatLocal(at: Date, timeZone: string): string {
  return new Date(wallClock(at, timeZone)).toISOString().slice(0, 16).replace('T', ' ');
}
