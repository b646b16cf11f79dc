import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type pg from 'pg';
import { ConflictError, InputError, InternalError } from '../../core/errors.ts';
import { pinnedOptions } from '../../databases/privileged.ts';
import { quoteIdent } from '../../databases/sql.ts';
import type { Queryable } from '../fingerprint.ts';

/**
 * Copying one database out of a scratch instance into the target cluster,
 * and the in-place swap that ends a restore of a stage onto itself.
 */

/** Where a client program connects: host (or socket directory), port, user, database, password. */
export type ConnectionTarget = Pick<pg.ClientConfig, 'host' | 'port' | 'user' | 'database' | 'password'>;

export interface CopyDatabaseOptions {
  /**
   * The database to copy, reached as its stage's own role (in a scratch:
   * scratchStageConnection), never as a superuser.
   */
  readonly from: ConnectionTarget;
  /**
   * The empty database the copy goes into (openCopyTarget made it), reached
   * as the role that is to own everything in it: the target stage's own.
   */
  readonly to: ConnectionTarget;
  /** PostgreSQL's bin directory (pg_dump and pg_restore of the cluster's version). */
  readonly binDir: string;
  /**
   * `stream`: pg_dump -Fc piped into pg_restore (no temporary copy);
   * `directory`: pg_dump -Fd -j into `workDir`, then pg_restore -j.
   */
  readonly mode?: 'stream' | 'directory';
  /** For `directory`: where the temporary dump goes (next to the scratch). */
  readonly workDir?: string;
  readonly jobs?: number;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface CopyOutcome {
  readonly durationMs: number;
  readonly mode: 'stream' | 'directory';
}

/** pg_dump or pg_restore failed; the target database may hold part of the copy and should be dropped. */
export class CopyDatabaseError extends InternalError {}

/** The client programs sit next to pg_ctl; the bin dir on PATH may hold only links to the server's. */
export function clientProgram(binDir: string, name: string): string {
  if (existsSync(join(binDir, name))) return join(binDir, name);
  for (const anchor of ['pg_ctl', 'initdb']) {
    const path = join(binDir, anchor);
    if (existsSync(path)) {
      const real = join(dirname(realpathSync(path)), name);
      if (existsSync(real)) return real;
    }
  }
  throw new InternalError(`${name} not found in ${binDir}; install the PostgreSQL client programs`);
}

/**
 * libpq's environment for a connection: the password never goes on a command
 * line, and search_path is pinned from the start (pg_dump and pg_restore
 * pin their own too).
 */
function libpqEnv(target: ConnectionTarget, database: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    PGCONNECT_TIMEOUT: '10',
    PGDATABASE: database,
    PGAPPNAME: 'steward-restore',
    PGOPTIONS: pinnedOptions,
  };
  if (target.host) env.PGHOST = target.host;
  if (target.port !== undefined) env.PGPORT = String(target.port);
  if (target.user) env.PGUSER = target.user;
  if (typeof target.password === 'string') env.PGPASSWORD = target.password;
  return env;
}

/** A value in a libpq conninfo string: single-quoted, with \\ and ' escaped. */
function conninfoValue(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

interface Exit {
  readonly code: number;
  readonly stderr: string;
}

function runProgram(
  program: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  stdio: { stdin?: NodeJS.ReadableStream; pipeOut?: boolean },
): { child: ReturnType<typeof spawn>; exit: Promise<Exit> } {
  const child = spawn(program, args, {
    cwd: '/',
    env,
    stdio: [stdio.stdin ? 'pipe' : 'ignore', stdio.pipeOut ? 'pipe' : 'ignore', 'pipe'],
  });
  const err: Buffer[] = [];
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  const exit = new Promise<Exit>((resolve) => {
    child.on('error', (error) => resolve({ code: 127, stderr: error.message }));
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
  if (stdio.stdin && child.stdin) {
    child.stdin.on('error', () => undefined);
    stdio.stdin.pipe(child.stdin);
  }
  return { child, exit };
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-5).join('\n');
}

/**
 * Copies one database from a scratch instance into an existing, empty
 * database of the target cluster, with no superuser on either side: pg_dump
 * connects as the source stage's role, pg_restore as the target stage's.
 *
 * A restore runs what the tenant defined: CHECK constraints and their
 * functions during COPY, index expressions, materialized views' queries.
 * pg_restore as a superuser that SET ROLEs to the owner is not enough: the
 * tenant's function can RESET ROLE and is superuser again. As the target
 * role itself, whatever runs has its rights only. pg_dump as a superuser
 * would run no tenant function on its own path (it pins search_path to ''
 * and reads with COPY, and a superuser bypasses row security, so no policy
 * runs); it runs as the source role anyway, so that no superuser session
 * enters the tenant's database at all, and a dump holds what the stage may
 * read and nothing more.
 * --no-owner and --no-acl: every object is created by, and so owned by, the
 * target role, and no grant of the old cluster comes along.
 *
 * A kill -9 of Steward mid-copy leaves pg_dump and pg_restore running until
 * cleanScratch stops the scratch; the target database then holds part of the
 * copy, and whoever retries drops and recreates it first.
 */
export async function copyDatabase(options: CopyDatabaseOptions): Promise<CopyOutcome> {
  const started = Date.now();
  const mode = options.mode ?? defaultCopyMode;
  const jobs = options.jobs ?? 2;
  const database = options.from.database;
  if (!database) throw new InputError('from.database names the database to copy', { field: 'from.database' });
  const targetDatabase = options.to.database;
  if (!targetDatabase) {
    throw new InputError('to.database names the database to copy into', { field: 'to.database' });
  }
  const dump = clientProgram(options.binDir, 'pg_dump');
  const restore = clientProgram(options.binDir, 'pg_restore');
  const fromEnv = libpqEnv(options.from, database);
  const toEnv = libpqEnv(options.to, targetDatabase);
  const restoreArgs = [
    '--no-owner',
    '--no-acl',
    '--exit-on-error',
    '--no-tablespaces',
    '--no-publications',
    '--no-subscriptions',
    '--no-security-labels',
    // A conninfo with only the name: host, user and password come from the environment.
    `--dbname=dbname=${conninfoValue(targetDatabase)}`,
  ];
  const children: ReturnType<typeof spawn>[] = [];
  const killAll = (): void => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  };
  const timer = setTimeout(killAll, options.timeoutMs ?? 3_600_000);
  options.signal?.addEventListener('abort', killAll, { once: true });
  try {
    options.signal?.throwIfAborted();
    if (mode === 'stream') {
      // No compression: the bytes only cross a pipe.
      const dumping = runProgram(dump, ['-Fc', '-Z0', '--no-sync'], fromEnv, { pipeOut: true });
      children.push(dumping.child);
      const restoring = runProgram(restore, restoreArgs, toEnv, { stdin: dumping.child.stdout! });
      children.push(restoring.child);
      const [dumped, restored] = await Promise.all([dumping.exit, restoring.exit]);
      if (restored.code !== 0) {
        throw new CopyDatabaseError(
          `pg_restore into ${targetDatabase} failed (exit ${restored.code}): ${lastLines(restored.stderr)}`,
        );
      }
      if (dumped.code !== 0) {
        throw new CopyDatabaseError(
          `pg_dump of ${database} failed (exit ${dumped.code}): ${lastLines(dumped.stderr)}`,
        );
      }
    } else {
      if (!options.workDir) throw new InputError('directory mode needs a workDir', { field: 'workDir' });
      const temp = await mkdtemp(join(options.workDir, 'copy-'));
      await chmod(temp, 0o700);
      try {
        const out = join(temp, 'dump');
        const dumping = runProgram(dump, ['-Fd', '-Z0', `-j${jobs}`, '--no-sync', '-f', out], fromEnv, {});
        children.push(dumping.child);
        const dumped = await dumping.exit;
        if (dumped.code !== 0) {
          throw new CopyDatabaseError(
            `pg_dump of ${database} failed (exit ${dumped.code}): ${lastLines(dumped.stderr)}`,
          );
        }
        options.signal?.throwIfAborted();
        const restoring = runProgram(restore, [...restoreArgs, `-j${jobs}`, out], toEnv, {});
        children.push(restoring.child);
        const restored = await restoring.exit;
        if (restored.code !== 0) {
          throw new CopyDatabaseError(
            `pg_restore into ${targetDatabase} failed (exit ${restored.code}): ${lastLines(restored.stderr)}`,
          );
        }
      } finally {
        await rm(temp, { recursive: true, force: true });
      }
    }
    options.signal?.throwIfAborted();
    return { durationMs: Date.now() - started, mode };
  } catch (error) {
    killAll();
    if (options.signal?.aborted && !(error instanceof CopyDatabaseError)) {
      throw new CopyDatabaseError(`the copy of ${database} was cancelled`, { cause: error });
    }
    throw error;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', killAll);
  }
}

/**
 * Makes the empty database a copy goes into, owned by `role` and open to it
 * alone, so that the copy and its check run as that role. pg_hba admits a
 * stage role to the database of its own name or of a role it belongs to
 * (`samerole`); a database of another name (the replacement of a restore)
 * gets an access role of that name, with no login and no privilege, which
 * `role` belongs to until closeCopyTarget. Idempotent. `admin` is a
 * superuser session on the maintenance database: nothing here enters the
 * new database.
 */
export async function openCopyTarget(admin: Queryable, database: string, role: string): Promise<void> {
  checkName('database', database);
  const exists = await admin.query(
    'select 1 from pg_catalog.pg_database where datname operator(pg_catalog.=) $1',
    [database],
  );
  if (exists.rowCount === 0) {
    await admin.query(
      `create database ${quoteIdent(database)} owner ${quoteIdent(role)} template template0 encoding 'UTF8'`,
    );
  }
  // As a stage's own database: its role and nobody else may connect.
  await admin.query(`revoke all on database ${quoteIdent(database)} from public`);
  await admin.query(`grant connect, temporary on database ${quoteIdent(database)} to ${quoteIdent(role)}`);
  if (database === role) return;
  const access = await admin.query<{ login: boolean }>(
    'select rolcanlogin as login from pg_catalog.pg_roles where rolname operator(pg_catalog.=) $1',
    [database],
  );
  if (access.rows[0]?.login) {
    throw new ConflictError(
      `a login role named ${database} exists; it cannot serve as the copy's access role`,
    );
  }
  if (access.rowCount === 0) {
    await admin.query(
      `create role ${quoteIdent(database)} nologin nosuperuser nocreatedb nocreaterole noinherit noreplication nobypassrls`,
    );
  }
  await admin.query(`grant ${quoteIdent(database)} to ${quoteIdent(role)}`);
}

/**
 * Removes the access role openCopyTarget made for a database, if any (a
 * login role of that name is a stage's own and stays). Dropping it ends its
 * memberships. Should the tenant's code have granted it something (it ran
 * as a member), it cannot be dropped: it stays behind, with no member and
 * no login.
 */
export async function closeCopyTarget(admin: Queryable, database: string): Promise<void> {
  const access = await admin.query<{ login: boolean }>(
    'select rolcanlogin as login from pg_catalog.pg_roles where rolname operator(pg_catalog.=) $1',
    [database],
  );
  if (access.rowCount === 0 || access.rows[0]?.login) return;
  const members = await admin.query<{ member: string }>(
    `select pg_catalog.pg_get_userbyid(m.member) as member from pg_catalog.pg_auth_members m
     where m.roleid operator(pg_catalog.=) (select oid from pg_catalog.pg_roles where rolname operator(pg_catalog.=) $1)`,
    [database],
  );
  for (const { member } of members.rows) {
    await admin.query(`revoke ${quoteIdent(database)} from ${quoteIdent(member)}`);
  }
  try {
    await admin.query(`drop role ${quoteIdent(database)}`);
  } catch (error) {
    // dependent_objects_still_exist: privileges granted to it.
    if ((error as { code?: string }).code !== '2BP01') throw error;
  }
}

/**
 * Stream. Measured with a 1 GB pgbench database (scale 68: 6.8 M rows in one
 * table, its primary key) on 2 vCPUs, PostgreSQL 15, five runs alternating:
 * stream 9.9 to 15.5 s (median 12.1 s), directory with -j2 12.7 to 15.2 s
 * (median 14.7 s). One table holds nearly everything, so parallel jobs find
 * little to share, and the directory dump writes it all to disk once more;
 * -Z0 both ways (compressing for a pipe only costs CPU).
 */
export const defaultCopyMode: 'stream' | 'directory' = 'stream';

/** PostgreSQL's limit for a name, in bytes. */
const nameLimit = 63;

/**
 * The name the old database is kept under after an in-place restore:
 * `<live>_pre_<yyyymmddhhmmss>` (UTC), the live name shortened on a
 * character boundary so that the whole stays within 63 bytes.
 */
export function keptDatabaseName(live: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const suffix = `_pre_${stamp}`;
  let head = live;
  while (Buffer.byteLength(head + suffix) > nameLimit) head = [...head].slice(0, -1).join('');
  return head + suffix;
}

export interface SwapRequest {
  /** The stage's database apps use now. */
  readonly live: string;
  /** The restored copy that takes its name. */
  readonly replacement: string;
  /** The name the old one is kept under until the new one is verified. */
  readonly keepAs: string;
}

export type SwapState = 'not-started' | 'half-swapped' | 'swapped';

export interface SwapOutcome {
  /** Where the swap was found: `half-swapped` is a previous run that stopped between its steps. */
  readonly found: SwapState;
  readonly state: 'swapped';
}

function checkName(field: string, name: string): void {
  if (name.length === 0 || Buffer.byteLength(name) > nameLimit) {
    throw new InputError(`${field} ${JSON.stringify(name)} must be 1 to 63 bytes`, { field });
  }
}

/**
 * Where a swap stands, from which of the three names exist: the state a
 * crash at any point leaves behind is one of these.
 *
 *   live, replacement            not-started
 *   keepAs, replacement          half-swapped (the first rename happened, the second not)
 *   live, keepAs                 swapped (the end; connections may still be off)
 */
export function swapState(existing: ReadonlySet<string>, request: SwapRequest): SwapState {
  const live = existing.has(request.live);
  const replacement = existing.has(request.replacement);
  const kept = existing.has(request.keepAs);
  if (live && replacement && !kept) return 'not-started';
  if (!live && replacement && kept) return 'half-swapped';
  if (live && !replacement && kept) return 'swapped';
  const has = [request.live, request.replacement, request.keepAs].filter((n) => existing.has(n));
  throw new ConflictError(
    `cannot swap ${request.replacement} in for ${request.live} (keeping it as ${request.keepAs}): the databases present are ${has.length ? has.join(', ') : 'none of them'}`,
  );
}

/**
 * The last step of an in-place restore: the live database is renamed to
 * `keepAs` and the replacement takes its name. Idempotent, so a crash at any
 * point converges by calling it again with the same names:
 *
 * 1. connections to both are switched off (datallowconn) and those open are
 *    terminated: nobody writes to the old database after the swap;
 * 2. both renames run in one transaction (ALTER DATABASE RENAME is
 *    transactional), so a crash leaves either both done or neither;
 * 3. connections are switched back on for both.
 *
 * A state from an older two-transaction run (keepAs and replacement only) is
 * finished too. `client` is a superuser session on another database of the
 * cluster (postgres).
 */
export async function swapDatabases(client: Queryable, request: SwapRequest): Promise<SwapOutcome> {
  checkName('live', request.live);
  checkName('replacement', request.replacement);
  checkName('keepAs', request.keepAs);
  if (new Set([request.live, request.replacement, request.keepAs]).size !== 3) {
    throw new InputError('live, replacement and keepAs must be three different names', { field: 'keepAs' });
  }
  const names = [request.live, request.replacement, request.keepAs];
  const present = await client.query<{ datname: string }>(
    'select datname from pg_catalog.pg_database where datname operator(pg_catalog.=) any($1::pg_catalog.text[])',
    [names],
  );
  const found = swapState(new Set(present.rows.map((r) => r.datname)), request);
  const live = quoteIdent(request.live);
  const replacement = quoteIdent(request.replacement);
  const kept = quoteIdent(request.keepAs);
  if (found !== 'swapped') {
    const involved = found === 'not-started' ? [live, replacement] : [kept, replacement];
    for (const name of involved) await client.query(`alter database ${name} allow_connections false`);
    await client.query(
      `select pg_catalog.pg_terminate_backend(pid) from pg_catalog.pg_stat_activity
       where datname operator(pg_catalog.=) any($1::pg_catalog.text[]) and pid operator(pg_catalog.<>) pg_catalog.pg_backend_pid()`,
      [names],
    );
    await client.query('begin');
    try {
      if (found === 'not-started') await client.query(`alter database ${live} rename to ${kept}`);
      await client.query(`alter database ${replacement} rename to ${live}`);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  }
  await client.query(`alter database ${live} allow_connections true`);
  await client.query(`alter database ${kept} allow_connections true`);
  return { found, state: 'swapped' };
}
