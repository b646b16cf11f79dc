/**
 * Which exports retention removes: those older than the retention days
 * (the same days as the stage's backups), except the newest good export of
 * each stage, so a stage never loses its last export to the calendar.
 * Running exports are never touched. Pure: table-tested.
 */
export interface RetainedExport {
  readonly id: string;
  readonly stage: string;
  readonly status: 'running' | 'succeeded' | 'failed';
  readonly createdAt: Date;
}

export const defaultRetainDays = 30;
const dayMs = 24 * 60 * 60 * 1000;

export function expiredExports(exports: readonly RetainedExport[], now: Date, retainDays: number): string[] {
  if (!Number.isFinite(retainDays) || retainDays < 1)
    throw new RangeError(`retainDays must be a whole number of days ≥ 1, got ${retainDays}`);
  const cutoff = now.getTime() - retainDays * dayMs;
  const newestGood = new Map<string, RetainedExport>();
  for (const e of exports) {
    if (e.status !== 'succeeded') continue;
    const seen = newestGood.get(e.stage);
    if (!seen || e.createdAt.getTime() > seen.createdAt.getTime()) newestGood.set(e.stage, e);
  }
  return exports
    .filter((e) => e.status !== 'running')
    .filter((e) => e.createdAt.getTime() < cutoff)
    .filter((e) => newestGood.get(e.stage)?.id !== e.id)
    .map((e) => e.id);
}
