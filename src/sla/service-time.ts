import { InputError, showValue } from '../core/errors.ts';
import { normalize, subtract, type Span } from './intervals.ts';
import { addDays, instantToLocal, localToInstant, weekday } from './zone.ts';

/**
 * A weekly recurring window in local time: "daily 05:00-22:00",
 * "mon-fri 08:00-18:00", "sat,sun 22:00-05:00". An end at or before the start
 * crosses midnight and ends the next day; the days name the day it starts.
 * A policy's service time is such a window, or the time outside one (a
 * recurring maintenance window): "daily 22:00-05:00" outside is the same
 * service time as "daily 05:00-22:00" inside.
 */
export interface Recurring {
  /** Days it starts on, 0 = Monday … 6 = Sunday. */
  readonly days: readonly number[];
  /** Minutes after local midnight. */
  readonly from: number;
  /** Minutes after local midnight, up to 1440; at or before `from`: the next day. */
  readonly to: number;
}

export interface ServiceTime {
  /** inside: the service time is the window; outside: the window is recurring maintenance. */
  readonly kind: 'always' | 'inside' | 'outside';
  readonly window: Recurring | null;
  /** As written, for the report. */
  readonly text: string;
}

export const always: ServiceTime = { kind: 'always', window: null, text: 'always (24/7)' };

const dayNames = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const accepted =
  "'daily 05:00-22:00', 'weekdays 08:00-18:00', 'mon-fri 08:00-18:00', 'sat,sun 00:00-24:00' (an end at or before the start ends the next day)";

function fail(field: string, text: string, why: string): never {
  throw new InputError(`field "${field}": ${showValue(text)} ${why}; use ${accepted}`, { field });
}

function parseDays(field: string, text: string, spec: string): number[] {
  if (spec === 'daily') return [0, 1, 2, 3, 4, 5, 6];
  if (spec === 'weekdays') return [0, 1, 2, 3, 4];
  if (spec === 'weekends') return [5, 6];
  const days = new Set<number>();
  for (const part of spec.split(',')) {
    const range = part.split('-');
    const index = (name: string | undefined): number => {
      const i = dayNames.indexOf((name ?? '') as (typeof dayNames)[number]);
      if (i < 0) fail(field, text, `names no day ${showValue(name ?? '')}`);
      return i;
    };
    if (range.length === 1) days.add(index(range[0]));
    else if (range.length === 2) {
      const a = index(range[0]);
      const b = index(range[1]);
      for (let d = a; ; d = (d + 1) % 7) {
        days.add(d);
        if (d === b) break;
      }
    } else fail(field, text, 'has a malformed day range');
  }
  return [...days].sort((a, b) => a - b);
}

function parseClock(field: string, text: string, clock: string, end: boolean): number {
  const m = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(clock);
  if (!m) fail(field, text, `has no valid time ${showValue(clock)} (HH:MM)`);
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  if (minutes > 1440 || (minutes === 1440 && !end))
    fail(field, text, `has ${showValue(clock)}: 24:00 only ends a window`);
  return minutes;
}

/** Parses "<days> HH:MM-HH:MM". */
export function parseRecurring(text: string, field: string): Recurring {
  const m = /^\s*([a-z,-]+)\s+(\d\d:\d\d)-(\d\d:\d\d)\s*$/i.exec(text);
  if (!m) fail(field, text, 'is not a recurring window');
  const days = parseDays(field, text, (m[1] as string).toLowerCase());
  const from = parseClock(field, text, m[2] as string, false);
  const to = parseClock(field, text, m[3] as string, true);
  if (from === to && to !== 0) fail(field, text, 'is empty (starts where it ends)');
  return { days, from, to };
}

/** Every occurrence of the window that overlaps a span, as instants (DST makes some an hour shorter or longer). */
export function occurrences(window: Recurring, within: Span, timeZone: string): Span[] {
  const crosses = window.to <= window.from;
  // Start a day early: a window that crosses midnight may begin before the span.
  let date = addDays(instantToLocal(within.start, timeZone), -1);
  const last = instantToLocal(within.end, timeZone);
  const out: Span[] = [];
  for (;;) {
    if (window.days.includes(weekday(date))) {
      const start = localToInstant({ ...date, hour: 0, minute: window.from }, timeZone);
      const endDate = crosses ? addDays(date, 1) : date;
      const end = localToInstant({ ...endDate, hour: 0, minute: window.to }, timeZone);
      if (end > within.start && start < within.end) {
        out.push({ start: Math.max(start, within.start), end: Math.min(end, within.end) });
      }
    }
    if (date.year === last.year && date.month === last.month && date.day === last.day) break;
    date = addDays(date, 1);
  }
  return normalize(out);
}

/** The service time within a span. */
export function serviceSpans(service: ServiceTime, within: Span, timeZone: string): Span[] {
  if (service.kind === 'always' || !service.window) return normalize([within]);
  const windows = occurrences(service.window, within, timeZone);
  return service.kind === 'inside' ? windows : subtract([within], windows);
}
