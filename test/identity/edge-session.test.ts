import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { hashPassword } from '../../src/identity/credentials.ts';
import { createLocalJWKSet, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCookie } from '../../src/identity/sessions/index.ts';
import { startIdentityStage, type IdentityStage } from '../harness/identity.ts';
import { httpsFetch, within } from '../gateway/support.ts';
import { startMailServer, type MailServer } from '../notifications/receivers.ts';
import { apiCli } from '../harness/api-cli.ts';
import { saveScreenshot } from '../harness/browser.ts';

/**
 * The edge session through the real HAProxy (issue 13): the stage requires
 * sign-in; HAProxy verifies the session cookie itself (signature, expiry,
 * host, tenant, revocation), forwards it as X-Steward-Identity and never the
 * cookie; the pages under /.steward/auth/ refresh, log out and log out
 * everywhere, applying revocation and deactivation.
 */
let s: IdentityStage;
let alice: string;
let browser: Browser | undefined;

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

let mail: MailServer;

beforeAll(async () => {
  mail = await startMailServer({ user: 'edge-mailer', password: 'edge-mail-secret' });
  s = await startIdentityStage({
    tenant: 'acme',
    displayName: 'Acme Corp',
    signIn: 'required',
    localUsers: true,
    config: {
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'accounts@example.com' },
        retryBaseSeconds: 0.05,
        retryCapSeconds: 0.1,
        timeoutSeconds: 2,
        pollSeconds: 0.05,
      },
    },
  });
  await s.t.services.notifications.keepSmtpCredentials('edge-mailer', 'edge-mail-secret');
  alice = await s.addUser('alice', { groups: ['finance', 'staff'], name: 'Alice Doe' });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
  await mail?.close();
}, 60_000);

describe('the edge session, through HAProxy', () => {
  it('sends a page load without a session to sign in, and answers anything else 401', async () => {
    const page = await s.get('/ledger?year=2026');
    expect(page.status).toBe(302);
    expect(page.headers.location).toBe('/.steward/auth/login?rd=%2Fledger%3Fyear%3D2026');
    expect((await s.get('/ledger', { method: 'POST', body: 'x' })).status).toBe(401);
    expect((await s.get('/api', { headers: { 'sec-fetch-mode': 'cors' } })).status).toBe(401);
    const navigation = await s.get('/ledger', { method: 'HEAD', headers: { 'sec-fetch-mode': 'navigate' } });
    expect(navigation.status).toBe(302);
    const login = await s.get('/.steward/auth/login?rd=%2Fledger');
    expect(login.status).toBe(200);
    expect(login.body).toContain('<h1>Sign in</h1>');
    // The tenant's name, never another's.
    expect(login.body).toContain('<p class="tenant">Acme Corp</p>');
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
    // Verified once and remembered by the hash of the whole token: a changed token is verified anew.
    expect((await s.get('/books', { cookie: cookie(token) })).status).toBe(200);
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

  it('rotates the session key with one reload: tokens of the old key stay good until they expire', async () => {
    const before = await s.signIn(alice);
    const reloads = s.t.steward.dataPlane?.reloads ?? 0;
    const { current, next } = await s.t.services.sessions.rotateKeys();
    expect(JSON.parse(Buffer.from(before.token.split('.')[0] ?? '', 'base64url').toString()).kid).not.toBe(
      current,
    );
    await within(
      3000,
      () => Promise.resolve((s.t.steward.dataPlane?.reloads ?? 0) > reloads),
      'the new next key loaded',
    );
    expect(s.t.steward.dataPlane?.reloads).toBe(reloads + 1);
    const after = await s.signIn(alice);
    expect(JSON.parse(Buffer.from(after.token.split('.')[0] ?? '', 'base64url').toString()).kid).toBe(
      current,
    );
    for (const token of [before.token, after.token]) {
      expect((await s.get('/books', { cookie: cookie(token) })).status).toBe(200);
    }
    const kids = (JSON.parse((await s.get('/.steward/auth/jwks.json')).body) as JSONWebKeySet).keys.map(
      (k) => k.kid,
    );
    expect(kids).toHaveLength(3);
    expect(kids).toContain(next);
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
    // Signed in but the token expired: refreshed on a page load there too, not silently signed out.
    const expired = await signed({ ...claimsOf(token), exp: Math.floor(Date.now() / 1000) - 1 });
    const stale = await s.get('/books', { cookie: cookie(expired) });
    expect(stale.status).toBe(302);
    expect(stale.headers.location).toBe('/.steward/auth/refresh?rd=%2Fbooks');
    expect((await s.get('/books', { cookie: cookie(expired), method: 'POST', body: 'x' })).status).toBe(200);
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
    const logged = await s.t.query<{ method: string; detail: string }>(
      'select method, detail from login_events where user_id = $1',
      [carol],
      s.t.controlDatabase,
    );
    expect(logged).toEqual([{ method: 'logout', detail: 'every device' }]);
    await within(
      3000,
      async () =>
        (await s.get('/books', { cookie: cookie(first.token) })).status === 302 &&
        (await s.get('/books', { cookie: cookie(second.token) })).status === 302,
      'logged out everywhere',
    );
  });

  it('mails an invitation whose link, followed as mailed, reaches the edge; the SCIM base URL names the same port', async () => {
    const added = await s.t.request('POST', '/api/v1/tenants/acme/users', {
      userName: 'maja',
      email: 'maja@acme.example',
    });
    expect(added.status, added.text).toBe(201);
    await s.t.services.notifications.pass();
    const raw = mail.mails.find((m) => m.to.includes('maja@acme.example'))?.raw ?? '';
    const text = raw
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    const mailed = /https:\/\/[^\s"<>]+\/\.steward\/auth\/invite\?token=[A-Za-z0-9_-]+/.exec(text)?.[0];
    expect(mailed, text).toBeDefined();
    // The link as it is: its host, its port, its path (127.0.0.1 stands in for DNS).
    const link = new URL(mailed ?? '');
    expect(link.port).toBe(String(s.port));
    const page = await httpsFetch({
      host: link.hostname,
      port: Number(link.port),
      path: `${link.pathname}${link.search}`,
      ca: [s.ca],
    });
    expect(page.status, page.body).toBe(200);
    expect(page.body).toContain('<strong>maja</strong>');
    const scim = await s.t.request('POST', '/api/v1/tenants/acme/scim-tokens', {});
    expect(scim.status, scim.text).toBe(201);
    expect(scim.body.url).toBe(`https://acme.localhost:${s.port}/scim/v2`);
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
    expect(set.stdout).toMatch(/prod\s+required\s+on\s+30 min\s+12 h\s+optional/);
    const mfa = await steward('identity', 'set', 'acme', '--mfa', 'required');
    expect(mfa.code, mfa.stderr).toBe(0);
    console.log(`$ steward identity set acme --mfa required\n${mfa.stdout}`);
    expect(mfa.stdout).toMatch(/prod\s+required\s+on\s+30 min\s+12 h\s+required/);
    const badMfa = await steward('identity', 'set', 'acme', '--mfa', 'sometimes');
    expect(badMfa.stderr).toContain('"sometimes" is not an MFA mode: use required, optional');
    expect((await steward('identity', 'set', 'acme', '--mfa', 'optional')).code).toBe(0);
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
        overrides: { localUsers: true, signIn: 'required', idleMinutes: 30, absoluteHours: null, mfa: null },
        effective: {
          localUsers: true,
          signIn: 'required',
          idleMinutes: 30,
          absoluteHours: 12,
          mfa: 'optional',
        },
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

describe('signing in with a local user in Chromium, through the real edge', () => {
  it('shows the sign-in page, signs in, reaches the app with its identity, and signs out', async () => {
    const dana = await s.addUser('dana', { name: 'Dana Lee', groups: ['staff'] });
    await s.t.query(
      `insert into tenant_user_credentials (user_id, tenant_id, password_hash, password_set_at)
       values ($1, (select id from tenants where slug = 'acme'), $2, now())`,
      [dana, await hashPassword('correct horse battery staple')],
      s.t.controlDatabase,
    );
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    // The edge's certificate comes from the test Steward's own CA.
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 800 },
    });
    const page = await context.newPage();
    const origin = `https://${s.host}:${s.port}`;
    await page.goto(`${origin}/books?year=2026`);
    expect(new URL(page.url()).pathname).toBe('/.steward/auth/login');
    await expect(page.locator('h1').textContent()).resolves.toBe('Sign in');
    await expect(page.locator('.tenant').textContent()).resolves.toBe('Acme Corp');
    const axe = await readFile(join(process.cwd(), 'node_modules/axe-core/axe.min.js'), 'utf8');
    const audit = await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true });
    const audited = await audit.newPage();
    await audited.goto(page.url());
    await audited.addScriptTag({ content: axe });
    const violations = await audited.evaluate(async () => {
      const result = await (
        window as unknown as { axe: { run(): Promise<{ violations: { id: string }[] }> } }
      ).axe.run();
      return result.violations.map((v) => v.id);
    });
    expect(violations).toEqual([]);
    await audit.close();
    await mkdir(join(process.cwd(), 'test-artifacts/identity'), { recursive: true });
    const shot = join(process.cwd(), 'test-artifacts/identity/sign-in.png');
    await saveScreenshot(page, { path: shot });
    if (process.env.STEWARD_UPDATE_SCREENSHOTS === '1')
      await copyFile(shot, join(process.cwd(), 'docs/images/sign-in.png'));

    await page.fill('#username', 'dana');
    await page.fill('#password', 'wrong password');
    await page.click('button[type=submit]');
    await expect(page.locator('.err').textContent()).resolves.toBeTruthy();
    await page.fill('#password', 'correct horse battery staple');
    await page.click('button[type=submit]');
    await page.waitForURL(`${origin}/books?year=2026`);
    // The app (an echo) shows what reached it: the identity header, and no session cookie.
    const seen = JSON.parse((await page.locator('body').textContent()) ?? '{}') as {
      headers: Record<string, string>;
    };
    const identity = claimsOf(seen.headers['x-steward-identity'] ?? '');
    expect(identity).toMatchObject({
      sub: dana,
      user_name: 'dana',
      name: 'Dana Lee',
      groups: ['staff'],
      amr: ['pwd'],
    });
    expect(JSON.stringify(seen.headers)).not.toContain(sessionCookie);
    const cookies = await context.cookies(origin);
    expect(cookies.find((c) => c.name === sessionCookie)).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: 'Lax',
    });

    await page.goto(`${origin}/.steward/auth/logout`);
    await page.click('text=Sign out on every device');
    await expect(page.locator('[role=status]').textContent()).resolves.toBe(
      'You are signed out on every device.',
    );
    await page.goto(`${origin}/books`);
    expect(new URL(page.url()).pathname).toBe('/.steward/auth/login');
    await context.close();
  }, 60_000);
});
