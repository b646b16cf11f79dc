import { existsSync, realpathSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SystemUser } from '../../system/exec.ts';
import { memberConfigFile, memberDir, type HaMember } from './config.ts';
import { isRunning, runningDaemon, signal, startDaemon, stopDaemon, type DaemonSpec } from './daemon.ts';

/**
 * The process layer of one member: Patroni, detached, as `postgres`, with a
 * pid file in the member's directory; Patroni in turn runs the member's
 * PostgreSQL. Nothing here decides anything: HaMemberKeeper and the driver do.
 */
export const patroniBinary = '/usr/bin/patroni';

export function memberDaemon(member: Pick<HaMember, 'dataDir'>, user: SystemUser | undefined): DaemonSpec {
  const dir = memberDir(member);
  return {
    binary: patroniBinary,
    args: [memberConfigFile(member)],
    pidFile: join(dir, 'patroni.pid'),
    logFile: join(dir, 'patroni.out'),
    user,
    cwd: dir,
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: dir, PYTHONUNBUFFERED: '1' },
  };
}

/** Writes the member's directory and its 0600 patroni.yml (owner postgres); the config holds passwords. */
export async function writeMemberConfig(
  member: Pick<HaMember, 'dataDir'>,
  config: string,
  user: SystemUser | undefined,
): Promise<void> {
  const dir = memberDir(member);
  // postgres passes through the directories above (created by root) to its own.
  await mkdir(dirname(dir), { recursive: true, mode: 0o711 });
  await chmod(dirname(dir), 0o711);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const file = memberConfigFile(member);
  const current = await readFile(file, 'utf8').catch(() => undefined);
  if (current !== config) {
    // Written under a new name and renamed would leave the old one readable for a moment; the mode is set first.
    await writeFile(file, '', { mode: 0o600 });
    await chmod(file, 0o600);
    await writeFile(file, config, { mode: 0o600 });
  }
  if (user) {
    await chown(dir, user.uid, user.gid);
    await chown(file, user.uid, user.gid);
  }
}

/** Starts the member's Patroni, or adopts the one a previous Steward left running. */
export async function startMember(
  member: Pick<HaMember, 'dataDir'>,
  user: SystemUser | undefined,
): Promise<{ readonly pid: number; readonly adopted: boolean }> {
  return startDaemon(memberDaemon(member, user));
}

export function memberPid(
  member: Pick<HaMember, 'dataDir'>,
  user: SystemUser | undefined,
): Promise<number | undefined> {
  return runningDaemon(memberDaemon(member, user));
}

/** The member's postmaster, if it runs (Patroni may be gone and PostgreSQL still up, or the other way). */
export async function postmasterPid(member: Pick<HaMember, 'dataDir'>): Promise<number | undefined> {
  const text = await readFile(join(member.dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number(text.split('\n')[0]);
  return Number.isInteger(pid) && pid > 1 && (await isRunning(pid)) ? pid : undefined;
}

/**
 * A clean stop: Patroni stops its PostgreSQL (fast) and, if it held the
 * leader key, releases it so that a replica takes over at once. A postmaster
 * Patroni left behind (Patroni killed before) is stopped too.
 */
export async function stopMember(
  member: Pick<HaMember, 'dataDir'>,
  user: SystemUser | undefined,
): Promise<void> {
  await stopDaemon(memberDaemon(member, user), 30_000);
  const postmaster = await postmasterPid(member);
  if (postmaster !== undefined) {
    signal(postmaster, 'SIGINT');
    const deadline = Date.now() + 30_000;
    while ((await isRunning(postmaster)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    if (await isRunning(postmaster)) signal(postmaster, 'SIGKILL');
  }
}

/**
 * The member's machine dies: Patroni and its postmaster get SIGKILL at once
 * (no leader key released, no shutdown checkpoint). For drills and crash tests.
 */
export async function killMember(
  member: Pick<HaMember, 'dataDir'>,
  user: SystemUser | undefined,
  how: 'SIGKILL' = 'SIGKILL',
): Promise<void> {
  const patroni = await memberPid(member, user);
  const postmaster = await postmasterPid(member);
  if (patroni !== undefined) signal(patroni, how);
  if (postmaster !== undefined) signal(postmaster, how);
  for (const pid of [patroni, postmaster]) {
    const deadline = Date.now() + 5_000;
    while (pid !== undefined && (await isRunning(pid)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
  }
}

/** Removes a member whose data goes anyway: killed (no shutdown checkpoint to wait for), then its directory. */
export async function removeMember(
  member: Pick<HaMember, 'dataDir'>,
  user: SystemUser | undefined,
): Promise<void> {
  await killMember(member, user);
  await rm(memberDir(member), { recursive: true, force: true });
}

/**
 * Patroni needs every server program (pg_controldata, pg_rewind,
 * pg_basebackup) in one directory; a PATH entry with links to initdb and
 * pg_ctl only (as /usr/local/bin may have) is followed to the real one.
 */
export function serverBinDir(binDir: string): string {
  const pgCtl = join(binDir, 'pg_ctl');
  return existsSync(pgCtl) ? dirname(realpathSync(pgCtl)) : binDir;
}
