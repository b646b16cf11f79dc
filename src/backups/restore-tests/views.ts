import type { Selectable } from 'kysely';
import type { RestoreTestsTable } from '../../store/schema-backups.ts';
import type { RestoreStatus, RestoreTestPhase, RestoreTestTrigger, TableCheck } from '../restore-plan.ts';

export interface AppVerification {
  readonly command: string;
  readonly release: string;
  readonly exitCode: number;
  /** The last lines the command printed. */
  readonly output: string;
}

export interface RestoreTestVerification {
  readonly fingerprint: {
    readonly ok: boolean;
    /** Whether the fingerprint recorded at backup time was exact (see recordFingerprintWithRestorePoint). */
    readonly exact: boolean;
    readonly why: string | null;
    /** Taken by this test (no backup had one of this stage's database) rather than at backup time. */
    readonly takenByTest: boolean;
    readonly tables: readonly TableCheck[];
  } | null;
  /** The app's own verify command; null when its release defines none (or no release runs). */
  readonly app: AppVerification | null;
}

export interface RestoreTestView {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string;
  readonly cluster: string;
  readonly trigger: RestoreTestTrigger;
  readonly status: RestoreStatus;
  readonly phase: RestoreTestPhase;
  readonly repo: number | null;
  readonly backupLabel: string | null;
  readonly backupStoppedAt: string | null;
  readonly restorePoint: string | null;
  /** Age of the backup when the test ran: the RPO at that moment. */
  readonly rpoSeconds: number | null;
  /** From the start of the restore until it was verified: the measured RTO. */
  readonly rtoMs: number | null;
  readonly verification: RestoreTestVerification | null;
  readonly error: string | null;
  readonly createdBy: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

export interface SchedulePassResult {
  readonly started: readonly RestoreTestView[];
  /** When the next scheduled restore test falls due; null when no stage has them. */
  readonly nextDue: Date | null;
}

export type RestoreTestRow = Selectable<RestoreTestsTable>;

export function testView(row: RestoreTestRow): RestoreTestView {
  return {
    id: row.id,
    tenant: row.tenant_slug,
    stage: row.stage_name,
    cluster: row.cluster,
    trigger: row.trigger as RestoreTestTrigger,
    status: row.status as RestoreStatus,
    phase: row.phase as RestoreTestPhase,
    repo: row.repo,
    backupLabel: row.backup_label,
    backupStoppedAt: row.backup_stopped_at?.toISOString() ?? null,
    restorePoint: row.restore_point,
    rpoSeconds: row.rpo_seconds,
    rtoMs: row.rto_ms,
    verification: (row.verification as RestoreTestVerification | null) ?? null,
    error: row.error,
    createdBy: row.created_by,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}
