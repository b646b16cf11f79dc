import type { Selectable } from 'kysely';
import type { RestoresTable } from '../../store/schema-backups.ts';
import type { Tier } from '../../tenants/schemas.ts';
import type { RestoreMode } from '../restore-plan.ts';
import type { RestoreObserved, RestoreStep } from './planner.ts';

export type RestoreRow = Selectable<RestoresTable>;

/** The tier a stage's database is on; each has its restore strategy. */
export type RestoreTier = Tier;

/**
 * How a restore of one tier observes where it stands and carries out the
 * planner's steps. The service owns the rest: the request and its checks,
 * the loop (observe, nextRestoreStep, run), success and failure.
 */
export interface RestoreStrategy {
  readonly tier: RestoreTier;
  /** Why this tier cannot restore in this mode (yet), or undefined: asked before anything is written. */
  refusal(mode: RestoreMode): string | undefined;
  /** Whether an in-place restore keeps the old database beside the restored one (until `restore discard`). */
  keepsDatabase(mode: RestoreMode): boolean;
  observe(row: RestoreRow): Promise<RestoreObserved>;
  /** Runs one of the tier's steps: one idempotent action. */
  run(step: RestoreStep, row: RestoreRow): Promise<void>;
  /**
   * After a failure: what is half-made and never took the stage's place goes
   * (the stage keeps what it has). `swapped`: the stage holds (part of) the
   * restore already, so a new stage restored into stays.
   */
  cleanUp(row: RestoreRow): Promise<{ swapped: boolean }>;
}
