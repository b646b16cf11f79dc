import { formatBytes, formatDuration } from '../ops-kit/format.ts';
import type { LimitRow } from './types.ts';

type LimitUnit = LimitRow['unit'];

const msPer: Partial<Record<LimitUnit, number>> = { ms: 1, seconds: 1000, minutes: 60_000, days: 86_400_000 };

/**
 * A limit's value as the Limits tab shows it: sizes in binary units, times
 * as durations, rates per second, counts in the language's digits; `none`
 * when no limit applies. Pure, table-tested without a browser.
 */
export function formatLimit(
  value: number | null,
  unit: LimitUnit,
  formatNumber: (n: number) => string,
  none: string,
): string {
  if (value === null) return none;
  if (unit === 'bytes') return formatBytes(value);
  const factor = msPer[unit];
  if (factor !== undefined) return formatDuration(value * factor);
  if (unit === 'per-second') return `${formatNumber(value)}/s`;
  return formatNumber(value);
}
