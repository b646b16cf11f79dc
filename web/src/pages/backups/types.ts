import type { paths } from '../../../../src/api/client/schema.ts';
import type { ResponseBody } from '../../../../src/api/client/typed.ts';

/** What the backups, restores and restore-tests API returns: the types generated from its contracts (src/api/contracts/). */
export type ClusterRow = ResponseBody<paths, '/api/v1/backup-clusters'>['clusters'][number];
export type StageBackups = ResponseBody<paths, '/api/v1/tenants/{tenant}/stages/{stage}/backups'>;
export type RestorableRange = StageBackups['restorable'][number];
export type RestoreTestRow = ResponseBody<paths, '/api/v1/restore-tests/{id}'>;
export type RestoreRow = ResponseBody<paths, '/api/v1/restores/{id}'>;
export type RestorePhase = RestoreRow['phase'];

/** A restore's phases in the order the restore goes through them (the API's enum, kept complete below). */
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
] as const satisfies readonly RestorePhase[];

/** Fails the type check when the API gains a phase this list lacks. */
type Holds<T extends true> = T;
export type RestorePhasesComplete = Holds<
  [Exclude<RestorePhase, (typeof restorePhases)[number]>] extends [never] ? true : false
>;

/** A restore test's fingerprint verdict in one word: match, differ or none. */
export function fingerprintVerdict(test: Pick<RestoreTestRow, 'verification'>): 'ok' | 'bad' | 'none' {
  const fingerprint = test.verification?.fingerprint;
  if (!fingerprint) return 'none';
  return fingerprint.ok ? 'ok' : 'bad';
}
