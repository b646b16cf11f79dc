/**
 * Backups. Physical backups are pgBackRest's, one stanza per cluster, with two
 * encrypted repositories (repo1 regional, repo2 off-site); logical exports live
 * in ./logical.
 *
 * repo2 may be an S3 bucket (tested against s3rver over HTTPS: backup, WAL
 * archiving, point-in-time restore). Retention and verify are tested on path
 * repositories, where they really act: s3rver's listing hides deeper
 * prefixes, so there expire only drops backups from pgBackRest's catalogue
 * (their objects stay, and expireAndCheck, which reads the catalogue, cannot
 * tell) and verify finds none of the archived WAL.
 *
 * What is next (issue 5): calling prepareStanza from the shared cluster's
 * setup in `steward up` and from the dedicated driver (a stanza per cluster,
 * its state dir under the data dir); a job per cluster that calls
 * scheduledBackup() (one pass: due by policy, run, expire) and re-enqueues
 * itself at its `until`, with policies stored per tenant; restore with
 * --db-include into a scratch instance (started with archive_mode off),
 * point-in-time restore and its range checks; restore tests with evidence;
 * scheduled verify; the CLI and API (`steward backup …`).
 */
export {
  checkPolicy,
  defaultBackupPolicy,
  backupTypes,
  type BackupPolicy,
  type BackupType,
} from './policy.ts';
export { dueBackup, type CompletedBackup, type ScheduleDecision } from './schedule.ts';
export { scheduledBackup, type ScheduledBackupResult } from './scheduled-backup.ts';
export { expiredBackups, retentionOf, type RepoRetention } from './retention.ts';
export {
  BackupBusyError,
  expireAndCheck,
  listBackupRuns,
  runBackup,
  type BackupRun,
  type BackupRunRequest,
} from './runs.ts';
export {
  renderConfig,
  s3UriStyles,
  type PathRepository,
  type PgBackRestConfig,
  type Repository,
  type S3Repository,
} from './pgbackrest/config.ts';
export {
  pgbackrestDriver,
  PgBackRestError,
  type BackupOutcome,
  type PgBackRestDriver,
  type VerifyOutcome,
} from './pgbackrest/driver.ts';
export { newestWal, parseInfo, type BackupInfo, type StanzaInfo } from './pgbackrest/info.ts';
export { enableArchiving } from './pgbackrest/archiving.ts';
export {
  prepareStanza,
  repositoryPassphrase,
  type PreparedStanza,
  type RepositorySpec,
  type StanzaSetup,
} from './pgbackrest/setup.ts';
export { checkRepositoryGeography, type RepositoryPlacement } from './geography.ts';
