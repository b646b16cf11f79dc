import { join } from 'node:path';
import { stringify } from 'yaml';
import type { RouterEntry } from '../databases/patroni/router.ts';
import { defaultSettings, type PatroniSettings } from '../databases/patroni/settings.ts';
import { controlScope, thisNode, type ApplianceNode, type ApplianceSettings } from './config.ts';

/**
 * What one node of the appliance runs, as plain data: its etcd member, its
 * Patroni member of the control database's cluster, and the router entry
 * that leads to the cluster's primary. The launcher (launcher.ts) starts
 * what is planned here; nothing here touches a process or a file.
 */

/** The control cluster's passwords: the same on every node (appliance-secrets.json). */
export interface ControlCredentials {
  readonly superuserPassword: string;
  readonly replicationPassword: string;
  readonly appPassword: string;
  /** Basic auth of Patroni's REST API for its unsafe endpoints (switchover, restart, reinitialize, config). */
  readonly restPassword: string;
}

/** Where a node keeps its parts, under its data dir. */
export function nodeDirs(dataDir: string): { etcd: string; patroni: string; pgData: string; socket: string } {
  const patroni = join(dataDir, 'control');
  return {
    etcd: join(dataDir, 'etcd'),
    patroni,
    pgData: join(patroni, 'data'),
    socket: patroni,
  };
}

function url(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** etcd's member name for a node (one member per node). */
export function etcdMemberName(node: ApplianceNode): string {
  return `steward-${node.name}`;
}

/**
 * The etcd member's arguments. `--initial-cluster-state new` only counts on
 * the first start: afterwards the member's data dir says who it is, so a
 * restart after a kill -9 rejoins with the same arguments.
 */
export function etcdArgs(appliance: ApplianceSettings, dataDir: string): string[] {
  const node = thisNode(appliance);
  return [
    '--name',
    etcdMemberName(node),
    '--data-dir',
    nodeDirs(dataDir).etcd,
    '--listen-client-urls',
    url(node.host, node.etcdClientPort),
    '--advertise-client-urls',
    url(node.host, node.etcdClientPort),
    '--listen-peer-urls',
    url(node.host, node.etcdPeerPort),
    '--initial-advertise-peer-urls',
    url(node.host, node.etcdPeerPort),
    '--initial-cluster',
    appliance.nodes.map((n) => `${etcdMemberName(n)}=${url(n.host, n.etcdPeerPort)}`).join(','),
    '--initial-cluster-token',
    controlScope,
    '--initial-cluster-state',
    'new',
    // Loopback and a LAN: short heartbeats find a dead leader in about a second.
    '--heartbeat-interval',
    '100',
    '--election-timeout',
    '1000',
    '--log-level',
    'warn',
  ];
}

/** Every member's client address, for Patroni's etcd3 section. */
export function etcdClientHosts(appliance: ApplianceSettings): string[] {
  return appliance.nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.etcdClientPort}`);
}

export interface PatroniPlanOptions {
  readonly binDir: string;
  /** fsync and full-page writes off: for tests only (a crash may lose the member's data). */
  readonly unsafeFast?: boolean;
  /** Patroni's timing (config ha.tuning resolved); default the ha tier's. */
  readonly settings?: PatroniSettings;
}

/** Patroni's user for streaming replication (the superuser is `postgres`). */
export const replicationUser = 'replicator';

/**
 * Patroni's config for this node's member of the control cluster. It holds
 * the passwords, so the file is the postgres user's alone (0600); they never
 * appear in a process's arguments. The timing is the ha tier's tuned one
 * (settings.ts: writes resume about ttl after the primary's node dies),
 * synchronous so that a committed job, check result or notification survives
 * the loss of the primary.
 */
export function patroniConfig(
  appliance: ApplianceSettings,
  dataDir: string,
  credentials: ControlCredentials,
  options: PatroniPlanOptions,
): string {
  const node = thisNode(appliance);
  const dirs = nodeDirs(dataDir);
  const settings = options.settings ?? defaultSettings;
  const hosts = [...new Set(appliance.nodes.map((n) => n.host))];
  // fsync only: pg_rewind needs full_page_writes (measured: with it off the old primary never rejoined).
  const unsafe = options.unsafeFast ? { fsync: 'off' } : {};
  const config = {
    scope: controlScope,
    namespace: '/steward/',
    name: node.name,
    restapi: {
      listen: `${node.host}:${node.patroniPort}`,
      connect_address: `${node.host}:${node.patroniPort}`,
      // Reads (/cluster, /primary for the routers) stay open; what changes the cluster needs the password.
      authentication: { username: 'steward', password: credentials.restPassword },
    },
    etcd3: { hosts: etcdClientHosts(appliance) },
    bootstrap: {
      dcs: {
        // The ha tier's tuned timing (src/databases/patroni/settings.ts says what bounds failover time).
        ttl: settings.ttl,
        loop_wait: settings.loopWait,
        retry_timeout: settings.retryTimeout,
        primary_start_timeout: settings.primaryStartTimeout,
        failsafe_mode: settings.failsafeMode,
        maximum_lag_on_failover: settings.maximumLagOnFailover,
        synchronous_mode: true,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            wal_log_hints: 'on',
            max_connections: 200,
            max_wal_senders: 10,
            max_replication_slots: 10,
            wal_keep_size: '128MB',
            ...unsafe,
          },
        },
      },
      initdb: [
        { encoding: 'UTF8' },
        { locale: 'C.UTF-8' },
        { 'auth-local': 'peer' },
        { 'auth-host': 'scram-sha-256' },
      ],
    },
    postgresql: {
      listen: `${node.host}:${node.postgresPort}`,
      connect_address: `${node.host}:${node.postgresPort}`,
      data_dir: dirs.pgData,
      bin_dir: options.binDir,
      pgpass: join(dirs.patroni, 'pgpass'),
      // A member that cannot rewind onto the new primary is cloned from it again instead of staying down:
      // its data is the primary's anyway (synchronous mode: every acknowledged commit is there).
      // A new or re-cloned member asks for an immediate checkpoint: with the default (spread) its clone
      // waited up to a minute here for the primary's paced checkpoint.
      basebackup: [{ checkpoint: 'fast' }],
      remove_data_directory_on_rewind_failure: true,
      remove_data_directory_on_diverged_timelines: true,
      authentication: {
        superuser: { username: 'postgres', password: credentials.superuserPassword },
        replication: { username: replicationUser, password: credentials.replicationPassword },
        rewind: { username: 'postgres', password: credentials.superuserPassword },
      },
      parameters: { unix_socket_directories: dirs.socket, password_encryption: 'scram-sha-256' },
      // The embedded cluster's rules (local-cluster.ts pgHbaConf), from every node's address (the routers
      // connect from there): a stage's role and database share a name, so "samerole" admits it to its own only.
      pg_hba: [
        'local all postgres peer',
        ...hosts.flatMap((host) => [
          `host replication ${replicationUser} ${hostCidr(host)} scram-sha-256`,
          `host all postgres ${hostCidr(host)} scram-sha-256`,
          `host all steward_app ${hostCidr(host)} scram-sha-256`,
          `host samerole all ${hostCidr(host)} scram-sha-256`,
        ]),
        'host all all 0.0.0.0/0 reject',
        'host all all ::/0 reject',
      ],
    },
    watchdog: { mode: 'off' },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    log: { level: 'WARNING', dir: dirs.patroni },
  };
  return stringify(config);
}

/** One address as an hba entry: a literal gets /32 or /128; a host name stays a name. */
function hostCidr(host: string): string {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return `${host}/32`;
  if (host.includes(':')) return `${host}/128`;
  return host;
}

/**
 * The router's entry for the control database (a static entry of this node's
 * database router, src/databases/patroni/router.ts): every member,
 * health-checked on Patroni's `/primary`, so that the port always leads to
 * the primary.
 */
export function controlRoute(appliance: ApplianceSettings): RouterEntry {
  return {
    name: controlScope,
    port: thisNode(appliance).routerPort,
    members: appliance.nodes.map((n) => ({
      name: n.name,
      host: n.host,
      pgPort: n.postgresPort,
      restPort: n.patroniPort,
    })),
  };
}

/** The control database's connections through this node's router. */
export function controlUrls(
  appliance: ApplianceSettings,
  credentials: ControlCredentials,
): { superuserUrl: string; adminUrl: string; controlUrl: string } {
  const node = thisNode(appliance);
  const at = `127.0.0.1:${node.routerPort}`;
  const superuserUrl = `postgres://postgres:${encodeURIComponent(credentials.superuserPassword)}@${at}/postgres`;
  return {
    superuserUrl,
    adminUrl: `postgres://postgres:${encodeURIComponent(credentials.superuserPassword)}@${at}/steward`,
    controlUrl: `postgres://steward_app:${encodeURIComponent(credentials.appPassword)}@${at}/steward`,
  };
}
