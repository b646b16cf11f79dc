import type { paths } from '../../../../src/api/client/schema.ts';
import type { ResponseBody } from '../../../../src/api/client/typed.ts';

/** What the backups, restores and restore-tests API returns: the types generated from its contracts (src/api/contracts/). */
export type ClusterRow = ResponseBody<paths, '/api/v1/backup-clusters'>['clusters'][number];
export type StageBackups = ResponseBody<paths, '/api/v1/tenants/{tenant}/stages/{stage}/backups'>;
export type RestorableRange = StageBackups['restorable'][number];
export type RestoreTestRow = ResponseBody<paths, '/api/v1/restore-tests/{id}'>;
export type RestoreRow = ResponseBody<paths, '/api/v1/restores/{id}'>;
export type RestorePhase = RestoreRow['phase'];

/** A restore's phases in the order the restore goes through them (Steward's own list; the API's enum is the same). */
export { restorePhases } from '../../../../src/backups/restore-phases.ts';

/** A restore test's fingerprint verdict in one word: match, differ or none. */
export function fingerprintVerdict(test: Pick<RestoreTestRow, 'verification'>): 'ok' | 'bad' | 'none' {
  const fingerprint = test.verification?.fingerprint;
  if (!fingerprint) return 'none';
  return fingerprint.ok ? 'ok' : 'bad';
}
