import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/identity/credentials.ts';
import { consoleCookie, csrfTokenOf } from '../../src/console/session.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { ManualClock, send, type Reply } from '../identity/helpers.ts';

/**
 * The console's sign-in (issue 15 part 3): a session token in a
 * `__Host-` cookie, CSRF and origin checks on every change it carries,
 * revoked by logout and by removing the operator, ended by its expiry; a
 * tenant admin's session reaches its own tenant only. Through Fastify's
 * inject, on one Steward without workers.
 */
const suffix = Math.random().toString(36).slice(2, 7);
const host = 'console.localhost:8443';
const origin = `https://${host}`;
const clock = new ManualClock();
let t: TestSteward;

/** A request as the console's page sends it: no Authorization header, the session cookie if signed in. */
function call(
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  options: { body?: unknown; cookie?: string; headers?: Record<string, string>; address?: string } = {},
): Promise<Reply> {
  return send(t, method, url, {
    token: null,
    ...(options.body !== undefined ? { body: options.body } : {}),
    ...(options.address ? { address: options.address } : {}),
    headers: {
      host,
      ...(options.cookie ? { cookie: `${consoleCookie}=${options.cookie}` } : {}),
      ...options.headers,
    },
  });
}

/** The browser's headers on a same-origin fetch that changes something. */
const sameOrigin = (cookie: string): Record<string, string> => ({
  origin,
  'sec-fetch-site': 'same-origin',
  'x-csrf-token': csrfTokenOf(cookie),
});

/** Signs in through the console; returns the cookie's token and the body. */
async function signIn(
  body: Record<string, unknown>,
  address?: string,
): Promise<{ token: string; reply: Reply }> {
  const reply = await call('POST', '/api/v1/console/login', { body, ...(address ? { address } : {}) });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  const setCookie = String(reply.headers['set-cookie']);
  const token = new RegExp(`^${consoleCookie}=(stw_[^;]+);`).exec(setCookie)?.[1];
  if (!token) throw new Error(`no session cookie: ${setCookie}`);
  return { token, reply };
}

/** An operator with TOTP enrolled: its password and secret. */
async function operatorWithMfa(
  username: string,
  role: 'operator' | 'auditor',
): Promise<{ secret: string; password: string }> {
  const password = `${username}-password-123`;
  expect((await t.request('POST', '/api/v1/operators', { username, role, password })).status).toBe(201);
  const session = (await call('POST', '/api/v1/auth/login', { body: { username, password } })).body
    .token as string;
  const secret = (await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, session)).body
    .secret as string;
  const verified = await t.request(
    'POST',
    '/api/v1/auth/mfa/verify',
    { code: await totpCode(secret, clock.now()) },
    session,
  );
  expect(verified.status, verified.text).toBe(200);
  clock.advance(30);
  return { secret, password };
}

beforeAll(async () => {
  t = await startTestSteward({ workers: false, clock });
  for (const slug of [`ca${suffix}`, `cb${suffix}`]) {
    const created = await t.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] });
    expect(created.status, created.text).toBe(201);
  }
}, 60_000);
afterAll(async () => {
  await t?.close();
});

describe('console sign-in', () => {
  it('signs an operator in with password and TOTP into a Secure HttpOnly SameSite=Strict host cookie', async () => {
    const { secret, password } = await operatorWithMfa(`ops-${suffix}`, 'operator');
    const username = `ops-${suffix}`;
    // A missing or wrong code, a wrong password: the field the form shows the message under.
    const missing = await call('POST', '/api/v1/console/login', { body: { username, password } });
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ field: 'totp', message: expect.stringMatching(/uses MFA/) });
    expect(missing.headers['set-cookie']).toBeUndefined();
    const wrongCode = await call('POST', '/api/v1/console/login', {
      body: { username, password, totp: '000000' },
    });
    expect(wrongCode.body).toMatchObject({ field: 'totp', message: 'wrong or reused one-time code' });
    const wrongPassword = await call('POST', '/api/v1/console/login', {
      body: { username, password: 'not-the-password', totp: await totpCode(secret, clock.now()) },
    });
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body).toEqual({
      code: 'unauthorized',
      message: 'wrong username or password',
      field: 'password',
    });
    // The login log has them, as for any login.
    const failures = await t.query<{ n: string }>(
      "select count(*) as n from audit_events where action = 'operator.login' and outcome = 'failure' and target = $1",
      [`operator/${username}`],
      t.controlDatabase,
    );
    expect(Number(failures[0]?.n)).toBe(3);

    clock.advance(30);
    const { token, reply } = await signIn({ username, password, totp: await totpCode(secret, clock.now()) });
    expect(reply.headers['set-cookie']).toBe(
      `${consoleCookie}=${token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=43200`,
    );
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.body).toEqual({
      username,
      role: 'operator',
      tenant: null,
      mfa: true,
      csrfToken: csrfTokenOf(token),
      permissions: expect.arrayContaining(['tenants.read', 'tenants.write', 'releases.write']),
    });
    expect(reply.body.permissions).not.toContain('operators.write');
    // The body never carries the token itself; the logs never carry either.
    expect(JSON.stringify(reply.body)).not.toContain(token);
    expect(t.logs()).not.toContain(token);
    expect(t.logs()).not.toContain(password);

    const session = await call('GET', '/api/v1/console/session', { cookie: token });
    expect(session.status).toBe(200);
    expect(session.body).toEqual(reply.body);
    expect((await call('GET', `/api/v1/tenants/ca${suffix}`, { cookie: token })).status).toBe(200);
    // An Authorization header wins over the cookie: a bad bearer token is refused, whatever the cookie.
    const bearer = await call('GET', '/api/v1/console/session', {
      cookie: token,
      headers: { authorization: 'Bearer stw_not-a-token' },
    });
    expect(bearer.status).toBe(401);
    // Signed out: 401, naming both ways in.
    const none = await call('GET', '/api/v1/console/session');
    expect(none.status).toBe(401);
    expect(none.body.message).toMatch(/console\/login/);
  });

  it('refuses a change the cookie carries without the CSRF token or from another origin, and changes nothing', async () => {
    const { secret, password } = await operatorWithMfa(`csrf-${suffix}`, 'operator');
    const { token } = await signIn({
      username: `csrf-${suffix}`,
      password,
      totp: await totpCode(secret, clock.now()),
    });
    const slug = `cc${suffix}`;
    const body = { slug, stages: ['prod'] };
    const good = sameOrigin(token);
    const cases: [string, Record<string, string>, string, RegExp][] = [
      [
        'no CSRF token',
        { origin, 'sec-fetch-site': 'same-origin' },
        'x-csrf-token',
        /needs the x-csrf-token header/,
      ],
      [
        'a wrong CSRF token',
        { ...good, 'x-csrf-token': csrfTokenOf(`${token}x`) },
        'x-csrf-token',
        /not this session's CSRF token/,
      ],
      [
        'a cross-site Origin',
        { ...good, origin: 'https://evil.example' },
        'origin',
        /another origin \(Origin: https:\/\/evil.example/,
      ],
      ['plain http', { ...good, origin: `http://${host}` }, 'origin', /another origin/],
      [
        'Sec-Fetch-Site cross-site',
        { ...good, 'sec-fetch-site': 'cross-site' },
        'sec-fetch-site',
        /another site/,
      ],
      [
        'Sec-Fetch-Site same-site',
        { ...good, 'sec-fetch-site': 'same-site' },
        'sec-fetch-site',
        /another site/,
      ],
      [
        'neither Origin nor Sec-Fetch-Site',
        { 'x-csrf-token': csrfTokenOf(token) },
        'origin',
        /needs an Origin or Sec-Fetch-Site/,
      ],
    ];
    const lastUsed = async () =>
      (
        await t.query<{ last_used_at: Date | null }>(
          'select last_used_at from api_tokens where token_hash = (select token_hash from api_tokens where name = $1 order by id desc limit 1)',
          ['console'],
          t.controlDatabase,
        )
      )[0]?.last_used_at?.getTime();
    clock.advance(120);
    const before = await lastUsed();
    for (const [what, headers, field, message] of cases) {
      const refused = await call('POST', '/api/v1/tenants', { body, cookie: token, headers });
      expect(refused.status, what).toBe(403);
      expect(refused.body, what).toMatchObject({
        code: 'forbidden',
        field,
        message: expect.stringMatching(message),
      });
    }
    // Nothing changed: no tenant, not even the token's last use.
    expect((await t.request('GET', `/api/v1/tenants/${slug}`)).status).toBe(404);
    expect(await lastUsed()).toBe(before);
    // A logout is a change too.
    expect((await call('POST', '/api/v1/console/logout', { cookie: token })).status).toBe(403);
    // The same request, from the console's own page: created.
    const created = await call('POST', '/api/v1/tenants', { body, cookie: token, headers: good });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // Sec-Fetch-Site alone (no Origin) or Origin alone are enough with the token.
    const { sec: _ignored, ...originOnly } = { sec: 1, origin, 'x-csrf-token': csrfTokenOf(token) };
    const removed = await call('DELETE', `/api/v1/tenants/${slug}`, { cookie: token, headers: originOnly });
    expect([200, 202]).toContain(removed.status);
  });

  it('logout revokes the session; so do removing the operator and the session running out', async () => {
    const { secret, password } = await operatorWithMfa(`out-${suffix}`, 'auditor');
    const username = `out-${suffix}`;
    const login = async (extra: Record<string, unknown> = {}) => {
      clock.advance(30);
      return (await signIn({ username, password, totp: await totpCode(secret, clock.now()), ...extra }))
        .token;
    };
    const first = await login();
    const out = await call('POST', '/api/v1/console/logout', { cookie: first, headers: sameOrigin(first) });
    expect(out.status, JSON.stringify(out.body)).toBe(200);
    expect(out.body).toEqual({ signedOut: true });
    expect(out.headers['set-cookie']).toBe(
      `${consoleCookie}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`,
    );
    const after = await call('GET', '/api/v1/console/session', { cookie: first });
    expect(after.status).toBe(401);
    expect(after.body.message).toMatch(/unknown, expired or revoked/);

    const short = await login({ expiresInHours: 1 });
    expect((await call('GET', '/api/v1/console/session', { cookie: short })).status).toBe(200);
    clock.advance(3601);
    expect((await call('GET', '/api/v1/console/session', { cookie: short })).status).toBe(401);

    const kept = await login();
    expect((await call('GET', '/api/v1/console/session', { cookie: kept })).status).toBe(200);
    expect((await t.request('DELETE', `/api/v1/operators/${username}`)).status).toBe(200);
    expect((await call('GET', '/api/v1/console/session', { cookie: kept })).status).toBe(401);
  });

  it("gives a tenant admin a session for its own tenant's routes only", async () => {
    const tenant = `ca${suffix}`;
    const email = `it-${suffix}@a.example`;
    expect((await t.request('POST', `/api/v1/tenants/${tenant}/admins`, { email })).status).toBe(201);
    const mailed = await t.query<{ payload: { body: string } }>(
      "select payload from notification_outbox where kind = 'tenant-admin-invite' order by id desc limit 1",
      [],
      t.controlDatabase,
    );
    const code = /sti_[A-Za-z0-9_-]{43}/.exec(mailed[0]?.payload.body ?? '')?.[0];
    if (!code) throw new Error('no invitation code in the outbox');
    const password = `${email}-chosen-password`;
    const accepted = await call('POST', '/api/v1/auth/tenant-admin/accept', {
      body: { token: code, password },
    });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
    // Before TOTP: signed in, but told so, and its tenant's routes refuse it.
    const early = await signIn({ username: email, password });
    expect(early.reply.body).toMatchObject({ role: 'tenant-admin', tenant, mfa: false });
    const enrol = await call('POST', '/api/v1/auth/mfa/enroll', {
      cookie: early.token,
      headers: sameOrigin(early.token),
    });
    expect(enrol.status, JSON.stringify(enrol.body)).toBe(200);
    const secret = enrol.body.secret as string;
    const verified = await call('POST', '/api/v1/auth/mfa/verify', {
      cookie: early.token,
      headers: sameOrigin(early.token),
      body: { code: await totpCode(secret, clock.now()) },
    });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    clock.advance(30);

    const { token, reply } = await signIn({
      username: email,
      password,
      totp: await totpCode(secret, clock.now()),
    });
    expect(reply.body).toEqual({
      username: email,
      role: 'tenant-admin',
      tenant,
      mfa: true,
      csrfToken: csrfTokenOf(token),
      permissions: ['tenants.read', 'tokens.self', 'identity.read', 'identity.write', 'exports.download'],
    });
    expect((await call('GET', `/api/v1/tenants/${tenant}/admins`, { cookie: token })).status).toBe(200);
    const scim = await call('POST', `/api/v1/tenants/${tenant}/scim-tokens`, {
      cookie: token,
      headers: sameOrigin(token),
      body: { name: 'entra' },
    });
    expect(scim.status, JSON.stringify(scim.body)).toBe(201);
    // Another tenant, Steward's own lists: refused, and nothing made there.
    const other = `cb${suffix}`;
    const elsewhere = await call('POST', `/api/v1/tenants/${other}/scim-tokens`, {
      cookie: token,
      headers: sameOrigin(token),
      body: { name: 'entra' },
    });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.message).toBe(
      `a tenant admin of ${tenant} may only call routes of tenant ${tenant}`,
    );
    expect((await call('GET', `/api/v1/tenants/${other}/admins`, { cookie: token })).status).toBe(403);
    expect((await call('GET', '/api/v1/tenants', { cookie: token })).status).toBe(403);
    expect((await t.request('GET', `/api/v1/tenants/${other}/scim-tokens`)).body.tokens).toEqual([]);
  });
});
