/**
 * bench/sla: SLA reports for BENCH_TENANTS tenants (500) over calendar year
 * 2025, from a prod gateway check probed every 30 s. The evidence is
 * generated as what the monitoring store keeps, state intervals, not probe
 * rows: a year of a real service has some dozens of outages (most a few
 * minutes, some flapping bursts, a few long ones), degraded spells, unknown
 * gaps while Steward restarts, announced maintenance and an exclusion, about
 * 200 intervals a tenant. Policies go through the SLA service; the reports
 * through it too, as `steward sla report` asks for them.
 *
 * Prints JSON: seconds per tenant report (p50, p99), for all tenants (the
 * first pass computes and freezes each year), and for the second pass, which
 * recomputes the inputs' hash of every frozen year and compares.
 *
 * Usage: npm run bench:sla  (BENCH_TENANTS=500, BENCH_CONCURRENCY=4)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemPrincipal } from '../src/core/policy.ts';
import { openControlStore } from '../src/store/db.ts';
import { log, percentile, random, round, withSteward } from './support.ts';

const tenants = Number(process.env.BENCH_TENANTS ?? 500);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4);
const yearStart = Date.parse('2025-01-01T00:00:00Z') - 2 * 86_400_000;
const yearEnd = Date.parse('2026-01-01T00:00:00Z') + 2 * 86_400_000;

type Trouble = [state: 'down' | 'degraded' | 'unknown', start: number, end: number];

/** A year of one tenant's trouble, on 30 s probe boundaries. */
function troubleOf(rand: () => number): Trouble[] {
  const out: Trouble[] = [];
  const at = (): number => yearStart + Math.floor((rand() * (yearEnd - yearStart)) / 30_000) * 30_000;
  const len = (minMinutes: number, maxMinutes: number): number =>
    Math.max(1, Math.round((minMinutes + rand() * (maxMinutes - minMinutes)) * 2)) * 30_000;
  for (let i = 0; i < 20; i++) out.push(['down', ...span(at(), len(1, 8))]);
  for (let i = 0; i < 4; i++) out.push(['down', ...span(at(), len(20, 120))]);
  // Flapping: bursts of blips a couple of minutes apart.
  for (let b = 0; b < 4; b++) {
    let t = at();
    for (let i = 0; i < 5; i++) {
      const l = len(0.5, 2);
      out.push(['down', t, t + l]);
      t += l + len(1, 4);
    }
  }
  for (let i = 0; i < 30; i++) out.push(['degraded', ...span(at(), len(5, 60))]);
  for (let i = 0; i < 12; i++) out.push(['unknown', ...span(at(), len(1, 10))]);
  out.sort((a, b) => a[1] - b[1]);
  // Overlaps: the later one starts where the earlier ended.
  const tiled: Trouble[] = [];
  let cursor = 0;
  for (const [state, s, e] of out) {
    const start = Math.max(s, cursor);
    if (e - start >= 30_000) tiled.push([state, start, e]);
    cursor = Math.max(cursor, e);
  }
  return tiled;
}

function span(start: number, length: number): [number, number] {
  return [start, start + length];
}

await withSteward('sla', async (s) => {
  const services = s.running.steward.services;
  const cluster = s.running.cluster;
  if (!cluster) throw new Error('bench/sla needs the embedded PostgreSQL');
  const { superuserPassword } = JSON.parse(
    await readFile(join(s.dataDir, 'pg-credentials.json'), 'utf8'),
  ) as {
    superuserPassword: string;
  };
  const store = openControlStore(cluster.superuserUrl(superuserPassword, 'steward'), { max: 4 });
  const pool = store.pool;
  try {
    const slugs = Array.from({ length: tenants }, (_, i) => `sla${String(i).padStart(4, '0')}`);
    const generating = performance.now();
    // Tenants without stages (nothing to provision), and their prod gateway checks as the monitoring store keeps them.
    await pool.query(
      `insert into tenants (slug, display_name, region, tier, contacts)
       select s, s, $2, 'shared', '[]' from unnest($1::text[]) s`,
      [slugs, s.running.config.defaultRegion],
    );
    const checks = await pool.query<{ id: string; tenant_slug: string }>(
      `insert into checks (scope, tenant_slug, stage_name, kind, origin, builtin, spec, interval_seconds, timeout_ms, created_by, created_at)
       select 'stage', s, 'prod', 'http', 'builtin', 'gateway', '{"kind":"http","via":"gateway"}', 30, 5000, 'steward', $2
         from unnest($1::text[]) s
       returning id, tenant_slug`,
      [slugs, new Date(yearStart)],
    );
    let intervals = 0;
    const rows = {
      check: [] as string[],
      state: [] as string[],
      start: [] as Date[],
      end: [] as (Date | null)[],
      cause: [] as string[],
    };
    const flush = async (): Promise<void> => {
      await pool.query(
        `insert into check_states (check_id, state, started_at, ended_at, cause)
         select * from unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::jsonb[])`,
        [rows.check, rows.state, rows.start, rows.end, rows.cause],
      );
      intervals += rows.check.length;
      for (const list of Object.values(rows)) list.length = 0;
    };
    const maintenance: unknown[][] = [[], [], [], [], []];
    for (const [i, check] of checks.rows.entries()) {
      const rand = random(i + 1);
      let cursor = yearStart;
      const push = (state: string, start: number, end: number | null): void => {
        rows.check.push(check.id);
        rows.state.push(state);
        rows.start.push(new Date(start));
        rows.end.push(end === null ? null : new Date(end));
        rows.cause.push(
          JSON.stringify(
            state === 'unknown'
              ? {
                  kind: 'not-probing',
                  reason: 'Steward was stopped',
                  lastProbeAt: new Date(start).toISOString(),
                }
              : {
                  kind: 'probes',
                  results: [
                    {
                      at: new Date(start).toISOString(),
                      outcome: state === 'up' ? 'ok' : 'fail',
                      latencyMs: 40,
                      detail: 'GET / answered 503',
                    },
                  ],
                },
          ),
        );
      };
      for (const [state, start, end] of troubleOf(rand)) {
        if (start > cursor) push('up', cursor, start);
        push(state, start, end);
        cursor = end;
      }
      push('up', cursor, null);
      // Six announced maintenance windows a year, planned ten days ahead.
      for (let m = 0; m < 6; m++) {
        const start = Date.parse('2025-01-01T21:00:00Z') + Math.floor(rand() * 360) * 86_400_000;
        maintenance[0]?.push(check.tenant_slug);
        maintenance[1]?.push(new Date(start));
        maintenance[2]?.push(new Date(start + (1 + Math.floor(rand() * 3)) * 3_600_000));
        maintenance[3]?.push(new Date(start - 10 * 86_400_000));
        maintenance[4]?.push('database upgrade');
      }
      if (rows.check.length > 20_000) await flush();
    }
    await flush();
    await pool.query(
      `insert into maintenance_windows (tenant_slug, stage_name, starts_at, ends_at, announced_at, announce_days, reason, created_by)
       select t, 'prod', s, e, c, 10, r, 'operator:bench' from unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[], $5::text[]) as x(t, s, e, c, r)`,
      maintenance,
    );
    const generatedSeconds = (performance.now() - generating) / 1000;
    log(`bench/sla: ${tenants} tenants, ${intervals} intervals generated in ${round(generatedSeconds)} s`);

    for (const slug of slugs) {
      await services.sla.setPolicy(
        slug,
        {
          target: 99.5,
          period: 'calendar-year',
          timeZone: 'Europe/Berlin',
          serviceTime: 'daily 05:00-22:00',
          excludeOutagesUpTo: '10m',
          mergeGap: '5m',
          partialWeight: 0.5,
          maintenanceNotice: '7d',
          maintenanceMaxHours: 12,
          effectiveFrom: '2024-12-01T00:00:00Z',
        },
        systemPrincipal,
      );
      await services.sla.exclude(
        slug,
        { from: '2025-06-03 10:00', until: '2025-06-03 12:00', reason: 'upstream DNS provider outage' },
        systemPrincipal,
      );
    }

    const pass = async (): Promise<{
      seconds: number;
      perTenant: number[];
      statuses: Record<string, number>;
      changed: number;
    }> => {
      const perTenant: number[] = [];
      const statuses: Record<string, number> = {};
      let changed = 0;
      const queue = [...slugs];
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let slug = queue.shift(); slug !== undefined; slug = queue.shift()) {
            const t0 = performance.now();
            const report = await services.sla.report(slug, '2025', systemPrincipal);
            perTenant.push((performance.now() - t0) / 1000);
            statuses[report.figures.status] = (statuses[report.figures.status] ?? 0) + 1;
            if (report.frozen?.evidenceChanged) changed++;
          }
        }),
      );
      return { seconds: (performance.now() - started) / 1000, perTenant, statuses, changed };
    };
    const first = await pass();
    log(`bench/sla: first pass (compute and freeze) ${round(first.seconds, 2)} s`);
    const second = await pass();
    log(`bench/sla: second pass (recompute the frozen hashes) ${round(second.seconds, 2)} s`);
    return {
      tenants,
      period: '2025 (calendar year, Europe/Berlin, service time daily 05:00-22:00)',
      checkIntervalSeconds: 30,
      intervals,
      intervalsPerTenant: round(intervals / tenants, 1),
      concurrency,
      generateSeconds: round(generatedSeconds, 2),
      reportSecondsPerTenant: {
        p50: round(percentile(first.perTenant, 50), 4),
        p99: round(percentile(first.perTenant, 99), 4),
      },
      allTenantsSeconds: round(first.seconds, 2),
      targetAllTenantsSeconds: 30,
      statuses: first.statuses,
      frozenHashRecomputation: {
        allTenantsSeconds: round(second.seconds, 2),
        perTenantP50: round(percentile(second.perTenant, 50), 4),
        evidenceChanged: second.changed,
      },
    };
  } finally {
    await store.close();
  }
});
