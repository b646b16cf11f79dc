import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView, RaiseRequest } from '../../src/alerts/contract.ts';
import { systemClock } from '../../src/core/clock.ts';
import {
  clusterIsRunning,
  initCluster,
  startCluster,
  stopCluster,
  type LocalCluster,
} from '../../src/databases/local-cluster.ts';
import { ControlDatabaseWatchdog, localClusterRestarter } from '../../src/store/watchdog.ts';
import { freePort } from '../../src/system/ports.ts';
import { eventually, sleep } from '../cli/process.ts';

/**
 * The watchdog against a PostgreSQL cluster of this test's own (the run's
 * shared one must not be stopped): stopped from outside it is only
 * reconnected to, as an external control database is; killed -9 while the
 * watchdog may restart it, it is started again with backoff. Either way the
 * outage is logged once and raised as one alert when it is over.
 */
const password = 'watchdog-test-password';

interface LogLine {
  readonly msg: string;
  readonly level: number;
  readonly [key: string]: unknown;
}

describe('the control database watchdog', () => {
  let dir: string;
  let cluster: LocalCluster;
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  );
  const raised: RaiseRequest[] = [];
  let refuseRaises = 0;
  const alerts = {
    raise: (request: RaiseRequest): Promise<AlertView> => {
      if (refuseRaises > 0) {
        refuseRaises -= 1;
        return Promise.reject(new Error('the alert tables are busy'));
      }
      raised.push(request);
      return Promise.resolve({ id: String(raised.length) } as AlertView);
    },
  };
  const messages = (from: number): string[] => lines.slice(from).map((l) => l.msg);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'st-wd-'));
    await chmod(dir, 0o711);
    cluster = await initCluster(
      {
        dir: join(dir, 'pg'),
        port: await freePort(0),
        binDir: '/usr/lib/postgresql/15/bin',
        unsafeFast: true,
      },
      password,
    );
    await startCluster(cluster);
  }, 120_000);

  afterAll(async () => {
    if (cluster) await stopCluster(cluster, 'immediate').catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('only reconnects to a database it does not run, answers 503 meanwhile, and raises one alert after', async () => {
    const watchdog = new ControlDatabaseWatchdog({
      url: cluster.superuserUrl(password),
      logger,
      clock: systemClock,
      alerts: () => alerts,
      everyMs: 200,
    });
    watchdog.start();
    try {
      await watchdog.pass();
      expect(watchdog.outage).toBeUndefined();
      const from = lines.length;
      await stopCluster(cluster, 'immediate');
      const unavailable = await watchdog.unavailable(
        Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${cluster.port}`), { code: 'ECONNREFUSED' }),
      );
      expect(unavailable?.status).toBe(503);
      expect(unavailable?.message).toMatch(
        /^the control database is unreachable: .+; Steward is reconnecting$/,
      );
      expect(unavailable?.message).not.toContain(password);
      // Not the watchdog's call: a statement's own failure.
      expect(await watchdog.unavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(
        undefined,
      );

      await sleep(2500);
      expect(await clusterIsRunning(cluster)).toBe(false);
      expect(watchdog.outage).toMatchObject({ attempts: 0 });
      // The first raise fails (the database only just came back): it is tried again, not lost.
      refuseRaises = 1;
      await startCluster(cluster);
      await eventually(
        'the outage to end',
        () => Promise.resolve(watchdog.outage ? undefined : true),
        10_000,
        50,
      );
      await eventually('the alert', () => Promise.resolve(raised.length > 0 ? true : undefined), 10_000, 50);

      expect(messages(from).filter((m) => m.includes('unreachable'))).toEqual([
        'the control database is unreachable; Steward reconnects',
      ]);
      expect(messages(from)).toContain('the control database is reachable again');
      expect(messages(from)).toContain('the alert about the outage is not raised yet');
      expect(messages(from).filter((m) => m.startsWith('starting'))).toEqual([]);
      expect(raised).toHaveLength(1);
      expect(raised[0]).toMatchObject({
        source: 'watchdog',
        severity: 'critical',
        dedupKey: expect.stringMatching(/^control-database-outage\/\d{4}-\d\d-\d\dT/) as unknown,
        summary: expect.stringMatching(
          /^the control database was unreachable for \d+\.\d s \(.+\)$/,
        ) as unknown,
      });
      expect(JSON.stringify(lines)).not.toContain(password);
    } finally {
      await watchdog.stop();
    }
  }, 60_000);

  it('starts a cluster it runs again after a kill -9, with backoff, logging each attempt', async () => {
    raised.length = 0;
    const watchdog = new ControlDatabaseWatchdog({
      url: cluster.superuserUrl(password),
      restarter: localClusterRestarter(cluster),
      logger,
      clock: systemClock,
      alerts: () => alerts,
      everyMs: 200,
      backoff: { firstMs: 200, capMs: 1000 },
    });
    watchdog.start();
    try {
      await watchdog.pass();
      const from = lines.length;
      const postmaster = Number((await readFile(join(cluster.dir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
      process.kill(postmaster, 'SIGKILL');
      await eventually('an outage', () => Promise.resolve(watchdog.outage ? true : undefined), 5000, 20);
      const unavailable = await watchdog.unavailable(new Error('Connection terminated unexpectedly'));
      expect(unavailable?.message).toMatch(/; Steward is restarting it$/);
      await eventually(
        'the outage to end',
        () => Promise.resolve(watchdog.outage ? undefined : true),
        30_000,
        50,
      );
      expect(await clusterIsRunning(cluster)).toBe(true);

      const seen = messages(from);
      expect(seen.filter((m) => m.includes('unreachable'))).toEqual([
        'the control database is unreachable; Steward restarts it',
      ]);
      const attempts = lines
        .slice(from)
        .filter((l) => l.msg === 'starting the control database cluster again');
      expect(attempts.map((l) => l.attempt)).toEqual(attempts.map((_, i) => i + 1));
      expect(attempts.length).toBeGreaterThan(0);
      expect(seen.at(-1)).toBe('the control database is reachable again');
      await eventually('the alert', () => Promise.resolve(raised.length > 0 ? true : undefined), 5000, 50);
      expect(raised[0]?.summary).toMatch(/; Steward restarted its cluster \(\d+ attempts?\)$/);
    } finally {
      await watchdog.stop();
    }
  }, 60_000);
});
