import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genesisHash, hashEvent, type AuditContent } from '../../src/audit/chain.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

interface Row {
  seq: string;
  at: Date;
  actor: string;
  action: string;
  target: string;
  tenant: string | null;
  outcome: 'success' | 'failure' | 'denied';
  address: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

describe('audit log', () => {
  let t: TestSteward;
  const rows = (): Promise<Row[]> =>
    t.query<Row>('select * from audit_events order by seq', [], t.controlDatabase);
  const control = (sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> =>
    t.query(sql, params, t.controlDatabase);
  const verify = async (): Promise<{
    ok: boolean;
    checked: number;
    lastSeq: string | null;
    problem: { seq: string; kind: string; message: string } | null;
  }> => {
    const res = await t.request('GET', '/api/v1/audit/verify');
    expect(res.status).toBe(200);
    return res.body;
  };
  /** Runs `tamper` as superuser against an intact log, checks what verify says, then restores the log. */
  const tampered = async (tamper: (events: Row[]) => Promise<unknown>) => {
    expect((await verify()).ok).toBe(true);
    await control('drop table if exists audit_backup');
    await control('create table audit_backup as select * from audit_events');
    try {
      await tamper(await rows());
      return await verify();
    } finally {
      await control('delete from audit_events');
      await control('insert into audit_events select * from audit_backup');
      await control('drop table audit_backup');
    }
  };
  const forgedContent = (at: Date): AuditContent => ({
    at,
    actor: 'owner',
    action: 'tenant.delete',
    target: 'tenant/acme',
    tenant: 'acme',
    outcome: 'success',
    address: '127.0.0.1',
    details: { stages: ['prod'] },
  });
  const insertRow = (
    client: { query(sql: string, params: unknown[]): Promise<unknown> },
    seq: string,
    content: AuditContent,
    prevHash: string,
  ) =>
    client.query(
      `insert into audit_events (seq, at, actor, action, target, tenant, outcome, address, details, prev_hash, hash)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        seq,
        content.at.toISOString(),
        content.actor,
        content.action,
        content.target,
        content.tenant,
        content.outcome,
        content.address,
        JSON.stringify(content.details),
        prevHash,
        hashEvent(prevHash, content),
      ],
    );
  const pick = (events: Row[], index: number): Row => {
    const row = events.at(index);
    if (!row) throw new Error(`no audit event at ${index}`);
    return row;
  };
  let midpoint: Date;
  let gapAfter: string;

  beforeAll(async () => {
    t = await startTestSteward();
    expect(
      (await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['dev', 'prod'] })).status,
    ).toBe(201);
    await t.waitForStages('acme');
    expect((await t.request('GET', '/api/v1/tenants/acme/stages/prod/credentials')).status).toBe(200);
    // Leave a gap in the sequence, as a rolled-back append would, so a forged event can be slipped in.
    const [last] = await control('select max(seq) as seq from audit_events');
    gapAfter = String(last?.seq);
    await control(`select setval(pg_get_serial_sequence('audit_events', 'seq'), $1::bigint + 10)`, [
      gapAfter,
    ]);
    await new Promise((r) => setTimeout(r, 5));
    midpoint = new Date();
    await new Promise((r) => setTimeout(r, 5));
    expect((await t.request('POST', '/api/v1/tenants', { slug: 'beta', stages: ['dev'] })).status).toBe(201);
    await t.waitForStages('beta');
    expect((await t.request('GET', '/api/v1/tenants/beta/stages/dev/credentials')).status).toBe(200);
    expect((await t.request('DELETE', '/api/v1/tenants/beta')).status).toBe(202);
    await t.waitForStages('beta', 'gone');
    expect((await t.request('GET', '/api/v1/tenants/acme/stages/dev/credentials')).status).toBe(200);
  });
  afterAll(async () => {
    await t.close();
  });

  it('records every privileged action as one chained event, verified intact', async () => {
    const events = await rows();
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        'tenant.create',
        'stage.credentials.read',
        'tenant.delete',
        'stage.deleted',
        'tenant.deleted',
      ]),
    );
    expect(pick(events, 0).prev_hash).toBe(genesisHash);
    for (let i = 1; i < events.length; i += 1)
      expect(pick(events, i).prev_hash).toBe(pick(events, i - 1).hash);
    const report = await verify();
    expect(report).toEqual({
      ok: true,
      checked: events.length,
      lastSeq: pick(events, -1).seq,
      problem: null,
    });
  });

  it('detects a changed event (details updated)', async () => {
    let target = '';
    const report = await tampered(async (events) => {
      const read = events.find((e) => e.action === 'stage.credentials.read');
      target = read?.seq ?? '';
      await control(`update audit_events set details = '{"note":"nothing to see"}' where seq = $1`, [target]);
    });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ kind: 'changed', seq: target });
    expect(report.problem?.message).toContain(target);
  });

  it('detects a changed event (actor rewritten, hash recomputed by hand is still caught at the next link)', async () => {
    let events: Row[] = [];
    const report = await tampered(async (all) => {
      events = all;
      const victim = pick(all, 1);
      const changed: AuditContent = { ...victim, actor: 'someone-else' };
      await control('update audit_events set actor = $2, hash = $3 where seq = $1', [
        victim.seq,
        changed.actor,
        hashEvent(victim.prev_hash, changed),
      ]);
    });
    expect(report.ok).toBe(false);
    expect(report.problem?.seq).toBe(pick(events, 2).seq);
  });

  it('detects a changed hash', async () => {
    let target = '';
    const report = await tampered(async (events) => {
      target = pick(events, 2).seq;
      await control(`update audit_events set hash = repeat('e', 64) where seq = $1`, [target]);
    });
    expect(report.problem).toMatchObject({ kind: 'changed', seq: target });
  });

  it('detects a deleted event in the middle, naming the event after the gap', async () => {
    let after = '';
    const report = await tampered(async (events) => {
      const middle = Math.floor(events.length / 2);
      after = pick(events, middle + 1).seq;
      await control('delete from audit_events where seq = $1', [pick(events, middle).seq]);
    });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ kind: 'deleted', seq: after });
    expect(report.checked).toBeGreaterThan(0);
  });

  it('detects a deleted first event', async () => {
    let second = '';
    const report = await tampered(async (events) => {
      second = pick(events, 1).seq;
      await control('delete from audit_events where seq = $1', [pick(events, 0).seq]);
    });
    expect(report.problem).toMatchObject({ kind: 'deleted', seq: second });
    expect(report.checked).toBe(0);
  });

  it('detects a forged event inserted before the first, with a correctly computed hash', async () => {
    const report = await tampered(async (events) => {
      await insertRow(
        { query: (sql, params) => control(sql, params) },
        '0',
        forgedContent(new Date(pick(events, 0).at.getTime() - 1000)),
        genesisHash,
      );
    });
    expect(report.problem).toMatchObject({ kind: 'inserted', seq: '0' });
  });

  it('detects a forged event slipped into a gap, linked to its predecessor', async () => {
    const forgedSeq = String(Number(gapAfter) + 5);
    const report = await tampered(async (events) => {
      const before = events.find((e) => e.seq === gapAfter);
      if (!before) throw new Error('no event before the gap');
      expect(events.some((e) => e.seq === forgedSeq)).toBe(false);
      // The app role may append: a compromised process could try this itself.
      const app = new pg.Client({ connectionString: t.controlUrl });
      await app.connect();
      try {
        await insertRow(app, forgedSeq, forgedContent(new Date(before.at.getTime() + 1)), before.hash);
      } finally {
        await app.end();
      }
    });
    expect(report.problem).toMatchObject({ kind: 'inserted', seq: forgedSeq });
  });

  it('detects a forged event with a made-up link', async () => {
    const forgedSeq = String(Number(gapAfter) + 3);
    const report = await tampered(async (events) => {
      const before = events.find((e) => e.seq === gapAfter);
      if (!before) throw new Error('no event before the gap');
      await insertRow(
        { query: (sql, params) => control(sql, params) },
        forgedSeq,
        forgedContent(new Date(before.at.getTime() + 1)),
        'b'.repeat(64),
      );
    });
    expect(report.problem).toMatchObject({ kind: 'inserted', seq: forgedSeq });
  });

  it('detects two events swapped', async () => {
    let first = '';
    const report = await tampered(async (events) => {
      const a = pick(events, 1);
      const b = pick(events, 2);
      first = a.seq;
      await control('update audit_events set seq = -1 where seq = $1', [a.seq]);
      await control('update audit_events set seq = $1 where seq = $2', [a.seq, b.seq]);
      await control('update audit_events set seq = $1 where seq = -1', [b.seq]);
    });
    expect(report.ok).toBe(false);
    expect(report.problem?.seq).toBe(first);
  });

  it('the app role can read and append, but not update, delete or truncate the audit log', async () => {
    const app = new pg.Client({ connectionString: t.controlUrl });
    await app.connect();
    const refused = async (sql: string): Promise<string | undefined> => {
      try {
        await app.query(sql);
        return undefined;
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    try {
      const before = await rows();
      expect((await app.query('select count(*)::int as n from audit_events')).rows[0]).toEqual({
        n: before.length,
      });
      expect(await refused(`update audit_events set actor = 'x'`)).toBe('42501');
      expect(await refused(`update audit_events set details = '{}' where seq = ${pick(before, 0).seq}`)).toBe(
        '42501',
      );
      expect(await refused(`delete from audit_events where seq = ${pick(before, 0).seq}`)).toBe('42501');
      expect(await refused('truncate audit_events')).toBe('42501');
      expect(await refused('drop table audit_events')).toBe('42501');
      expect(await refused('alter table audit_events add column x int')).toBe('42501');
      // Granting oneself what one lacks only warns in PostgreSQL; what counts is that nothing changed.
      await app.query('grant update, delete, truncate on audit_events to steward_app').catch(() => undefined);
      expect(await refused(`delete from audit_events where seq = ${pick(before, 0).seq}`)).toBe('42501');
      await app.query('begin');
      await insertRow(app, '999999', forgedContent(new Date()), pick(before, -1).hash);
      await app.query('rollback');
      expect(await rows()).toEqual(before);
      const [owner] = await control(
        "select tableowner from pg_tables where schemaname = 'public' and tablename = 'audit_events'",
      );
      expect(owner?.tableowner).not.toBe('steward_app');
    } finally {
      await app.end();
    }
  });

  it('lists events filtered by tenant, action and time', async () => {
    const all = await rows();
    const list = async (query: string) => {
      const res = await t.request('GET', `/api/v1/audit${query}`);
      expect(res.status).toBe(200);
      return res.body.events as { seq: string; tenant: string | null; action: string; at: string }[];
    };
    const everything = await list('?limit=5000');
    expect(everything.map((e) => e.seq)).toEqual(all.map((e) => e.seq));

    const acme = await list('?tenant=acme');
    expect(acme.length).toBeGreaterThan(0);
    expect(acme.map((e) => e.seq)).toEqual(all.filter((e) => e.tenant === 'acme').map((e) => e.seq));
    const beta = await list('?tenant=beta');
    expect(beta.map((e) => e.action)).toEqual(expect.arrayContaining(['tenant.create', 'tenant.delete']));
    expect(beta.every((e) => e.tenant === 'beta')).toBe(true);

    const reads = await list('?action=stage.credentials.read');
    expect(reads.map((e) => e.tenant)).toEqual(['acme', 'beta', 'acme']);

    const since = await list(`?since=${encodeURIComponent(midpoint.toISOString())}`);
    expect(since.map((e) => e.seq)).toEqual(all.filter((e) => e.at >= midpoint).map((e) => e.seq));
    expect(since.length).toBeGreaterThan(0);
    expect(since.length).toBeLessThan(all.length);
    expect(since.some((e) => e.tenant === 'acme' && e.action === 'tenant.create')).toBe(false);

    const combined = await list(
      `?tenant=acme&action=stage.credentials.read&since=${encodeURIComponent(midpoint.toISOString())}`,
    );
    expect(combined).toHaveLength(1);

    const limited = await list('?limit=2');
    expect(limited.map((e) => e.seq)).toEqual(all.slice(0, 2).map((e) => e.seq));
    const after = await list(`?after=${pick(all, 1).seq}&limit=2`);
    expect(after.map((e) => e.seq)).toEqual(all.slice(2, 4).map((e) => e.seq));

    expect((await t.request('GET', '/api/v1/audit?since=yesterday')).status).toBe(400);
    expect((await t.request('GET', '/api/v1/audit?bogus=1')).status).toBe(400);
  });

  it('verifies a long log across batches, and finds a forged event at a batch boundary', async () => {
    // Append 5,010 well-chained events with room between their seqs, as the app would have written them.
    const last = pick(await rows(), -1);
    let prevHash = last.hash;
    let seq = Number(last.seq) + 100;
    const firstBulkSeq = seq;
    const values: unknown[][] = [];
    for (let i = 0; i < 5010; i += 1) {
      const content: AuditContent = { ...forgedContent(new Date(last.at.getTime() + i)), details: { i } };
      const hash = hashEvent(prevHash, content);
      values.push([
        String(seq),
        content.at.toISOString(),
        content.action,
        JSON.stringify(content.details),
        prevHash,
        hash,
      ]);
      prevHash = hash;
      seq += 2;
    }
    for (let i = 0; i < values.length; i += 1000) {
      const chunk = values.slice(i, i + 1000);
      await control(
        `insert into audit_events (seq, at, actor, action, target, tenant, outcome, address, details, prev_hash, hash)
         select s::bigint, a::timestamptz, 'owner', act, 'tenant/acme', 'acme', 'success', '127.0.0.1', d::jsonb, p, h
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) as x(s, a, act, d, p, h)`,
        [0, 1, 2, 3, 4, 5].map((column) => chunk.map((row) => row[column])),
      );
    }
    await control(`select setval(pg_get_serial_sequence('audit_events', 'seq'), $1)`, [seq]);
    const all = await rows();
    const report = await verify();
    expect(report).toMatchObject({ ok: true, checked: all.length, lastSeq: pick(all, -1).seq });

    // The 5,000th row, the last of the first batch, becomes a forged event with a made-up link.
    const index = 4999;
    const beforeForged = pick(all, index - 1);
    expect(Number(pick(all, index).seq) - Number(beforeForged.seq)).toBeGreaterThan(1);
    expect(Number(beforeForged.seq)).toBeGreaterThanOrEqual(firstBulkSeq);
    const forgedSeq = String(Number(beforeForged.seq) + 1);
    const boundary = await tampered(() =>
      insertRow(
        { query: (sql, params) => control(sql, params) },
        forgedSeq,
        forgedContent(new Date(beforeForged.at.getTime())),
        'c'.repeat(64),
      ),
    );
    expect(boundary.problem).toMatchObject({ kind: 'inserted', seq: forgedSeq });
    expect(boundary.checked).toBe(index);

    // A deletion far beyond the first batch is found too, with the count of events checked before it.
    const late = pick(all, 5003);
    const deleted = await tampered(() => control('delete from audit_events where seq = $1', [late.seq]));
    expect(deleted.problem).toMatchObject({ kind: 'deleted', seq: pick(all, 5004).seq });
    expect(deleted.checked).toBe(5003);
    expect((await verify()).ok).toBe(true);
  });
});
