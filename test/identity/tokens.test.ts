import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { addOperator, auditEvents, ManualClock, send, tokenFor } from './helpers.ts';

describe('API tokens and roles', () => {
  let t: TestSteward;
  const clock = new ManualClock();
  beforeAll(async () => {
    t = await startTestSteward({ clock });
  });
  afterAll(async () => {
    await t.close();
  });

  it('shows a token once and stores only its hash', async () => {
    const created = await t.request('POST', '/api/v1/tokens', { name: 'ci deploy', role: 'operator' });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    expect(token).toMatch(/^stw_[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({ name: 'ci deploy', role: 'operator', operator: 'admin' });
    expect(token.startsWith(created.body.prefix as string)).toBe(true);

    const listed = await t.request('GET', '/api/v1/tokens');
    expect(listed.status).toBe(200);
    const entry = listed.body.tokens.find((x: { id: string }) => x.id === created.body.id);
    expect(entry).toMatchObject({ name: 'ci deploy', role: 'operator' });
    expect(listed.text).not.toContain(token);

    const rows = await t.query<{ row: string; token_hash: string }>(
      'select row_to_json(a)::text as row, token_hash from api_tokens a',
      [],
      t.controlDatabase,
    );
    const sha = createHash('sha256').update(token).digest('hex');
    expect(rows.map((r) => r.token_hash)).toContain(sha);
    for (const r of rows) expect(r.row).not.toContain(token.slice(12));
    const audit = await t.query<{ row: string }>(
      'select row_to_json(e)::text as row from audit_events e',
      [],
      t.controlDatabase,
    );
    for (const r of audit) expect(r.row).not.toContain(token.slice(12));
    expect(t.logs()).not.toContain(token.slice(12));

    const whoami = await t.request('GET', '/api/v1/auth/whoami', undefined, token);
    expect(whoami.body).toMatchObject({ username: 'admin', role: 'operator', tokenId: created.body.id });
    const events = await auditEvents(t, 'token.create', `token/${created.body.id}`);
    expect(events).toHaveLength(1);
  });

  it('refuses a missing, malformed, unknown or differently-schemed token with 401', async () => {
    const unknown = `stw_${randomBytes(32).toString('base64url')}`;
    for (const token of [null, 'garbage', 'stw_short', unknown, `${t.token}x`]) {
      const res = await t.request('GET', '/api/v1/tenants', undefined, token);
      expect(res.status, String(token)).toBe(401);
      expect(res.body.code).toBe('unauthorized');
    }
    const basic = await t.api.inject({
      method: 'GET',
      url: '/api/v1/tenants',
      headers: { authorization: `Basic ${Buffer.from(`admin:${t.token}`).toString('base64')}` },
    });
    expect(basic.statusCode).toBe(401);
  });

  it('expires tokens: an API token after its days, a login token after its hours', async () => {
    const created = await t.request('POST', '/api/v1/tokens', { name: 'short-lived', expiresInDays: 1 });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    const who = await addOperator(t, 'ella');
    const loginToken = await tokenFor(t, who, { expiresInHours: 2 });
    expect((await t.request('GET', '/api/v1/tenants', undefined, token)).status).toBe(200);
    expect((await t.request('GET', '/api/v1/tenants', undefined, loginToken)).status).toBe(200);

    clock.advance(2 * 3600 + 1);
    expect((await t.request('GET', '/api/v1/tenants', undefined, loginToken)).status).toBe(401);
    expect((await t.request('GET', '/api/v1/tenants', undefined, token)).status).toBe(200);
    clock.advance(22 * 3600);
    expect((await t.request('GET', '/api/v1/tenants', undefined, token)).status).toBe(401);
    // The owner's token has no expiry.
    expect((await t.request('GET', '/api/v1/tenants')).status).toBe(200);
  });

  it('revokes a token at once; others may not revoke it', async () => {
    const who = await addOperator(t, 'rolf');
    const session = await tokenFor(t, who);
    const created = await t.request('POST', '/api/v1/tokens', { name: 'to-revoke' }, session);
    expect(created.status).toBe(201);
    expect(created.body.role).toBe('operator');
    const token = created.body.token as string;

    const other = await tokenFor(t, await addOperator(t, 'otto'));
    const notYours = await t.request('DELETE', `/api/v1/tokens/${created.body.id}`, undefined, other);
    expect(notYours.status).toBe(404);
    const theirList = await t.request('GET', '/api/v1/tokens', undefined, other);
    expect(theirList.body.tokens.map((x: { operator: string }) => x.operator)).toEqual(['otto']);
    expect((await t.request('GET', '/api/v1/tenants', undefined, token)).status).toBe(200);

    const revoked = await t.request('DELETE', `/api/v1/tokens/${created.body.id}`, undefined, session);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBe(null);
    expect((await t.request('GET', '/api/v1/tenants', undefined, token)).status).toBe(401);
    // The session that revoked it still works.
    expect((await t.request('GET', '/api/v1/tenants', undefined, session)).status).toBe(200);
    const events = await auditEvents(t, 'token.revoke', `token/${created.body.id}`);
    expect(events.map((e) => e.actor)).toEqual(['operator:rolf']);

    // An owner revokes another operator's token through the operators' route only, and names them.
    const otherSession = await tokenFor(t, { username: 'otto', password: 'otto-password-123' });
    const ottos = await t.request('GET', '/api/v1/tokens', undefined, otherSession);
    const ottoId = ottos.body.tokens[0].id as string;
    expect((await t.request('DELETE', `/api/v1/tokens/${ottoId}`)).status).toBe(404);
    expect((await t.request('DELETE', `/api/v1/operators/rolf/tokens/${ottoId}`)).status).toBe(404);
    const byOwner = await t.request('DELETE', `/api/v1/operators/otto/tokens/${ottoId}`);
    expect(byOwner.status).toBe(200);
    expect(byOwner.body).toMatchObject({ operator: 'otto' });
    expect((await t.request('GET', '/api/v1/tenants', undefined, other)).status).toBe(401);
    const ownerEvents = await auditEvents(t, 'token.revoke', `token/${ottoId}`);
    expect(ownerEvents.map((e) => [e.actor, e.details.operator])).toEqual([['operator:admin', 'otto']]);
    expect(
      (await t.request('DELETE', `/api/v1/operators/otto/tokens/${ottoId}`, undefined, session)).status,
    ).toBe(403);
    expect((await t.request('DELETE', '/api/v1/tokens/not-a-number')).status).toBe(400);
    expect((await t.request('DELETE', '/api/v1/tokens/999999999')).status).toBe(404);
  });

  it('scopes tokens to roles: nobody mints a token above their role', async () => {
    const op = await tokenFor(t, await addOperator(t, 'oscar', 'operator'));
    const ownerToken = await t.request('POST', '/api/v1/tokens', { name: 'escalate', role: 'owner' }, op);
    expect(ownerToken.status).toBe(403);
    expect(ownerToken.body.field).toBe('role');
    const aud = await tokenFor(t, await addOperator(t, 'ada', 'auditor'));
    const opToken = await t.request('POST', '/api/v1/tokens', { name: 'escalate', role: 'operator' }, aud);
    expect(opToken.status).toBe(403);
    const audToken = await t.request('POST', '/api/v1/tokens', { name: 'reader' }, aud);
    expect(audToken.status).toBe(201);
    expect(audToken.body.role).toBe('auditor');
    const rows = await t.query("select 1 from api_tokens where name = 'escalate'", [], t.controlDatabase);
    expect(rows).toEqual([]);

    // An operator may not manage operators.
    const add = await t.request(
      'POST',
      '/api/v1/operators',
      { username: 'sneaky', role: 'owner', password: 'sneaky-password-1' },
      op,
    );
    expect(add.status).toBe(403);
    expect((await t.request('DELETE', '/api/v1/operators/admin', undefined, op)).status).toBe(403);
  });

  it('lets an auditor token read tenants and the audit log but change nothing', async () => {
    const scoped = await t.request('POST', '/api/v1/tokens', { name: 'auditor-scope', role: 'auditor' });
    const tokens = [scoped.body.token as string, await tokenFor(t, await addOperator(t, 'aude', 'auditor'))];
    for (const token of tokens) {
      const create = await t.request('POST', '/api/v1/tenants', { slug: 'no-way', stages: ['dev'] }, token);
      expect(create.status).toBe(403);
      expect(create.body.code).toBe('forbidden');
      expect((await t.request('GET', '/api/v1/tenants', undefined, token)).status).toBe(200);
      const audit = await t.request('GET', '/api/v1/audit', undefined, token);
      expect(audit.status).toBe(200);
      expect(audit.body.events.length).toBeGreaterThan(0);
      expect((await t.request('GET', '/api/v1/audit/verify', undefined, token)).status).toBe(200);
      expect((await t.request('GET', '/api/v1/operators', undefined, token)).status).toBe(200);
      const add = await t.request(
        'POST',
        '/api/v1/operators',
        { username: 'nope', role: 'auditor', password: 'nope-password-12' },
        token,
      );
      expect(add.status).toBe(403);
      expect((await t.request('POST', '/api/v1/secrets/rotate-master-key', {}, token)).status).toBe(403);
      expect((await t.request('POST', '/api/v1/secrets/purge-retired-keys', {}, token)).status).toBe(403);
      expect((await t.request('GET', '/api/v1/secrets/master-keys', undefined, token)).status).toBe(403);
    }
    const tenants = await t.query("select 1 from tenants where slug = 'no-way'", [], t.controlDatabase);
    expect(tenants).toEqual([]);
    const ops = await t.query("select 1 from operators where username = 'nope'", [], t.controlDatabase);
    expect(ops).toEqual([]);
  });

  it('removing an operator invalidates their tokens and is audited', async () => {
    const who = await addOperator(t, 'leaver');
    const session = await tokenFor(t, who);
    const api = await t.request('POST', '/api/v1/tokens', { name: 'cron' }, session);
    expect((await t.request('GET', '/api/v1/tenants', undefined, api.body.token)).status).toBe(200);

    const removed = await t.request('DELETE', '/api/v1/operators/leaver');
    expect(removed.status).toBe(200);
    for (const token of [session, api.body.token as string])
      expect((await t.request('GET', '/api/v1/tenants', undefined, token)).status).toBe(401);
    const rows = await t.query(
      'select 1 from api_tokens a join operators o on o.id = a.operator_id where o.username = $1',
      ['leaver'],
      t.controlDatabase,
    );
    expect(rows).toEqual([]);
    expect((await auditEvents(t, 'operator.remove', 'operator/leaver')).map((e) => e.actor)).toEqual([
      'operator:admin',
    ]);
    expect((await t.request('DELETE', '/api/v1/operators/leaver')).status).toBe(404);
    const relogin = await send(t, 'POST', '/api/v1/auth/login', {
      body: who,
      token: null,
      address: '10.9.9.9',
    });
    expect(relogin.status).toBe(401);
  });

  it('refuses duplicate operators and bad usernames without changing anything', async () => {
    await addOperator(t, 'dupe');
    const again = await t.request('POST', '/api/v1/operators', {
      username: 'dupe',
      role: 'owner',
      password: 'another-password-1',
    });
    expect(again.status).toBe(409);
    for (const username of ['Upper', 'has space', 'semi;colon', 'ａdmin', '']) {
      const bad = await t.request('POST', '/api/v1/operators', {
        username,
        role: 'operator',
        password: 'good-password-123',
      });
      expect(bad.status, username).toBe(400);
      expect(bad.body.field).toBe('username');
    }
    const weak = await t.request('POST', '/api/v1/operators', {
      username: 'weak',
      role: 'operator',
      password: 'short',
    });
    expect(weak.status).toBe(400);
    expect(weak.body.field).toBe('password');
    const role = await t.request('POST', '/api/v1/operators', {
      username: 'godmode',
      role: 'root',
      password: 'good-password-123',
    });
    expect(role.status).toBe(400);
    expect(role.body.field).toBe('role');
    const [row] = await t.query<{ role: string }>(
      "select role from operators where username = 'dupe'",
      [],
      t.controlDatabase,
    );
    expect(row?.role).toBe('operator');
    const none = await t.query(
      "select username from operators where username in ('weak', 'godmode')",
      [],
      t.controlDatabase,
    );
    expect(none).toEqual([]);
  });

  it('keeps the last owner, also when two owners remove each other at once', async () => {
    const last = await t.request('DELETE', '/api/v1/operators/admin');
    expect(last.status).toBe(409);
    const other = await tokenFor(t, await addOperator(t, 'olive', 'owner'));
    const results = await Promise.all([
      t.request('DELETE', '/api/v1/operators/olive'),
      t.request('DELETE', '/api/v1/operators/admin', undefined, other),
    ]);
    const owners = await t.query(
      "select username from operators where role = 'owner'",
      [],
      t.controlDatabase,
    );
    expect(owners).toHaveLength(1);
    expect(results.map((r) => r.status)).toContain(200);
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });
});
