import type { StanzaInfo } from './pgbackrest/info.ts';
import type { BackupType } from './policy.ts';
import { restorableRanges } from './restore/range.ts';

/** The newest good backup of a cluster and how old it is: backup freshness. */
export interface Freshness {
  readonly label: string;
  readonly type: BackupType;
  readonly repo: number;
  readonly stoppedAt: string;
  readonly ageSeconds: number;
}

/** What one repository can restore, as listings show it (see restore/range.ts). */
export interface RestorableView {
  readonly repo: number;
  /** The earliest moment a restore can reach: the oldest good backup's consistent point. */
  readonly from: string;
  /** The stop of the newest good backup. */
  readonly latestBackupAt: string;
  /** The newest archived WAL segment: restores reach up to now, as far as it goes. */
  readonly latestWal: string | null;
}

/** The newest backup without error in any repository, or null. Pure. */
export function freshnessOf(info: StanzaInfo, now: Date): Freshness | null {
  let newest: StanzaInfo['backups'][number] | undefined;
  for (const b of info.backups) {
    if (!b.error && (!newest || b.stoppedAt > newest.stoppedAt)) newest = b;
  }
  if (!newest) return null;
  return {
    label: newest.label,
    type: newest.type,
    repo: newest.repo,
    stoppedAt: newest.stoppedAt.toISOString(),
    ageSeconds: Math.max(0, Math.round((now.getTime() - newest.stoppedAt.getTime()) / 1000)),
  };
}

/** Per repository with a good backup, the range a restore can reach. Pure. */
export function restorableViews(info: StanzaInfo, subject: string): RestorableView[] {
  return restorableRanges(info, subject).map((range) => ({
    repo: range.repo,
    from: range.earliest.toISOString(),
    latestBackupAt: (range.backups.at(-1)?.stoppedAt ?? range.earliest).toISOString(),
    latestWal: range.newestWal,
  }));
}
