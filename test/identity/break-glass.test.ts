import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/identity/credentials.ts';
import { sessionCookie } from '../../src/identity/sessions/index.ts';
import { within } from '../gateway/support.ts';
import { apiCli } from '../harness/api-cli.ts';
import { startIdentityStage, type IdentityStage } from '../harness/identity.ts';
import { uniqueAddress, send } from './helpers.ts';

/**
 * Break-glass through the real edge (issue 13 part 8): the stage requires
 * sign-in and an operator has no way in; a grant (a reason, an end) gives a
 * one-time link to the stage's own host whose page opens an edge session
 * (amr break_glass) that HAProxy lets through until the grant ends or is
 * closed; the tenant's admins see it and its login log records it.
 */
const tenant = 'glassco';
let s: IdentityStage;

const cookieOf = (set: string | string[] | undefined, name: string): string | undefined =>
  [set ?? []]
    .flat()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0]
    ?.slice(name.length + 1);

const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

/** Follows a break-glass link as a browser: the page (a button, nothing used), then its POST. */
async function redeem(link: string): Promise<{ status: number; session: string | undefined; body: string }> {
  const url = new URL(link);
  const page = await s.get(`${url.pathname}${url.search}`);
  expect(page.status).toBe(200);
  const csrf = cookieOf(page.headers['set-cookie'], '__Host-steward-csrf') ?? '';
  const token = url.searchParams.get('token') ?? '';
  expect(page.body).toContain(`name="token" value="${token}"`);
  const post = await s.get('/.steward/auth/break-glass', {
    method: 'POST',
    cookie: `__Host-steward-csrf=${csrf}`,
    headers: { origin: `https://${s.host}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, token }).toString(),
  });
  return {
    status: post.status,
    session: cookieOf(post.headers['set-cookie'], sessionCookie),
    body: post.body,
  };
}

beforeAll(async () => {
  s = await startIdentityStage({ tenant, signIn: 'required' });
}, 120_000);

afterAll(async () => {
  await s?.close();
}, 60_000);

describe('break-glass', () => {
  let grantId = '';
  let session = '';

  it('leaves an operator no way into a stage that requires sign-in without a grant', async () => {
    const page = await s.get('/', { headers: { authorization: `Bearer ${s.t.token}` } });
    expect(page.status).toBe(302);
    expect(page.headers.location).toMatch(/^\/\.steward\/auth\/login/);
    expect((await s.get('/.steward/auth/break-glass?token=stb_nothing')).status).toBe(200);
    const forged = await redeem(`https://${s.host}/.steward/auth/break-glass?token=stb_${'x'.repeat(43)}`);
    expect(forged.status).toBe(403);
    expect(forged.session).toBeUndefined();
  });

  it('refuses a grant without a reason, past its bounds, or to a stage that does not exist, and changes nothing', async () => {
    const url = `/api/v1/tenants/${tenant}/stages/prod/break-glass`;
    const cases: [unknown, number, RegExp][] = [
      [{}, 400, /reason/],
      [{ reason: 'because' }, 400, /field "reason": "because" is not accepted/],
      [{ reason: 'incident 7: checkout fails', minutes: 481 }, 400, /minutes/],
      [{ reason: 'incident 7: checkout fails', minutes: 0 }, 400, /minutes/],
    ];
    for (const [body, status, message] of cases) {
      const res = await s.t.request('POST', url, body);
      expect(res.status, res.text).toBe(status);
      expect(res.body.message).toMatch(message);
    }
    const nowhere = await s.t.request('POST', `/api/v1/tenants/${tenant}/stages/qa/break-glass`, {
      reason: 'incident 7: checkout fails',
    });
    expect(nowhere.status).toBe(404);
    // A person's own sign-in, never an automation token.
    const automation = await s.t.request('POST', '/api/v1/tokens', { name: 'ci' });
    const byToken = await s.t.request(
      'POST',
      url,
      { reason: 'incident 7: checkout fails' },
      automation.body.token as string,
    );
    expect(byToken.status).toBe(403);
    expect(byToken.body.message).toMatch(/own sign-in/);
    expect((await s.t.request('GET', `/api/v1/tenants/${tenant}/break-glass`)).body.grants).toEqual([]);
  });

  it('opens with a reason: a one-time link on the stage host whose session HAProxy lets through, as the operator', async () => {
    const opened = await s.t.request('POST', `/api/v1/tenants/${tenant}/stages/prod/break-glass`, {
      reason: 'incident 7: checkout fails for every user',
      minutes: 30,
    });
    expect(opened.status, opened.text).toBe(201);
    grantId = opened.body.grant.id as string;
    expect(opened.body.grant).toMatchObject({ stage: 'prod', operator: 'admin', state: 'unused' });
    const link = new URL(opened.body.link as string);
    expect(link.hostname).toBe(s.host);
    // The port the edge listens on (chosen at start here), not the configured 0.
    expect(link.port).toBe(String(s.port));
    expect(link.pathname).toBe('/.steward/auth/break-glass');
    // Showing the page uses nothing.
    await s.get(`${link.pathname}${link.search}`);
    const first = await redeem(opened.body.link as string);
    expect(first.status, first.body).toBe(303);
    session = first.session ?? '';
    const claims = claimsOf(session);
    expect(claims).toMatchObject({ sub: 'operator:admin', amr: ['break_glass'], tenant, stage: 'prod' });
    expect(Number(claims.exp) * 1000).toBeLessThanOrEqual(Date.parse(opened.body.grant.expiresAt as string));
    const app = await s.get('/books', { cookie: `${sessionCookie}=${session}` });
    expect(app.status, app.body).toBe(200);
    expect(s.appHeaders(app)?.['x-steward-identity']).toBe(session);
    // Good once.
    const again = await redeem(opened.body.link as string);
    expect(again.status).toBe(403);
    expect(again.body).toContain('already used');
    const [row] = await s.t.query<{ absolute_expires_at: Date }>(
      "select absolute_expires_at from end_user_sessions where subject = 'operator:admin'",
      [],
      s.t.controlDatabase,
    );
    expect(row?.absolute_expires_at.toISOString()).toBe(opened.body.grant.expiresAt);
  });

  it("is visible to the tenant's admins (invited, accepted on the tenant's host with password and TOTP), and in its login log with the reason", async () => {
    const email = `it@${tenant}.example`;
    expect((await s.t.request('POST', `/api/v1/tenants/${tenant}/admins`, { email })).status).toBe(201);
    // No mail server here: the invitation's link is read from the outbox it waits in.
    const [mail] = await s.t.query<{ payload: unknown }>(
      "select payload from notification_outbox where kind = 'tenant-admin-invite'",
      [],
      s.t.controlDatabase,
    );
    const link = /https:\/\/[^\s"\\]+\/\.steward\/auth\/admin-invite\?token=sti_[A-Za-z0-9_-]{43}/.exec(
      JSON.stringify(mail?.payload),
    )?.[0];
    expect(link).toContain(`https://${tenant}.localhost:${s.port}/`);
    const { pathname, search } = new URL(link ?? '');
    const view = await s.get(`${pathname}${search}`);
    expect(view.status, view.body).toBe(200);
    expect(view.body).toContain(email);
    const csrf = cookieOf(view.headers['set-cookie'], '__Host-steward-csrf') ?? '';
    const secret = /name="secret" value="([A-Z2-7]{32})"/.exec(view.body)?.[1] ?? '';
    const submit = (fields: Record<string, string>) =>
      s.get('/.steward/auth/admin-invite', {
        method: 'POST',
        cookie: `__Host-steward-csrf=${csrf}`,
        headers: { origin: `https://${s.host}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          csrf,
          token: new URLSearchParams(search).get('token') ?? '',
          secret,
          ...fields,
        }).toString(),
      });
    const password = 'it-admin-password-1';
    const wrong = await submit({ password, confirm: password, code: '000000' });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toContain('the code does not match the key');
    const done = await submit({ password, confirm: password, code: await totpCode(secret, new Date()) });
    expect(done.status, done.body).toBe(200);
    expect(done.body.match(/<li><code>[0-9a-f-]{23}<\/code><\/li>/g)).toHaveLength(10);
    // Where to go next: the console, on the same edge.
    expect(done.body).toContain(`href="https://console.localhost:${s.port}/t/${tenant}/status"`);
    expect((await submit({ password, confirm: password, code: '123456' })).status).toBe(403);
    const signedIn = await send(s.t, 'POST', '/api/v1/auth/login', {
      body: { username: email, password, totp: await totpCode(secret, new Date(Date.now() + 30_000)) },
      token: null,
      address: uniqueAddress(),
    });
    expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(200);
    const adminToken = signedIn.body.token as string;

    const seen = await s.t.request('GET', `/api/v1/tenants/${tenant}/break-glass`, undefined, adminToken);
    expect(seen.status, seen.text).toBe(200);
    expect(seen.body.grants).toEqual([
      expect.objectContaining({
        id: grantId,
        operator: 'admin',
        state: 'active',
        reason: 'incident 7: checkout fails for every user',
      }),
    ]);
    const refusedOpen = await s.t.request(
      'POST',
      `/api/v1/tenants/${tenant}/stages/prod/break-glass`,
      { reason: 'the tenant admin tries it too' },
      adminToken,
    );
    expect(refusedOpen.status).toBe(403);
    const log = await s.t.request('GET', `/api/v1/tenants/${tenant}/login-log`, undefined, adminToken);
    expect(log.status, log.text).toBe(200);
    const lines = (log.body.events as { method: string; outcome: string; detail: string | null }[]).filter(
      (e) => e.method === 'break_glass',
    );
    expect(lines.map((e) => e.outcome).sort()).toEqual(['failure', 'failure', 'success', 'success']);
    expect(lines.filter((e) => e.outcome === 'success').every((e) => e.detail?.includes('incident 7'))).toBe(
      true,
    );
    const audit = await s.t.request('GET', `/api/v1/audit?tenant=${tenant}&action=break-glass.use`);
    expect(audit.body.events).toHaveLength(1);
  });

  it('closes: the session ends at the edge at once, and the link stays used', async () => {
    const closed = await s.t.request('POST', `/api/v1/break-glass/${grantId}/close`);
    expect(closed.status, closed.text).toBe(200);
    expect(closed.body).toMatchObject({ state: 'closed', closedBy: 'operator:admin' });
    await within(
      3000,
      async () => (await s.get('/books', { cookie: `${sessionCookie}=${session}` })).status === 302,
      'break-glass session refused after close',
    );
    const refresh = await s.get('/.steward/auth/refresh?rd=%2F', { cookie: `${sessionCookie}=${session}` });
    expect(refresh.headers.location).toMatch(/^\/\.steward\/auth\/login/);
    expect((await s.t.request('POST', `/api/v1/break-glass/${grantId}/close`)).status).toBe(200);
    expect(s.t.logs()).not.toMatch(/st[bi]_[A-Za-z0-9_-]{43}/);
  });
  it('the CLI: break-glass open and list', async () => {
    const cli = await apiCli(s.t);
    const opened = await cli(
      'break-glass',
      'open',
      tenant,
      'prod',
      '--reason',
      'ticket 4711: export stuck',
      '--minutes',
      '15',
    );
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toMatch(
      new RegExp(`https://prod\\.${tenant}\\.localhost:\\d+/\\.steward/auth/break-glass\\?token=stb_`),
    );
    const id = /break-glass (\d+) into/.exec(opened.stdout)?.[1] ?? '';
    expect((await s.t.request('POST', `/api/v1/break-glass/${id}/close`)).status).toBe(200);
    const listed = await cli('break-glass', 'list', tenant);
    expect(listed.stdout).toMatch(/ID +STAGE +OPERATOR +STATE/);
    expect(listed.stdout).toMatch(new RegExp(`${id} +prod +admin +closed .*ticket 4711: export stuck`));
  });
});
