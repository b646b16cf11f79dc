import { checkTimeZone as checkZoneName, wallClock } from '../core/zone.ts';

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

export function checkTimeZone(value: unknown, field = 'tz'): string {
  return checkZoneName(value, field);
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
