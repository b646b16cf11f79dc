import { InputError, NotFoundError } from '../../core/errors.ts';
import { newestWal, type BackupInfo, type StanzaInfo } from '../pgbackrest/info.ts';

/**
 * What one repository can restore to. A backup is consistent only from its
 * stop, so the oldest moment is the stop of the oldest good backup; the newest
 * is now, because WAL archiving goes on after the newest backup.
 */
export interface RestorableRange {
  /** Whose data this is, for messages: `acme/prod`, or the stanza. */
  readonly subject: string;
  readonly repo: number;
  /** The stop of the oldest good backup, rounded up to the next whole second. */
  readonly earliest: Date;
  /** The newest WAL segment archived in the repository, when info names one. */
  readonly newestWal: string | null;
  /** The good backups in the repository, oldest first. */
  readonly backups: readonly BackupInfo[];
}

/**
 * pgBackRest reports the stop in whole seconds (truncated); the backup is
 * consistent somewhere inside that second, so the first moment that is safe
 * to ask for is the next whole second.
 */
export function consistentFrom(backup: BackupInfo): Date {
  return new Date(Math.floor(backup.stoppedAt.getTime() / 1000) * 1000 + 1000);
}

function goodBackups(info: StanzaInfo, repo: number): BackupInfo[] {
  return info.backups
    .filter((b) => b.repo === repo && !b.error)
    .sort((a, b) => +a.stoppedAt - +b.stoppedAt || a.label.localeCompare(b.label));
}

/** The restorable range of one repository; NotFoundError when it holds no good backup yet. */
export function restorableRange(
  info: StanzaInfo,
  repo: number,
  subject: string = info.stanza,
): RestorableRange {
  const backups = goodBackups(info, repo);
  const oldest = backups[0];
  if (!oldest) {
    throw new NotFoundError(`no good backup of ${subject} in repo${repo} yet: there is nothing to restore`, {
      field: 'repo',
    });
  }
  return { subject, repo, earliest: consistentFrom(oldest), newestWal: newestWal(info, repo), backups };
}

/** The range of every repository that holds a good backup, by repository number. */
export function restorableRanges(info: StanzaInfo, subject: string = info.stanza): RestorableRange[] {
  const repos = [...new Set(info.backups.filter((b) => !b.error).map((b) => b.repo))].sort((a, b) => a - b);
  return repos.map((repo) => restorableRange(info, repo, subject));
}

/** An instant in ISO form, without milliseconds when it has none. */
export function isoSeconds(at: Date): string {
  return at.toISOString().replace(/\.000Z$/, 'Z');
}

function describeRange(range: RestorableRange, now: Date): string {
  const wal = range.newestWal ? `; newest archived WAL ${range.newestWal}` : '';
  return `restorable range for ${range.subject} in repo${range.repo}: ${isoSeconds(range.earliest)} … now (${isoSeconds(new Date(Math.floor(now.getTime() / 1000) * 1000))})${wal}`;
}

/**
 * Refuses a point-in-time target outside the range: before the oldest
 * backup's consistent point, or after now. The message names the field, the
 * value and the range that would be accepted.
 */
export function checkRestoreTarget(target: Date, range: RestorableRange, now: Date): void {
  if (Number.isNaN(target.getTime())) {
    throw new InputError(`to-time is not a valid time; ${describeRange(range, now)}`, { field: 'to-time' });
  }
  if (target < range.earliest) {
    throw new InputError(
      `to-time ${target.toISOString()} is before the oldest backup; ${describeRange(range, now)}`,
      { field: 'to-time' },
    );
  }
  if (target > now) {
    throw new InputError(`to-time ${target.toISOString()} is in the future; ${describeRange(range, now)}`, {
      field: 'to-time',
    });
  }
}

/**
 * The backup to restore for a target: the newest good one consistent at or
 * before it. pgBackRest would pick one itself; naming it with --set makes the
 * choice deterministic and lets the evidence say which backup was used.
 */
export function backupForTarget(range: RestorableRange, target: Date): BackupInfo {
  let chosen: BackupInfo | undefined;
  for (const backup of range.backups) if (consistentFrom(backup) <= target) chosen = backup;
  if (!chosen) {
    throw new InputError(
      `to-time ${target.toISOString()} is before the oldest backup of ${range.subject} in repo${range.repo} (${isoSeconds(range.earliest)})`,
      { field: 'to-time' },
    );
  }
  return chosen;
}

/** The newest good backup of the range: what a restore test or a restore to "latest" uses. */
export function newestBackup(range: RestorableRange): BackupInfo {
  const newest = range.backups.at(-1);
  // restorableRange never returns a range without backups.
  if (!newest) throw new NotFoundError(`no good backup of ${range.subject} in repo${range.repo}`);
  return newest;
}
