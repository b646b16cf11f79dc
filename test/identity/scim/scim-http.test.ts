import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserGone } from '../../../src/identity/directory/index.ts';
import { ensureCa } from '../../../src/tls/ca.ts';
import { serveStageFrom } from '../../dataplane/serve.ts';
import { apiCli } from '../../harness/api-cli.ts';
import { startTestSteward, type TestSteward } from '../../harness/steward.ts';
import { httpsFetch, startEchoBackend, within } from '../../gateway/support.ts';

const patchSchema = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const userSchema = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ent = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/**
 * SCIM 2.0 end to end: real HTTPS through the real HAProxy edge of a real
 * Steward, to the SCIM handler on each tenant's apex host, into the
 * control DB. One Steward for the file.
 */
describe('SCIM over HTTPS through HAProxy', () => {
  let t: TestSteward;
  let ca: string;
  let port: number;
  let acmeToken: string;
  let globexToken: string;
  const gone: UserGone[] = [];
  let echo: Awaited<ReturnType<typeof startEchoBackend>> | undefined;

  interface Res {
    status: number;
    body: any;
    headers: Record<string, string | string[] | undefined>;
  }
  async function scim(
    method: string,
    path: string,
    body?: unknown,
    o: { token?: string | null; host?: string; headers?: Record<string, string>; raw?: string } = {},
  ): Promise<Res> {
    const token = o.token === undefined ? acmeToken : o.token;
    const reply = await httpsFetch({
      port,
      host: o.host ?? 'acme.localhost',
      path: `/scim/v2${path}`,
      method,
      ca,
      headers: {
        // As clients send it: with the port (meta.location and Location are built from it).
        host: `${o.host ?? 'acme.localhost'}:${port}`,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined || o.raw !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...o.headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : o.raw !== undefined ? { body: o.raw } : {}),
    });
    let parsed: unknown;
    try {
      parsed = reply.body === '' ? undefined : JSON.parse(reply.body);
    } catch {
      parsed = reply.body;
    }
    return { status: reply.status, body: parsed, headers: reply.headers };
  }
  const user = (userName: string, extra: Record<string, unknown> = {}) =>
    scim('POST', '/Users', { schemas: [userSchema], userName, active: true, ...extra });
  const patch = (path: string, ...Operations: unknown[]) =>
    scim('PATCH', path, { schemas: [patchSchema], Operations });

  beforeAll(async () => {
    t = await startTestSteward({ gateway: true });
    for (const slug of ['acme', 'globex']) {
      const created = await t.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] });
      expect(created.status, created.text).toBe(201);
    }
    t.services.directory.onUserGone((event) => void gone.push(event));
    const issued = await t.request('POST', '/api/v1/tenants/acme/scim-tokens', { name: 'entra' });
    expect(issued.status, issued.text).toBe(201);
    acmeToken = issued.body.token;
    globexToken = (await t.request('POST', '/api/v1/tenants/globex/scim-tokens', {})).body.token;
    ca = (await ensureCa(t.dataDir)).certPem;
    const address = t.steward.gatewayAddress;
    if (!address) throw new Error('no data plane');
    port = address.port;
    expect(issued.body.url).toBe(`https://acme.localhost:${port}/scim/v2`);
    await Promise.all(['acme', 'globex'].map((s) => t.waitForStages(s, 'ready', 60_000)));
    // The apex host is routed (and has its certificate) once prod is served: here by an echo server as the app.
    echo = await startEchoBackend();
    for (const slug of ['acme', 'globex']) await serveStageFrom(t, slug, 'prod', echo.port);
    // The apex hosts' certificates are issued once their routes exist.
    for (const host of ['acme.localhost', 'globex.localhost']) {
      await within(
        30_000,
        async () =>
          (await scim('GET', '/ServiceProviderConfig', undefined, { host }).catch(() => undefined)) !==
          undefined,
        `a certificate for ${host}`,
      );
    }
  }, 120_000);
  afterAll(async () => {
    await echo?.close();
    await t?.close();
  });

  it("serves discovery to a token of the host's tenant only; refuses others with 401 in SCIM's error schema", async () => {
    const config = await scim('GET', '/ServiceProviderConfig');
    expect(config.status).toBe(200);
    expect(config.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(config.body).toMatchObject({
      patch: { supported: true },
      filter: { supported: true },
      etag: { supported: true },
    });
    expect((await scim('GET', '/Schemas')).body.totalResults).toBe(3);
    expect((await scim('GET', `/Schemas/${ent}`)).body.name).toBe('EnterpriseUser');
    expect((await scim('GET', '/ResourceTypes/User')).body.endpoint).toBe('/Users');

    for (const [token, host] of [
      [null, 'acme.localhost'],
      [globexToken, 'acme.localhost'],
      [acmeToken, 'globex.localhost'],
      [`${acmeToken.slice(0, -1)}x`, 'acme.localhost'],
      ['stw_not-a-scim-token', 'acme.localhost'],
    ] as const) {
      const refused = await scim('GET', '/Users', undefined, { token, host });
      expect(refused.status, `${host} ${String(token).slice(0, 8)}`).toBe(401);
      expect(refused.body).toMatchObject({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: '401',
      });
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="scim"');
    }
    // The stage host's /scim/v2 is the app's, not Steward's.
    const stageHost = await scim('GET', '/Users', undefined, { host: 'prod.acme.localhost' });
    expect(stageHost.status).toBe(200);
    expect(stageHost.body).toMatchObject({ method: 'GET', url: '/scim/v2/Users' });
  });

  it('creates users (409 uniqueness on a duplicate userName in any case), finds them by filters, pages stably', async () => {
    const ann = await user('Ann@Acme.example', {
      externalId: 'ext-ann',
      name: { givenName: 'Ann', familyName: 'Smith' },
      emails: [{ value: 'ann@acme.example', type: 'work', primary: true }],
      [ent]: { employeeNumber: '701984' },
    });
    expect(ann.status, JSON.stringify(ann.body)).toBe(201);
    expect(ann.headers.location).toBe(`https://acme.localhost:${port}/scim/v2/Users/${ann.body.id}`);
    expect(ann.headers.etag).toBe('W/"1"');
    expect(ann.body).toMatchObject({
      schemas: [userSchema, ent],
      userName: 'Ann@Acme.example',
      active: true,
      meta: { resourceType: 'User', version: 'W/"1"' },
    });

    const dup = await user('ann@ACME.example');
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ status: '409', scimType: 'uniqueness' });
    expect(dup.body.detail).toContain('userName');

    const q = (filter: string) => scim('GET', `/Users?filter=${encodeURIComponent(filter)}`);
    for (const filter of [
      'userName eq "ann@acme.EXAMPLE"',
      'userName eq ann@acme.example',
      'externalId eq "ext-ann"',
      'emails[type eq "work"].value eq "ANN@acme.example"',
      `${ent}:employeeNumber eq "701984"`,
      'name.givenName sw "an" and not (active eq false)',
    ]) {
      const found = await q(filter);
      expect(found.status, filter).toBe(200);
      expect(found.body.totalResults, filter).toBe(1);
      expect(found.body.Resources[0].id, filter).toBe(ann.body.id);
    }
    expect((await q('userName eq "nobody"')).body).toMatchObject({ totalResults: 0, Resources: [] });
    const bad = await q('userName eq');
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe('invalidFilter');
    const trimmed = await scim('GET', `/Users/${ann.body.id}?attributes=userName`);
    expect(Object.keys(trimmed.body).sort()).toEqual(['id', 'meta', 'schemas', 'userName']);

    // Pages by (created_at, id): a user created between two pages lands after them, none is seen twice.
    for (let i = 0; i < 7; i += 1) expect((await user(`page-${i}`)).status).toBe(201);
    const seen: string[] = [];
    for (let start = 1; start <= 8; start += 3) {
      const page = await scim('GET', `/Users?startIndex=${start}&count=3`);
      expect(page.body).toMatchObject({ startIndex: start, itemsPerPage: 3 });
      seen.push(...page.body.Resources.map((r: { userName: string }) => r.userName));
      if (start === 1) await user('late-comer');
    }
    expect(seen).toEqual([
      'Ann@Acme.example',
      ...Array.from({ length: 7 }, (_, i) => `page-${i}`),
      'late-comer',
    ]);
  });

  it("PATCHes users in Entra's dialect and the RFC's, PUTs them whole (Okta), checks If-Match", async () => {
    const id = (await user('bob@acme.example', { emails: [{ value: 'bob@acme.example', type: 'work' }] }))
      .body.id as string;
    const entra = await patch(
      `/Users/${id}`,
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'robert@acme.example' },
      {
        op: 'Add',
        value: { 'name.givenName': 'Robert', [`${ent}:manager`]: 'm-1', displayName: 'Robert B' },
      },
      { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' },
    );
    expect(entra.status, JSON.stringify(entra.body)).toBe(200);
    expect(entra.body).toMatchObject({
      name: { givenName: 'Robert' },
      displayName: 'Robert B',
      emails: [{ value: 'robert@acme.example', type: 'work' }],
      phoneNumbers: [{ type: 'mobile', value: '+1 555 0100' }],
      [ent]: { manager: { value: 'm-1' } },
      meta: { version: 'W/"2"' },
    });
    const rfc = await patch(
      `/Users/${id}`,
      { op: 'remove', path: 'phoneNumbers[type eq "mobile"]' },
      { op: 'replace', path: 'title', value: 'Eng' },
    );
    expect(rfc.body.phoneNumbers).toBeUndefined();
    expect(rfc.body.title).toBe('Eng');

    const stale = await scim(
      'PATCH',
      `/Users/${id}`,
      { schemas: [patchSchema], Operations: [{ op: 'replace', path: 'title', value: 'x' }] },
      { headers: { 'if-match': 'W/"1"' } },
    );
    expect(stale.status).toBe(412);
    const current = await scim('GET', `/Users/${id}`);
    expect(
      (
        await scim('GET', `/Users/${id}`, undefined, {
          headers: { 'if-none-match': current.headers.etag as string },
        })
      ).status,
    ).toBe(304);

    const put = await scim(
      'PUT',
      `/Users/${id}`,
      {
        schemas: [userSchema],
        id,
        userName: 'bob@acme.example',
        name: { givenName: 'Bob', familyName: 'Builder' },
        emails: [{ value: 'bob@acme.example', type: 'work', primary: true }],
        active: true,
      },
      { headers: { 'if-match': current.headers.etag as string } },
    );
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.title).toBeUndefined();
    expect(put.body[ent]).toBeUndefined();
    expect(put.body.name).toEqual({ givenName: 'Bob', familyName: 'Builder' });

    const badOp = await patch(`/Users/${id}`, { op: 'move', path: 'title' });
    expect(badOp).toMatchObject({ status: 400, body: { status: '400', scimType: 'invalidSyntax' } });
    const unchanged = await scim('GET', `/Users/${id}`);
    expect(unchanged.headers.etag).toBe(put.headers.etag);
  });

  it('groups: members by Entra value lists and RFC filters, concurrent PATCHes lose nothing; soft and hard delete', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1) ids.push((await user(`member-${i}`)).body.id as string);
    const group = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Engineering',
      members: [{ value: ids[0] }],
    });
    expect(group.status, JSON.stringify(group.body)).toBe(201);
    const gid = group.body.id as string;
    expect((await scim('POST', '/Groups', { displayName: 'engineering' })).body.scimType).toBe('uniqueness');

    // Ten PATCHes at once, each adding one member in Entra's dialect: every membership lands.
    const adds = await Promise.all(
      ids
        .slice(1, 11)
        .map((uid) =>
          patch(`/Groups/${gid}`, { op: 'Add', path: 'members', value: [{ $ref: null, value: uid }] }),
        ),
    );
    expect(adds.map((r) => r.status)).toEqual(Array(10).fill(204));
    let members = (await scim('GET', `/Groups/${gid}`)).body.members as { value: string }[];
    expect(new Set(members.map((m) => m.value))).toEqual(new Set(ids.slice(0, 11)));

    expect(
      (
        await patch(`/Groups/${gid}`, {
          op: 'Remove',
          path: 'members',
          value: [{ value: ids[1] }, { value: ids[2] }],
        })
      ).status,
    ).toBe(204);
    expect(
      (await patch(`/Groups/${gid}`, { op: 'remove', path: `members[value eq "${ids[3]}"]` })).status,
    ).toBe(204);
    expect(
      (await patch(`/Groups/${gid}`, { op: 'replace', value: { id: gid, displayName: 'Eng' } })).status,
    ).toBe(204);
    const filtered = await scim(
      'GET',
      `/Groups?filter=${encodeURIComponent(`displayName eq "eng" and members[value eq "${ids[4]}"]`)}&excludedAttributes=members`,
    );
    expect(filtered.body.totalResults).toBe(1);
    expect(filtered.body.Resources[0].members).toBeUndefined();
    members = (await scim('GET', `/Groups/${gid}`)).body.members;
    expect(members.map((m) => m.value).sort()).toEqual([ids[0], ...ids.slice(4, 11)].sort());
    // A bad PATCH among others sent at the same time (they share a transaction) fails only itself.
    const [unknown, good] = await Promise.all([
      patch(`/Groups/${gid}`, {
        op: 'Add',
        path: 'members',
        value: [{ value: '00000000-0000-4000-8000-000000000000' }],
      }),
      patch(`/Groups/${gid}`, { op: 'Add', path: 'members', value: [{ value: ids[11] }] }),
    ]);
    expect(unknown.status).toBe(400);
    expect(good.status).toBe(204);
    members = (await scim('GET', `/Groups/${gid}`)).body.members;
    expect(members.map((m) => m.value)).toContain(ids[11]);

    // active "False" (Entra): the user stays, with its memberships, and the Directory's listeners hear of it:
    // the user's edge session is revoked.
    const tenantId = await t.services.directory.tenantId('acme');
    const place = { tenantId, tenant: 'acme', stage: 'prod', host: 'acme.localhost', address: '127.0.0.1' };
    const session = await t.services.sessions.open(place, { kind: 'user', userId: ids[4] as string }, [
      'pwd',
    ]);
    expect(await t.services.sessions.isLive(session.sid)).toBe(true);
    const soft = await patch(`/Users/${ids[4]}`, { op: 'Replace', path: 'active', value: 'False' });
    expect(soft.body.active).toBe(false);
    expect(soft.body.groups).toEqual([expect.objectContaining({ value: gid, display: 'Eng' })]);
    expect(gone).toContainEqual({ kind: 'deactivated', tenantId: expect.any(String), userId: ids[4] });
    expect(await t.services.sessions.isLive(session.sid)).toBe(false);
    expect(
      (await scim('GET', `/Users?filter=${encodeURIComponent('active eq false')}`)).body.totalResults,
    ).toBe(1);

    const hard = await scim('DELETE', `/Users/${ids[5]}`);
    expect(hard.status).toBe(204);
    expect((await scim('GET', `/Users/${ids[5]}`)).status).toBe(404);
    expect(gone).toContainEqual({ kind: 'deleted', tenantId: expect.any(String), userId: ids[5] });
    members = (await scim('GET', `/Groups/${gid}`)).body.members;
    expect(members.map((m) => m.value)).not.toContain(ids[5]);
    expect((await scim('DELETE', `/Groups/${gid}`)).status).toBe(204);

    // Nothing of acme is visible with globex's token on globex's host.
    const other = await scim('GET', '/Users', undefined, { token: globexToken, host: 'globex.localhost' });
    expect(other.body.totalResults).toBe(0);
  });

  it('refuses oversized bodies (413) and other media types (415); audits writes as scim:<token name>; revocation locks out', async () => {
    const big = await scim('POST', '/Users', undefined, {
      raw: JSON.stringify({ userName: 'big', title: 'x'.repeat(1_100_000) }),
    });
    expect(big.status).toBe(413);
    const text = await scim('POST', '/Users', undefined, {
      raw: '{}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);

    const audit = await t.query<{ actor: string; action: string; tenant: string }>(
      "select actor, action, tenant from audit_events where action like 'scim.%' order by seq",
      [],
      t.controlDatabase,
    );
    expect(
      audit
        .filter((e) => e.action === 'scim.user.create')
        .every((e) => e.actor === 'scim:entra' && e.tenant === 'acme'),
    ).toBe(true);
    expect(audit.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        'scim.token.create',
        'scim.user.patch',
        'scim.group.patch',
        'scim.user.delete',
      ]),
    );
    expect(t.logs()).not.toContain(acmeToken.slice(5));

    const listed = await t.request('GET', '/api/v1/tenants/acme/scim-tokens');
    expect(listed.text).not.toContain(acmeToken.slice(5));
    const id = listed.body.tokens[0].id as string;
    expect(listed.body.tokens[0].lastUsedAt).not.toBeNull();
    expect((await t.request('DELETE', `/api/v1/tenants/acme/scim-tokens/${id}`)).status).toBe(200);
    expect((await scim('GET', '/Users')).status).toBe(401);
    const groups = await t.request('GET', '/api/v1/tenants/acme/groups');
    expect(groups.status).toBe(200);
    const badName = await t.request('POST', '/api/v1/tenants/acme/scim-tokens', { name: 'a/b' });
    expect(badName.status).toBe(400);
    expect(badName.body).toMatchObject({ field: 'name' });
    expect(badName.body.message).toContain('"a/b"');
    const noTenant = await t.request('POST', '/api/v1/tenants/nope/scim-tokens', {});
    expect(noTenant.status).toBe(404);
    expect((await t.request('GET', '/api/v1/tenants/acme/scim-tokens')).body.tokens).toHaveLength(1);
  });

  it('the CLI: scim token create prints the token once with the SCIM base URL; group list', async () => {
    const steward = await apiCli(t);
    const created = await steward(
      'scim',
      'token',
      'create',
      'acme',
      '--name',
      'okta',
      '--expires-days',
      '365',
    );
    expect(created.code, created.stderr).toBe(0);
    const token = /^(scim_[A-Za-z0-9_-]{43})$/m.exec(created.stdout)?.[1] ?? '';
    expect(created.stdout).toContain(`SCIM base URL: https://acme.localhost:${port}/scim/v2`);
    expect((await scim('GET', '/ServiceProviderConfig', undefined, { token })).status).toBe(200);
    await scim('POST', '/Groups', { displayName: 'Support', members: [] }, { token });
    const groups = await steward('group', 'list', 'acme');
    expect(groups.code, groups.stderr).toBe(0);
    expect(groups.stdout).toMatch(/Support\s+0\s+scim/);
    if (process.env.SCIM_PRINT_CLI)
      process.stdout.write(`${created.stdout.replace(token, 'scim_…')}\n${groups.stdout}`);
  });
});
