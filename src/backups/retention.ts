import { defaultBackupPolicy, intervalOf, type BackupType, type PhysicalPolicy } from './policy.ts';

/** How long a policy keeps backups: retainDays, and the optional daily/weekly/monthly tiers beyond it. */
export type RetentionPolicy = Pick<PhysicalPolicy, 'retainDays' | 'keepDaily' | 'keepWeekly' | 'keepMonthly'>;

/**
 * How a repository keeps full backups; diffs and incrs go with the full they
 * build on. `time` and `count` are pgBackRest's own; with `tiered` pgBackRest
 * expires nothing by itself (a count it never reaches) and Steward expires
 * the sets tieredExpiry plans, one by one (expireAndCheck).
 */
export type RepoRetention =
  | { readonly kind: 'time'; readonly days: number }
  | { readonly kind: 'count'; readonly fulls: number }
  | { readonly kind: 'tiered'; readonly policy: RetentionPolicy };

/** The count of fulls pgBackRest keeps where Steward expires explicitly: in effect, all of them. */
export const keepAllFulls = 9999;

export function retentionOf(policy: RetentionPolicy): RepoRetention {
  const tiered = policy.keepDaily !== null || policy.keepWeekly !== null || policy.keepMonthly !== null;
  return tiered
    ? {
        kind: 'tiered',
        policy: {
          retainDays: policy.retainDays,
          keepDaily: policy.keepDaily,
          keepWeekly: policy.keepWeekly,
          keepMonthly: policy.keepMonthly,
        },
      }
    : { kind: 'time', days: policy.retainDays };
}

/** pgBackRest's options for one repository (`repo1-retention-full-type=time`, …). */
export function retentionOptions(repo: number, retention: RepoRetention): Record<string, string> {
  return retention.kind === 'time'
    ? {
        [`repo${repo}-retention-full-type`]: 'time',
        [`repo${repo}-retention-full`]: String(retention.days),
      }
    : {
        [`repo${repo}-retention-full-type`]: 'count',
        [`repo${repo}-retention-full`]: String(retention.kind === 'count' ? retention.fulls : keepAllFulls),
      };
}

export interface StoredBackup {
  readonly label: string;
  readonly type: BackupType;
  /** The full (or diff) this one builds on; null for a full. */
  readonly prior: string | null;
  readonly stoppedAt: Date;
}

/**
 * The labels that expiring with this retention must remove, as pgBackRest
 * defines it. With `time`, the newest full older than the cutoff stays, so
 * that the oldest moment the policy promises can still be restored. Used to
 * check that an expire did what it should rather than nothing.
 */
export function expiredBackups(
  backups: readonly StoredBackup[],
  retention: RepoRetention,
  now: Date,
): readonly string[] {
  if (retention.kind === 'tiered') return tieredExpiry(backups, retention.policy, now);
  const fulls = backups.filter((b) => b.type === 'full').sort((a, b) => +a.stoppedAt - +b.stoppedAt);
  let doomed: StoredBackup[];
  if (retention.kind === 'count') {
    doomed = fulls.slice(0, Math.max(0, fulls.length - retention.fulls));
  } else {
    const cutoff = now.getTime() - retention.days * 86_400_000;
    const older = fulls.filter((b) => b.stoppedAt.getTime() < cutoff);
    doomed = older.slice(0, -1);
  }
  const gone = new Set(doomed.map((b) => b.label));
  // Dependents go with what they build on; labels sort by time, so one pass in order suffices.
  for (const b of [...backups].sort((a, b) => +a.stoppedAt - +b.stoppedAt)) {
    if (b.prior !== null && gone.has(b.prior)) gone.add(b.label);
  }
  return backups.filter((b) => gone.has(b.label)).map((b) => b.label);
}

const dayMs = 86_400_000;

/** Which UTC day, ISO week (Monday first) and calendar month a moment falls in, as counters. */
const periodOf = {
  keepDaily: (t: Date) => Math.floor(t.getTime() / dayMs),
  // 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Mondays.
  keepWeekly: (t: Date) => Math.floor((Math.floor(t.getTime() / dayMs) + 3) / 7),
  keepMonthly: (t: Date) => t.getUTCFullYear() * 12 + t.getUTCMonth(),
} as const;

/**
 * The labels a tiered policy removes. Every backup that stopped within
 * retainDays stays, and so does the newest full before that window (it and
 * the WAL after it restore to the window's first moment, as pgBackRest's time
 * retention keeps it; with no full in the window it is the newest full).
 * Beyond the window the newest full of each of the last keepDaily UTC days,
 * keepWeekly ISO weeks and keepMonthly calendar months (the current one
 * counted) stays as well. Everything else goes: older fulls with the diffs
 * and incrs that build on them, and the diffs and incrs older than the window
 * that nothing kept builds on. What a kept backup builds on is kept. Pure.
 */
export function tieredExpiry(
  backups: readonly StoredBackup[],
  policy: RetentionPolicy,
  now: Date,
): readonly string[] {
  const byTime = [...backups].sort((a, b) => +a.stoppedAt - +b.stoppedAt);
  const fulls = byTime.filter((b) => b.type === 'full');
  // Without a full nothing can be restored or anchored: remove nothing, as pgBackRest would.
  if (fulls.length === 0) return [];
  const cutoff = now.getTime() - policy.retainDays * dayMs;
  const keep = new Set(byTime.filter((b) => b.stoppedAt.getTime() >= cutoff).map((b) => b.label));
  const anchor = fulls.filter((b) => b.stoppedAt.getTime() < cutoff).at(-1);
  if (anchor) keep.add(anchor.label);
  for (const tier of ['keepDaily', 'keepWeekly', 'keepMonthly'] as const) {
    const count = policy[tier];
    if (count === null) continue;
    const current = periodOf[tier](now);
    const newest = new Map<number, string>();
    for (const full of fulls) {
      const period = periodOf[tier](full.stoppedAt);
      if (period <= current && period > current - count) newest.set(period, full.label);
    }
    for (const label of newest.values()) keep.add(label);
  }
  const byLabel = new Map(backups.map((b) => [b.label, b]));
  for (const label of [...keep]) {
    for (let prior = byLabel.get(label)?.prior; prior; prior = byLabel.get(prior)?.prior) keep.add(prior);
  }
  return backups.filter((b) => !keep.has(b.label)).map((b) => b.label);
}

/**
 * How many of the newest fulls keep continuous WAL after a tiered expire: the
 * fulls within retainDays and the newest one before them, so that any moment
 * of the window can be restored; at least one. Older fulls keep only the WAL
 * they need to be consistent. Pure.
 */
export function walFulls(backups: readonly StoredBackup[], retainDays: number, now: Date): number {
  const cutoff = now.getTime() - retainDays * dayMs;
  const fulls = backups.filter((b) => b.type === 'full');
  const inside = fulls.filter((b) => b.stoppedAt.getTime() >= cutoff).length;
  const before = fulls.some((b) => b.stoppedAt.getTime() < cutoff) ? 1 : 0;
  return Math.max(1, inside + before);
}

/**
 * How many days back the oldest backup a policy keeps can reach: retainDays
 * plus one full interval (the newest full before the window stays, and WAL
 * from it), or the oldest tier (a month counted as 31 days, a week as 7),
 * whichever is longer. Pure.
 */
export function retentionReachDays(policy: PhysicalPolicy): number {
  return Math.max(
    policy.retainDays + Math.ceil(intervalOf(policy.full) / dayMs),
    policy.keepDaily ?? 0,
    (policy.keepWeekly ?? 0) * 7,
    (policy.keepMonthly ?? 0) * 31,
  );
}

/**
 * The longest reach over the tenants' policies (the default's without
 * tenants, as a cluster without tenants runs by it): what anything that must
 * outlive every backup waits for. Pure.
 */
export function longestRetentionDays(policies: readonly PhysicalPolicy[]): number {
  return Math.max(...(policies.length > 0 ? policies : [defaultBackupPolicy]).map(retentionReachDays));
}
