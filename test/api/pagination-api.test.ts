import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { TypedClient, type Transport } from '../../src/api/client/typed.ts';
import type { paths } from '../../src/api/client/schema.ts';
import { stagePhases } from '../../src/tenants/service.ts';
import { appDefinitionSchema } from '../../src/runtime/app-definition.ts';

/**
 * Cursor pagination against a real Steward: pages of tenants (filtered,
 * sorted), alerts, audit events, API tokens, drills, deployments, releases
 * and exports walked to the end while rows are inserted between pages, none
 * repeated or skipped; bad limit, cursor, sort and filters are 400s that name
 * the field.
 */

let st: TestSteward;
let control: pg.Pool;
const run = `pg${Date.now().toString(36).slice(-4)}`;

interface Got {
  readonly status: number;
  readonly body: any;
  readonly next: string | undefined;
  readonly link: string | undefined;
}

async function get(url: string): Promise<Got> {
  const response = await st.api.inject({
    method: 'GET',
    url,
    headers: { authorization: `Bearer ${st.token}` },
  });
  const header = (name: string) => response.headers[name] as string | undefined;
  return {
    status: response.statusCode,
    body: JSON.parse(response.body),
    next: header('x-next-cursor'),
    link: header('link'),
  };
}

/** Follows every cursor; `between` runs after each page (it inserts rows). */
async function walk<T>(
  url: string,
  key: 'tenants' | 'alerts' | 'events' | 'tokens' | 'drills' | 'deployments' | 'releases' | 'exports',
  between: () => Promise<void> = () => Promise.resolve(),
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let pages = 0;
  let next: string | undefined;
  do {
    const glue = url.includes('?') ? '&' : '?';
    const page = await get(next ? `${url}${glue}cursor=${next}` : url);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    items.push(...(page.body[key] as T[]));
    pages += 1;
    if (page.next) {
      // The link repeats the query with the next cursor.
      expect(page.link).toContain(`cursor=${page.next}`);
      expect(page.link).toMatch(/; rel="next"$/);
    } else {
      expect(page.link).toBeUndefined();
    }
    next = page.next;
    await between();
  } while (next);
  return { items, pages };
}

async function createTenant(slug: string, displayName: string, tier = 'shared'): Promise<void> {
  const created = await st.request('POST', '/api/v1/tenants', { slug, displayName, tier, stages: ['dev'] });
  expect(created.status, created.text).toBe(201);
}

beforeAll(async () => {
  st = await startTestSteward({ workers: false });
  control = new pg.Pool({ connectionString: st.controlUrl, max: 2 });
  // 25 tenants; names repeat so a sort by name needs the id to break ties.
  for (let i = 0; i < 25; i += 1) {
    await createTenant(`${run}-t${String(i).padStart(2, '0')}`, `Customer ${String(i % 4)}`);
  }
});

afterAll(async () => {
  await control?.end();
  await st?.close();
});

describe('tenant list', () => {
  it('walks pages by slug with inserts between pages: each tenant once, in order', async () => {
    let inserted = 0;
    const { items, pages } = await walk<{ slug: string }>(
      `/api/v1/tenants?limit=4&q=${run}-`,
      'tenants',
      async () => {
        // One before the cursor (not shown), one after every page (shown): neither repeats nor pushes out a row.
        inserted += 1;
        if (inserted > 3) return;
        await createTenant(`${run}-t00y${String(inserted)}`, 'Late');
        await createTenant(`${run}-z${String(inserted)}`, 'Late');
      },
    );
    const slugs = items.map((t) => t.slug);
    expect(new Set(slugs).size).toBe(slugs.length);
    expect(slugs).toEqual([...slugs].sort());
    const originals = Array.from({ length: 25 }, (_, i) => `${run}-t${String(i).padStart(2, '0')}`);
    expect(slugs).toEqual([...originals, `${run}-z1`, `${run}-z2`, `${run}-z3`]);
    expect(pages).toBe(7);
  });

  it('sorts by name descending, ties broken by id, across pages', async () => {
    const all = await walk<{ slug: string; displayName: string }>(
      `/api/v1/tenants?limit=3&q=${run}-t&sort=name&order=desc`,
      'tenants',
    );
    const names = all.items.map((t) => t.displayName);
    expect(names).toEqual([...names].sort().reverse());
    expect(new Set(all.items.map((t) => t.slug)).size).toBe(all.items.length);
  });

  it('filters by phase, tier and text', async () => {
    const failed = `${run}-t07`;
    await control.query(
      `update stages set phase = 'failed' where tenant_id = (select id from tenants where slug = $1)`,
      [failed],
    );
    const byPhase = await get(`/api/v1/tenants?phase=failed&q=${run}`);
    expect(byPhase.body.tenants.map((t: { slug: string }) => t.slug)).toEqual([failed]);
    const pending = await get(`/api/v1/tenants?phase=pending&q=${run}-t0&limit=500`);
    expect(pending.body.tenants.map((t: { slug: string }) => t.slug)).not.toContain(failed);
    expect((await get(`/api/v1/tenants?tier=dedicated&q=${run}`)).body.tenants).toEqual([]);
    // Each phase filter (in SQL) agrees with the phase each tenant shows (summarisePhase).
    await control.query(
      `update stages set phase = $2 where tenant_id = (select id from tenants where slug = $1)`,
      [`${run}-t08`, 'ready'],
    );
    await control.query(`update tenants set desired = 'absent' where slug = $1`, [`${run}-t09`]);
    const shown = (await get(`/api/v1/tenants?q=${run}-t&limit=500`)).body.tenants as {
      slug: string;
      phase: string;
    }[];
    for (const phase of stagePhases) {
      const filtered = await get(`/api/v1/tenants?q=${run}-t&limit=500&phase=${phase}`);
      expect(
        filtered.body.tenants.map((t: { slug: string }) => t.slug),
        phase,
      ).toEqual(shown.filter((t) => t.phase === phase).map((t) => t.slug));
    }
    expect(new Set(shown.map((t) => t.phase))).toEqual(new Set(['failed', 'pending', 'ready', 'deleting']));
    const byName = await get(`/api/v1/tenants?q=CUSTOMER%203&sort=created`);
    expect(byName.body.tenants.length).toBeGreaterThan(5);
    for (const t of byName.body.tenants) expect(t.displayName).toBe('Customer 3');
    // Wildcards in q are literal.
    expect((await get(`/api/v1/tenants?q=%25`)).body.tenants).toEqual([]);
  });

  it.each([
    ['limit=0', 'limit', ['0', 'at least 1']],
    ['limit=501', 'limit', ['501', 'at most 500']],
    ['limit=ten', 'limit', ['number']],
    ['sort=colour', 'sort', ['colour', 'slug, name, created']],
    ['order=up', 'order', ['up', 'asc, desc']],
    ['phase=sleepy', 'phase', ['sleepy', 'ready']],
    ['tier=gold', 'tier', ['gold', 'shared, dedicated, ha']],
    ['cursor=bm90LWEtY3Vyc29y', 'cursor', ['bm90LWEtY3Vyc29y', 'x-next-cursor']],
    ['cursor=a%20b', 'cursor', ['a b', 'x-next-cursor']],
    ['colour=red', 'colour', ['colour', 'limit, cursor, sort, order']],
  ])('%s is a 400 naming %s', async (query, field, mentions) => {
    const res = await get(`/api/v1/tenants?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.field).toBe(field);
    for (const m of mentions) expect(res.body.message).toContain(m);
  });

  it("the typed client's page() and all() follow the cursors through the list's body object", async () => {
    const transport: Transport = async ({ method, path }) => {
      const response = await st.api.inject({
        method: method as 'GET',
        url: path,
        headers: { authorization: `Bearer ${st.token}` },
      });
      return {
        status: response.statusCode,
        header: (name) => (response.headers[name] as string | undefined) ?? null,
        body: JSON.parse(response.body) as unknown,
      };
    };
    const api = new TypedClient<paths>(transport);
    const first = await api.page('/api/v1/tenants', { query: { q: `${run}-t`, limit: 10 } });
    expect(first.items).toHaveLength(10);
    expect(first.nextCursor).not.toBeNull();
    const all = await api.all('/api/v1/tenants', { query: { q: `${run}-t`, limit: 10 } });
    // Typed once the tenants contract (c-contracts-a) is in the OpenAPI document.
    expect((all as unknown as { slug: string }[]).map((t) => t.slug)).toEqual(
      (await get(`/api/v1/tenants?q=${run}-t&limit=500`)).body.tenants.map((t: { slug: string }) => t.slug),
    );
  });

  it('refuses a cursor made for another sort', async () => {
    const first = await get(`/api/v1/tenants?limit=2&sort=name`);
    expect(first.next).toBeDefined();
    const res = await get(`/api/v1/tenants?limit=2&sort=slug&cursor=${first.next ?? ''}`);
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('cursor');
    expect(res.body.message).toContain('sort=name&order=asc');
  });
});

describe('alerts and audit', () => {
  it('walks alerts newest first with alerts raised between pages', async () => {
    const raise = (i: number) =>
      st.services.alerts.raise({
        source: 'watchdog',
        dedupKey: `${run}-${String(i)}`,
        severity: i % 2 === 0 ? 'warning' : 'critical',
        summary: `alert ${String(i)}`,
        tenant: `${run}-t01`,
      });
    for (let i = 0; i < 12; i += 1) await raise(i);
    const before = await get(`/api/v1/alerts?tenant=${run}-t01&limit=500`);
    let extra = 100;
    const { items } = await walk<{ id: string }>(
      `/api/v1/alerts?tenant=${run}-t01&limit=5`,
      'alerts',
      async () => {
        await raise((extra += 1));
      },
    );
    const ids = items.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Newer alerts sit before the cursor: the walk shows exactly the ones there were, newest first.
    expect(ids).toEqual(before.body.alerts.map((a: { id: string }) => a.id));
    const critical = await get(`/api/v1/alerts?tenant=${run}-t01&severity=critical&limit=500`);
    for (const a of critical.body.alerts) expect(a.severity).toBe('critical');
    const bad = await get('/api/v1/alerts?severity=loud');
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('severity');
  });

  it('walks the audit log by seq, filtered by actor and action, as events are added', async () => {
    const url = `/api/v1/audit?action=tenant.create&limit=7`;
    let n = 0;
    const { items } = await walk<{ seq: string; actor: string }>(url, 'events', async () => {
      n += 1;
      if (n < 3) await createTenant(`${run}-a${String(n)}`, 'Audited');
    });
    const seqs = items.map((e) => BigInt(e.seq));
    expect(new Set(seqs).size).toBe(seqs.length);
    for (let i = 1; i < seqs.length; i += 1) expect(seqs[i]! > seqs[i - 1]!).toBe(true);
    // Every tenant made above, the two made while walking included (they come after the cursor).
    expect(items.length).toBeGreaterThanOrEqual(25 + 2);
    const actor = items[0]!.actor;
    const byActor = await get(`/api/v1/audit?actor=${encodeURIComponent(actor)}&limit=1`);
    expect(byActor.body.events[0].actor).toBe(actor);
    expect(byActor.next).toBeDefined();
    const newest = await get(`/api/v1/audit?order=desc&limit=1&action=tenant.create`);
    expect(newest.body.events[0].seq).toBe(items.at(-1)!.seq);
    const late = await get(`/api/v1/audit?until=2000-01-01T00:00:00Z`);
    expect(late.body.events).toEqual([]);
  });
});

describe('releases, deployments, tokens, exports and drills (keyset in SQL)', () => {
  const definition = JSON.stringify(
    appDefinitionSchema.parse({ name: 'demo', processes: { worker: { command: 'true' } } }),
  );
  it('walks API tokens by id as tokens are made between pages, and by name descending', async () => {
    const make = async (name: string) => {
      const made = await st.request('POST', '/api/v1/tokens', { name, expiresInDays: 1 });
      expect(made.status, made.text).toBe(201);
    };
    for (let i = 0; i < 7; i += 1) await make(`${run}-tok-${String(i % 3)}`);
    const before = (await get('/api/v1/tokens?limit=500')).body.tokens.length as number;
    let made = 0;
    const { items, pages } = await walk<{ id: string }>('/api/v1/tokens?limit=3', 'tokens', async () => {
      if (made < 3) await make(`${run}-late-${String((made += 1))}`);
    });
    const ids = items.map((t) => BigInt(t.id));
    for (let i = 1; i < ids.length; i += 1) expect(ids[i]! > ids[i - 1]!).toBe(true);
    // Each token made while walking has a larger id than the cursor: all of them are shown.
    expect(items).toHaveLength(before + 3);
    expect(pages).toBeGreaterThan(3);
    const byName = await walk<{ id: string; name: string }>(
      '/api/v1/tokens?limit=2&sort=name&order=desc',
      'tokens',
    );
    const names = byName.items.map((t) => t.name);
    expect(names).toEqual([...names].sort().reverse());
    expect(new Set(byName.items.map((t) => t.id)).size).toBe(byName.items.length);
  });

  it("walks a tenant's drills newest first past the 100 the list used to stop at, older drills added between pages", async () => {
    const tenant = `${run}-t02`;
    // Ties on started_at (every 7th minute repeats): the id breaks them.
    await control.query(
      `insert into drills (kind, tenant_slug, stage_name, cluster, requested_by, started_at, ended_at, phase, outcome)
       select 'kill', $1, 'dev', $1 || '-c' || g, 'test', now() - (g % 7) * interval '1 minute', now(), 'done', 'passed'
       from generate_series(1, 105) g`,
      [tenant],
    );
    let added = 0;
    const { items } = await walk<{ id: string; startedAt: string }>(
      `/api/v1/drills?tenant=${tenant}&limit=40`,
      'drills',
      async () => {
        added += 1;
        // One newer (before the cursor: not shown) and one older (after it: shown) per page.
        await control.query(
          `insert into drills (kind, tenant_slug, stage_name, cluster, requested_by, started_at, ended_at, phase, outcome)
           values ('kill', $1, 'dev', $2, 'test', now() + interval '1 hour', now() + interval '1 hour', 'done', 'passed'),
                  ('kill', $1, 'dev', $3, 'test', now() - interval '1 day', now(), 'done', 'passed')`,
          [tenant, `${run}-new-${String(added)}`, `${run}-old-${String(added)}`],
        );
      },
    );
    // The last insert comes after the last page.
    expect(items).toHaveLength(105 + added - 1);
    expect(new Set(items.map((d) => d.id)).size).toBe(items.length);
    const keys = items.map((d) => [Date.parse(d.startedAt), Number(d.id)] as const);
    for (let i = 1; i < keys.length; i += 1) {
      const [[t0, id0], [t1, id1]] = [keys[i - 1]!, keys[i]!];
      expect(t1 < t0 || (t1 === t0 && id1 < id0)).toBe(true);
    }
    expect((await get('/api/v1/drills?tenant=nobody-here')).status).toBe(404);
  });

  it("walks a tenant's deployments past the 200 the list used to stop at, and one stage's", async () => {
    const tenant = `${run}-t03`;
    const {
      rows: [release],
    } = await control.query<{ id: string }>(
      `insert into releases (app, version, checksum, definition, path, size_bytes)
       values ($1, '1.0.0', 'c', $2, '/nonexistent', 0) returning id`,
      [`${run}-app`, definition],
    );
    await control.query(
      `insert into deployments (stage_id, release_id, status, actor)
       select s.id, $2, 'superseded', 'test' from stages s join tenants t on t.id = s.tenant_id, generate_series(1, 205)
       where t.slug = $1`,
      [tenant, release!.id],
    );
    const { items, pages } = await walk<{ id: string; stage: string }>(
      `/api/v1/tenants/${tenant}/deployments?limit=100`,
      'deployments',
    );
    expect(items).toHaveLength(205);
    expect(pages).toBe(3);
    const ids = items.map((d) => BigInt(d.id));
    for (let i = 1; i < ids.length; i += 1) expect(ids[i]! < ids[i - 1]!).toBe(true);
    const dev = await get(`/api/v1/tenants/${tenant}/deployments?stage=dev&limit=1`);
    expect(dev.body.deployments[0].stage).toBe('dev');
    expect((await get(`/api/v1/tenants/${tenant}/deployments?stage=prod`)).body.deployments).toEqual([]);
  });

  it("walks releases by app and by upload time, and a stage's exports newest first", async () => {
    const app = `${run}-rel`;
    await control.query(
      `insert into releases (app, version, checksum, definition, path, size_bytes, created_at)
       select $1 || (g % 2), '1.' || g, 'c', $2, '/nonexistent', 0, now() - (g % 3) * interval '1 hour'
       from generate_series(1, 9) g`,
      [
        app,
        JSON.stringify(
          appDefinitionSchema.parse({ name: 'demo', processes: { worker: { command: 'true' } } }),
        ),
      ],
    );
    const byApp = await walk<{ app: string; version: string }>(`/api/v1/releases?limit=4`, 'releases');
    const apps = byApp.items.map((r) => r.app);
    expect(apps).toEqual([...apps].sort());
    expect(byApp.items.filter((r) => r.app.startsWith(app))).toHaveLength(9);
    const one = await walk<{ app: string }>(
      `/api/v1/releases?app=${app}1&limit=2&sort=created&order=desc`,
      'releases',
    );
    expect(one.items.map((r) => r.app)).toEqual(Array(5).fill(`${app}1`));

    const tenant = `${run}-t04`;
    await control.query(
      `insert into logical_exports (id, tenant_id, tenant_slug, stage_name, path, key_kind, created_by, created_at)
       select gen_random_uuid(), t.id, t.slug, 'dev', '/nonexistent', 'x25519', 'test', now() - (g % 2) * interval '1 hour'
       from tenants t, generate_series(1, 7) g where t.slug = $1`,
      [tenant],
    );
    const exports = await walk<{ id: string; createdAt: string }>(
      `/api/v1/tenants/${tenant}/stages/dev/exports?limit=3`,
      'exports',
    );
    expect(exports.items).toHaveLength(7);
    expect(new Set(exports.items.map((e) => e.id)).size).toBe(7);
    const times = exports.items.map((e) => Date.parse(e.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect((await get(`/api/v1/tenants/${tenant}/exports?limit=500`)).body.exports).toHaveLength(7);
  });

  it.each([
    ['/api/v1/releases?sort=version', 'sort', ['version', 'app, created']],
    ['/api/v1/tokens?limit=0', 'limit', ['0', 'at least 1']],
    [`/api/v1/tenants/${run}-t03/deployments?order=sideways`, 'order', ['sideways', 'asc, desc']],
    [`/api/v1/tenants/${run}-t04/exports?sort=size`, 'sort', ['size', 'created']],
    ['/api/v1/drills?cursor=bm90LWEtY3Vyc29y', 'cursor', ['x-next-cursor']],
  ])('%s is a 400 naming %s', async (url, field, mentions) => {
    const res = await get(url);
    expect(res.status).toBe(400);
    expect(res.body.field).toBe(field);
    for (const m of mentions) expect(res.body.message).toContain(m);
  });
});
