import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.ts';
import { totpCode } from '../../src/identity/credentials.ts';
import { effectiveLimits, type LimitView } from '../../src/settings/limits.ts';
import { regionViews } from '../../src/settings/regions.ts';
import { formatLimit } from '../../web/src/pages/settings/format.ts';
import { formatLimit as cliLimit } from '../../src/cli/settings-commands.ts';
import { apiCli } from '../harness/api-cli.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { addOperator, tokenFor } from '../identity/helpers.ts';

/**
 * Operators' settings (issue 15 part 4): the effective limits and the
 * regions, read only. One Steward with a few config overrides: each shows
 * its value beside the default and is marked changed, the others are the
 * defaults; an auditor may read them, a tenant admin may not; no secret
 * (the SMTP password, a database password, the master key) is in a body.
 */
const suffix = Math.random().toString(36).slice(2, 7);
const euTenant = `se${suffix}`;
const usTenant = `su${suffix}`;
const smtpPassword = `smtp-secret-${suffix}`;

let t: TestSteward;

const byField = (limits: readonly LimitView[], field: string) => {
  const found = limits.find((l) => l.field === field);
  if (!found) throw new Error(`no limit ${field}`);
  return found;
};

beforeAll(async () => {
  t = await startTestSteward({
    workers: false,
    config: {
      regions: [
        { name: 'de-nbg', geography: 'eu' },
        { name: 'us-east', geography: 'us' },
      ],
      defaultRegion: 'de-nbg',
      gateway: { limits: { maxBodyBytes: 2 * 1024 * 1024, tenantRatePerSecond: 250 } },
      login: { lockoutSeconds: 60 },
      notifications: { smtp: { host: '127.0.0.1', port: 2525, from: 'steward@example.com' } },
    },
  });
  await t.services.notifications.keepSmtpCredentials('mailer', smtpPassword);
  for (const [slug, region] of [
    [euTenant, 'de-nbg'],
    [usTenant, 'us-east'],
  ] as const) {
    const created = await t.request('POST', '/api/v1/tenants', { slug, region, stages: ['prod', 'dev'] });
    expect(created.status, created.text).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  await t?.close();
});

describe('GET /api/v1/settings/limits', () => {
  it("shows each limit's value, default and config field; overrides are marked changed", async () => {
    const res = await t.request('GET', '/api/v1/settings/limits');
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ editable: false });
    const limits = res.body.limits as LimitView[];
    expect(byField(limits, 'gateway.limits.maxBodyBytes')).toMatchObject({
      group: 'client',
      name: 'maxBodyBytes',
      value: 2 * 1024 * 1024,
      default: 10 * 1024 * 1024,
      unit: 'bytes',
      source: 'config',
      changed: true,
    });
    expect(byField(limits, 'gateway.limits.tenantRatePerSecond')).toMatchObject({
      group: 'tenant',
      value: 250,
      default: 1000,
      changed: true,
    });
    expect(byField(limits, 'login.lockoutSeconds')).toMatchObject({ value: 60, default: 900, changed: true });
    // Left alone: the default, unchanged.
    expect(byField(limits, 'gateway.limits.maxHeaderCount')).toMatchObject({
      value: 100,
      default: 100,
      changed: false,
    });
    expect(byField(limits, 'identity.maxTokenLifetimeDays')).toMatchObject({ value: 90, changed: false });
    // Built in and per stage: no config field to edit, never "changed".
    const builtIn = limits.filter((l) => l.source === 'built-in');
    expect(builtIn.map((l) => [l.name, l.value])).toEqual(
      expect.arrayContaining([
        ['pageLimitMax', 500],
        ['databaseConnections', 50],
      ]),
    );
    expect(builtIn.every((l) => l.field === null && !l.changed)).toBe(true);
    expect(limits.find((l) => l.name === 'filesQuotaBytes')).toMatchObject({ source: 'stage', value: null });
    // Each config field once.
    const fields = limits.filter((l) => l.source === 'config').map((l) => l.field);
    expect(new Set(fields).size).toBe(fields.length);
  });

  it('lets an auditor read the limits and the regions', async () => {
    const auditor = await addOperator(t, `aud-${suffix}`, 'auditor');
    const token = await tokenFor(t, auditor);
    expect((await t.request('GET', '/api/v1/settings/limits', undefined, token)).status).toBe(200);
    expect((await t.request('GET', '/api/v1/regions', undefined, token)).status).toBe(200);
  });
});

describe('GET /api/v1/regions', () => {
  it('lists the configured regions with the default marked and the tenants and stages placed in each', async () => {
    const res = await t.request('GET', '/api/v1/regions');
    expect(res.status, res.text).toBe(200);
    expect(res.body.defaultRegion).toBe('de-nbg');
    const regions = res.body.regions as { name: string; tenants: number }[];
    expect(regions.map((r) => r.name)).toEqual(['de-nbg', 'us-east']);
    const eu = regions[0];
    const us = regions[1];
    expect(eu).toMatchObject({ geography: 'eu', isDefault: true, configured: true, backupResidency: null });
    expect(us).toMatchObject({ geography: 'us', isDefault: false, configured: true });
    // Other test files' tenants live in other control databases: exactly ours.
    expect(eu).toMatchObject({ tenants: 1, stages: 2 });
    expect(us).toMatchObject({ tenants: 1, stages: 2 });
  });
});

describe('the CLI', () => {
  it('prints the changed limits and the regions, as tables and as JSON', async () => {
    const steward = await apiCli(t);
    const changed = await steward('settings', 'limits', '--changed');
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toMatch(
      /client +maxBodyBytes +2\.0 MiB +10\.0 MiB +gateway\.limits\.maxBodyBytes +changed/,
    );
    expect(changed.stdout).toMatch(/identity +lockoutSeconds +1 min +15 min +login\.lockoutSeconds +changed/);
    expect(changed.stdout).not.toMatch(/maxHeaderCount/);
    const regions = await steward('regions', 'list', '-o', 'json');
    expect(regions.code, regions.stderr).toBe(0);
    const listed = JSON.parse(regions.stdout) as {
      defaultRegion: string;
      regions: { name: string; tenants: number }[];
    };
    expect(listed.defaultRegion).toBe('de-nbg');
    expect(listed.regions.map((r) => [r.name, r.tenants])).toEqual([
      ['de-nbg', 1],
      ['us-east', 1],
    ]);
  });
});

describe('who may read settings', () => {
  it('refuses a tenant admin, and no body carries a secret', async () => {
    const email = `it-${suffix}@example.com`;
    const invited = await t.request('POST', `/api/v1/tenants/${euTenant}/admins`, { email });
    expect(invited.status, invited.text).toBe(201);
    // The invitation waits in the outbox (no mail server listens): its code is in the mail's text.
    const [mail] = await t.query<{ payload: unknown }>(
      "select payload from notification_outbox where kind = 'tenant-admin-invite' and recipient = $1",
      [email],
      t.controlDatabase,
    );
    const code = /sti_[A-Za-z0-9_-]{43}/.exec(JSON.stringify(mail?.payload))?.[0];
    expect(code).toBeDefined();
    const accepted = await t.request(
      'POST',
      '/api/v1/auth/tenant-admin/accept',
      { token: code, password: `${email}-password-1` },
      null,
    );
    expect(accepted.status, accepted.text).toBe(201);
    const admin = accepted.body.token as string;
    const enrolled = await t.request('POST', '/api/v1/auth/mfa/enroll', undefined, admin);
    const verified = await t.request(
      'POST',
      '/api/v1/auth/mfa/verify',
      { code: await totpCode(enrolled.body.secret as string, new Date()) },
      admin,
    );
    expect(verified.status, verified.text).toBe(200);
    for (const url of ['/api/v1/settings/limits', '/api/v1/regions']) {
      const refused = await t.request('GET', url, undefined, admin);
      expect(refused.status, refused.text).toBe(403);
      expect(refused.body.message).toMatch(/a tenant admin may not call this route/);
    }

    const bodies = [
      (await t.request('GET', '/api/v1/settings/limits')).text,
      (await t.request('GET', '/api/v1/regions')).text,
    ].join('\n');
    const credentials = await t.request('GET', `/api/v1/tenants/${euTenant}/stages/prod/credentials`);
    expect(credentials.status, credentials.text).toBe(200);
    expect(bodies).not.toContain(smtpPassword);
    expect(bodies).not.toContain(credentials.body.password as string);
    expect(bodies).not.toMatch(/sti_|postgres(ql)?:\/\//);
  });
});

/** The breadth, without I/O: the same functions over plain configs. */
describe('the settings views, pure', () => {
  const base = { dataDir: '/var/lib/steward' };

  it('leaves every limit at its default for an empty config', () => {
    const { limits } = effectiveLimits(parseConfig(base));
    expect(limits.filter((l) => l.changed)).toEqual([]);
    expect(limits.filter((l) => l.source === 'config' && l.value === null)).toEqual([]);
  });

  it('shows backup repositories in their regions, S3 by bucket and endpoint, and regions whose geography they leave', () => {
    const config = parseConfig({
      ...base,
      regions: [
        { name: 'de-nbg', geography: 'eu' },
        { name: 'de-fra', geography: 'eu' },
        { name: 'us-east', geography: 'us' },
      ],
      defaultRegion: 'de-nbg',
      backups: {
        repositories: [
          { kind: 'path', path: '/srv/backups', region: 'de-nbg' },
          {
            kind: 's3',
            endpoint: 's3.example.com',
            bucket: 'steward-b',
            s3Region: 'eu-1',
            path: '/st',
            region: 'de-fra',
          },
        ],
      },
    });
    const view = regionViews(config, [
      { region: 'de-nbg', tenants: 3, stages: 9 },
      { region: 'gone', tenants: 1, stages: 1 },
    ]);
    expect(view.regions.map((r) => [r.name, r.isDefault, r.configured, r.tenants])).toEqual([
      ['de-nbg', true, true, 3],
      ['de-fra', false, true, 0],
      ['us-east', false, true, 0],
      ['gone', false, false, 1],
    ]);
    expect(view.regions[0]?.backupRepositories).toEqual([
      { name: 'repo1', kind: 'path', location: '/srv/backups' },
    ]);
    expect(view.regions[1]?.backupRepositories).toEqual([
      { name: 'repo2', kind: 's3', location: 's3://steward-b/st at s3.example.com (eu-1)' },
    ]);
    expect(view.regions[0]?.backupResidency).toBeNull();
    expect(view.regions[2]?.backupResidency).toBe(
      'backup repositories repo1 (de-nbg, eu), repo2 (de-fra, eu) are outside geography us: no tenant can be created here while backups are on',
    );
    expect(view.regions[3]?.backupResidency).toBeNull();
    // Backups off: no repositories to show or to keep a tenant out.
    const off = regionViews(parseConfig({ ...base, backups: { enabled: false } }), []);
    expect(off.regions).toEqual([
      expect.objectContaining({ name: 'local', backupRepositories: [], backupResidency: null }),
    ]);
  });

  it.each([
    [10 * 1024 * 1024, 'bytes', '10 MiB'],
    [10_000, 'ms', '10 s'],
    [900, 'seconds', '15 min'],
    [240, 'minutes', '4 h'],
    [90, 'days', '90 d'],
    [1000, 'per-second', '1,000/s'],
    [4096, 'count', '4,096'],
    [null, 'bytes', 'none'],
  ] as const)('the console shows %s %s as %s', (value, unit, text) => {
    expect(formatLimit(value, unit, (n) => n.toLocaleString('en-GB'), 'none')).toBe(text);
  });

  it.each([
    [300_000, 'ms', '5 min'],
    [1500, 'ms', '1500 ms'],
    [900, 'seconds', '15 min'],
    [0.05, 'minutes', '3 s'],
    [90, 'days', '90 d'],
    [10 * 1024 * 1024, 'bytes', '10.0 MiB'],
    [4000, 'per-second', '4000/s'],
    [null, 'count', 'none'],
  ] as const)('the CLI shows %s %s as %s', (value, unit, text) => {
    expect(cliLimit(value, unit)).toBe(text);
  });
});
