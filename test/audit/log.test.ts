import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, eventBody, genesisHash, hashEvent, type AuditContent } from '../../src/audit/chain.ts';
import { AuditKeys, macInput } from '../../src/audit/integrity.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { auditRows, controlSession, type AuditRow } from './support.ts';

type Row = AuditRow;

describe('audit log', () => {
  let t: TestSteward;
  const rows = (): Promise<Row[]> => auditRows(t);
  const control = (sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> =>
    t.query(sql, params, t.controlDatabase);
  const verify = async (): Promise<{
    ok: boolean;
    checked: number;
    lastSeq: string | null;
    legacy: number;
    problem: { seq: string; kind: string; message: string } | null;
    problems: { seq: string; kind: string; message: string }[];
  }> => {
    const res = await t.request('GET', '/api/v1/audit/verify');
    expect(res.status).toBe(200);
    return res.body;
  };
  /** Statements as superuser with triggers off: a DBA's tampering. */
  const asDba = (statements: (client: pg.Client) => Promise<unknown>): Promise<void> =>
    controlSession(t, 'superuser', statements, { replica: true });
  /** Runs `tamper` against an intact log, checks what verify says, then restores the log. */
  const tampered = async (tamper: (events: Row[]) => Promise<unknown>) => {
    expect((await verify()).ok).toBe(true);
    await control('drop table if exists audit_backup');
    await control('create table audit_backup as select * from audit_events');
    try {
      await tamper(await rows());
      return await verify();
    } finally {
      await asDba(async (c) => {
        await c.query('delete from audit_events');
        await c.query('insert into audit_events select * from audit_backup');
        await c.query('drop table audit_backup');
      });
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
  /** A legacy-format row (the app computed its hash), written around the trigger. */
  const insertLegacyRow = (client: pg.Client, seq: string, content: AuditContent, prevHash: string) =>
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

  beforeAll(async () => {
    t = await startTestSteward();
    expect(
      (await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['dev', 'prod'] })).status,
    ).toBe(201);
    await t.waitForStages('acme');
    expect((await t.request('GET', '/api/v1/tenants/acme/stages/prod/credentials')).status).toBe(200);
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
    for (let i = 1; i < events.length; i += 1) {
      expect(pick(events, i).prev_hash).toBe(pick(events, i - 1).hash);
      // Numbered without gaps by the database.
      expect(BigInt(pick(events, i).seq)).toBe(BigInt(pick(events, i - 1).seq) + 1n);
    }
    // The database's hash, over what the app sent: body (the canonical content), MAC key id and MAC.
    for (const e of events) {
      expect(e.body).toBe(eventBody(e));
      expect(e.hash).toBe(chainHash(e.prev_hash, e.seq, e.body ?? '', e.mac_key ?? '', e.mac ?? ''));
    }
    const report = await verify();
    expect(report).toMatchObject({
      ok: true,
      checked: events.length,
      lastSeq: pick(events, -1).seq,
      legacy: 0,
      problem: null,
      problems: [],
    });
  });

  it('detects a changed event (details updated)', async () => {
    let target = '';
    const report = await tampered(async (events) => {
      const read = events.find((e) => e.action === 'stage.credentials.read');
      target = read?.seq ?? '';
      await asDba((c) =>
        c.query(`update audit_events set details = '{"note":"nothing to see"}' where seq = $1`, [target]),
      );
    });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ kind: 'changed', seq: target });
    expect(report.problem?.message).toContain(target);
  });

  it('detects a changed event whose body and hash were recomputed by hand: its MAC fails, and the next link', async () => {
    let events: Row[] = [];
    const report = await tampered(async (all) => {
      events = all;
      const victim = pick(all, 1);
      const changed: AuditContent = { ...victim, actor: 'someone-else' };
      const body = eventBody(changed);
      await asDba((c) =>
        c.query('update audit_events set actor = $2, body = $3, hash = $4 where seq = $1', [
          victim.seq,
          changed.actor,
          body,
          chainHash(victim.prev_hash, victim.seq, body, victim.mac_key ?? '', victim.mac ?? ''),
        ]),
      );
    });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual([
      ['forged', pick(events, 1).seq],
      ['deleted', pick(events, 2).seq],
    ]);
  });

  it('detects a changed hash', async () => {
    let target = '';
    const report = await tampered(async (events) => {
      target = pick(events, 2).seq;
      await asDba((c) => c.query(`update audit_events set hash = repeat('e', 64) where seq = $1`, [target]));
    });
    expect(report.problem).toMatchObject({ kind: 'changed', seq: target });
  });

  it('detects a deleted event in the middle, naming the event after the gap', async () => {
    let after = '';
    const report = await tampered(async (events) => {
      const middle = Math.floor(events.length / 2);
      after = pick(events, middle + 1).seq;
      await asDba((c) => c.query('delete from audit_events where seq = $1', [pick(events, middle).seq]));
    });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ kind: 'deleted', seq: after });
    expect(report.checked).toBeGreaterThan(0);
  });

  it('detects a deleted first event', async () => {
    let second = '';
    const report = await tampered(async (events) => {
      second = pick(events, 1).seq;
      await asDba((c) => c.query('delete from audit_events where seq = $1', [pick(events, 0).seq]));
    });
    expect(report.problem).toMatchObject({ kind: 'deleted', seq: second });
    expect(report.checked).toBe(0);
  });

  it('detects a forged event inserted before the first, with a correctly computed hash', async () => {
    const report = await tampered(async (events) => {
      await asDba((c) =>
        insertLegacyRow(c, '0', forgedContent(new Date(pick(events, 0).at.getTime() - 1000)), genesisHash),
      );
    });
    expect(report.problem).toMatchObject({ kind: 'inserted', seq: '0' });
  });

  it('detects two events swapped', async () => {
    let first = '';
    const report = await tampered(async (events) => {
      const a = pick(events, 1);
      const b = pick(events, 2);
      first = a.seq;
      await asDba(async (c) => {
        await c.query('update audit_events set seq = -1 where seq = $1', [a.seq]);
        await c.query('update audit_events set seq = $1 where seq = $2', [a.seq, b.seq]);
        await c.query('update audit_events set seq = $1 where seq = -1', [b.seq]);
      });
    });
    expect(report.ok).toBe(false);
    expect(report.problem?.seq).toBe(first);
  });

  it('the app role can read and append, but not update, delete or truncate the audit log, nor touch its chain', async () => {
    const app = new pg.Client({ connectionString: t.controlUrl });
    await app.connect();
    const refused = async (sql: string, params: unknown[] = []): Promise<string | undefined> => {
      try {
        await app.query(sql, params);
        return undefined;
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    try {
      const before = await rows();
      const last = pick(before, -1);
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
      expect(await refused('alter table audit_events disable trigger audit_events_chain')).toBe('42501');
      // The chain's head and trigger belong to steward_audit: the app cannot move, replace or unhook them.
      expect(await refused(`update audit.head set seq = 1`)).toBe('42501');
      expect(await refused(`delete from audit.head`)).toBe('42501');
      expect(
        await refused(
          `create or replace function audit.chain() returns trigger language plpgsql as $$ begin return new; end $$`,
        ),
      ).toBe('42501');
      expect(await refused('drop trigger audit_events_chain on audit_events')).toBe('42501');
      expect(await refused('set session_replication_role = replica')).toBe('42501');
      // Granting oneself what one lacks only warns in PostgreSQL; what counts is that nothing changed.
      await app.query('grant update, delete, truncate on audit_events to steward_app').catch(() => undefined);
      expect(await refused(`delete from audit_events where seq = ${pick(before, 0).seq}`)).toBe('42501');
      // A hash the app computes itself is never used, and a place other than the next is refused.
      await app.query('begin');
      const content = forgedContent(new Date());
      const inserted = await app.query<{ hash: string }>(
        `insert into audit_events (seq, at, actor, action, target, tenant, outcome, address, details, prev_hash, hash, body, mac_key, mac)
         select seq, $1, 'owner', 'tenant.delete', 'tenant/acme', 'acme', 'success', null, '{}', prev_hash, $2, $3, 'k', $4
         from audit.reserve() returning hash`,
        [content.at.toISOString(), 'f'.repeat(64), eventBody(content), 'a'.repeat(64)],
      );
      expect(inserted.rows[0]?.hash).not.toBe('f'.repeat(64));
      await app.query('rollback');
      expect(
        await refused(
          `insert into audit_events (seq, at, actor, action, target, outcome, details, prev_hash, body, mac_key, mac)
           values ($1, now(), 'owner', 'x', 'x', 'success', '{}', $2, '{}', 'k', 'm')`,
          [String(BigInt(last.seq) + 5n), last.hash],
        ),
      ).toBe('23000');
      expect(
        await refused(
          `insert into audit_events (seq, at, actor, action, target, outcome, details, prev_hash, body, mac_key, mac)
           values ($1, now(), 'owner', 'x', 'x', 'success', '{}', $2, '{}', 'k', 'm')`,
          [String(BigInt(last.seq) + 1n), 'b'.repeat(64)],
        ),
      ).toBe('23000');
      expect(await rows()).toEqual(before);
      const [owner] = await control(
        "select tableowner from pg_tables where schemaname = 'public' and tablename = 'audit_events'",
      );
      expect(owner?.tableowner).not.toBe('steward_app');
      const chainOwners = await control(
        "select p.proname, r.rolname, p.prosecdef from pg_proc p join pg_roles r on r.oid = p.proowner join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'audit' order by 1",
      );
      expect(chainOwners).toEqual([
        { proname: 'chain', rolname: 'steward_audit', prosecdef: true },
        { proname: 'refuse_change', rolname: 'steward_audit', prosecdef: false },
        { proname: 'reserve', rolname: 'steward_audit', prosecdef: true },
      ]);
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

  it('verifies a long log across batches, and finds a deletion at a batch boundary and beyond', async () => {
    // Append 5,010 events through the trigger, each with the MAC Steward would have made.
    const keys = new AuditKeys(t.services.secrets.masterKeys());
    const last = pick(await rows(), -1);
    let prevHash = last.hash;
    let seq = BigInt(last.seq);
    const values: string[][] = [];
    for (let i = 0; i < 5010; i += 1) {
      seq += 1n;
      const content: AuditContent = { ...forgedContent(new Date(last.at.getTime() + i)), details: { i } };
      const body = eventBody(content);
      const { keyId, mac } = keys.mac(macInput(String(seq), prevHash, body));
      values.push([
        String(seq),
        content.at.toISOString(),
        JSON.stringify(content.details),
        prevHash,
        body,
        keyId,
        mac,
      ]);
      prevHash = chainHash(prevHash, String(seq), body, keyId, mac);
    }
    for (let i = 0; i < values.length; i += 1000) {
      const chunk = values.slice(i, i + 1000);
      await control(
        `insert into audit_events (seq, at, actor, action, target, tenant, outcome, address, details, prev_hash, body, mac_key, mac)
         select s::bigint, a::timestamptz, 'owner', 'tenant.delete', 'tenant/acme', 'acme', 'success', '127.0.0.1', d::jsonb, p, b, k, m
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) with ordinality as x(s, a, d, p, b, k, m, n)
         order by n`,
        [0, 1, 2, 3, 4, 5, 6].map((column) => chunk.map((row) => row[column])),
      );
    }
    const all = await rows();
    expect(pick(all, -1).hash).toBe(prevHash);
    const report = await verify();
    expect(report).toMatchObject({ ok: true, checked: all.length, lastSeq: pick(all, -1).seq });

    // The 5,000th row, the last of the first batch, goes.
    const index = 4999;
    const boundary = await tampered(() =>
      asDba((c) => c.query('delete from audit_events where seq = $1', [pick(all, index).seq])),
    );
    expect(boundary.problem).toMatchObject({ kind: 'deleted', seq: pick(all, index + 1).seq });
    expect(boundary.checked).toBe(index);

    // A deletion far beyond the first batch is found too, with the count of events checked before it.
    const late = pick(all, 5003);
    const deleted = await tampered(() =>
      asDba((c) => c.query('delete from audit_events where seq = $1', [late.seq])),
    );
    expect(deleted.problem).toMatchObject({ kind: 'deleted', seq: pick(all, 5004).seq });
    expect(deleted.checked).toBe(5003);
    expect((await verify()).ok).toBe(true);
  });
});
