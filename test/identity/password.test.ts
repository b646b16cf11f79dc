import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { addOperator, auditEvents, login, tokenFor, uniqueAddress } from './helpers.ts';

describe('passwords and the bootstrap owner', () => {
  let t: TestSteward;
  beforeAll(async () => {
    t = await startTestSteward();
  });
  afterAll(async () => {
    await t.close();
  });

  it('stores passwords as argon2id hashes, never in plain text', async () => {
    const who = await addOperator(t, 'hash-me', 'operator', 'a-password-to-hide');
    const [row] = await t.query<{ password_hash: string }>(
      'select password_hash from operators where username = $1',
      [who.username],
      t.controlDatabase,
    );
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const dump = await t.query<{ row: string }>(
      'select row_to_json(o)::text as row from operators o union all select row_to_json(a)::text from audit_events a',
      [],
      t.controlDatabase,
    );
    for (const r of dump) expect(r.row).not.toContain(who.password);
    expect(t.logs()).not.toContain(who.password);
  });

  it('changes a password with the current one; a wrong current password is refused and audited', async () => {
    const who = await addOperator(t, 'paula');
    const token = await tokenFor(t, who);
    const wrong = await t.request(
      'POST',
      '/api/v1/auth/password',
      { currentPassword: 'not-the-current', newPassword: 'brand-new-password' },
      token,
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body.field).toBe('currentPassword');
    const short = await t.request(
      'POST',
      '/api/v1/auth/password',
      { currentPassword: who.password, newPassword: 'short' },
      token,
    );
    expect(short.status).toBe(400);
    expect(short.body.field).toBe('newPassword');
    expect((await login(t, who, uniqueAddress())).status).toBe(200);

    const changed = await t.request(
      'POST',
      '/api/v1/auth/password',
      { currentPassword: who.password, newPassword: 'brand-new-password' },
      token,
    );
    expect(changed.status).toBe(200);
    expect((await login(t, who, uniqueAddress())).status).toBe(401);
    expect((await login(t, { ...who, password: 'brand-new-password' }, uniqueAddress())).status).toBe(200);
    const events = await auditEvents(t, 'operator.password.change', 'operator/paula');
    expect(events.map((e) => e.outcome)).toEqual(['failure', 'success']);
  });

  it('created the first owner once, with a password that must be changed', async () => {
    expect(await t.services.operators.bootstrapOwner()).toBeUndefined();
    const rows = await t.query<{ role: string; must_change_password: boolean }>(
      "select role, must_change_password from operators where username = 'admin'",
      [],
      t.controlDatabase,
    );
    expect(rows).toEqual([{ role: 'owner', must_change_password: true }]);
    const boot = await t.query<{ actor: string }>(
      "select actor from audit_events where action = 'operator.add' and target = 'operator/admin'",
      [],
      t.controlDatabase,
    );
    expect(boot).toEqual([{ actor: 'system' }]);
  });

  it('issues a new local CLI token and revokes the previous one', async () => {
    const before = t.token;
    expect((await t.request('GET', '/api/v1/tenants', undefined, before)).status).toBe(200);
    const issued = await t.services.operators.issueLocalToken();
    expect(issued.token).not.toBe(before);
    expect((await t.request('GET', '/api/v1/tenants', undefined, issued.token)).status).toBe(200);
    expect((await t.request('GET', '/api/v1/tenants', undefined, before)).status).toBe(401);
    const live = await t.query(
      "select id from api_tokens where name = 'local-cli' and revoked_at is null",
      [],
      t.controlDatabase,
    );
    expect(live).toEqual([{ id: issued.id }]);
  });
});
