import { join } from 'node:path';
import { stringify } from 'yaml';
import type { PatroniSettings } from './settings.ts';

/**
 * One member of an `ha` cluster: a Patroni process and the PostgreSQL it
 * runs, on the Steward node `node`. Its files live in `dir`: patroni.yml,
 * patroni.pid, patroni.log (Patroni's, rotated), patroni.out (its stdout), the
 * Unix socket, and `data` (the data directory; PostgreSQL's log in data/log).
 */
export interface HaMember {
  readonly name: string;
  readonly node: string;
  readonly host: string;
  readonly pgPort: number;
  readonly restPort: number;
  /** The PostgreSQL data directory: `<member dir>/data`. */
  readonly dataDir: string;
}

export const memberDir = (member: Pick<HaMember, 'dataDir'>): string => join(member.dataDir, '..');
export const memberConfigFile = (member: Pick<HaMember, 'dataDir'>): string =>
  join(memberDir(member), 'patroni.yml');

/** The passwords a cluster's members share; sealed by SecretService, written only into the 0600 patroni.yml. */
export interface HaCredentials {
  readonly superuser: string;
  readonly replication: string;
  /** Basic auth for the REST API's unsafe endpoints (switchover, restart, reinitialize, config). */
  readonly rest: string;
}

export const replicationUser = 'replicator';
export const restUser = 'steward';

export interface MemberConfigInput {
  /** The cluster's scope: the stage's database name. */
  readonly scope: string;
  /** etcd key prefix, `/steward/` in production; a unique one per test file. */
  readonly namespace: string;
  readonly member: HaMember;
  /** Every member of the cluster (this one included): replication is admitted from their hosts only. */
  readonly members: readonly HaMember[];
  /** etcd client endpoints, `host:port`. */
  readonly etcdHosts: readonly string[];
  readonly binDir: string;
  readonly synchronous: boolean;
  readonly settings: PatroniSettings;
  readonly credentials: HaCredentials;
  /** Throwaway test clusters: no fsync. */
  readonly unsafeFast?: boolean;
}

/**
 * pg_hba of every member. Steward reaches the leader as postgres over the
 * member's own socket (peer: root and postgres only, the socket directory is
 * 0700); replication, and pg_rewind's superuser session, only from the
 * members' hosts; a stage's role only to the database of its own name; the
 * rest rejected.
 */
export function memberPgHba(members: readonly HaMember[]): string[] {
  const hosts = [...new Set(members.map((m) => m.host))].sort();
  return [
    'local all postgres peer map=steward',
    ...hosts.map((host) => `host replication ${replicationUser} ${cidr(host)} scram-sha-256`),
    ...hosts.map((host) => `host postgres postgres ${cidr(host)} scram-sha-256`),
    ...hosts.map((host) => `host samerole all ${cidr(host)} scram-sha-256`),
    'host all all 0.0.0.0/0 reject',
    'host all all ::/0 reject',
  ];
}

const cidr = (host: string): string => (host.includes(':') ? `${host}/128` : `${host}/32`);

export const memberPgIdent = ['steward root postgres', 'steward postgres postgres'];

/** The PostgreSQL parameters every member runs with (Patroni owns the replication ones). */
function parameters(input: { readonly unsafeFast?: boolean | undefined }): Record<string, string | number> {
  return {
    // pg_rewind needs hint bits in WAL: the old primary rejoins by rewinding, not by a new base backup.
    wal_log_hints: 'on',
    max_connections: 200,
    password_encryption: 'scram-sha-256',
    unix_socket_permissions: '0700',
    // PostgreSQL's log in <data>/log, one file per weekday, overwritten a week later: bounded.
    logging_collector: 'on',
    log_directory: 'log',
    log_filename: 'postgresql-%a.log',
    log_truncate_on_rotation: 'on',
    log_rotation_age: '1d',
    log_rotation_size: 0,
    log_line_prefix: '%m [%p] %u@%d ',
    ...(input.unsafeFast
      ? { fsync: 'off', full_page_writes: 'off', shared_buffers: '32MB', synchronous_commit: 'on' }
      : {}),
  };
}

/**
 * A member's patroni.yml (pure). The bootstrap section only counts for the
 * member that initialises the cluster; the dynamic settings go to etcd then,
 * and Steward later changes them through the REST API's PATCH /config.
 */
export function renderMemberConfig(input: MemberConfigInput): string {
  const { member } = input;
  const dir = memberDir(member);
  const config = {
    scope: input.scope,
    namespace: input.namespace,
    name: member.name,
    // Patroni's own log, rotated by Patroni (4 x 16 MiB); its stdout (patroni.out) only has what comes before.
    log: { level: 'INFO', dir, file_size: 16_777_216, file_num: 4 },
    restapi: {
      listen: `${member.host}:${member.restPort}`,
      connect_address: `${member.host}:${member.restPort}`,
      authentication: { username: restUser, password: input.credentials.rest },
    },
    etcd3: { hosts: [...input.etcdHosts] },
    bootstrap: {
      dcs: dynamicConfig(input),
      initdb: [{ encoding: 'UTF8' }, { locale: 'C.UTF-8' }, { auth: 'scram-sha-256' }],
    },
    postgresql: {
      listen: `${member.host}:${member.pgPort}`,
      connect_address: `${member.host}:${member.pgPort}`,
      data_dir: member.dataDir,
      bin_dir: input.binDir,
      pgpass: join(dir, 'pgpass'),
      use_unix_socket: true,
      use_unix_socket_repl: false,
      authentication: {
        superuser: { username: 'postgres', password: input.credentials.superuser },
        replication: { username: replicationUser, password: input.credentials.replication },
      },
      parameters: { unix_socket_directories: dir },
      pg_hba: memberPgHba(input.members),
      pg_ident: memberPgIdent,
      ...(input.unsafeFast ? { basebackup: [{ checkpoint: 'fast' }] } : {}),
    },
    watchdog: { mode: 'off' },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
  return `# Written by Steward (src/databases/patroni/config.ts): holds passwords, mode 0600, owner postgres.\n${stringify(config, { lineWidth: 0 })}`;
}

/** The cluster-wide settings Patroni keeps in etcd (bootstrap, and PATCH /config later). */
export function dynamicConfig(input: Pick<MemberConfigInput, 'settings' | 'synchronous' | 'unsafeFast'>) {
  const { settings } = input;
  return {
    ttl: settings.ttl,
    loop_wait: settings.loopWait,
    retry_timeout: settings.retryTimeout,
    primary_start_timeout: settings.primaryStartTimeout,
    maximum_lag_on_failover: settings.maximumLagOnFailover,
    failsafe_mode: settings.failsafeMode,
    synchronous_mode: input.synchronous,
    postgresql: {
      use_pg_rewind: true,
      use_slots: true,
      parameters: parameters(input),
    },
  };
}

/** The cluster-wide timings Steward keeps in line with its settings after bootstrap. */
const managedKeys = [
  'ttl',
  'loop_wait',
  'retry_timeout',
  'primary_start_timeout',
  'maximum_lag_on_failover',
  'failsafe_mode',
  'synchronous_mode',
] as const;

/**
 * The PATCH /config that brings a running cluster's settings (GET /config) to
 * the desired ones (pure): only the keys that differ, or undefined. The
 * bootstrap section counts only when a cluster is made; a changed ha.tuning
 * reaches existing clusters this way.
 */
export function configPatch(
  current: Readonly<Record<string, unknown>>,
  desired: ReturnType<typeof dynamicConfig>,
): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  for (const key of managedKeys) {
    if (current[key] !== desired[key]) patch[key] = desired[key];
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}
