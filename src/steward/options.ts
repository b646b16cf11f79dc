import type { Logger } from 'pino';
import type { BackupRun } from '../backups/runs.ts';
import type { BackupTarget } from '../backups/service.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { BackupS3Keys } from '../core/env.ts';
import type { LocalCluster } from '../databases/local-cluster.ts';
import type { RouterEntry } from '../databases/patroni/router.ts';
import type { KeyringStore } from '../secrets/keyring.ts';
import type { CertificateAuthority } from '../tls/ca.ts';

/** What one Steward process is given: its config, its connections and what it runs. */
export interface StewardOptions {
  readonly config: Config;
  /** The app role's connection to the control database. */
  readonly controlUrl: string;
  /** The owner's connection, for migrations. */
  readonly adminUrl: string;
  /** A superuser connection to the cluster holding shared-tier stages. */
  readonly sharedClusterUrl: string;
  /**
   * The shared cluster, when Steward runs it itself (steward up's embedded
   * one): only then does Steward back it up. A cluster Steward has only a URL
   * for never gets archiving turned on.
   */
  readonly sharedCluster?: LocalCluster | undefined;
  /**
   * The cluster that holds the control database, when this process runs it
   * (steward up's embedded one): the watchdog starts it again when it dies.
   * Without it Steward only reconnects.
   */
  readonly controlCluster?: LocalCluster | undefined;
  /** S3 backup repository keys from the environment (STEWARD_BACKUP_REPO<N>_S3_KEY…). */
  readonly backupS3Keys?: Readonly<Record<number, BackupS3Keys>>;
  /** The SMTP server's credentials from the environment (STEWARD_SMTP_USER, STEWARD_SMTP_PASSWORD), kept in the secret store. */
  readonly smtpCredentials?: { readonly user: string | undefined; readonly password: string | undefined };
  /** Called after each good physical backup (table fingerprints, for one). */
  readonly onBackupSucceeded?: (cluster: BackupTarget, run: BackupRun) => Promise<void>;
  readonly keyringStore: KeyringStore;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly tls?: { readonly key: string; readonly cert: string };
  /** PostgreSQL's bin directory, for dedicated clusters (found on PATH or under /usr/lib/postgresql otherwise). */
  readonly pgBinDir?: string | undefined;
  /** How often the stage runtime runs its pass (default 5 s). */
  readonly runtimeTickMs?: number;
  /** Dedicated clusters without fsync: for tests only. */
  readonly unsafeFastClusters?: boolean;
  /** Skip the job workers and the resync loop (for a process that only serves the API). */
  readonly workers?: boolean;
  /**
   * Run the data plane (HAProxy, config.gateway's ports) with certificates
   * from this CA; its files live under <dataDir>/dataplane.
   */
  readonly gateway?: {
    readonly ca: CertificateAuthority;
    /** Listen on free ports when the configured ones are taken (the defaults, not ports an operator chose). */
    readonly anyPortIfTaken?: { readonly port: boolean; readonly httpPort: boolean };
    /** HAProxy's binary (default /usr/sbin/haproxy). */
    readonly haproxyBinary?: string;
  };
  /** Database router entries besides the ha stages' (the appliance's control database): the router keeps them. */
  readonly routerEntries?: () => readonly RouterEntry[];
  /** The built console the API serves at `/` (default: web/dist of this checkout). */
  readonly consoleDist?: string;
  /** `all` (default): API, workers, runtime and the data plane if given. `gateway`: only the data plane. */
  readonly role?: StewardRole;
}

export const stewardRoles = ['all', 'gateway'] as const;
export type StewardRole = (typeof stewardRoles)[number];
