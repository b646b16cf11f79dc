/**
 * Plain formatting for the operator pages (alerts, incidents, SLA, backups,
 * audit, access, settings): durations, sizes, places, periods. Pure, no DOM,
 * so they are table-tested without a browser.
 */

/** A duration in ms as the pages show it: "850 ms", "42 s", "3 min 5 s", "2 h 10 min", "3 d 4 h". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** Bytes in binary units: "512 B", "1.5 KiB", "20 MiB", "3.2 GiB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 || value >= 10 ? String(Math.round(value)) : value.toFixed(1);
  return `${shown} ${units[unit] ?? 'B'}`;
}

/** Where something is: "acme/prod", "acme" (every stage), "Steward" (no tenant). */
export function place(
  tenant: string | null | undefined,
  stage: string | null | undefined,
  none = '–',
): string {
  if (!tenant) return none;
  return stage ? `${tenant}/${stage}` : tenant;
}

/** A time as the pages show it, in the browser's zone and language: "7 Dec 2026, 10:15". */
export function formatTime(iso: string | null | undefined, locale: string): string {
  if (!iso) return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

/** The SLA period names a report takes: the month of a date ("2026-12"), UTC. */
export function monthOf(date: Date): string {
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The month before a date's month ("2026-11" for any day of December 2026), UTC. */
export function previousMonthOf(date: Date): string {
  return monthOf(new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - 1, 1)));
}

/** Whether a text is an SLA period the API accepts: 2026-03, 2026-Q1 or 2026 (the API says why not). */
export function looksLikePeriod(text: string): boolean {
  return /^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$/.test(text.trim());
}

/** Where a maintenance window (or silence) stands at `now`. */
export type WindowState = 'planned' | 'current' | 'past' | 'cancelled';

export function windowState(
  w: { readonly startsAt: string; readonly endsAt: string; readonly cancelledAt?: string | null },
  now: Date,
): WindowState {
  if (w.cancelledAt) return 'cancelled';
  const t = now.getTime();
  if (t < Date.parse(w.startsAt)) return 'planned';
  if (t < Date.parse(w.endsAt)) return 'current';
  return 'past';
}

/** Drops the empty strings of a form's values, so that an unset optional field is not sent at all. */
export function present<T extends Record<string, unknown>>(values: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, value] of Object.entries(values) as [keyof T, T[keyof T]][]) {
    if (value === '' || value === undefined || value === null) continue;
    out[key] = typeof value === 'string' ? (value.trim() as T[keyof T]) : value;
  }
  return out;
}
