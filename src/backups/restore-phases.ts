/**
 * The modes, statuses and phases of restores and restore tests: the API's
 * enums, and the steps the console shows in this order. No imports: the
 * console bundles this file.
 */

export const restoreModes = ['into', 'in-place'] as const;
export type RestoreMode = (typeof restoreModes)[number];

export const restoreStatuses = ['running', 'succeeded', 'failed'] as const;
export type RestoreStatus = (typeof restoreStatuses)[number];

/** A restore's phases, in order; the job resumes from the one it was in. */
export const restorePhases = [
  'queued',
  'creating-stage',
  'archiving',
  'restoring',
  'copying',
  'verifying',
  'files',
  'swapping',
  'restarting',
  'done',
] as const;
export type RestorePhase = (typeof restorePhases)[number];

export const restoreTestTriggers = ['manual', 'schedule'] as const;
export type RestoreTestTrigger = (typeof restoreTestTriggers)[number];

export const restoreTestPhases = [
  'queued',
  'archiving',
  'restoring',
  'verifying',
  'app-verify',
  'tearing-down',
  'done',
] as const;
export type RestoreTestPhase = (typeof restoreTestPhases)[number];
