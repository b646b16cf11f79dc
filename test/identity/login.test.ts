import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { addOperator, auditEvents, login, ManualClock, send, uniqueAddress } from './helpers.ts';

const limits = {
  maxFailuresPerAccount: 3,
  lockoutSeconds: 60,
  maxFailuresPerAddress: 5,
  addressWindowSeconds: 120,
};

describe('operator login', () => {
  let t: TestSteward;
  const clock = new ManualClock();
  beforeAll(async () => {
    t = await startTestSteward({ config: { login: limits }, clock });
  });
  afterAll(async () => {
    await t.close();
  });

  it('makes a one-time password be changed at first login, then the new one works and the old one does not', async () => {
    const added = await t.request('POST', '/api/v1/operators', { username: 'olga', role: 'operator' });
    expect(added.status).toBe(201);
    const oneTime = added.body.password as string;
    expect(oneTime.length).toBeGreaterThanOrEqual(12);
    expect(added.body.operator.mustChangePassword).toBe(true);

    const address = uniqueAddress();
    const refused = await login(t, { username: 'olga', password: oneTime }, address);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'forbidden', field: 'newPassword' });
    expect(refused.body.token).toBeUndefined();

    const same = await login(t, { username: 'olga', password: oneTime, newPassword: oneTime }, address);
    expect(same.status).toBe(400);
    expect(same.body.field).toBe('newPassword');

    const tooShort = await login(t, { username: 'olga', password: oneTime, newPassword: 'short' }, address);
    expect(tooShort.status).toBe(400);
    expect(tooShort.body.field).toBe('newPassword');

    const changed = await login(
      t,
      { username: 'olga', password: oneTime, newPassword: 'olga-chose-this-one' },
      address,
    );
    expect(changed.status).toBe(200);
    expect(changed.body.token).toMatch(/^stw_/);
    const whoami = await t.request('GET', '/api/v1/auth/whoami', undefined, changed.body.token);
    expect(whoami.body).toMatchObject({ username: 'olga', role: 'operator' });

    const old = await login(t, { username: 'olga', password: oneTime }, address);
    expect(old.status).toBe(401);
    const again = await login(t, { username: 'olga', password: 'olga-chose-this-one' }, address);
    expect(again.status).toBe(200);

    const [row] = await t.query<{ must_change_password: boolean }>(
      'select must_change_password from operators where username = $1',
      ['olga'],
      t.controlDatabase,
    );
    expect(row?.must_change_password).toBe(false);
    const logins = await auditEvents(t, 'operator.login', 'operator/olga');
    expect(logins.filter((e) => e.outcome === 'success').map((e) => e.details.passwordChanged)).toEqual([
      true,
      undefined,
    ]);
  });

  it('refuses a wrong password with 401 and records a failed login in the audit log', async () => {
    const who = await addOperator(t, 'wanda');
    const address = uniqueAddress();
    const wrong = await login(t, { username: who.username, password: 'not-the-password' }, address);
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('unauthorized');
    expect(wrong.body.token).toBeUndefined();
    const unknown = await login(t, { username: 'nobody-here', password: 'not-the-password' }, address);
    expect(unknown.status).toBe(401);
    // The same message either way: the answer does not tell whether the account exists.
    expect(unknown.body.message).toBe(wrong.body.message);

    const failures = await auditEvents(t, 'operator.login', 'operator/wanda');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      actor: 'operator:wanda',
      outcome: 'failure',
      address,
      details: { reason: 'wrong password' },
    });
    const unknownEvents = await auditEvents(t, 'operator.login', 'operator/nobody-here');
    expect(unknownEvents.map((e) => e.outcome)).toEqual(['failure']);
    const verify = await t.request('GET', '/api/v1/audit/verify');
    expect(verify.body.ok).toBe(true);
  });

  it('keeps the last login time and address, and the audit event carries the previous one', async () => {
    const who = await addOperator(t, 'lars');
    const before = await t.request('GET', '/api/v1/operators');
    expect(before.body.operators.find((o: { username: string }) => o.username === 'lars').lastLoginAt).toBe(
      null,
    );
    const first = clock.now();
    const address = uniqueAddress();
    expect((await login(t, who, address)).status).toBe(200);
    clock.advance(3600);
    const second = clock.now();
    expect((await login(t, who, address)).status).toBe(200);

    const listed = await t.request('GET', '/api/v1/operators');
    const lars = listed.body.operators.find((o: { username: string }) => o.username === 'lars');
    expect(lars.lastLoginAt).toBe(second.toISOString());
    const [row] = await t.query<{ last_login_address: string }>(
      'select last_login_address from operators where username = $1',
      ['lars'],
      t.controlDatabase,
    );
    expect(row?.last_login_address).toBe(address);
    const events = await auditEvents(t, 'operator.login', 'operator/lars');
    expect(events.map((e) => e.details.previousLoginAt)).toEqual([null, first.toISOString()]);
  });

  it('locks an account after repeated failures, even for the right password, and unlocks it after the lockout', async () => {
    const who = await addOperator(t, 'luke');
    // Failures from several addresses, so that only the per-account limit can be what locks.
    for (let i = 0; i < limits.maxFailuresPerAccount; i++) {
      const res = await login(t, { username: 'luke', password: `wrong-guess-${i}` }, uniqueAddress());
      expect(res.status).toBe(401);
    }
    const locked = await login(t, who, uniqueAddress());
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe('rate_limited');
    expect(locked.body.token).toBeUndefined();
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(limits.lockoutSeconds);

    const listed = await t.request('GET', '/api/v1/operators');
    expect(
      listed.body.operators.find((o: { username: string }) => o.username === 'luke').lockedUntil,
    ).not.toBe(null);
    const events = await auditEvents(t, 'operator.login', 'operator/luke');
    expect(events.map((e) => e.outcome)).toEqual(['failure', 'failure', 'failure', 'failure']);
    expect(events[2]?.details).toMatchObject({ locked: true, lockoutSeconds: limits.lockoutSeconds });
    expect(events[3]?.details).toMatchObject({ reason: 'account locked' });

    // Still locked just before the end, free after it.
    clock.advance(limits.lockoutSeconds - 5);
    expect((await login(t, who, uniqueAddress())).status).toBe(429);
    clock.advance(10);
    const after = await login(t, who, uniqueAddress());
    expect(after.status).toBe(200);
    expect(after.body.token).toMatch(/^stw_/);
  });

  it('counts failures from the start again after a successful login', async () => {
    const who = await addOperator(t, 'resi');
    const address = uniqueAddress();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < limits.maxFailuresPerAccount - 1; i++)
        expect((await login(t, { username: 'resi', password: 'wrong-guess' }, address)).status).toBe(401);
      expect((await login(t, who, address)).status).toBe(200);
    }
  });

  it('refuses concurrent guesses beyond the limit: the lockout cannot be raced', async () => {
    const who = await addOperator(t, 'rita');
    const guesses = Array.from({ length: 12 }, (_, i) =>
      login(t, { username: 'rita', password: `parallel-guess-${i}` }, uniqueAddress()),
    );
    const results = await Promise.all(guesses);
    expect(results.every((r) => r.status === 401 || r.status === 429)).toBe(true);
    const events = await auditEvents(t, 'operator.login', 'operator/rita');
    const checked = events.filter((e) => e.details.reason === 'wrong password');
    // Only as many passwords are tried as the limit allows; the rest are refused unchecked.
    expect(checked.length).toBeLessThanOrEqual(limits.maxFailuresPerAccount);
    expect((await login(t, who, uniqueAddress())).status).toBe(429);
    clock.advance(limits.lockoutSeconds + 1);
  });

  it('throttles an address after repeated failures, across accounts, with a retry-after header', async () => {
    const who = await addOperator(t, 'anna');
    const address = uniqueAddress();
    for (let i = 0; i < limits.maxFailuresPerAddress; i++) {
      const res = await login(t, { username: `guess-${i}`, password: 'whatever-it-is' }, address);
      expect(res.status).toBe(401);
    }
    const throttled = await login(t, who, address);
    expect(throttled.status).toBe(429);
    expect(throttled.body.code).toBe('rate_limited');
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(limits.addressWindowSeconds);
    expect(throttled.body.retryAfterSeconds).toBe(retryAfter);
    const denied = await auditEvents(t, 'operator.login', 'operator/anna');
    expect(denied.map((e) => [e.outcome, e.address])).toEqual([['denied', address]]);

    // Another address is not affected, and the account itself is not locked.
    expect((await login(t, who, uniqueAddress())).status).toBe(200);

    clock.advance(limits.addressWindowSeconds + 1);
    expect((await login(t, who, address)).status).toBe(200);
  });

  it('does not let a successful login with one account clear the failures of guesses at others', async () => {
    const mine = await addOperator(t, 'mallory');
    const address = uniqueAddress();
    let attempts = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < limits.maxFailuresPerAddress - 1; i++) {
        const res = await login(t, { username: `victim-${i}`, password: `guess-${round}-${i}` }, address);
        attempts++;
        if (res.status === 429) break;
      }
      await login(t, mine, address);
    }
    // Three rounds of four guesses each exceeds the address limit: the throttle must have kicked in.
    const guesses = await t.query<{ n: string }>(
      "select count(*) as n from audit_events where action = 'operator.login' and address = $1 and details->>'reason' = 'unknown operator'",
      [address],
      t.controlDatabase,
    );
    expect(attempts).toBeGreaterThan(limits.maxFailuresPerAddress);
    expect(Number(guesses[0]?.n)).toBeLessThanOrEqual(limits.maxFailuresPerAddress);
    clock.advance(limits.addressWindowSeconds + 1);
  });

  it('refuses malformed login bodies with 400 and the field named', async () => {
    const missing = await login(t, { username: 'anna' }, uniqueAddress());
    expect(missing.status).toBe(400);
    expect(missing.body.field).toBe('password');
    const unknownField = await login(t, { username: 'anna', password: 'x', admin: true }, uniqueAddress());
    expect(unknownField.status).toBe(400);
    const get = await send(t, 'GET', '/api/v1/auth/whoami', { token: null });
    expect(get.status).toBe(401);
  });
});
