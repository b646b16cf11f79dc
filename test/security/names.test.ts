import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opaqueNameAlphabet } from '../../src/core/names.ts';
import { quoteIdent } from '../../src/databases/sql.ts';
import type { TenantView } from '../../src/tenants/service.ts';
import { ledgerDir, packRelease } from '../harness/ledger.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

/**
 * Names that reveal no customers (issue 9 part 4): a stage role of the shared
 * cluster reads every catalog it may and finds no tenant's name in it; and an
 * installation whose databases and roles still carry tenant names converges
 * to opaque ones, with its data and its running app intact.
 */
const slugs = ['acme', 'globex'] as const;
const stageNames = ['dev', 'prod'] as const;

/** The cluster-wide catalogs the issue names: each must have been read, not skipped. */
const clusterWide = [
  'pg_catalog.pg_database',
  'pg_catalog.pg_roles',
  'pg_catalog.pg_user',
  'pg_catalog.pg_auth_members',
  'pg_catalog.pg_stat_activity',
  'pg_catalog.pg_stat_database',
  'pg_catalog.pg_stat_database_conflicts',
  'pg_catalog.pg_shdescription',
  'pg_catalog.pg_shseclabel',
  'pg_catalog.pg_db_role_setting',
  'pg_catalog.pg_tablespace',
  'pg_catalog.pg_replication_slots',
  'pg_catalog.pg_stat_replication',
  'pg_catalog.pg_stat_subscription',
  'pg_catalog.pg_stat_ssl',
  'pg_catalog.pg_settings',
  'pg_catalog.pg_prepared_xacts',
  'pg_catalog.pg_locks',
];

interface Credentials {
  readonly databaseUrl: string;
  readonly database: string;
  readonly user: string;
}

const opaque = (prefix: string): RegExp => new RegExp(`^${prefix}[${opaqueNameAlphabet}]{12}$`);

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

describe('names a stage role can read', () => {
  let t: TestSteward;

  async function credentials(slug: string, stage: string): Promise<Credentials> {
    const res = await t.request('GET', `/api/v1/tenants/${slug}/stages/${stage}/credentials`);
    expect(res.status, res.text).toBe(200);
    return res.body as Credentials;
  }

  beforeAll(async () => {
    t = await startTestSteward({ runtimeTickMs: 500 });
    for (const slug of slugs) {
      const created = await t.request('POST', '/api/v1/tenants', { slug, stages: [...stageNames] });
      expect(created.status, created.text).toBe(201);
    }
    for (const slug of slugs) await t.waitForStages(slug);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  it('names every stage database and role by an opaque id; the tenant shows it, the catalog names no one', async () => {
    const names: string[] = [];
    for (const slug of slugs) {
      const tenant = (await t.request('GET', `/api/v1/tenants/${slug}`)).body as TenantView;
      for (const stage of tenant.stages) {
        expect(stage.database).toMatch(opaque(t.prefix));
        const own = await credentials(slug, stage.name);
        expect(own).toMatchObject({ database: stage.database, user: stage.database });
        names.push(stage.database);
      }
    }
    expect(new Set(names).size).toBe(4);
    const inCluster = await t.query<{ datname: string }>(
      'select datname from pg_database where datname like $1 order by 1',
      [`${t.prefix.replace('_', '\\_')}%`],
    );
    expect(inCluster.map((r) => r.datname)).toEqual([...names].sort());
  });

  it("shows acme's prod role no tenant's name in any catalog it can read", async () => {
    const acme = await credentials('acme', 'prod');
    const globex = await credentials('globex', 'prod');
    // Another tenant's session is open, so that pg_stat_activity and pg_locks have its row to show.
    const other = await connect(globex.databaseUrl);
    const client = await connect(acme.databaseUrl);
    try {
      await other.query('begin');
      await other.query('create temporary table globex_ledger (id int)');
      const readable = await client.query<{ name: string }>(
        `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name
           from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
          where n.nspname in ('pg_catalog', 'information_schema')
            and c.relkind in ('r', 'v', 'm', 'p', 'f')
            and pg_catalog.has_table_privilege(c.oid, 'select')
          order by 1`,
      );
      const read: string[] = [];
      const offenders: string[] = [];
      let sawOther = false;
      for (const { name } of readable.rows) {
        let rows: Record<string, unknown>[];
        try {
          rows = (await client.query(`select * from ${name}`)).rows;
        } catch {
          continue; // a view over a function this role may not call: it reads nothing
        }
        read.push(name);
        for (const row of rows) {
          const text = JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
          // Two rows of each catalog at most: enough to see what leaks.
          if (/acme|globex/i.test(text) && offenders.filter((o) => o.startsWith(`${name}:`)).length < 2) {
            offenders.push(`${name}: ${text.slice(0, 300)}`);
          }
          if (name === 'pg_catalog.pg_stat_activity' && row.usename === globex.user) sawOther = true;
        }
      }
      expect(read).toEqual(expect.arrayContaining(clusterWide));
      expect(read.length).toBeGreaterThan(100);
      expect(sawOther, "globex's session is in pg_stat_activity, under its opaque role").toBe(true);
      expect(offenders).toEqual([]);
    } finally {
      await client.end();
      await other.end();
    }
  }, 60_000);

  it('renames the databases and roles of an installation made before opaque names: data kept, the app runs on', async () => {
    // acme's dev stage runs the sample app and holds data written through it.
    const upload = await t.api.inject({
      method: 'POST',
      url: '/api/v1/releases?version=1.0.0',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/gzip' },
      payload: packRelease(ledgerDir),
    });
    expect(upload.statusCode, upload.body).toBe(201);
    const deploy = await t.request('POST', '/api/v1/tenants/acme/stages/dev/deployments', {
      version: '1.0.0',
    });
    expect(deploy.status, deploy.text).toBe(202);
    await until('the deployment to be active', async () => {
      const res = await t.request('GET', `/api/v1/deployments/${deploy.body.id}`);
      if (res.body.status === 'failed') throw new Error(`deployment failed: ${res.text}`);
      return res.body.status === 'active';
    });
    const url = await stageUrl('acme', 'dev');
    const customer = await fetch(`${url}/api/customers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Kept Through The Rename' }),
    });
    expect(customer.status, await customer.clone().text()).toBe(201);
    const before = new Map<string, string>();
    for (const slug of slugs) {
      for (const stage of stageNames)
        before.set(`${slug}/${stage}`, (await credentials(slug, stage)).database);
    }

    // Steward stops (its processes with it); the names go back to what Steward before opaque names made.
    await t.steward.stop();
    const stages = await t.query<{ id: string; slug: string; name: string; database_name: string }>(
      `select s.id, t.slug, s.name, s.database_name from stages s join tenants t on t.id = s.tenant_id order by s.id`,
      [],
      t.controlDatabase,
    );
    const legacy = (slug: string, stage: string): string =>
      `${t.prefix}${slug.replaceAll('-', '_')}_${stage}`;
    for (const s of stages) {
      const old = legacy(s.slug, s.name);
      await t.query(`alter database ${quoteIdent(s.database_name)} rename to ${quoteIdent(old)}`);
      await t.query(`alter role ${quoteIdent(s.database_name)} rename to ${quoteIdent(old)}`);
      await t.query(
        'update stages set database_name = $1, previous_database_name = null, database_renamed_at = null where id = $2',
        [old, s.id],
        t.controlDatabase,
      );
    }

    // An in-place restore of acme's prod kept its old database beside it, under the old kind of name.
    const keptBefore = `${legacy('acme', 'prod')}_pre_20261201120000`;
    await t.query(`create database ${quoteIdent(keptBefore)} owner ${quoteIdent(legacy('acme', 'prod'))}`);
    await t.query(
      `insert into restores (id, tenant_slug, source_stage, target_stage, mode, target_time, cluster, repo,
                             backup_label, source_database, target_database, replacement_database,
                             kept_database, status, created_by, finished_at)
       values (gen_random_uuid(), 'acme', 'prod', 'prod', 'in-place', now(), 'shared', 1, '20261201-120000F',
               $1, $1, $1 || '_r', $2, 'succeeded', 'test', now())`,
      [legacy('acme', 'prod'), keptBefore],
      t.controlDatabase,
    );

    t = await startTestSteward({ reuse: t, runtimeTickMs: 500 });
    await until('every stage to carry an opaque name again', async () => {
      for (const slug of slugs) {
        const tenant = (await t.request('GET', `/api/v1/tenants/${slug}`)).body as TenantView;
        for (const stage of tenant.stages) {
          if (stage.phase === 'failed') throw new Error(`${slug}/${stage.name} failed: ${stage.reason}`);
          if (stage.phase !== 'ready' || !opaque(t.prefix).test(stage.database)) return false;
        }
      }
      return true;
    });
    const renamed = await t.query<{ slug: string; name: string; database_name: string; previous: string }>(
      `select t.slug, s.name, s.database_name, s.previous_database_name as previous
         from stages s join tenants t on t.id = s.tenant_id
        where s.database_renamed_at is not null order by s.id`,
      [],
      t.controlDatabase,
    );
    expect(renamed.map((r) => r.previous)).toEqual(stages.map((s) => legacy(s.slug, s.name)));
    for (const r of renamed) expect(r.database_name).not.toBe(before.get(`${r.slug}/${r.name}`));
    const left = await t.query<{ name: string }>(
      `select datname as name from pg_database where datname ~ $1
        union all select rolname from pg_roles where rolname ~ $1`,
      [`^${t.prefix}(acme|globex)_`],
    );
    expect(left).toEqual([]);
    const keptAfter = `${await t.database('acme', 'prod')}_pre_20261201120000`;
    const kept = await t.query<{ kept_database: string }>(
      'select kept_database from restores',
      [],
      t.controlDatabase,
    );
    expect(kept).toEqual([{ kept_database: keptAfter }]);
    expect(await t.query('select 1 from pg_database where datname = $1', [keptAfter])).toHaveLength(1);

    // The app came back on its new database, with the data written before.
    const dev = await credentials('acme', 'dev');
    const direct = await connect(dev.databaseUrl);
    try {
      const { rows } = await direct.query<{ who: string }>('select current_user as who');
      expect(rows[0]?.who).toBe(dev.user);
    } finally {
      await direct.end();
    }
    const listed = await until('the app to answer from its renamed database', async () => {
      const res = await fetch(`${await stageUrl('acme', 'dev')}/api/customers`).catch(() => undefined);
      return res?.status === 200 ? ((await res.json()) as { customers: { name: string }[] }) : undefined;
    });
    expect(listed.customers.map((c) => c.name)).toContain('Kept Through The Rename');
    const audit = await t.query<{ action: string; n: number }>(
      `select action, count(*)::int as n from audit_events where action like 'stage.database.%' group by 1 order by 1`,
      [],
      t.controlDatabase,
    );
    expect(audit).toEqual([
      { action: 'stage.database.rename', n: 4 },
      { action: 'stage.database.renamed', n: 4 },
    ]);
    expect((await t.request('GET', '/api/v1/audit/verify')).body.ok).toBe(true);
  }, 240_000);

  it("names no tenant in the process titles and cgroups every local user can read (acme's app runs)", async () => {
    const ps = await t.request('GET', '/api/v1/tenants/acme/ps');
    const pids = (ps.body.stages as { stage: string; processes: { pid: number | null }[] }[])
      .flatMap((s) => s.processes.map((p) => p.pid))
      .filter((pid): pid is number => pid !== null);
    expect(pids.length).toBeGreaterThan(0);
    const offenders: string[] = [];
    for (const pid of pids) {
      const cgroup = await readFile(`/proc/${pid}/cgroup`, 'utf8');
      if (/acme|globex/.test(cgroup)) offenders.push(`cgroup of ${pid}: ${cgroup}`);
    }
    // Everything of this Steward's shows in ps: the stage processes and PostgreSQL's backends of the stage roles.
    const roles = new Set<string>();
    for (const slug of slugs) for (const stage of stageNames) roles.add(await t.database(slug, stage));
    let backends = 0;
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      const title = cmdline.replaceAll('\0', ' ');
      const ours = pids.includes(Number(entry)) || [...roles].some((r) => title.includes(r));
      if ([...roles].some((r) => title.includes(r))) backends++;
      if (ours && /acme|globex/.test(title)) offenders.push(`process ${entry}: ${title}`);
    }
    expect(backends, 'the app holds connections, so backends of its role show in ps').toBeGreaterThan(0);
    expect(offenders).toEqual([]);
  });

  async function stageUrl(slug: string, stage: string): Promise<string> {
    const ps = await t.request('GET', `/api/v1/tenants/${slug}/ps`);
    const url = (ps.body.stages as { stage: string; url: string | null }[]).find(
      (s) => s.stage === stage,
    )?.url;
    if (!url) throw new Error(`${slug}/${stage} is not published: ${ps.text}`);
    return url;
  }
});

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
