import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCookie } from '../../src/identity/sessions/index.ts';
import { freePort } from '../../src/system/ports.ts';
import { serveStageFrom } from '../dataplane/serve.ts';
import { startIdentityStage, type IdentityStage } from '../harness/identity.ts';
import { ledgerDir } from '../harness/ledger.ts';

/**
 * Groups to roles to folders, end to end through the real edge: the sample
 * app serves acme/prod (its own database, Steward's published key set), the
 * stage requires sign-in. A group the tenant's IdP created over SCIM, mapped
 * to an app role, grants a folder of the ledger; the membership removed
 * (SCIM PATCH, Entra's dialect), the next refresh mints a token without the
 * role and the folder is closed (403). A client
 * cannot add a role by sending its own X-Steward-Identity: the edge strips
 * it (and the app would refuse a forged one anyway).
 */
let s: IdentityStage;
let web: ChildProcess | undefined;
let output = '';
let appPort: number;
let filesDir: string;
const cookie = (token: string): string => `${sessionCookie}=${token}`;

function startLedger(script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [script], { cwd: ledgerDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return child;
}

async function api(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const reply = await s.get(path, {
    cookie: cookie(token),
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  let parsed: unknown = reply.body;
  try {
    parsed = JSON.parse(reply.body);
  } catch {
    // not JSON: keep the text
  }
  return { status: reply.status, body: parsed };
}

/** A SCIM request to the tenant's apex host, as an IdP sends it; the answer's JSON (2xx only). */
async function scim(token: string, method: string, path: string, body: unknown): Promise<any> {
  const reply = await s.get(`/scim/v2${path}`, {
    host: 'acme.localhost',
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify(body),
  });
  expect(reply.status, `${method} ${path}: ${reply.body}`).toBeLessThan(300);
  return reply.body === '' ? undefined : JSON.parse(reply.body);
}

/** The refresh page, as the browser follows it once the token expired: the new session token. */
async function refresh(token: string): Promise<string> {
  const reply = await s.get('/.steward/auth/refresh?rd=%2F', { cookie: cookie(token) });
  expect(reply.status, reply.body).toBe(302);
  const set = [reply.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith(`${sessionCookie}=`)) ?? '';
  return set.split(';')[0]!.slice(sessionCookie.length + 1);
}

beforeAll(async () => {
  s = await startIdentityStage({ tenant: 'acme', signIn: 'required' });
  const credentials = await s.t.request('GET', '/api/v1/tenants/acme/stages/prod/credentials');
  const jwks = await s.get('/.steward/auth/jwks.json');
  expect(jwks.status).toBe(200);
  filesDir = await mkdtemp(join(tmpdir(), 'ledger-sso-'));
  const port = (appPort = await freePort(0));
  const env = {
    PATH: process.env['PATH'] ?? '',
    DATABASE_URL: credentials.body.databaseUrl as string,
    PORT: String(port),
    STEWARD_FILES_DIR: filesDir,
    STEWARD_TENANT: 'acme',
    STEWARD_STAGE: 'prod',
    STEWARD_IDENTITY_JWKS: jwks.body,
  };
  const migrate = startLedger('src/migrate.ts', env);
  const code = await new Promise((resolve) => migrate.once('exit', resolve));
  expect(code, output).toBe(0);
  web = startLedger('src/server.ts', env);
  for (let i = 0; !output.includes('"msg":"listening"'); i++) {
    if (i > 300 || web.exitCode !== null) throw new Error(`the ledger did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // The stage's traffic goes to the ledger instead of the harness's echo app.
  await serveStageFrom(s.t, 'acme', 'prod', port);
}, 120_000);

afterAll(async () => {
  web?.kill('SIGKILL');
  await s?.close();
  if (filesDir) await rm(filesDir, { recursive: true, force: true });
}, 60_000);

describe('groups to roles to folders, through the edge', () => {
  it('a mapped group grants a folder; the membership removed, the next refresh takes it away', async () => {
    const roles = '/api/v1/tenants/acme/identity/roles';
    expect((await s.t.request('POST', roles, { group: 'Ledger Admins', role: 'admin' })).status).toBe(201);
    expect(
      (await s.t.request('POST', roles, { stage: 'prod', group: 'payroll clerks', role: 'payroll.write' }))
        .status,
    ).toBe(201);
    const ada = await s.addUser('ada', { groups: ['Ledger Admins'], name: 'Ada Admin' });
    // The tenant's IdP provisions Ann and her groups over SCIM, on the tenant's apex host.
    const scimToken = (await s.t.request('POST', '/api/v1/tenants/acme/scim-tokens', { name: 'entra' })).body
      .token as string;
    const ann = (
      await scim(scimToken, 'POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'ann',
        displayName: 'Ann Clerk',
        emails: [{ value: 'ann@acme.example', type: 'work', primary: true }],
      })
    ).id as string;
    const groupOf = async (displayName: string): Promise<string> =>
      (
        await scim(scimToken, 'POST', '/Groups', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          displayName,
          members: [{ value: ann }],
        })
      ).id as string;
    const clerks = await groupOf('Payroll Clerks');
    await groupOf('Staff');
    const admin = (await s.signIn(ada)).token;
    const folder = await api(admin, 'POST', '/api/folders', {
      name: 'Payroll',
      write: { roles: ['payroll.write'] },
    });
    expect(folder.status, JSON.stringify(folder.body)).toBe(201);
    const customer = await api(admin, 'POST', '/api/customers', { name: 'Payroll GmbH' });
    const { token } = await s.signIn(ann);
    const me = await api(token, 'GET', '/api/me');
    expect(me.body).toMatchObject({
      authenticated: true,
      id: ann,
      userName: 'ann',
      name: 'Ann Clerk',
      groups: ['Payroll Clerks', 'Staff'],
      roles: ['payroll.write'],
      tenant: 'acme',
      stage: 'prod',
    });
    const invoice = await api(token, 'POST', '/api/invoices', {
      customerId: customer.body.id,
      amountCents: 250_000,
      folderId: folder.body.id,
    });
    expect(invoice.status, JSON.stringify(invoice.body)).toBe(201);
    expect(invoice.body.createdBy).toBe(ann);
    const page = await s.get('/', { cookie: cookie(token) });
    expect(page.body).toContain('Signed in as <strong>Ann Clerk</strong>');
    expect(page.body).toContain('<dd id="roles">payroll.write</dd>');
    expect(page.body).toMatch(/<td>Payroll<\/td><td>write<\/td>/);

    // A client cannot lift itself to admin with a header of its own: the edge's identity is the one the app sees.
    const lifted = await api(token, 'GET', '/api/me', undefined, { 'x-steward-identity': admin });
    expect(lifted.body).toMatchObject({ id: ann, roles: ['payroll.write'] });

    // The IdP takes Ann out of the group (SCIM PATCH in Entra's dialect), then her session refreshes.
    await scim(scimToken, 'PATCH', `/Groups/${clerks}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Remove', path: 'members', value: [{ value: ann }] }],
    });
    const fresh = await refresh(token);
    expect((await api(fresh, 'GET', '/api/me')).body).toMatchObject({
      id: ann,
      groups: ['Staff'],
      roles: [],
    });
    const refused = await api(fresh, 'GET', `/api/invoices/${invoice.body.id}`);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('you may not read folder "Payroll"');
    expect(
      (await api(fresh, 'POST', `/api/invoices/${invoice.body.id}/status`, { status: 'sent' })).status,
    ).toBe(403);
    expect((await api(fresh, 'GET', '/api/invoices')).body.invoices.map((i: any) => i.id)).not.toContain(
      invoice.body.id,
    );
    // The admin still sees it: roles follow each user's own groups.
    expect((await api(admin, 'GET', `/api/invoices/${invoice.body.id}`)).status).toBe(200);
  });

  it('never passes a client-sent X-Steward-Identity, not even a good one; sent to the app directly, a forged one is refused', async () => {
    // Sign-in optional: a request without a session reaches the app, without an identity.
    await s.configure({ stage: 'prod', signIn: 'optional' });
    const ada = (
      await s.t.query<{ id: string }>(
        "select id from tenant_users where user_name = 'ada'",
        [],
        s.t.controlDatabase,
      )
    )[0]!.id;
    const good = (await s.signIn(ada)).token;
    const [h, , sig] = good.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ iss: 'steward', sub: 'root', tenant: 'acme', stage: 'prod', roles: ['admin'], exp: 9e9 })).toString('base64url')}.${sig}`;
    for (const sent of [good, forged]) {
      const reply = await s.get('/api/me', { headers: { 'x-steward-identity': sent } });
      expect(reply.status).toBe(200);
      // No `refused`: the header never arrived.
      expect(JSON.parse(reply.body)).toEqual(
        expect.objectContaining({ authenticated: false, id: 'anonymous' }),
      );
      expect(JSON.parse(reply.body).refused).toBeUndefined();
    }
    const direct = async (token: string): Promise<any> =>
      (
        await fetch(`http://127.0.0.1:${appPort}/api/me`, { headers: { 'x-steward-identity': token } })
      ).json();
    expect(await direct(good)).toMatchObject({ authenticated: true, id: ada, roles: ['admin'] });
    expect(await direct(forged)).toMatchObject({ authenticated: false, refused: 'signature' });
    // The refusal is logged (the line may still be on its way through the pipe).
    for (let i = 0; !output.includes('"reason":"signature"'); i++) {
      if (i > 100) throw new Error(`no refusal logged: ${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(output).not.toContain(sig!);
  });
});
