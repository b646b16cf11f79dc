import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opaqueNameAlphabet } from '../../src/core/names.ts';
import type { TenantView } from '../../src/tenants/service.ts';
import {
  cleanUp,
  cli,
  cliJson,
  makeDataDir,
  pgIsRunning,
  processesOf,
  spawnUp,
  startUpJson,
  superuser,
  waitForOutput,
  type UpProcess,
} from './process.ts';

/**
 * `steward up` and the CLI as a user runs them: real processes, one data dir
 * shared by the tests of this file, in order.
 */
describe('steward up and the CLI', () => {
  let dataDir: string;
  /** acme's database (and role) names by stage: opaque, so read from `tenant show`. */
  const databases = new Map<string, string>();
  let first: UpProcess;
  let second: UpProcess | undefined;
  let restarted: UpProcess | undefined;
  let oneTimePassword: string;

  beforeAll(async () => {
    dataDir = await makeDataDir();
    first = spawnUp(dataDir);
    await waitForOutput(first, 'Press Ctrl-C to stop.');
  }, 180_000);

  afterAll(async () => {
    await cleanUp(dataDir, first, second, restarted);
  }, 120_000);

  it('prints the API URL and a one-time password, and writes client.json with mode 0600', async () => {
    const out = first.stdout();
    const apiUrl = /API:\s+(https:\/\/127\.0\.0\.1:\d+)\s/.exec(out)?.[1];
    expect(apiUrl, out).toBeDefined();
    const password = /one-time password (\S+)/.exec(out)?.[1];
    expect(password, out).toBeDefined();
    oneTimePassword = password ?? '';
    expect(oneTimePassword.length).toBeGreaterThanOrEqual(12);

    const clientFile = join(dataDir, 'client.json');
    expect((await stat(clientFile)).mode & 0o777).toBe(0o600);
    const client = JSON.parse(await readFile(clientFile, 'utf8')) as {
      apiUrl: string;
      ca: string;
      token: string;
    };
    expect(client.apiUrl).toBe(apiUrl);
    expect(client.ca).toContain('-----BEGIN CERTIFICATE-----');
    expect(client.token.length).toBeGreaterThan(20);
    expect(Number((await readFile(join(dataDir, 'steward.pid'), 'utf8')).trim())).toBe(first.pid);
  }, 120_000);

  it('creates a tenant with three stages that all become ready, each with its database and files', async () => {
    const created = await cli(dataDir, ['tenant', 'create', 'acme', '--stages', 'dev,test,prod']);
    if (created.code !== 0) {
      const shown = await cli(dataDir, ['tenant', 'show', 'acme']);
      const log = await readFile(join(dataDir, 'steward.log'), 'utf8');
      expect.fail(`${created.stderr}\n${shown.stdout}\n${log.slice(-4000)}`);
    }
    expect(created.stdout).toContain('tenant acme');

    const shown = await cliJson<TenantView>(dataDir, ['tenant', 'show', 'acme']);
    expect(shown.slug).toBe('acme');
    expect(shown.phase).toBe('ready');
    expect(shown.stages.map((s) => [s.name, s.phase]).sort()).toEqual([
      ['dev', 'ready'],
      ['prod', 'ready'],
      ['test', 'ready'],
    ]);
    for (const stage of shown.stages) databases.set(stage.name, stage.database);
    // Named by an opaque id: a stage role that lists pg_database learns no customer's name.
    for (const name of databases.values())
      expect(name).toMatch(new RegExp(`^st_[${opaqueNameAlphabet}]{12}$`));
    const plain = await cli(dataDir, ['tenant', 'show', 'acme']);
    expect(plain.stdout).toMatch(/^STAGE\s+PHASE\s+DATABASE/m);
    for (const [stage, name] of databases)
      expect(plain.stdout).toMatch(new RegExp(`^${stage}\\s+ready\\s+${name}\\s`, 'm'));
    for (const stage of shown.stages) {
      expect(stage.filesDir).toBe(join(dataDir, 'files', 'acme', stage.name));
      expect((await stat(stage.filesDir)).mode & 0o777).toBe(0o700);
    }

    const admin = await superuser(dataDir);
    try {
      const { rows } = await admin.query<{ datname: string }>(
        'select datname from pg_database where datname = any($1) order by 1',
        [[...databases.values()]],
      );
      expect(rows.map((r) => r.datname)).toEqual([...databases.values()].sort());
    } finally {
      await admin.end();
    }

    const table = await cli(dataDir, ['tenant', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^TENANT\s+PHASE/m);
    expect(table.stdout).toMatch(/^acme\s+ready/m);
  }, 120_000);

  it('verifies the audit log and exits 0', async () => {
    const verified = await cli(dataDir, ['audit', 'verify']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/audit log intact: \d+ events verified/);
    // Signed when Steward started: the log is held to it.
    expect(verified.stdout).toMatch(/newest signed checkpoint: event \d+ at \S+ \(local\)/);
    const report = await cliJson<{ ok: boolean; checked: number; problems: unknown[] }>(dataDir, [
      'audit',
      'verify',
    ]);
    expect(report.ok).toBe(true);
    expect(report.checked).toBeGreaterThan(0);
    expect(report.problems).toEqual([]);
    const events = await cliJson<{ action: string; tenant: string | null }[]>(dataDir, [
      'audit',
      'list',
      '--tenant',
      'acme',
    ]);
    expect(events.map((e) => e.action)).toContain('tenant.create');
  }, 120_000);

  it("prints a stage's DATABASE_URL that really connects to that stage's database", async () => {
    const printed = await cli(dataDir, ['stage', 'credentials', 'acme', 'prod']);
    expect(printed.code, printed.stderr).toBe(0);
    const url = /^DATABASE_URL=(\S+)$/m.exec(printed.stdout)?.[1];
    expect(url, printed.stdout).toBeDefined();
    const stageClient = new pg.Client({ connectionString: url });
    await stageClient.connect();
    try {
      const { rows } = await stageClient.query<{ db: string; who: string }>(
        'select current_database() as db, current_user as who',
      );
      expect(rows[0]).toEqual({ db: databases.get('prod'), who: databases.get('prod') });
    } finally {
      await stageClient.end();
    }

    const asJson = await cliJson<{ databaseUrl: string; database: string }>(dataDir, [
      'stage',
      'credentials',
      'acme',
      'dev',
    ]);
    expect(asJson.database).toBe(databases.get('dev'));
    expect(asJson.databaseUrl).toMatch(/^postgres(ql)?:\/\//);
  }, 120_000);

  it('exits non-zero with a message on stderr on errors, and -o json gives a JSON error', async () => {
    const upper = await cli(dataDir, ['tenant', 'create', 'Acme', '--no-wait']);
    expect(upper.code).not.toBe(0);
    expect(upper.stderr).toMatch(/^error: .+/m);
    expect(upper.stderr).toContain('slug');

    const missing = await cli(dataDir, ['tenant', 'show', 'nope']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/^error: .*nope/m);
    expect(missing.stdout).toBe('');

    const duplicate = await cli(dataDir, ['-o', 'json', 'tenant', 'create', 'acme', '--no-wait']);
    expect(duplicate.code).not.toBe(0);
    const body = JSON.parse(duplicate.stdout) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('conflict');
    expect(body.error.message).toContain('acme');

    const badStage = await cli(dataDir, ['stage', 'credentials', 'acme', 'nope']);
    expect(badStage.code).not.toBe(0);
    expect(badStage.stderr).toMatch(/^error: /m);

    const noServer = await cli(join(dataDir, 'nowhere'), ['tenant', 'list']);
    expect(noServer.code).not.toBe(0);
    expect(noServer.stderr).toMatch(/no Steward API found/);

    const unknownCommand = await cli(dataDir, ['tenant', 'frobnicate']);
    expect(unknownCommand.code).not.toBe(0);
  }, 120_000);

  it('gives JSON that parses for every listing with -o json', async () => {
    const tenants = await cliJson<TenantView[]>(dataDir, ['tenant', 'list']);
    expect(tenants.map((t) => t.slug)).toEqual(['acme']);
    const operators = await cliJson<{ username: string; role: string }[]>(dataDir, ['operator', 'list']);
    expect(operators).toContainEqual(expect.objectContaining({ username: 'admin', role: 'owner' }));
    const tokens = await cliJson<unknown[]>(dataDir, ['token', 'list']);
    expect(Array.isArray(tokens)).toBe(true);
    const schema = await cliJson<{ type?: string; properties?: object }>(dataDir, ['config', 'schema']);
    expect(schema.properties).toBeDefined();
  }, 120_000);

  it('signs in, manages tokens and operators and rotates the master key through the CLI', async () => {
    const session = ['--session-file', join(dataDir, 'admin-session.json')];
    const wrong = await cli(dataDir, [...session, 'login', '-u', 'admin', '--password-stdin'], {
      input: 'not-the-password',
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/^error: /m);
    const login = await cliJson<{ username: string; role: string; sessionFile: string }>(
      dataDir,
      [...session, 'login', '-u', 'admin', '--password-stdin', '--change-password'],
      `${oneTimePassword}\na-new-long-owner-passphrase\n`,
    );
    expect(login).toMatchObject({ username: 'admin', role: 'owner' });
    expect((await stat(login.sessionFile)).mode & 0o777).toBe(0o600);
    const reuse = await cli(dataDir, [...session, 'login', '-u', 'admin', '--password-stdin'], {
      input: oneTimePassword,
    });
    expect(reuse.code, 'the one-time password works once').not.toBe(0);

    const issued = await cliJson<{ id: string; token: string; role: string }>(dataDir, [
      ...session,
      'token',
      'create',
      'ci',
      '--role',
      'auditor',
    ]);
    expect(issued.role).toBe('auditor');
    const asAuditor = { env: { STEWARD_TOKEN: issued.token } };
    expect((await cli(dataDir, ['tenant', 'list'], asAuditor)).code).toBe(0);
    const forbidden = await cli(dataDir, ['tenant', 'create', 'nope', '--no-wait'], asAuditor);
    expect(forbidden.code).not.toBe(0);
    expect(forbidden.stderr).toMatch(/^error: /m);
    const listed = await cliJson<{ id: string; name: string }[]>(dataDir, ['token', 'list']);
    expect(listed.map((t) => t.name)).toContain('ci');
    expect(JSON.stringify(listed)).not.toContain(issued.token);
    expect((await cli(dataDir, ['token', 'revoke', issued.id])).code).toBe(0);
    const revoked = await cli(dataDir, ['tenant', 'list'], asAuditor);
    expect(revoked.code).not.toBe(0);

    const added = await cliJson<{ operator: { username: string }; password?: string }>(dataDir, [
      'operator',
      'add',
      'bob',
      '--role',
      'operator',
    ]);
    expect(added.operator.username).toBe('bob');
    expect(added.password).toBeDefined();
    expect(
      (await cliJson<{ username: string }[]>(dataDir, ['operator', 'list'])).map((o) => o.username),
    ).toContain('bob');
    expect((await cli(dataDir, ['operator', 'remove', 'bob', '--yes'])).code).toBe(0);
    expect(
      (await cliJson<{ username: string }[]>(dataDir, ['operator', 'list'])).map((o) => o.username),
    ).not.toContain('bob');

    const rotated = await cliJson<{ previousKeyId: string; keyId: string; rewrapped: number }>(dataDir, [
      'secrets',
      'rotate-master-key',
    ]);
    expect(rotated.keyId).not.toBe(rotated.previousKeyId);
    expect(rotated.rewrapped).toBeGreaterThanOrEqual(3);
    const { databaseUrl } = await cliJson<{ databaseUrl: string }>(dataDir, [
      'stage',
      'credentials',
      'acme',
      'test',
    ]);
    const stageClient = new pg.Client({ connectionString: databaseUrl });
    await stageClient.connect();
    await stageClient.end();
  }, 120_000);

  it('refuses a second concurrent up on the same data dir, and the first keeps working', async () => {
    second = spawnUp(dataDir);
    const exit = await second.exited;
    expect(exit.code).not.toBe(0);
    expect(second.stderr()).toContain(`pid ${first.pid}`);
    expect(second.stderr()).toMatch(/already in use/);
    expect(second.stdout()).not.toContain('Steward is running');
    // The refused start left the lock, client.json and the cluster of the first alone.
    expect(Number((await readFile(join(dataDir, 'steward.pid'), 'utf8')).trim())).toBe(first.pid);
    expect(first.child.exitCode).toBeNull();
    const shown = await cliJson<TenantView>(dataDir, ['tenant', 'show', 'acme']);
    expect(shown.phase).toBe('ready');
  }, 120_000);

  it('deletes a tenant with --yes: its databases, roles and files are gone', async () => {
    const refused = await cli(dataDir, ['tenant', 'delete', 'acme']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--yes');

    const deleted = await cli(dataDir, ['tenant', 'delete', 'acme', '--yes']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toContain('tenant acme deleted');
    const gone = await cli(dataDir, ['tenant', 'show', 'acme']);
    expect(gone.code).not.toBe(0);

    const admin = await superuser(dataDir);
    try {
      const dbs = await admin.query("select 1 from pg_database where datname like 'st\\_acme%'");
      expect(dbs.rowCount).toBe(0);
      const roles = await admin.query("select 1 from pg_roles where rolname like 'st\\_acme%'");
      expect(roles.rowCount).toBe(0);
    } finally {
      await admin.end();
    }
    expect(existsSync(join(dataDir, 'files', 'acme'))).toBe(false);
    const events = await cliJson<{ action: string }[]>(dataDir, ['audit', 'list', '--tenant', 'acme']);
    expect(events.map((e) => e.action)).toContain('tenant.delete');
  }, 120_000);

  it('stops PostgreSQL and every process on SIGTERM, then a second start reuses the data', async () => {
    const kept = await cli(dataDir, ['tenant', 'create', 'beta', '--stages', 'dev']);
    expect(kept.code, kept.stderr).toBe(0);

    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await pgIsRunning(dataDir)).toBe(false);
    expect(await processesOf(dataDir)).toEqual([]);
    expect(existsSync(join(dataDir, 'steward.pid'))).toBe(false);

    const again = await startUpJson(dataDir);
    restarted = again.up;
    expect(again.ready.firstOwner).toBeNull();
    expect(again.ready.clientFile).toBe(join(dataDir, 'client.json'));
    expect(restarted.stdout()).not.toContain(oneTimePassword);
    const beta = await cliJson<TenantView>(dataDir, ['tenant', 'show', 'beta']);
    expect(beta.stages.map((s) => [s.name, s.phase])).toEqual([['dev', 'ready']]);
    const report = await cliJson<{ ok: boolean; lastSeq: string; checkpoint: { seq: string } | null }>(
      dataDir,
      ['audit', 'verify'],
    );
    expect(report.ok).toBe(true);
    // The first Steward signed a checkpoint as it stopped; this one signed the log as it found it.
    const checkpoints = (await readFile(join(dataDir, 'audit', 'checkpoints.jsonl'), 'utf8'))
      .trim()
      .split('\n');
    expect(checkpoints.length).toBeGreaterThanOrEqual(2);
    expect(BigInt(report.checkpoint?.seq ?? '0')).toBeGreaterThan(0n);
    expect(BigInt(report.checkpoint?.seq ?? '0')).toBeLessThanOrEqual(BigInt(report.lastSeq));
  }, 120_000);
});
