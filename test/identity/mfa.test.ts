import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/identity/credentials.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { addOperator, auditEvents, login, ManualClock, tokenFor, uniqueAddress } from './helpers.ts';

describe('operator MFA', () => {
  let t: TestSteward;
  const clock = new ManualClock();
  beforeAll(async () => {
    t = await startTestSteward({
      config: { login: { maxFailuresPerAccount: 50, maxFailuresPerAddress: 500 } },
      clock,
    });
  });
  afterAll(async () => {
    await t.close();
  });

  /** Moves to the next 30-second TOTP step, so that a fresh code is due. */
  const nextStep = (): void => clock.advance(30);

  async function enrolled(username: string): Promise<{
    who: { username: string; password: string };
    token: string;
    secret: string;
    recoveryCodes: string[];
  }> {
    const who = await addOperator(t, username);
    const token = await tokenFor(t, who);
    const enrol = await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, token);
    expect(enrol.status).toBe(200);
    const secret = enrol.body.secret as string;
    const verified = await t.request(
      'POST',
      '/api/v1/auth/mfa/verify',
      { code: await totpCode(secret, clock.now()) },
      token,
    );
    expect(verified.status).toBe(200);
    return { who, token, secret, recoveryCodes: verified.body.recoveryCodes as string[] };
  }

  it('enrols, verifies, then requires a code at login; a code cannot be replayed', async () => {
    const who = await addOperator(t, 'mia');
    const token = await tokenFor(t, who);
    const enrol = await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, token);
    expect(enrol.status).toBe(200);
    const secret = enrol.body.secret as string;
    expect(enrol.body.uri).toMatch(/^otpauth:\/\/totp\//);
    expect(enrol.body.uri).toContain(`secret=${secret}`);

    // Not enforced until a code confirms the enrolment.
    expect((await login(t, who, uniqueAddress())).status).toBe(200);
    const wrong = await t.request('POST', '/api/v1/auth/mfa/verify', { code: '000000' }, token);
    if ((await totpCode(secret, clock.now())) !== '000000') {
      expect(wrong.status).toBe(400);
      expect(wrong.body.field).toBe('code');
    }
    expect((await login(t, who, uniqueAddress())).status).toBe(200);

    const enrolmentCode = await totpCode(secret, clock.now());
    const verified = await t.request('POST', '/api/v1/auth/mfa/verify', { code: enrolmentCode }, token);
    expect(verified.status).toBe(200);
    const codes = verified.body.recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);

    const withoutCode = await login(t, who, uniqueAddress());
    expect(withoutCode.status).toBe(401);
    expect(withoutCode.body.field).toBe('totp');
    expect(withoutCode.body.token).toBeUndefined();
    // The code that confirmed the enrolment is spent.
    const enrolmentAgain = await login(t, { ...who, totp: enrolmentCode }, uniqueAddress());
    expect(enrolmentAgain.status).toBe(401);

    nextStep();
    const code = await totpCode(secret, clock.now());
    const wrongPassword = await login(t, { username: 'mia', password: 'not-her-password', totp: code });
    expect(wrongPassword.status).toBe(401);
    const ok = await login(t, { ...who, totp: code }, uniqueAddress());
    expect(ok.status).toBe(200);
    expect(ok.body.token).toMatch(/^stw_/);
    const replay = await login(t, { ...who, totp: code }, uniqueAddress());
    expect(replay.status).toBe(401);
    expect(replay.body.token).toBeUndefined();

    // A device 30 s ahead is tolerated; after its code, the (unused) code of the current step is refused.
    nextStep();
    const ahead = await totpCode(secret, new Date(clock.now().getTime() + 30_000));
    const current = await totpCode(secret, clock.now());
    expect((await login(t, { ...who, totp: ahead }, uniqueAddress())).status).toBe(200);
    if (current !== ahead)
      expect((await login(t, { ...who, totp: current }, uniqueAddress())).status).toBe(401);
    nextStep();

    // A code far from now is refused.
    nextStep();
    const stale = await totpCode(secret, new Date(clock.now().getTime() - 10 * 60_000));
    expect((await login(t, { ...who, totp: stale }, uniqueAddress())).status).toBe(401);

    const events = await auditEvents(t, 'operator.login', 'operator/mia');
    expect(events.filter((e) => e.outcome === 'failure').map((e) => e.details.reason)).toContain(
      'wrong or missing second factor',
    );
    expect(events.filter((e) => e.outcome === 'success').at(-1)?.details.mfa).toBe(true);
    const actions = (
      await t.query<{ action: string }>(
        "select action from audit_events where target = 'operator/mia' and action like 'operator.mfa.%' order by seq",
        [],
        t.controlDatabase,
      )
    ).map((r) => r.action);
    expect(actions).toEqual(['operator.mfa.enroll', 'operator.mfa.enable']);
  });

  it('lets exactly one of four concurrent logins with the same code through', async () => {
    const { who, secret } = await enrolled('cora');
    nextStep();
    const code = await totpCode(secret, clock.now());
    const results = await Promise.all(
      Array.from({ length: 4 }, () => login(t, { ...who, totp: code }, uniqueAddress())),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401]);
  });

  it('accepts each recovery code once, and not after MFA is reset', async () => {
    const { who, recoveryCodes } = await enrolled('remy');
    const [first, second, third] = recoveryCodes;
    const used = await login(t, { ...who, recoveryCode: first }, uniqueAddress());
    expect(used.status).toBe(200);
    const again = await login(t, { ...who, recoveryCode: first }, uniqueAddress());
    expect(again.status).toBe(401);
    // Typed in upper case with spaces around, as people do.
    expect(
      (await login(t, { ...who, recoveryCode: ` ${second!.toUpperCase()} ` }, uniqueAddress())).status,
    ).toBe(200);
    expect(
      (await login(t, { ...who, recoveryCode: 'abcde-abcde-abcde-abcde' }, uniqueAddress())).status,
    ).toBe(401);
    const concurrent = await Promise.all(
      [0, 1, 2].map(() => login(t, { ...who, recoveryCode: third }, uniqueAddress())),
    );
    expect(concurrent.map((r) => r.status).sort()).toEqual([200, 401, 401]);

    const [row] = await t.query<{ recovery_codes: string[] }>(
      'select recovery_codes from operators where username = $1',
      ['remy'],
      t.controlDatabase,
    );
    expect(row?.recovery_codes).toHaveLength(7);
    const stored = JSON.stringify(row?.recovery_codes);
    for (const code of recoveryCodes) expect(stored).not.toContain(code);
  });

  it('keeps the TOTP secret and recovery codes out of the control database in plain text', async () => {
    const { secret, recoveryCodes } = await enrolled('sven');
    const dump = await t.query<{ row: string }>(
      "select row_to_json(o)::text as row from operators o union all select encode(ciphertext, 'escape') from secrets union all select row_to_json(a)::text from audit_events a",
      [],
      t.controlDatabase,
    );
    const text = dump.map((r) => r.row).join('\n');
    expect(text).not.toContain(secret);
    for (const code of recoveryCodes) expect(text).not.toContain(code);
    expect(t.logs()).not.toContain(secret);
  });

  it('refuses a second enrolment while MFA is on, and a verification without enrolment', async () => {
    const { token } = await enrolled('erik');
    const again = await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, token);
    expect(again.status).toBe(409);
    const fresh = await tokenFor(t, await addOperator(t, 'fred'));
    const verify = await t.request('POST', '/api/v1/auth/mfa/verify', { code: '123456' }, fresh);
    expect(verify.status).toBe(409);
    const malformed = await t.request('POST', '/api/v1/auth/mfa/verify', { code: '12345a' }, fresh);
    expect(malformed.status).toBe(400);
    expect(malformed.body.field).toBe('code');
  });

  it('lets an enrolment be restarted before it is verified; only the newest secret counts', async () => {
    const who = await addOperator(t, 'nora');
    const token = await tokenFor(t, who);
    const first = await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, token);
    const second = await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, token);
    expect(second.status).toBe(200);
    expect(second.body.secret).not.toBe(first.body.secret);
    const oldCode = await totpCode(first.body.secret as string, clock.now());
    const newCode = await totpCode(second.body.secret as string, clock.now());
    if (oldCode !== newCode) {
      expect((await t.request('POST', '/api/v1/auth/mfa/verify', { code: oldCode }, token)).status).toBe(400);
    }
    expect((await t.request('POST', '/api/v1/auth/mfa/verify', { code: newCode }, token)).status).toBe(200);
  });

  it('lets an owner reset MFA (audited); an operator may not; afterwards the old codes are void', async () => {
    const { who, secret, recoveryCodes } = await enrolled('lost-phone');
    const colleague = await tokenFor(t, await addOperator(t, 'colleague'));
    const forbidden = await t.request('POST', '/api/v1/operators/lost-phone/mfa/reset', undefined, colleague);
    expect(forbidden.status).toBe(403);
    expect((await login(t, who, uniqueAddress())).status).toBe(401);

    const reset = await t.request('POST', '/api/v1/operators/lost-phone/mfa/reset');
    expect(reset.status).toBe(200);
    const missing = await t.request('POST', '/api/v1/operators/no-such-operator/mfa/reset');
    expect(missing.status).toBe(404);

    const plain = await login(t, who, uniqueAddress());
    expect(plain.status).toBe(200);
    const listed = await t.request('GET', '/api/v1/operators');
    expect(listed.body.operators.find((o: { username: string }) => o.username === 'lost-phone').mfa).toBe(
      false,
    );
    const events = await auditEvents(t, 'operator.mfa.reset', 'operator/lost-phone');
    expect(events).toHaveLength(1);
    expect(events[0]?.actor).toBe('operator:admin');
    const [row] = await t.query<{ id: string }>(
      'select id from operators where username = $1',
      ['lost-phone'],
      t.controlDatabase,
    );
    const secrets = await t.query(
      'select name from secrets where name = $1',
      [`operator/${row?.id}/totp`],
      t.controlDatabase,
    );
    expect(secrets).toEqual([]);

    // Enrol again with a new device: the old secret and recovery codes are worth nothing.
    const token = plain.body.token as string;
    const enrol = await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, token);
    expect(enrol.body.secret).not.toBe(secret);
    nextStep();
    expect(
      (
        await t.request(
          'POST',
          '/api/v1/auth/mfa/verify',
          { code: await totpCode(enrol.body.secret as string, clock.now()) },
          token,
        )
      ).status,
    ).toBe(200);
    nextStep();
    const oldCode = await totpCode(secret, clock.now());
    const newCode = await totpCode(enrol.body.secret as string, clock.now());
    if (oldCode !== newCode)
      expect((await login(t, { ...who, totp: oldCode }, uniqueAddress())).status).toBe(401);
    expect((await login(t, { ...who, recoveryCode: recoveryCodes[0] }, uniqueAddress())).status).toBe(401);
    expect((await login(t, { ...who, totp: newCode }, uniqueAddress())).status).toBe(200);
  });
});
