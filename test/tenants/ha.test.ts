import { existsSync } from 'node:fs';
import { appendFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ApiClient, type Connection } from '../../src/cli/client.ts';
import { etcdKeys, killMember, PatroniRest } from '../../src/databases/patroni/index.ts';
import { isRunning, signal } from '../../src/databases/patroni/daemon.ts';
import { lookupUser } from '../../src/system/exec.ts';
import type { TenantView } from '../../src/tenants/service.ts';
import { patroniAvailable, sharedEtcd } from '../harness/patroni.ts';
import {
  cleanUp,
  cli,
  eventually,
  makeDataDir,
  processesOf,
  startUpJson,
  superuser,
  type UpProcess,
} from '../cli/process.ts';

/**
 * The ha tier through real `steward up` processes: a tenant with an ha stage
 * is provisioned (a kill -9 of Steward in the middle, then a restart,
 * converges with the members adopted), its DATABASE_URL follows a switchover,
 * the cluster's secrets stay out of argv and logs, and a delete leaves
 * nothing behind. One cluster for the file.
 */
describe.skipIf(!patroniAvailable)('ha tier: a Patroni cluster per stage', () => {
  let dataDir: string;
  const ups: UpProcess[] = [];
  let api: ApiClient;
  let scope: string;
  let url: string;

  async function start(): Promise<ApiClient> {
    const { up, ready } = await startUpJson(dataDir);
    ups.push(up);
    return new ApiClient(JSON.parse(await readFile(ready.clientFile, 'utf8')) as Connection);
  }

  /** Patroni processes of this data dir's clusters, by pid. */
  async function patronis(): Promise<number[]> {
    return (await processesOf(dataDir))
      .filter((p) => p.cmdline.includes('/usr/bin/patroni ') && p.cmdline.includes(join(dataDir, 'ha')))
      .map((p) => p.pid)
      .sort();
  }

  const clusterDir = () => join(dataDir, 'ha', 'clusters', scope);
  const memberConfig = async (i: number) =>
    parse(await readFile(join(clusterDir(), `${scope}_${i}`, 'patroni.yml'), 'utf8')) as {
      restapi: { authentication: { password: string } };
      postgresql: { authentication: { superuser: { password: string }; replication: { password: string } } };
    };

  async function rest(): Promise<PatroniRest> {
    const admin = await superuser(dataDir, 'steward');
    try {
      const { rows } = await admin.query<{ name: string; host: string; rest_port: number }>(
        'select name, host, rest_port from ha_members where scope = $1 order by name',
        [scope],
      );
      const password = (await memberConfig(1)).restapi.authentication.password;
      return new PatroniRest(
        rows.map((r) => ({ name: r.name, host: r.host, restPort: r.rest_port })),
        password,
      );
    } finally {
      await admin.end();
    }
  }

  beforeAll(async () => {
    dataDir = await makeDataDir();
    // The run's one etcd: this Steward does not start its own.
    await appendFile(join(dataDir, 'steward.yaml'), `ha:\n  etcd: [${sharedEtcd().url}]\n`);
    api = await start();
  }, 120_000);

  afterAll(async () => {
    // Whatever a failed test left: Patroni (and its PostgreSQL) of this data dir's clusters.
    for (const up of ups) {
      if (up.child.exitCode !== null || up.child.signalCode !== null) continue;
      up.child.kill('SIGTERM');
      await up.exited;
    }
    for (const pid of await patronis()) signal(pid, 'SIGKILL');
    for (const p of await processesOf(dataDir)) {
      if (p.cmdline.includes('postgres') && p.cmdline.includes(join(dataDir, 'ha'))) signal(p.pid, 'SIGKILL');
    }
    const router = join(dataDir, 'ha', 'router', 'haproxy.pid');
    if (existsSync(router)) signal(Number(await readFile(router, 'utf8')), 'SIGKILL');
    await cleanUp(dataDir);
  }, 120_000);

  it('converges after a kill -9 of Steward mid-provisioning, adopting the members it had started', async () => {
    await api.post<TenantView>('/api/v1/tenants', { slug: 'hat', tier: 'ha', stages: ['prod'] });
    // Killed once the first members run and before the stage is ready.
    const started = await eventually(
      'the first Patroni member',
      async () => {
        const pids = await patronis();
        return pids.length > 0 ? pids : undefined;
      },
      60_000,
      20,
    );
    const up = ups.at(-1)!;
    up.child.kill('SIGKILL');
    await up.exited;
    const tenant = await readTenant();
    expect(tenant.stages[0]?.phase).not.toBe('ready');
    scope = tenant.stages[0]!.database;
    // The members outlive Steward.
    for (const pid of started) expect(await isRunning(pid)).toBe(true);

    api = await start();
    await eventually(
      'the ha stage to be ready',
      async () => {
        const { stages } = await api.get<TenantView>('/api/v1/tenants/hat');
        if (stages.some((s) => s.phase === 'failed')) throw new Error(JSON.stringify(stages));
        return stages.every((s) => s.phase === 'ready') ? true : undefined;
      },
      120_000,
    );
    const after = await patronis();
    expect(after).toHaveLength(3);
    // Adopted, not started twice.
    for (const pid of started) expect(after).toContain(pid);
    // A leader, its synchronous standby and a replica (the third may still be copying when the stage is ready).
    const roles = await eventually(
      'three members with their roles',
      async () => {
        const found = (await (await rest()).cluster()).members.map((m) => m.role).sort();
        return found.length === 3 && found.includes('sync_standby') ? found : undefined;
      },
      60_000,
    );
    expect(roles).toEqual(['leader', 'replica', 'sync_standby']);
    // steward tenant show says how the stage's cluster replicates (prod: synchronous, by default).
    const shown = await cli(dataDir, ['tenant', 'show', 'hat']);
    console.info(shown.stdout);
    expect(shown.stdout).toMatch(/stage\s+phase\s+database\s+replication/i);
    expect(shown.stdout).toMatch(/prod\s+ready\s+st_\w+\s+synchronous/);
    url = (await api.get<{ databaseUrl: string }>('/api/v1/tenants/hat/stages/prod/credentials')).databaseUrl;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('create table kept (id int)');
    await client.query('insert into kept values (1)');
    await client.end();
  }, 240_000);

  async function readTenant(): Promise<TenantView> {
    const admin = await superuser(dataDir, 'steward');
    try {
      const { rows } = await admin.query<{ database: string; phase: string }>(
        "select s.database_name as database, s.phase from stages s join tenants t on t.id = s.tenant_id where t.slug = 'hat'",
      );
      return { stages: rows } as unknown as TenantView;
    } finally {
      await admin.end();
    }
  }

  it("keeps the cluster's passwords in 0600 files of postgres: not in argv, not in Steward's output", async () => {
    const config = await memberConfig(1);
    const secrets = [
      config.restapi.authentication.password,
      config.postgresql.authentication.superuser.password,
      config.postgresql.authentication.replication.password,
    ];
    const file = await stat(join(clusterDir(), `${scope}_1`, 'patroni.yml'));
    expect(file.mode & 0o777).toBe(0o600);
    expect(file.uid).toBe(lookupUser('postgres')!.uid);
    const everything = [
      ...(await processesOf('/')).map((p) => p.cmdline),
      ...ups.flatMap((u) => [u.stdout(), u.stderr()]),
    ].join('\n');
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(24);
      expect(everything).not.toContain(secret);
    }
    // The REST API answers reads to anyone on loopback, but changes only with the password.
    const leader = await (await rest()).leader();
    const admin = await superuser(dataDir, 'steward');
    const { rows } = await admin.query<{ rest_port: number }>(
      'select rest_port from ha_members where name = $1',
      [leader],
    );
    await admin.end();
    const refused = await fetch(`http://127.0.0.1:${rows[0]!.rest_port}/switchover`, {
      method: 'POST',
      body: JSON.stringify({ leader }),
    });
    expect(refused.status).toBe(401);
  });

  it('keeps DATABASE_URL working across a switchover: the router follows the new primary', async () => {
    const api = await rest();
    const before = await api.leader();
    expect(before).toBeDefined();
    // Patroni switches over to the synchronous standby only: wait until there is one (a busy machine may delay it).
    await eventually('a synchronous standby', async () =>
      (await api.cluster()).members.some((m) => m.role === 'sync_standby') ? true : undefined,
    );
    await api.switchover();
    const after = await eventually(
      'a new leader',
      async () => {
        const leader = await api.leader();
        return leader && leader !== before ? leader : undefined;
      },
      60_000,
    );
    const switchedAt = Date.now();
    // The same URL reaches the new primary (writable) once the router's check sees it.
    const written = await eventually(
      'a write through the router',
      async () => {
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('insert into kept values (2)');
          return (await client.query<{ n: number }>('select count(*)::int as n from kept')).rows[0]?.n;
        } catch {
          // The old primary is read-only or gone, the new one not yet checked by the router.
          return undefined;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      30_000,
    );
    console.info(
      `switchover ${before} -> ${after}: writes through the router ${Date.now() - switchedAt} ms after`,
    );
    expect(written).toBe(2);
    // The old primary rejoins as a replica.
    await eventually(
      'the old primary to rejoin',
      async () => {
        const member = (await api.cluster()).members.find((m) => m.name === before);
        return member && member.role !== 'leader' && member.state === 'running' ? true : undefined;
      },
      60_000,
    );
  }, 150_000);

  it("starts a killed member again on the keeper's next pass, and it rejoins", async () => {
    const api = await rest();
    const replica = (await api.cluster()).members.find((m) => m.role !== 'leader')!;
    const before = await patronis();
    await killMember({ dataDir: join(clusterDir(), replica.name, 'data') }, lookupUser('postgres'));
    await eventually(
      'the member started again',
      async () => {
        const now = await patronis();
        return now.length === 3 && now.some((pid) => !before.includes(pid)) ? true : undefined;
      },
      60_000,
    );
    await eventually(
      'the member to rejoin',
      async () => {
        const member = (await api.cluster()).members.find((m) => m.name === replica.name);
        return member && member.state === 'running' && typeof member.lag === 'number' ? true : undefined;
      },
      60_000,
    ).catch(async (error: unknown) => {
      console.error(JSON.stringify((await api.cluster()).members));
      console.error(
        (await readFile(join(clusterDir(), replica.name, 'patroni.log'), 'utf8'))
          .split('\n')
          .slice(-30)
          .join('\n'),
      );
      throw error;
    });
  }, 150_000);

  it("brings a cluster's timings back to Steward's settings when they were changed behind its back", async () => {
    const api = await rest();
    // Patroni answers with the configuration it stored.
    expect(await api.patchConfig({ ttl: 30, loop_wait: 10 })).toMatchObject({ ttl: 30, loop_wait: 10 });
    await eventually(
      'the keeper to set ttl 7 again',
      async () => {
        const config = await api.config();
        return config.ttl === 7 && config.loop_wait === 1 ? true : undefined;
      },
      30_000,
    );
  }, 60_000);

  it('removes the whole cluster with the stage: members, files, etcd keys, router entry, rows', async () => {
    const namespace = '/steward/';
    expect((await etcdKeys([sharedEtcd().url], `${namespace}${scope}/`)).length).toBeGreaterThan(0);
    await api.delete('/api/v1/tenants/hat');
    await eventually(
      'the tenant to be gone',
      async () => {
        const listed = await api.get<{ tenants: TenantView[] }>('/api/v1/tenants');
        return listed.tenants.length === 0 ? true : undefined;
      },
      120_000,
    );
    expect(await patronis()).toEqual([]);
    expect(existsSync(clusterDir())).toBe(false);
    expect(await etcdKeys([sharedEtcd().url], `${namespace}${scope}/`)).toEqual([]);
    const admin = await superuser(dataDir, 'steward');
    const clusters = await admin.query('select 1 from ha_clusters union all select 1 from ha_members');
    const secrets = await admin.query("select name from secrets where name like 'ha/%'");
    await admin.end();
    expect(clusters.rowCount).toBe(0);
    expect(secrets.rowCount).toBe(0);
    // No cluster left: the router stopped.
    const pidFile = join(dataDir, 'ha', 'router', 'haproxy.pid');
    const routerPid = existsSync(pidFile) ? Number(await readFile(pidFile, 'utf8')) : undefined;
    expect(routerPid === undefined || !(await isRunning(routerPid))).toBe(true);
  }, 150_000);
});
