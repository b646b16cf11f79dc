import { InputError, showValue } from '../core/errors.ts';
import { checkTimeZone, dateOfDay, instantOf, localTime, weekday } from './zoned.ts';

/**
 * On-call schedules: who is on call at an instant. Pure. A rotation hands
 * off at a local time of day in its own time zone (every day, or every
 * Monday for weekly ones), so a shift is 23 or 25 hours long across a DST
 * change and hand-offs stay at 09:00 on the wall clock. Overrides cover a
 * span for one member; the newest covering one wins.
 */
export const rotations = ['daily', 'weekly'] as const;
export type Rotation = (typeof rotations)[number];

export interface Schedule {
  readonly name: string;
  readonly rotation: Rotation;
  readonly timeZone: string;
  /** Minutes after local midnight. */
  readonly handoffMinute: number;
  /** Operator usernames, in rotation order. */
  readonly members: readonly string[];
  /** The local day (days since 1970-01-01) whose shift the first member takes. */
  readonly startDay: number;
}

export interface Override {
  readonly id: string;
  readonly member: string;
  readonly from: Date;
  readonly until: Date;
  readonly createdAt: Date;
}

export interface OnCall {
  readonly member: string;
  /** The shift (or override) that puts them there, and its end. */
  readonly from: Date;
  readonly until: Date;
  readonly override: string | null;
}

const namePattern = /^[a-z][a-z0-9-]{0,39}$/;

export function checkScheduleName(name: string, field = 'name'): string {
  if (!namePattern.test(name)) {
    throw new InputError(
      `field "${field}": ${showValue(name)} is not a schedule name; use 1 to 40 lower-case letters, digits and "-", starting with a letter`,
      { field },
    );
  }
  return name;
}

/** "09:00" → 540. */
export function parseHandoff(text: string, field = 'handoff'): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!m) {
    throw new InputError(
      `field "${field}": ${showValue(text)} is not a time of day; use HH:MM from 00:00 to 23:59, such as 09:00`,
      { field },
    );
  }
  return Number(m[1]) * 60 + Number(m[2]);
}

export function formatHandoff(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

export interface NewSchedule {
  readonly name: string;
  readonly rotation: string;
  readonly timeZone: string;
  readonly handoff?: string | undefined;
  readonly members: readonly string[];
}

/**
 * Checks a new schedule against the operators that exist; its first shift is
 * the one running at `now`. Pure.
 */
export function checkNewSchedule(input: NewSchedule, operators: readonly string[], now: Date): Schedule {
  const name = checkScheduleName(input.name);
  const rotation = input.rotation as Rotation;
  if (!rotations.includes(rotation)) {
    throw new InputError(
      `field "rotation": ${showValue(input.rotation)} is not accepted; use one of ${rotations.join(', ')}`,
      { field: 'rotation' },
    );
  }
  const timeZone = checkTimeZone(input.timeZone);
  const handoffMinute = parseHandoff(input.handoff ?? '09:00');
  const members = checkMembers(input.members, operators);
  const draft: Schedule = { name, rotation, timeZone, handoffMinute, members, startDay: 0 };
  return { ...draft, startDay: shiftDay(draft, now) };
}

export function checkMembers(members: readonly string[], operators: readonly string[]): string[] {
  if (members.length === 0 || members.length > 100) {
    throw new InputError('field "members": name 1 to 100 operators, in rotation order (anna,ben)', {
      field: 'members',
    });
  }
  for (const member of members) checkMember(member, operators, 'members');
  const seen = new Set<string>();
  for (const member of members) {
    if (seen.has(member)) {
      throw new InputError(`field "members": ${showValue(member)} is named twice; name each operator once`, {
        field: 'members',
      });
    }
    seen.add(member);
  }
  return [...members];
}

export function checkMember(member: string, operators: readonly string[], field = 'member'): string {
  if (!operators.includes(member)) {
    throw new InputError(
      `field "${field}": ${showValue(member)} is not an operator; operators are: ${operators.join(', ') || '(none)'}`,
      { field },
    );
  }
  return member;
}

/** The local day a shift began on: before the hand-off time it is still yesterday's (or last week's) shift. */
function shiftDay(schedule: Schedule, at: Date): number {
  const local = localTime(at, schedule.timeZone);
  let day = local.minute < schedule.handoffMinute ? local.day - 1 : local.day;
  if (schedule.rotation === 'weekly') day -= weekday(day);
  return day;
}

function shiftLength(schedule: Schedule): number {
  return schedule.rotation === 'weekly' ? 7 : 1;
}

/** The rotation's member at `at`, with the shift's start and end. */
export function rotationAt(schedule: Schedule, at: Date): OnCall {
  const day = shiftDay(schedule, at);
  const length = shiftLength(schedule);
  const n = schedule.members.length;
  const index = Math.floor((day - schedule.startDay) / length);
  return {
    member: schedule.members[((index % n) + n) % n] ?? '',
    from: instantOf(day, schedule.handoffMinute, schedule.timeZone),
    until: instantOf(day + length, schedule.handoffMinute, schedule.timeZone),
    override: null,
  };
}

/** Who is on call at `at`: the newest override covering it, else the rotation's member. */
export function whoIsOnCall(schedule: Schedule, overrides: readonly Override[], at: Date): OnCall {
  const t = at.getTime();
  const covering = overrides
    .filter((o) => o.from.getTime() <= t && t < o.until.getTime())
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || Number(b.id) - Number(a.id))[0];
  if (covering) {
    return { member: covering.member, from: covering.from, until: covering.until, override: covering.id };
  }
  return rotationAt(schedule, at);
}

/** The next `count` shifts from the one running at `at` (overrides not applied): what `schedule show` lists. */
export function upcomingShifts(schedule: Schedule, at: Date, count: number): OnCall[] {
  const shifts: OnCall[] = [];
  let cursor = at;
  for (let i = 0; i < count; i++) {
    const shift = rotationAt(schedule, cursor);
    shifts.push(shift);
    cursor = shift.until;
  }
  return shifts;
}

export interface NewOverride {
  readonly member: string;
  readonly from: string;
  readonly until: string;
}

/** An instant given as ISO 8601 with a zone or offset (2026-12-24T18:00+01:00, …Z). */
export function parseInstant(text: string, field: string): Date {
  const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/.test(text);
  const at = new Date(text);
  if (!ok || Number.isNaN(at.getTime())) {
    throw new InputError(
      `field "${field}": ${showValue(text)} is not an instant; use ISO 8601 with a zone, such as 2026-12-24T18:00+01:00 or 2026-12-24T17:00Z`,
      { field },
    );
  }
  return at;
}

export function checkNewOverride(
  input: NewOverride,
  operators: readonly string[],
  now: Date,
): { member: string; from: Date; until: Date } {
  const member = checkMember(input.member, operators);
  const from = parseInstant(input.from, 'from');
  const until = parseInstant(input.until, 'until');
  if (until.getTime() <= from.getTime()) {
    throw new InputError(
      `field "until": ${showValue(input.until)} is not after from (${from.toISOString()}); an override covers from..until`,
      { field: 'until' },
    );
  }
  if (until.getTime() <= now.getTime()) {
    throw new InputError(
      `field "until": ${showValue(input.until)} has passed; an override must end in the future`,
      { field: 'until' },
    );
  }
  if (until.getTime() - from.getTime() > 366 * 86_400_000) {
    throw new InputError(`field "until": an override covers at most 366 days`, { field: 'until' });
  }
  return { member, from, until };
}

export function describeStartDay(schedule: Schedule): string {
  const d = dateOfDay(schedule.startDay);
  return `${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}
