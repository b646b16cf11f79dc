import { InputError, showValue } from '../core/errors.ts';
import type { FingerprintComparison, TableFingerprint } from './fingerprint.ts';

/**
 * The pure decisions of restores and restore tests: what a point in time the
 * operator typed means, which stages are due a restore test, which backup a
 * restore test restores, the names of the databases a restore makes, and the
 * verification evidence. No I/O.
 */

export {
  restoreModes,
  restorePhases,
  restoreStatuses,
  restoreTestPhases,
  restoreTestTriggers,
  type RestoreMode,
  type RestorePhase,
  type RestoreStatus,
  type RestoreTestPhase,
  type RestoreTestTrigger,
} from './restore-phases.ts';

const timePattern =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * A point in time as an operator types it: a date, a time and a UTC offset
 * (`2026-11-23 10:15:00+01`, `2026-11-23T09:15:00Z`). The offset is required:
 * a restore to the wrong hour is not a typo one notices.
 */
export function parseRestoreTime(value: unknown, field = 'toTime'): Date {
  const text = typeof value === 'string' ? value.trim() : '';
  const match = timePattern.exec(text);
  const accepted = `use a date, a time and a UTC offset, such as "2026-11-23 10:15:00+01" or "2026-11-23T09:15:00Z"`;
  if (!match) {
    throw new InputError(`field "${field}": ${showValue(value)} is not a point in time; ${accepted}`, {
      field,
    });
  }
  const [, y, mo, d, h, mi, s = '0', frac = '0', zone = 'Z'] = match;
  const offsetMinutes =
    zone.toUpperCase() === 'Z'
      ? 0
      : (zone.startsWith('-') ? -1 : 1) *
        (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(1).replace(':', '').slice(2) || '0'));
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const at = new Date(utc - offsetMinutes * 60_000);
  // Date.UTC rolls 2026-02-30 over into March: a date that does not exist is refused instead.
  const check = new Date(utc);
  if (
    Number.isNaN(at.getTime()) ||
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59 ||
    Math.abs(offsetMinutes) > 14 * 60
  ) {
    throw new InputError(`field "${field}": ${showValue(value)} is not a valid point in time; ${accepted}`, {
      field,
    });
  }
  return at;
}

/** PostgreSQL's limit for a name, in bytes. */
const nameLimit = 63;

function withSuffix(base: string, suffix: string): string {
  let head = base;
  while (Buffer.byteLength(head + suffix) > nameLimit) head = [...head].slice(0, -1).join('');
  return head + suffix;
}

/** Where a restore copies to before the copy takes the target's name: `<target>_rst_<id>`. */
export function replacementDatabaseName(target: string, restoreId: string): string {
  return withSuffix(target, `_rst_${restoreId.replaceAll('-', '').slice(0, 8)}`);
}

/** Restore points of fingerprints: `steward-fp-<label>` (pgBackRest labels: 20261123-101500F[_…I]). */
export function fingerprintRestorePoint(label: string, group: number): string {
  return `steward-fp-${label}${group > 0 ? `-g${group}` : ''}`;
}

/** How many databases one restore point fingerprints: two sessions each, so bounded. */
export const fingerprintBatch = 8;

/** Splits a list into batches of at most `size`, in order. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A stage whose restore tests are scheduled, and when its last one started (null: never). */
export interface ScheduledStage {
  readonly tenant: string;
  readonly stage: string;
  readonly lastStartedAt: Date | null;
  /** A restore test of it is running now. */
  readonly running: boolean;
}

/** The stages due a scheduled restore test: none running, and the last one at least `everyMs` ago. */
export function dueRestoreTests(
  stages: readonly ScheduledStage[],
  now: Date,
  everyMs: number,
): ScheduledStage[] {
  return stages.filter(
    (s) => !s.running && (s.lastStartedAt === null || now.getTime() - s.lastStartedAt.getTime() >= everyMs),
  );
}

/** When the next scheduled restore test of any of these stages falls due (now when one is due). */
export function nextRestoreTestDue(
  stages: readonly ScheduledStage[],
  now: Date,
  everyMs: number,
): Date | null {
  let next: number | null = null;
  for (const s of stages) {
    const due = s.lastStartedAt === null ? now.getTime() : s.lastStartedAt.getTime() + everyMs;
    next = next === null ? due : Math.min(next, due);
  }
  return next === null ? null : new Date(Math.max(next, now.getTime()));
}

/** The stage names whose restore tests are scheduled (prod by default) hold this stage. */
export function isScheduledStage(stage: string, scheduled: readonly string[]): boolean {
  return scheduled.includes(stage);
}

export interface BackupCandidate {
  readonly label: string;
  readonly stoppedAt: Date;
}

export interface FingerprintCandidate {
  readonly label: string;
  readonly exact: boolean;
}

/**
 * The backup a restore test restores: the newest good backup that has a
 * fingerprint of the stage's database, an exact one before one that is not
 * (a mismatch of an inexact fingerprint may be the writers', not the
 * backup's). Undefined when no backup has one: the test then takes a
 * fingerprint of its own at a new restore point after the newest backup.
 */
export function chooseTestBackup(
  backups: readonly BackupCandidate[],
  fingerprints: readonly FingerprintCandidate[],
): BackupCandidate | undefined {
  const newestFirst = [...backups].sort(
    (a, b) => +b.stoppedAt - +a.stoppedAt || b.label.localeCompare(a.label),
  );
  const exact = new Set(fingerprints.filter((f) => f.exact).map((f) => f.label));
  const any = new Set(fingerprints.map((f) => f.label));
  return newestFirst.find((b) => exact.has(b.label)) ?? newestFirst.find((b) => any.has(b.label));
}

export interface TableCheck {
  /** `schema.table`. */
  readonly table: string;
  readonly expected: { readonly rows: number; readonly sum: string; readonly xor: string } | null;
  readonly actual: { readonly rows: number; readonly sum: string; readonly xor: string } | null;
  readonly ok: boolean;
}

/** Per table, what was recorded at backup time and what the restore holds, matching or not. */
export function tableChecks(
  expected: readonly TableFingerprint[],
  comparison: FingerprintComparison,
  actual: readonly TableFingerprint[],
): TableCheck[] {
  const key = (t: TableFingerprint): string => `${t.schema}.${t.table}`;
  const strip = (t: TableFingerprint | undefined | null): TableCheck['expected'] =>
    t ? { rows: t.rows, sum: t.sum, xor: t.xor } : null;
  const bad = new Set(comparison.mismatches.map((m) => m.table));
  const names = [...new Set([...expected.map(key), ...actual.map(key)])].sort();
  return names.map((table) => ({
    table,
    expected: strip(expected.find((t) => key(t) === table)),
    actual: strip(actual.find((t) => key(t) === table)),
    ok: !bad.has(table),
  }));
}

/** One line that names what differs, for a restore test's error. */
export function describeMismatches(checks: readonly TableCheck[]): string {
  const bad = checks.filter((c) => !c.ok);
  const shown = bad.slice(0, 5).map((c) => {
    if (!c.expected) return `${c.table} is in the restore but was not at backup time`;
    if (!c.actual) return `${c.table} is missing from the restore`;
    return c.expected.rows !== c.actual.rows
      ? `${c.table} has ${c.actual.rows} rows, ${c.expected.rows} recorded`
      : `${c.table} has other contents than recorded (${c.actual.rows} rows)`;
  });
  return `${bad.length} of ${checks.length} tables differ from the fingerprint recorded at backup time: ${shown.join('; ')}${bad.length > 5 ? '; …' : ''}`;
}

/** The last lines of a command's output, bounded. */
export function lastOutputLines(text: string, lines = 20, chars = 4000): string {
  return text.trim().split('\n').slice(-lines).join('\n').slice(-chars);
}

/**
 * The repository a scheduled restore test reads: among those holding a good
 * backup, the one whose last test of the stage is the oldest (never tested
 * first, then the lower number), so the off-site repository is proven
 * restorable as often as the regional one. Pure.
 */
export function repoForScheduledTest(
  repos: readonly number[],
  lastTested: ReadonlyMap<number, Date>,
): number | undefined {
  const at = (repo: number): number => lastTested.get(repo)?.getTime() ?? Number.NEGATIVE_INFINITY;
  return [...repos].sort((a, b) => at(a) - at(b) || a - b)[0];
}
