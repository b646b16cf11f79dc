import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import type { BackupSettings } from '../core/config.ts';
import { backupS3KeyVariables, type BackupS3Keys } from '../core/env.ts';
import { ConflictError, InputError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, systemPrincipal, type Principal } from '../core/policy.ts';
import type { LocalCluster } from '../databases/local-cluster.ts';
import type { HaClusterView, PatroniRest } from '../databases/patroni/index.ts';
import { haBackupCluster, prepareHaStanza, type HaBackupCluster } from './pgbackrest/ha.ts';
import { enqueue } from '../jobs/queue.ts';
import type { JobHandler } from '../jobs/runner.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlDb } from '../store/db.ts';
import type { StageView, TenantService, TenantView } from '../tenants/service.ts';
import { freshnessOf, restorableViews, type Freshness, type RestorableView } from './freshness.ts';
import type { PgBackRestDriver } from './pgbackrest/driver.ts';
import { pgbackrestDriver, PgBackRestError } from './pgbackrest/driver.ts';
import type { BackupInfo, StanzaInfo } from './pgbackrest/info.ts';
import {
  findPgBackRest,
  prepareStanza,
  type PreparedStanza,
  type RepositorySpec,
} from './pgbackrest/setup.ts';
import {
  backupTypes,
  checkPolicy,
  clusterPolicy,
  defaultBackupPolicy,
  type BackupPolicy,
  type BackupType,
  type PhysicalPolicy,
} from './policy.ts';
import { retentionOf, type RepoRetention } from './retention.ts';
import { BackupBusyError, expireAndCheck, listBackupRuns, runBackup, type BackupRun } from './runs.ts';
import { scheduledBackup, type ScheduledBackupResult } from './scheduled-backup.ts';
import {
  ensureStanzaDirs,
  externalSharedReason,
  s3KeySecretNames,
  sharedStanza,
  stanzaConfigPath,
  stanzaStateDir,
} from './stanzas.ts';

export const backupClusterJobKind = 'backup-cluster';
export const backupVerifyJobKind = 'backup-verify';
export const backupRequestJobKind = 'backup-request';

export type BackupClusterKind = 'shared' | 'dedicated' | 'ha';

/** The dedicated tier's clusters, by stage database name (the dedicated driver). */
export interface DedicatedClusters {
  clusterOf(name: string): Promise<LocalCluster | undefined>;
}

/**
 * A cluster Steward backs up, with everything pgBackRest needs to reach it:
 * what a restore starts from. The stanza has been prepared (config written,
 * archiving on, stanza created in every repository).
 */
export interface BackupTarget {
  readonly stanza: string;
  readonly kind: BackupClusterKind;
  /** The dedicated stage whose cluster this is; null for the shared cluster. */
  readonly stageId: string | null;
  readonly cluster: LocalCluster;
  /** pgbackrest.conf, lock, log, spool and socket live here (owned by postgres). */
  readonly stateDir: string;
  readonly configPath: string;
  readonly driver: PgBackRestDriver;
}

/** What backups ask of the ha tier (its driver). */
export interface HaBackupClusters {
  clusterOf(name: string): Promise<HaClusterView | undefined>;
  rest(name: string): Promise<PatroniRest>;
  /** The etcd client URLs (an in-place restore removes the cluster's keys). */
  etcdUrls(): Promise<readonly string[]>;
  /** PostgreSQL's server programs the members run. */
  readonly binDir: string;
}

export interface BackupServiceOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly tenants: TenantService;
  readonly settings: BackupSettings;
  readonly dataDir: string;
  /** The shared cluster, only when Steward runs it itself: archiving is never turned on anywhere else. */
  readonly sharedCluster?: LocalCluster | undefined;
  readonly dedicated?: DedicatedClusters | undefined;
  /** The ha tier's clusters (each ha stage's own Patroni cluster), when this machine runs them. */
  readonly ha?: HaBackupClusters | undefined;
  /** S3 keys from the environment, by repository number; start() keeps them in the secret store. */
  readonly s3Keys?: Readonly<Record<number, BackupS3Keys>>;
  /** Called after each good backup, scheduled or requested; a failure is logged, the backup stands. */
  readonly onBackupSucceeded?: (cluster: BackupTarget, run: BackupRun) => Promise<void>;
  /** The pgbackrest program (default: found on PATH). */
  readonly bin?: string;
  /** How long `pgbackrest info` of a cluster is reused (freshness in `tenant show`); default 5 s. */
  readonly infoCacheMs?: number;
}

export interface PolicyView {
  readonly tenant: string;
  readonly policy: BackupPolicy;
  /** No policy was set: the default applies. */
  readonly isDefault: boolean;
  readonly updatedBy: string | null;
  readonly updatedAt: string | null;
}

export interface PolicyChange {
  readonly full?: BackupPolicy['full'];
  readonly diff?: BackupPolicy['diff'];
  readonly incr?: BackupPolicy['incr'];
  readonly retainDays?: number;
  readonly keepDaily?: number | null;
  readonly keepWeekly?: number | null;
  readonly keepMonthly?: number | null;
  readonly exports?: BackupPolicy['exports'];
}

export interface BackupRunView {
  readonly id: string;
  readonly cluster: string;
  readonly type: BackupType;
  readonly repo: number;
  readonly status: BackupRun['status'];
  readonly label: string | null;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly sizeBytes: number | null;
  readonly databaseBytes: number | null;
  readonly error: string | null;
  readonly requestId: string | null;
  readonly requestedBy: string | null;
}

export interface StoredBackupView {
  readonly label: string;
  readonly type: BackupType;
  readonly repo: number;
  readonly prior: string | null;
  readonly startedAt: string;
  readonly stoppedAt: string;
  readonly databaseBytes: number;
  readonly repositoryBytes: number;
  readonly error: boolean;
}

export interface VerifyView {
  readonly at: string;
  readonly ok: boolean;
  readonly report: string;
}

export interface BackupClusterView {
  readonly stanza: string;
  readonly kind: BackupClusterKind;
  /** The dedicated stage's tenant and stage; null for the shared cluster. */
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly preparedAt: string | null;
  /** Its cluster runs here; false for a removed dedicated stage, whose backups stay in the repositories. */
  readonly live: boolean;
  readonly policy: PhysicalPolicy;
  readonly lastVerify: VerifyView | null;
}

/** `steward backup list <tenant> <stage>`. */
export interface StageBackupsView {
  readonly tenant: string;
  readonly stage: string;
  /** The stanza of the stage's cluster; null when Steward does not back it up. */
  readonly cluster: string | null;
  readonly clusterKind: BackupClusterKind | null;
  /** Why the stage has no physical backups, when it has none by design. */
  readonly reason: string | null;
  /** The cluster's policy: the most demanding of its tenants'. */
  readonly policy: PhysicalPolicy | null;
  readonly freshness: Freshness | null;
  /** pgbackrest info failed; runs are still listed. */
  readonly error: string | null;
  readonly backups: readonly StoredBackupView[];
  readonly restorable: readonly RestorableView[];
  readonly runs: readonly BackupRunView[];
  readonly lastVerify: VerifyView | null;
}

export type BackupRequestStatus = 'pending' | 'running' | 'succeeded' | 'failed';

export interface BackupRequestView {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string;
  readonly cluster: string;
  readonly type: BackupType;
  readonly status: BackupRequestStatus;
  readonly reason: string;
  readonly requestedBy: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  /** One entry per repository, in the order they are backed up. */
  readonly repos: readonly {
    readonly repo: number;
    readonly status: 'pending' | BackupRun['status'];
    /** pgBackRest's percent complete while the backup runs, when it reports one. */
    readonly percent: number | null;
    readonly run: BackupRunView | null;
  }[];
}

/** A stage's backup freshness in `tenant show`: the newest good backup, an error, or null (none). */
export type StageBackup = Freshness | { readonly error: string } | null;

export type TenantBackupView = Omit<TenantView, 'stages'> & {
  readonly stages: readonly (StageView & { readonly backup: StageBackup })[];
};

export interface ScheduledPassResult {
  readonly stanza: string;
  readonly policy: PhysicalPolicy;
  readonly repos: readonly ({ readonly repo: number } & (
    ScheduledBackupResult | { readonly kind: 'busy'; readonly reason: string }
  ))[];
}

/** The live cluster behind a stanza, unprepared. */
interface FoundCluster {
  readonly cluster: LocalCluster;
  readonly kind: BackupClusterKind;
  readonly stageId: string | null;
  /** An ha cluster's leader, members and REST API. */
  readonly ha?: HaBackupCluster;
}

type Located =
  | { readonly kind: 'target'; readonly stanza: string; readonly clusterKind: BackupClusterKind }
  | { readonly kind: 'none'; readonly reason: string };

const hour = 3_600_000;

/** A tenant's policy as stored; a tenant without a row (all null) has the default. */
const policyColumns = [
  'backup_policies.full_every',
  'backup_policies.diff_every',
  'backup_policies.incr_every',
  'backup_policies.retain_days',
  'backup_policies.keep_daily',
  'backup_policies.keep_weekly',
  'backup_policies.keep_monthly',
  'backup_policies.export_every',
] as const;

/**
 * Physical backups as a service: the clusters Steward backs up (the shared
 * cluster when Steward runs it, each dedicated stage's cluster), their
 * stanzas, per-tenant policies merged per cluster, the schedule and verify
 * jobs, operator-requested runs, and freshness. Runs of one cluster never
 * overlap (runBackup's lock); stop() cancels what runs.
 */
export class BackupService {
  readonly #o: BackupServiceOptions;
  readonly #abort = new AbortController();
  /** Prepared stanzas, by what their config depends on: the retention and the cluster's port. */
  readonly #prepared = new Map<string, { key: string; done: Promise<BackupTarget> }>();
  readonly #infoCache = new Map<string, { expires: number; info: Promise<StanzaInfo> }>();
  #bin: string | undefined;
  #binProblem: string | undefined;

  constructor(options: BackupServiceOptions) {
    this.#o = options;
  }

  get #settings(): BackupSettings {
    return this.#o.settings;
  }

  /** Why nothing is backed up at all on this installation, or undefined. */
  get #unavailable(): string | undefined {
    if (!this.#settings.enabled) return 'backups are turned off in the config (backups.enabled: false)';
    if (this.#o.bin) return undefined;
    if (this.#bin === undefined && this.#binProblem === undefined) {
      try {
        this.#bin = findPgBackRest();
      } catch (error) {
        this.#binProblem = (error as Error).message;
      }
    }
    return this.#binProblem;
  }

  get #program(): string {
    return this.#o.bin ?? this.#bin ?? findPgBackRest();
  }

  /**
   * Keeps S3 keys given in the environment in the secret store (and refuses
   * to start without keys for an S3 repository), then queues each cluster's
   * schedule and verify jobs. Safe to call on every start.
   */
  async start(): Promise<void> {
    if (!this.#settings.enabled) return;
    await this.#seedS3Keys();
    const problem = this.#unavailable;
    if (problem) {
      this.#o.logger.warn({ err: problem }, 'physical backups are unavailable');
      return;
    }
    const stanzas = await this.#knownStanzas();
    const rows = await this.#o.db.selectFrom('backup_clusters').selectAll().execute();
    const now = this.#o.clock.now().getTime();
    await this.#o.db.transaction().execute(async (tx) => {
      for (const stanza of stanzas) {
        await enqueue(tx, backupClusterJobKind, stanza);
        const row = rows.find((r) => r.stanza === stanza);
        const since = row?.last_verify_at ?? row?.prepared_at;
        await enqueue(tx, backupVerifyJobKind, stanza, this.#nextVerify(since?.getTime() ?? now));
      }
    });
  }

  /** Cancels running backups (they are recorded failed); jobs are picked up again on the next start. */
  stop(): void {
    this.#abort.abort();
  }

  #nextVerify(since: number): Date {
    // Never in the past of the database's clock by much: a job due now runs now.
    return new Date(Math.max(since + this.#settings.verifyHours * hour, Date.now()));
  }

  async #seedS3Keys(): Promise<void> {
    for (const [index, repo] of this.#settings.repositories.entries()) {
      if (repo.kind !== 's3') continue;
      const n = index + 1;
      const names = s3KeySecretNames(n);
      const variables = backupS3KeyVariables(n);
      const given = this.#o.s3Keys?.[n];
      if (given?.accessKeyId && given.secretAccessKey) {
        const key = given.accessKeyId;
        const secret = given.secretAccessKey;
        await this.#o.db.transaction().execute(async (tx) => {
          await this.#o.secrets.put(tx, names.key, key);
          await this.#o.secrets.put(tx, names.secret, secret);
        });
        continue;
      }
      if (given?.accessKeyId || given?.secretAccessKey) {
        throw new InputError(
          `backup repository repo${n} (s3): set both ${variables.key} and ${variables.secret}, not only one`,
          { field: given.accessKeyId ? variables.secret : variables.key },
        );
      }
      const stored = await Promise.all([
        this.#o.secrets.get(names.key).then(
          () => true,
          () => false,
        ),
        this.#o.secrets.get(names.secret).then(
          () => true,
          () => false,
        ),
      ]);
      if (!stored.every(Boolean)) {
        throw new InputError(
          `backup repository repo${n} is an S3 bucket (${repo.bucket} at ${repo.endpoint}) without access keys: set ${variables.key} and ${variables.secret} for one start of Steward (it keeps them in its secret store)`,
          { field: variables.key },
        );
      }
    }
  }

  // --- clusters -------------------------------------------------------------------------------

  /** The stanzas of clusters Steward backs up now: the shared one it runs, and ready dedicated stages. */
  async #knownStanzas(): Promise<string[]> {
    const stanzas = this.#o.sharedCluster ? [sharedStanza] : [];
    const tiers = [...(this.#o.dedicated ? ['dedicated'] : []), ...(this.#o.ha ? ['ha'] : [])];
    if (tiers.length > 0) {
      const rows = await this.#o.db
        .selectFrom('stages')
        .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
        .select('stages.database_name')
        .where('tenants.tier', 'in', tiers)
        .where('stages.desired', '=', 'present')
        .where('stages.phase', '=', 'ready')
        .execute();
      stanzas.push(...rows.map((r) => r.database_name));
    }
    return stanzas;
  }

  /** Where a stage's physical backups come from, by its tier. */
  async #locate(stage: { tier: string; database_name: string }): Promise<Located> {
    const unavailable = this.#unavailable;
    if (unavailable) return { kind: 'none', reason: unavailable };
    if (stage.tier === 'shared') {
      return this.#o.sharedCluster
        ? { kind: 'target', stanza: sharedStanza, clusterKind: 'shared' }
        : { kind: 'none', reason: externalSharedReason };
    }
    if (stage.tier === 'dedicated') {
      const cluster = await this.#o.dedicated?.clusterOf(stage.database_name);
      return cluster
        ? { kind: 'target', stanza: stage.database_name, clusterKind: 'dedicated' }
        : { kind: 'none', reason: "the stage's dedicated cluster does not exist yet" };
    }
    if (stage.tier === 'ha' && this.#o.ha) {
      const cluster = await this.#o.ha.clusterOf(stage.database_name);
      return cluster
        ? { kind: 'target', stanza: stage.database_name, clusterKind: 'ha' }
        : { kind: 'none', reason: "the stage's ha cluster does not exist yet" };
    }
    return { kind: 'none', reason: `tier ${stage.tier} is not backed up by Steward` };
  }

  /** The live cluster behind a stanza, unprepared; undefined when there is none (a removed stage). */
  async #cluster(stanza: string): Promise<FoundCluster | undefined> {
    if (this.#unavailable) return undefined;
    if (stanza === sharedStanza) {
      return this.#o.sharedCluster
        ? { cluster: this.#o.sharedCluster, kind: 'shared', stageId: null }
        : undefined;
    }
    const stage = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.id', 'tenants.tier'])
      .where('stages.database_name', '=', stanza)
      .where('tenants.tier', 'in', ['dedicated', 'ha'])
      .where('stages.desired', '=', 'present')
      .executeTakeFirst();
    if (!stage) return undefined;
    if (stage.tier === 'ha') return this.#haCluster(stanza, stage.id);
    const cluster = await this.#o.dedicated?.clusterOf(stanza);
    return cluster ? { cluster, kind: 'dedicated', stageId: stage.id } : undefined;
  }

  /**
   * An ha stage's cluster as a backup target: its leader (where Steward's
   * superuser sessions go, over the leader's socket) and every member (the
   * stanza lists them all: backups read from a standby).
   */
  async #haCluster(stanza: string, stageId: string): Promise<FoundCluster | undefined> {
    const ha = this.#o.ha;
    const view = await ha?.clusterOf(stanza);
    if (!ha || !view) return undefined;
    const cluster = await haBackupCluster(view, await ha.rest(stanza), ha.binDir);
    return { kind: 'ha', stageId, cluster: cluster.leader, ha: cluster };
  }

  /**
   * A cluster Steward backs up, prepared: config from desired state,
   * archiving on, stanza in every repository. For restores and the like.
   */
  async target(stanza: string): Promise<BackupTarget> {
    return this.#target(stanza, retentionOf(await this.policyOfCluster(stanza)));
  }

  async #target(stanza: string, retention: RepoRetention): Promise<BackupTarget> {
    const found = await this.#cluster(stanza);
    const known = found
      ? undefined
      : await this.#o.db
          .selectFrom('backup_clusters')
          .select('stanza')
          .where('stanza', '=', stanza)
          .executeTakeFirst();
    if (known) {
      throw new NotFoundError(
        `cluster ${stanza} no longer runs here (its stage was removed); its backups stay in the repositories until they are removed by hand`,
        { field: 'cluster' },
      );
    }
    if (!found) {
      throw new NotFoundError(
        `Steward backs up no cluster ${showValue(stanza)}${this.#unavailable ? ` (${this.#unavailable})` : ''}; "steward backup clusters" lists them`,
        { field: 'cluster' },
      );
    }
    return this.#prepare(stanza, found, retention);
  }

  /** The prepared cluster that holds a stage's database. */
  async stageTarget(tenant: string, stage: string): Promise<BackupTarget> {
    const row = await this.#stageRow(tenant, stage);
    const located = await this.#locate(row);
    if (located.kind === 'none') {
      throw new ConflictError(`stage ${stage} of tenant ${tenant} is ${located.reason}`);
    }
    return this.target(located.stanza);
  }

  /** The stanza of a stage's cluster, or why it has none. */
  async stageCluster(
    tenant: string,
    stage: string,
  ): Promise<{ stanza: string; kind: BackupClusterKind } | { stanza: null; reason: string }> {
    const located = await this.#locate(await this.#stageRow(tenant, stage));
    return located.kind === 'none'
      ? { stanza: null, reason: located.reason }
      : { stanza: located.stanza, kind: located.clusterKind };
  }

  /** pgBackRest's state directory of a stanza (its config, lock, log, spool). */
  stateDirOf(stanza: string): string {
    return stanzaStateDir(this.#o.dataDir, stanza);
  }

  #prepare(stanza: string, found: FoundCluster, retention: RepoRetention): Promise<BackupTarget> {
    const existing = this.#prepared.get(stanza);
    const key = `${JSON.stringify(retention)}:${found.cluster.port}`;
    if (existing?.key === key) return existing.done;
    // One preparation of a stanza at a time; a new retention rewrites the config after the last.
    const before = existing?.done.catch(() => undefined) ?? Promise.resolve();
    const done = before.then(() => this.#prepareNow(stanza, found, retention));
    this.#prepared.set(stanza, { key, done });
    done.catch(() => {
      if (this.#prepared.get(stanza)?.done === done) this.#prepared.delete(stanza);
    });
    return done;
  }

  async #prepareNow(stanza: string, found: FoundCluster, retention: RepoRetention): Promise<BackupTarget> {
    await ensureStanzaDirs(this.#o.dataDir, stanza, found.cluster, this.#settings);
    const stateDir = stanzaStateDir(this.#o.dataDir, stanza);
    let prepared: PreparedStanza;
    try {
      const setup = {
        db: this.#o.db,
        secrets: this.#o.secrets,
        stanza,
        stateDir,
        repositories: await this.#repositories(retention),
        processMax: this.#settings.processMax,
        bin: this.#program,
      };
      prepared = found.ha
        ? await prepareHaStanza(setup, found.ha)
        : await prepareStanza({ ...setup, cluster: found.cluster });
    } catch (error) {
      // A new retention rewrites the config while a backup holds the stanza's lock (pgBackRest's
      // error 50): stanza-create, the last step, cannot run, and need not for a stanza made before.
      const before = await this.#o.db
        .selectFrom('backup_clusters')
        .select('prepared_at')
        .where('stanza', '=', stanza)
        .executeTakeFirst();
      if (!(error instanceof PgBackRestError && error.exitCode === 50 && before?.prepared_at)) throw error;
      const configPath = stanzaConfigPath(this.#o.dataDir, stanza);
      prepared = {
        configPath,
        restarted: false,
        driver: pgbackrestDriver({ configPath, stanza, user: found.cluster.user, bin: this.#program }),
      };
    }
    if (prepared.restarted) {
      this.#o.logger.info({ cluster: stanza }, 'cluster restarted once to turn WAL archiving on');
    }
    const now = this.#o.clock.now();
    await this.#o.db
      .insertInto('backup_clusters')
      .values({ stanza, kind: found.kind, stage_id: found.stageId, prepared_at: now })
      .onConflict((oc) =>
        oc.column('stanza').doUpdateSet({ kind: found.kind, stage_id: found.stageId, prepared_at: now }),
      )
      .execute();
    return {
      stanza,
      kind: found.kind,
      stageId: found.stageId,
      cluster: found.cluster,
      stateDir,
      configPath: prepared.configPath,
      driver: prepared.driver,
    };
  }

  async #repositories(retention: RepoRetention): Promise<RepositorySpec[]> {
    const specs: RepositorySpec[] = [];
    for (const [index, repo] of this.#settings.repositories.entries()) {
      if (repo.kind === 'path') {
        specs.push({ kind: 'path', path: repo.path, retention });
        continue;
      }
      const names = s3KeySecretNames(index + 1);
      const variables = backupS3KeyVariables(index + 1);
      let accessKeyId: string;
      let secretAccessKey: string;
      try {
        accessKeyId = await this.#o.secrets.get(names.key);
        secretAccessKey = await this.#o.secrets.get(names.secret);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        throw new InputError(
          `backup repository repo${index + 1} is an S3 bucket without access keys: set ${variables.key} and ${variables.secret} for one start of Steward`,
          { field: variables.key },
        );
      }
      specs.push({
        kind: 's3',
        endpoint: repo.endpoint,
        ...(repo.port !== undefined ? { port: repo.port } : {}),
        bucket: repo.bucket,
        s3Region: repo.s3Region,
        path: repo.path,
        uriStyle: repo.uriStyle,
        accessKeyId,
        secretAccessKey,
        ...(repo.caFile !== undefined ? { caFile: repo.caFile } : {}),
        verifyTls: repo.verifyTls,
        retention,
      });
    }
    return specs;
  }

  /** A driver for reading a prepared stanza (info, progress) without preparing it again. */
  async #reader(stanza: string): Promise<PgBackRestDriver | undefined> {
    const prepared = this.#prepared.get(stanza);
    if (prepared) {
      const target = await prepared.done.catch(() => undefined);
      if (target) return target.driver;
    }
    const row = await this.#o.db
      .selectFrom('backup_clusters')
      .select('prepared_at')
      .where('stanza', '=', stanza)
      .executeTakeFirst();
    const found = row?.prepared_at ? await this.#cluster(stanza) : undefined;
    if (!found) return undefined;
    return pgbackrestDriver({
      configPath: stanzaConfigPath(this.#o.dataDir, stanza),
      stanza,
      user: found.cluster.user,
      bin: this.#program,
    });
  }

  /** `pgbackrest info` of a stanza, reused for a few seconds; undefined when it is not prepared yet. */
  async info(stanza: string): Promise<StanzaInfo | undefined> {
    const cached = this.#infoCache.get(stanza);
    if (cached && cached.expires > Date.now()) return cached.info;
    const driver = await this.#reader(stanza);
    if (!driver) return undefined;
    const info = driver.info();
    this.#infoCache.set(stanza, { expires: Date.now() + (this.#o.infoCacheMs ?? 5000), info });
    info.catch(() => {
      if (this.#infoCache.get(stanza)?.info === info) this.#infoCache.delete(stanza);
    });
    return info;
  }

  // --- policies -------------------------------------------------------------------------------

  async policy(tenant: string): Promise<PolicyView> {
    const row = await this.#o.db
      .selectFrom('tenants')
      .leftJoin('backup_policies', 'backup_policies.tenant_id', 'tenants.id')
      .select(['tenants.slug', ...policyColumns, 'backup_policies.updated_by', 'backup_policies.updated_at'])
      .where('tenants.slug', '=', tenant)
      .executeTakeFirst();
    if (!row) {
      await this.#o.tenants.show(tenant);
      throw new NotFoundError(`tenant ${showValue(tenant)} does not exist`, { field: 'tenant' });
    }
    if (row.full_every === null || row.retain_days === null) {
      return { tenant, policy: defaultBackupPolicy, isDefault: true, updatedBy: null, updatedAt: null };
    }
    return {
      tenant,
      policy: toPolicy(row),
      isDefault: false,
      updatedBy: row.updated_by,
      updatedAt: row.updated_at?.toISOString() ?? null,
    };
  }

  /**
   * Changes a tenant's policy: the fields given replace the current ones.
   * The clusters of its stages re-plan their schedule at once.
   */
  async setPolicy(tenant: string, change: PolicyChange, actor: Principal): Promise<PolicyView> {
    const current = await this.policy(tenant);
    const next = checkPolicy({
      full: change.full ?? current.policy.full,
      diff: change.diff === undefined ? current.policy.diff : change.diff,
      incr: change.incr === undefined ? current.policy.incr : change.incr,
      retainDays: change.retainDays ?? current.policy.retainDays,
      keepDaily: change.keepDaily === undefined ? current.policy.keepDaily : change.keepDaily,
      keepWeekly: change.keepWeekly === undefined ? current.policy.keepWeekly : change.keepWeekly,
      keepMonthly: change.keepMonthly === undefined ? current.policy.keepMonthly : change.keepMonthly,
      exports: change.exports === undefined ? current.policy.exports : change.exports,
    });
    const stanzas = new Set<string>();
    const stages = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['tenants.tier', 'stages.database_name'])
      .where('tenants.slug', '=', tenant)
      .where('stages.desired', '=', 'present')
      .execute();
    for (const stage of stages) {
      const located = await this.#locate(stage);
      if (located.kind === 'target') stanzas.add(located.stanza);
    }
    await this.#o.db.transaction().execute(async (tx) => {
      const owner = await tx
        .selectFrom('tenants')
        .select('id')
        .where('slug', '=', tenant)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const values = {
        full_every: next.full,
        diff_every: next.diff,
        incr_every: next.incr,
        retain_days: next.retainDays,
        keep_daily: next.keepDaily,
        keep_weekly: next.keepWeekly,
        keep_monthly: next.keepMonthly,
        export_every: next.exports,
        updated_by: actorName(actor),
        updated_at: this.#o.clock.now(),
      };
      await tx
        .insertInto('backup_policies')
        .values({ tenant_id: owner.id, ...values })
        .onConflict((oc) => oc.column('tenant_id').doUpdateSet(values))
        .execute();
      for (const stanza of stanzas) await enqueue(tx, backupClusterJobKind, stanza);
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'backup.policy.set',
        target: `tenant/${tenant}/backup-policy`,
        tenant,
        details: { policy: next, previous: current.isDefault ? 'default' : current.policy },
      });
    });
    return this.policy(tenant);
  }

  /** The policy of every tenant that is present (the default where none was set), by slug. */
  async tenantPolicies(): Promise<{ readonly tenant: string; readonly policy: BackupPolicy }[]> {
    const rows = await this.#o.db
      .selectFrom('tenants')
      .leftJoin('backup_policies', 'backup_policies.tenant_id', 'tenants.id')
      .select(['tenants.slug', ...policyColumns])
      .where('tenants.desired', '=', 'present')
      .orderBy('tenants.slug')
      .execute();
    return rows.map((r) => ({
      tenant: r.slug,
      policy: r.full_every === null || r.retain_days === null ? defaultBackupPolicy : toPolicy(r),
    }));
  }

  /** The policy a cluster runs by: the most demanding of the policies of the tenants on it. */
  async policyOfCluster(stanza: string): Promise<PhysicalPolicy> {
    let query = this.#o.db
      .selectFrom('tenants')
      .leftJoin('backup_policies', 'backup_policies.tenant_id', 'tenants.id')
      .select(policyColumns)
      .where('tenants.desired', '=', 'present');
    if (stanza === sharedStanza) query = query.where('tenants.tier', '=', 'shared');
    else {
      query = query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('stages')
            .select('stages.id')
            .whereRef('stages.tenant_id', '=', 'tenants.id')
            .where('stages.database_name', '=', stanza),
        ),
      );
    }
    const rows = await query.execute();
    return clusterPolicy(
      rows.map((r) => (r.full_every === null || r.retain_days === null ? defaultBackupPolicy : toPolicy(r))),
    );
  }

  // --- the schedule ---------------------------------------------------------------------------

  /**
   * One pass of a cluster's schedule: its policy, then for repo1 and then
   * repo2 what is due, at most one backup each (expired by the policy's
   * retention after). The job calls this; tests call it directly.
   */
  async scheduledPass(stanza: string): Promise<ScheduledPassResult> {
    const policy = await this.policyOfCluster(stanza);
    const target = await this.#target(stanza, retentionOf(policy));
    const repos: ScheduledPassResult['repos'][number][] = [];
    for (const [index] of this.#settings.repositories.entries()) {
      const repo = index + 1;
      if (this.#abort.signal.aborted) break;
      try {
        const result = await scheduledBackup(
          { db: this.#o.db, driver: target.driver, clock: this.#o.clock },
          {
            policy,
            repo,
            timeoutMs: this.#settings.backupTimeoutMinutes * 60_000,
            signal: this.#abort.signal,
          },
        );
        if (result.kind === 'ran') await this.#ran(target, result.run);
        repos.push({ repo, ...result });
      } catch (error) {
        if (!(error instanceof BackupBusyError)) throw error;
        repos.push({ repo, kind: 'busy', reason: error.message });
        break;
      }
    }
    return { stanza, policy, repos };
  }

  async #ran(target: BackupTarget, run: BackupRun): Promise<void> {
    this.#infoCache.delete(target.stanza);
    const log = this.#o.logger.child({ cluster: target.stanza, repo: run.repo });
    if (run.status !== 'succeeded') {
      log.warn({ type: run.type, err: run.error }, 'backup failed');
      return;
    }
    log.info({ type: run.type, label: run.label, bytes: run.sizeBytes }, 'backup done');
    if (!this.#o.onBackupSucceeded) return;
    try {
      await this.#o.onBackupSucceeded(target, run);
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'after-backup hook failed');
    }
  }

  /** The schedule job: a pass, then again when the policy next asks for something. */
  readonly handleCluster: JobHandler = async (job) => {
    if (this.#abort.signal.aborted) return { kind: 'requeue', afterMs: 1000 };
    if (!(await this.#cluster(job.key))) return { kind: 'done' };
    const pass = await this.scheduledPass(job.key);
    return { kind: 'requeue', afterMs: this.#nextPassIn(pass) };
  };

  #nextPassIn(pass: ScheduledPassResult): number {
    if (this.#abort.signal.aborted) return 1000;
    const now = this.#o.clock.now().getTime();
    let next = hour;
    for (const r of pass.repos) {
      if (r.kind === 'busy') next = Math.min(next, 60_000);
      // A failed backup is tried again in a while, not in a loop.
      else if (r.kind === 'ran') next = Math.min(next, r.run.status === 'succeeded' ? 1000 : 10 * 60_000);
      else next = Math.min(next, r.until.getTime() - now);
    }
    return Math.max(1000, next);
  }

  /**
   * A stage's reconcile job ended: a dedicated stage that became ready gets
   * its cluster's backups (stanza, schedule and verify), once.
   */
  async stageChanged(stageId: string): Promise<void> {
    if ((!this.#o.dedicated && !this.#o.ha) || this.#unavailable) return;
    const row = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .leftJoin('backup_clusters', 'backup_clusters.stanza', 'stages.database_name')
      .select(['stages.database_name', 'backup_clusters.prepared_at'])
      .where('stages.id', '=', stageId)
      .where('tenants.tier', 'in', ['dedicated', 'ha'])
      .where('stages.desired', '=', 'present')
      .where('stages.phase', '=', 'ready')
      .executeTakeFirst();
    if (!row || row.prepared_at) return;
    await this.#o.db.transaction().execute(async (tx) => {
      await enqueue(tx, backupClusterJobKind, row.database_name);
      await enqueue(tx, backupVerifyJobKind, row.database_name, this.#nextVerify(Date.now()));
    });
  }

  // --- verify ---------------------------------------------------------------------------------

  /** The verify job: pgbackrest verify, recorded, every verifyHours. */
  readonly handleVerify: JobHandler = async (job) => {
    if (this.#abort.signal.aborted) return { kind: 'requeue', afterMs: 1000 };
    if (!(await this.#cluster(job.key))) return { kind: 'done' };
    await this.verify(job.key);
    return { kind: 'requeue', afterMs: this.#settings.verifyHours * hour };
  };

  /**
   * Runs pgbackrest verify on every repository of a cluster now and records
   * the result; a failure is also an audit event with the report's first lines.
   */
  async verify(stanza: string, actor?: Principal): Promise<BackupClusterView> {
    const target = await this.target(stanza);
    const outcome = await target.driver.verify();
    const at = this.#o.clock.now();
    const report = outcome.report.slice(0, 20_000);
    await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('backup_clusters')
        .set({ last_verify_at: at, last_verify_ok: outcome.ok, last_verify_report: report })
        .where('stanza', '=', stanza)
        .execute();
      const who = actor ?? systemPrincipal;
      if (actor) {
        await this.#o.audit.record(tx, {
          actor: actorName(who),
          address: who.address,
          action: 'backup.verify',
          target: `backup-cluster/${stanza}`,
          outcome: outcome.ok ? 'success' : 'failure',
          details: { ok: outcome.ok },
        });
      }
      if (!outcome.ok) {
        await this.#o.audit.record(tx, {
          actor: actorName(who),
          address: who.address,
          action: 'backup.verify.failed',
          target: `backup-cluster/${stanza}`,
          outcome: 'failure',
          details: { report: firstLines(outcome.report, 10) },
        });
      }
    });
    if (!outcome.ok) this.#o.logger.warn({ cluster: stanza }, 'backup verify failed');
    return this.cluster(stanza);
  }

  async cluster(stanza: string): Promise<BackupClusterView> {
    const views = await this.clusters();
    const found = views.find((c) => c.stanza === stanza);
    if (!found) {
      throw new NotFoundError(
        `Steward backs up no cluster ${showValue(stanza)}; it backs up: ${views.map((c) => c.stanza).join(', ') || '(none)'}`,
        { field: 'cluster' },
      );
    }
    return found;
  }

  /** The clusters Steward backs up, prepared or about to be. */
  async clusters(): Promise<BackupClusterView[]> {
    const rows = await this.#o.db
      .selectFrom('backup_clusters')
      .leftJoin('stages', 'stages.id', 'backup_clusters.stage_id')
      .leftJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select([
        'backup_clusters.stanza',
        'backup_clusters.kind',
        'backup_clusters.prepared_at',
        'backup_clusters.last_verify_at',
        'backup_clusters.last_verify_ok',
        'backup_clusters.last_verify_report',
        'stages.name as stage',
        'tenants.slug as tenant',
      ])
      .orderBy('backup_clusters.stanza')
      .execute();
    const known = this.#unavailable ? [] : await this.#knownStanzas();
    const views: BackupClusterView[] = [];
    for (const stanza of [...new Set([...known, ...rows.map((r) => r.stanza)])].sort()) {
      const row = rows.find((r) => r.stanza === stanza);
      let owner = { tenant: row?.tenant ?? null, stage: row?.stage ?? null };
      if (!row && stanza !== sharedStanza) {
        const stage = await this.#o.db
          .selectFrom('stages')
          .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
          .select(['tenants.slug', 'stages.name'])
          .where('stages.database_name', '=', stanza)
          .executeTakeFirst();
        owner = { tenant: stage?.slug ?? null, stage: stage?.name ?? null };
      }
      views.push({
        stanza,
        kind: (row?.kind ?? (stanza === sharedStanza ? 'shared' : 'dedicated')) as BackupClusterKind,
        ...owner,
        preparedAt: row?.prepared_at?.toISOString() ?? null,
        live: known.includes(stanza),
        policy: await this.policyOfCluster(stanza),
        lastVerify: verifyView(row),
      });
    }
    return views;
  }

  // --- requested runs -------------------------------------------------------------------------

  /**
   * An operator asks for a backup of a stage's cluster now, to repo1, repo2
   * or both (repo1 first). It runs as a job; `request(id)` follows it. A
   * cluster has one open request at a time: a second is refused, and one
   * that meets a scheduled backup waits for it.
   */
  async requestBackup(
    tenant: string,
    stage: string,
    input: { type: BackupType; repo?: unknown },
    actor: Principal,
  ): Promise<BackupRequestView> {
    if (!backupTypes.includes(input.type)) {
      throw new InputError(
        `field "type": ${showValue(input.type)} is not accepted; use one of ${backupTypes.join(', ')}`,
        { field: 'type' },
      );
    }
    const repos = this.#repos(input.repo);
    const row = await this.#stageRow(tenant, stage);
    const located = await this.#locate(row);
    if (located.kind === 'none') {
      throw new ConflictError(`stage ${stage} of tenant ${tenant} is ${located.reason}`);
    }
    const id = randomUUID();
    try {
      await this.#o.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('backup_requests')
          .values({
            id,
            cluster: located.stanza,
            tenant_slug: tenant,
            stage_name: stage,
            type: input.type,
            repos,
            requested_by: actorName(actor),
            created_at: this.#o.clock.now(),
          })
          .execute();
        await enqueue(tx, backupRequestJobKind, id);
        await this.#o.audit.record(tx, {
          actor: actorName(actor),
          address: actor.address,
          action: 'backup.run.request',
          target: `tenant/${tenant}/stage/${stage}/backup/${id}`,
          tenant,
          details: { cluster: located.stanza, type: input.type, repos },
        });
      });
    } catch (error) {
      if ((error as { constraint?: string }).constraint !== 'backup_requests_one_open') throw error;
      const open = await this.#o.db
        .selectFrom('backup_requests')
        .select(['id', 'tenant_slug', 'stage_name', 'requested_by', 'status'])
        .where('cluster', '=', located.stanza)
        .where('status', 'in', ['pending', 'running'])
        .executeTakeFirst();
      throw new BackupBusyError(
        `a backup of cluster ${located.stanza} was already requested${open ? ` (request ${open.id} for ${open.tenant_slug}/${open.stage_name} by ${open.requested_by}, ${open.status})` : ''}; follow it or ask again once it has finished`,
      );
    }
    return this.request(id);
  }

  #repos(repo: unknown): number[] {
    const configured = this.#settings.repositories.map((_, i) => i + 1);
    if (repo === undefined || repo === 'all') return configured;
    const n = typeof repo === 'string' && /^\d+$/.test(repo) ? Number(repo) : repo;
    if (typeof n === 'number' && configured.includes(n)) return [n];
    throw new InputError(
      `field "repo": ${showValue(repo)} is not accepted; use one of ${[...configured, 'all'].join(', ')} (this installation has ${configured.map((r) => `repo${r}`).join(' and ')})`,
      { field: 'repo' },
    );
  }

  /** A request, its runs per repository and, while one runs, pgBackRest's percent complete. */
  async request(id: string): Promise<BackupRequestView> {
    const valid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
    const row = valid
      ? await this.#o.db.selectFrom('backup_requests').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row) {
      throw new NotFoundError(`backup request ${showValue(id)} does not exist`, { field: 'request' });
    }
    const runs = (await listBackupRuns(this.#o.db, row.cluster, 200)).filter((r) => r.requestId === id);
    const repos = [];
    for (const repo of row.repos) {
      // Newest first: a run that Steward's stop cut short is followed by its retry.
      const run = runs.find((r) => r.repo === repo);
      let percent: number | null = null;
      if (run?.status === 'running') {
        percent = (await (await this.#reader(row.cluster))?.progress().catch(() => null)) ?? null;
      }
      repos.push({
        repo,
        status: run?.status ?? ('pending' as const),
        percent,
        run: run ? runView(run) : null,
      });
    }
    return {
      id: row.id,
      tenant: row.tenant_slug,
      stage: row.stage_name,
      cluster: row.cluster,
      type: row.type as BackupType,
      status: row.status as BackupRequestStatus,
      reason: row.reason,
      requestedBy: row.requested_by,
      createdAt: row.created_at.toISOString(),
      finishedAt: row.finished_at?.toISOString() ?? null,
      repos,
    };
  }

  /** The request job: each repository in order, each run recorded with the request. */
  readonly handleRequest: JobHandler = async (job) => {
    const row = await this.#o.db
      .selectFrom('backup_requests')
      .selectAll()
      .where('id', '=', job.key)
      .executeTakeFirst();
    if (!row || (row.status !== 'pending' && row.status !== 'running')) return { kind: 'done' };
    if (this.#abort.signal.aborted) return { kind: 'requeue', afterMs: 1000 };
    const log = this.#o.logger.child({ request: row.id, cluster: row.cluster });
    let target: BackupTarget;
    try {
      target = await this.target(row.cluster);
    } catch (error) {
      await this.#endRequest(row.id, 'failed', (error as Error).message);
      return { kind: 'done' };
    }
    const done = new Set(
      (await listBackupRuns(this.#o.db, row.cluster, 200))
        .filter((r) => r.requestId === row.id && r.status === 'succeeded')
        .map((r) => r.repo),
    );
    await this.#setRequest(row.id, 'running', '');
    const notes: string[] = [];
    for (const repo of row.repos) {
      if (done.has(repo)) continue;
      let type = row.type as BackupType;
      if (type !== 'full') {
        // pgBackRest would make it a full anyway; say so rather than record an incr that is not one.
        const info = await target.driver.info();
        if (!info.backups.some((b) => b.repo === repo && b.type === 'full' && !b.error)) {
          type = 'full';
          notes.push(`repo${repo} had no full backup, so a full was taken`);
        }
      }
      let run: BackupRun;
      try {
        run = await runBackup(
          { db: this.#o.db, driver: target.driver, clock: this.#o.clock },
          {
            type,
            repo,
            timeoutMs: this.#settings.backupTimeoutMinutes * 60_000,
            signal: this.#abort.signal,
            requestId: row.id,
            requestedBy: row.requested_by,
          },
        );
      } catch (error) {
        if (!(error instanceof BackupBusyError)) throw error;
        await this.#setRequest(row.id, 'pending', `waiting: ${error.message}`);
        return { kind: 'requeue', afterMs: 2000 };
      }
      await this.#ran(target, run);
      if (this.#abort.signal.aborted) {
        await this.#setRequest(
          row.id,
          'pending',
          'interrupted: Steward stopped; it runs again when Steward starts',
        );
        return { kind: 'requeue', afterMs: 1000 };
      }
      if (run.status !== 'succeeded') {
        await this.#endRequest(row.id, 'failed', `repo${repo}: ${run.error ?? 'the backup failed'}`);
        log.warn({ repo, err: run.error }, 'requested backup failed');
        return { kind: 'done' };
      }
      // Expire after every backup, requested ones too; the backup itself stands if expiring fails.
      try {
        await expireAndCheck(target.driver, {
          repo,
          retention: retentionOf(await this.policyOfCluster(row.cluster)),
          now: this.#o.clock.now(),
        });
      } catch (error) {
        notes.push(`repo${repo}: expire failed: ${(error as Error).message}`);
        log.warn({ repo, err: (error as Error).message }, 'expire after a requested backup failed');
      }
    }
    await this.#endRequest(row.id, 'succeeded', notes.join('; '));
    return { kind: 'done' };
  };

  async #setRequest(id: string, status: 'pending' | 'running', reason: string): Promise<void> {
    await this.#o.db
      .updateTable('backup_requests')
      .set({ status, reason: reason.slice(0, 2000) })
      .where('id', '=', id)
      .execute();
  }

  async #endRequest(id: string, status: 'succeeded' | 'failed', reason: string): Promise<void> {
    await this.#o.db
      .updateTable('backup_requests')
      .set({ status, reason: reason.slice(0, 2000), finished_at: this.#o.clock.now() })
      .where('id', '=', id)
      .execute();
  }

  // --- listings and freshness -----------------------------------------------------------------

  /** A stage's backups in every repository, its cluster's runs, freshness and restorable range. */
  async list(tenant: string, stage: string): Promise<StageBackupsView> {
    const row = await this.#stageRow(tenant, stage);
    const located = await this.#locate(row);
    const base = { tenant, stage };
    if (located.kind === 'none') {
      return {
        ...base,
        cluster: null,
        clusterKind: null,
        reason: located.reason,
        policy: null,
        freshness: null,
        error: null,
        backups: [],
        restorable: [],
        runs: [],
        lastVerify: null,
      };
    }
    const stanza = located.stanza;
    let info: StanzaInfo | undefined;
    let error: string | null = null;
    try {
      info = await this.info(stanza);
    } catch (cause) {
      error = (cause as Error).message;
    }
    const clusterRow = await this.#o.db
      .selectFrom('backup_clusters')
      .selectAll()
      .where('stanza', '=', stanza)
      .executeTakeFirst();
    return {
      ...base,
      cluster: stanza,
      clusterKind: located.clusterKind,
      reason: info || error ? null : 'the cluster is being prepared for backups',
      policy: await this.policyOfCluster(stanza),
      freshness: info ? freshnessOf(info, this.#o.clock.now()) : null,
      error,
      backups: info ? info.backups.map(storedView) : [],
      restorable: info ? restorableViews(info, `${tenant}/${stage}`) : [],
      runs: (await listBackupRuns(this.#o.db, stanza, 50)).map(runView),
      lastVerify: verifyView(clusterRow),
    };
  }

  /**
   * A tenant as `tenant show` gives it, with each stage's backup freshness.
   * Never fails because of pgBackRest: a stage then shows `{ error }`.
   */
  async withFreshness(view: TenantView): Promise<TenantBackupView> {
    const stages = [];
    for (const stage of view.stages) {
      let backup: StageBackup = null;
      try {
        const located = await this.#locate({ tier: view.tier, database_name: stage.database });
        const info = located.kind === 'target' ? await this.info(located.stanza) : undefined;
        backup = info ? freshnessOf(info, this.#o.clock.now()) : null;
      } catch (error) {
        backup = { error: (error as Error).message };
      }
      stages.push({ ...stage, backup });
    }
    return { ...view, stages };
  }

  async #stageRow(
    tenant: string,
    stage: string,
  ): Promise<{ id: string; tier: string; database_name: string }> {
    const id = await this.#o.tenants.stageId(tenant, stage);
    return this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.id', 'tenants.tier', 'stages.database_name'])
      .where('stages.id', '=', id)
      .executeTakeFirstOrThrow();
  }
}

function toPolicy(row: {
  full_every: string | null;
  diff_every: string | null;
  incr_every: string | null;
  retain_days: number | null;
  keep_daily: number | null;
  keep_weekly: number | null;
  keep_monthly: number | null;
  export_every: string | null;
}): BackupPolicy {
  return {
    full: (row.full_every ?? defaultBackupPolicy.full) as BackupPolicy['full'],
    diff: row.diff_every as BackupPolicy['diff'],
    incr: row.incr_every as BackupPolicy['incr'],
    retainDays: row.retain_days ?? defaultBackupPolicy.retainDays,
    keepDaily: row.keep_daily,
    keepWeekly: row.keep_weekly,
    keepMonthly: row.keep_monthly,
    exports: row.export_every as BackupPolicy['exports'],
  };
}

export function runView(run: BackupRun): BackupRunView {
  return {
    id: run.id,
    cluster: run.cluster,
    type: run.type,
    repo: run.repo,
    status: run.status,
    label: run.label,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    durationMs: run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null,
    sizeBytes: run.sizeBytes,
    databaseBytes: run.databaseBytes,
    error: run.error,
    requestId: run.requestId,
    requestedBy: run.requestedBy,
  };
}

function storedView(b: BackupInfo): StoredBackupView {
  return {
    label: b.label,
    type: b.type,
    repo: b.repo,
    prior: b.prior,
    startedAt: b.startedAt.toISOString(),
    stoppedAt: b.stoppedAt.toISOString(),
    databaseBytes: b.databaseBytes,
    repositoryBytes: b.repositoryBytes,
    error: b.error,
  };
}

function verifyView(
  row:
    | { last_verify_at: Date | null; last_verify_ok: boolean | null; last_verify_report: string | null }
    | undefined,
): VerifyView | null {
  if (!row?.last_verify_at) return null;
  return {
    at: row.last_verify_at.toISOString(),
    ok: row.last_verify_ok === true,
    report: row.last_verify_report ?? '',
  };
}

function firstLines(text: string, count: number): string {
  return text.split('\n').slice(0, count).join('\n').slice(0, 4000);
}
