import { InputError, showValue } from '../core/errors.ts';
import type { Span } from './intervals.ts';
import { instantToLocal, localToInstant } from './zone.ts';

/** How long a contract measures at a time. */
export const periodKinds = ['month', 'quarter', 'calendar-year'] as const;
export type PeriodKind = (typeof periodKinds)[number];

/** One month, quarter or calendar year, named as reports name it: 2026-03, 2026-Q1, 2026. */
export interface Period {
  readonly kind: PeriodKind;
  readonly name: string;
  readonly year: number;
  /** First month, 1-12. */
  readonly firstMonth: number;
  readonly months: number;
}

/** Parses "2026", "2026-03" or "2026-Q1"; anything else names what is accepted. */
export function parsePeriod(text: string, field = 'period'): Period {
  const year = /^(\d{4})$/.exec(text);
  if (year) return periodOf('calendar-year', Number(year[1]), 1);
  const month = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text);
  if (month) return periodOf('month', Number(month[1]), Number(month[2]));
  const quarter = /^(\d{4})-Q([1-4])$/i.exec(text);
  if (quarter) return periodOf('quarter', Number(quarter[1]), (Number(quarter[2]) - 1) * 3 + 1);
  throw new InputError(
    `field "${field}": ${showValue(text)} is not a period; use a year (2026), a month (2026-03) or a quarter (2026-Q1)`,
    { field },
  );
}

export function periodOf(kind: PeriodKind, year: number, firstMonth: number): Period {
  const months = kind === 'month' ? 1 : kind === 'quarter' ? 3 : 12;
  const first = kind === 'month' ? firstMonth : kind === 'quarter' ? firstMonth - ((firstMonth - 1) % 3) : 1;
  const name =
    kind === 'month'
      ? `${year}-${String(first).padStart(2, '0')}`
      : kind === 'quarter'
        ? `${year}-Q${(first - 1) / 3 + 1}`
        : String(year);
  return { kind, name, year, firstMonth: first, months };
}

/** The period from its first local midnight to the next period's, in the contract's zone. */
export function periodSpan(period: Period, timeZone: string): Span {
  const endMonth = period.firstMonth + period.months;
  return {
    start: localToInstant(
      { year: period.year, month: period.firstMonth, day: 1, hour: 0, minute: 0 },
      timeZone,
    ),
    end: localToInstant(
      {
        year: period.year + Math.floor((endMonth - 1) / 12),
        month: ((endMonth - 1) % 12) + 1,
        day: 1,
        hour: 0,
        minute: 0,
      },
      timeZone,
    ),
  };
}

/** The contract period of a kind that holds an instant (caps on maintenance count per such period). */
export function periodAt(kind: PeriodKind, instant: number, timeZone: string): Period {
  const local = instantToLocal(instant, timeZone);
  return periodOf(kind, local.year, local.month);
}
