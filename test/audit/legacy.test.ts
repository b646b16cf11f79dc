import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { genesisHash, hashEvent, type AuditContent } from '../../src/audit/chain.ts';
import { checkpointFile } from '../../src/audit/checkpoint-file.ts';
import { AuditKeys } from '../../src/audit/integrity.ts';
import { AuditService } from '../../src/audit/service.ts';
import { systemClock } from '../../src/core/clock.ts';
import {
  bootstrapControlDatabase,
  replaceDatabase,
  withCredentials,
} from '../../src/databases/local-cluster.ts';
import { quoteIdent } from '../../src/databases/sql.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';
import { appPassword, silentLogger } from '../harness/steward.ts';
import { eventContent } from './support.ts';

/**
 * An install from before migration 0012: its events carry hashes the app
 * computed and no MAC. After the upgrade they still verify, reported as
 * legacy, unauthenticated; new events chain on from the last of them.
 */
describe('audit events from before the database computed hashes', () => {
  const superuserUrl = inject('pgSuperuserUrl');
  const database = `leg_${randomBytes(3).toString('hex')}`;
  const adminUrl = replaceDatabase(superuserUrl, database);
  const master = { id: 'kold', key: randomBytes(32) };
  let dir: string;
  let store: ControlStore;
  let audit: AuditService;
  const legacy: { seq: string; hash: string }[] = [];

  const content = (n: number): AuditContent => eventContent(n, new Date(Date.UTC(2026, 0, 1, 12, 0, n)));

  beforeAll(async () => {
    await bootstrapControlDatabase(superuserUrl, database, appPassword);
    await migrate(adminUrl, { until: '0011' });
    // As the app appended before: its own hash, the identity's seq (with a gap a rollback left).
    const app = new pg.Client({ connectionString: withCredentials(adminUrl, 'steward_app', appPassword) });
    await app.connect();
    try {
      let prev = genesisHash;
      for (let n = 1; n <= 3; n += 1) {
        if (n === 3) await app.query("select nextval(pg_get_serial_sequence('audit_events', 'seq'))");
        const c = content(n);
        const hash = hashEvent(prev, c);
        const { rows } = await app.query<{ seq: string }>(
          `insert into audit_events (at, actor, action, target, tenant, outcome, address, details, prev_hash, hash)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning seq::text`,
          [
            c.at,
            c.actor,
            c.action,
            c.target,
            c.tenant,
            c.outcome,
            c.address,
            JSON.stringify(c.details),
            prev,
            hash,
          ],
        );
        legacy.push({ seq: rows[0]?.seq ?? '', hash });
        prev = hash;
      }
    } finally {
      await app.end();
    }
    expect((await migrate(adminUrl)).applied).toContain('0012_audit_integrity.sql');
    dir = await mkdtemp(join(tmpdir(), 'steward-legacy-'));
    store = openControlStore(withCredentials(adminUrl, 'steward_app', appPassword), { max: 2 });
    audit = new AuditService({
      db: store.db,
      clock: systemClock,
      keys: new AuditKeys({ active: master, byId: (id) => (id === master.id ? master : undefined) }),
      checkpointStores: () => Promise.resolve([checkpointFile(join(dir, 'checkpoints.jsonl'))]),
      logger: silentLogger,
    });
  });

  afterAll(async () => {
    await store?.close();
    const client = new pg.Client({ connectionString: superuserUrl });
    await client.connect();
    await client.query(`drop database if exists ${quoteIdent(database)} with (force)`);
    await client.end();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the legacy events verifiable, reported as unauthenticated, and chains new ones on from the last', async () => {
    expect(legacy.map((e) => e.seq)).toEqual(['1', '2', '4']);
    await audit.recordAlone({ actor: 'owner', action: 'tenant.update', target: 'tenant/t1' });
    await audit.recordAlone({ actor: 'owner', action: 'tenant.update', target: 'tenant/t2' });
    const report = await audit.verify();
    expect(report).toMatchObject({ ok: true, checked: 5, lastSeq: '6', legacy: 3, problems: [] });
    const rows = await store.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
    expect(rows.map((r) => [r.seq, r.mac_key])).toEqual([
      ['1', null],
      ['2', null],
      ['4', null],
      ['5', 'kold'],
      ['6', 'kold'],
    ]);
    expect(rows[3]?.prev_hash).toBe(legacy[2]?.hash);
  });

  it('the first checkpoint anchors the legacy events with the rest: a legacy event changed afterwards is found', async () => {
    const checkpoint = await audit.checkpoint();
    expect(checkpoint).toMatchObject({ seq: '6', legacySeq: '4' });
    const dba = new pg.Client({ connectionString: adminUrl });
    await dba.connect();
    try {
      await dba.query('set session_replication_role = replica');
      await dba.query(`update audit_events set actor = 'someone' where seq = 2`);
      const report = await audit.verify();
      expect(report.problem).toMatchObject({ kind: 'changed', seq: '2' });
      await dba.query(`update audit_events set actor = 'owner' where seq = 2`);
    } finally {
      await dba.end();
    }
    expect((await audit.verify()).ok).toBe(true);
  });
});
