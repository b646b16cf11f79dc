import { randomBytes } from 'node:crypto';
import { chown, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { withClient } from '../../databases/client.ts';
import { pinned } from '../../databases/privileged.ts';
import { quoteIdent, quoteLiteral, scramVerifier } from '../../databases/sql.ts';
import { run, type SystemUser } from '../../system/exec.ts';
import { scratchHbaConf, ScratchRestoreError, type ScratchInstance } from './scratch.ts';

/**
 * Lets a stage's app reach its database inside a scratch instance, for the
 * app's own `verify` command after a restore test. The scratch normally
 * answers only the superuser on its private socket (a directory the stage's
 * user cannot enter); here it also listens on 127.0.0.1, where the stage's
 * role, and only it, may reach that one database with a password made for
 * this scratch. The password is gone with the scratch.
 */
export interface AppAccessOptions {
  readonly database: string;
  readonly role: string;
  /** PostgreSQL's server programs (pg_ctl). */
  readonly binDir: string;
  /** The user the scratch runs as (postgres when Steward is root). */
  readonly user: SystemUser | undefined;
  readonly timeoutMs?: number;
}

/** One pg_hba line more than the scratch's own: the stage role, its database, over loopback. */
export function appHbaConf(database: string, role: string): string {
  return `${scratchHbaConf()}host  ${quoteIdent(database)}  ${quoteIdent(role)}  127.0.0.1/32  scram-sha-256\n`;
}

/**
 * Gives a stage's role in the scratch a password made for this scratch, and
 * no attribute beyond logging in (whatever the restored catalog says), from
 * the scratch's maintenance database. Returns the password.
 */
async function admitStageRole(
  scratch: ScratchInstance,
  role: string,
  also: (admin: pg.Client) => Promise<unknown> = () => Promise.resolve(),
): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  await withClient(scratch.connection('postgres'), async (admin) => {
    const found = await admin.query<{ bootstrap: boolean }>(
      `select oid operator(pg_catalog.=) 10::pg_catalog.oid as bootstrap
       from pg_catalog.pg_roles where rolname operator(pg_catalog.=) $1`,
      [role],
    );
    if (found.rowCount !== 1) {
      throw new ScratchRestoreError(`the restored cluster has no role ${role}`);
    }
    if (found.rows[0]!.bootstrap) {
      throw new ScratchRestoreError(`role ${role} is the cluster's superuser, not a stage's role`);
    }
    await admin.query(
      `alter role ${quoteIdent(role)} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls valid until 'infinity' password ${quoteLiteral(scramVerifier(password))}`,
    );
    await also(admin);
  });
  return password;
}

/**
 * The stage's own role in its database in the scratch, over the scratch's
 * private socket (only root and postgres reach it): how Steward reads,
 * fingerprints and dumps what a restore brought back, so that the tenant's
 * code in it never runs as the scratch's superuser.
 */
export async function scratchStageConnection(
  scratch: ScratchInstance,
  access: { readonly database: string; readonly role: string },
): Promise<pg.ClientConfig> {
  const password = await admitStageRole(scratch, access.role);
  return pinned({
    host: scratch.socketDir,
    port: scratch.port,
    user: access.role,
    password,
    database: access.database,
  });
}

/**
 * Opens the scratch to the stage's role over 127.0.0.1 (one restart of the
 * scratch: listen_addresses needs it) and returns the DATABASE_URL for the
 * app. The role gets a random password inside the scratch only.
 */
export async function openScratchForApp(
  scratch: ScratchInstance,
  options: AppAccessOptions,
): Promise<string> {
  const password = await admitStageRole(scratch, options.role, (admin) =>
    admin.query(`alter system set listen_addresses = '127.0.0.1'`),
  );
  const hba = join(scratch.dataDir, 'pg_hba.conf');
  await writeFile(hba, appHbaConf(options.database, options.role), { mode: 0o600 });
  if (options.user) await chown(hba, options.user.uid, options.user.gid);
  const restarted = await run(
    join(options.binDir, 'pg_ctl'),
    [
      'restart',
      '-D',
      scratch.dataDir,
      '-m',
      'fast',
      '-w',
      '-t',
      '60',
      '-s',
      '-l',
      join(scratch.dir, 'server.log'),
    ],
    { user: options.user, timeoutMs: options.timeoutMs ?? 90_000 },
  );
  if (restarted.code !== 0) {
    const log = await readFile(join(scratch.dir, 'server.log'), 'utf8').catch(() => '');
    throw new ScratchRestoreError(
      `the scratch did not restart to let the app in: ${(restarted.stderr || restarted.stdout).trim()}\n${log.trim().split('\n').slice(-5).join('\n')}`,
    );
  }
  return `postgres://${encodeURIComponent(options.role)}:${encodeURIComponent(password)}@127.0.0.1:${scratch.port}/${encodeURIComponent(options.database)}`;
}
