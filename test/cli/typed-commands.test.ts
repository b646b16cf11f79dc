import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountCommands } from '../../src/cli/account-commands.ts';
import { ApiClient } from '../../src/cli/client.ts';
import { directoryCommands } from '../../src/cli/directory-commands.ts';
import { identityCommands } from '../../src/cli/identity-commands.ts';
import { identityOidcCommands } from '../../src/cli/identity-oidc-commands.ts';
import { incidentCommands } from '../../src/cli/incident-commands.ts';
import { maintenanceCommands } from '../../src/cli/maintenance-commands.ts';
import { notifyCommands } from '../../src/cli/notify-commands.ts';
import { oncallCommands } from '../../src/cli/oncall-commands.ts';
import { scimCommands } from '../../src/cli/scim-commands.ts';
import { slaCommands } from '../../src/cli/sla-commands.ts';
import { statusCommands } from '../../src/cli/status-commands.ts';
import { tenantAdminCommands } from '../../src/cli/tenant-admin-commands.ts';
import { userCommands } from '../../src/cli/user-commands.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

/**
 * The CLI's commands over the typed client (identity, tenant admins, users,
 * SCIM, directory, on-call, incidents, SLA, status, maintenance,
 * notifications) against a real Steward, whose every answer is checked
 * against its route's contract (STEWARD_CHECK_RESPONSES): the paths, path
 * parameters, queries and bodies the commands send, and the fields they
 * print. In this process, one command after another (the areas' own tests
 * run bin/steward itself); they cover what the services do.
 */
let st: TestSteward;
let client: () => ApiClient;

/** Commands take stdout in turn: each waits for the one before. */
let queue: Promise<unknown> = Promise.resolve();

/** Runs one command as `steward [-o json] …` would, and returns what it printed. */
function steward(json: boolean, args: readonly string[]): Promise<string> {
  const run = queue.then(() => command(json, args));
  queue = run.catch(() => undefined);
  return run;
}

async function command(json: boolean, args: readonly string[]): Promise<string> {
  const program = new Command('steward').exitOverride();
  const ctx = { client, json: () => json };
  const confirm = (): Promise<void> => Promise.resolve();
  const account = { ...ctx, sessionFile: () => `${st.dataDir}/session.json`, confirm, secretEnv: {} };
  accountCommands(program, account);
  tenantAdminCommands(program, account);
  for (const register of [
    notifyCommands,
    oncallCommands,
    incidentCommands,
    statusCommands,
    maintenanceCommands,
    directoryCommands,
    scimCommands,
    identityCommands,
    identityOidcCommands,
  ]) {
    register(program, ctx);
  }
  slaCommands(program, { client, output: () => (json ? 'json' : 'table') });
  userCommands(program, { ...ctx, confirm });
  let printed = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array): boolean => {
    printed += String(chunk);
    return true;
  };
  try {
    await program.parseAsync(['node', 'steward', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return printed;
}

const json = async <T = any>(...args: string[]): Promise<T> => JSON.parse(await steward(true, args)) as T;
const text = (...args: string[]): Promise<string> => steward(false, args);

beforeAll(async () => {
  st = await startTestSteward({ workers: false });
  const created = await st.request('POST', '/api/v1/tenants', {
    slug: 'acme',
    displayName: 'ACME Corp',
    stages: ['prod'],
  });
  expect(created.status, created.text).toBe(201);
  const connection = { apiUrl: await st.steward.start(), token: st.token };
  client = () => new ApiClient(connection);
});

afterAll(async () => {
  await st?.close();
});

describe('the CLI over the typed client', () => {
  it('operators, tokens and notification channels', async () => {
    const [added, token, channel] = await Promise.all([
      json('operator', 'add', 'ops-anna', '--role', 'auditor'),
      json('token', 'create', 'ci', '--role', 'auditor', '--expires-in-days', '7'),
      json('notify', 'channel', 'add', 'email', 'ops@example.com', '--name', 'ops-mail'),
    ]);
    expect(added.operator).toMatchObject({ username: 'ops-anna', role: 'auditor', mustChangePassword: true });
    expect(added.password).toMatch(/^\S{12,}$/);
    expect(token).toMatchObject({ name: 'ci', role: 'auditor', operator: 'admin' });
    expect(token.token).toMatch(/^stw_/);
    expect(channel).toMatchObject({ name: 'ops-mail', kind: 'email', enabled: true });
    const [operators, revoked, disabled, log] = await Promise.all([
      text('operator', 'list'),
      json('token', 'revoke', token.id),
      text('notify', 'channel', 'disable', 'ops-mail'),
      json('notify', 'log', '--limit', '5'),
    ]);
    expect(operators).toMatch(/^ops-anna\s+auditor\s+no/m);
    expect(revoked).toMatchObject({ id: token.id, revokedAt: expect.any(String) });
    expect(disabled).toBe('channel ops-mail disabled\n');
    expect(log).toEqual([]);
    const tokens = await json<{ id: string; revokedAt: string | null }[]>('token', 'list');
    expect(tokens.find((t) => t.id === token.id)?.revokedAt).not.toBeNull();
    expect(await text('operator', 'remove', 'ops-anna', '--yes')).toBe('operator ops-anna removed\n');
  });

  it("a tenant's admins, users, SCIM tokens, sign-in settings and directory", async () => {
    const [admin, user, scim, oidc, directory, status] = await Promise.all([
      json('tenant-admin', 'invite', 'acme', 'it@acme.example'),
      json('user', 'add', 'acme', 'anna', '--email', 'anna@acme.example'),
      json('scim', 'token', 'create', 'acme', '--name', 'idp'),
      json('identity', 'oidc', 'list', 'acme'),
      json('directory', 'show', 'acme'),
      json('status', 'link', 'acme'),
    ]);
    expect(admin).toMatchObject({ email: 'it@acme.example', tenant: 'acme', status: 'invited' });
    expect(user.user).toMatchObject({ userName: 'anna', source: 'local', invitationPending: true });
    expect(user.invitation.sentTo).toBe('anna@acme.example');
    expect(scim).toMatchObject({ tenant: 'acme', name: 'idp', url: expect.stringContaining('/scim/v2') });
    expect(oidc).toEqual([]);
    expect(directory).toEqual({ tenant: 'acme', directory: null, runs: [] });
    expect(status).toMatchObject({ tenant: 'acme', stages: ['prod'], url: expect.stringContaining('/t/') });
    const [admins, invited, disabled, sessions, tokens] = await Promise.all([
      text('tenant-admin', 'list', 'acme'),
      text('user', 'invite', 'acme', 'anna'),
      text('user', 'disable', 'acme', 'anna'),
      json('user', 'revoke-sessions', 'acme', 'anna'),
      json<{ id: string }[]>('scim', 'token', 'list', 'acme'),
    ]);
    expect(admins).toMatch(/^it@acme\.example\s+invited\s+no/m);
    expect(invited).toMatch(/^invitation for anna mailed to anna@acme\.example \(good until /);
    expect(disabled).toBe('user anna disabled: no sign-in, sessions revoked\n');
    expect(sessions).toEqual({ revoked: 0 });
    expect(tokens.map((t) => t.id)).toEqual([scim.id]);
    const [removed, deleted, revoked] = await Promise.all([
      text('tenant-admin', 'remove', 'acme', 'it@acme.example', '--yes'),
      text('user', 'delete', 'acme', 'anna', '--yes'),
      json('scim', 'token', 'revoke', 'acme', scim.id),
    ]);
    expect(removed).toBe('removed it@acme.example as an admin of acme\n');
    expect(deleted).toBe('user anna deleted\n');
    expect(revoked.revokedAt).not.toBeNull();
  });

  it('on-call, incidents, SLA exclusions and maintenance', async () => {
    const from = new Date(Date.now() - 3 * 3600_000).toISOString();
    const until = new Date(Date.now() - 2 * 3600_000).toISOString();
    const [schedule, incident, exclusion, window, terms] = await Promise.all([
      json('oncall', 'schedule', 'add', 'day', '--rotation', 'daily', '--tz', 'UTC', '--members', 'admin'),
      json('incident', 'open', '--tenant', 'acme', '--severity', '3', '--title', 'Slow pages'),
      json('sla', 'exclude', 'acme', '--from', from, '--until', until, '--reason', 'upstream DNS outage'),
      json('maintenance', 'add', 'acme', 'prod', '--for', '1h', '--reason', 'disk swap'),
      json('incident', 'terms', 'acme', '--customer-notice-hours', '24'),
    ]);
    expect(schedule).toMatchObject({ name: 'day', rotation: 'daily', onCall: { member: 'admin' } });
    expect(incident).toMatchObject({ tenant: 'acme', severity: 3, status: 'investigating' });
    expect(exclusion).toMatchObject({ reason: 'upstream DNS outage', by: 'operator:admin' });
    expect(window).toMatchObject({ tenant: 'acme', stage: 'prod', reason: 'disk swap' });
    expect(terms).toMatchObject({ tenant: 'acme', customerNoticeHours: 24, fromContract: true });
    const [shown, report, assigned, exclusions, windows, ended] = await Promise.all([
      text('oncall', 'schedule', 'show', 'day'),
      json('oncall', 'report'),
      json('incident', 'assign', incident.id, '--owner', 'anna'),
      text('sla', 'exclusions', 'acme'),
      json<{ id: string }[]>('maintenance', 'list', '--tenant', 'acme'),
      text('maintenance', 'end', window.id),
    ]);
    expect(shown).toMatch(/^schedule day: daily, hand-off 09:00 UTC, members admin\n/);
    expect(report).toMatchObject({ alerts: 0, metTarget: 0 });
    expect(assigned).toMatchObject({ id: incident.id, owner: 'anna' });
    expect(exclusions).toContain('upstream DNS outage');
    expect(windows.map((w) => w.id)).toEqual([window.id]);
    expect(ended).toMatch(new RegExp(`^maintenance window ${window.id} ended at `));
    const listed = await json<{ id: string; owner: string }[]>('incident', 'list', '--tenant', 'acme');
    expect(listed).toEqual([expect.objectContaining({ id: incident.id, owner: 'anna' })]);
  });
});
