/**
 * bench/sse-fanout: what live updates cost (issue 15). BENCH_CONSOLES (100)
 * consoles hold GET /api/v1/events open over HTTPS to one Steward, and
 * BENCH_CHANGES (100) changes to a tenant are written to the control
 * database one after another (BENCH_GAP_MS, 80, apart: each its own event,
 * not coalesced with the next). For each change and console: the delivery
 * latency from before the UPDATE to the event's arrival (through the
 * trigger, NOTIFY, the hub's LISTEN, its coalescing window and the fan-out);
 * and Steward's CPU per change (this process: Steward runs in it, the
 * consoles and the writer in a child, bench/sse-consoles.ts).
 *
 * Anchor: the same run with one console, on the same Steward (its background
 * loops, the trigger, the LISTEN and the coalescing window, without the
 * fan-out). The difference per extra console is the fan-out's own cost.
 *
 * Usage: npm run bench:sse-fanout  (BENCH_CONSOLES=100, BENCH_CHANGES=100, BENCH_GAP_MS=80)
 */
import { fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { replaceDatabase } from '../src/databases/local-cluster.ts';
import type { ClientFile } from '../src/up.ts';
import { log, percentile, round, withSteward } from './support.ts';
import type { ConsolesResult } from './sse-consoles.ts';

const consoles = Number(process.env.BENCH_CONSOLES ?? 100);
const changes = Number(process.env.BENCH_CHANGES ?? 100);
const gapMs = Number(process.env.BENCH_GAP_MS ?? 80);
const slug = 'fanout';

interface Run {
  readonly consoles: number;
  readonly deliveries: number;
  readonly missed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Steward's CPU (user + system) while the changes ran, per change. */
  readonly stewardCpuMsPerChange: number;
}

function runConsoles(job: Record<string, unknown>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = fork(join(import.meta.dirname, 'sse-consoles.ts'), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let cpu: NodeJS.CpuUsage | undefined;
    child.on('message', (message) => {
      if (message === 'ready') {
        cpu = process.cpuUsage();
        child.send('go');
        return;
      }
      const used = process.cpuUsage(cpu);
      const result = message as ConsolesResult;
      resolve({
        consoles: job.consoles as number,
        deliveries: result.latencies.length,
        missed: result.missed,
        p50Ms: round(percentile(result.latencies, 50), 2),
        p99Ms: round(percentile(result.latencies, 99), 2),
        maxMs: round(Math.max(...result.latencies), 2),
        stewardCpuMsPerChange: round((used.user + used.system) / 1000 / changes, 3),
      });
    });
    child.once('error', reject);
    child.once('exit', (code) => code !== 0 && reject(new Error(`the consoles exited with ${code}`)));
    child.send(job);
  });
}

await withSteward('sse-fanout', async (s) => {
  const client = JSON.parse(await readFile(s.running.clientFile, 'utf8')) as ClientFile;
  const { superuserPassword } = JSON.parse(
    await readFile(join(s.dataDir, 'pg-credentials.json'), 'utf8'),
  ) as {
    superuserPassword: string;
  };
  const cluster = s.running.cluster;
  if (!cluster) throw new Error('bench/sse-fanout needs the embedded PostgreSQL');
  const databaseUrl = replaceDatabase(cluster.superuserUrl(superuserPassword), 'steward');
  // A tenant row only: nothing to provision, and its changes are what a console shows.
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(
      `insert into tenants (slug, display_name, region, tier, contacts)
       values ($1, $1, $2, 'shared', '[]')`,
      [slug, s.running.config.defaultRegion],
    );
  } finally {
    await admin.end();
  }
  const job = {
    apiUrl: client.apiUrl,
    ca: client.ca,
    token: client.token,
    databaseUrl,
    slug,
    changes,
    gapMs,
  };
  log(`bench/sse-fanout: anchor, 1 console, ${changes} changes`);
  const anchor = await runConsoles({ ...job, consoles: 1 });
  log(`bench/sse-fanout: ${consoles} consoles, ${changes} changes`);
  const fanout = await runConsoles({ ...job, consoles });
  return {
    changes,
    gapMs,
    coalesceMs: s.running.config.events.coalesceMs,
    anchor,
    fanout,
    p99RatioToAnchor: round(fanout.p99Ms / anchor.p99Ms, 2),
    stewardCpuMsPerChangePerExtraConsole: round(
      (fanout.stewardCpuMsPerChange - anchor.stewardCpuMsPerChange) / Math.max(1, consoles - 1),
      4,
    ),
  };
});
