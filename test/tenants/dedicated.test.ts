import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

/** Counts postmaster processes whose data directory lies under `dir`. */
async function postmastersUnder(dir: string): Promise<number> {
  const { readdir, readFile } = await import('node:fs/promises');
  let count = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (
      args[0]?.endsWith('/postgres') &&
      args.includes('-D') &&
      (args[args.indexOf('-D') + 1] ?? '').startsWith(dir)
    )
      count++;
  }
  return count;
}

async function connects(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('create table if not exists probe (id int)');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('dedicated tier: a PostgreSQL cluster per stage', () => {
  let t: TestSteward;
  let urls: Record<string, string>;

  beforeAll(async () => {
    t = await startTestSteward();
    const created = await t.request('POST', '/api/v1/tenants', {
      slug: 'solo',
      tier: 'dedicated',
      stages: ['dev', 'prod'],
    });
    expect(created.status).toBe(201);
    await t.waitForStages('solo', 'ready', 90_000);
    urls = {};
    for (const stage of ['dev', 'prod']) {
      const credentials = await t.request('GET', `/api/v1/tenants/solo/stages/${stage}/credentials`);
      urls[stage] = credentials.body.databaseUrl;
    }
  }, 120_000);

  afterAll(async () => {
    await t.close();
  });

  it('gives each stage its own server on its own port, not the shared cluster', async () => {
    const ports = Object.values(urls).map((u) => Number(new URL(u).port));
    expect(new Set(ports).size).toBe(2);
    expect(ports).not.toContain(inject('pgPort'));
    for (const stage of ['dev', 'prod']) {
      expect(existsSync(join(t.dataDir, 'clusters', await t.database('solo', stage), 'PG_VERSION'))).toBe(
        true,
      );
    }
  });

  it("lets each stage's role into its own database only", async () => {
    expect(await connects(urls.dev!)).toBe(true);
    expect(await connects(urls.prod!)).toBe(true);
    const devAsProd = new URL(urls.dev!);
    devAsProd.port = new URL(urls.prod!).port;
    devAsProd.pathname = new URL(urls.prod!).pathname;
    expect(await connects(devAsProd.toString())).toBe(false);
    // The superuser has no password login on a dedicated cluster: only Steward, over its socket.
    const superuser = new URL(urls.prod!);
    superuser.username = 'postgres';
    expect(await connects(replaceDatabase(superuser.toString(), 'postgres'))).toBe(false);
  });

  it('starts the clusters again after Steward stops them, and keeps the data', async () => {
    const clustersDir = join(t.dataDir, 'clusters');
    expect(await postmastersUnder(clustersDir)).toBe(2);
    const prodDatabase = await t.database('solo', 'prod');
    await t.steward.stop();
    expect(await postmastersUnder(clustersDir)).toBe(0);
    const rowsBefore = await t.query('select slug, desired from tenants', [], t.controlDatabase);
    expect(rowsBefore).toEqual([{ slug: 'solo', desired: 'present' }]);
    const again = await startTestSteward({ reuse: t });
    expect(again.controlDatabase).toBe(t.controlDatabase);
    const rowsAfter = await t.query('select slug, desired from tenants', [], t.controlDatabase);
    expect(rowsAfter).toEqual([{ slug: 'solo', desired: 'present' }]);
    try {
      await again.waitForStages('solo', 'ready', 60_000);
      // The resync notices the stopped servers and starts them.
      const deadline = Date.now() + 60_000;
      while ((await postmastersUnder(clustersDir)) < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await postmastersUnder(clustersDir)).toBe(2);
      const client = new pg.Client({ connectionString: urls.prod! });
      await client.connect();
      const rows = await client.query("select to_regclass('probe') as probe");
      await client.end();
      expect(rows.rows[0].probe).toBe('probe');
      const deleted = await again.request('DELETE', '/api/v1/tenants/solo');
      expect(deleted.status).toBe(202);
      await again.waitForStages('solo', 'gone', 60_000);
      expect(await postmastersUnder(clustersDir)).toBe(0);
      expect(existsSync(join(clustersDir, prodDatabase))).toBe(false);
    } finally {
      await again.steward.stop();
    }
  }, 180_000);
});
