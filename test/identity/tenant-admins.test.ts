import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/identity/credentials.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { startMailServer, type MailServer } from '../notifications/receivers.ts';
import { addOperator, login, send, tokenFor, uniqueAddress } from './helpers.ts';

/**
 * Tenant admins (issue 13 part 6): invited by an operator through a real SMTP
 * server, they accept with the mailed single-use code, set a password, enrol
 * TOTP, and may then call only their own tenant's routes marked for them. The
 * all-endpoints sweep takes every route from the OpenAPI document, so a route
 * added later is covered without touching this file.
 */
const smtpUser = 'steward-mailer';
const smtpPassword = 'smtp-password-not-in-logs';
const suffix = Math.random().toString(36).slice(2, 7);
const tenantA = `ta${suffix}`;
const tenantB = `tb${suffix}`;
const adminA = `it-${suffix}@a.example`;
const adminB = `it-${suffix}@b.example`;

let t: TestSteward;
let mail: MailServer;

/** An invited admin, through the mail: accept, then enrol TOTP. Returns its token and TOTP secret. */
async function onboard(
  tenant: string,
  email: string,
): Promise<{ token: string; secret: string; password: string }> {
  const invited = await t.request('POST', `/api/v1/tenants/${tenant}/admins`, { email });
  expect(invited.status, invited.text).toBe(201);
  expect(invited.body).toMatchObject({ email, tenant, status: 'invited', mfa: false });
  expect(invited.text).not.toMatch(/sti_/);
  const code = await mailedCode(email);
  const password = `${email}-chosen-password`;
  const accepted = await send(t, 'POST', '/api/v1/auth/tenant-admin/accept', {
    body: { token: code, password },
    token: null,
    address: uniqueAddress(),
  });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
  expect(accepted.body).toMatchObject({ role: 'tenant-admin', tenant, kind: 'session' });
  const token = accepted.body.token as string;
  // Good once.
  const again = await send(t, 'POST', '/api/v1/auth/tenant-admin/accept', {
    body: { token: code, password: 'another-password-123' },
    token: null,
  });
  expect(again.status).toBe(401);
  // Before TOTP: its own account only.
  const early = await t.request('GET', `/api/v1/tenants/${tenant}/admins`, undefined, token);
  expect(early.status).toBe(403);
  expect(early.body.message).toMatch(/enrol MFA first/);
  const enrolled = await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, token);
  expect(enrolled.status, enrolled.text).toBe(200);
  const secret = enrolled.body.secret as string;
  const verified = await t.request(
    'POST',
    '/api/v1/auth/mfa/verify',
    { code: await totpCode(secret, new Date()) },
    token,
  );
  expect(verified.status, verified.text).toBe(200);
  return { token, secret, password };
}

async function mailedCode(email: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await t.services.notifications.pass();
    const found = mail.mails.find((m) => m.to.includes(email));
    if (found) {
      const code = /sti_[A-Za-z0-9_-]{43}/.exec(found.raw.replace(/=\r?\n/g, ''))?.[0];
      if (!code) throw new Error(`no invitation code in the mail: ${found.raw}`);
      return code;
    }
    if (Date.now() > deadline) throw new Error(`no invitation mail to ${email}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every table of the control database, each as a digest of its rows: a refused request changes none. */
async function snapshot(): Promise<Map<string, string>> {
  // Volatile by design: the audit log, token use times, throttle counters, the job queue's timers, node heartbeats.
  const skip = new Set([
    'audit_events',
    'api_tokens',
    'login_failures',
    'operator_login_failures',
    'jobs',
    'nodes',
  ]);
  const tables = await t.query<{ name: string }>(
    "select tablename as name from pg_tables where schemaname = 'public' order by 1",
    [],
    t.controlDatabase,
  );
  // One statement: a digest per table.
  const digests = tables
    .filter(({ name }) => !skip.has(name))
    .map(
      ({ name }) =>
        `select '${name}' as name, (select md5(string_agg(x::text, '|' order by x::text)) from "${name}" x) as d`,
    );
  const rows = await t.query<{ name: string; d: string | null }>(
    digests.join(' union all '),
    [],
    t.controlDatabase,
  );
  const out = new Map<string, string>();
  for (const row of rows) out.set(row.name, row.d ?? '');
  return out;
}

interface ApiRoute {
  readonly method: string;
  readonly path: string;
  /** The route says a tenant admin may call it (x-tenant-admin, from RouteSpec.tenantAdmin). */
  readonly tenantAdmin: boolean;
}

function routesOf(doc: {
  paths: Record<string, Record<string, { 'x-tenant-admin'?: boolean }>>;
}): ApiRoute[] {
  const out: ApiRoute[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) {
        out.push({ method: method.toUpperCase(), path, tenantAdmin: operation['x-tenant-admin'] === true });
      }
    }
  }
  return out;
}

beforeAll(async () => {
  mail = await startMailServer({ user: smtpUser, password: smtpPassword });
  t = await startTestSteward({
    workers: false,
    config: {
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'steward@example.com' },
        timeoutSeconds: 2,
      },
    },
  });
  await t.services.notifications.keepSmtpCredentials(smtpUser, smtpPassword);
  for (const slug of [tenantA, tenantB]) {
    const created = await t.request('POST', '/api/v1/tenants', { slug, stages: ['test', 'prod'] });
    expect(created.status, created.text).toBe(201);
  }
});

afterAll(async () => {
  await t?.close();
  await mail?.close();
});

describe('tenant admins', () => {
  let a: { token: string; secret: string; password: string };

  beforeAll(async () => {
    a = await onboard(tenantA, adminA);
    await onboard(tenantB, adminB);
  });

  it('mails the invitation through the outbox, and signs in like an operator: password, TOTP, a scoped principal', async () => {
    const invite = mail.mails.find((m) => m.to.includes(adminA));
    expect(invite?.header('subject')).toContain(`administer ${tenantA}`);
    const noCode = await login(t, { username: adminA, password: a.password }, uniqueAddress());
    expect(noCode.status).toBe(401);
    expect(noCode.body.message).toMatch(/MFA/);
    // The next step's code: the one used for enrolment is spent.
    const code = await totpCode(a.secret, new Date(Date.now() + 30_000));
    const signedIn = await login(t, { username: adminA, password: a.password, totp: code }, uniqueAddress());
    expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(200);
    const who = await t.request('GET', '/api/v1/auth/whoami', undefined, signedIn.body.token as string);
    expect(who.body).toMatchObject({ username: adminA, role: 'tenant-admin', tenant: tenantA, mfa: true });
  });

  it('is listed with its tenant, never among the operators, and an operator may not invite an address already in use', async () => {
    const admins = await t.request('GET', `/api/v1/tenants/${tenantA}/admins`, undefined, a.token);
    expect(admins.status).toBe(200);
    expect(admins.body.admins).toEqual([
      expect.objectContaining({ email: adminA, status: 'active', mfa: true }),
    ]);
    const operators = await t.request('GET', '/api/v1/operators');
    expect(operators.body.operators.map((o: { username: string }) => o.username)).not.toContain(adminA);
    const taken = await t.request('POST', `/api/v1/tenants/${tenantB}/admins`, { email: adminA });
    expect(taken.status).toBe(409);
    expect(taken.body.field).toBe('email');
    const bad = await t.request('POST', `/api/v1/tenants/${tenantA}/admins`, { email: 'not-an-address' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/field "email": "not-an-address" is not an email address/);
  });

  it("refuses every route but its own tenant's marked ones: never a 2xx against tenant B or Steward, and nothing changes", async () => {
    const doc = (await t.request('GET', '/api/openapi.json', undefined, null)).body;
    const all = routesOf(doc);
    expect(all.length).toBeGreaterThan(100);
    const accountRoutes = new Set([
      'GET /api/v1/auth/whoami',
      'POST /api/v1/auth/password',
      'POST /api/v1/auth/mfa/enroll',
      'POST /api/v1/auth/mfa/verify',
      'GET /api/v1/tokens',
      'POST /api/v1/tokens',
      'DELETE /api/v1/tokens/{id}',
      // The console's session (its own sign-in); logout would end this admin's token.
      'GET /api/v1/console/session',
      'POST /api/v1/console/logout',
      // Its own tenant's live updates (a stream that stays open: test/events/events.test.ts).
      'GET /api/v1/events',
      // Public: anyone may try them; they give nothing without a password or an invitation code.
      'POST /api/v1/auth/login',
      'POST /api/v1/console/login',
      'POST /api/v1/auth/tenant-admin/accept',
      'GET /api/v1/health',
    ]);
    const fill = (path: string, tenant: string): string =>
      path
        .replaceAll('{tenant}', tenant)
        .replaceAll('{slug}', tenant)
        .replaceAll('{stage}', 'prod')
        .replaceAll('{email}', encodeURIComponent(tenant === tenantB ? adminB : adminA))
        .replace(/\{[a-z]+\}/gi, '1');
    const before = await snapshot();
    const leaks: string[] = [];
    for (const r of all) {
      if (accountRoutes.has(`${r.method} ${r.path}`) || r.path.startsWith('/metrics')) continue;
      const url = fill(r.path, tenantB);
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
      const res = await t.request(r.method, url, body, a.token);
      if (res.status !== 403) leaks.push(`${r.method} ${url}: ${res.status} ${res.text.slice(0, 120)}`);
    }
    expect(leaks).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it("allows its own tenant's marked routes, and refuses the rest of its own tenant's", async () => {
    const doc = (await t.request('GET', '/api/openapi.json', undefined, null)).body;
    const own = routesOf(doc).filter((r) => r.path.includes('{tenant}'));
    const marked = own.filter((r) => r.tenantAdmin);
    expect(marked.length).toBeGreaterThan(10);
    const url = (r: ApiRoute): string =>
      r.path
        .replaceAll('{tenant}', tenantA)
        .replaceAll('{stage}', 'prod')
        .replace(/\{[a-z]+\}/gi, '1');
    const bodyOf = (r: ApiRoute): unknown => (r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
    // Operators' routes of its own tenant (credentials, deploys, deletion): refused before anything happens.
    const before = await snapshot();
    for (const r of own.filter((x) => !x.tenantAdmin)) {
      const res = await t.request(r.method, url(r), bodyOf(r), a.token);
      expect(res.status, `${r.method} ${url(r)}`).toBe(403);
      expect(res.body.message).toMatch(/a tenant admin may not call this route/);
    }
    expect(await snapshot()).toEqual(before);
    // Its own routes: never refused for who it is (bad input and unknown ids are the routes' own answers).
    for (const r of marked) {
      const res = await t.request(r.method, url(r), bodyOf(r), a.token);
      expect([401, 403], `${r.method} ${url(r)}: ${res.text}`).not.toContain(res.status);
      if (r.method === 'GET' && !/\{(?!tenant|stage)/.test(r.path))
        expect(res.status, url(r)).toBeLessThan(300);
    }
    const status = await t.request('GET', `/api/v1/tenants/${tenantA}/status`, undefined, a.token);
    expect(status.body.stages.map((s: { name: string }) => s.name).sort()).toEqual(['prod', 'test']);
    expect(status.text).not.toMatch(/database|filesDir/);
  });

  it('sees only its own tokens, and its automation tokens stay tenant admin tokens', async () => {
    const created = await t.request('POST', '/api/v1/tokens', { name: 'script' }, a.token);
    expect(created.status, created.text).toBe(201);
    expect(created.body.role).toBe('tenant-admin');
    const greater = await t.request('POST', '/api/v1/tokens', { name: 'up', role: 'operator' }, a.token);
    expect(greater.status).toBe(403);
    const listed = await t.request('GET', '/api/v1/tokens', undefined, a.token);
    expect(new Set(listed.body.tokens.map((x: { operator: string }) => x.operator))).toEqual(
      new Set([adminA]),
    );
    const other = await t.request(
      'GET',
      `/api/v1/tenants/${tenantB}/admins`,
      undefined,
      created.body.token as string,
    );
    expect(other.status).toBe(403);
  });

  it('is removed by an operator, and its tokens stop working at once; the operator commands do not reach it', async () => {
    const viaOperators = await t.request('DELETE', `/api/v1/operators/${encodeURIComponent(adminB)}`);
    expect(viaOperators.status).toBe(404);
    const op = await addOperator(t, `op${suffix}`, 'operator');
    const opToken = await tokenFor(t, op);
    const b = await t.request('GET', `/api/v1/tenants/${tenantB}/admins`, undefined, opToken);
    expect(b.body.admins).toHaveLength(1);
    const removed = await t.request(
      'DELETE',
      `/api/v1/tenants/${tenantB}/admins/${encodeURIComponent(adminB)}`,
      undefined,
      opToken,
    );
    expect(removed.status, removed.text).toBe(200);
    const after = await t.request('GET', `/api/v1/tenants/${tenantB}/admins`, undefined, opToken);
    expect(after.body.admins).toEqual([]);
    const audit = await t.request('GET', `/api/v1/audit?tenant=${tenantB}`);
    expect(audit.body.events.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['tenant-admin.invite', 'tenant-admin.accept', 'tenant-admin.remove']),
    );
    expect(t.logs()).not.toMatch(/sti_[A-Za-z0-9_-]{20}/);
  });

  it('ends with its tenant: once the tenant is being deleted, its admin tokens open nothing', async () => {
    expect((await t.request('GET', '/api/v1/auth/whoami', undefined, a.token)).status).toBe(200);
    const deleted = await t.request('DELETE', `/api/v1/tenants/${tenantA}`);
    expect(deleted.status, deleted.text).toBeLessThan(300);
    const after = await t.request('GET', `/api/v1/tenants/${tenantA}/admins`, undefined, a.token);
    expect(after.status).toBe(401);
  });
});
