import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

interface Exchange {
  readonly label: string;
  readonly status: number;
  readonly text: string;
}

interface Secret {
  readonly what: string;
  readonly value: string;
  /** Labels of the responses that legitimately return it (shown once, or the credentials read). */
  readonly shownIn: readonly string[];
}

/**
 * A full run: tenants, credentials, tokens, operators, failed and successful
 * logins, MFA enrolment, master key rotation, listings. Afterwards no secret
 * may appear in the logs, nor in any response but the one that returns it.
 */
describe('no secret leaks into logs or API responses', () => {
  let t: TestSteward;
  const exchanges: Exchange[] = [];
  const secrets: Secret[] = [];
  const call = async (label: string, method: string, url: string, body?: unknown, token?: string | null) => {
    const res = await t.request(method, url, body, token);
    exchanges.push({ label, status: res.status, text: res.text });
    return res;
  };
  const masterKeys = async (): Promise<string[]> => {
    const file = JSON.parse(await readFile(join(t.dataDir, 'master.key'), 'utf8')) as {
      keys: Record<string, string>;
    };
    return Object.values(file.keys);
  };
  const addMasterKeys = (keys: string[]) => {
    for (const key of keys) {
      const bytes = Buffer.from(key, 'base64');
      secrets.push({ what: 'master key (base64)', value: bytes.toString('base64'), shownIn: [] });
      secrets.push({ what: 'master key (base64url)', value: bytes.toString('base64url'), shownIn: [] });
      secrets.push({ what: 'master key (hex)', value: bytes.toString('hex'), shownIn: [] });
    }
  };
  const readCredentials = async (label: string, tenant: string, stage: string) => {
    const res = await call(label, 'GET', `/api/v1/tenants/${tenant}/stages/${stage}/credentials`);
    expect(res.status, res.text).toBe(200);
    const url = res.body.databaseUrl as string;
    return { url, password: decodeURIComponent(new URL(url).password) };
  };

  beforeAll(async () => {
    t = await startTestSteward();
    secrets.push({ what: 'owner token', value: t.token, shownIn: [] });
    addMasterKeys(await masterKeys());

    for (const [slug, stages] of [
      ['acme', ['dev', 'prod']],
      ['beta', ['dev']],
    ] as const) {
      const res = await call(`create ${slug}`, 'POST', '/api/v1/tenants', { slug, stages });
      expect(res.status, res.text).toBe(201);
    }
    await t.waitForStages('acme');
    await t.waitForStages('beta');
    for (const [tenant, stage] of [
      ['acme', 'dev'],
      ['acme', 'prod'],
      ['beta', 'dev'],
    ] as const) {
      const first = `credentials ${tenant}/${stage}`;
      const again = `credentials ${tenant}/${stage} after rotation`;
      const { url, password } = await readCredentials(first, tenant, stage);
      secrets.push({ what: `password of ${tenant}/${stage}`, value: password, shownIn: [first, again] });
      secrets.push({ what: `DATABASE_URL of ${tenant}/${stage}`, value: url, shownIn: [first, again] });
    }

    const created = await call('create token', 'POST', '/api/v1/tokens', { name: 'ci', role: 'operator' });
    expect(created.status, created.text).toBe(201);
    const ciToken = created.body.token as string;
    secrets.push({ what: 'created API token', value: ciToken, shownIn: ['create token'] });
    expect(
      (await call('whoami with the new token', 'GET', '/api/v1/auth/whoami', undefined, ciToken)).status,
    ).toBe(200);
    expect(
      (await call('tenants with the new token', 'GET', '/api/v1/tenants', undefined, ciToken)).status,
    ).toBe(200);

    const opsPassword = 'ops-initial-Pa55word-7f3a9c';
    const opsNewPassword = 'ops-changed-Pa55word-1b8e2d';
    secrets.push({ what: "ops's first password", value: opsPassword, shownIn: [] });
    secrets.push({ what: "ops's new password", value: opsNewPassword, shownIn: [] });
    const ops = await call('add ops', 'POST', '/api/v1/operators', {
      username: 'ops',
      role: 'operator',
      password: opsPassword,
    });
    expect(ops.status, ops.text).toBe(201);
    const auditor = await call('add auditor', 'POST', '/api/v1/operators', {
      username: 'aud',
      role: 'auditor',
    });
    expect(auditor.status, auditor.text).toBe(201);
    secrets.push({
      what: "auditor's one-time password",
      value: auditor.body.password as string,
      shownIn: ['add auditor'],
    });

    for (const [i, wrong] of ['wrong-guess-Zq81-first', 'wrong-guess-Zq81-second'].entries()) {
      secrets.push({ what: `wrong password ${i}`, value: wrong, shownIn: [] });
      const res = await call(
        `failed login ${i}`,
        'POST',
        '/api/v1/auth/login',
        { username: 'ops', password: wrong },
        null,
      );
      expect(res.status).toBe(401);
    }
    secrets.push({
      what: 'password tried for an unknown operator',
      value: 'ghost-guess-Vb27-xx',
      shownIn: [],
    });
    const ghost = await call(
      'failed login of an unknown operator',
      'POST',
      '/api/v1/auth/login',
      { username: 'ghost', password: 'ghost-guess-Vb27-xx' },
      null,
    );
    expect(ghost.status).toBe(401);
    const login = await call(
      'login',
      'POST',
      '/api/v1/auth/login',
      { username: 'ops', password: opsPassword },
      null,
    );
    expect(login.status, login.text).toBe(200);
    const opsToken = login.body.token as string;
    secrets.push({ what: "ops's login token", value: opsToken, shownIn: ['login'] });
    expect((await call('whoami as ops', 'GET', '/api/v1/auth/whoami', undefined, opsToken)).status).toBe(200);
    const changed = await call(
      'change password',
      'POST',
      '/api/v1/auth/password',
      { currentPassword: opsPassword, newPassword: opsNewPassword },
      opsToken,
    );
    expect(changed.status, changed.text).toBe(200);
    const audNewPassword = 'aud-chosen-Pa55word-44c1e0';
    secrets.push({ what: "auditor's chosen password", value: audNewPassword, shownIn: [] });
    const audOneTime = auditor.body.password as string;
    const audRefused = await call(
      'auditor login without changing the one-time password',
      'POST',
      '/api/v1/auth/login',
      { username: 'aud', password: audOneTime },
      null,
    );
    expect(audRefused.status, audRefused.text).toBe(403);
    const audLogin = await call(
      'auditor login',
      'POST',
      '/api/v1/auth/login',
      { username: 'aud', password: audOneTime, newPassword: audNewPassword },
      null,
    );
    expect(audLogin.status, audLogin.text).toBe(200);
    secrets.push({
      what: "auditor's login token",
      value: audLogin.body.token as string,
      shownIn: ['auditor login'],
    });
    expect(
      (await call('audit as auditor', 'GET', '/api/v1/audit', undefined, audLogin.body.token)).status,
    ).toBe(200);
    const badToken = `${opsToken.slice(0, -4)}AAAA`;
    secrets.push({ what: 'a wrong bearer token', value: badToken, shownIn: [] });
    expect((await call('wrong bearer token', 'GET', '/api/v1/tenants', undefined, badToken)).status).toBe(
      401,
    );

    const mfa = await call('enrol mfa', 'POST', '/api/v1/auth/mfa/enroll', undefined, opsToken);
    expect(mfa.status, mfa.text).toBe(200);
    secrets.push({ what: "ops's TOTP secret", value: mfa.body.secret as string, shownIn: ['enrol mfa'] });

    const rotated = await call('rotate master key', 'POST', '/api/v1/secrets/rotate-master-key');
    expect(rotated.status, rotated.text).toBe(200);
    addMasterKeys(await masterKeys());
    for (const [tenant, stage] of [
      ['acme', 'dev'],
      ['acme', 'prod'],
      ['beta', 'dev'],
    ] as const)
      await readCredentials(`credentials ${tenant}/${stage} after rotation`, tenant, stage);

    for (const [label, url] of [
      ['tenant list', '/api/v1/tenants'],
      ['tenant show', '/api/v1/tenants/acme'],
      ['audit list', '/api/v1/audit?limit=5000'],
      ['audit verify', '/api/v1/audit/verify'],
      ['token list', '/api/v1/tokens'],
      ['operator list', '/api/v1/operators'],
      ['openapi', '/api/openapi.json'],
    ] as const) {
      const res = await call(label, 'GET', url);
      expect(res.status, `${label}: ${res.text}`).toBe(200);
    }
    expect((await call('delete beta', 'DELETE', '/api/v1/tenants/beta')).status).toBe(202);
    await t.waitForStages('beta', 'gone');
    expect((await call('revoke token', 'DELETE', `/api/v1/tokens/${created.body.id as string}`)).status).toBe(
      200,
    );
  });
  afterAll(async () => {
    await t.close();
  });

  it('collected every kind of secret the run produced', () => {
    const kinds = new Set(secrets.map((s) => s.what.replace(/ of .*| \d+$| \(.*\)$/, '')));
    expect([...kinds]).toEqual(
      expect.arrayContaining([
        'owner token',
        'master key',
        'password',
        'DATABASE_URL',
        'created API token',
        "ops's login token",
        "ops's TOTP secret",
        "auditor's one-time password",
        'wrong password',
      ]),
    );
    // Two master keys: the one before rotation and the one after.
    expect(secrets.filter((s) => s.what === 'master key (base64)')).toHaveLength(2);
    for (const s of secrets) expect(s.value.length, s.what).toBeGreaterThanOrEqual(16);
  });

  it('each secret is returned where it legitimately is', () => {
    for (const s of secrets)
      for (const label of s.shownIn) {
        const exchange = exchanges.find((e) => e.label === label);
        expect(exchange, label).toBeDefined();
        expect(exchange?.text.includes(s.value), `${s.what} in ${label}`).toBe(true);
      }
  });

  it('no secret appears in any other API response', () => {
    const leaks: string[] = [];
    for (const s of secrets)
      for (const e of exchanges)
        if (!s.shownIn.includes(e.label) && e.text.includes(s.value)) leaks.push(`${s.what} in "${e.label}"`);
    expect(leaks).toEqual([]);
  });

  it('no secret appears in the logs', () => {
    const logs = t.logs();
    // The logs saw the whole run: requests, reconciler passes and the rotation.
    expect(logs).toContain('/api/v1/secrets/rotate-master-key');
    expect(logs).toContain('/api/v1/auth/login');
    expect(logs).toContain('"component":"reconciler"');
    const leaks = secrets.filter((s) => logs.includes(s.value)).map((s) => s.what);
    expect(leaks).toEqual([]);
  });

  it('no secret appears in the audit log or the control database outside the secrets table', async () => {
    const tables = await t.query<{ tablename: string }>(
      "select tablename from pg_tables where schemaname = 'public' and tablename <> 'secrets'",
      [],
      t.controlDatabase,
    );
    expect(tables.length).toBeGreaterThan(3);
    const leaks: string[] = [];
    for (const { tablename } of tables) {
      const [row] = await t.query<{ dump: string | null }>(
        `select string_agg(x::text, E'\\n') as dump from public."${tablename}" x`,
        [],
        t.controlDatabase,
      );
      for (const s of secrets) if (row?.dump?.includes(s.value)) leaks.push(`${s.what} in ${tablename}`);
    }
    expect(leaks).toEqual([]);
  });
});
