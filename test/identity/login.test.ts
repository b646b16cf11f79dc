import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/identity/credentials.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { addOperator, auditEvents, login, ManualClock, send, uniqueAddress } from './helpers.ts';

const limits = {
  maxFailuresPerAccount: 3,
  lockoutSeconds: 60,
  maxFailuresPerAddress: 8,
  addressWindowSeconds: 120,
  maxUntrustedFailuresPerAccount: 6,
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

  it('locks an account for the address that guessed only: its owner signs in from another address', async () => {
    const who = await addOperator(t, 'luke');
    const attacker = uniqueAddress();
    const owner = uniqueAddress();
    let wrong: Awaited<ReturnType<typeof login>> | undefined;
    for (let i = 0; i < limits.maxFailuresPerAccount; i++) {
      wrong = await login(t, { username: 'luke', password: `wrong-guess-${i}` }, attacker);
      expect(wrong.status).toBe(401);
    }
    // Locked for the attacker's address, even with the right password, and told so in no other words.
    const locked = await login(t, who, attacker);
    expect(locked.status).toBe(401);
    expect(locked.body).toEqual(wrong?.body);
    expect(locked.body.token).toBeUndefined();
    // The owner, elsewhere, is not locked out; and signing in does not unlock the attacker.
    const owners = await login(t, who, owner);
    expect(owners.status).toBe(200);
    expect(owners.body.token).toMatch(/^stw_/);
    expect((await login(t, who, attacker)).status).toBe(401);

    const listed = await t.request('GET', '/api/v1/operators');
    expect(
      listed.body.operators.find((o: { username: string }) => o.username === 'luke').lockedUntil,
    ).not.toBe(null);
    const events = await auditEvents(t, 'operator.login', 'operator/luke');
    expect(events.map((e) => [e.outcome, e.address])).toEqual([
      ['failure', attacker],
      ['failure', attacker],
      ['failure', attacker],
      ['failure', attacker],
      ['success', owner],
      ['failure', attacker],
    ]);
    expect(events[2]?.details).toMatchObject({ locked: true, lockoutSeconds: limits.lockoutSeconds });
    expect(events[3]?.details).toMatchObject({ reason: 'account locked for this address' });

    // Still locked just before the end, free after it.
    clock.advance(limits.lockoutSeconds - 5);
    expect((await login(t, who, attacker)).status).toBe(401);
    clock.advance(10);
    const after = await login(t, who, attacker);
    expect(after.status).toBe(200);
    expect(after.body.token).toMatch(/^stw_/);
  });

  it('counts an IPv6 /64 as one address, for the lock and for the throttle', async () => {
    const who = await addOperator(t, 'vera');
    for (let i = 0; i < limits.maxFailuresPerAccount; i++) {
      const res = await login(t, { username: 'vera', password: `guess-${i}` }, `2001:db8:0:5::${i + 1}`);
      expect(res.status).toBe(401);
    }
    expect((await login(t, who, '2001:db8:0:5:ffff:ffff:ffff:ffff')).status).toBe(401);
    expect((await login(t, who, '2001:db8:0:6::1')).status).toBe(200);

    for (let i = 0; i < limits.maxFailuresPerAddress; i++) {
      const res = await login(
        t,
        { username: `spray-${i}`, password: 'whatever-it-is' },
        `2001:db8:0:7::${i + 1}`,
      );
      expect(res.status).toBe(401);
    }
    const throttled = await login(t, who, '2001:db8:0:7:abcd::1');
    expect(throttled.status).toBe(429);
    expect((await login(t, who, '2001:db8:0:8::1')).status).toBe(200);
    clock.advance(limits.addressWindowSeconds + limits.lockoutSeconds + 1);
  });

  it('answers an unknown name, a wrong password and a locked account alike, after the same work', async () => {
    const who = await addOperator(t, 'ida');
    const lockedAt = uniqueAddress();
    for (let i = 0; i < limits.maxFailuresPerAccount; i++)
      await login(t, { username: 'ida', password: `guess-${i}` }, lockedAt);
    const shape = (r: Awaited<ReturnType<typeof login>>): unknown => [
      r.status,
      r.body,
      Object.keys(r.headers).sort(),
    ];
    const kinds = {
      unknown: () => login(t, { username: 'no-such-ida', password: 'a-password-guess' }, uniqueAddress()),
      wrong: () => login(t, { username: 'ida', password: 'a-password-guess' }, uniqueAddress()),
      locked: () => login(t, who, lockedAt),
    };
    const times: Record<string, number[]> = { unknown: [], wrong: [], locked: [] };
    const answers: Record<string, unknown[]> = { unknown: [], wrong: [], locked: [] };
    for (let round = 0; round < 4; round++) {
      for (const [kind, attempt] of Object.entries(kinds)) {
        const started = process.cpuUsage();
        const reply = await attempt();
        const spent = process.cpuUsage(started);
        times[kind]?.push((spent.user + spent.system) / 1000);
        answers[kind]?.push(shape(reply));
      }
    }
    expect(answers.unknown?.[0]).toEqual([
      401,
      { code: 'unauthorized', message: 'wrong username or password' },
      expect.any(Array),
    ]);
    for (const kind of ['unknown', 'wrong', 'locked']) {
      for (const answer of answers[kind] ?? []) expect(answer, kind).toEqual(answers.unknown?.[0]);
    }
    // Each runs one argon2 verification; a shortcut would take a fraction of the CPU time of one. CPU time
    // (of this process, whose thread pool runs argon2), since a busy machine stretches wall-clock time.
    const hash = await hashPassword('a-password-to-verify');
    const started = process.cpuUsage();
    for (let i = 0; i < 4; i++) await verifyPassword(hash, 'not-this-one');
    const spent = process.cpuUsage(started);
    const alone = (spent.user + spent.system) / 1000;
    for (const kind of ['unknown', 'wrong', 'locked']) {
      expect(sum(times[kind]), JSON.stringify({ times, alone })).toBeGreaterThan(alone * 0.6);
    }
    clock.advance(limits.lockoutSeconds + 1);
  });

  it('bounds guessing at the first owner from many addresses without locking its owner out', async () => {
    // The first owner, whose name every stranger knows.
    const who = { username: 'admin', password: 'the-first-owner-chose-this' };
    await t.query(
      'update operators set password_hash = $1, must_change_password = false where username = $2',
      [await hashPassword(who.password), who.username],
      t.controlDatabase,
    );
    const home = uniqueAddress();
    expect((await login(t, who, home)).status).toBe(200);
    // A botnet: each address stays under the per-address lock, together they pass the account's bound.
    for (let i = 0; i <= limits.maxUntrustedFailuresPerAccount; i++) {
      expect((await login(t, { username: who.username, password: `bot-${i}` }, uniqueAddress())).status).toBe(
        401,
      );
    }
    expect((await login(t, who, uniqueAddress())).status).toBe(401);
    const events = await auditEvents(t, 'operator.login', `operator/${who.username}`);
    expect(events.at(-1)?.details).toMatchObject({ reason: 'too many failed logins from new addresses' });
    // Its owner, from where they signed in before, is not locked out.
    expect((await login(t, who, home)).status).toBe(200);
    clock.advance(limits.lockoutSeconds + 1);
    expect((await login(t, who, uniqueAddress())).status).toBe(200);
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
    const address = uniqueAddress();
    const guesses = Array.from({ length: 12 }, (_, i) =>
      login(t, { username: 'rita', password: `parallel-guess-${i}` }, address),
    );
    const results = await Promise.all(guesses);
    expect(results.every((r) => r.status === 401 || r.status === 429)).toBe(true);
    const events = await auditEvents(t, 'operator.login', 'operator/rita');
    const checked = events.filter((e) => e.details.reason === 'wrong password');
    // Only as many passwords are tried as the limit allows; the rest are refused unchecked.
    expect(checked.length).toBeLessThanOrEqual(limits.maxFailuresPerAccount);
    const listed = await t.request('GET', '/api/v1/operators');
    expect(
      listed.body.operators.find((o: { username: string }) => o.username === who.username).lockedUntil,
    ).not.toBe(null);
    clock.advance(limits.addressWindowSeconds + 1);
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

  it('still locks after a quiet spell: a counter whose window ran out starts a new one', async () => {
    const who = await addOperator(t, 'quinn');
    const attacker = uniqueAddress();
    expect((await login(t, { username: 'quinn', password: 'an-early-guess' }, attacker)).status).toBe(401);
    clock.advance(limits.lockoutSeconds + 1);
    for (let i = 0; i < limits.maxFailuresPerAccount; i++)
      await login(t, { username: 'quinn', password: `a-later-guess-${i}` }, attacker);
    expect((await login(t, who, attacker)).status).toBe(401);
    clock.advance(limits.lockoutSeconds + 1);
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

const sum = (xs: readonly number[] | undefined): number => (xs ?? []).reduce((a, b) => a + b, 0);
