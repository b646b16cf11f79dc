import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinned } from '../../src/databases/privileged.ts';
import { patroniAvailable } from '../harness/patroni.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

interface Credentials {
  readonly databaseUrl: string;
  readonly user: string;
  readonly database: string;
  readonly host: string;
  readonly port: number;
}

interface Stage {
  readonly key: string;
  readonly credentials: Credentials;
  readonly password: string;
  /** In a Patroni cluster of its own (reached through the database router), not the shared cluster. */
  readonly ha: boolean;
}

const tenants = ['iso-alpha', 'iso-beta', 'iso-gamma'] as const;
const stageNames = ['dev', 'prod'] as const;
/** A tenant of the ha tier (a Patroni cluster of its own per stage), one stage to keep the file lean. */
const haTenant = { slug: 'iso-ha', stages: ['prod'] } as const;

/** Connects as a stage's role to the database given; returns the client or the error. */
async function connectAs(
  stage: Stage,
  database: string,
): Promise<{ client: pg.Client; error?: never } | { client?: never; error: Error & { code?: string } }> {
  const client = new pg.Client({
    host: stage.credentials.host,
    port: stage.credentials.port,
    user: stage.credentials.user,
    password: stage.password,
    database,
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return { client };
  } catch (error) {
    await client.end().catch(() => undefined);
    return { error: error as Error & { code?: string } };
  }
}

/**
 * The server refused this role for this database: pg_hba rejected it (28000)
 * or the CONNECT privilege is missing (42501). Anything else (a refused TCP
 * connection, a wrong password) would prove nothing about isolation.
 */
function expectRefusedByServer(
  result: Awaited<ReturnType<typeof connectAs>>,
  role: string,
  database: string,
): void {
  if (result.client) {
    void result.client.end();
    expect.fail(`role ${role} connected to database ${database}`);
  }
  expect(['28000', '42501'], `${role} -> ${database}: ${result.error.message}`).toContain(result.error.code);
  expect(result.error.message).toContain(database);
}

describe('stage isolation', () => {
  let t: TestSteward;
  const stages: Stage[] = [];

  beforeAll(async () => {
    t = await startTestSteward();
    for (const slug of tenants) {
      const created = await t.request('POST', '/api/v1/tenants', { slug, stages: [...stageNames] });
      expect(created.status, created.text).toBe(201);
    }
    if (patroniAvailable) {
      const created = await t.request('POST', '/api/v1/tenants', {
        slug: haTenant.slug,
        tier: 'ha',
        stages: [...haTenant.stages],
      });
      expect(created.status, created.text).toBe(201);
    }
    for (const slug of tenants) await t.waitForStages(slug);
    if (patroniAvailable) await t.waitForStages(haTenant.slug, 'ready', 120_000);
    const all = [
      ...tenants.map((slug) => ({ slug, names: stageNames, ha: false })),
      ...(patroniAvailable
        ? [{ slug: haTenant.slug, names: haTenant.stages as readonly string[], ha: true }]
        : []),
    ];
    for (const { slug, names, ha } of all) {
      for (const name of names) {
        const res = await t.request('GET', `/api/v1/tenants/${slug}/stages/${name}/credentials`);
        expect(res.status, res.text).toBe(200);
        const credentials = res.body as Credentials;
        const password = decodeURIComponent(new URL(credentials.databaseUrl).password);
        stages.push({ key: `${slug}/${name}`, credentials, password, ha });
      }
    }
  }, 180_000);

  /** A superuser query on the ha stage's current leader, over its socket (as Steward does). */
  async function onHaLeader<R extends pg.QueryResultRow>(
    stage: Stage,
    sql: string,
    params: unknown[],
  ): Promise<R[]> {
    const driver = t.steward.ha!.driver;
    const leader = await (await driver.rest(stage.credentials.database)).leader();
    const member = (await driver.clusterOf(stage.credentials.database))!.members.find(
      (m) => m.name === leader,
    )!;
    const client = new pg.Client(
      pinned({
        host: join(member.dataDir, '..'),
        port: member.pgPort,
        user: 'postgres',
        database: 'postgres',
      }),
    );
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  afterAll(async () => {
    await t.close();
  });

  it('gives every stage its own database and role, with the same name', () => {
    expect(stages).toHaveLength(
      tenants.length * stageNames.length + (patroniAvailable ? haTenant.stages.length : 0),
    );
    const names = stages.map((s) => s.credentials.database);
    expect(new Set(names).size).toBe(names.length);
    for (const s of stages) {
      expect(s.credentials.user).toBe(s.credentials.database);
      expect(s.credentials.database.startsWith(t.prefix)).toBe(true);
      expect(s.password.length).toBeGreaterThanOrEqual(32);
    }
    expect(new Set(stages.map((s) => s.password)).size).toBe(stages.length);
  });

  it("lets each stage's credentials into its own database", async () => {
    for (const stage of stages) {
      const result = await connectAs(stage, stage.credentials.database);
      if (!result.client)
        throw new Error(`${stage.key} cannot reach its own database: ${result.error.message}`);
      try {
        const { rows } = await result.client.query<{ db: string; who: string }>(
          'select current_database() as db, current_user as who',
        );
        expect(rows[0]).toEqual({ db: stage.credentials.database, who: stage.credentials.user });
        // It owns its database: it can create a table there.
        await result.client.query('create table isolation_probe (id int)');
        await result.client.query('drop table isolation_probe');
      } finally {
        await result.client.end();
      }
    }
  });

  it("refuses every stage's credentials for every other stage's database", async () => {
    let attempts = 0;
    for (const a of stages) {
      for (const b of stages) {
        if (a === b) continue;
        expectRefusedByServer(
          await connectAs(a, b.credentials.database),
          a.credentials.user,
          b.credentials.database,
        );
        attempts += 1;
      }
    }
    const n = stages.length;
    expect(attempts).toBe(n * (n - 1));
  });

  it("refuses every stage's credentials for the control database and the postgres database", async () => {
    for (const stage of stages) {
      for (const database of [t.controlDatabase, 'postgres', 'template1']) {
        expectRefusedByServer(await connectAs(stage, database), stage.credentials.user, database);
      }
    }
  });

  it('does not grant CONNECT to other stages or PUBLIC even behind pg_hba', async () => {
    // The second line of defence: if pg_hba were ever loosened, the grants alone still keep stages apart.
    const names = stages.filter((s) => !s.ha).map((s) => s.credentials.database);
    const rows = await t.query<{ role: string; db: string; can: boolean }>(
      `select r.rolname as role, d.datname as db, has_database_privilege(r.oid, d.oid, 'CONNECT') as can
         from pg_roles r cross join pg_database d
        where r.rolname = any($1::text[]) and (d.datname = any($1::text[]) or d.datname = $2)`,
      [names, t.controlDatabase],
    );
    expect(rows).toHaveLength(names.length * (names.length + 1));
    for (const row of rows) expect(row.can, `${row.role} CONNECT ${row.db}`).toBe(row.role === row.db);
    const publicConnect = await t.query<{ datname: string }>(
      `select datname from pg_database
        where datname = any($1::text[])
          and (datacl is null or exists (
            select 1 from aclexplode(datacl) a where a.grantee = 0 and a.privilege_type = 'CONNECT'))`,
      [names],
    );
    expect(publicConnect).toEqual([]);
    // An ha stage's cluster: no role but the stage's own (and superusers) may connect to its database.
    for (const stage of stages.filter((s) => s.ha)) {
      const grants = await onHaLeader<{ role: string; can: boolean }>(
        stage,
        `select r.rolname as role, has_database_privilege(r.oid, d.oid, 'CONNECT') as can
           from pg_roles r cross join pg_database d
          where d.datname = $1 and not r.rolsuper and r.rolname !~ '^pg_'`,
        [stage.credentials.database],
      );
      expect(grants.filter((g) => g.can)).toEqual([{ role: stage.credentials.database, can: true }]);
      expect(grants.map((g) => g.role)).toContain('replicator');
    }
  });

  it('gives stage roles no dangerous attributes and no memberships', async () => {
    const names = stages.filter((s) => !s.ha).map((s) => s.credentials.database);
    const sql = `select rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin, rolinherit,
              (select count(*)::int from pg_auth_members m where m.member = r.oid or m.roleid = r.oid) as memberships
         from pg_roles r where rolname = any($1::text[]) order by rolname`;
    const roles = await t.query<Record<string, unknown>>(sql, [names]);
    expect(roles.map((r) => r.rolname)).toEqual([...names].sort());
    for (const stage of stages.filter((s) => s.ha)) {
      const own = await onHaLeader<Record<string, unknown>>(stage, sql, [[stage.credentials.database]]);
      expect(own).toHaveLength(1);
      roles.push(...own);
    }
    for (const role of roles) {
      expect(role).toEqual({
        rolname: role.rolname,
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolreplication: false,
        rolbypassrls: false,
        rolcanlogin: true,
        rolinherit: true,
        memberships: 0,
      });
    }
  });

  it('keeps a stage role from creating roles or databases, reading pg_authid or becoming another stage', async () => {
    for (const stage of stages) {
      const result = await connectAs(stage, stage.credentials.database);
      if (!result.client)
        throw new Error(`${stage.key} cannot reach its own database: ${result.error.message}`);
      const client = result.client;
      const other = stages.find((s) => s !== stage);
      if (!other) throw new Error('need a second stage');
      // Another role of the same cluster: an ha stage's cluster holds no other stage, but Patroni's replication role.
      const otherRole = stage.ha ? 'replicator' : other.credentials.user;
      const attempt = async (sql: string): Promise<string | undefined> => {
        try {
          await client.query(sql);
          return undefined;
        } catch (error) {
          return (error as { code?: string }).code;
        }
      };
      try {
        expect(await attempt(`create role "${t.prefix}intruder" login password 'x'`)).toBe('42501');
        expect(await attempt(`create database "${t.prefix}intruder"`)).toBe('42501');
        expect(await attempt('select rolname, rolpassword from pg_authid')).toBe('42501');
        expect(await attempt(`set role "${otherRole}"`)).toBe('42501');
        expect(await attempt(`set session authorization "${otherRole}"`)).toBe('42501');
        expect(await attempt(`alter role "${stage.credentials.user}" createdb`)).toBe('42501');
        expect(await attempt(`grant "${otherRole}" to "${stage.credentials.user}"`)).toBe('42501');
        // Still the same, unprivileged session after all of that.
        const { rows } = await client.query<{ who: string }>('select current_user as who');
        expect(rows[0]?.who).toBe(stage.credentials.user);
      } finally {
        await client.end();
      }
    }
    const intruders = await t.query(
      'select 1 from pg_roles where rolname = $1 union all select 1 from pg_database where datname = $1',
      [`${t.prefix}intruder`],
    );
    expect(intruders).toEqual([]);
  });
});
