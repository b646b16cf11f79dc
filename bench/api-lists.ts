/**
 * bench/api-lists: the API's list and show at size. Seeds BENCH_TENANTS
 * tenants (5,000 by default) x 3 stages as rows in the control database (no
 * databases or processes: a Steward without workers serves only the API),
 * then measures p50/p99 over HTTPS of: the tenant list's first page, a
 * filtered page, a page deep in the list by cursor (slug and name order),
 * and tenant show (a tenant with its stages). Target p99 <= 50 ms. Prints JSON.
 *
 * Usage: npm run bench:api-lists  (BENCH_TENANTS=5000, BENCH_SAMPLES=300)
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ApiClient } from '../src/cli/client.ts';
import { parseConfig } from '../src/core/config.ts';
import { createLogger } from '../src/core/logger.ts';
import {
  bootstrapControlDatabase,
  findPostgresBinDir,
  initCluster,
  replaceDatabase,
  startCluster,
  stopCluster,
  withCredentials,
} from '../src/databases/local-cluster.ts';
import { fileKeyring } from '../src/secrets/keyring.ts';
import { Steward } from '../src/steward.ts';
import { freePort } from '../src/system/ports.ts';
import { ensureCa, issueServerCertificate } from '../src/tls/ca.ts';

const tenants = Number(process.env.BENCH_TENANTS ?? 5000);
const samples = Number(process.env.BENCH_SAMPLES ?? 300);
const stagesPerTenant = ['dev', 'test', 'prod'];

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};
const round = (n: number, digits = 1): number => Number(n.toFixed(digits));
const log = (message: string): void => void process.stderr.write(`${message}\n`);

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'steward-bench-lists-'));
  await chmod(dataDir, 0o711);
  const password = `bench-${crypto.randomUUID()}`;
  const cluster = await initCluster(
    {
      dir: join(dataDir, 'pg'),
      port: await freePort(0),
      binDir: findPostgresBinDir(process.env.STEWARD_PG_BIN_DIR),
      unsafeFast: true,
    },
    password,
  );
  await startCluster(cluster);
  let steward: Steward | undefined;
  try {
    const superuserUrl = cluster.superuserUrl(password);
    const appPassword = crypto.randomUUID();
    await bootstrapControlDatabase(superuserUrl, 'steward', appPassword);
    const adminUrl = replaceDatabase(superuserUrl, 'steward');
    const config = parseConfig({ dataDir, api: { host: '127.0.0.1', port: 0 }, logLevel: 'warn' });
    const ca = await ensureCa(dataDir);
    const cert = await issueServerCertificate(ca, ['127.0.0.1', 'localhost']);
    steward = new Steward({
      config,
      controlUrl: withCredentials(adminUrl, 'steward_app', appPassword),
      adminUrl,
      sharedClusterUrl: superuserUrl,
      keyringStore: fileKeyring(join(dataDir, 'master.key')),
      logger: createLogger('warn'),
      pgBinDir: cluster.binDir,
      tls: { key: cert.keyPem, cert: cert.chainPem },
      // Only the API: the seeded stages have no databases for reconcilers to look after.
      workers: false,
    });
    await steward.start();
    await steward.services.operators.bootstrapOwner();
    const token = (await steward.services.operators.issueLocalToken()).token;
    const address = steward.api.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const api = new ApiClient({ apiUrl: `https://127.0.0.1:${port}`, ca: ca.certPem, token });

    log(`bench/api-lists: seeding ${tenants} tenants x ${stagesPerTenant.length} stages`);
    const seedStarted = performance.now();
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    const region = config.regions[0]?.name ?? 'default';
    await admin.query(
      `insert into tenants (slug, display_name, region, tier, contacts)
       select 'bench-' || lpad(i::text, 5, '0'), 'Customer ' || (i % 97)::text, $1,
              case when i % 10 = 0 then 'dedicated' else 'shared' end, '[]'
       from generate_series(1, $2::int) i`,
      [region, tenants],
    );
    await admin.query(
      `insert into stages (tenant_id, name, database_name, password_secret, files_dir, phase, reason,
                           observed_generation, ready_at)
       select t.id, s.name, 'bench_' || t.id || '_' || s.name, 'bench', '/nonexistent/bench/' || t.id || '/' || s.name,
              case when t.id % 50 = 0 and s.name = 'prod' then 'failed' else 'ready' end, 'seeded', 1, now()
       from tenants t cross join unnest($1::text[]) s(name)`,
      [stagesPerTenant],
    );
    await admin.query('analyze tenants; analyze stages');
    await admin.end();
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const time = async (path: string): Promise<number[]> => {
      for (let i = 0; i < 10; i++) await api.get(path);
      const measured: number[] = [];
      for (let i = 0; i < samples; i++) {
        const t0 = performance.now();
        await api.get(path);
        measured.push(performance.now() - t0);
      }
      return measured;
    };
    // A cursor deep in the list: follow the pages to the middle once.
    const deepCursor = async (query: string): Promise<string> => {
      let cursor: string | null = null;
      for (let page = 0; page < Math.floor(tenants / 200); page++) {
        const next: { nextCursor: string | null } = await api.api.page('/api/v1/tenants', {
          query: Object.fromEntries(new URLSearchParams(`${query}${cursor ? `&cursor=${cursor}` : ''}`)),
        });
        if (next.nextCursor === null) break;
        cursor = next.nextCursor;
      }
      return cursor ?? '';
    };
    const bySlug = await deepCursor('limit=100');
    const byName = await deepCursor('limit=100&sort=name&order=desc');

    const cases = {
      // The anchor: the cheapest authenticated request, the same TLS and auth path.
      anchorWhoami: '/api/v1/auth/whoami',
      listFirstPage: '/api/v1/tenants',
      listFiltered: '/api/v1/tenants?phase=failed&tier=dedicated&q=bench-0',
      listDeepBySlug: `/api/v1/tenants?limit=100&cursor=${bySlug}`,
      listDeepByName: `/api/v1/tenants?limit=100&sort=name&order=desc&cursor=${byName}`,
      listMaxPage: '/api/v1/tenants?limit=500',
      tenantShow: `/api/v1/tenants/bench-${String(Math.floor(tenants / 2)).padStart(5, '0')}`,
    } as const;
    const results: Record<string, { p50Ms: number; p99Ms: number; rows: number }> = {};
    for (const [name, path] of Object.entries(cases)) {
      const body = await api.get<{ tenants?: unknown[] }>(path);
      const measured = await time(path);
      results[name] = {
        p50Ms: round(percentile(measured, 50)),
        p99Ms: round(percentile(measured, 99)),
        rows: body.tenants?.length ?? 1,
      };
      log(`${name}: p50 ${results[name].p50Ms} ms, p99 ${results[name].p99Ms} ms`);
    }
    const result = {
      bench: 'api-lists',
      tenants,
      stages: tenants * stagesPerTenant.length,
      samplesEach: samples,
      seedSeconds: round(seedSeconds),
      transport: 'https over loopback, one request at a time',
      ...results,
      targetP99Ms: 50,
      withinTarget: Object.values(results).every((r) => r.p99Ms <= 50),
      // The machine is shared: its load says how much of a p99 is waiting for a core.
      loadAverage: loadavg().map((l) => round(l, 2)),
      cores: cpus().length,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await steward?.stop();
    await stopCluster(cluster, 'immediate').catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
