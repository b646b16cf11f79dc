import { checkTimeZone as checkZoneName, wallClock } from '../core/zone.ts';

/**
 * Wall-clock time in an IANA time zone, with Intl as the only source of
 * offsets (no Temporal on Node 24 without a flag). Pure. Local dates are
 * counted as days since 1970-01-01 of the proleptic calendar, which no DST
 * change can bend.
 */
export interface LocalDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** An IANA zone name as Intl knows it (Europe/Berlin, UTC); anything else is refused, naming the field. */
export function checkTimeZone(timeZone: string, field = 'tz'): string {
  return checkZoneName(timeZone, field);
}

/** The zone's offset from UTC at `at`, in milliseconds (Europe/Berlin in summer: +2 h). */
export function offsetAt(at: Date, timeZone: string): number {
  const whole = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return wallClock(whole, timeZone) - whole.getTime();
}

export function dayNumber(date: LocalDate): number {
  return Math.round(Date.UTC(date.year, date.month - 1, date.day) / 86_400_000);
}

export function dateOfDay(day: number): LocalDate {
  const d = new Date(day * 86_400_000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** 0 Monday … 6 Sunday. */
export function weekday(day: number): number {
  // 1970-01-01 was a Thursday.
  return (((day + 3) % 7) + 7) % 7;
}

/** The local day (number) and minute of the day at `at` in `timeZone`. */
export function localTime(at: Date, timeZone: string): { day: number; minute: number } {
  const wall = wallClock(at, timeZone);
  const day = Math.floor(wall / 86_400_000);
  return { day, minute: Math.floor((wall - day * 86_400_000) / 60_000) };
}

/**
 * The instant of a local day and minute in `timeZone`. A time the clocks skip
 * (02:30 when they spring forward) is taken as that much after the skip, a
 * time they pass twice (02:30 when they fall back) as the first: the rule
 * Temporal calls "compatible".
 */
export function instantOf(day: number, minute: number, timeZone: string): Date {
  const wall = day * 86_400_000 + minute * 60_000;
  // The offsets just before and after: at most one change lies within a day of the wall time.
  const before = offsetAt(new Date(wall - 86_400_000), timeZone);
  const after = offsetAt(new Date(wall + 86_400_000), timeZone);
  const candidates = [wall - before, wall - after].filter((t) => wallClock(new Date(t), timeZone) === wall);
  if (candidates.length > 0) return new Date(Math.min(...candidates));
  // In the gap: the earlier offset carries the wall time past the skip.
  return new Date(wall - before);
}
