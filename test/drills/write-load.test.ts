import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { lostCommits } from '../../src/drills/measure.ts';
import { DrillStore } from '../../src/drills/store.ts';
import { WriteLoad, type LoadConnection } from '../../src/drills/write-load.ts';
import { ConflictError } from '../../src/core/errors.ts';
import { quoteIdent, quoteLiteral } from '../../src/databases/sql.ts';
import { cloneControlDb, type TestControlDb } from '../harness/control-db.ts';

/**
 * The drill's write load against a plain PostgreSQL (the run's shared
 * cluster): its connection is cut three times (pg_terminate_backend, as a
 * primary's death cuts it); the load reconnects, every acknowledged write is
 * found, and each cut is one outage. And the drills store: one running drill
 * per cluster.
 */
const superuserUrl = inject('pgSuperuserUrl');
const name = `drill_${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');
let admin: pg.Client;
let connection: LoadConnection;
let control: TestControlDb;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: superuserUrl });
  await admin.connect();
  await admin.query(`create role ${quoteIdent(name)} login password ${quoteLiteral(password)}`);
  await admin.query(`create database ${quoteIdent(name)} owner ${quoteIdent(name)}`);
  const url = new URL(superuserUrl);
  connection = { host: url.hostname, port: Number(url.port), user: name, password, database: name };
  control = await cloneControlDb();
});

afterAll(async () => {
  await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`);
  await admin.query(`drop role if exists ${quoteIdent(name)}`);
  await admin.end();
  await control.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('write load', () => {
  it('reconnects after its connection is cut, and loses nothing acknowledged', async () => {
    const load = new WriteLoad({ connection, backoffMs: 20 });
    await load.start();
    for (let cut = 0; cut < 3; cut++) {
      const before = load.acknowledgedCount;
      while (load.acknowledgedCount < before + 50) await sleep(10);
      const faultAt = performance.now();
      await admin.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'steward-drill' and datname = $1",
        [name],
      );
      while (load.resumeMs(faultAt) === null) await sleep(10);
      expect(load.resumeMs(faultAt)).toBeLessThan(1_000);
    }
    const report = await load.stop();
    expect(report.outages).toHaveLength(3);
    expect(report.outages.every((o) => o.resumedAt !== null)).toBe(true);
    expect(report.failed).toBeGreaterThanOrEqual(3);
    expect(report.acknowledgedCount).toBeGreaterThan(150);
    const found = await load.found();
    const lost = lostCommits(report.acknowledged, found);
    expect(lost.lost).toBe(0);
    expect(found.length).toBe(report.acknowledgedCount + lost.committedUnacknowledged);
  });

  it('names a table only by a plain name', () => {
    expect(() => new WriteLoad({ connection, table: 'x; drop table y' })).toThrow(/not a plain name/);
  });
});

describe('drills store', () => {
  it('one running drill per cluster; a finished one leaves room', async () => {
    const store = new DrillStore(control.store.db);
    const drill = {
      kind: 'kill' as const,
      stageId: null,
      tenant: 'acme',
      stage: 'prod',
      cluster: `c_${name}`,
      synchronous: true,
      requestedBy: 'operator:test',
      startedAt: new Date(),
      phase: 'starting',
    };
    const id = await store.start(drill, () => Promise.resolve());
    await expect(store.start(drill, () => Promise.resolve())).rejects.toThrow(ConflictError);
    await store.phase(id, 'injecting the fault on m1', new Date());
    expect((await store.get(id))?.phase).toBe('injecting the fault on m1');
    await store.finish(
      id,
      {
        outcome: 'passed',
        reason: 'ok',
        endedAt: new Date(),
        phase: 'passed',
        writesResumeSeconds: 8.5,
        acknowledgedWrites: 1234,
        lostCommits: 0,
        oldPrimary: 'm1',
        newPrimary: 'm2',
        rejoinSeconds: 4,
      },
      () => Promise.resolve(),
    );
    const [view] = await store.list({ tenant: 'acme' });
    expect(view).toMatchObject({
      id,
      outcome: 'passed',
      acknowledgedWrites: 1234,
      lostCommits: 0,
      writesResumeSeconds: 8.5,
      oldPrimary: 'm1',
    });
    expect(view?.faultAt).not.toBeNull();
    const second = await store.start(drill, () => Promise.resolve());
    expect(second).not.toBe(id);
  });
});
