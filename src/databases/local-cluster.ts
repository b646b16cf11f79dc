import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { quoteIdent, quoteLiteral, scramVerifier } from './sql.ts';
import { postgresRunAs, run, runChecked, type SystemUser } from '../system/exec.ts';

/**
 * A PostgreSQL cluster that Steward runs itself: the embedded default, and
 * the clusters the test harness starts. Runs as the `postgres` user when
 * Steward is root.
 */

export function findPostgresBinDir(override?: string): string {
  if (override) {
    if (!existsSync(join(override, 'initdb'))) {
      throw new Error(`STEWARD_PG_BIN_DIR=${override} has no initdb; point it at PostgreSQL's bin directory`);
    }
    return override;
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && Number(v) >= 15 && existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  throw new Error(
    'no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or under /usr/lib/postgresql/*/bin; install them with "apt-get install postgresql" (version 15 or newer) or set STEWARD_PG_BIN_DIR',
  );
}

export interface LocalClusterOptions {
  readonly dir: string;
  readonly port: number;
  readonly binDir: string;
  /** Turns off fsync and friends: for throwaway test clusters only. */
  readonly unsafeFast?: boolean;
  /**
   * How Steward itself connects as superuser: `password` over TCP (the embedded
   * cluster), or `peer` over a Unix socket in the cluster's directory, with no
   * password at all (dedicated clusters: root maps to postgres).
   */
  readonly superuserAccess?: 'password' | 'peer';
}

export interface LocalCluster {
  readonly dir: string;
  readonly port: number;
  readonly binDir: string;
  readonly user: SystemUser | undefined;
  superuserUrl(password: string, database?: string): string;
}

/**
 * Each stage role may reach only the database of the same name (`samerole`);
 * Steward's own roles connect by password; nothing else gets in.
 */
export const pgHbaConf = `# Written by Steward. A stage's role and database share a name, so "samerole"
# admits each stage role to its own database only.
host  all       postgres     127.0.0.1/32  scram-sha-256
host  all       steward_app  127.0.0.1/32  scram-sha-256
host  samerole  all          127.0.0.1/32  scram-sha-256
host  all       all          0.0.0.0/0     reject
host  all       all          ::/0          reject
`;

/** For clusters Steward reaches over its own Unix socket: root and postgres may act as postgres. */
export const peerHbaConf = `# Written by Steward: a dedicated stage cluster. Steward connects over the
# socket in this directory (root maps to postgres); the stage role by password.
local  all       postgres                   peer map=steward
host   samerole  all       127.0.0.1/32     scram-sha-256
host   all       all       0.0.0.0/0        reject
host   all       all       ::/0             reject
`;
export const peerIdentConf = `# Written by Steward.
steward  root      postgres
steward  postgres  postgres
`;

export function describeCluster(options: LocalClusterOptions): LocalCluster {
  return {
    dir: options.dir,
    port: options.port,
    binDir: options.binDir,
    user: postgresRunAs(),
    superuserUrl: (password, database = 'postgres') =>
      `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${database}`,
  };
}

export function isInitialised(dir: string): Promise<boolean> {
  return Promise.resolve(existsSync(join(dir, 'PG_VERSION')));
}

/** initdb with a superuser password and Steward's pg_hba; safe to call on an initialised dir. */
export async function initCluster(
  options: LocalClusterOptions,
  superuserPassword: string,
): Promise<LocalCluster> {
  const cluster = describeCluster(options);
  if (await isInitialised(options.dir)) return cluster;
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  // A failed initdb leaves a half-made directory; start from empty every time.
  await rm(options.dir, { recursive: true, force: true });
  await mkdir(options.dir, { mode: 0o700 });
  const pwFile = `${options.dir}.pwfile`;
  await writeFile(pwFile, `${superuserPassword}\n`, { mode: 0o600 });
  try {
    if (cluster.user) {
      await chown(options.dir, cluster.user.uid, cluster.user.gid);
      await chown(pwFile, cluster.user.uid, cluster.user.gid);
    }
    await runChecked(
      join(options.binDir, 'initdb'),
      [
        '-D',
        options.dir,
        '-U',
        'postgres',
        `--pwfile=${pwFile}`,
        '--auth-host=scram-sha-256',
        '--auth-local=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
        ...(options.unsafeFast ? ['--no-sync'] : []),
      ],
      { user: cluster.user, timeoutMs: 120_000 },
    );
  } finally {
    await rm(pwFile, { force: true });
  }
  const settings = [
    "listen_addresses = '127.0.0.1'",
    `port = ${options.port}`,
    options.superuserAccess === 'peer'
      ? `unix_socket_directories = '${options.dir.replaceAll("'", "''")}'`
      : "unix_socket_directories = ''",
    ...(options.superuserAccess === 'peer' ? ['unix_socket_permissions = 0700'] : []),
    'max_connections = 300',
    "password_encryption = 'scram-sha-256'",
    'logging_collector = off',
    "log_line_prefix = '%m [%p] %u@%d '",
    ...(options.unsafeFast
      ? ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off', 'shared_buffers = 64MB']
      : []),
  ];
  await writeFile(join(options.dir, 'postgresql.auto.conf'), `${settings.join('\n')}\n`);
  const peer = options.superuserAccess === 'peer';
  await writeFile(join(options.dir, 'pg_hba.conf'), peer ? peerHbaConf : pgHbaConf);
  if (peer) await writeFile(join(options.dir, 'pg_ident.conf'), peerIdentConf);
  if (cluster.user) {
    for (const f of ['postgresql.auto.conf', 'pg_hba.conf', ...(peer ? ['pg_ident.conf'] : [])]) {
      await chown(join(options.dir, f), cluster.user.uid, cluster.user.gid);
      await chmod(join(options.dir, f), 0o600);
    }
  }
  return cluster;
}

export async function clusterIsRunning(cluster: LocalCluster): Promise<boolean> {
  const result = await run(join(cluster.binDir, 'pg_ctl'), ['status', '-D', cluster.dir], {
    user: cluster.user,
  });
  return result.code === 0;
}

/**
 * A postmaster killed a moment ago is a zombie until its parent (init, or a
 * container's pid 1) reaps it; meanwhile pg_ctl and PostgreSQL itself take
 * its postmaster.pid for a live server and refuse to start another.
 */
export async function postmasterIsZombie(cluster: LocalCluster): Promise<boolean> {
  try {
    const pid = Number((await readFile(join(cluster.dir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return false;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** Starts the cluster, or adopts it when a previous Steward left it running. */
export async function startCluster(cluster: LocalCluster): Promise<'started' | 'adopted'> {
  if (await clusterIsRunning(cluster)) return 'adopted';
  await runChecked(
    join(cluster.binDir, 'pg_ctl'),
    ['start', '-D', cluster.dir, '-l', join(cluster.dir, 'server.log'), '-w', '-t', '120', '-s'],
    { user: cluster.user, timeoutMs: 130_000 },
  );
  return 'started';
}

export async function stopCluster(cluster: LocalCluster, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
  if (!(await clusterIsRunning(cluster))) return;
  await runChecked(
    join(cluster.binDir, 'pg_ctl'),
    ['stop', '-D', cluster.dir, '-m', mode, '-w', '-t', '60', '-s'],
    {
      user: cluster.user,
      timeoutMs: 70_000,
    },
  );
}

/** Moves a cluster that is not running to another port (its postgresql.auto.conf keeps owner and mode). */
export async function setClusterPort(cluster: LocalCluster, port: number): Promise<LocalCluster> {
  const file = join(cluster.dir, 'postgresql.auto.conf');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace(/^port = \d+$/m, `port = ${port}`));
  return describeCluster({ dir: cluster.dir, port, binDir: cluster.binDir });
}

export async function readClusterPort(dir: string): Promise<number | undefined> {
  try {
    const text = await readFile(join(dir, 'postgresql.auto.conf'), 'utf8');
    const match = /^port = (\d+)$/m.exec(text);
    return match?.[1] ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates Steward's control database and its roles: the owner of the schema
 * (no login), the app role the services connect as, and steward_audit (no
 * login), which owns the audit chain's trigger so that the app cannot change it.
 */
export async function bootstrapControlDatabase(
  superuserUrl: string,
  database: string,
  appPassword: string,
  options: { template?: string } = {},
): Promise<void> {
  const client = new pg.Client({ connectionString: superuserUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(23110001)');
    const roles = await client.query<{ rolname: string }>(
      "select rolname from pg_roles where rolname in ('steward_owner', 'steward_app', 'steward_audit')",
    );
    const have = new Set(roles.rows.map((r) => r.rolname));
    if (!have.has('steward_owner')) await client.query('create role steward_owner nologin');
    // Owns the audit chain's trigger (migration 0012); the owner role hands objects to it, the app never can.
    if (!have.has('steward_audit')) await client.query('create role steward_audit nologin');
    await client.query('grant steward_audit to steward_owner');
    if (!have.has('steward_app')) {
      await client.query(
        `create role steward_app login password ${quoteLiteral(scramVerifier(appPassword))}`,
      );
    } else {
      await client.query(`alter role steward_app login password ${quoteLiteral(scramVerifier(appPassword))}`);
    }
    const exists = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (exists.rowCount === 0) {
      const template = options.template ? ` template ${quoteIdent(options.template)}` : '';
      await client.query(`create database ${quoteIdent(database)} owner steward_owner${template}`);
    }
    await client.query(`revoke all on database ${quoteIdent(database)} from public`);
    await client.query(`grant connect, temporary on database ${quoteIdent(database)} to steward_app`);
    await client.query('select pg_advisory_unlock(23110001)');
  } finally {
    await client.end();
  }
  // PostgreSQL 15 makes the database owner own schema public; give it to the owner role explicitly.
  const db = new pg.Client({ connectionString: replaceDatabase(superuserUrl, database) });
  db.on('error', () => undefined);
  await db.connect();
  try {
    // Under the lock too: the appliance's nodes bootstrap at once, and two concurrent ALTERs of one schema fail.
    await db.query('select pg_advisory_lock(23110001)');
    await db.query('alter schema public owner to steward_owner');
    await db.query('revoke create on schema public from public');
    await db.query('select pg_advisory_unlock(23110001)');
  } finally {
    await db.end();
  }
}

export function replaceDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
