import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/system/exec.ts';
import type { LoginEvent, SignInPlace } from '../../../src/identity/contracts.ts';
import { openFlow, sealFlow } from '../../../src/identity/oidc/flow-cookie.ts';
import { directoryJoin, idpFetch, OidcService } from '../../../src/identity/oidc/index.ts';
import { openControlStore, type ControlStore } from '../../../src/store/db.ts';
import { startTestIdp, type TestIdp } from '../../harness/oidc-provider.ts';
import { silentLogger, startTestSteward, type TestSteward } from '../../harness/steward.ts';

/**
 * The OIDC flow against the real oidc-provider over HTTPS, without a browser:
 * begin, the IdP's redirects (its sign-in page answered by the harness), the
 * callback. Each refusal names its reason in the login log.
 */
const tidA = 'aaaaaaaa-1111-4111-8111-111111111111';
const tidB = 'bbbbbbbb-2222-4222-8222-222222222222';
const host = 'acme.test.example';
const redirectUri = `https://${host}/.steward/auth/callback`;
const secret = 'client-secret-9f8e7d6c5b4a';

let t: TestSteward;
let idp: TestIdp;
let store: ControlStore;
let oidc: OidcService;
let tenantId: string;
const events: LoginEvent[] = [];
const place = (): SignInPlace => ({ tenantId, tenant: 'acme', stage: 'prod', host, address: '192.0.2.7' });

beforeAll(async () => {
  [t, idp] = await Promise.all([
    startTestSteward({ workers: false }),
    startTestIdp({
      clients: [{ clientId: 'steward', clientSecret: secret, redirectUris: [redirectUri] }],
      tids: [tidA, tidB],
      accounts: [
        { id: 'ada', claims: { email: 'Ada@Acme.example', email_verified: true, name: 'Ada' } },
        { id: 'nobody', claims: { email: 'nobody@acme.example', email_verified: true } },
        { id: 'fresh', claims: { email: 'fresh@acme.example', email_verified: true, name: 'Fresh' } },
        { id: 'twice', claims: { email: 'twice@acme.example', email_verified: true } },
        { id: 'liar', claims: { email: 'ada@acme.example', email_verified: false } },
        { id: 'off', claims: { email: 'off@acme.example' } },
        {
          id: 'entra-a',
          claims: { preferred_username: 'ada@acme.example', tid: tidA, oid: tidA, groups: ['g1'] },
        },
        { id: 'entra-b', claims: { preferred_username: 'ada@acme.example', tid: tidB, oid: tidB } },
        {
          id: 'overage',
          claims: {
            preferred_username: 'ada@acme.example',
            tid: tidA,
            oid: '0c0c0c0c-0000-4000-8000-000000000001',
            _claim_names: { groups: 'src1' },
            _claim_sources: { src1: { endpoint: 'https://graph.windows.net/x/getMemberObjects' } },
          },
        },
      ],
      graphGroups: { '0c0c0c0c-0000-4000-8000-000000000001': ['g1', 'g2', 'g3'] },
    }),
  ]);
  store = openControlStore(t.controlUrl, { max: 2 });
  const created = await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
  expect(created.status).toBe(201);
  tenantId = (
    await store.db.selectFrom('tenants').select('id').where('slug', '=', 'acme').executeTakeFirstOrThrow()
  ).id;
  await store.db
    .insertInto('tenant_users')
    .values([
      { tenant_id: tenantId, user_name: 'ada@acme.example', email: 'ada@acme.example', source: 'scim' },
      {
        tenant_id: tenantId,
        user_name: 'off@acme.example',
        email: 'off@acme.example',
        source: 'scim',
        active: false,
      },
    ])
    .execute();
  oidc = new OidcService({
    store: t.services.oidc.store,
    directory: directoryJoin(t.services.directory),
    // The real login log (its table's limits apply), and the events as the test reads them.
    loginLog: {
      record: (event) => {
        events.push(event);
        return t.services.localUsers.log.record(event);
      },
    },
    keys: t.services.secrets.masterKeys(),
    fetch: idpFetch({ extraCaPem: idp.ca }),
    clock: { now: () => new Date() },
    logger: silentLogger,
  });
  const add = async (body: Record<string, unknown>): Promise<void> => {
    const res = await t.request('POST', '/api/v1/tenants/acme/identity/oidc', {
      clientId: 'steward',
      clientSecret: secret,
      ...body,
    });
    expect(res.status, res.text).toBe(201);
  };
  await add({ name: 'gen', kind: 'generic', issuer: idp.issuer });
  await add({ name: 'prov', kind: 'generic', issuer: idp.issuer, provision: true });
  await add({ name: 'pinned', kind: 'generic', issuer: `${idp.issuer}/` });
  await add({ name: 'multi', kind: 'entra', issuer: idp.entraCommon, allowedTids: [tidA] });
  await add({
    name: 'graph',
    kind: 'entra',
    issuer: idp.entraCommon,
    allowedTids: [tidA],
    graphUrl: idp.graphUrl,
  });
  await add({ name: 'single', kind: 'entra', issuer: idp.entraIssuer(tidA) });
}, 120_000);

afterAll(async () => {
  await idp?.close();
  await store?.close();
  await t?.close();
});

/** Follows the IdP's redirects (cookies kept) until it sends the browser back to the callback. */
async function atIdp(redirectTo: string, account: string): Promise<URL> {
  if (account === 'deny') idp.deny();
  else idp.login(account);
  const fetch = idpFetch({ extraCaPem: idp.ca });
  const jar = new Map<string, string>();
  let url = redirectTo;
  for (let hop = 0; hop < 12; hop++) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { method: 'GET', headers: cookie ? { cookie } : {} });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const location = res.headers.get('location');
    if (!location)
      throw new Error(`the IdP answered ${res.status} at ${url}: ${(await res.text()).slice(0, 300)}`);
    const next = new URL(location, url);
    if (next.href.startsWith(redirectUri)) return next;
    url = next.href;
  }
  throw new Error('too many redirects at the IdP');
}

async function signIn(connection: string, account: string) {
  const begun = await oidc.begin(place(), connection, '/after?x=1');
  const callback = await atIdp(begun.redirectTo, account);
  return { ...begun, callback, result: await oidc.complete(place(), callback, begun.flowCookie) };
}

const last = (): LoginEvent | undefined => events.at(-1);
const userId = async (userName: string): Promise<string> =>
  (
    await store.db
      .selectFrom('tenant_users')
      .select('id')
      .where('user_name', '=', userName)
      .executeTakeFirstOrThrow()
  ).id;

describe('OIDC sign-in against oidc-provider', () => {
  it('signs a directory user in by e-mail (any case), joins the subject, and finds it again after the e-mail changed', async () => {
    const { redirectTo, result } = await signIn('gen', 'ada');
    const auth = new URL(redirectTo);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('redirect_uri')).toBe(redirectUri);
    expect(auth.searchParams.get('nonce')).toBeTruthy();
    expect(result).toMatchObject({
      kind: 'signed-in',
      userId: await userId('ada@acme.example'),
      amr: ['oidc'],
    });
    expect(result.returnTo).toBe('/after?x=1');
    expect(last()).toMatchObject({ outcome: 'success', method: 'oidc', address: '192.0.2.7', stage: 'prod' });
    const linked = await store.db.selectFrom('user_identities').selectAll().execute();
    expect(linked).toMatchObject([{ issuer: idp.issuer, subject: 'ada' }]);
    await store.db.updateTable('tenant_users').set({ email: 'ada.new@acme.example' }).execute();
    try {
      expect((await signIn('gen', 'ada')).result.kind).toBe('signed-in');
    } finally {
      await store.db
        .updateTable('tenant_users')
        .set({ email: 'ada@acme.example' })
        .where('user_name', '=', 'ada@acme.example')
        .execute();
    }
  });

  it('refuses a bad state, a replayed callback, another host and a missing flow cookie', async () => {
    const begun = await oidc.begin(place(), 'gen', '/');
    const callback = await atIdp(begun.redirectTo, 'ada');
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged');
    expect(await oidc.complete(place(), forged, begun.flowCookie)).toMatchObject({
      kind: 'refused',
      reason: 'bad_request',
    });
    expect(last()?.detail).toMatch(/state does not match/);
    expect(
      await oidc.complete({ ...place(), host: 'evil.example' }, callback, begun.flowCookie),
    ).toMatchObject({
      reason: 'bad_request',
    });
    expect(last()?.detail).toMatch(/another host/);
    expect(await oidc.complete(place(), callback, undefined)).toMatchObject({ reason: 'bad_request' });
    expect((await oidc.complete(place(), callback, begun.flowCookie)).kind).toBe('signed-in');
    expect(await oidc.complete(place(), callback, begun.flowCookie)).toMatchObject({ reason: 'bad_request' });
    expect(last()?.detail).toMatch(/replayed/);
  });

  it('refuses an ID token whose nonce is not the flow’s', async () => {
    const begun = await oidc.begin(place(), 'gen', '/');
    const keys = t.services.secrets.masterKeys();
    const opened = openFlow(keys, begun.flowCookie, Math.floor(Date.now() / 1000));
    if (!opened.ok) throw new Error(opened.detail);
    const swapped = sealFlow(keys, { ...opened.flow, nonce: 'another-nonce' });
    const callback = await atIdp(begun.redirectTo, 'ada');
    expect(await oidc.complete(place(), callback, swapped)).toMatchObject({
      kind: 'refused',
      reason: 'idp_error',
    });
    expect(last()?.detail).toMatch(/nonce/);
  });

  it("records the IdP's error code, an unknown user, an unverified e-mail and an inactive user", async () => {
    expect((await signIn('gen', 'deny')).result).toMatchObject({ reason: 'idp_error' });
    expect(last()?.detail).toMatch(/access_denied/);
    expect((await signIn('gen', 'nobody')).result).toMatchObject({ reason: 'not_allowed' });
    expect(last()).toMatchObject({ userName: 'nobody@acme.example', reason: 'not_allowed' });
    expect((await signIn('gen', 'liar')).result).toMatchObject({ reason: 'not_allowed' });
    expect(last()?.detail).toMatch(/not verified/);
    expect((await signIn('gen', 'off')).result).toMatchObject({ reason: 'inactive' });
  });

  it('provisions an unknown user of source oidc when the connection says so', async () => {
    const { result } = await signIn('prov', 'fresh');
    expect(result.kind).toBe('signed-in');
    const row = await store.db
      .selectFrom('tenant_users')
      .selectAll()
      .where('user_name', '=', 'fresh@acme.example')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ source: 'oidc', email: 'fresh@acme.example', display_name: 'Fresh' });
  });

  it('provisioning that loses a race to another first sign-in takes the user the other one made', async () => {
    const real = directoryJoin(t.services.directory);
    const racing = new OidcService({
      store: t.services.oidc.store,
      // The other sign-in provisions first; this one's insert then meets the unique userName.
      directory: {
        ...real,
        provision: async (id, fields) => (await real.provision(id, fields), real.provision(id, fields)),
      },
      loginLog: {
        record: (event) => {
          events.push(event);
          return t.services.localUsers.log.record(event);
        },
      },
      keys: t.services.secrets.masterKeys(),
      fetch: idpFetch({ extraCaPem: idp.ca }),
      clock: { now: () => new Date() },
      logger: silentLogger,
    });
    const begun = await racing.begin(place(), 'prov', '/');
    const result = await racing.complete(place(), await atIdp(begun.redirectTo, 'twice'), begun.flowCookie);
    expect(result).toMatchObject({ kind: 'signed-in', userId: await userId('twice@acme.example') });
  });

  it('pins the issuer exactly: discovery naming another one refuses the sign-in', async () => {
    await expect(oidc.begin(place(), 'pinned', '/')).rejects.toThrow(/discovery names issuer .* pins/);
    expect(last()).toMatchObject({ reason: 'idp_error', outcome: 'failure' });
  });

  it('Entra multi-tenant: an allowed tid signs in, another directory is refused; single-tenant pins its tid', async () => {
    expect((await signIn('multi', 'entra-a')).result.kind).toBe('signed-in');
    expect(last()?.detail).toMatch(/1 groups from the IdP/);
    expect((await signIn('multi', 'entra-b')).result).toMatchObject({ reason: 'not_allowed' });
    expect(last()?.detail).toContain(`tid ${tidB} is not in the connection's allowed tenant ids`);
    expect((await signIn('single', 'entra-a')).result.kind).toBe('signed-in');
  });

  it('Entra groups overage: reported without Graph, resolved through Graph when configured', async () => {
    expect((await signIn('multi', 'overage')).result.kind).toBe('signed-in');
    expect(last()?.detail).toMatch(/groups overage: .*Microsoft Graph is not configured/);
    const before = idp.graphCalls();
    expect((await signIn('graph', 'overage')).result.kind).toBe('signed-in');
    expect(last()?.detail).toMatch(/groups overage: 3 groups from Microsoft Graph/);
    expect(idp.graphCalls()).toBeGreaterThan(before);
  });

  it('caches discovery, reads it again after its TTL, and serves the cached copy while the IdP is down', async () => {
    let now = Date.now();
    let discoveries = 0;
    let down = false;
    const real = idpFetch({ extraCaPem: idp.ca });
    const cached = new OidcService({
      store: t.services.oidc.store,
      directory: directoryJoin(t.services.directory),
      loginLog: { record: () => Promise.resolve() },
      keys: t.services.secrets.masterKeys(),
      fetch: (url, init) => {
        if (url.endsWith('/.well-known/openid-configuration')) discoveries += 1;
        return down ? Promise.reject(new Error('connect ECONNREFUSED')) : real(url, init);
      },
      clock: { now: () => new Date(now) },
      logger: silentLogger,
      discoveryTtlMs: 60_000,
    });
    await cached.begin(place(), 'gen', '/');
    await cached.begin(place(), 'gen', '/');
    expect(discoveries).toBe(1);
    now += 61_000;
    await cached.begin(place(), 'gen', '/');
    expect(discoveries).toBe(2);
    now += 61_000;
    down = true;
    await expect(cached.begin(place(), 'gen', '/')).resolves.toHaveProperty('redirectTo');
    expect(discoveries).toBe(3);
  });

  it('refuses a multi-tenant Entra connection without an allow-list, naming the field, and stores nothing', async () => {
    const res = await t.request('POST', '/api/v1/tenants/acme/identity/oidc', {
      name: 'anyone',
      kind: 'entra',
      issuer: 'https://login.microsoftonline.com/organizations/v2.0',
      clientId: 'c',
      clientSecret: 's',
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      field: 'allowedTids',
      message: expect.stringMatching(/"any tenant" is never accepted/),
    });
    const removed = await t.request('DELETE', '/api/v1/tenants/acme/identity/oidc/anyone');
    expect(removed.status).toBe(404);
  });

  it('CLI: identity set … --oidc (secret from stdin), identity oidc list -o json, remove', async () => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: t.dataDir,
      STEWARD_API_URL: await t.steward.start(),
      STEWARD_TOKEN: t.token,
    };
    const steward = (args: string[], input?: string) =>
      run(resolve(import.meta.dirname, '../../../bin/steward'), args, { env, ...(input ? { input } : {}) });
    const tid = 'cccccccc-3333-4333-8333-333333333333';
    const added = await steward(
      [
        'identity',
        'set',
        'acme',
        'prod',
        '--sign-in',
        'optional',
        '--oidc',
        'cli',
        '--kind',
        'entra',
        '--issuer',
        'https://login.microsoftonline.com/organizations/v2.0',
        '--client-id',
        'app-1',
        '--client-secret-stdin',
        '--allowed-tid',
        tid,
      ],
      'cli-secret-0123\n',
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/prod +optional/);
    expect(added.stdout).toMatch(/cli +entra +https:\/\/login\.microsoftonline\.com\/organizations\/v2\.0/);
    const listed = await steward(['identity', 'oidc', 'list', 'acme', '-o', 'json']);
    const cli = (JSON.parse(listed.stdout) as { name: string; allowedTids: string[] }[]).find(
      (c) => c.name === 'cli',
    );
    expect(cli?.allowedTids).toEqual([tid]);
    expect(listed.stdout).not.toContain('cli-secret-0123');
    expect((await steward(['identity', 'oidc', 'remove', 'acme', 'cli'])).stdout).toBe(
      'removed OIDC connection cli\n',
    );
  });

  it('keeps the client secret out of the API, the login log and the logs', async () => {
    const list = await t.request('GET', '/api/v1/tenants/acme/identity/oidc');
    expect(list.status).toBe(200);
    expect(list.body.connections).toHaveLength(6);
    expect(list.text).not.toContain(secret);
    expect(JSON.stringify(events)).not.toContain(secret);
    expect(t.logs()).not.toContain(secret);
    expect(JSON.stringify(events)).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
    const logged = await store.db
      .selectFrom('login_events')
      .select(['method', 'outcome', 'reason'])
      .execute();
    expect(logged.length).toBe(events.length);
    expect(logged.filter((e) => e.outcome === 'failure').map((e) => e.reason)).toContain('not_allowed');
  });
});
