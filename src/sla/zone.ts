import { checkTimeZone as checkZoneName, wallClock } from '../core/zone.ts';

/**
 * Wall-clock time in an IANA time zone, by Intl alone (no time-zone library):
 * the SLA's periods and service time are in the contract's zone, the evidence
 * is in UTC. Instants are epoch milliseconds.
 */

/** A local calendar date and time of day, as a contract writes it. */
export interface LocalTime {
  readonly year: number;
  /** 1-12 */
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
}

/** Throws an InputError naming the field unless `timeZone` is an IANA zone this Node knows. */
export function checkTimeZone(timeZone: string, field = 'timeZone'): string {
  return checkZoneName(timeZone, field);
}

const quarterHour = 900_000;
const offsets = new Map<string, Map<number, number>>();

/**
 * The zone's offset from UTC at an instant, in milliseconds (Berlin in summer:
 * +7,200,000). Remembered per quarter hour: every change of offset since 1970
 * falls on a quarter hour of UTC (offsets are whole quarter hours), and
 * Intl's formatting is the slow part of a year's report.
 */
export function offsetAt(instant: number, timeZone: string): number {
  let zone = offsets.get(timeZone);
  if (!zone) {
    zone = new Map();
    offsets.set(timeZone, zone);
  }
  const bucket = Math.floor(instant / quarterHour);
  let offset = zone.get(bucket);
  if (offset === undefined) {
    offset = formattedOffset(bucket * quarterHour, timeZone);
    if (zone.size > 200_000) zone.clear();
    zone.set(bucket, offset);
  }
  return offset;
}

function formattedOffset(instant: number, timeZone: string): number {
  // Sub-second parts are not formatted: compare whole seconds.
  return wallClock(instant, timeZone) - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant a wall-clock time names. A time that happens twice (the hour
 * clocks go back) is its first occurrence; a time that never happens (the
 * hour clocks skip) is moved forward by the gap, so 02:30 on Berlin's March
 * change is 03:30 CEST. These are the rules of Temporal's "compatible".
 */
export function localToInstant(local: LocalTime, timeZone: string): number {
  // Hours past 24 roll over to the next day (24:00 is the next midnight).
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  const before = offsetAt(wall - 86_400_000, timeZone);
  const after = offsetAt(wall + 86_400_000, timeZone);
  const valid = [before, after]
    .filter((offset) => offsetAt(wall - offset, timeZone) === offset)
    .map((offset) => wall - offset);
  if (valid.length > 0) return Math.min(...valid);
  // In the gap: read the wall time with the offset in force before it.
  return wall - before;
}

/** The wall-clock date of an instant in a zone. */
export function instantToLocal(instant: number, timeZone: string): LocalTime {
  const shifted = new Date(instant + offsetAt(instant, timeZone));
  return {
    year: shifted.getUTCFullYear(),
    month: shifted.getUTCMonth() + 1,
    day: shifted.getUTCDate(),
    hour: shifted.getUTCHours(),
    minute: shifted.getUTCMinutes(),
  };
}

/** The calendar date `days` after a local date (Gregorian, no zone involved). */
export function addDays(
  date: { year: number; month: number; day: number },
  days: number,
): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** 0 = Monday … 6 = Sunday. */
export function weekday(date: { year: number; month: number; day: number }): number {
  return (new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7;
}
