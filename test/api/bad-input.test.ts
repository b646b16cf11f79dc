import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { exportScheduleJobKind } from '../../src/backups/logical/index.ts';

/**
 * Bad input gets a 400 (404 for things that do not exist) that names the
 * field, the value and what would be accepted, and changes nothing: neither
 * the control database nor PostgreSQL's catalogs.
 */

interface Case {
  readonly name: string;
  readonly method?: string;
  /** Defaults to POST /api/v1/tenants; `{base}` is the tenant that exists. */
  readonly url?: string;
  readonly body?: unknown;
  readonly status?: number;
  readonly code?: string;
  readonly field: string;
  /** Every one of these must appear in the message: the value, and what is accepted. */
  readonly mentions: readonly string[];
}

const base = 'badin-base';
const tenantRule = 'lower-case a-z, digits and single hyphens';
const stageRule = 'lower-case a-z, digits and single hyphens, starting with a letter';

const badSlug = (name: string, slug: unknown, mentions: readonly string[] = [tenantRule]): Case => ({
  name,
  body: { slug, stages: ['dev'] },
  field: 'slug',
  mentions: [JSON.stringify(slug), ...mentions],
});

const cases: readonly Case[] = [
  {
    name: 'malformed JSON',
    body: '{"slug": "acme", "stages": ["dev"',
    field: 'body',
    mentions: ['not valid JSON'],
  },
  {
    name: 'JSON that is not an object',
    body: '["acme"]',
    field: 'body',
    mentions: ['must be an object', 'an array'],
  },
  {
    name: 'an unknown top-level field',
    body: { slug: 'acme', colour: 'red' },
    field: 'colour',
    mentions: ['"colour"', 'slug, displayName, region, tier, contacts, stages'],
  },
  {
    name: 'an unknown field inside a contact',
    body: { slug: 'acme', contacts: [{ name: 'Ann', email: 'ann@example.com', phone: '123' }] },
    field: 'contacts.0.phone',
    mentions: ['"contacts.0.phone"', 'name, email, role'],
  },
  {
    name: 'a contact with an email that is not one',
    body: { slug: 'acme', contacts: [{ name: 'Ann', email: 'ann at example' }] },
    field: 'contacts.0.email',
    mentions: ['"ann at example"', 'email'],
  },
  {
    name: 'a contact with an unknown role',
    body: { slug: 'acme', contacts: [{ name: 'Ann', email: 'ann@example.com', role: 'boss' }] },
    field: 'contacts.0.role',
    mentions: ['"boss"', 'technical, billing, security, privacy'],
  },
  badSlug('a slug that is too long', 'a'.repeat(41), ['1-40 characters']),
  badSlug('a slug with a semicolon', 'acme;drop'),
  badSlug('a slug with a single quote', "acme'x"),
  badSlug('a slug with a double quote', 'acme"x'),
  badSlug('a slug with a space', 'acme corp'),
  badSlug('a slug in upper case', 'Acme'),
  {
    // The message escapes the look-alike, so the reader can see why "acme" is refused.
    name: 'a slug with a Cyrillic look-alike',
    body: { slug: '\u0430cme', stages: ['dev'] },
    field: 'slug',
    mentions: ['"\\u0430cme"', tenantRule],
  },
  badSlug('a slug with a leading digit', '1acme'),
  badSlug('a slug with a leading hyphen', '-acme'),
  badSlug('a slug with a trailing hyphen', 'acme-'),
  badSlug('a slug with two hyphens in a row', 'xn--acme', ['two hyphens']),
  badSlug('an empty slug', ''),
  badSlug('a reserved slug (admin)', 'admin', ['reserved', 'www']),
  badSlug('a reserved slug (www)', 'www', ['reserved', 'admin']),
  {
    name: 'a slug that is a number',
    body: { slug: 42 },
    field: 'slug',
    mentions: ['must be a string', '42'],
  },
  {
    name: 'a missing slug',
    body: { stages: ['dev'] },
    field: 'slug',
    mentions: ['required', 'string'],
  },
  {
    name: 'a stage name in upper case',
    body: { slug: 'acme', stages: ['dev', 'Prod'] },
    field: 'stages.1',
    mentions: ['"Prod"', stageRule],
  },
  {
    name: 'a stage name with a semicolon',
    body: { slug: 'acme', stages: ['dev;drop'] },
    field: 'stages.0',
    mentions: ['"dev;drop"', stageRule],
  },
  {
    name: 'a stage name that is too long',
    body: { slug: 'acme', stages: ['s'.repeat(15)] },
    field: 'stages.0',
    mentions: [JSON.stringify('s'.repeat(15)), '1-14 characters'],
  },
  {
    name: 'a stage with two hyphens in a row',
    body: { slug: 'acme', stages: ['pre--prod'] },
    field: 'stages.0',
    mentions: ['"pre--prod"', stageRule],
  },
  {
    name: 'a stage listed twice',
    body: { slug: 'acme', stages: ['dev', 'prod', 'dev'] },
    field: 'stages',
    mentions: ['"dev"', 'twice', 'once'],
  },
  {
    name: 'no stages at all',
    body: { slug: 'acme', stages: [] },
    field: 'stages',
    mentions: ['at least 1'],
  },
  {
    name: 'stages as a string',
    body: { slug: 'acme', stages: 'dev,prod' },
    field: 'stages',
    mentions: ['must be an array', '"dev,prod"'],
  },
  {
    name: 'an unknown region',
    body: { slug: 'acme', region: 'mars-1' },
    field: 'region',
    mentions: ['"mars-1"', 'local'],
  },
  {
    name: 'an unknown tier',
    body: { slug: 'acme', tier: 'platinum' },
    field: 'tier',
    mentions: ['"platinum"', 'shared, dedicated, ha'],
  },
  {
    name: 'a tier this installation does not offer',
    body: { slug: 'acme', tier: 'ha' },
    field: 'tier',
    mentions: ['"ha"', 'shared, dedicated'],
  },
  {
    name: 'contacts as an object',
    body: { slug: 'acme', contacts: { name: 'Ann' } },
    field: 'contacts',
    mentions: ['must be an array', 'an object'],
  },
  {
    name: 'a display name that is not a string',
    body: { slug: 'acme', displayName: ['Acme'] },
    field: 'displayName',
    mentions: ['must be a string', 'an array'],
  },
  {
    name: 'an unknown tenant',
    method: 'GET',
    url: '/api/v1/tenants/no-such-tenant',
    status: 404,
    code: 'not_found',
    field: 'tenant',
    mentions: ['"no-such-tenant"', 'steward tenant list'],
  },
  {
    name: 'deleting an unknown tenant',
    method: 'DELETE',
    url: '/api/v1/tenants/no-such-tenant',
    status: 404,
    code: 'not_found',
    field: 'tenant',
    mentions: ['"no-such-tenant"'],
  },
  {
    name: 'adding a stage to an unknown tenant',
    url: '/api/v1/tenants/no-such-tenant/stages',
    body: { name: 'qa' },
    status: 404,
    code: 'not_found',
    field: 'tenant',
    mentions: ['"no-such-tenant"'],
  },
  {
    name: 'credentials of an unknown stage',
    method: 'GET',
    url: `/api/v1/tenants/{base}/stages/nosuch/credentials`,
    status: 404,
    code: 'not_found',
    field: 'stage',
    mentions: ['"nosuch"', 'dev, prod'],
  },
  {
    name: 'removing an unknown stage',
    method: 'DELETE',
    url: `/api/v1/tenants/{base}/stages/nosuch`,
    status: 404,
    code: 'not_found',
    field: 'stage',
    mentions: ['"nosuch"', 'dev, prod'],
  },
  {
    name: 'a malformed stage name in the path',
    method: 'DELETE',
    url: `/api/v1/tenants/{base}/stages/Dev%3Bx`,
    field: 'stage',
    mentions: ['"Dev;x"', stageRule],
  },
  {
    name: 'adding a stage in upper case',
    url: `/api/v1/tenants/{base}/stages`,
    body: { name: 'QA' },
    field: 'name',
    mentions: ['"QA"', stageRule],
  },
  {
    name: 'adding a stage with a quote',
    url: `/api/v1/tenants/{base}/stages`,
    body: { name: "qa'" },
    field: 'name',
    mentions: [`"qa'"`, stageRule],
  },
  {
    name: 'adding a stage with a space',
    url: `/api/v1/tenants/{base}/stages`,
    body: { name: 'q a' },
    field: 'name',
    mentions: ['"q a"', stageRule],
  },
  {
    name: 'adding a stage whose name is a number',
    url: `/api/v1/tenants/{base}/stages`,
    body: { name: 7 },
    field: 'name',
    mentions: ['must be a string', '7'],
  },
  {
    name: 'adding a stage with an unknown field',
    url: `/api/v1/tenants/{base}/stages`,
    body: { name: 'qa', size: 'large' },
    field: 'size',
    mentions: ['"size"', 'accepted fields are: name'],
  },
  {
    name: 'adding a stage with malformed JSON',
    url: `/api/v1/tenants/{base}/stages`,
    body: '{"name": qa}',
    field: 'body',
    mentions: ['not valid JSON'],
  },
  {
    name: 'adding a stage that exists',
    url: `/api/v1/tenants/{base}/stages`,
    body: { name: 'dev' },
    status: 409,
    code: 'conflict',
    field: 'name',
    mentions: [base, 'dev'],
  },
  {
    name: 'an export schedule that is not one',
    method: 'PUT',
    url: `/api/v1/tenants/{base}/backup-policy`,
    body: { exports: 'hourly' },
    field: 'exports',
    mentions: ['"hourly"', 'daily, weekly, off'],
  },
  {
    name: 'creating a tenant that exists',
    body: { slug: base, stages: ['qa'] },
    status: 409,
    code: 'conflict',
    field: 'slug',
    mentions: [base, 'already exists'],
  },
];

interface Snapshot {
  readonly counts: Record<string, number>;
  readonly tenants: unknown[];
  readonly stages: unknown[];
  readonly secrets: unknown[];
  readonly lastAudit: unknown[];
  readonly databases: string[];
  readonly roles: string[];
}

describe('bad input', () => {
  let t: TestSteward;
  let before: Snapshot;
  // The export schedule's sweeper is always queued (it comes back at least hourly): it is not work left to do.
  const notStanding = `kind <> '${exportScheduleJobKind}'`;

  async function snapshot(): Promise<Snapshot> {
    const control = (sql: string): Promise<Record<string, unknown>[]> => t.query(sql, [], t.controlDatabase);
    const counts: Record<string, number> = {};
    for (const table of ['tenants', 'stages', 'jobs', 'secrets', 'audit_events']) {
      const rows = await control(
        `select count(*)::int as n from ${table}${table === 'jobs' ? ` where ${notStanding}` : ''}`,
      );
      counts[table] = rows[0]?.n as number;
    }
    const pattern = `${t.prefix.replaceAll('_', '\\_')}%`;
    return {
      counts,
      tenants: await control(
        'select slug, display_name, region, tier, contacts, desired, updated_at from tenants order by slug',
      ),
      stages: await control(
        'select tenant_id, name, desired, phase, generation, database_name, updated_at from stages order by id',
      ),
      secrets: await control('select name, key_id, ciphertext, rotated_at from secrets order by name'),
      lastAudit: await control('select seq, action, hash from audit_events order by seq desc limit 1'),
      databases: (
        await t.query<{ name: string }>(
          'select datname as name from pg_database where datname like $1 order by 1',
          [pattern],
        )
      ).map((r) => r.name),
      roles: (
        await t.query<{ name: string }>(
          'select rolname as name from pg_roles where rolname like $1 order by 1',
          [pattern],
        )
      ).map((r) => r.name),
    };
  }

  /** Waits until the reconciler has nothing left to do, so a slipped-through request would show. */
  async function settle(): Promise<void> {
    await t.steward.resync();
    const deadline = Date.now() + 15_000;
    for (;;) {
      const rows = await t.query<{ n: number }>(
        `select count(*)::int as n from jobs where ${notStanding}`,
        [],
        t.controlDatabase,
      );
      if (rows[0]?.n === 0) return;
      if (Date.now() > deadline) throw new Error('jobs did not drain');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  beforeAll(async () => {
    // The ha tier switched off, for the case of a tier this installation does not offer.
    t = await startTestSteward({ config: { ha: { enabled: false } } });
    const created = await t.request('POST', '/api/v1/tenants', { slug: base, stages: ['dev', 'prod'] });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages(base);
    await settle();
    before = await snapshot();
  }, 60_000);

  afterAll(async () => {
    await t.close();
  });

  it('starts from a tenant whose stages exist in PostgreSQL', async () => {
    expect(before.counts.tenants).toBe(1);
    expect(before.counts.stages).toBe(2);
    expect(before.counts.jobs).toBe(0);
    expect(before.databases).toEqual([await t.database(base, 'dev'), await t.database(base, 'prod')].sort());
    expect(before.roles).toEqual(before.databases);
  });

  it.each(cases)('refuses $name', async (c) => {
    const url = (c.url ?? '/api/v1/tenants').replace('{base}', base);
    const res = await t.request(c.method ?? 'POST', url, c.body);
    expect(res.status, res.text).toBe(c.status ?? 400);
    expect(res.body, res.text).toBeTypeOf('object');
    expect(res.body.code).toBe(c.code ?? 'input');
    expect(res.body.field, res.text).toBe(c.field);
    expect(res.body.message).toBeTypeOf('string');
    for (const mention of c.mentions) expect(res.body.message, res.text).toContain(mention);
    expect(Object.keys(res.body as object).sort()).toEqual(['code', 'field', 'message']);
  });

  it('rejects a body that is not JSON at all', async () => {
    const res = await t.api.inject({
      method: 'POST',
      url: '/api/v1/tenants',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'slug=acme',
    });
    expect(res.statusCode, res.body).toBe(415);
    const body = JSON.parse(res.body) as { code: string; message: string; field?: string };
    expect(body.code).toBe('input');
    expect(body.field).toBe('body');
    expect(body.message).toContain('application/json');
  });

  it('changed nothing: not the control database, not the PostgreSQL catalogs', async () => {
    await settle();
    const after = await snapshot();
    expect(after).toEqual(before);
  });

  it('still accepts good input afterwards (the snapshot can see a change)', async () => {
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['dev'] });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages('acme');
    await settle();
    const after = await snapshot();
    expect(after.counts.tenants).toBe((before.counts.tenants ?? 0) + 1);
    expect(after.databases).toContain(await t.database('acme', 'dev'));
    expect(after).not.toEqual(before);
  });
});
