import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request as httpRequest, Agent } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/ports.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

/**
 * The sample app as Steward will run it: real processes of node against a
 * stage's own database, with the stage's credentials from the API.
 */
/** The Node.js that runs this test (the pinned one under npm test). */
const node = process.execPath;
const appDir = new URL('../../examples/ledger/', import.meta.url).pathname;

interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

function start(script: string, env: Record<string, string>): Running {
  const child = spawn(node, [script], {
    cwd: appDir,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, output: () => output, exited };
}

async function run(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const p = start(script, env);
  const code = await p.exited;
  return { code, output: p.output() };
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function logLines(output: string): any[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

interface Web extends Running {
  readonly base: string;
  readonly port: number;
}

async function startWeb(env: Record<string, string>): Promise<Web> {
  const port = await freePort(0);
  const p = start('src/server.ts', { ...env, PORT: String(port) });
  await waitFor('the web process to listen', () => {
    if (p.child.exitCode !== null) throw new Error(`web exited: ${p.output()}`);
    return p.output().includes('"msg":"listening"');
  });
  return { ...p, port, base: `http://127.0.0.1:${port}` };
}

async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}

/** Steward's identity key, as the runtime passes it (STEWARD_IDENTITY_JWKS) and the edge signs with it. */
const identityKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** An X-Steward-Identity header for a user of the ledger tenant's dev stage, as the edge would send it. */
async function as(
  sub: string,
  claims: {
    groups?: string[];
    roles?: string[];
    email?: string;
    name?: string;
    user_name?: string;
    stage?: string;
  } = {},
  exp = Math.floor(Date.now() / 1000) + 300,
): Promise<Record<string, string>> {
  const token = await new SignJWT({
    iss: 'steward',
    tenant: 'ledger',
    stage: 'dev',
    groups: [],
    roles: [],
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid: 'steward-1' })
    .setSubject(sub)
    .setExpirationTime(exp)
    .sign(identityKey.privateKey);
  return { 'X-Steward-Identity': token };
}

describe('examples/ledger', () => {
  let t: TestSteward;
  let env: Record<string, string>;
  let testStageEnv: Record<string, string>;
  let filesDir: string;
  let web: Web;
  let devDatabase: () => string;

  beforeAll(async () => {
    t = await startTestSteward();
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'ledger', stages: ['dev', 'test'] });
    expect(created.status).toBe(201);
    await t.waitForStages('ledger');
    const dev = await t.request('GET', '/api/v1/tenants/ledger/stages/dev/credentials');
    const test = await t.request('GET', '/api/v1/tenants/ledger/stages/test/credentials');
    expect(dev.status).toBe(200);
    filesDir = await mkdtemp(join(tmpdir(), 'ledger-files-'));
    const common = { STEWARD_TENANT: 'ledger', STEWARD_RELEASE: '1.0.0', LEDGER_CURRENCY: 'EUR' };
    env = {
      ...common,
      STEWARD_IDENTITY_JWKS: JSON.stringify({
        keys: [{ ...(await exportJWK(identityKey.publicKey)), kid: 'steward-1', alg: 'ES256', use: 'sig' }],
      }),
      DATABASE_URL: dev.body.databaseUrl,
      STEWARD_STAGE: 'dev',
      STEWARD_FILES_DIR: filesDir,
      LEDGER_MAX_UPLOAD_BYTES: String(64 * 1024),
    };
    testStageEnv = { ...common, DATABASE_URL: test.body.databaseUrl, STEWARD_STAGE: 'test' };
    const devName = dev.body.database as string;
    devDatabase = () => devName;
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await waitFor('children to exit', () => children.size === 0, 5_000).catch(() => undefined);
    await t?.close();
    if (filesDir) await rm(filesDir, { recursive: true, force: true });
  });

  it('migrates, and migrating again changes nothing', async () => {
    const first = await run('src/migrate.ts', env);
    expect(first.code, first.output).toBe(0);
    expect(logLines(first.output).some((l) => l.msg === 'migration applied')).toBe(true);
    const tables = await t.query<{ tablename: string; tableowner: string }>(
      "select tablename, tableowner from pg_tables where schemaname = 'public' order by tablename",
      [],
      devDatabase(),
    );
    expect(tables.map((r) => r.tablename)).toEqual([
      'customers',
      'folders',
      'invoice_attachments',
      'invoices',
      'ledger_migrations',
      'outbox',
    ]);
    // The stage's own role owns them: the app ran as that role, not as a superuser.
    for (const r of tables) expect(r.tableowner).toBe(devDatabase());
    const second = await run('src/migrate.ts', env);
    expect(second.code, second.output).toBe(0);
    expect(second.output).toContain('database is up to date');
    expect(second.output).not.toContain('migration applied');
    const recorded = await t.query('select name from ledger_migrations order by name', [], devDatabase());
    expect(recorded).toEqual([{ name: '001_init.sql' }, { name: '002_folders.sql' }]);
    // No secret in the logs.
    const password = new URL(env['DATABASE_URL']!).password;
    expect(first.output + second.output).not.toContain(password);
  });

  it('runs concurrent migrations once each, under the advisory lock', async () => {
    const results = await Promise.all([1, 2, 3].map(() => run('src/migrate.ts', testStageEnv)));
    for (const r of results) expect(r.code, r.output).toBe(0);
    const applied = results.filter((r) => r.output.includes('"msg":"migration applied"'));
    expect(applied).toHaveLength(1);
  });

  it('fails with a clear message and a non-zero exit when a migration cannot apply', async () => {
    const badUrl = new URL(env['DATABASE_URL']!);
    badUrl.password = 'wrong-password';
    const refused = await run('src/migrate.ts', { ...env, DATABASE_URL: badUrl.toString() });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('cannot connect to the database');
    expect(refused.output).not.toContain('wrong-password');

    await t.query(
      "update ledger_migrations set checksum = 'abcdef0123456789' where name = '001_init.sql'",
      [],
      devDatabase(),
    );
    try {
      const changed = await run('src/migrate.ts', env);
      expect(changed.code).toBe(1);
      expect(changed.output).toContain('migration 001_init.sql failed');
      expect(changed.output).toContain('applied migrations must not change');
    } finally {
      await run('src/migrate.ts', testStageEnv); // keeps test stage migrated; dev is restored below
      const sum = createHash('sha256')
        .update(await readFile(join(appDir, 'migrations/001_init.sql'), 'utf8'))
        .digest('hex');
      await t.query(
        'update ledger_migrations set checksum = $1 where name = $2',
        [sum, '001_init.sql'],
        devDatabase(),
      );
    }
    expect((await run('src/migrate.ts', env)).code).toBe(0);

    const missing = await run('src/migrate.ts', { PATH: '' });
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('DATABASE_URL is not set');
  });

  it('serves health, customers and invoices, and refuses bad input naming the field', async () => {
    web = await startWeb(env);
    const health = await api(web.base, 'GET', '/healthz');
    expect(health).toEqual({ status: 200, body: { status: 'ok', release: '1.0.0' } });

    const customer = await api(web.base, 'POST', '/api/customers', {
      name: 'Acme GmbH',
      email: 'ap@acme.test',
    });
    expect(customer.status).toBe(201);
    expect(customer.body).toMatchObject({ name: 'Acme GmbH', email: 'ap@acme.test', createdBy: 'anonymous' });
    const listed = await api(web.base, 'GET', '/api/customers');
    expect(listed.body.customers.map((c: any) => c.id)).toContain(customer.body.id);

    const invoice = await api(
      web.base,
      'POST',
      '/api/invoices',
      { customerId: customer.body.id, amountCents: 123_45, description: 'Consulting' },
      await as('u-42', { email: 'ann@acme.test' }),
    );
    expect(invoice.status).toBe(201);
    expect(invoice.body).toMatchObject({
      customerId: customer.body.id,
      customerName: 'Acme GmbH',
      amountCents: 12345,
      currency: 'EUR',
      status: 'draft',
      createdBy: 'u-42',
    });
    expect(invoice.body.number).toMatch(/^INV-\d{6}$/);
    const usd = await api(web.base, 'POST', '/api/invoices', {
      customerId: customer.body.id,
      amountCents: 0,
      currency: 'USD',
    });
    expect(usd.body.currency).toBe('USD');

    const shown = await api(web.base, 'GET', `/api/invoices/${invoice.body.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ id: invoice.body.id, attachments: [] });
    const all = await api(web.base, 'GET', '/api/invoices');
    expect(all.body.invoices.map((i: any) => i.id)).toEqual([usd.body.id, invoice.body.id]);
    const drafts = await api(web.base, 'GET', `/api/invoices?status=draft&customerId=${customer.body.id}`);
    expect(drafts.body.invoices).toHaveLength(2);

    const bad: [string, string, unknown, string][] = [
      ['POST', '/api/customers', {}, 'name'],
      ['POST', '/api/customers', { name: '   ' }, 'name'],
      ['POST', '/api/customers', { name: 7 }, 'name'],
      ['POST', '/api/customers', { name: 'x'.repeat(201) }, 'name'],
      ['POST', '/api/customers', { name: 'A', email: 'not-an-email' }, 'email'],
      ['POST', '/api/customers', '{"name":', 'body'],
      ['POST', '/api/customers', '[1]', 'body'],
      ['POST', '/api/invoices', { amountCents: 5 }, 'customerId'],
      ['POST', '/api/invoices', { customerId: customer.body.id }, 'amountCents'],
      ['POST', '/api/invoices', { customerId: customer.body.id, amountCents: 1.5 }, 'amountCents'],
      ['POST', '/api/invoices', { customerId: customer.body.id, amountCents: -1 }, 'amountCents'],
      ['POST', '/api/invoices', { customerId: customer.body.id, amountCents: '10' }, 'amountCents'],
      [
        'POST',
        '/api/invoices',
        { customerId: customer.body.id, amountCents: 1, currency: 'euro' },
        'currency',
      ],
      ['POST', '/api/invoices', { customerId: 999999, amountCents: 1 }, 'customerId'],
      ['GET', '/api/invoices/abc', undefined, 'id'],
      ['GET', '/api/invoices?status=void', undefined, 'status'],
      ['POST', `/api/invoices/${invoice.body.id}/status`, { status: 'void' }, 'status'],
    ];
    for (const [method, path, body, field] of bad) {
      const res = await api(web.base, method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.field, `${method} ${path}`).toBe(field);
      expect(res.body.code).toBe('input');
      expect(res.body.message).toContain(field);
    }
    const noJson = await fetch(web.base + '/api/customers', { method: 'POST', body: 'name=x' });
    expect(noJson.status).toBe(400);
    expect((await noJson.json()).field).toBe('body');
    // A refused request changed nothing.
    const count = await t.query<{ n: number }>('select count(*)::int as n from customers', [], devDatabase());
    expect(count).toEqual([{ n: 1 }]);

    expect((await api(web.base, 'GET', '/api/invoices/999999')).status).toBe(404);
    expect((await api(web.base, 'GET', '/api/nothing')).status).toBe(404);
    // The slow debug route exists only with LEDGER_DEBUG=1 (the dev stage).
    expect((await api(web.base, 'GET', '/debug/sleep?ms=1')).status).toBe(404);
    expect((await api(web.base, 'DELETE', '/api/customers')).status).toBe(405);
    const paidTooEarly = await api(web.base, 'POST', `/api/invoices/${invoice.body.id}/status`, {
      status: 'paid',
    });
    expect(paidTooEarly.status).toBe(409);
    expect(paidTooEarly.body.message).toContain('is draft');

    const page = await fetch(web.base + '/');
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain(invoice.body.number);
    expect(html).toContain('€123.45');
  });

  it('names the user of a verified X-Steward-Identity; a forged, expired or foreign one is anonymous, logged without the token', async () => {
    const anon = await api(web.base, 'GET', '/api/me');
    expect(anon.body).toEqual({
      authenticated: false,
      id: 'anonymous',
      userName: null,
      email: null,
      name: null,
      groups: [],
      roles: [],
      groupsOverage: false,
      tenant: 'ledger',
      stage: 'dev',
    });
    const headers = await as('u-1', {
      user_name: 'ann',
      email: 'ann@acme.test',
      name: 'Ann Example',
      groups: ['Finance', 'Staff'],
      roles: ['finance.read'],
    });
    const me = await api(web.base, 'GET', '/api/me', undefined, headers);
    expect(me.body).toEqual({
      authenticated: true,
      id: 'u-1',
      userName: 'ann',
      email: 'ann@acme.test',
      name: 'Ann Example',
      groups: ['Finance', 'Staff'],
      roles: ['finance.read'],
      groupsOverage: false,
      tenant: 'ledger',
      stage: 'dev',
    });
    const token = headers['X-Steward-Identity']!;
    const [h, p] = token.split('.');
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const refused: [string, Record<string, string>, string][] = [
      // The headers the app trusted before: worthless now.
      [
        'the old X-Steward-User-* headers',
        { 'X-Steward-User-Id': 'admin', 'X-Steward-Groups': 'owners' },
        '',
      ],
      [
        'unsigned (alg none)',
        { 'X-Steward-Identity': `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.` },
        'malformed',
      ],
      [
        'forged claims',
        {
          'X-Steward-Identity': `${h}.${Buffer.from('{"sub":"admin","roles":["admin"]}').toString('base64url')}.${token.split('.')[2]}`,
        },
        'signature',
      ],
      ['expired', await as('u-1', {}, Math.floor(Date.now() / 1000) - 60), 'expired'],
      ['for another stage', await as('u-1', { stage: 'test' }), 'stage'],
      [
        'signed with another key',
        {
          'X-Steward-Identity': await new SignJWT({ iss: 'steward', tenant: 'ledger', stage: 'dev' })
            .setProtectedHeader({ alg: 'ES256', kid: 'steward-1' })
            .setSubject('admin')
            .setExpirationTime('5m')
            .sign(otherKey),
        },
        'signature',
      ],
    ];
    for (const [what, sent, reason] of refused) {
      const res = await api(web.base, 'GET', '/api/me', undefined, sent);
      expect(res.body, what).toMatchObject({ authenticated: false, id: 'anonymous', roles: [] });
      expect(res.body.refused, what).toBe(reason || undefined);
    }
    await waitFor('the refusals in the log', () => web.output().includes('"reason":"signature"'));
    const logged = logLines(web.output()).filter(
      (l) => l.msg === 'identity header refused: the request is anonymous',
    );
    expect(logged.map((l) => l.reason)).toEqual(['malformed', 'signature', 'expired', 'stage', 'signature']);
    // Why, never the token.
    for (const [, sent] of refused)
      for (const value of Object.values(sent))
        expect(web.output()).not.toContain(value.split('.')[2] || value);
  });

  it('shows folders by groups and roles: a user sees and changes only what they allow (403 otherwise)', async () => {
    const admin = await as('u-admin', { name: 'Ada Admin', roles: ['admin'] });
    const finance = await as('u-fin', { name: 'Fin', groups: ['FINANCE'] });
    const writer = await as('u-writer', { roles: ['finance.write'] });
    const sales = await as('u-sales', { groups: ['Sales'] });
    const denied = await api(web.base, 'POST', '/api/folders', { name: 'Payroll' }, finance);
    expect(denied.status).toBe(403);
    expect(denied.body.message).toContain('only role admin may create folders');
    const payroll = await api(
      web.base,
      'POST',
      '/api/folders',
      { name: 'Payroll', read: { groups: ['Finance'] }, write: { roles: ['finance.write'] } },
      admin,
    );
    expect(payroll.status, JSON.stringify(payroll.body)).toBe(201);
    expect(payroll.body).toMatchObject({ read: { roles: [], groups: ['Finance'] }, access: 'write' });
    const bad = await api(web.base, 'POST', '/api/folders', { name: 'X', read: { people: ['a'] } }, admin);
    expect(bad.body).toMatchObject({ code: 'input', field: 'read.people' });
    const twice = await api(web.base, 'POST', '/api/folders', { name: 'PAYROLL' }, admin);
    expect(twice.status).toBe(409);
    expect(twice.body).toMatchObject({ code: 'conflict', field: 'name' });
    const customer = await api(web.base, 'POST', '/api/customers', { name: 'Payroll Co' });
    const folderId = payroll.body.id as number;
    const create = (headers: Record<string, string>) =>
      api(
        web.base,
        'POST',
        '/api/invoices',
        { customerId: customer.body.id, amountCents: 500, folderId },
        headers,
      );
    // Reading is not writing; anonymous and other groups get nothing.
    for (const [who, headers] of [
      ['finance (reader)', finance],
      ['sales', sales],
      ['anonymous', {}],
    ] as const) {
      const res = await create(headers);
      expect(res.status, who).toBe(403);
      expect(res.body.code).toBe('forbidden');
    }
    const invoice = await create(writer);
    expect(invoice.status).toBe(201);
    expect(invoice.body.folderId).toBe(folderId);
    const id = invoice.body.id as number;
    const status = (headers: Record<string, string>) =>
      api(web.base, 'POST', `/api/invoices/${id}/status`, { status: 'sent' }, headers);
    expect((await status(finance)).status).toBe(403);
    expect((await status(writer)).status).toBe(200);
    for (const [who, headers, code] of [
      ['finance, by group without case', finance, 200],
      ['writer', writer, 200],
      ['admin', admin, 200],
      ['sales', sales, 403],
      ['anonymous', {}, 403],
    ] as const) {
      expect((await api(web.base, 'GET', `/api/invoices/${id}`, undefined, headers)).status, who).toBe(code);
      expect((await api(web.base, 'GET', `/api/folders/${folderId}`, undefined, headers)).status, who).toBe(
        code,
      );
      const listed = (await api(web.base, 'GET', '/api/invoices', undefined, headers)).body.invoices.map(
        (i: any) => i.id,
      );
      expect(listed.includes(id), who).toBe(code === 200);
    }
    const forbidden = await api(web.base, 'GET', `/api/invoices/${id}`, undefined, sales);
    expect(forbidden.body.message).toBe(
      'you may not read folder "Payroll" (readers: groups Finance; writers: roles finance.write; or role admin)',
    );
    expect((await api(web.base, 'GET', '/api/folders', undefined, finance)).body.folders).toEqual([
      expect.objectContaining({ name: 'Payroll', access: 'read' }),
    ]);
    expect((await api(web.base, 'GET', '/api/folders', undefined, sales)).body.folders).toEqual([]);
    // The page says who is signed in and what they may open.
    const page = await (await fetch(`${web.base}/`, { headers: finance })).text();
    expect(page).toContain('Signed in as <strong>Fin</strong>');
    expect(page).toContain('<dd id="groups">FINANCE</dd>');
    expect(page).toMatch(/<td>Payroll<\/td><td>read<\/td>/);
    expect(page).toContain(invoice.body.number);
    const salesPage = await (await fetch(`${web.base}/`, { headers: sales })).text();
    expect(salesPage).toContain('No folders you may open.');
    expect(salesPage).not.toContain(invoice.body.number);
  });

  it('stores an attachment under the files directory and serves it back', async () => {
    const customer = await api(web.base, 'POST', '/api/customers', { name: 'Files Ltd' });
    const invoice = await api(web.base, 'POST', '/api/invoices', {
      customerId: customer.body.id,
      amountCents: 100,
    });
    const id = invoice.body.id as number;
    const content = Buffer.from('%PDF-1.4\n' + 'x'.repeat(5000) + '\n%%EOF\n');
    const upload = await fetch(
      `${web.base}/api/invoices/${id}/attachments?name=${encodeURIComponent('../../Rechnung März.pdf')}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/pdf', ...(await as('u-7')) },
        body: content,
      },
    );
    expect(upload.status).toBe(201);
    const attachment: any = await upload.json();
    const sha = createHash('sha256').update(content).digest('hex');
    expect(attachment).toMatchObject({
      invoiceId: id,
      fileName: 'Rechnung_Ma_rz.pdf',
      storedPath: `invoices/${id}/Rechnung_Ma_rz.pdf`,
      sizeBytes: content.length,
      sha256: sha,
      contentType: 'application/pdf',
      createdBy: 'u-7',
    });
    const onDisk = await readFile(join(filesDir, 'invoices', String(id), 'Rechnung_Ma_rz.pdf'));
    expect(onDisk.equals(content)).toBe(true);

    const download = await fetch(`${web.base}/api/invoices/${id}/attachments/${attachment.id}`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/pdf');
    expect(download.headers.get('content-disposition')).toContain('Rechnung_Ma_rz.pdf');
    expect(Buffer.from(await download.arrayBuffer()).equals(content)).toBe(true);
    expect((await api(web.base, 'GET', `/api/invoices/${id}`)).body.attachments).toHaveLength(1);

    // By header, too; the same name again is a conflict and leaves the first file alone.
    const byHeader = await fetch(`${web.base}/api/invoices/${id}/attachments`, {
      method: 'POST',
      headers: { 'X-File-Name': 'notes.txt' },
      body: 'hello',
    });
    expect(byHeader.status).toBe(201);
    const again = await fetch(`${web.base}/api/invoices/${id}/attachments?name=Rechnung_Ma_rz.pdf`, {
      method: 'POST',
      body: 'other',
    });
    expect(again.status).toBe(409);
    expect(
      (await readFile(join(filesDir, 'invoices', String(id), 'Rechnung_Ma_rz.pdf'))).equals(content),
    ).toBe(true);

    const noName = await api(web.base, 'POST', `/api/invoices/${id}/attachments`, 'x');
    expect(noName.status).toBe(400);
    expect(noName.body.field).toBe('name');
    const dots = await api(web.base, 'POST', `/api/invoices/${id}/attachments?name=..`, 'x');
    expect(dots.status).toBe(400);
    expect(dots.body.field).toBe('name');
    expect((await api(web.base, 'POST', `/api/invoices/999999/attachments?name=a.txt`, 'x')).status).toBe(
      404,
    );
    expect((await api(web.base, 'GET', `/api/invoices/${id}/attachments/999999`)).status).toBe(404);

    // Over the limit (64 KiB here): refused by its declared length, and when streamed without one.
    const big = Buffer.alloc(64 * 1024 + 1, 1);
    const declared = await fetch(`${web.base}/api/invoices/${id}/attachments?name=big.bin`, {
      method: 'POST',
      body: big,
    });
    expect(declared.status).toBe(413);
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${web.base}/api/invoices/${id}/attachments?name=big2.bin`, { method: 'POST' });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write(Buffer.alloc(8 * 1024, 2));
      req.end();
    });
    expect(streamed).toBe(413);
    const names = await readdir(join(filesDir, 'invoices', String(id)));
    expect(names.sort()).toEqual(['Rechnung_Ma_rz.pdf', 'notes.txt']);
    const rows = await t.query(
      'select file_name from invoice_attachments where invoice_id = $1 order by id',
      [id],
      devDatabase(),
    );
    expect(rows).toEqual([{ file_name: 'Rechnung_Ma_rz.pdf' }, { file_name: 'notes.txt' }]);
  });

  it('the worker processes the outbox event of a sent invoice, and stops on SIGTERM', async () => {
    const customer = await api(web.base, 'POST', '/api/customers', { name: 'Outbox AG' });
    const invoice = await api(web.base, 'POST', '/api/invoices', {
      customerId: customer.body.id,
      amountCents: 990,
    });
    const sent = await api(web.base, 'POST', `/api/invoices/${invoice.body.id}/status`, { status: 'sent' });
    expect(sent.status).toBe(200);
    expect(sent.body.status).toBe('sent');
    expect(sent.body.deliveredAt).toBeNull();
    const pending = await t.query<{ kind: string; processed_at: Date | null }>(
      "select kind, processed_at from outbox where payload->>'invoiceId' = $1",
      [String(invoice.body.id)],
      devDatabase(),
    );
    expect(pending).toEqual([{ kind: 'invoice.sent', processed_at: null }]);

    const worker = start('src/worker.ts', { ...env, LEDGER_WORKER_POLL_MS: '100' });
    await waitFor('the invoice to be delivered', async () => {
      const shown = await api(web.base, 'GET', `/api/invoices/${invoice.body.id}`);
      return shown.body.deliveredAt !== null;
    });
    const processed = await t.query<{ processed_at: Date | null; attempts: number }>(
      "select processed_at, attempts from outbox where payload->>'invoiceId' = $1",
      [String(invoice.body.id)],
      devDatabase(),
    );
    expect(processed[0]!.processed_at).not.toBeNull();
    expect(processed[0]!.attempts).toBe(1);
    expect(
      logLines(worker.output()).some((l) => l.msg === 'event processed' && l.kind === 'invoice.sent'),
    ).toBe(true);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it('a spinning worker burns CPU and still stops on SIGTERM', async () => {
    const worker = start('src/worker.ts', { ...env, LEDGER_WORKER_SPIN: '1' });
    await waitFor('the worker to start', () => worker.output().includes('"msg":"started"'));
    // Half a second of CPU (utime + stime, in clock ticks of 100 a second). A busy CI machine
    // gives the spinning worker less than a core, so the time to get there is not what is tested.
    const cpuTicks = async () => {
      const stat = (await readFile(`/proc/${worker.child.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
      return Number(stat[11]) + Number(stat[12]);
    };
    await waitFor('the spinning worker to burn half a second of CPU', async () => (await cpuTicks()) > 50);
    const asked = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(Date.now() - asked).toBeLessThan(3000);
  });

  it('on SIGTERM finishes the request in flight, closes idle connections and exits 0', async () => {
    const customer = await api(web.base, 'POST', '/api/customers', { name: 'Drain SA' });
    const invoice = await api(web.base, 'POST', '/api/invoices', {
      customerId: customer.body.id,
      amountCents: 1,
    });
    // An idle keep-alive connection, which must be closed rather than waited for.
    const agent = new Agent({ keepAlive: true });
    const idleClosed = new Promise<void>((resolve) => {
      const req = httpRequest(`${web.base}/healthz`, { agent }, (res) => {
        res.resume();
        res.on('end', () => req.socket?.once('close', () => resolve()));
      });
      req.end();
    });
    await new Promise((r) => setTimeout(r, 100));

    // A slow upload: half the body now, the rest after SIGTERM.
    const half = Buffer.alloc(1000, 3);
    const response = new Promise<{ status: number; body: string; connection: string | undefined }>(
      (resolve, reject) => {
        const req = httpRequest(`${web.base}/api/invoices/${invoice.body.id}/attachments?name=slow.bin`, {
          method: 'POST',
          headers: { 'content-length': String(half.length * 2) },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }),
          );
        });
        req.on('error', reject);
        req.write(half);
        setTimeout(() => {
          web.child.kill('SIGTERM');
          setTimeout(() => req.end(half), 500);
        }, 300);
      },
    );
    const startedAt = Date.now();
    await idleClosed;
    // New connections are refused while the request is still in flight.
    await new Promise((r) => setTimeout(r, 400));
    expect(web.child.exitCode).toBeNull();
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(web.port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    const done = await response;
    expect(done.status, done.body).toBe(201);
    expect(JSON.parse(done.body).sizeBytes).toBe(2000);
    expect(done.connection).toBe('close');
    expect(await web.exited).toBe(0);
    expect(Date.now() - startedAt).toBeLessThan(5000);
    agent.destroy();
    expect(existsSync(join(filesDir, 'invoices', String(invoice.body.id), 'slow.bin'))).toBe(true);
    const lines = logLines(web.output());
    expect(lines.some((l) => l.msg === 'draining')).toBe(true);
    expect(lines.at(-1)!.msg).toBe('stopped');
    expect(web.output()).not.toContain(new URL(env['DATABASE_URL']!).password);
  });

  it('answers 503 on /healthz when the database is unreachable', async () => {
    const unreachable = new URL(env['DATABASE_URL']!);
    unreachable.port = String(await freePort(0));
    const down = await startWeb({ ...env, DATABASE_URL: unreachable.toString(), LEDGER_DEBUG: '1' });
    try {
      const health = await api(down.base, 'GET', '/healthz');
      expect(health.status).toBe(503);
      expect(health.body.status).toBe('unavailable');
      const started = Date.now();
      expect(await api(down.base, 'GET', '/debug/sleep?ms=300')).toEqual({
        status: 200,
        body: { sleptMs: 300 },
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect((await api(down.base, 'GET', '/debug/sleep?ms=x')).body.field).toBe('ms');
    } finally {
      down.child.kill('SIGTERM');
      expect(await down.exited).toBe(0);
    }
  });

  it('verify prints row counts and checksums, and fails on a broken schema', async () => {
    const first = await run('src/verify.ts', env);
    expect(first.code, first.output).toBe(0);
    const report = JSON.parse(first.output);
    expect(report.ok).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.migrations).toBe(2);
    const customers = await t.query<{ n: number }>(
      'select count(*)::int as n from customers',
      [],
      devDatabase(),
    );
    expect(report.tables.customers.rows).toBe(customers[0]!.n);
    expect(report.tables.invoice_attachments.rows).toBe(3);
    expect(Object.keys(report.tables).sort()).toEqual([
      'customers',
      'folders',
      'invoice_attachments',
      'invoices',
      'ledger_migrations',
      'outbox',
    ]);
    // Same data, same checksums; one changed row changes its table's checksum only.
    const same = JSON.parse((await run('src/verify.ts', env)).output);
    expect(same.tables).toEqual(report.tables);
    await t.query(
      "update customers set name = name || '!' where id = (select min(id) from customers)",
      [],
      devDatabase(),
    );
    const changed = JSON.parse((await run('src/verify.ts', env)).output);
    expect(changed.tables.customers.checksum).not.toBe(report.tables.customers.checksum);
    expect(changed.tables.invoices).toEqual(report.tables.invoices);

    // The test stage, migrated above, loses a table.
    expect((await run('src/verify.ts', testStageEnv)).code).toBe(0);
    await t.query('drop table outbox', [], await t.database('ledger', 'test'));
    const broken = await run('src/verify.ts', testStageEnv);
    expect(broken.code).toBe(1);
    const brokenReport = JSON.parse(broken.output);
    expect(brokenReport.ok).toBe(false);
    expect(brokenReport.problems.join('\n')).toContain('table outbox cannot be read');
  });
});
