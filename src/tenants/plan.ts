import type { ObservedStageDatabase } from '../databases/driver.ts';

/**
 * The stage planner: desired state and observed state in, the next step out.
 * Pure, so that every case is a row in a table test.
 */
export const stageSteps = [
  'ensure-server',
  'ensure-role',
  'ensure-database',
  'restrict-access',
  'ensure-files',
  'drop-database',
  'drop-role',
  'remove-files',
] as const;
export type StageStep = (typeof stageSteps)[number];

export interface ObservedStage {
  readonly database: ObservedStageDatabase;
  readonly filesDirExists: boolean;
}

export type StagePlan =
  | { readonly kind: 'step'; readonly step: StageStep; readonly reason: string }
  | { readonly kind: 'converged' };

export function planStage(desired: 'present' | 'absent', observed: ObservedStage): StagePlan {
  const db = observed.database;
  if (desired === 'present') {
    if (!db.serverRunning) return step('ensure-server', "starting the stage's database server");
    if (!db.roleExists) return step('ensure-role', 'creating the stage role');
    if (!db.roleIsPlain) return step('ensure-role', 'the stage role has privileges it must not have');
    if (!db.databaseExists) return step('ensure-database', 'creating the stage database');
    if (!db.ownedByRole) return step('ensure-database', 'the stage database is owned by another role');
    if (db.publicCanConnect) return step('restrict-access', 'other roles may connect to the stage database');
    if (!observed.filesDirExists) return step('ensure-files', 'creating the stage files directory');
    return { kind: 'converged' };
  }
  if (db.databaseExists) return step('drop-database', 'dropping the stage database');
  if (db.roleExists) return step('drop-role', 'dropping the stage role');
  if (observed.filesDirExists) return step('remove-files', 'removing the stage files directory');
  return { kind: 'converged' };
}

function step(name: StageStep, reason: string): StagePlan {
  return { kind: 'step', step: name, reason };
}
