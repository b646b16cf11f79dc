import { periodAt } from './period.ts';
import type { Span } from './intervals.ts';
import type { PolicyVersion } from './terms.ts';
import type { MaintenanceVerdict } from './account.ts';

/** The clause "announced maintenance does not count": which windows qualify under a version's terms. Pure. */

/** A planned maintenance window of the tenant (or of the evaluated stage). */
export interface MaintenanceWindow {
  readonly id: string;
  readonly start: number;
  readonly end: number;
  /** When customers were told; the notice period is counted from here. null: never announced. */
  readonly announcedAt: number | null;
  readonly reason: string;
}

export interface QualifiedMaintenance {
  readonly window: MaintenanceWindow;
  readonly excluded: Span | null;
  readonly verdict: MaintenanceVerdict['verdict'];
  readonly why: string;
}

/**
 * Which announced maintenance the clause excludes under one version's terms:
 * announced at least the notice period ahead, and within the caps of its
 * contract period (counted in start order; the window that crosses the hours
 * cap is excluded up to it).
 */
export function qualifyMaintenance(
  windows: readonly MaintenanceWindow[],
  terms: PolicyVersion,
): QualifiedMaintenance[] {
  const used = new Map<string, { ms: number; count: number }>();
  return [...windows]
    .sort((a, b) => a.start - b.start || Number(a.id) - Number(b.id))
    .map((window): QualifiedMaintenance => {
      if (terms.maintenanceNoticeMs === null) {
        return { window, excluded: null, verdict: 'counted', why: 'the policy has no maintenance clause' };
      }
      if (window.announcedAt === null) {
        return { window, excluded: null, verdict: 'counted', why: 'never announced' };
      }
      const notice = window.start - window.announcedAt;
      if (notice < terms.maintenanceNoticeMs) {
        return {
          window,
          excluded: null,
          verdict: 'counted',
          why: `announced ${formatDuration(Math.max(0, notice))} ahead; the policy requires ${formatDuration(terms.maintenanceNoticeMs)}`,
        };
      }
      const key = periodAt(terms.period, window.start, terms.timeZone).name;
      const u = used.get(key) ?? { ms: 0, count: 0 };
      used.set(key, u);
      if (terms.maintenanceMaxCount !== null && u.count >= terms.maintenanceMaxCount) {
        return {
          window,
          excluded: null,
          verdict: 'counted',
          why: `over the cap of ${terms.maintenanceMaxCount} windows in ${key}`,
        };
      }
      u.count++;
      const length = window.end - window.start;
      const allowed =
        terms.maintenanceMaxMs === null
          ? length
          : Math.max(0, Math.min(length, terms.maintenanceMaxMs - u.ms));
      u.ms += allowed;
      if (allowed === length) {
        return {
          window,
          excluded: { start: window.start, end: window.end },
          verdict: 'excluded',
          why: 'announced in time',
        };
      }
      const cap = `the cap of ${formatDuration(terms.maintenanceMaxMs ?? 0)} in ${key}`;
      return allowed === 0
        ? { window, excluded: null, verdict: 'counted', why: `over ${cap}` }
        : {
            window,
            excluded: { start: window.start, end: window.start + allowed },
            verdict: 'partly',
            why: `excluded up to ${cap}`,
          };
    });
}

/** "7d", "5d 13h", "1h 30m", "0m". */
export function formatDuration(ms: number): string {
  const m = Math.round(ms / 60_000);
  const parts = [
    [Math.floor(m / 1440), 'd'],
    [Math.floor((m % 1440) / 60), 'h'],
    [m % 60, 'm'],
  ].filter(([n]) => n !== 0);
  return parts.length === 0 ? '0m' : parts.map(([n, unit]) => `${n}${unit}`).join(' ');
}
