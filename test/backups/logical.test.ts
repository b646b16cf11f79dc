import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { realpathSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

const marker = 'PLAINTEXT-MARKER-7f3a9c-never-in-ciphertext';
const exportType = 'application/vnd.steward.export';

async function stageQuery(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

const checksumSql = `select count(*)::int as rows, md5(string_agg(i.id || ':' || i.customer || ':' || i.amount || ':' || i.note, ',' order by i.id)) as sum from invoices i`;

async function waitExport(t: TestSteward, id: string): Promise<any> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await t.request('GET', `/api/v1/exports/${id}`);
    expect(res.status).toBe(200);
    if (res.body.status !== 'running') return res.body;
    if (Date.now() > deadline) throw new Error(`export ${id} still running`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath, entry.name);
    const rel = full.slice(dir.length + 1);
    if (entry.isSymbolicLink()) out[rel] = `-> ${execFileSync('readlink', [full]).toString().trim()}`;
    else if (entry.isFile())
      out[rel] = createHash('sha256')
        .update(await readFile(full))
        .digest('hex');
  }
  return out;
}

describe('logical exports: pg_dump and files, encrypted with age', () => {
  let t: TestSteward;
  let work: string;
  let sourceUrl: string;
  let filesDir: string;
  let identity: string;
  let exportId: string;
  let ciphertext: Buffer;

  beforeAll(async () => {
    t = await startTestSteward();
    work = await mkdtemp(join(tmpdir(), 'steward-export-test-'));
    expect((await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] })).status).toBe(201);
    expect((await t.request('POST', '/api/v1/tenants', { slug: 'other', stages: ['prod'] })).status).toBe(
      201,
    );
    await t.waitForStages('acme');
    await t.waitForStages('other');
    const creds = await t.request('GET', '/api/v1/tenants/acme/stages/prod/credentials');
    sourceUrl = creds.body.databaseUrl;
    await stageQuery(
      sourceUrl,
      `create table invoices (id serial primary key, customer text not null, amount numeric(12,2) not null, note text not null);
       insert into invoices (customer, amount, note)
         select 'customer ' || g, (g * 13.37)::numeric(12,2), case when g = 500 then '${marker}' else md5(g::text) end
         from generate_series(1, 2000) g;
       create index invoices_customer on invoices (customer);
       create view big_invoices as select * from invoices where amount > 1000;`,
    );
    filesDir = (await t.request('GET', '/api/v1/tenants/acme')).body.stages[0].filesDir;
    await mkdir(join(filesDir, 'attachments', 'deep', 'x'.repeat(120)), { recursive: true });
    await writeFile(join(filesDir, 'attachments', 'invoice-500.txt'), `attachment of ${marker}\n`);
    await writeFile(
      join(filesDir, 'attachments', 'deep', 'x'.repeat(120), 'long-név.bin'),
      Buffer.alloc(70_000, 7),
    );
    await writeFile(join(filesDir, 'empty'), '');
    await symlink('attachments/invoice-500.txt', join(filesDir, 'latest'));
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('names the field of bad input and refuses an export without a key', async () => {
    const bad = await t.request('PUT', '/api/v1/tenants/acme/export-key', { recipient: 'not-a-key' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('recipient');
    const both = await t.request('PUT', '/api/v1/tenants/acme/export-key', {
      recipient: 'x',
      generate: 'identity',
    });
    expect(both.status).toBe(400);
    expect(both.body.field).toBe('recipient');
    const kind = await t.request('PUT', '/api/v1/tenants/acme/export-key', { generate: 'rsa' });
    expect(kind.status).toBe(400);
    expect(kind.body.field).toBe('generate');
    const noKey = await t.request('POST', '/api/v1/tenants/acme/stages/prod/exports');
    expect(noKey.status).toBe(409);
    expect(noKey.body.message).toMatch(/no export key/);
    const noStage = await t.request('POST', '/api/v1/tenants/acme/stages/nope/exports');
    expect(noStage.status).toBe(404);
    expect(noStage.body.field).toBe('stage');
    const badId = await t.request('GET', '/api/v1/exports/not-an-id');
    expect(badId.status).toBe(404);
    expect(badId.body.field).toBe('id');
  });

  it('exports a stage into an encrypted file that holds no plaintext', async () => {
    const key = await t.request('PUT', '/api/v1/tenants/acme/export-key', { generate: 'identity' });
    expect(key.status).toBe(200);
    expect(key.body.identity).toMatch(/^AGE-SECRET-KEY-1/);
    expect(key.body.recipient).toMatch(/^age1/);
    identity = key.body.identity;
    // Shown once: reading the key back gives only the public part.
    const shown = await t.request('GET', '/api/v1/tenants/acme/export-key');
    expect(shown.body).toEqual({ tenant: 'acme', kind: 'x25519', recipient: key.body.recipient });
    expect(shown.text).not.toContain(identity);

    const created = await t.request('POST', '/api/v1/tenants/acme/stages/prod/exports');
    expect(created.status).toBe(202);
    expect(created.body.status).toBe('running');
    exportId = created.body.id;
    const done = await waitExport(t, exportId);
    expect(done.status, done.reason).toBe('succeeded');
    expect(done.fileCount).toBe(3);

    const download = await t.api.inject({
      method: 'GET',
      url: `/api/v1/exports/${exportId}/download`,
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(download.statusCode).toBe(200);
    ciphertext = download.rawPayload;
    expect(ciphertext.length).toBe(done.sizeBytes);
    expect(createHash('sha256').update(ciphertext).digest('hex')).toBe(done.sha256);
    expect(ciphertext.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    expect(ciphertext.includes(marker)).toBe(false);
    expect(ciphertext.includes('invoices')).toBe(false);

    const listed = await t.request('GET', '/api/v1/tenants/acme/exports');
    expect(listed.body.exports.map((e: { id: string }) => e.id)).toEqual([exportId]);
  });

  it('audits the download as data portability', async () => {
    const events = await t.query<{ action: string; details: any; tenant: string }>(
      "select action, details, tenant from audit_events where action like 'export.%' order by seq",
      [],
      t.controlDatabase,
    );
    expect(events.map((e) => e.action)).toEqual(['export.key.set', 'export.create', 'export.download']);
    expect(events[2]?.details.purpose).toBe('data portability');
    expect(events[2]?.tenant).toBe('acme');
  });

  it('lets no other tenant, and no auditor, fetch it', async () => {
    const other = await t.request('GET', `/api/v1/tenants/other/exports/${exportId}/download`);
    expect(other.status).toBe(404);
    expect(other.text).not.toContain('age-encryption');
    const own = await t.api.inject({
      method: 'GET',
      url: `/api/v1/tenants/acme/exports/${exportId}/download`,
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(own.statusCode).toBe(200);
    const auditor = await t.request('POST', '/api/v1/tokens', { name: 'auditor', role: 'auditor' });
    const refused = await t.request(
      'GET',
      `/api/v1/exports/${exportId}/download`,
      undefined,
      auditor.body.token,
    );
    expect(refused.status).toBe(403);
    expect((await t.request('GET', `/api/v1/exports/${exportId}/download`, undefined, null)).status).toBe(
      401,
    );
  });

  it('decrypts with the real age binary and the documented steps, without Steward', async () => {
    const file = join(work, 'acme-prod.steward-export');
    await writeFile(file, ciphertext);
    await writeFile(join(work, 'key.txt'), `# acme export key\n${identity}\n`, { mode: 0o600 });
    const out = join(work, 'out');
    await mkdir(out);
    execFileSync('sh', ['-c', `age -d -i key.txt acme-prod.steward-export | tar -x -C out`], { cwd: work });
    const manifest = JSON.parse(await readFile(join(out, 'steward-export.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'steward-export', version: 1, tenant: 'acme', stage: 'prod' });
    execFileSync('sh', ['-c', 'cat out/database/dump.* > database.dump'], { cwd: work });
    const summary = JSON.parse(await readFile(join(out, 'steward-export-summary.json'), 'utf8'));
    const dump = await readFile(join(work, 'database.dump'));
    expect(createHash('sha256').update(dump).digest('hex')).toBe(summary.databaseSha256);
    const list = execFileSync(
      join(dirname(realpathSync(join(inject('pgBinDir'), 'initdb'))), 'pg_restore'),
      ['-l', 'database.dump'],
      {
        cwd: work,
      },
    ).toString();
    expect(list).toMatch(/TABLE public invoices/);
    expect(await tree(join(out, 'files'))).toEqual(await tree(filesDir));
  });

  it('refuses a wrong key with a clear error and creates nothing', async () => {
    const wrong = execFileSync('age-keygen', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .split('\n')
      .find((l) => l.startsWith('AGE-SECRET-KEY-1'));
    const res = await t.api.inject({
      method: 'POST',
      url: '/api/v1/tenants/acme/imports?stage=restored',
      headers: {
        authorization: `Bearer ${t.token}`,
        'content-type': exportType,
        'x-steward-identity': wrong,
      },
      payload: ciphertext,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().field).toBe('identity');
    expect(res.json().message).toMatch(/does not open the export/);
    const tenant = await t.request('GET', '/api/v1/tenants/acme');
    expect(tenant.body.stages.map((s: { name: string }) => s.name)).toEqual(['prod']);
    expect(await readdir(join(t.dataDir, 'imports'))).toEqual([]);

    const damaged = Buffer.from(ciphertext);
    damaged[damaged.length - 100] = (damaged[damaged.length - 100] ?? 0) ^ 1;
    const broken = await t.api.inject({
      method: 'POST',
      url: '/api/v1/tenants/acme/imports?stage=restored',
      headers: {
        authorization: `Bearer ${t.token}`,
        'content-type': exportType,
        'x-steward-identity': identity,
      },
      payload: damaged,
    });
    expect(broken.statusCode).toBeGreaterThanOrEqual(400);
    const after = await t.request('GET', '/api/v1/tenants/acme');
    expect(after.body.stages.map((s: { name: string }) => s.name)).toEqual(['prod']);

    const noKey = await t.api.inject({
      method: 'POST',
      url: '/api/v1/tenants/acme/imports?stage=restored',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': exportType },
      payload: ciphertext,
    });
    expect(noKey.statusCode).toBe(400);
    expect(noKey.json().field).toBe('identity');
    const badStage = await t.api.inject({
      method: 'POST',
      url: '/api/v1/tenants/acme/imports?stage=Bad_Name',
      headers: {
        authorization: `Bearer ${t.token}`,
        'content-type': exportType,
        'x-steward-identity': identity,
      },
      payload: ciphertext,
    });
    expect(badStage.statusCode).toBe(400);
    expect(badStage.json().field).toBe('stage');
  });

  it('imports into a new stage: same rows, same checksums, same files', async () => {
    const res = await t.api.inject({
      method: 'POST',
      url: '/api/v1/tenants/acme/imports?stage=restored',
      headers: {
        authorization: `Bearer ${t.token}`,
        'content-type': exportType,
        'x-steward-identity': identity,
      },
      payload: ciphertext,
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ tenant: 'acme', stage: 'restored', files: 3 });
    const creds = await t.request('GET', '/api/v1/tenants/acme/stages/restored/credentials');
    const source = (await stageQuery(sourceUrl, checksumSql)).rows[0];
    const copy = (await stageQuery(creds.body.databaseUrl, checksumSql)).rows[0];
    expect(copy).toEqual(source);
    expect(copy.rows).toBe(2000);
    // Restored as the new stage's own role: it owns what it got.
    const owners = await stageQuery(
      creds.body.databaseUrl,
      "select tableowner from pg_tables where tablename = 'invoices'",
    );
    expect(owners.rows[0].tableowner).toBe(creds.body.user);
    const view = await stageQuery(creds.body.databaseUrl, 'select count(*)::int as n from big_invoices');
    expect(view.rows[0].n).toBeGreaterThan(0);
    const restored = (await t.request('GET', '/api/v1/tenants/acme')).body.stages.find(
      (s: { name: string }) => s.name === 'restored',
    );
    expect(await tree(restored.filesDir)).toEqual(await tree(filesDir));
  }, 120_000);

  it('encrypts with a generated passphrase (scrypt) that opens the export again', async () => {
    const key = await t.request('PUT', '/api/v1/tenants/other/export-key', { generate: 'passphrase' });
    expect(key.body.passphrase).toMatch(/^[a-z2-7]{26}$/);
    const created = await t.request('POST', '/api/v1/tenants/other/stages/prod/exports');
    const done = await waitExport(t, created.body.id);
    expect(done.status, done.reason).toBe('succeeded');
    expect(done.keyKind).toBe('scrypt');
    // age reads a passphrase only from a terminal: the import path (Steward's reader) is checked here.
    const download = await t.api.inject({
      method: 'GET',
      url: `/api/v1/exports/${done.id}/download`,
      headers: { authorization: `Bearer ${t.token}` },
    });
    const res = await t.api.inject({
      method: 'POST',
      url: '/api/v1/tenants/other/imports?stage=copy',
      headers: {
        authorization: `Bearer ${t.token}`,
        'content-type': exportType,
        'x-steward-passphrase': key.body.passphrase,
      },
      payload: download.rawPayload,
    });
    expect(res.statusCode, res.body).toBe(201);
    const removed = await t.request('DELETE', `/api/v1/exports/${done.id}`);
    expect(removed.status).toBe(200);
    expect((await t.request('GET', `/api/v1/exports/${done.id}`)).status).toBe(404);
  }, 120_000);
});
