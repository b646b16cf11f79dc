import type { DatabaseAccess, Fingerprint, TableFingerprint } from '../fingerprint.ts';
import { recordFingerprintsApart, recordFingerprintWithRestorePoint } from '../fingerprint.ts';
import { stageRoleSession } from '../../databases/privileged.ts';
import type { BackupInfo } from '../pgbackrest/info.ts';
import { message, type RestoreContext } from '../restore/context.ts';
import type { RestorableRange } from '../restore/range.ts';
import { batches, chooseTestBackup, fingerprintBatch, fingerprintRestorePoint } from '../restore-plan.ts';
import type { BackupRun } from '../runs.ts';
import type { BackupTarget } from '../service.ts';

/** What a restore test compares against, and which backup it restores. */
export interface TestFingerprint {
  readonly backup: BackupInfo;
  readonly restorePoint: string;
  readonly walFile: string;
  readonly expected: Fingerprint;
  readonly exact: boolean;
  readonly why: string | null;
  readonly takenByTest: boolean;
}

/**
 * The fingerprints restore tests compare against (backup_fingerprints):
 * taken after each good backup of the stages whose restore tests are
 * scheduled, or by a test when no backup has one.
 */
export class RestoreTestFingerprints {
  readonly #c: RestoreContext;

  constructor(context: RestoreContext) {
    this.#c = context;
  }

  /**
   * The onBackupSucceeded hook: fingerprints the databases of the stages on
   * the cluster whose restore tests are scheduled, at restore points made
   * right after the backup, and keeps them with the backup's label.
   */
  async afterBackup(target: BackupTarget, run: BackupRun): Promise<number> {
    if (run.status !== 'succeeded' || !run.label) return 0;
    const databases = await this.#databases(target);
    if (databases.length === 0) return 0;
    const admin = this.#c.superuser(target);
    let recorded = 0;
    for (const [group, batch] of batches(databases, fingerprintBatch).entries()) {
      const access = await Promise.all(
        batch.map(async (s) => ({
          database: s.database,
          connection: stageRoleSession((await this.#c.deps.tenants.stageConnection(s.id)).databaseUrl),
        })),
      );
      const result = await recordFingerprintsApart(admin, access, fingerprintRestorePoint(run.label, group));
      for (const { database, error } of result.failed) {
        this.#c.deps.logger.warn(
          { cluster: target.stanza, label: run.label, database, err: message(error) },
          'no fingerprint of this database after the backup (its restore test will take one)',
        );
      }
      for (const taken of result.recorded) {
        for (const [database, fingerprint] of Object.entries(taken.databases)) {
          await this.#c.deps.db
            .insertInto('backup_fingerprints')
            .values({
              cluster: target.stanza,
              repo: run.repo,
              backup_label: run.label,
              database_name: database,
              restore_point: taken.restorePoint,
              lsn: taken.lsn,
              wal_file: taken.walFile,
              exact: taken.exact,
              why: taken.why,
              tables: JSON.stringify(fingerprint.tables),
              taken_at: taken.takenAt,
            })
            .onConflict((oc) => oc.columns(['cluster', 'repo', 'backup_label', 'database_name']).doNothing())
            .execute();
          recorded++;
        }
      }
    }
    this.#c.deps.logger.info(
      { cluster: target.stanza, label: run.label, databases: recorded },
      'table fingerprints recorded after the backup',
    );
    return recorded;
  }

  /** The ready stages (and their databases) on a cluster whose restore tests are scheduled. */
  async #databases(target: BackupTarget): Promise<{ id: string; database: string }[]> {
    let query = this.#c.deps.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.id', 'stages.database_name'])
      .where('stages.desired', '=', 'present')
      .where('tenants.desired', '=', 'present')
      .where('stages.phase', '=', 'ready')
      .where('stages.name', 'in', [...this.#c.settings.restoreTestStages, ''])
      .orderBy('stages.database_name');
    query =
      target.kind === 'shared'
        ? query.where('tenants.tier', '=', 'shared')
        : query.where('stages.database_name', '=', target.stanza);
    return (await query.execute()).map((r) => ({ id: r.id, database: r.database_name }));
  }

  /**
   * The backup to test and what its restore must hold: the newest good
   * backup with a fingerprint of the database, or, when none has one, a
   * fingerprint taken now at a new restore point after the newest backup
   * (kept for later tests too).
   */
  async forTest(
    testId: string,
    target: BackupTarget,
    range: RestorableRange,
    access: DatabaseAccess,
  ): Promise<{
    backup: BackupInfo;
    restorePoint: string;
    walFile: string;
    expected: Fingerprint;
    exact: boolean;
    why: string | null;
    takenByTest: boolean;
  }> {
    const { database } = access;
    const recorded = await this.#c.deps.db
      .selectFrom('backup_fingerprints')
      .selectAll()
      .where('cluster', '=', target.stanza)
      .where('repo', '=', range.repo)
      .where('database_name', '=', database)
      .where('backup_label', 'in', [...range.backups.map((b) => b.label), ''])
      .execute();
    const chosen = chooseTestBackup(
      range.backups,
      recorded.map((r) => ({ label: r.backup_label, exact: r.exact })),
    );
    const fingerprint = chosen
      ? (recorded.find((r) => r.backup_label === chosen.label && r.exact) ??
        recorded.find((r) => r.backup_label === chosen.label))
      : undefined;
    if (chosen && fingerprint) {
      return {
        backup: range.backups.find((b) => b.label === chosen.label)!,
        restorePoint: fingerprint.restore_point,
        walFile: fingerprint.wal_file,
        expected: { tables: fingerprint.tables as TableFingerprint[] },
        exact: fingerprint.exact,
        why: fingerprint.why,
        takenByTest: false,
      };
    }
    const newest = range.backups.at(-1)!;
    const taken = await recordFingerprintWithRestorePoint(
      this.#c.superuser(target),
      [access],
      `steward-rt-${testId.slice(0, 8)}`,
    );
    const tables = taken.databases[database]?.tables ?? [];
    await this.#c.deps.db
      .insertInto('backup_fingerprints')
      .values({
        cluster: target.stanza,
        repo: range.repo,
        backup_label: newest.label,
        database_name: database,
        restore_point: taken.restorePoint,
        lsn: taken.lsn,
        wal_file: taken.walFile,
        exact: taken.exact,
        why: taken.why,
        tables: JSON.stringify(tables),
        taken_at: taken.takenAt,
      })
      .onConflict((oc) => oc.columns(['cluster', 'repo', 'backup_label', 'database_name']).doNothing())
      .execute();
    return {
      backup: newest,
      restorePoint: taken.restorePoint,
      walFile: taken.walFile,
      expected: { tables },
      exact: taken.exact,
      why: taken.why,
      takenByTest: true,
    };
  }
}
