import { restorePhases, type RestoreMode, type RestorePhase, type RestoreStatus } from '../restore-plan.ts';
import type { RestoreRow } from './strategy.ts';

export interface RestoreRequest {
  /** The point in time, with a UTC offset (`2026-11-23 10:15:00+01`). */
  readonly toTime: unknown;
  /** A new stage of the same tenant to restore into. */
  readonly into?: string | undefined;
  /** Restore onto the stage itself; needs `confirm` equal to the stage's name. */
  readonly inPlace?: boolean | undefined;
  readonly confirm?: string | undefined;
}

export interface RestoreView {
  readonly id: string;
  readonly tenant: string;
  readonly sourceStage: string;
  readonly targetStage: string;
  readonly mode: RestoreMode;
  readonly toTime: string;
  readonly cluster: string;
  readonly repo: number;
  readonly backupLabel: string;
  readonly status: RestoreStatus;
  readonly phase: RestorePhase;
  readonly progress: string;
  /** In place: the old database, kept until `restore discard`; null once discarded. */
  readonly keptDatabase: string | null;
  readonly keptFilesDir: string | null;
  readonly discardedAt: string | null;
  readonly discardedBy: string | null;
  readonly files: {
    /** The export the files came from, when they were restored. */
    readonly exportId: string | null;
    readonly restored: boolean;
    /** What was restored, or why the files were not. */
    readonly note: string | null;
  };
  readonly error: string | null;
  readonly timings: Readonly<Record<string, number>>;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}

/** A restore row as the API shows it. */
export function restoreView(row: RestoreRow): RestoreView {
  return {
    id: row.id,
    tenant: row.tenant_slug,
    sourceStage: row.source_stage,
    targetStage: row.target_stage,
    mode: row.mode as RestoreMode,
    toTime: row.target_time.toISOString(),
    cluster: row.cluster,
    repo: row.repo,
    backupLabel: row.backup_label,
    status: row.status as RestoreStatus,
    phase: (restorePhases as readonly string[]).includes(row.phase) ? (row.phase as RestorePhase) : 'queued',
    progress: row.progress,
    keptDatabase: row.discarded_at ? null : row.kept_database,
    keptFilesDir: row.discarded_at ? null : row.kept_files_dir,
    discardedAt: row.discarded_at?.toISOString() ?? null,
    discardedBy: row.discarded_by,
    files: {
      exportId: row.files_export_id,
      restored: row.files_export_id !== null,
      note: row.files_note,
    },
    error: row.error,
    timings: row.timings ?? {},
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}
