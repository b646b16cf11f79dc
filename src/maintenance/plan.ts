import { InputError, showValue } from '../core/errors.ts';
import { checkTimeZone, zonedInstant } from './zone.ts';

/**
 * Planning a maintenance window: when (a local time in a zone), how long,
 * how many days ahead the tenant's contacts are told; and when an
 * announcement falls due. Pure, over plain data (table-tested).
 */
export const maintenanceKinds = ['planned', 'emergency'] as const;
export type MaintenanceKind = (typeof maintenanceKinds)[number];

/** The longest window: maintenance that takes longer is an outage. */
export const maxWindowHours = 72;
export const maxAnnounceDays = 90;

export interface PlanRequest {
  /** "2026-12-05 23:00" (in tz) or an ISO time with its zone. */
  readonly at: unknown;
  readonly tz?: unknown;
  readonly for: unknown;
  /** "7d" or a number of days; planned windows only. */
  readonly announce?: unknown;
  readonly emergency?: boolean | undefined;
}

export interface PlannedWindow {
  readonly startsAt: Date;
  readonly endsAt: Date;
  readonly timeZone: string;
  readonly kind: MaintenanceKind;
  readonly announceDays: number;
}

const units: Readonly<Record<string, number>> = { m: 60, h: 3600, d: 86_400 };

/** "2h", "90m", "1d", "1h30m": a window's length in seconds, 1 minute to maxWindowHours. */
export function parseLength(value: unknown, field = 'for'): number {
  const text = typeof value === 'string' ? value.trim() : '';
  const parts = [...text.matchAll(/(\d{1,4})([mhd])/g)];
  const seconds = parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] ?? 'm'] ?? 60), 0);
  if (parts.map((p) => p[0]).join('') !== text || seconds < 60 || seconds > maxWindowHours * 3600) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not accepted; use a length from 1m to ${maxWindowHours}h such as 2h, 90m or 1h30m`,
      { field },
    );
  }
  return seconds;
}

/** "7d" or "7": whole days, 0 to maxAnnounceDays. */
export function parseAnnounceDays(value: unknown, field = 'announce'): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  const match = /^(\d{1,3})d?$/.exec(text);
  const days = match ? Number(match[1]) : NaN;
  if (!Number.isInteger(days) || days > maxAnnounceDays) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not accepted; use whole days from 0d to ${maxAnnounceDays}d, e.g. 7d`,
      { field },
    );
  }
  return days;
}

/** When the window starts: a local time in `tz` ("2026-12-05 23:00"), or an ISO time with its own zone. */
export function parseStart(value: unknown, timeZone: string, field = 'at'): Date {
  const text = typeof value === 'string' ? value.trim() : '';
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(text)) return new Date(text);
  const local = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)$/.exec(text);
  const at = local
    ? zonedInstant(
        {
          year: Number(local[1]),
          month: Number(local[2]),
          day: Number(local[3]),
          hour: Number(local[4]),
          minute: Number(local[5]),
        },
        timeZone,
      )
    : undefined;
  if (!at) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not accepted; use a local time such as "2026-12-05 23:00" (in --tz, default UTC) or 2026-12-05T22:00:00Z`,
      { field },
    );
  }
  if (at === 'skipped') {
    throw new InputError(
      `field "${field}": ${showValue(value)} does not exist in ${timeZone} (the clocks skip it); use a time outside the change`,
      { field },
    );
  }
  return at;
}

/**
 * A window as planned: it starts in the future, and its announcement
 * (`announce` days before it starts) is not already past. An emergency
 * window is announced at once, whatever the notice.
 */
export function planWindow(request: PlanRequest, now: Date): PlannedWindow {
  const timeZone = request.tz === undefined ? 'UTC' : checkTimeZone(request.tz, 'tz');
  const startsAt = parseStart(request.at, timeZone);
  const seconds = parseLength(request.for);
  if (startsAt.getTime() <= now.getTime()) {
    throw new InputError(
      `field "at": ${showValue(request.at)} (${startsAt.toISOString()}) is not in the future; plan maintenance ahead (now is ${now.toISOString()})`,
      { field: 'at' },
    );
  }
  const emergency = request.emergency === true;
  if (emergency && request.announce !== undefined) {
    throw new InputError(
      'field "announce": an emergency window is announced at once; leave --announce out or plan it without --emergency',
      { field: 'announce' },
    );
  }
  const announceDays = emergency ? 0 : parseAnnounceDays(request.announce ?? '0d');
  const announceAt = startsAt.getTime() - announceDays * 86_400_000;
  if (announceAt < now.getTime() - 60_000) {
    const possible = Math.floor((startsAt.getTime() - now.getTime()) / 86_400_000);
    throw new InputError(
      `field "announce": ${showValue(request.announce)} before ${startsAt.toISOString()} is already past; announce at most ${possible}d ahead, plan the window later, or mark it --emergency`,
      { field: 'announce' },
    );
  }
  return {
    startsAt,
    endsAt: new Date(startsAt.getTime() + seconds * 1000),
    timeZone,
    kind: emergency ? 'emergency' : 'planned',
    announceDays,
  };
}

export interface AnnounceFacts {
  readonly startsAt: string;
  readonly endsAt: string;
  readonly kind: MaintenanceKind;
  readonly announceDays: number;
  readonly announcedAt: string | null;
  readonly cancelledAt: string | null;
}

/** Due: not yet announced, not cancelled, not over, and its notice period has begun (emergency: at once). */
export function announcementDue(w: AnnounceFacts, now: Date): boolean {
  if (w.announcedAt !== null || w.cancelledAt !== null) return false;
  if (Date.parse(w.endsAt) <= now.getTime() || w.endsAt === w.startsAt) return false;
  return w.kind === 'emergency' || Date.parse(w.startsAt) - w.announceDays * 86_400_000 <= now.getTime();
}
