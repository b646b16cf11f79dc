import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { TypedClient, type Transport } from '../../src/api/client/typed.ts';
import type { paths } from '../../src/api/client/schema.ts';
import { stagePhases } from '../../src/tenants/service.ts';

/**
 * Cursor pagination against a real Steward: pages of tenants (filtered,
 * sorted), alerts and audit events walked to the end while rows are inserted
 * between pages, none repeated or skipped; bad limit, cursor, sort and
 * filters are 400s that name the field.
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
  key: 'tenants' | 'alerts' | 'events',
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
