import { isSlugDatabaseName } from '../core/names.ts';
import type { ObservedRename } from '../databases/rename.ts';

/**
 * The rename planner: how a stage created before opaque names (its database
 * and role called `<prefix><tenant>_<stage>`) comes to carry its opaque name.
 * Pure, like the stage planner, and asked before it on every pass, so that a
 * kill -9 between any two steps resumes where the catalog says it stands.
 *
 * Why rename through the reconciler rather than in the migration: a migration
 * is SQL against the control DB and cannot reach the clusters, and the rename
 * must pause the stage's logins and restart its processes. So migration 0011
 * keeps every existing name (nothing breaks while Steward starts) and the
 * reconciler does the rest, one idempotent step at a time:
 *
 *   choose-opaque-name  the control DB records the old name and the new one (one transaction)
 *   block-logins        the old role may no longer log in, so apps cannot reconnect
 *   rename-database     its sessions are ended and it takes the new name
 *   rename-role         the role follows (its SCRAM password stays valid)
 *   resume              the role may log in again, the stage's processes restart
 *                       with the new DATABASE_URL, and the rename is recorded as done
 *
 * Only drivers whose clusters hold other tenants' stages rename (the shared
 * tier). A dedicated stage's cluster holds its own database and role and
 * Steward's superuser, nothing of anyone else's, and its directory and
 * pgBackRest stanza are named after the database: renaming would strand its
 * backups under the old stanza (pgBackRest cannot rename one) for no gain.
 * New dedicated stages get opaque names like every other.
 */
export const renameSteps = [
  'choose-opaque-name',
  'block-logins',
  'rename-database',
  'rename-role',
  'resume',
  'drop-old-database',
  'drop-old-role',
] as const;
export type RenameStep = (typeof renameSteps)[number];

export interface StageNaming {
  readonly databaseName: string;
  readonly previousName: string | null;
  readonly renamed: boolean;
  /** The stage's driver renames (its cluster is shared with other tenants). */
  readonly renamable: boolean;
}

export type RenamePlan =
  | { readonly kind: 'step'; readonly step: RenameStep; readonly reason: string }
  /** Both names exist: something other than Steward made one; a person must look. */
  | { readonly kind: 'conflict'; readonly reason: string }
  /** The catalog must be read (old name against new) before the next step is known. */
  | { readonly kind: 'observe'; readonly from: string; readonly to: string }
  | { readonly kind: 'converged' };

export function planRename(
  desired: 'present' | 'absent',
  naming: StageNaming,
  observed?: ObservedRename,
): RenamePlan {
  if (!naming.renamable) return { kind: 'converged' };
  if (naming.previousName === null) {
    if (desired === 'present' && isSlugDatabaseName(naming.databaseName)) {
      return step('choose-opaque-name', 'choosing an opaque name for the stage database and role');
    }
    return { kind: 'converged' };
  }
  if (naming.renamed) return { kind: 'converged' };
  if (!observed) return { kind: 'observe', from: naming.previousName, to: naming.databaseName };
  const from = naming.previousName;
  const to = naming.databaseName;
  if (desired === 'absent') {
    if (observed.fromDatabase)
      return step('drop-old-database', `dropping the stage database under its old name ${from}`);
    if (observed.fromRole) return step('drop-old-role', `dropping the stage role under its old name ${from}`);
    return { kind: 'converged' };
  }
  if (observed.fromDatabase && observed.toDatabase) {
    return {
      kind: 'conflict',
      reason: `databases ${from} (the stage's old name) and ${to} (its new one) both exist; Steward renames one into the other and will not choose: drop the one that is not the stage's`,
    };
  }
  if (observed.fromRole && observed.toRole) {
    return {
      kind: 'conflict',
      reason: `roles ${from} (the stage's old name) and ${to} (its new one) both exist; Steward renames one into the other and will not choose: drop the one that is not the stage's`,
    };
  }
  if (observed.fromDatabase && observed.fromRoleCanLogin) {
    return step('block-logins', `stopping logins of ${from} before renaming the stage database`);
  }
  if (observed.fromDatabase) return step('rename-database', `renaming the stage database ${from} to ${to}`);
  if (observed.fromRole) return step('rename-role', `renaming the stage role ${from} to ${to}`);
  return step('resume', `letting ${to} log in and restarting the stage's processes with their new database`);
}

/**
 * The name a stage's database had at a moment: its old name before its
 * rename ended, its present one after (and for a stage never renamed). What
 * a restore asks of a backup taken, or a time reached, before the rename.
 */
export function stageDatabaseNameAt(
  stage: { readonly database: string; readonly previousName: string | null; readonly renamedAt: Date | null },
  at: Date,
): string {
  return stage.previousName !== null && stage.renamedAt !== null && at < stage.renamedAt
    ? stage.previousName
    : stage.database;
}

function step(name: RenameStep, reason: string): RenamePlan {
  return { kind: 'step', step: name, reason };
}
