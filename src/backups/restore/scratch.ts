import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { InputError, InternalError } from '../../core/errors.ts';
import { pinned } from '../../databases/privileged.ts';
import { quoteIdent } from '../../databases/sql.ts';
import { run, type SystemUser } from '../../system/exec.ts';
import { freePort } from '../../system/ports.ts';
import { withSettings } from '../pgbackrest/archiving.ts';
import { groupAlive, killGroup, runInGroup } from '../pgbackrest/process.ts';
import { findPgBackRest } from '../pgbackrest/setup.ts';

/**
 * A restore of one backup into a scratch instance: a throwaway PostgreSQL
 * next to the real cluster, on a port of its own, reachable only over a
 * socket in its own directory, that can never archive WAL into the real
 * repositories. Restore tests verify it; point-in-time restores of one stage
 * copy a database out of it.
 *
 * Layout: `<parentDir>/<id>/` (owned by postgres, 0700) holds `data/` (the
 * restored cluster, also its socket directory), `log/` (pgBackRest's
 * archive-get logs while it recovers), `spool/` and `lock/` (pgBackRest's,
 * apart from the live cluster's: a restore empties the stanza's spool
 * queues, which the live cluster's async archive-push uses), `server.log`,
 * and `scratch.json`, which names the Steward process that owns the scratch.
 *
 * A kill -9 of Steward mid-restore leaves the scratch behind: a pgbackrest
 * restore still writing into `data/` (its own process group, recorded in
 * scratch.json), or a scratch PostgreSQL running (and, mid-copy, a pg_dump
 * reading from it). None of them touches the live cluster or its
 * repositories: archiving is off, and restore only reads the repository and
 * keeps to its own spool and lock directories. The next restore calls
 * cleanScratch() first, which finds every scratch whose owner is gone (its
 * pid and start time no longer match a process), kills its pgbackrest group,
 * stops its PostgreSQL (immediate; a pg_dump on it then fails and ends) and
 * removes the directory. Scratches of a live owner stay: restores may run
 * side by side.
 */

/** What to recover to: the backup's consistent point, the end of archived WAL, a time, or a restore point. */
export type RestoreTarget =
  | { readonly kind: 'immediate' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly time: Date }
  | { readonly kind: 'name'; readonly name: string };

export interface ScratchRestoreOptions {
  /** The stanza's pgbackrest.conf (repositories and passphrases) and its name. */
  readonly configPath: string;
  readonly stanza: string;
  /** The pgbackrest program; found on PATH when not given. */
  readonly bin?: string;
  /** PostgreSQL's server programs (pg_ctl), the same major version as the backup. */
  readonly binDir: string;
  /** The user PostgreSQL and pgBackRest run as (postgres when Steward is root). */
  readonly user: SystemUser | undefined;
  /** Where scratch instances live: `<stateDir>/scratch`. Leftovers in it are cleaned first. */
  readonly parentDir: string;
  readonly repo: number;
  /** The backup label to restore (`--set`). */
  readonly set: string;
  readonly target: RestoreTarget;
  /**
   * Restore only these databases (`--db-include`); the others come back as
   * zeroed files and are dropped once the scratch is up. postgres and the
   * templates always come back.
   */
  readonly databases?: readonly string[];
  /**
   * Included databases that WAL replay renames before the target (a stage
   * given its opaque name after the backup): name in the backup -> name at
   * the target. Kept under the new name.
   */
  readonly renamed?: Readonly<Record<string, string>>;
  /** The whole restore, recovery included; past it everything is killed and removed. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** A port for the scratch; a free one when not given. */
  readonly port?: number;
}

export interface ScratchInstance {
  readonly id: string;
  /** `<parentDir>/<id>`: everything of the scratch. */
  readonly dir: string;
  readonly dataDir: string;
  readonly port: number;
  readonly socketDir: string;
  /** The databases that hold data (all of them without --db-include). */
  readonly databases: readonly string[];
  /** From the start of the restore until the scratch was promoted and usable: the measured RTO. */
  readonly durationMs: number;
  /**
   * Superuser access over the scratch's socket (root and postgres map to
   * postgres; no password). Steward's own code opens the maintenance
   * database with it only: a stage's database is read as the stage's role
   * (scratchStageConnection), as its tenant's code lives in it.
   */
  connection(database: string): pg.ClientConfig;
  stop(): Promise<void>;
  /** Stops the scratch and removes its directory. Safe to call twice. */
  remove(): Promise<void>;
}

/** The scratch could not be restored or started; it has been removed. */
export class ScratchRestoreError extends InternalError {}

interface ScratchOwner {
  readonly pid: number;
  /** The owner's start time in clock ticks (field 22 of /proc/<pid>/stat): tells a reused pid apart. */
  readonly started: string | null;
  readonly stanza: string;
  readonly binDir: string;
  readonly createdAt: string;
  readonly pgbackrestPid?: number;
}

const ownerFile = 'scratch.json';
const ownerlessGraceMs = 60_000;
const restorePointName = /^[A-Za-z0-9_.:-]{1,63}$/;
const databaseName = /^[^\s'"\\,=]{1,63}$/;
const alwaysRestored = new Set(['postgres', 'template0', 'template1']);

async function processStart(pid: number): Promise<string | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

async function ownerAlive(owner: ScratchOwner): Promise<boolean> {
  const started = await processStart(owner.pid);
  return started !== null && started === owner.started;
}

function scratchId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

async function ownedDir(path: string, user: SystemUser | undefined): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
  if (user) await chown(path, user.uid, user.gid);
}

async function writeOwned(path: string, text: string, user: SystemUser | undefined): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
  if (user) await chown(path, user.uid, user.gid);
}

/**
 * pg_hba and pg_ident of a scratch: the superuser over the socket, as root,
 * postgres or Steward's own user; and a stage's role to its own database,
 * by a password set in the scratch (scratchStageConnection), over the same
 * socket, which nobody else reaches.
 */
export function scratchHbaConf(): string {
  return '# Written by Steward: a scratch restore. Only over the private socket: the superuser, and a stage role to its own database.\nlocal  all       postgres  peer map=steward\nlocal  samerole  all       scram-sha-256\n';
}

export function scratchIdentConf(extraUser?: string): string {
  const users = new Set(['root', 'postgres', ...(extraUser ? [extraUser] : [])]);
  return `# Written by Steward.\n${[...users].map((u) => `steward  ${u}  postgres`).join('\n')}\n`;
}

/**
 * The settings that make a restored cluster a harmless scratch. Pure.
 * Archiving off (it inherits archive_command, and its promotion would push a
 * new timeline's history into the real repositories), no TCP, a socket only
 * the superuser reaches, no replication towards or from anyone, and speed
 * over durability: a scratch that crashes is thrown away.
 */
export function scratchSettings(options: {
  readonly dataDir: string;
  readonly port: number;
  readonly restoreCommand: string;
  readonly id: string;
}): Record<string, string> {
  return {
    archive_mode: 'off',
    archive_command: '',
    restore_command: options.restoreCommand,
    port: String(options.port),
    listen_addresses: '',
    unix_socket_directories: options.dataDir,
    unix_socket_permissions: '0700',
    hba_file: join(options.dataDir, 'pg_hba.conf'),
    ident_file: join(options.dataDir, 'pg_ident.conf'),
    primary_conninfo: '',
    primary_slot_name: '',
    synchronous_standby_names: '',
    hot_standby: 'on',
    autovacuum: 'off',
    fsync: 'off',
    synchronous_commit: 'off',
    logging_collector: 'off',
    cluster_name: `steward-scratch-${options.id}`,
  };
}

/** pgBackRest's restore options for a target. Pure. */
export function targetOptions(target: RestoreTarget): string[] {
  switch (target.kind) {
    case 'latest':
      return ['--type=default'];
    case 'immediate':
      return ['--type=immediate', '--target-action=promote'];
    case 'time': {
      if (Number.isNaN(target.time.getTime())) {
        throw new InputError('to-time is not a valid time', { field: 'to-time' });
      }
      // "YYYY-MM-DD HH:MM:SS.mmm+00": the form both pgBackRest and PostgreSQL read.
      const at = target.time.toISOString().replace('T', ' ').replace('Z', '+00');
      return ['--type=time', `--target=${at}`, '--target-action=promote'];
    }
    case 'name':
      if (!restorePointName.test(target.name)) {
        throw new InputError(
          `restore point ${JSON.stringify(target.name)} must be 1 to 63 of A-Z a-z 0-9 _ . : -`,
          { field: 'restore-point' },
        );
      }
      return ['--type=name', `--target=${target.name}`, '--target-action=promote'];
  }
}

async function postmasterPid(dataDir: string): Promise<number | null> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const pid = Number(text?.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

async function postmasterAlive(dataDir: string): Promise<boolean> {
  const pid = await postmasterPid(dataDir);
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return (await processStart(pid)) !== null;
  } catch {
    return false;
  }
}

async function stopScratch(dir: string, binDir: string, user: SystemUser | undefined): Promise<void> {
  const dataDir = join(dir, 'data');
  if (!(await postmasterAlive(dataDir))) return;
  await run(join(binDir, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '60', '-s'], {
    user,
    timeoutMs: 70_000,
  });
  // pg_ctl refuses when postmaster.pid is not the data dir's own; make sure nothing keeps running.
  const pid = await postmasterPid(dataDir);
  if (pid !== null && (await postmasterAlive(dataDir))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
}

async function isPgBackRest(pid: number): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0')[0]?.endsWith('pgbackrest') ?? false;
}

export interface CleanScratchOptions {
  /** pg_ctl's directory; each scratch also records its own. */
  readonly binDir?: string;
  readonly user: SystemUser | undefined;
  /** Also remove scratches whose owner is alive (Steward's own shutdown). */
  readonly all?: boolean;
}

/**
 * Stops and removes leftover scratch instances: those whose owning Steward
 * process is gone (a kill -9 mid-restore, a crash), or every one with `all`.
 * A pgbackrest restore still writing into one is killed first. Returns the
 * ids removed. Safe to run at any time; scratches of live restores stay.
 */
export async function cleanScratch(parentDir: string, options: CleanScratchOptions): Promise<string[]> {
  const entries = await readdir(parentDir, { withFileTypes: true }).catch(() => []);
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = join(parentDir, entry.name);
    const text = await readFile(join(dir, ownerFile), 'utf8').catch(() => null);
    let owner: ScratchOwner | null = null;
    try {
      owner = text === null ? null : (JSON.parse(text) as ScratchOwner);
    } catch {
      owner = null;
    }
    if (owner && !options.all && (await ownerAlive(owner))) continue;
    // No owner yet: a restore that is just making it, unless it has been like that for a while.
    if (!owner && !options.all) {
      const made = await stat(dir).catch(() => null);
      if (!made || Date.now() - made.mtimeMs < ownerlessGraceMs) continue;
    }
    const restorePid = owner?.pgbackrestPid;
    if (restorePid !== undefined && (await groupAlive(restorePid)) && (await isPgBackRest(restorePid))) {
      killGroup(restorePid);
    }
    const binDir = owner?.binDir ?? options.binDir;
    if (binDir) await stopScratch(dir, binDir, options.user);
    else if (await postmasterAlive(join(dir, 'data'))) continue;
    await rm(dir, { recursive: true, force: true });
    removed.push(entry.name);
  }
  return removed;
}

function tail(text: string, lines = 12): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Asks the scratch; undefined while it does not answer yet (starting up, not consistent). */
async function inRecovery(config: pg.ClientConfig): Promise<boolean | undefined> {
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await client.query<{ recovering: boolean }>('select pg_is_in_recovery() as recovering');
    return result.rows[0]?.recovering;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Restores one backup into a new scratch instance, starts it, waits until
 * recovery reached its target and the instance is promoted, and returns how
 * to reach it. Any failure, the time limit or the signal removes the scratch
 * and throws ScratchRestoreError with pgBackRest's or PostgreSQL's last words.
 */
export async function restoreIntoScratch(options: ScratchRestoreOptions): Promise<ScratchInstance> {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 1_800_000);
  const user = options.user;
  const bin = options.bin ?? findPgBackRest();
  const extra = targetOptions(options.target);
  for (const name of options.databases ?? []) {
    if (!databaseName.test(name)) {
      throw new InputError(`database ${JSON.stringify(name)} is not a database name`, { field: 'database' });
    }
  }
  options.signal?.throwIfAborted();

  await ownedDir(options.parentDir, user);
  await cleanScratch(options.parentDir, { binDir: options.binDir, user });
  const id = scratchId(new Date(started));
  const dir = join(options.parentDir, id);
  const dataDir = join(dir, 'data');
  const owner: ScratchOwner = {
    pid: process.pid,
    started: await processStart(process.pid),
    stanza: options.stanza,
    binDir: options.binDir,
    createdAt: new Date(started).toISOString(),
  };
  await ownedDir(dir, user);
  await writeOwned(join(dir, ownerFile), JSON.stringify(owner), user);
  for (const sub of ['data', 'log', 'spool', 'lock']) await ownedDir(join(dir, sub), user);

  let port = options.port ?? (await freePort(0));
  let removed = false;
  const stop = (): Promise<void> => stopScratch(dir, options.binDir, user);
  const remove = async (): Promise<void> => {
    if (removed) return;
    await stop();
    await rm(dir, { recursive: true, force: true });
    removed = true;
  };
  const connection = (database: string): pg.ClientConfig =>
    pinned({
      host: dataDir,
      port,
      user: 'postgres',
      database,
    });
  const remaining = (): number => {
    const left = deadline - Date.now();
    if (left <= 0)
      throw new ScratchRestoreError(`the scratch restore of ${options.set} ran past its time limit`);
    return left;
  };

  try {
    const restore = await runInGroup(
      bin,
      [
        `--config=${options.configPath}`,
        `--stanza=${options.stanza}`,
        `--pg1-path=${dataDir}`,
        `--repo=${options.repo}`,
        `--set=${options.set}`,
        // restore empties the spool's archive queues of the stanza: the scratch's own, never the live
        // cluster's (whose async archive-push acknowledges segments there).
        `--spool-path=${join(dir, 'spool')}`,
        `--lock-path=${join(dir, 'lock')}`,
        '--archive-mode=off',
        '--no-delta',
        ...extra,
        ...(options.databases ?? []).map((d) => `--db-include=${d}`),
        'restore',
      ],
      {
        user,
        timeoutMs: remaining(),
        ...(options.signal ? { signal: options.signal } : {}),
        onStart: (pid) => {
          // Recorded so that cleanScratch can end it after a kill -9 of Steward.
          void writeOwned(join(dir, ownerFile), JSON.stringify({ ...owner, pgbackrestPid: pid }), user).catch(
            () => undefined,
          );
        },
      },
    );
    if (restore.code !== 0 || restore.timedOut || restore.cancelled) {
      const why = restore.timedOut
        ? 'was killed after its time limit'
        : restore.cancelled
          ? 'was cancelled'
          : `failed (exit ${restore.code})`;
      throw new ScratchRestoreError(
        `pgbackrest restore of ${options.set} from repo${options.repo} ${why}: ${tail(restore.stderr || restore.stdout, 5)}`,
      );
    }

    // Our own restore_command: archive-get without the async queue (whose spool and lock the real
    // cluster's archive-push shares), logging into the scratch.
    const restoreCommand = [
      bin,
      `--config=${options.configPath}`,
      `--stanza=${options.stanza}`,
      `--pg1-path=${dataDir}`,
      `--repo=${options.repo}`,
      '--no-archive-async',
      `--log-path=${join(dir, 'log')}`,
      'archive-get',
      '%f',
      '"%p"',
    ].join(' ');
    const autoConfPath = join(dataDir, 'postgresql.auto.conf');
    const autoConf = await readFile(autoConfPath, 'utf8').catch(() => '');
    const me = userInfo().username;
    await writeOwned(join(dataDir, 'pg_hba.conf'), scratchHbaConf(), user);
    await writeOwned(join(dataDir, 'pg_ident.conf'), scratchIdentConf(me), user);
    // A restored standby.signal would make the scratch wait for a primary forever.
    await rm(join(dataDir, 'standby.signal'), { force: true });

    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      await writeOwned(
        autoConfPath,
        withSettings(autoConf, scratchSettings({ dataDir, port, restoreCommand, id })),
        user,
      );
      // -w waits until the scratch accepts connections (hot standby, once consistent) or gave up.
      const start = await run(
        join(options.binDir, 'pg_ctl'),
        [
          'start',
          '-D',
          dataDir,
          '-l',
          join(dir, 'server.log'),
          '-w',
          '-t',
          String(Math.ceil(remaining() / 1000)),
          '-s',
        ],
        { user, timeoutMs: remaining() + 10_000 },
      );
      if (start.code === 0) break;
      const log = await readFile(join(dir, 'server.log'), 'utf8').catch(() => '');
      await stop();
      if (attempt < 3 && options.port === undefined && /could not bind|already in use/.test(log)) {
        port = await freePort(0);
        continue;
      }
      remaining();
      throw new ScratchRestoreError(
        `the scratch PostgreSQL did not start: ${tail(start.stderr || start.stdout, 3)}\n${tail(log)}`,
      );
    }

    for (;;) {
      options.signal?.throwIfAborted();
      remaining();
      const recovering = await inRecovery(connection('postgres'));
      if (recovering === false) break;
      if (!(await postmasterAlive(dataDir))) {
        const log = await readFile(join(dir, 'server.log'), 'utf8').catch(() => '');
        throw new ScratchRestoreError(
          `the scratch PostgreSQL stopped during recovery of ${options.set}:\n${tail(log)}`,
        );
      }
      await sleep(recovering === undefined ? 100 : 200);
    }

    const admin = new pg.Client(connection('postgres'));
    // A scratch instance that dies mid-query fails the restore test, not the process.
    admin.on('error', () => undefined);
    await admin.connect();
    let databases: string[];
    try {
      const all = (
        await admin.query<{ datname: string }>(
          `select datname from pg_database where datname not in ('template0', 'template1') order by datname`,
        )
      ).rows.map((r) => r.datname);
      const renamed = options.renamed ?? {};
      const included = options.databases
        ? new Set([...options.databases, ...Object.values(renamed), ...alwaysRestored])
        : null;
      databases = included ? all.filter((d) => included.has(d)) : all;
      // With --db-include the others are zeroed files: nothing may read them, so they go.
      for (const name of all.filter((d) => !databases.includes(d))) {
        await admin.query(`drop database ${quoteIdent(name)} with (force)`);
      }
      for (const name of options.databases ?? []) {
        if (!all.includes(name) && !all.includes(renamed[name] ?? name)) {
          throw new ScratchRestoreError(`backup ${options.set} has no database ${name}`);
        }
      }
    } finally {
      await admin.end().catch(() => undefined);
    }

    return {
      id,
      dir,
      dataDir,
      port,
      socketDir: dataDir,
      databases,
      durationMs: Date.now() - started,
      connection,
      stop,
      remove,
    };
  } catch (error) {
    await remove().catch(() => undefined);
    if (error instanceof ScratchRestoreError || error instanceof InputError) throw error;
    if (options.signal?.aborted) {
      throw new ScratchRestoreError(`the scratch restore of ${options.set} was cancelled`, { cause: error });
    }
    throw new ScratchRestoreError(
      `the scratch restore of ${options.set} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}
