import { generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCookie } from '../../src/identity/sessions/index.ts';
import { startIdentityStage, type IdentityStage } from '../harness/identity.ts';
import { within } from '../gateway/support.ts';
import { apiCli } from '../harness/api-cli.ts';

/**
 * The edge session through the real HAProxy (issue 13): the stage requires
 * sign-in; HAProxy verifies the session cookie itself (signature, expiry,
 * host, tenant, revocation), forwards it as X-Steward-Identity and never the
 * cookie; the pages under /.steward/auth/ refresh, log out and log out
 * everywhere, applying revocation and deactivation.
 */
let s: IdentityStage;
let alice: string;

const cookie = (token: string, others = ''): string => `${others}${sessionCookie}=${token}`;

/** Signs claims with Steward's own current key (for tokens the edge must judge on their claims alone). */
async function signed(claims: Record<string, unknown>): Promise<string> {
  const key = await s.t.services.sessions.keys.signing();
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: key.kid }).sign(key.privateKey);
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** The sign-out page's CSRF cookie and token, as a browser holds them. */
async function csrf(session: string): Promise<{ cookie: string; token: string }> {
  const page = await s.get('/.steward/auth/logout', { cookie: cookie(session) });
  const set = [page.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('__Host-steward-csrf='));
  const value = set?.split(';')[0]?.split('=')[1] ?? '';
  expect(page.body).toContain(`name="csrf" value="${value}"`);
  return { cookie: `__Host-steward-csrf=${value}`, token: value };
}

/** The Host header the test client sends has no port, so neither has the Origin a browser would send with it. */
const origin = (): string => `https://${s.host}`;

beforeAll(async () => {
  s = await startIdentityStage({ tenant: 'acme', signIn: 'required' });
  alice = await s.addUser('alice', { groups: ['finance', 'staff'], name: 'Alice Doe' });
}, 120_000);

afterAll(async () => {
  await s?.close();
}, 60_000);

describe('the edge session, through HAProxy', () => {
  it('sends a page load without a session to sign in, and answers anything else 401', async () => {
    const page = await s.get('/ledger?year=2026');
    expect(page.status).toBe(302);
    expect(page.headers.location).toBe('/.steward/auth/login?rd=%2Fledger%3Fyear%3D2026');
    expect((await s.get('/ledger', { method: 'POST', body: 'x' })).status).toBe(401);
    expect((await s.get('/api', { headers: { 'sec-fetch-mode': 'cors' } })).status).toBe(401);
    const login = await s.get('/.steward/auth/login?rd=%2Fledger');
    expect(login.status).toBe(200);
    expect(login.body).toContain('<h1>Sign in</h1>');
    // The tenant's name (its display name defaults to the slug), never another's.
    expect(login.body).toContain('<p class="tenant">acme</p>');
  });

  it('passes a valid session as X-Steward-Identity, verifiable with the published keys, and never the cookie', async () => {
    const { token } = await s.signIn(alice);
    const reply = await s.get('/books', { cookie: cookie(token, 'theme=dark; ') });
    expect(reply.status, reply.body).toBe(200);
    const seen = s.appHeaders(reply) ?? {};
    expect(seen['x-steward-identity']).toBe(token);
    expect(seen.cookie).toBe('theme=dark');
    expect(JSON.stringify(seen)).not.toContain(sessionCookie);
    const jwks = JSON.parse((await s.get('/.steward/auth/jwks.json')).body) as JSONWebKeySet;
    expect(jwks.keys).toHaveLength(2);
    // Stage processes get the same set as STEWARD_IDENTITY_JWKS (the runtime's port into identity).
    expect(JSON.parse((await s.t.services.tenants.identityKeys()) ?? '{}')).toEqual(jwks);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { algorithms: ['ES256'] });
    expect(payload).toMatchObject({
      sub: alice,
      tenant: 'acme',
      stage: 'prod',
      host: s.host,
      user_name: 'alice',
      name: 'Alice Doe',
      groups: ['finance', 'staff'],
      roles: [],
      amr: ['pwd'],
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);
    // The only cookie was the session: the app gets no Cookie header at all.
    const alone = s.appHeaders(await s.get('/books', { cookie: cookie(token) })) ?? {};
    expect(alone.cookie).toBeUndefined();
  });

  it('refuses a forged, other-key, other-host, other-tenant, expired or revoked session', async () => {
    const { token, sid } = await s.signIn(alice);
    const claims = claimsOf(token);
    const [head, , signature] = token.split('.');
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${signature}`;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = (await s.t.services.sessions.keys.signing()).kid;
    const otherKey = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);
    const now = Math.floor(Date.now() / 1000);
    const otherHost = await signed({ ...claims, host: 'acme.localhost' });
    const otherTenant = await signed({ ...claims, tenant: 'globex' });
    const expired = await signed({ ...claims, iat: now - 400, exp: now - 100 });
    for (const [what, bad, to] of [
      ['forged', tampered, 'login'],
      ['other key', otherKey, 'login'],
      ['other host', otherHost, 'login'],
      ['other tenant', otherTenant, 'login'],
      ['garbage', 'a.b.c', 'login'],
      ['expired', expired, 'refresh'],
    ] as const) {
      const reply = await s.get('/books', { cookie: cookie(bad) });
      expect(reply.status, what).toBe(302);
      expect(reply.headers.location, what).toBe(`/.steward/auth/${to}?rd=%2Fbooks`);
      expect((await s.get('/books', { cookie: cookie(bad), method: 'DELETE' })).status, what).toBe(401);
    }
    expect((await s.get('/books', { cookie: cookie(token) })).status).toBe(200);
    await s.t.services.sessions.revokeSession(sid, 'revoked');
    // The NOTIFY reaches the data plane, which puts the sid into HAProxy's revoked map: no reload.
    const reloads = s.t.steward.dataPlane?.reloads;
    const took = await within(
      3000,
      async () => (await s.get('/books', { cookie: cookie(token) })).status === 302,
      'revoked',
    );
    console.log(`revocation to refusal at the edge: ${took} ms`);
    expect(s.t.steward.dataPlane?.reloads).toBe(reloads);
  });

  it('never lets a client-sent X-Steward-Identity reach the app', async () => {
    const forged = await signed({
      sub: 'mallory',
      tenant: 'acme',
      stage: 'prod',
      host: s.host,
      sid: 'x',
      exp: 9e9,
    });
    const { token } = await s.signIn(alice);
    const withSession = s.appHeaders(
      await s.get('/', { cookie: cookie(token), headers: { 'x-steward-identity': forged } }),
    );
    expect(withSession?.['x-steward-identity']).toBe(token);
    // Optional sign-in: no session, no header, whatever the client sent.
    await s.configure({ stage: 'prod', signIn: 'optional' });
    const anonymous = await s.get('/', { headers: { 'x-steward-identity': forged } });
    expect(anonymous.status).toBe(200);
    expect(s.appHeaders(anonymous)?.['x-steward-identity']).toBeUndefined();
    expect(s.appHeaders(await s.get('/', { cookie: cookie(token) }))?.['x-steward-identity']).toBe(token);
    await s.configure({ stage: 'prod', signIn: 'required' });
    expect((await s.get('/', { headers: { 'x-steward-identity': forged } })).status).toBe(302);
  });

  it('refreshes through Steward: a new token while the session lives, sign-in again once the user is deactivated', async () => {
    const bob = await s.addUser('bob', { groups: ['staff'] });
    const { token, sid } = await s.signIn(bob);
    const expired = await signed({ ...claimsOf(token), exp: Math.floor(Date.now() / 1000) - 1 });
    const refreshed = await s.get('/.steward/auth/refresh?rd=%2Fbooks%3Fa%3D1', { cookie: cookie(expired) });
    expect(refreshed.status).toBe(302);
    expect(refreshed.headers.location).toBe('/books?a=1');
    const set =
      [refreshed.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith(`${sessionCookie}=`)) ?? '';
    expect(set).toMatch(/; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    const fresh = set.split(';')[0]?.slice(sessionCookie.length + 1) ?? '';
    expect(claimsOf(fresh).sid).toBe(sid);
    expect((await s.get('/books', { cookie: cookie(fresh) })).status).toBe(200);
    // An rd to another host is never followed.
    const away = await s.get('/.steward/auth/refresh?rd=%2F%2Fevil.example%2F', { cookie: cookie(fresh) });
    expect(away.headers.location).toBe('/');

    // Deactivated (as SCIM active=false does): the Directory's listener revokes the session at once.
    await s.t.services.directory.setActive((await s.place()).tenantId, bob, false);
    const refused = await s.get('/.steward/auth/refresh?rd=%2Fbooks', { cookie: cookie(fresh) });
    expect(refused.status).toBe(302);
    expect(refused.headers.location).toBe('/.steward/auth/login?rd=%2Fbooks');
    expect(String(refused.headers['set-cookie'])).toContain(`${sessionCookie}=; `);
    const [row] = await s.t.query<{ revoked_reason: string }>(
      'select revoked_reason from end_user_sessions where id = $1',
      [sid],
      s.t.controlDatabase,
    );
    expect(row?.revoked_reason).toBe('deactivated');
    await within(
      3000,
      async () => (await s.get('/books', { cookie: cookie(fresh) })).status === 302,
      'deactivated',
    );
  });

  it('logs out everywhere: every session of the user ends, at the edge too; a POST without CSRF changes nothing', async () => {
    const carol = await s.addUser('carol');
    const first = await s.signIn(carol);
    const second = await s.signIn(carol);
    const form = await csrf(first.token);
    const forged = await s.get('/.steward/auth/logout-everywhere', {
      method: 'POST',
      cookie: `${form.cookie}; ${cookie(first.token)}`,
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${form.token}`,
    });
    expect(forged.status).toBe(403);
    expect((await s.get('/books', { cookie: cookie(second.token) })).status).toBe(200);
    const out = await s.get('/.steward/auth/logout-everywhere', {
      method: 'POST',
      cookie: `${form.cookie}; ${cookie(first.token)}`,
      headers: { origin: origin(), 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${form.token}`,
    });
    expect(out.status, out.body).toBe(200);
    expect(out.body).toContain('You are signed out on every device.');
    const rows = await s.t.query<{ revoked_reason: string }>(
      'select revoked_reason from end_user_sessions where subject = $1',
      [carol],
      s.t.controlDatabase,
    );
    expect(rows.map((r) => r.revoked_reason)).toEqual(['logout_everywhere', 'logout_everywhere']);
    await within(
      3000,
      async () =>
        (await s.get('/books', { cookie: cookie(first.token) })).status === 302 &&
        (await s.get('/books', { cookie: cookie(second.token) })).status === 302,
      'logged out everywhere',
    );
  });

  it('is set and shown with steward identity; a bad value is refused by name and changes nothing', async () => {
    const steward = await apiCli(s.t);
    const set = await steward(
      'identity',
      'set',
      'acme',
      'prod',
      '--sign-in',
      'required',
      '--idle-minutes',
      '30',
    );
    expect(set.code, set.stderr).toBe(0);
    console.log(`$ steward identity set acme prod --sign-in required --idle-minutes 30\n${set.stdout}`);
    expect(set.stdout).toMatch(/prod\s+required\s+off\s+30 min\s+12 h/);
    const bad = await steward('identity', 'set', 'acme', '--sign-in', 'sometimes');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('"sometimes" is not a sign-in mode: use required, optional, off');
    const shown = await steward('identity', 'show', 'acme', '-o', 'json');
    expect(shown.code, shown.stderr).toBe(0);
    const view = JSON.parse(shown.stdout) as {
      stages: { stage: string; effective: Record<string, unknown> }[];
    };
    expect(view.stages).toEqual([
      {
        stage: 'prod',
        overrides: { localUsers: null, signIn: 'required', idleMinutes: 30, absoluteHours: null },
        effective: { localUsers: false, signIn: 'required', idleMinutes: 30, absoluteHours: 12 },
      },
    ]);
    const api = await s.t.request('PATCH', '/api/v1/tenants/acme/identity', { stage: 'qa', signIn: 'off' });
    expect(api.status).toBe(400);
    expect(api.body).toMatchObject({
      field: 'stage',
      message: 'stage "qa" is not a stage of tenant acme; accepted: prod',
    });
  });
});
