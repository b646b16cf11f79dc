import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalError } from '../../core/errors.ts';
import { withClient } from '../../databases/client.ts';
import {
  etcdDeletePrefix,
  etcdKeys,
  memberDir,
  memberPid,
  postmasterPid,
  startMember,
  stopMember,
  type HaMember,
  type PatroniRest,
} from '../../databases/patroni/index.ts';
import { maintenance } from '../../databases/privileged.ts';
import { run, runChecked, type SystemUser } from '../../system/exec.ts';
import { removeTree } from '../../system/safe-fs.ts';
import type { StanzaInfo } from '../pgbackrest/info.ts';
import { runInGroup } from '../pgbackrest/process.ts';
import { lastOutputLines } from '../restore-plan.ts';
import { restoreMarkerIn, restoreMarker } from './cluster-restore.ts';
import type { HaMemberObserved, HaObserved, RestoreStep } from './planner.ts';
import { isoSeconds } from './range.ts';
import { targetOptions } from './scratch.ts';
import { archiveUpToNow } from './wal.ts';

/**
 * An `ha` cluster as its restore needs it: its members (the first is the one
 * restored; the others copy it), its keys in etcd, its REST API, and its
 * stanza. The ha tier's driver gives it for a stage (haClusterOf).
 */
export interface HaRestoreCluster {
  readonly scope: string;
  /** etcd key prefix (`/steward/`): the cluster's keys are `<namespace><scope>/…`. */
  readonly namespace: string;
  readonly etcdUrls: readonly string[];
  readonly members: readonly HaMember[];
  readonly rest: PatroniRest;
  readonly binDir: string;
  readonly user: SystemUser | undefined;
  /** pgbackrest.conf of the cluster's stanza, and the stanza. */
  readonly configPath: string;
  readonly stanza: string;
  readonly pgbackrest: string;
  readonly info: () => Promise<StanzaInfo>;
}

/** What a step of an ha restore reads of its restore row. */
export interface HaRestoreRow {
  readonly id: string;
  readonly repo: number;
  readonly backup_label: string;
  readonly target_time: Date;
}

/** What the ha steps ask of the restore service. */
export interface HaRestorePorts {
  progress(row: HaRestoreRow, phase: string, text: string): Promise<void>;
  /** Records the WAL segment archived before the restore read the repository. */
  archived(row: HaRestoreRow, walFile: string): Promise<void>;
  pauseStage(row: HaRestoreRow, paused: boolean): Promise<void>;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

/** The recovery settings pgbackrest restore writes; removed once recovered, so that no later standby stops at them. */
const recoverySettings = [
  'restore_command',
  'recovery_target',
  'recovery_target_time',
  'recovery_target_name',
  'recovery_target_lsn',
  'recovery_target_xid',
  'recovery_target_action',
  'recovery_target_inclusive',
  'recovery_target_timeline',
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The steps of an `ha` cluster's point-in-time restore in place, the usual
 * way with Patroni: every member stopped, the first member's data dir
 * restored by pgBackRest (--delta, to the time, promote) and recovered by its
 * PostgreSQL alone, the cluster's keys removed from etcd, that member's
 * Patroni started (it initialises the cluster from the data dir and becomes
 * leader), the other members emptied and started (they copy the leader).
 * Each step is one idempotent action; where the restore stands is observed
 * (processes, the marker in a data dir's postgresql.auto.conf, the keys).
 */
export class HaClusterRestore {
  readonly #ports: HaRestorePorts;

  constructor(ports: HaRestorePorts) {
    this.#ports = ports;
  }

  async observe(
    row: HaRestoreRow,
    cluster: HaRestoreCluster,
    stage: { readonly paused: boolean; readonly stagedFiles: boolean },
  ): Promise<HaObserved> {
    const [first, ...others] = await Promise.all(cluster.members.map((m) => this.#member(row, cluster, m)));
    const keys = await etcdKeys(cluster.etcdUrls, `${cluster.namespace}${cluster.scope}/`);
    return {
      method: 'ha',
      restoredMember: first!,
      others,
      dcsKeys: keys.length > 0,
      restoredLeads: await this.#leads(cluster, cluster.members[0]),
      healthy: await this.#healthy(cluster),
      stagePaused: stage.paused,
      stagedFiles: stage.stagedFiles,
    };
  }

  async #member(row: HaRestoreRow, cluster: HaRestoreCluster, member: HaMember): Promise<HaMemberObserved> {
    const patroni = (await memberPid(member, cluster.user)) !== undefined;
    const postmaster = (await postmasterPid(member)) !== undefined;
    if (!existsSync(join(member.dataDir, 'PG_VERSION'))) return { patroni, postmaster, data: 'empty' };
    const autoConf = await readFile(join(member.dataDir, 'postgresql.auto.conf'), 'utf8').catch(() => '');
    if (restoreMarkerIn(autoConf) !== row.id) return { patroni, postmaster, data: 'other' };
    const recovering =
      existsSync(join(member.dataDir, 'recovery.signal')) ||
      recoverySettings.some((name) => new RegExp(`^\\s*${name}\\s*=`, 'm').test(autoConf));
    return { patroni, postmaster, data: recovering ? 'recovering' : 'restored' };
  }

  async #healthy(cluster: HaRestoreCluster): Promise<boolean> {
    try {
      const status = await cluster.rest.cluster();
      const leader = status.members.find((m) => m.role === 'leader' && m.state === 'running');
      // Patroni 3.0 reports a replica that streams as `running` (later ones say `streaming`), with its lag.
      const streaming = status.members.filter(
        (m) =>
          m.role !== 'leader' &&
          (m.state === 'streaming' || m.state === 'running') &&
          typeof m.lag === 'number',
      );
      return leader !== undefined && streaming.length === cluster.members.length - 1;
    } catch {
      return false;
    }
  }

  async run(step: RestoreStep, row: HaRestoreRow, cluster: HaRestoreCluster): Promise<void> {
    const [first, ...others] = cluster.members;
    if (!first) throw new InternalError(`cluster ${cluster.scope} has no members`);
    switch (step.kind) {
      case 'archive':
        return this.#archive(row, cluster);
      case 'stop-members':
        await this.#ports.pauseStage(row, true);
        await this.#ports.progress(row, 'restoring', `stopping the members of cluster ${cluster.scope}`);
        return this.#stopMembers(cluster);
      case 'restore-member':
        return this.#restoreMember(row, cluster, first);
      case 'recover-member':
        return this.#recoverMember(row, cluster, first);
      case 'empty-members':
        for (const member of others) {
          if ((await memberPid(member, cluster.user)) !== undefined) continue;
          await removeTree(member.dataDir);
        }
        return;
      case 'reset-dcs':
        await etcdDeletePrefix(cluster.etcdUrls, `${cluster.namespace}${cluster.scope}/`);
        return;
      case 'start-member':
        await this.#ports.progress(row, 'restarting', `starting ${first.name}: it takes the lead`);
        // A postmaster left by a recovery that stopped mid-way goes first: Patroni starts its own.
        await stopMember(first, cluster.user);
        await startMember(first, cluster.user);
        return;
      case 'await-leader':
        return this.#awaitLeader(cluster, first);
      case 'start-members':
        await this.#ports.progress(row, 'restarting', 'starting the other members: they copy the leader');
        for (const member of others) await startMember(member, cluster.user);
        return;
      case 'await-cluster':
        return this.#awaitCluster(cluster);
      default:
        throw new InternalError(`an ha restore has no step ${step.kind}`);
    }
  }

  /** The replicas together, then the leader: a leader stopped first would hand over to one of them. */
  async #stopMembers(cluster: HaRestoreCluster): Promise<void> {
    const leader = await cluster.rest.leader().catch(() => undefined);
    const replicas = cluster.members.filter((m) => m.name !== leader);
    await Promise.all(replicas.map((member) => stopMember(member, cluster.user)));
    for (const member of cluster.members.filter((m) => m.name === leader)) {
      await stopMember(member, cluster.user);
    }
  }

  async #leaderSocket(cluster: HaRestoreCluster): Promise<HaMember> {
    const leader = await cluster.rest.leader();
    const member = cluster.members.find((m) => m.name === leader);
    if (!member) throw new InternalError(`cluster ${cluster.scope} has no leader to archive from`);
    return member;
  }

  async #archive(row: HaRestoreRow, cluster: HaRestoreCluster): Promise<void> {
    await this.#ports.progress(row, 'archiving', `making WAL up to now restorable from repo${row.repo}`);
    const leader = await this.#leaderSocket(cluster);
    const walFile = await withClient(
      maintenance({ host: memberDir(leader), port: leader.pgPort, user: 'postgres' }),
      (c) => archiveUpToNow(c, cluster.info, row.repo, { timeoutMs: 120_000, signal: this.#ports.signal }),
    );
    await this.#ports.archived(row, walFile);
  }

  async #restoreMember(row: HaRestoreRow, cluster: HaRestoreCluster, member: HaMember): Promise<void> {
    await this.#ports.progress(
      row,
      'restoring',
      `restoring ${member.name} in place (delta) from backup ${row.backup_label} in repo${row.repo} to ${isoSeconds(row.target_time)}`,
    );
    const restored = await runInGroup(
      cluster.pgbackrest,
      [
        `--config=${cluster.configPath}`,
        `--stanza=${cluster.stanza}`,
        `--pg1-path=${member.dataDir}`,
        `--repo=${row.repo}`,
        `--set=${row.backup_label}`,
        '--delta',
        ...targetOptions({ kind: 'time', time: row.target_time }),
        `--recovery-option=${restoreMarker}=${row.id}`,
        'restore',
      ],
      { user: cluster.user, timeoutMs: this.#ports.timeoutMs, signal: this.#ports.signal },
    );
    if (restored.code !== 0 || restored.timedOut || restored.cancelled) {
      if (this.#ports.signal.aborted) throw new InternalError('the restore was interrupted: Steward stopped');
      throw new InternalError(
        `pgbackrest restore --delta of ${row.backup_label} from repo${row.repo} into ${member.name} failed (exit ${restored.code}): ${lastOutputLines(restored.stderr || restored.stdout, 5)}; the members of ${cluster.scope} are left stopped and the stage paused: restore again`,
      );
    }
  }

  /**
   * The restored member's PostgreSQL alone (no Patroni: it would take the
   * recovering data dir for a replica's), on its own socket only, until it
   * has promoted at the target; then the recovery settings go (a standby
   * later made of this data dir must not stop at the target) and it stops.
   */
  async #recoverMember(row: HaRestoreRow, cluster: HaRestoreCluster, member: HaMember): Promise<void> {
    await this.#ports.progress(
      row,
      'restoring',
      `recovering ${member.name} to ${isoSeconds(row.target_time)}`,
    );
    const pgCtl = join(cluster.binDir, 'pg_ctl');
    const dir = memberDir(member);
    if ((await postmasterPid(member)) === undefined) {
      const options = `-c listen_addresses='' -c port=${member.pgPort} -c unix_socket_directories='${dir}' -c hot_standby=on`;
      await runChecked(
        pgCtl,
        [
          'start',
          '-D',
          member.dataDir,
          '-l',
          join(dir, 'recovery.log'),
          '-w',
          '-t',
          '120',
          '-s',
          '-o',
          options,
        ],
        { user: cluster.user, timeoutMs: 130_000 },
      );
    }
    const admin = maintenance({ host: dir, port: member.pgPort, user: 'postgres' });
    const deadline = Date.now() + this.#ports.timeoutMs;
    for (;;) {
      this.#ports.signal.throwIfAborted();
      const recovering = await withClient(admin, async (c) =>
        Boolean((await c.query<{ r: boolean }>('select pg_catalog.pg_is_in_recovery() as r')).rows[0]?.r),
      ).catch(() => true);
      if (!recovering) break;
      if (Date.now() > deadline) {
        const log = await readFile(join(dir, 'recovery.log'), 'utf8').catch(() => '');
        throw new InternalError(
          `${member.name} did not finish recovery to ${isoSeconds(row.target_time)} in time: ${lastOutputLines(log, 5)}`,
        );
      }
      await sleep(200);
    }
    await withClient(admin, async (c) => {
      for (const name of recoverySettings) await c.query(`alter system reset ${name}`);
    });
    await run(pgCtl, ['stop', '-D', member.dataDir, '-m', 'fast', '-w', '-t', '60', '-s'], {
      user: cluster.user,
      timeoutMs: 70_000,
    });
  }

  async #leads(cluster: HaRestoreCluster, member: HaMember | undefined): Promise<boolean> {
    if (!member) return false;
    try {
      const status = await cluster.rest.cluster();
      return status.members.some(
        (m) => m.name === member.name && m.role === 'leader' && m.state === 'running',
      );
    } catch {
      return false;
    }
  }

  async #awaitLeader(cluster: HaRestoreCluster, first: HaMember): Promise<void> {
    const deadline = Date.now() + this.#ports.timeoutMs;
    while (!(await this.#leads(cluster, first))) {
      this.#ports.signal.throwIfAborted();
      if (Date.now() > deadline) {
        throw new InternalError(
          `${first.name} did not take the lead of cluster ${cluster.scope} in time after its restore`,
        );
      }
      await sleep(250);
    }
  }

  async #awaitCluster(cluster: HaRestoreCluster): Promise<void> {
    const deadline = Date.now() + this.#ports.timeoutMs;
    while (!(await this.#healthy(cluster))) {
      this.#ports.signal.throwIfAborted();
      if (Date.now() > deadline) {
        throw new InternalError(`cluster ${cluster.scope} has no leader with every member streaming in time`);
      }
      await sleep(250);
    }
  }
}
