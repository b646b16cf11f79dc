/** What the backups, restores and restore-tests API returns (the fields these pages show). */
export interface PhysicalPolicy {
  readonly full: string;
  readonly diff: string | null;
  readonly incr: string | null;
  readonly retainDays: number;
}

export interface VerifyView {
  readonly at: string;
  readonly ok: boolean;
  readonly report: string;
}

export interface ClusterRow {
  readonly stanza: string;
  readonly kind: string;
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly live: boolean;
  readonly policy: PhysicalPolicy;
  readonly lastVerify: VerifyView | null;
}

export interface StoredBackup {
  readonly label: string;
  readonly type: string;
  readonly repo: number;
  readonly startedAt: string;
  readonly stoppedAt: string;
  readonly repositoryBytes: number;
  readonly error: boolean;
}

export interface BackupRun {
  readonly id: string;
  readonly type: string;
  readonly repo: number;
  readonly status: string;
  readonly label: string | null;
  readonly startedAt: string;
  readonly durationMs: number | null;
  readonly sizeBytes: number | null;
  readonly error: string | null;
}

export interface StageBackups {
  readonly tenant: string;
  readonly stage: string;
  readonly cluster: string | null;
  readonly reason: string | null;
  readonly policy: PhysicalPolicy | null;
  readonly freshness: {
    readonly label: string;
    readonly stoppedAt: string;
    readonly ageSeconds: number;
  } | null;
  readonly error: string | null;
  readonly backups: readonly StoredBackup[];
  readonly restorable: readonly {
    readonly repo: number;
    readonly from: string;
    readonly latestBackupAt: string;
    readonly latestWal: string | null;
  }[];
  readonly runs: readonly BackupRun[];
  readonly lastVerify: VerifyView | null;
}

export interface TableCheck {
  readonly table: string;
  readonly expected: { readonly rows: number; readonly sum: string; readonly xor: string } | null;
  readonly actual: { readonly rows: number; readonly sum: string; readonly xor: string } | null;
  readonly ok: boolean;
}

export interface RestoreTestRow {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string;
  readonly cluster: string;
  readonly trigger: string;
  readonly status: string;
  readonly phase: string;
  readonly repo: number | null;
  readonly backupLabel: string | null;
  readonly backupStoppedAt: string | null;
  readonly restorePoint: string | null;
  readonly rpoSeconds: number | null;
  readonly rtoMs: number | null;
  readonly verification: {
    readonly fingerprint: {
      readonly ok: boolean;
      readonly exact: boolean;
      readonly why: string | null;
      readonly takenByTest: boolean;
      readonly tables: readonly TableCheck[];
    } | null;
    readonly app: {
      readonly command: string;
      readonly release: string;
      readonly exitCode: number;
      readonly output: string;
    } | null;
  } | null;
  readonly error: string | null;
  readonly createdBy: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

export interface RestoreRow {
  readonly id: string;
  readonly tenant: string;
  readonly sourceStage: string;
  readonly targetStage: string;
  readonly mode: string;
  readonly toTime: string;
  readonly status: string;
  readonly phase: string;
  readonly progress: string;
  readonly keptDatabase: string | null;
  readonly discardedAt: string | null;
  readonly error: string | null;
  readonly createdAt: string;
}

/** A restore test's fingerprint verdict in one word: match, differ or none. */
export function fingerprintVerdict(test: Pick<RestoreTestRow, 'verification'>): 'ok' | 'bad' | 'none' {
  const fingerprint = test.verification?.fingerprint;
  if (!fingerprint) return 'none';
  return fingerprint.ok ? 'ok' : 'bad';
}
