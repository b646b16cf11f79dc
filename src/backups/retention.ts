import type { BackupType, PhysicalPolicy } from './policy.ts';

/** How a repository keeps full backups; diffs and incrs go with the full they build on. */
export type RepoRetention =
  { readonly kind: 'time'; readonly days: number } | { readonly kind: 'count'; readonly fulls: number };

export function retentionOf(policy: PhysicalPolicy): RepoRetention {
  return { kind: 'time', days: policy.retainDays };
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
        [`repo${repo}-retention-full`]: String(retention.fulls),
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
