/**
 * The periods an SLA report can be asked for (src/sla/period.ts: a month
 * 2026-03, a quarter 2026-Q1, a year 2026), newest first: this month and
 * the eleven before it, this quarter and the three before, this year and
 * the last. In UTC: the report itself applies the policy's time zone.
 */
export function recentPeriods(now: Date): string[] {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  const months: string[] = [];
  for (let i = 0; i < 12; i++) {
    const date = new Date(Date.UTC(year, month - i, 1));
    months.push(`${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`);
  }
  const quarters: string[] = [];
  const quarter = Math.floor(month / 3);
  for (let i = 0; i < 4; i++) {
    const q = quarter - i;
    const y = year + Math.floor(q / 4);
    quarters.push(`${y}-Q${(((q % 4) + 4) % 4) + 1}`);
  }
  return [...months, ...quarters, String(year), String(year - 1)];
}
