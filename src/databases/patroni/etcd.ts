import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../../core/errors.ts';
import type { SystemUser } from '../../system/exec.ts';
import { freePort } from '../../system/ports.ts';
import { logTail, runningDaemon, startDaemon, stopDaemon, type DaemonSpec } from './daemon.ts';

/**
 * etcd: the store Patroni keeps its leader keys in. One per region, shared by
 * all of its ha clusters (each under `<namespace><scope>/`). Without config
 * `ha.etcd` Steward runs one member itself, detached, under <dataDir>/etcd;
 * the appliance runs three (one per node).
 */
export interface EtcdMember {
  readonly name: string;
  readonly dir: string;
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** Every member of the etcd cluster as `name=http://host:peerPort` (default: this one alone). */
  readonly initialCluster?: readonly string[];
}

export const etcdBinary = '/usr/bin/etcd';
export const etcdClientUrl = (member: Pick<EtcdMember, 'host' | 'clientPort'>): string =>
  `http://${member.host}:${member.clientPort}`;

export function etcdDaemon(member: EtcdMember, user: SystemUser | undefined): DaemonSpec {
  const peerUrl = `http://${member.host}:${member.peerPort}`;
  return {
    binary: etcdBinary,
    args: [
      `--name=${member.name}`,
      `--data-dir=${join(member.dir, 'data')}`,
      `--listen-client-urls=${etcdClientUrl(member)}`,
      `--advertise-client-urls=${etcdClientUrl(member)}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${(member.initialCluster ?? [`${member.name}=${peerUrl}`]).join(',')}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=steward-${member.name}`,
      '--enable-v2=false',
      // A small store: Patroni's keys only. Compaction keeps it so.
      '--auto-compaction-mode=periodic',
      '--auto-compaction-retention=1h',
      '--quota-backend-bytes=268435456',
    ],
    pidFile: join(member.dir, 'etcd.pid'),
    logFile: join(member.dir, 'etcd.log'),
    user,
    cwd: member.dir,
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', ETCD_UNSUPPORTED_ARCH: '' },
  };
}

/** Starts the etcd member, or adopts the running one, and waits until it answers /health. */
export async function startEtcd(
  member: EtcdMember,
  user: SystemUser | undefined,
  timeoutMs = 30_000,
): Promise<{ readonly pid: number; readonly adopted: boolean; readonly url: string }> {
  await mkdir(member.dir, { recursive: true, mode: 0o700 });
  if (user) await chown(member.dir, user.uid, user.gid);
  const spec = etcdDaemon(member, user);
  const started = await startDaemon(spec);
  const url = etcdClientUrl(member);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await runningDaemon(spec)) === undefined) break;
    if (await etcdHealthy(url)) return { ...started, url };
    await sleep(50);
  }
  throw new UnavailableError(`etcd ${member.name} did not come up at ${url}: ${await logTail(spec)}`);
}

export function stopEtcd(member: EtcdMember, user: SystemUser | undefined): Promise<void> {
  return stopDaemon(etcdDaemon(member, user), 10_000);
}

export async function etcdHealthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await response.json()) as { health?: string };
    return response.ok && body.health === 'true';
  } catch {
    return false;
  }
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** The key just past every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i -= 1) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = bytes[i]! + 1;
      return end.toString('latin1');
    }
  }
  return '\0';
}

/**
 * An etcd v3 call over its JSON gateway; tries each URL in turn (any member
 * answers for the cluster).
 */
async function call(urls: readonly string[], path: string, body: unknown): Promise<unknown> {
  let lastError: unknown;
  for (const url of urls) {
    try {
      const response = await fetch(`${url}/v3/${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(5_000),
      });
      if (response.ok) return await response.json();
      lastError = new Error(
        `etcd ${url} answered ${response.status}: ${(await response.text()).slice(0, 200)}`,
      );
    } catch (error) {
      lastError = error;
    }
  }
  throw new UnavailableError(`no etcd answered (${urls.join(', ')})`, { cause: lastError });
}

/** Removes every key under the prefix (a deleted cluster's `/steward/<scope>/`). */
export async function etcdDeletePrefix(urls: readonly string[], prefix: string): Promise<number> {
  const result = (await call(urls, 'kv/deleterange', {
    key: b64(prefix),
    range_end: Buffer.from(prefixEnd(prefix), 'latin1').toString('base64'),
  })) as { deleted?: string };
  return Number(result.deleted ?? 0);
}

/** The keys under a prefix (names only). */
export async function etcdKeys(urls: readonly string[], prefix: string): Promise<string[]> {
  const result = (await call(urls, 'kv/range', {
    key: b64(prefix),
    range_end: Buffer.from(prefixEnd(prefix), 'latin1').toString('base64'),
    keys_only: true,
  })) as { kvs?: { key: string }[] };
  return (result.kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString('utf8'));
}

/**
 * The etcd member Steward runs itself (no config ha.etcd) in `dir`: its ports
 * are chosen once (2379 and 2380 when free) and kept in ports.json, since every
 * member's patroni.yml names them; started, or adopted after a kill -9.
 */
export async function startEmbeddedEtcd(
  dir: string,
  user: SystemUser | undefined,
): Promise<{ readonly member: EtcdMember; readonly url: string; readonly adopted: boolean }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const portsFile = join(dir, 'ports.json');
  let ports = await readFile(portsFile, 'utf8')
    .then((text) => JSON.parse(text) as { client: number; peer: number })
    .catch(() => undefined);
  if (!ports) {
    const client = await freePort(2379);
    let peer = await freePort(2380);
    if (peer === client) peer = await freePort(0);
    ports = { client, peer };
    await writeFile(portsFile, JSON.stringify(ports), { mode: 0o600 });
  }
  const member: EtcdMember = {
    name: 'steward',
    dir,
    host: '127.0.0.1',
    clientPort: ports.client,
    peerPort: ports.peer,
  };
  const started = await startEtcd(member, user);
  return { member, url: started.url, adopted: started.adopted };
}
