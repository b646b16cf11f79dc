import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { addOperator, auditEvents, login, ManualClock, tokenFor, uniqueAddress } from './helpers.ts';

/**
 * Changes to an account (password, MFA, tokens) need the operator's own
 * sign-in, tokens live no longer than the cap, and a new password ends the
 * operator's other sessions.
 */
const maxTokenLifetimeDays = 10;

describe('account changes', () => {
  let t: TestSteward;
  const clock = new ManualClock();
  beforeAll(async () => {
    t = await startTestSteward({ config: { identity: { maxTokenLifetimeDays } }, clock });
  });
  afterAll(async () => {
    await t.close();
  });

  const tokenCount = async (): Promise<number> =>
    Number(
      (await t.query<{ n: string }>('select count(*) as n from api_tokens', [], t.controlDatabase))[0]?.n,
    );

  it('refuses every account change to an automation token, even one with the whole role', async () => {
    const who = await addOperator(t, 'otto', 'owner');
    const session = await tokenFor(t, who);
    const automation = await t.request('POST', '/api/v1/tokens', { name: 'ci', role: 'owner' }, session);
    expect(automation.status).toBe(201);
    expect(automation.body.kind).toBe('automation');
    const narrowed = await t.request('POST', '/api/v1/tokens', { name: 'ro', role: 'auditor' }, session);
    expect(narrowed.status).toBe(201);
    const before = await tokenCount();

    for (const token of [automation.body.token as string, narrowed.body.token as string]) {
      const changes = [
        ['/api/v1/auth/password', { currentPassword: who.password, newPassword: 'otto-took-over-here' }],
        ['/api/v1/auth/mfa/enroll', undefined],
        ['/api/v1/auth/mfa/verify', { code: '123456' }],
        ['/api/v1/tokens', { name: 'persist' }],
      ] as const;
      for (const [url, body] of changes) {
        const res = await t.request('POST', url, body, token);
        expect(res.status, url).toBe(403);
        expect(res.body.code).toBe('forbidden');
        expect(res.body.message).toMatch(/steward login/);
      }
      const revoke = await t.request('DELETE', `/api/v1/tokens/${automation.body.id}`, undefined, token);
      expect(revoke.status).toBe(403);
    }
    // Nothing changed: the old password works, no token was added or revoked, no MFA secret was stored.
    expect(await tokenCount()).toBe(before);
    expect((await login(t, who, uniqueAddress())).status).toBe(200);
    const [row] = await t.query<{ totp_secret: string | null }>(
      'select totp_secret from operators where username = $1',
      [who.username],
      t.controlDatabase,
    );
    expect(row?.totp_secret).toBeNull();
    expect((await t.request('GET', '/api/v1/tenants', undefined, automation.body.token)).status).toBe(200);

    // The operator's own sign-in may.
    expect((await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, session)).status).toBe(200);
    expect(
      (await t.request('DELETE', `/api/v1/tokens/${automation.body.id}`, undefined, session)).status,
    ).toBe(200);
  });

  it('caps token lifetimes: longer requests are refused with the field, the value and the cap', async () => {
    const before = await tokenCount();
    const tooLong = await t.request('POST', '/api/v1/tokens', { name: 'forever', expiresInDays: 11 });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body).toMatchObject({ code: 'input', field: 'expiresInDays' });
    expect(tooLong.body.message).toContain('11 days');
    expect(tooLong.body.message).toContain(`${maxTokenLifetimeDays} days`);
    expect(tooLong.body.message).toContain('identity.maxTokenLifetimeDays');
    expect(await tokenCount()).toBe(before);

    const unset = await t.request('POST', '/api/v1/tokens', { name: 'default' });
    expect(unset.status).toBe(201);
    expect(Date.parse(unset.body.expiresAt as string) - clock.now().getTime()).toBe(
      maxTokenLifetimeDays * 86_400_000,
    );
    const atCap = await t.request('POST', '/api/v1/tokens', {
      name: 'cap',
      expiresInDays: maxTokenLifetimeDays,
    });
    expect(atCap.status).toBe(201);

    const who = await addOperator(t, 'lena');
    const longLogin = await login(
      t,
      { ...who, expiresInHours: maxTokenLifetimeDays * 24 + 1 },
      uniqueAddress(),
    );
    expect(longLogin.status).toBe(400);
    expect(longLogin.body).toMatchObject({ code: 'input', field: 'expiresInHours' });
    expect(longLogin.body.message).toContain(`${maxTokenLifetimeDays * 24 + 1} hours`);
    expect(
      (await login(t, { ...who, expiresInHours: maxTokenLifetimeDays * 24 }, uniqueAddress())).status,
    ).toBe(200);
  });

  it("ends the operator's other sessions and tokens when the password changes, and keeps the one in use", async () => {
    const who = await addOperator(t, 'petra', 'operator');
    const current = await tokenFor(t, who);
    const otherSession = await tokenFor(t, who);
    const automation = await t.request('POST', '/api/v1/tokens', { name: 'deploy' }, current);
    expect(automation.status).toBe(201);
    const someoneElse = await tokenFor(t, await addOperator(t, 'quentin'));
    const uses = (token: string) => t.request('GET', '/api/v1/tenants', undefined, token);
    expect((await uses(otherSession)).status).toBe(200);

    const changed = await t.request(
      'POST',
      '/api/v1/auth/password',
      { currentPassword: who.password, newPassword: 'petra-has-a-new-one' },
      current,
    );
    expect(changed.status).toBe(200);
    expect((await uses(current)).status).toBe(200);
    expect((await uses(otherSession)).status).toBe(401);
    expect((await uses(automation.body.token as string)).status).toBe(401);
    expect((await uses(someoneElse)).status).toBe(200);
    expect((await uses(t.token)).status).toBe(200);
    const [event] = await auditEvents(t, 'operator.password.change', 'operator/petra');
    expect((event?.details.revokedTokens as string[]).sort()).toHaveLength(2);
  });
});
