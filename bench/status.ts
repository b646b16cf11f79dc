/**
 * bench/status: the public status page under BENCH_READERS (200) concurrent
 * keep-alive readers through Steward's gateway (HTTPS, Steward's CA) for
 * BENCH_SECONDS (20) each:
 *
 * - tenantPage: a tenant's private-link page (/t/<token>): two public stages
 *   with 90 days of gateway-check intervals, current and past incidents with
 *   public updates, announced maintenance;
 * - vendorPage: the vendor's page (/), aggregating every tenant's prod;
 * - anchor: the gateway's own static answer (404 for the bare base domain,
 *   which routes to no stage): the same TLS listener, connections and
 *   readers, no page work at all. Each run starts after every reader has
 *   connected (TLS handshake) and read once.
 *
 * The readers run in a child process (bench/status-readers.ts). BENCH_TENANTS
 * (50) tenants get a prod check history like a real one (an outage every few
 * days, degraded spells, unknown gaps). Prints JSON with requests, errors,
 * p50/p99 latency per run and the page's ratios to the anchor.
 *
 * Readers are paced: each starts a read every BENCH_READ_INTERVAL_MS (1000:
 * 200 people refreshing every second), which is what the p99 target is about.
 * Then the tenant page and the anchor run again back to back (each reader
 * reads again as soon as it has its answer): the ceiling of this machine,
 * where latency is only readers / throughput.
 *
 * Usage: npm run bench:status  (BENCH_SECONDS=20, BENCH_READERS=200, BENCH_TENANTS=50,
 * BENCH_READ_INTERVAL_MS=1000)
 */
import { fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { systemPrincipal } from '../src/core/policy.ts';
import { insertMaintenanceWindow, markAnnounced } from '../src/maintenance/store.ts';
import { openControlStore } from '../src/store/db.ts';
import { createTenant, log, percentile, random, round, withSteward } from './support.ts';
import type { ReaderResult } from './status-readers.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const readers = Number(process.env.BENCH_READERS ?? 200);
const tenants = Number(process.env.BENCH_TENANTS ?? 50);
const intervalMs = Number(process.env.BENCH_READ_INTERVAL_MS ?? 1000);
const dayMs = 86_400_000;

function read(
  job: { port: number; host: string; path: string; ca: string },
  pace = intervalMs,
): Promise<ReaderResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(import.meta.dirname, 'status-readers.ts'), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child.once('message', (result) => resolve(result as ReaderResult));
    child.once('error', reject);
    child.once('exit', (code) => code !== 0 && reject(new Error(`readers exited with ${code}`)));
    child.send({ ...job, concurrency: readers, seconds, intervalMs: pace });
  });
}

function summary(r: ReaderResult) {
  return {
    requests: r.requests,
    requestsPerSecond: round(r.requests / seconds),
    errors: r.errors,
    statuses: r.statuses,
    bytesPerResponse: r.requests > 0 ? Math.round(r.bytes / r.requests) : 0,
    p50Ms: round(percentile(r.latencies, 50), 2),
    p99Ms: round(percentile(r.latencies, 99), 2),
  };
}

await withSteward(
  'status',
  async (s) => {
    const services = s.running.steward.services;
    const cluster = s.running.cluster;
    const gatewayUrl = s.running.gatewayUrl;
    if (!cluster || !gatewayUrl)
      throw new Error('bench/status needs the embedded PostgreSQL and the gateway');
    const port = Number(new URL(gatewayUrl).port || 443);
    const { superuserPassword } = JSON.parse(
      await readFile(join(s.dataDir, 'pg-credentials.json'), 'utf8'),
    ) as {
      superuserPassword: string;
    };
    const store = openControlStore(cluster.superuserUrl(superuserPassword, 'steward'), { max: 4 });
    try {
      const now = Date.now();
      const start = now - 95 * dayMs;
      const slugs = Array.from({ length: tenants }, (_, i) => `st${String(i).padStart(4, '0')}`);
      // The benched tenant through the API, with its stages; the others without stages (nothing to
      // provision). Every tenant's checks and intervals as the monitoring store keeps them.
      await createTenant(s.api, slugs[0] ?? 'st0000', ['prod', 'test']);
      await store.pool.query(
        `insert into tenants (slug, display_name, region, tier, contacts)
         select s, 'Tenant ' || s, $2, 'shared', '[]' from unnest($1::text[]) s`,
        [slugs.slice(1), s.running.config.defaultRegion],
      );
      const checks = await store.pool.query<{ id: string; tenant_slug: string }>(
        `insert into checks (scope, tenant_slug, stage_name, kind, origin, builtin, spec, interval_seconds, timeout_ms, created_by, created_at)
         select 'stage', s, st, 'http', 'builtin', 'gateway', '{"kind":"http","via":"gateway"}', 30, 5000, 'steward', $2
           from unnest($1::text[]) s, unnest(array['prod', 'test']) st
         returning id, tenant_slug`,
        [slugs, new Date(start)],
      );
      let intervals = 0;
      for (const [i, check] of checks.rows.entries()) {
        const rand = random(i + 1);
        const rows: [string, number, number | null][] = [];
        let cursor = start;
        while (cursor < now) {
          const upFor = (0.5 + rand() * 4) * dayMs;
          const troubleAt = Math.min(cursor + upFor, now);
          rows.push(['up', cursor, troubleAt]);
          if (troubleAt >= now) break;
          const kind = rand();
          const state = kind < 0.6 ? 'down' : kind < 0.85 ? 'degraded' : 'unknown';
          const length = (1 + rand() * (state === 'down' ? 45 : 180)) * 60_000;
          rows.push([state, troubleAt, Math.min(troubleAt + length, now)]);
          cursor = troubleAt + length;
        }
        const last = rows.at(-1);
        if (last) last[2] = null;
        await store.pool.query(
          `insert into check_states (check_id, state, started_at, ended_at, cause)
           select $1, * from unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::jsonb[])`,
          [
            check.id,
            rows.map((r) => r[0]),
            rows.map((r) => new Date(r[1])),
            rows.map((r) => (r[2] === null ? null : new Date(r[2]))),
            rows.map((r) =>
              JSON.stringify(
                r[0] === 'unknown'
                  ? { kind: 'not-probing', reason: 'bench' }
                  : { kind: 'probes', results: [] },
              ),
            ),
          ],
        );
        intervals += rows.length;
      }
      const tenant = slugs[0] ?? 'st0000';
      // Incidents with public updates, through the incident service.
      for (let i = 0; i < 6; i++) {
        const incident = await services.incidents.open(
          { tenant, stage: 'prod', severity: 3, title: `Incident ${i + 1}: slow responses` },
          systemPrincipal,
        );
        for (let u = 0; u < 3; u++) {
          await services.incidents.update(
            incident.id,
            {
              note: `Update ${u + 1}: we are working on it.`,
              public: true,
              ...(i > 0 && u === 2 ? { status: 'resolved' } : {}),
            },
            systemPrincipal,
          );
        }
      }
      for (let i = 0; i < 2; i++) {
        const window = await insertMaintenanceWindow(store.db, {
          tenant,
          stage: 'prod',
          reason: `Planned upgrade ${i + 1}`,
          startsAt: new Date(now + (i + 2) * dayMs),
          endsAt: new Date(now + (i + 2) * dayMs + 7_200_000),
          createdBy: 'bench',
        });
        await markAnnounced(store.db, window.id, new Date(now));
      }
      const link = await services.status.link(systemPrincipal, tenant, { stages: ['prod', 'test'] });
      const host = services.status.host;
      const job = { port, host, ca: s.running.caPem };
      log(
        `bench/status: ${tenants} tenants, ${intervals} intervals; ${readers} readers for ${seconds} s each`,
      );
      const page = await read({ ...job, path: link.path ?? '/' });
      log('bench/status: tenant page done');
      const vendor = await read({ ...job, path: '/' });
      log('bench/status: vendor page done');
      // The base domain routes to no stage: the gateway answers its static 404 itself.
      const anchor = await read({ ...job, host: s.running.config.gateway.baseDomain, path: '/' });
      log('bench/status: anchor done; now back to back (the ceiling)');
      const pageFlat = await read({ ...job, path: link.path ?? '/' }, 0);
      const anchorFlat = await read({ ...job, host: s.running.config.gateway.baseDomain, path: '/' }, 0);
      const results = { tenantPage: summary(page), vendorPage: summary(vendor), anchor: summary(anchor) };
      const ceiling = { tenantPage: summary(pageFlat), anchor: summary(anchorFlat) };
      console.log(
        JSON.stringify(
          {
            bench: 'status',
            machine: { cpus: cpus().length, node: process.version },
            setup: {
              tenants,
              stagesShown: 2,
              intervals,
              readers,
              readIntervalMs: intervalMs,
              seconds,
              cacheSeconds: s.running.config.statusPage.cacheSeconds,
            },
            ...results,
            backToBack: {
              ...ceiling,
              tenantPageThroughputToAnchor: round(ceiling.tenantPage.requests / ceiling.anchor.requests, 2),
              tenantPageP99ToAnchor: round(ceiling.tenantPage.p99Ms / ceiling.anchor.p99Ms, 2),
            },
            ratios: {
              tenantPageP99ToAnchor: round(results.tenantPage.p99Ms / results.anchor.p99Ms, 2),
              tenantPageThroughputToAnchor: round(results.tenantPage.requests / results.anchor.requests, 2),
              vendorPageP99ToAnchor: round(results.vendorPage.p99Ms / results.anchor.p99Ms, 2),
              vendorPageThroughputToAnchor: round(results.vendorPage.requests / results.anchor.requests, 2),
            },
            targetP99Ms: 50,
            met: results.tenantPage.p99Ms <= 50 && results.vendorPage.p99Ms <= 50,
          },
          null,
          2,
        ),
      );
    } finally {
      await store.close();
    }
  },
  {
    // No limit may shape the result: 200 readers come from one address.
    overrides: { gateway: { port: 0, httpPort: 0, limits: { maxConnectionsPerAddress: 100_000 } } },
  },
);
