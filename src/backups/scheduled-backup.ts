import { systemClock, type Clock } from '../core/clock.ts';
import type { ControlDb } from '../store/db.ts';
import type { PgBackRestDriver } from './pgbackrest/driver.ts';
import type { PhysicalPolicy } from './policy.ts';
import { retentionOf } from './retention.ts';
import { runBackup, type BackupRun } from './runs.ts';
import { dueBackup } from './schedule.ts';

export interface ScheduledBackupDeps {
  readonly db: ControlDb;
  readonly driver: PgBackRestDriver;
  readonly clock?: Clock;
}

export interface ScheduledBackupRequest {
  readonly policy: PhysicalPolicy;
  readonly repo: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export type ScheduledBackupResult =
  | { readonly kind: 'ran'; readonly run: BackupRun; readonly reason: string }
  | { readonly kind: 'wait'; readonly until: Date; readonly reason: string };

/**
 * One pass of a cluster's backup schedule: reads what the repository holds
 * (observed state, not Steward's records, so a wiped repository gets a full
 * again), asks the policy what is due, and runs at most that one backup,
 * expiring by the policy's retention after it. A timer or job calls this.
 */
export async function scheduledBackup(
  deps: ScheduledBackupDeps,
  request: ScheduledBackupRequest,
): Promise<ScheduledBackupResult> {
  const clock = deps.clock ?? systemClock;
  const held = (await deps.driver.info()).backups
    .filter((b) => b.repo === request.repo && !b.error)
    .map((b) => ({ type: b.type, finishedAt: b.stoppedAt }));
  const decision = dueBackup(request.policy, held, clock.now());
  if (decision.kind === 'wait') return decision;
  const run = await runBackup(
    { db: deps.db, driver: deps.driver, clock },
    {
      type: decision.type,
      repo: request.repo,
      timeoutMs: request.timeoutMs,
      expire: retentionOf(request.policy),
      requestedBy: 'schedule',
      ...(request.signal ? { signal: request.signal } : {}),
    },
  );
  return { kind: 'ran', run, reason: decision.reason };
}
