import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCli } from '../../harness/api-cli.ts';
import { startTestSteward, type TestSteward } from '../../harness/steward.ts';

/**
 * Groups to app roles against a real Steward and its control database: set
 * (once, whatever the case of the group), list per stage, remove, the
 * resolver sessions ask, audit events, refusals that name the field and
 * change nothing, another tenant's mappings kept apart, and the CLI.
 */
let t: TestSteward;
const base = '/api/v1/tenants/acme/identity/roles';
const tenantId = async (slug: string): Promise<string> =>
  (
    await t.query<{ id: string }>('select id::text from tenants where slug = $1', [slug], t.controlDatabase)
  )[0]!.id;
const count = async (): Promise<number> =>
  (await t.query<{ n: number }>('select count(*)::int as n from role_mappings', [], t.controlDatabase))[0]!.n;
const auditCount = async (): Promise<number> =>
  (
    await t.query<{ n: number }>(
      "select count(*)::int as n from audit_events where action like 'identity.role.%'",
      [],
      t.controlDatabase,
    )
  )[0]!.n;

beforeAll(async () => {
  t = await startTestSteward({ workers: false });
  for (const slug of ['acme', 'globex']) {
    const created = await t.request('POST', '/api/v1/tenants', { slug, stages: ['dev', 'prod'] });
    expect(created.status, created.text).toBe(201);
  }
});

afterAll(async () => {
  await t?.close();
});

describe('role mappings', () => {
  it('sets a mapping once whatever the case of the group, and audits it', async () => {
    const first = await t.request('POST', base, { stage: 'prod', group: 'Finance', role: 'finance.write' });
    expect(first.status, first.text).toBe(201);
    expect(first.body).toMatchObject({
      tenant: 'acme',
      stage: 'prod',
      group: 'Finance',
      role: 'finance.write',
      createdBy: 'operator:admin',
      created: true,
      groupKnown: false,
    });
    const again = await t.request('POST', base, { stage: 'prod', group: 'FINANCE', role: 'finance.write' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, group: 'Finance', created: false });
    expect((await t.request('POST', base, { group: 'finance', role: 'finance.read' })).status).toBe(201);
    expect((await t.request('POST', base, { stage: 'dev', group: 'Developers', role: 'admin' })).status).toBe(
      201,
    );
    expect((await t.request('POST', base, { group: 'Auditors', role: 'finance.read' })).status).toBe(201);
    const events = await t.request('GET', '/api/v1/audit?tenant=acme&action=identity.role.set');
    expect(events.body.events).toHaveLength(4);
    expect(events.body.events[0]).toMatchObject({
      actor: 'operator:admin',
      details: { stage: 'prod', group: 'Finance', role: 'finance.write' },
    });
  });

  it('lists all mappings, or those that apply on a stage, saying which groups the directory has', async () => {
    await t.services.directory.createGroup(await tenantId('acme'), { displayName: 'FINANCE' }, 'scim');
    const all = await t.request('GET', base);
    expect(all.body.mappings.map((m: any) => [m.stage, m.group, m.role, m.groupKnown])).toEqual([
      [null, 'Auditors', 'finance.read', false],
      [null, 'finance', 'finance.read', true],
      ['dev', 'Developers', 'admin', false],
      ['prod', 'Finance', 'finance.write', true],
    ]);
    const prod = await t.request('GET', `${base}?stage=prod`);
    expect(prod.body.mappings.map((m: any) => m.role)).toEqual([
      'finance.read',
      'finance.read',
      'finance.write',
    ]);
  });

  it('resolves roles per stage for the sessions, and keeps tenants apart', async () => {
    const acme = await tenantId('acme');
    const globex = await tenantId('globex');
    expect(await t.services.roles.rolesOf(acme, 'prod', ['finance', 'Sales'])).toEqual([
      'finance.read',
      'finance.write',
    ]);
    expect(await t.services.roles.rolesOf(acme, 'dev', ['FINANCE', 'developers'])).toEqual([
      'admin',
      'finance.read',
    ]);
    expect(await t.services.roles.rolesOf(acme, 'prod', [])).toEqual([]);
    expect(await t.services.roles.rolesOf(globex, 'prod', ['Finance', 'Developers', 'Auditors'])).toEqual([]);
    expect((await t.request('GET', '/api/v1/tenants/globex/identity/roles')).body.mappings).toEqual([]);
  });

  it('refuses bad input naming the field and the value, and changes nothing', async () => {
    const before = { mappings: await count(), events: await auditCount() };
    const cases: [string, string, unknown, number, string, RegExp][] = [
      [
        'POST',
        base,
        { group: 'Finance', role: 'finance write' },
        400,
        'role',
        /"finance write" is not a role name/,
      ],
      ['POST', base, { group: 'Fin\u0000ance', role: 'x' }, 400, 'group', /is not a group name/],
      ['POST', base, { group: '  ', role: 'x' }, 400, 'group', /1 to 256 characters/],
      ['POST', base, { group: 'Finance' }, 400, 'role', /required/],
      ['POST', base, { group: 'Finance', role: 'x', roles: ['y'] }, 400, 'roles', /unknown field "roles"/],
      [
        'POST',
        base,
        { stage: 'staging', group: 'Finance', role: 'x' },
        404,
        'stage',
        /no stage "staging"; its stages are: dev, prod/,
      ],
      [
        'POST',
        '/api/v1/tenants/initech/identity/roles',
        { group: 'Finance', role: 'x' },
        404,
        'tenant',
        /initech/,
      ],
      [
        'DELETE',
        `${base}?group=Finance&role=nope`,
        undefined,
        404,
        'role',
        /no role "nope" on all stages; its mappings of that group are: finance.read \(all stages\), finance.write \(prod\)/,
      ],
      ['DELETE', `${base}?stage=dev&group=Finance`, undefined, 404, 'group', /no role on stage dev/],
      ['DELETE', `${base}?group=Finance&role=a%20b`, undefined, 400, 'role', /is not a role name/],
    ];
    for (const [method, url, body, status, field, message] of cases) {
      const res = await t.request(method, url, body);
      expect(res.status, `${method} ${url} ${res.text}`).toBe(status);
      expect(res.body.field, res.text).toBe(field);
      expect(res.body.message, res.text).toMatch(message);
    }
    expect({ mappings: await count(), events: await auditCount() }).toEqual(before);
  });

  it('removes one role of a group, or all of them, on exactly that stage; audited', async () => {
    const one = await t.request('DELETE', `${base}?stage=prod&group=FINANCE&role=finance.write`);
    expect(one.status, one.text).toBe(200);
    expect(one.body).toEqual({ removed: ['finance.write'] });
    expect((await t.request('POST', base, { group: 'Auditors', role: 'audit' })).status).toBe(201);
    const all = await t.request('DELETE', `${base}?group=auditors`);
    expect(all.body).toEqual({ removed: ['audit', 'finance.read'] });
    expect(await t.services.roles.rolesOf(await tenantId('acme'), 'prod', ['Auditors', 'Finance'])).toEqual([
      'finance.read',
    ]);
    const removed = await t.request('GET', '/api/v1/audit?tenant=acme&action=identity.role.remove');
    expect(removed.body.events.map((e: any) => e.details)).toEqual([
      { stage: 'prod', group: 'FINANCE', roles: ['finance.write'] },
      { stage: null, group: 'auditors', roles: ['audit', 'finance.read'] },
    ]);
  });

  it('holds a tenant to 200 mappings', async () => {
    const acme = await tenantId('acme');
    const have = (
      await t.query<{ n: number }>(
        'select count(*)::int as n from role_mappings where tenant_id = $1',
        [acme],
        t.controlDatabase,
      )
    )[0]!.n;
    await t.query(
      `insert into role_mappings (tenant_id, group_name, group_key, role, created_by)
       select $1, 'bulk ' || g, 'bulk ' || g, 'r', 'test' from generate_series(1, $2::int) g`,
      [acme, 200 - have],
      t.controlDatabase,
    );
    const over = await t.request('POST', base, { group: 'One more', role: 'r' });
    expect(over.status, over.text).toBe(409);
    expect(over.body.message).toContain('has 200 role mappings, the most it may have');
    expect(
      (await t.request('POST', '/api/v1/tenants/globex/identity/roles', { group: 'One more', role: 'r' }))
        .status,
    ).toBe(201);
    await t.query("delete from role_mappings where created_by = 'test'", [], t.controlDatabase);
  });

  it('is served by the CLI: identity roles set, list, remove', async () => {
    const cli = await apiCli(t);
    const set = await cli(
      'identity',
      'roles',
      'set',
      'acme',
      'prod',
      '--group',
      'Ledger Admins',
      '--role',
      'admin',
    );
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe(
      'mapped group "Ledger Admins" to role admin on stage prod of acme\n' +
        `note: acme's directory has no group "Ledger Admins" (yet)\n`,
    );
    const listed = await cli('identity', 'roles', 'list', 'acme', 'prod');
    expect(listed.stdout).toMatch(/prod\s+Ledger Admins\s+admin\s+no\s+operator:admin/);
    const removed = await cli('identity', 'roles', 'remove', 'acme', 'prod', '--group', 'ledger admins');
    expect(removed.stdout).toBe('removed role admin of group "ledger admins" on stage prod of acme\n');
    process.stdout.write(
      `\n$ steward identity roles set acme prod --group 'Ledger Admins' --role admin\n${set.stdout}` +
        `$ steward identity roles list acme prod\n${listed.stdout}` +
        `$ steward identity roles remove acme prod --group 'ledger admins'\n${removed.stdout}`,
    );
  });
});
