import { InputError, showValue } from './errors.ts';

/**
 * Wall-clock time in an IANA time zone, with Intl as the only source of
 * offsets (no time-zone library; no Temporal on Node 24 without a flag). The
 * shared core of the SLA's periods, on-call rotations and maintenance
 * planning, which each build their own local-time rules on it. Pure.
 */

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
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** An IANA zone name as Intl knows it (Europe/Berlin, UTC); anything else is refused, naming the field. */
export function checkTimeZone(value: unknown, field: string): string {
  const bad = (): InputError =>
    new InputError(
      `field "${field}": ${showValue(value)} is not a time zone; use an IANA name such as Europe/Berlin, America/New_York or UTC`,
      { field },
    );
  // Intl also takes offsets such as "+01:00": a fixed offset follows no daylight saving rules.
  if (typeof value !== 'string' || !/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(value))
    throw bad();
  try {
    formatter(value);
  } catch {
    throw bad();
  }
  return value;
}

/** The wall clock in `timeZone` at an instant, as if it were UTC (epoch milliseconds, whole seconds). */
export function wallClock(at: Date | number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(at)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const get = (k: string): number => parts[k] ?? 0;
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
}
