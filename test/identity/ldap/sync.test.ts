import { writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { Attribute, Change } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirectoryUser } from '../../../src/identity/directory/index.ts';
import { ldapSyncJobKind, type SyncRunView } from '../../../src/identity/ldap/index.ts';
import { run, type RunResult } from '../../../src/system/exec.ts';
import { startSlapd, type TestSlapd } from '../../harness/slapd.ts';
import { startTestSteward, type TestSteward } from '../../harness/steward.ts';

/**
 * Directory sync against a real OpenLDAP slapd (over StartTLS and ldaps with
 * its test CA), run by the job queue of a real Steward, driven through the
 * API and the real CLI. One slapd and one Steward for the file; each test
 * changes the directory and syncs.
 */
describe('LDAP directory sync against slapd', () => {
  let slapd: TestSlapd;
  let t: TestSteward;
  let tenantId: string;
  let cli: (input: string | undefined, ...args: string[]) => Promise<RunResult>;
  const slug = 'acme';
  const bulkPeople = 1000;
  /** A GUID's 16 bytes as AD stores them: the first three fields little-endian. */
  const guid = (n: number): Buffer =>
    Buffer.from(`e004253f894fd3119a0c0305e82c33${n.toString(16).padStart(2, '0')}`, 'hex');

  const settings = (extra: Record<string, unknown> = {}) => ({
    url: slapd.url,
    bindDn: slapd.bindDn,
    baseDn: slapd.peopleDn,
    groupBaseDn: slapd.groupsDn,
    caPem: slapd.caPem,
    every: '15m',
    ...extra,
  });

  async function users(): Promise<Map<string, DirectoryUser>> {
    const page = await t.services.directory.listUsers(tenantId, { count: 1000 });
    return new Map(page.items.map((u) => [u.userName, u]));
  }

  async function members(group: string): Promise<string[]> {
    const found = await t.services.directory.findGroup(tenantId, { displayName: group });
    if (!found) return [];
    return (await t.services.directory.membersOf(tenantId, found.id)).map((m) => m.userName).sort();
  }

  /** The first run that starts at or after `since` and finishes. */
  async function finishedRun(since: string, tenant = slug): Promise<SyncRunView> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const view = await t.request('GET', `/api/v1/tenants/${tenant}/directory?limit=20`);
      expect(view.status, view.text).toBe(200);
      const found = (view.body.runs as SyncRunView[])
        .filter((r) => r.startedAt >= since && r.status !== 'running')
        .at(-1);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no sync finished since ${since}: ${view.text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function sync(): Promise<SyncRunView> {
    const requested = await t.request('POST', `/api/v1/tenants/${slug}/directory/sync`, {});
    expect(requested.status, requested.text).toBe(202);
    return finishedRun(requested.body.requestedAt as string);
  }

  async function set(body: Record<string, unknown>): Promise<SyncRunView> {
    const before = new Date().toISOString();
    const res = await t.request('PUT', `/api/v1/tenants/${slug}/directory`, body);
    expect(res.status, res.text).toBe(200);
    return finishedRun(before);
  }

  beforeAll(async () => {
    [slapd, t] = await Promise.all([
      startSlapd({
        people: [
          { uid: 'ada', cn: 'Ada Lovelace', givenName: 'Ada', sn: 'Lovelace', mail: 'ada@acme.example' },
          { uid: 'bob', mail: 'bob@acme.example' },
          { uid: 'carol', mail: 'carol@acme.example' },
        ],
        groups: [
          { cn: 'staff', members: ['ada', 'bob'] },
          { cn: 'admins', members: ['ada'] },
        ],
        bulk: bulkPeople,
        ad: {
          people: [
            {
              sAMAccountName: 'alice',
              objectGUID: guid(1),
              userAccountControl: 512,
              mail: 'Alice@Initech.example',
              displayName: 'Alice A.',
            },
            { sAMAccountName: 'dave', objectGUID: guid(2), userAccountControl: 514 },
            { sAMAccountName: 'erin', objectGUID: guid(3), userAccountControl: 66048 },
          ],
          groups: [{ cn: 'Domain Staff', objectGUID: guid(4), members: ['alice', 'dave', 'erin'] }],
        },
      }),
      // slapd listens on loopback, which production refuses.
      startTestSteward({ config: { identity: { ldapAllowLoopback: true } } }),
    ]);
    const created = await t.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] });
    expect(created.status, created.text).toBe(201);
    const rows = await t.query<{ id: string }>(
      'select id from tenants where slug = $1',
      [slug],
      t.controlDatabase,
    );
    tenantId = String(rows[0]?.id);
    // carol came through SCIM before the directory was connected: hers to keep.
    await t.services.directory.createUser(
      tenantId,
      { userName: 'carol', email: 'carol@scim.example' },
      'scim',
    );
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: t.dataDir,
      STEWARD_API_URL: await t.steward.start(),
      STEWARD_TOKEN: t.token,
    };
    cli = (input, ...args) =>
      run(resolve(import.meta.dirname, '../../../bin/steward'), args, { env, ...(input ? { input } : {}) });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await slapd?.stop();
  }, 60_000);

  it('set (CLI, password on stdin) runs a first sync: users and groups created, the SCIM user left alone', async () => {
    const caFile = join(t.dataDir, 'ldap-ca.pem');
    await writeFile(caFile, slapd.caPem);
    const before = new Date().toISOString();
    // The flag that would put the password in argv is refused before anything is sent.
    const refused = await cli(
      undefined,
      'directory',
      'set',
      slug,
      '--url',
      slapd.url,
      '--bind-dn',
      slapd.bindDn,
      '--base-dn',
      slapd.peopleDn,
      '--bind-password',
      'x',
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--bind-password is not accepted.*--bind-password-stdin/);
    const set = await cli(
      `${slapd.bindPassword}\n`,
      'directory',
      'set',
      slug,
      '--url',
      slapd.url,
      '--bind-dn',
      slapd.bindDn,
      '--bind-password-stdin',
      '--base-dn',
      slapd.peopleDn,
      '--group-base-dn',
      slapd.groupsDn,
      '--ca-file',
      caFile,
      '--every',
      '15m',
    );
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(
      /users from ldap:\/\/127\.0\.0\.1:\d+ under ou=people,dc=acme,dc=example \(openldap\)/,
    );
    const first = await finishedRun(before);
    expect(first).toMatchObject({ status: 'succeeded', entries: 3, groups: 2, trigger: 'request' });
    expect(first.counts).toMatchObject({ created: 2, groupsCreated: 2, membershipsAdded: 3, deactivated: 0 });
    expect(first.problems).toEqual([
      {
        dn: slapd.personDn('carol'),
        reason: 'userName carol belongs to a user of source scim; it is left as it is',
      },
    ]);
    const all = await users();
    expect(all.get('ada')).toMatchObject({
      source: 'ldap',
      email: 'ada@acme.example',
      displayName: 'Ada Lovelace',
      givenName: 'Ada',
      familyName: 'Lovelace',
      active: true,
    });
    expect(all.get('ada')?.externalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(all.get('carol')).toMatchObject({ source: 'scim', email: 'carol@scim.example' });
    expect(await members('staff')).toEqual(['ada', 'bob']);
    expect(await members('admins')).toEqual(['ada']);

    // The CLI's sync follows a run to its end; nothing changed since.
    const again = await cli(undefined, 'directory', 'sync', slug);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(
      /directory sync \d+ of acme: succeeded in [\d.]+ s, 3 users and 2 groups read\n0 created, 0 updated, 0 deactivated, 0 reactivated/,
    );
    expect(again.stdout).toContain(
      'skipped uid=carol,ou=people,dc=acme,dc=example: userName carol belongs to a user of source scim',
    );
    // The next scheduled sync is queued for the tenant: one job, a quarter of an hour out.
    const jobs = await t.query<{ key: string; due: number }>(
      `select key, extract(epoch from run_at - now())::int as due from jobs where kind = $1`,
      [ldapSyncJobKind],
      t.controlDatabase,
    );
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.key).toBe(tenantId);
    expect(jobs[0]?.due).toBeGreaterThan(800);
    // The job's pass when nothing is asked for and nothing is due: no run, back when the schedule says.
    const runsBefore = (await t.services.ldap.show(slug)).runs.length;
    const pass = await t.services.ldap.handle({
      id: '0',
      kind: ldapSyncJobKind,
      key: tenantId,
      attempts: 0,
      requestedAt: '',
    });
    expect(pass).toMatchObject({ kind: 'requeue' });
    expect(pass.kind === 'requeue' && pass.afterMs).toBeGreaterThan(800_000);
    expect((await t.services.ldap.show(slug)).runs.length).toBe(runsBefore);
  });

  it('a changed mail updates the user', async () => {
    await slapd.modify(
      slapd.personDn('ada'),
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'mail', values: ['Ada.L@acme.example'] }),
      }),
    );
    const done = await sync();
    expect(done.status).toBe('succeeded');
    expect(done.counts).toMatchObject({ created: 0, updated: 1, deactivated: 0 });
    expect((await users()).get('ada')?.email).toBe('ada.l@acme.example');
  });

  it('a removed entry deactivates its user (kept, out of the groups); a returning one is reactivated', async () => {
    await slapd.remove(slapd.personDn('bob'));
    const gone = await sync();
    expect(gone.counts).toMatchObject({ deactivated: 1, membershipsRemoved: 1 });
    const bob = (await users()).get('bob');
    expect(bob).toMatchObject({ active: false, source: 'ldap' });
    expect(await members('staff')).toEqual(['ada']);

    // Made again: a new entryUUID, the same uid. Adopted by userName, reactivated, back in staff.
    await slapd.addPerson({ uid: 'bob', mail: 'bob@acme.example' });
    const back = await sync();
    expect(back.counts).toMatchObject({ reactivated: 1, updated: 1, created: 0, membershipsAdded: 1 });
    const returned = (await users()).get('bob');
    expect(returned).toMatchObject({ id: bob?.id, active: true });
    expect(returned?.externalId).not.toBe(bob?.externalId);
    expect(await members('staff')).toEqual(['ada', 'bob']);
  });

  it('a wrong bind password fails the run with a clear error and deactivates nobody', async () => {
    const wrong = 'not-the-password-7f3a';
    const failed = await set(settings({ bindPassword: wrong }));
    expect(failed.status).toBe('failed');
    expect(failed.reason).toBe(
      'the LDAP server refused the bind as "cn=steward,dc=acme,dc=example": invalid credentials (check the bind DN and set the password again with --bind-password-stdin)',
    );
    const all = await users();
    expect([...all.values()].filter((u) => u.source === 'ldap' && !u.active)).toEqual([]);
    // The audit log has the failure; neither it, the runs nor the logs have a password.
    const audit = await t.request('GET', `/api/v1/audit?tenant=${slug}&action=directory.sync`);
    expect(audit.status, audit.text).toBe(200);
    expect(JSON.stringify(audit.body)).toContain('"outcome":"failure"');
    const shown = await t.request('GET', `/api/v1/tenants/${slug}/directory`);
    for (const text of [audit.text, shown.text, t.logs()]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(slapd.bindPassword);
    }
    // The CLI exits non-zero with the reason.
    const cliRun = await cli(undefined, 'directory', 'sync', slug);
    expect(cliRun.code).toBe(1);
    expect(cliRun.stdout).toContain('error: the LDAP server refused the bind');
  });

  it('ldaps:// with the CA works; without it the run fails on TLS and changes nothing', async () => {
    const ok = await set(settings({ url: slapd.ldapsUrl, bindPassword: slapd.bindPassword }));
    expect(ok.status).toBe('succeeded');
    const untrusted = await set(settings({ url: slapd.ldapsUrl, caPem: null }));
    expect(untrusted.status).toBe('failed');
    expect(untrusted.reason).toMatch(
      /^TLS with ldaps:\/\/127\.0\.0\.1:\d+ failed: .*\(is the CA right\? give it with --ca-file\)$/,
    );
    const startTls = await set(settings({ caPem: null }));
    expect(startTls.reason).toMatch(/^TLS with ldap:\/\/127\.0\.0\.1:\d+ failed/);
  });

  it('a search that finds nobody deactivates nobody (the guard); a run a kill -9 left open is closed by the next', async () => {
    const empty = await set(settings({ userFilter: '(uid=nobody-at-all)' }));
    expect(empty.status).toBe('partial');
    expect(empty.reason).toMatch(
      /returned no users while 2 are synced from this directory, so nobody was deactivated/,
    );
    expect([...(await users()).values()].every((u) => u.active)).toBe(true);
    // The server stops the search at its size limit (2 entries for this account): incomplete, so guarded.
    const limited = await set(settings({ bindDn: slapd.limitedBindDn }));
    expect(limited.status).toBe('partial');
    expect(limited.reason).toMatch(
      /^the search was incomplete \(the server stopped the search under ou=people,dc=acme,dc=example after \d entries: its size limit was reached \(sizeLimitExceeded\)\), so nobody was deactivated/,
    );
    expect(limited.counts.deactivated).toBe(0);
    expect([...(await users()).values()].every((u) => u.active)).toBe(true);

    // A run whose process died mid-way stays "running" until the next run closes it.
    await t.query(
      `insert into ldap_sync_runs (tenant_id, trigger, requested_by, status, progress) values ($1, 'schedule', 'system', 'running', 'reading users: 500 entries')`,
      [tenantId],
      t.controlDatabase,
    );
    const next = await set(settings());
    expect(next.status).toBe('succeeded');
    const view = await t.request('GET', `/api/v1/tenants/${slug}/directory?limit=20`);
    const runs = view.body.runs as SyncRunView[];
    expect(runs.filter((r) => r.status === 'running')).toEqual([]);
    expect(runs.some((r) => r.reason?.startsWith('interrupted: Steward stopped during the run'))).toBe(true);
    const table = await cli(undefined, 'directory', 'show', slug);
    expect(table.stdout).toMatch(/every:\s+15m, next at/);
    expect(table.stdout).toMatch(/RUN\s+STARTED\s+TRIGGER\s+STATUS/);
  });

  it('a sync killed with SIGKILL mid-run: the next run closes it as interrupted and converges, nothing twice', async () => {
    // globex's directory is the bulk OU; its first sync runs in a process of its own, killed halfway.
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'globex', stages: ['prod'] });
    expect(created.status, created.text).toBe(201);
    const rows = await t.query<{ id: string }>(
      "select id from tenants where slug = 'globex'",
      [],
      t.controlDatabase,
    );
    const globex = String(rows[0]?.id);
    // The set's own sync (this Steward's job) reads ou=people; then the directory moves to the bulk OU.
    const before = new Date().toISOString();
    const put = await t.request('PUT', '/api/v1/tenants/globex/directory', {
      ...settings({ bindPassword: slapd.bindPassword, every: 'off', groupBaseDn: null }),
    });
    expect(put.status, put.text).toBe(200);
    expect((await finishedRun(before, 'globex')).counts.created).toBe(3);
    await t.query(
      'update ldap_directories set base_dn = $1 where tenant_id = $2',
      [slapd.bulkDn, globex],
      t.controlDatabase,
    );

    const child = spawn(
      resolve(import.meta.dirname, '../../../node_modules/.bin/node'),
      [resolve(import.meta.dirname, 'crash-child.ts'), t.controlUrl, join(t.dataDir, 'master.key'), globex],
      { cwd: resolve(import.meta.dirname, '../../..'), stdio: 'ignore' },
    );
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const until = Date.now() + 30_000;
      for (;;) {
        const running = (await t.services.ldap.show('globex')).runs.find((r) => r.status === 'running');
        const done = Number(/applied (\d+) of/.exec(running?.progress ?? '')?.[1] ?? 0);
        if (done >= 200 && done < bulkPeople) break;
        if (Date.now() > until || child.exitCode !== null)
          throw new Error(`the child's run was not caught mid-way: ${running?.progress}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const cut = await t.query<{ users: string }>(
      "select count(*)::text as users from tenant_users where tenant_id = $1 and user_name like 'bulk%'",
      [globex],
      t.controlDatabase,
    );
    const createdBefore = Number(cut[0]?.users);
    expect(createdBefore).toBeGreaterThan(0);
    expect(createdBefore).toBeLessThan(bulkPeople);

    const next = await t.services.ldap.syncNow(globex, 'request', 'test');
    expect(next.status).toBe('succeeded');
    expect(next.counts).toMatchObject({ created: bulkPeople - createdBefore, deactivated: 3 });
    const after = await t.query<{ users: string; active: string }>(
      "select count(*)::text as users, count(*) filter (where active)::text as active from tenant_users where tenant_id = $1 and user_name like 'bulk%'",
      [globex],
      t.controlDatabase,
    );
    expect(after[0]).toEqual({ users: String(bulkPeople), active: String(bulkPeople) });
    // And nothing is left to do.
    const idle = await t.services.ldap.syncNow(globex, 'request', 'test');
    expect(Object.values(idle.counts).filter((n) => typeof n === 'number' && n > 0)).toEqual([]);
    const runs = (await t.services.ldap.show('globex')).runs;
    expect(runs.filter((r) => r.status === 'running')).toEqual([]);
    expect(runs.find((r) => r.requestedBy === 'operator:crash-child')?.reason).toMatch(
      /^interrupted: Steward stopped during the run/,
    );
  });

  it('the active-directory preset: objectGUID as the id, a disabled account neither created nor kept active', async () => {
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'initech', stages: ['prod'] });
    expect(created.status, created.text).toBe(201);
    const initech = String(
      (
        await t.query<{ id: string }>("select id from tenants where slug = 'initech'", [], t.controlDatabase)
      )[0]?.id,
    );
    const before = new Date().toISOString();
    const put = await t.request('PUT', '/api/v1/tenants/initech/directory', {
      ...settings({ bindPassword: slapd.bindPassword, baseDn: slapd.adDn, groupBaseDn: slapd.adDn }),
      preset: 'active-directory',
    });
    expect(put.status, put.text).toBe(200);
    const first = await finishedRun(before, 'initech');
    expect(first).toMatchObject({ status: 'succeeded', entries: 3, groups: 1 });
    expect(first.counts).toMatchObject({ created: 2, groupsCreated: 1, membershipsAdded: 2 });
    const page = await t.services.directory.listUsers(initech, { count: 10 });
    const byName = new Map(page.items.map((u) => [u.userName, u]));
    expect([...byName.keys()].sort()).toEqual(['alice', 'erin']);
    expect(byName.get('alice')).toMatchObject({
      externalId: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
      email: 'alice@initech.example',
      displayName: 'Alice A.',
      source: 'ldap',
      active: true,
    });
    const staff = await t.services.directory.findGroup(initech, { displayName: 'Domain Staff' });
    expect(staff?.externalId).toBe('3f2504e0-4f89-11d3-9a0c-0305e82c3304');

    // Disabled in AD (ACCOUNTDISABLE): deactivated at the next sync.
    await slapd.modify(
      `cn=alice,${slapd.adDn}`,
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'userAccountControl', values: ['514'] }),
      }),
    );
    const requested = await t.request('POST', '/api/v1/tenants/initech/directory/sync', {});
    const next = await finishedRun(requested.body.requestedAt as string, 'initech');
    expect(next.counts).toMatchObject({ deactivated: 1, created: 0 });
    expect((await t.services.directory.findUser(initech, { userName: 'alice' }))?.active).toBe(false);

    // Removed: no settings, no password, no job; the users it made stay as they are.
    const removed = await t.request('DELETE', '/api/v1/tenants/initech/directory');
    expect(removed.body).toEqual({ tenant: 'initech', removed: true });
    expect((await t.request('GET', '/api/v1/tenants/initech/directory')).body.directory).toBeNull();
    const secret = await t.query(
      'select 1 from secrets where name = $1',
      [`ldap/${initech}/bind-password`],
      t.controlDatabase,
    );
    expect(secret).toEqual([]);
    expect(
      await t.services.ldap.handle({
        id: '0',
        kind: ldapSyncJobKind,
        key: initech,
        attempts: 0,
        requestedAt: '',
      }),
    ).toEqual({ kind: 'done' });
    expect((await t.services.directory.listUsers(initech, { count: 10 })).total).toBe(2);
    const again = await t.request('POST', '/api/v1/tenants/initech/directory/sync', {});
    expect(again.status).toBe(404);
    expect(again.body.message).toMatch(
      /has no directory to sync; set one with "steward directory set initech/,
    );
  });

  it('refuses bad settings, naming the field and what is accepted, and changes nothing', async () => {
    const before = await t.request('GET', `/api/v1/tenants/${slug}/directory`);
    const bad = await t.request(
      'PUT',
      `/api/v1/tenants/${slug}/directory`,
      settings({ url: 'http://ldap.example' }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'input', field: 'url' });
    expect(bad.body.message).toMatch(/ldaps:\/\/host\[:port\]/);
    const filter = await t.request(
      'PUT',
      `/api/v1/tenants/${slug}/directory`,
      settings({ userFilter: '(uid=' }),
    );
    expect(filter.body).toMatchObject({ field: 'userFilter' });
    const after = await t.request('GET', `/api/v1/tenants/${slug}/directory`);
    expect(after.body.directory).toEqual(before.body.directory);
    const other = await t.request('PUT', '/api/v1/tenants/nobody/directory', settings({ bindPassword: 'x' }));
    expect(other.status).toBe(404);
    // The routes are in the OpenAPI document, the set body with its fields.
    const doc = await t.request('GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths as object)).toEqual(
      expect.arrayContaining([
        '/api/v1/tenants/{tenant}/directory',
        '/api/v1/tenants/{tenant}/directory/sync',
      ]),
    );
    expect(JSON.stringify(doc.body.paths['/api/v1/tenants/{tenant}/directory'].put)).toContain(
      'bindPassword',
    );
  });
});
