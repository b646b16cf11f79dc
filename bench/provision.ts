/**
 * bench/provision: how fast Steward provisions tenants, and how its API holds
 * up at size. Prints JSON.
 *
 * - single: seconds from `tenant create` (3 stages) to all stages ready, over
 *   several tenants, against an anchor in the same run: the same role,
 *   database and grants created by direct SQL on the same cluster.
 * - bulk: create BENCH_TENANTS tenants x 3 stages through the API, total time
 *   until all are ready; then p50/p99 of `tenant list` (its first page of 100)
 *   and `tenant show`. bench/api-lists.ts measures the lists at 5,000 tenants.
 *
 * Usage: npm run bench:provision  (BENCH_TENANTS=500 by default)
 */
import { mkdtemp, readFile, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ApiClient } from '../src/cli/client.ts';
import { readEnvironment } from '../src/core/env.ts';
import { quoteIdent, quoteLiteral, scramVerifier } from '../src/databases/sql.ts';
import { createLogger } from '../src/core/logger.ts';
import { up, type ClientFile } from '../src/up.ts';

const tenants = Number(process.env.BENCH_TENANTS ?? 500);
const singles = Number(process.env.BENCH_SINGLES ?? 10);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
const latencySamples = Number(process.env.BENCH_SAMPLES ?? 200);

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};
const round = (n: number, digits = 3): number => Number(n.toFixed(digits));
const log = (message: string): void => void process.stderr.write(`${message}\n`);

interface TenantView {
  stages: { phase: string }[];
}

async function waitReady(api: ApiClient, slug: string): Promise<void> {
  for (;;) {
    const tenant = await api.get<TenantView>(`/api/v1/tenants/${slug}`);
    if (tenant.stages.every((s) => s.phase === 'ready')) return;
    if (tenant.stages.some((s) => s.phase === 'failed')) throw new Error(`${slug} failed`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'steward-bench-'));
  await chmod(dataDir, 0o711);
  log(`bench/provision: data dir ${dataDir}, ${tenants} tenants`);
  const running = await up({
    dataDir,
    env: { ...readEnvironment({}), pgBinDir: process.env.STEWARD_PG_BIN_DIR },
    overrides: { api: { port: 0 }, logLevel: 'warn' },
    logger: createLogger('warn'),
    progress: log,
  });
  try {
    const client = JSON.parse(await readFile(running.clientFile, 'utf8')) as ClientFile;
    const api = new ApiClient(client);
    const credentials = JSON.parse(await readFile(join(dataDir, 'pg-credentials.json'), 'utf8')) as {
      superuserPassword: string;
    };
    const superuserUrl = running.cluster?.superuserUrl(credentials.superuserPassword) ?? '';

    // Anchor: the same three stages provisioned by direct SQL, no control plane.
    const admin = new pg.Client({ connectionString: superuserUrl });
    await admin.connect();
    const anchor: number[] = [];
    for (let i = 0; i < singles; i++) {
      const started = performance.now();
      for (const stage of ['dev', 'test', 'prod']) {
        const name = `anchor${i}_${stage}`;
        await admin.query(
          `create role ${quoteIdent(name)} login nosuperuser nocreatedb nocreaterole noinherit password ${quoteLiteral(scramVerifier('x'.repeat(43)))}`,
        );
        await admin.query(`create database ${quoteIdent(name)} owner ${quoteIdent(name)} template template0`);
        await admin.query(`revoke all on database ${quoteIdent(name)} from public`);
        await admin.query(`grant connect, temporary on database ${quoteIdent(name)} to ${quoteIdent(name)}`);
      }
      anchor.push((performance.now() - started) / 1000);
    }

    // Single tenants through the API, one at a time.
    const single: number[] = [];
    for (let i = 0; i < singles; i++) {
      const started = performance.now();
      await api.post('/api/v1/tenants', { slug: `single-${i}`, stages: ['dev', 'test', 'prod'] });
      await waitReady(api, `single-${i}`);
      single.push((performance.now() - started) / 1000);
    }
    log(
      `single: median ${percentile(single, 50).toFixed(3)} s, anchor ${percentile(anchor, 50).toFixed(3)} s`,
    );

    // Bulk: many tenants through the API, `concurrency` requests at a time.
    const bulkStarted = performance.now();
    let next = 0;
    const apiLatency: number[] = [];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < tenants) {
          const i = next++;
          const t0 = performance.now();
          await api.post('/api/v1/tenants', { slug: `bulk-${i}`, stages: ['dev', 'test', 'prod'] });
          apiLatency.push(performance.now() - t0);
          if (i % 50 === 0) log(`bulk: ${i}/${tenants} accepted`);
        }
      }),
    );
    const acceptedSeconds = (performance.now() - bulkStarted) / 1000;
    for (;;) {
      // Every page: the list answers 100 tenants at a time.
      const all = (await api.api.all('/api/v1/tenants', {
        query: { limit: 500 },
      })) as unknown as TenantView[];
      const ready = all.filter((t) => t.stages.every((s) => s.phase === 'ready')).length;
      if (ready === all.length) break;
      log(`bulk: ${ready}/${all.length} tenants ready`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    const bulkSeconds = (performance.now() - bulkStarted) / 1000;

    const time = async (path: string): Promise<number[]> => {
      const samples: number[] = [];
      for (let i = 0; i < latencySamples; i++) {
        const t0 = performance.now();
        await api.get(path);
        samples.push(performance.now() - t0);
      }
      return samples;
    };
    const list = await time('/api/v1/tenants');
    const show = await time(`/api/v1/tenants/bulk-${Math.floor(tenants / 2)}`);
    await admin.end();

    const result = {
      bench: 'provision',
      stagesPerTenant: 3,
      single: {
        runs: singles,
        medianSeconds: round(percentile(single, 50)),
        p95Seconds: round(percentile(single, 95)),
        anchorDirectSqlMedianSeconds: round(percentile(anchor, 50)),
        ratioToAnchor: round(percentile(single, 50) / percentile(anchor, 50), 2),
        targetSeconds: 1,
      },
      bulk: {
        tenants,
        stages: tenants * 3,
        concurrency,
        createAcceptedSeconds: round(acceptedSeconds, 1),
        createP99Ms: round(percentile(apiLatency, 99), 1),
        allReadySeconds: round(bulkSeconds, 1),
        stagesPerSecond: round((tenants * 3) / bulkSeconds, 1),
      },
      api: {
        tenantsListed: tenants + singles,
        listP50Ms: round(percentile(list, 50), 1),
        listP99Ms: round(percentile(list, 99), 1),
        showP50Ms: round(percentile(show, 50), 1),
        showP99Ms: round(percentile(show, 99), 1),
        targetP99Ms: 50,
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await running.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
