import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ApiClient, type Connection } from '../../src/cli/client.ts';
import { isSlugDatabaseName } from '../../src/core/names.ts';
import { quoteIdent } from '../../src/databases/sql.ts';
import type { TenantView } from '../../src/tenants/service.ts';
import {
  cleanUp,
  eventually,
  makeDataDir,
  pgIsRunning,
  startUpJson,
  superuser,
  type UpProcess,
} from './process.ts';

/**
 * Kill -9 of `steward up` in the middle of provisioning, of deleting and of
 * renaming databases named after their tenant, then start again: every stage
 * converges and nothing is left over or missing.
 */
const stages = ['dev', 'test', 'prod'] as const;
const slugs = Array.from({ length: 20 }, (_, i) => `t${i + 1}`);

interface Observed {
  readonly databases: string[];
  readonly roles: string[];
  readonly files: string[];
}

interface ControlState {
  readonly ready: number;
  readonly total: number;
  readonly absent: number;
}

describe('kill -9 of steward up', () => {
  let dataDir: string;
  const ups: UpProcess[] = [];

  beforeAll(async () => {
    dataDir = await makeDataDir();
  });

  afterAll(async () => {
    await cleanUp(dataDir, ...ups);
  }, 120_000);

  async function start(): Promise<ApiClient> {
    const { up, ready } = await startUpJson(dataDir);
    ups.push(up);
    expect(ready.clientFile).toBe(join(dataDir, 'client.json'));
    return new ApiClient(JSON.parse(await readFile(ready.clientFile, 'utf8')) as Connection);
  }

  async function killHard(): Promise<void> {
    const up = ups.at(-1);
    if (!up) throw new Error('nothing to kill');
    up.child.kill('SIGKILL');
    expect(await up.exited).toEqual({ code: null, signal: 'SIGKILL' });
  }

  async function observe(): Promise<Observed> {
    const admin = await superuser(dataDir);
    try {
      const databases = await admin.query<{ name: string }>(
        "select datname as name from pg_database where datname like 'st\\_%' order by 1",
      );
      const roles = await admin.query<{ name: string }>(
        "select rolname as name from pg_roles where rolname like 'st\\_%' order by 1",
      );
      const files: string[] = [];
      const root = join(dataDir, 'files');
      if (existsSync(root)) {
        for (const tenant of await readdir(root)) {
          // The reconciler may remove a tenant's directory between the two reads.
          const inside = await readdir(join(root, tenant)).catch(() => []);
          for (const stage of inside) files.push(`${tenant}/${stage}`);
        }
      }
      return {
        databases: databases.rows.map((r) => r.name),
        roles: roles.rows.map((r) => r.name),
        files: files.sort(),
      };
    } finally {
      await admin.end();
    }
  }

  /** The control database as the reconciler left it, read behind the API's back (it is dead). */
  async function controlState(): Promise<ControlState> {
    const admin = await superuser(dataDir, 'steward');
    try {
      const { rows } = await admin.query<{ ready: number; total: number; absent: number }>(
        `select count(*) filter (where phase = 'ready')::int as ready, count(*)::int as total,
                count(*) filter (where desired = 'absent')::int as absent
           from stages`,
      );
      return rows[0] ?? { ready: 0, total: 0, absent: 0 };
    } finally {
      await admin.end();
    }
  }

  async function postmasterPid(): Promise<string | undefined> {
    return (await readFile(join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0];
  }

  /** Each listed stage's database and role (named as the API shows them) and files directory. */
  function expected(listed: readonly TenantView[]): Observed {
    const names = listed.flatMap((t) => t.stages.map((s) => s.database)).sort();
    return {
      databases: names,
      roles: names,
      files: listed.flatMap((t) => t.stages.map((s) => `${t.slug}/${s.name}`)).sort(),
    };
  }

  async function allReady(api: ApiClient, tenants: readonly string[]): Promise<TenantView[]> {
    return eventually(
      `${tenants.length} tenants to be ready`,
      async () => {
        const { tenants: listed } = await api.get<{ tenants: TenantView[] }>('/api/v1/tenants');
        const failed = listed.flatMap((t) => t.stages.filter((s) => s.phase === 'failed'));
        if (failed.length > 0) throw new Error(`failed stages: ${JSON.stringify(failed)}`);
        const done =
          listed.length === tenants.length &&
          listed.every(
            (t) => t.stages.length === stages.length && t.stages.every((s) => s.phase === 'ready'),
          );
        return done ? listed : undefined;
      },
      180_000,
    );
  }

  it('while 20 tenants are being created: after a restart all 20 converge, nothing left over or missing', async () => {
    const api = await start();
    const createdAt = Date.now();
    const accepted = await Promise.all(
      slugs.map((slug) => api.post<TenantView>('/api/v1/tenants', { slug, stages: [...stages] })),
    );
    expect(accepted.map((t) => t.slug)).toEqual(slugs);

    // Two kills: one just after the API accepted the requests, one halfway through provisioning.
    let current = api;
    let killedAt = 0;
    const killPoints = [
      { what: 'provisioning to start', reached: (o: Observed) => o.roles.length >= 3 },
      { what: 'provisioning to be halfway', reached: (o: Observed) => o.databases.length >= 30 },
    ];
    for (const point of killPoints) {
      await eventually(
        point.what,
        async () => (point.reached(await observe()) ? true : undefined),
        120_000,
        10,
      );
      await killHard();
      killedAt = Date.now();
      const postmasterBefore = await postmasterPid();
      expect(await pgIsRunning(dataDir)).toBe(true);
      const atKill = await controlState();
      const observedAtKill = await observe();
      expect(atKill.total).toBe(60);
      expect(atKill.ready).toBeLessThan(60);
      expect(observedAtKill.databases.length).toBeLessThan(60);
      console.info(
        `kill -9 ${Date.now() - createdAt} ms after the first create: ${atKill.ready}/60 stages ready, ` +
          `${observedAtKill.roles.length} roles, ${observedAtKill.databases.length} databases, ` +
          `${observedAtKill.files.length} files dirs`,
      );
      current = await start();
      // The next up adopts the PostgreSQL the killed one left running.
      expect(await postmasterPid()).toBe(postmasterBefore);
    }
    const again = current;
    const listed = await allReady(again, slugs);
    console.info(
      `20 tenants x 3 stages converged ${Date.now() - killedAt} ms after the last kill -9 (restart included)`,
    );

    expect(listed.map((t) => t.slug).sort()).toEqual([...slugs].sort());
    expect(listed.flatMap((t) => t.stages)).toHaveLength(60);
    expect(await observe()).toEqual(expected(listed));
    const after = await controlState();
    expect(after).toEqual({ ready: 60, total: 60, absent: 0 });
    const verified = await again.get<{ ok: boolean }>('/api/v1/audit/verify');
    expect(verified.ok).toBe(true);
  }, 300_000);

  it('while 8 tenants are being deleted: after a restart they are all gone, nothing left over', async () => {
    const api = new ApiClient(JSON.parse(await readFile(join(dataDir, 'client.json'), 'utf8')) as Connection);
    const doomed = slugs.slice(0, 8);
    const kept = slugs.slice(8);
    const deleteAt = Date.now();
    await Promise.all(doomed.map((slug) => api.delete(`/api/v1/tenants/${slug}`)));
    console.info(`8 deletes accepted in ${Date.now() - deleteAt} ms`);

    await eventually(
      'deletion to start',
      async () => ((await observe()).databases.length <= 60 - 2 ? true : undefined),
      60_000,
      10,
    );
    await killHard();
    const postmasterBefore = await postmasterPid();
    const atKill = await controlState();
    console.info(
      `kill -9 ${Date.now() - deleteAt} ms after the deletes: ${atKill.absent} of 24 stages still to delete`,
    );
    expect(atKill.absent).toBeGreaterThan(0);

    const restartedAt = Date.now();
    const again = await start();
    expect(await postmasterPid()).toBe(postmasterBefore);
    await eventually(
      'the deleted tenants to be gone',
      async () => {
        const { tenants } = await again.get<{ tenants: TenantView[] }>('/api/v1/tenants');
        return tenants.length === kept.length ? tenants : undefined;
      },
      180_000,
    );
    console.info(`8 tenants deleted ${Date.now() - restartedAt} ms after the restart began`);
    const listed = await allReady(again, kept);
    expect(listed.map((t) => t.slug).sort()).toEqual([...kept].sort());
    expect(await observe()).toEqual(expected(listed));
    expect(await controlState()).toEqual({ ready: 36, total: 36, absent: 0 });
    for (const slug of doomed) expect(existsSync(join(dataDir, 'files', slug))).toBe(false);
    const verified = await again.get<{ ok: boolean }>('/api/v1/audit/verify');
    expect(verified.ok).toBe(true);
  }, 300_000);

  it('while 12 tenants made before opaque names get them: after a restart every stage converges, data kept', async () => {
    const api = new ApiClient(JSON.parse(await readFile(join(dataDir, 'client.json'), 'utf8')) as Connection);
    const { tenants: listed } = await api.get<{ tenants: TenantView[] }>('/api/v1/tenants');
    const pairs = listed.flatMap((t) => t.stages.map((s) => [t.slug, s.name] as const));
    expect(pairs).toHaveLength(36);
    // Each stage's role keeps a row of its own in its database: the renames must carry it.
    const asStage = async <T>(
      through: ApiClient,
      [slug, stage]: readonly [string, string],
      work: (c: pg.Client) => Promise<T>,
    ): Promise<T> => {
      const { databaseUrl } = await through.get<{ databaseUrl: string }>(
        `/api/v1/tenants/${slug}/stages/${stage}/credentials`,
      );
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        return await work(client);
      } finally {
        await client.end();
      }
    };
    for (const pair of pairs) {
      await asStage(api, pair, async (c) => {
        await c.query('create table kept (note text)');
        await c.query('insert into kept values ($1)', [pair.join('/')]);
      });
    }
    await killHard();

    // The names Steward gave before opaque names: `st_<tenant>_<stage>`, in the catalog and the control DB.
    const admin = await superuser(dataDir);
    const control = await superuser(dataDir, 'steward');
    try {
      const { rows } = await control.query<{ id: string; slug: string; name: string; database_name: string }>(
        'select s.id, t.slug, s.name, s.database_name from stages s join tenants t on t.id = s.tenant_id',
      );
      for (const row of rows) {
        const old = `st_${row.slug.replaceAll('-', '_')}_${row.name}`;
        await admin.query(`alter database ${quoteIdent(row.database_name)} rename to ${quoteIdent(old)}`);
        await admin.query(`alter role ${quoteIdent(row.database_name)} rename to ${quoteIdent(old)}`);
        await control.query(
          'update stages set database_name = $1, previous_database_name = null, database_renamed_at = null where id = $2',
          [old, row.id],
        );
      }
    } finally {
      await admin.end();
      await control.end();
    }

    const renameAt = Date.now();
    await start();
    await eventually(
      'the renames to be under way',
      async () => {
        const names = (await observe()).databases;
        const slugNamed = names.filter((n) => isSlugDatabaseName(n)).length;
        return slugNamed > 0 && slugNamed < names.length ? true : undefined;
      },
      60_000,
      5,
    );
    await killHard();
    const atKill = await observe();
    console.info(
      `kill -9 ${Date.now() - renameAt} ms after the start: ` +
        `${atKill.databases.filter((n) => !isSlugDatabaseName(n)).length}/36 databases and ` +
        `${atKill.roles.filter((n) => !isSlugDatabaseName(n)).length}/36 roles renamed`,
    );

    const again = await start();
    const converged = await eventually(
      'every stage to carry an opaque name',
      async () => {
        const { tenants } = await again.get<{ tenants: TenantView[] }>('/api/v1/tenants');
        const all = tenants.flatMap((t) => t.stages);
        const failed = all.filter((s) => s.phase === 'failed');
        if (failed.length > 0) throw new Error(`failed stages: ${JSON.stringify(failed)}`);
        return all.length === 36 && all.every((s) => s.phase === 'ready' && !isSlugDatabaseName(s.database))
          ? tenants
          : undefined;
      },
      180_000,
    );
    const after = await observe();
    expect(after).toEqual(expected(converged));
    expect(after.databases.filter((n) => isSlugDatabaseName(n))).toEqual([]);
    for (const pair of pairs) {
      const notes = await asStage(
        again,
        pair,
        async (c) => (await c.query<{ note: string }>('select note from kept')).rows,
      );
      expect(notes.map((r) => r.note)).toEqual([pair.join('/')]);
    }
    expect(await controlState()).toEqual({ ready: 36, total: 36, absent: 0 });
    const verified = await again.get<{ ok: boolean }>('/api/v1/audit/verify');
    expect(verified.ok).toBe(true);
  }, 300_000);
});
