import { createHmac, randomBytes } from 'node:crypto';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, eventBody, hashEvent, type AuditContent } from '../../src/audit/chain.ts';
import { macInput } from '../../src/audit/integrity.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { auditRows, controlSession, eventContent, type AuditRow } from './support.ts';

type Row = AuditRow;

interface Report {
  ok: boolean;
  warnings: string[];
  checked: number;
  lastSeq: string | null;
  legacy: number;
  checkpoint: { seq: string; hash: string; stores: string[] } | null;
  problem: { seq: string; kind: string; message: string } | null;
  problems: { seq: string; kind: string; message: string }[];
}

/**
 * What the audit log holds against those who hold the database: the app
 * role's credentials, the owner role (a DBA), a superuser who switches the
 * triggers off. Each attack is made for real against the control database,
 * then undone.
 */
describe('audit log integrity', () => {
  let t: TestSteward;
  /** A second Steward on the same control database and data dir (the last tests restart). */
  let restarted: TestSteward | undefined;
  const checkpointFile = () => join(t.dataDir, 'audit', 'checkpoints.jsonl');
  const rows = (): Promise<Row[]> => auditRows(t);
  const verify = async (): Promise<Report> => {
    const res = await t.request('GET', '/api/v1/audit/verify');
    expect(res.status).toBe(200);
    return res.body as Report;
  };
  const session = (
    user: 'superuser' | 'app',
    statements: (client: pg.Client) => Promise<unknown>,
    options: { replica?: boolean } = {},
  ) => controlSession(t, user, statements, options);
  const record = (n: number) =>
    t.services.audit.recordAlone({
      actor: 'owner',
      action: 'tenant.update',
      target: `tenant/t${n}`,
      tenant: `t${n}`,
      details: { n },
    });
  /** Runs `attack` on an intact log, returns what verify says, then puts the log, its head and the checkpoint file back. */
  const attacked = async (attack: (events: Row[]) => Promise<unknown>): Promise<Report> => {
    expect((await verify()).ok).toBe(true);
    const events = await rows();
    const [head] = await t.query<{ seq: string; hash: string; legacy_seq: string }>(
      'select seq::text, hash, legacy_seq::text from audit.head',
      [],
      t.controlDatabase,
    );
    const file = await readFile(checkpointFile(), 'utf8');
    await t.query('create table audit_backup as select * from audit_events', [], t.controlDatabase);
    try {
      await attack(events);
      return await verify();
    } finally {
      await session(
        'superuser',
        async (c) => {
          await c.query('delete from audit_events');
          await c.query('insert into audit_events select * from audit_backup');
          await c.query('drop table audit_backup');
          await c.query('update audit.head set seq = $1, hash = $2, legacy_seq = $3', [
            head?.seq,
            head?.hash,
            head?.legacy_seq,
          ]);
        },
        { replica: true },
      );
      await writeFile(checkpointFile(), file);
    }
  };
  const content = (n: number): AuditContent => eventContent(n);
  /** An event made the way the trigger makes one, with a MAC from a key Steward never had. */
  const forgedRow = (seq: string, prevHash: string, c: AuditContent, keyId: string) => {
    const body = eventBody(c);
    const mac = createHmac('sha256', randomBytes(32))
      .update(macInput(seq, prevHash, body))
      .digest('hex');
    return { seq, prevHash, body, keyId, mac, hash: chainHash(prevHash, seq, body, keyId, mac) };
  };
  const insertAs = (
    client: pg.Client,
    seq: string,
    prevHash: string,
    c: AuditContent,
    extra: {
      body: string;
      keyId: string;
      mac: string;
      hash?: string;
    },
  ) =>
    client.query(
      `insert into audit_events (seq, at, actor, action, target, tenant, outcome, address, details, prev_hash, body, mac_key, mac, hash)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        seq,
        c.at.toISOString(),
        c.actor,
        c.action,
        c.target,
        c.tenant,
        c.outcome,
        c.address,
        JSON.stringify(c.details),
        prevHash,
        extra.body,
        extra.keyId,
        extra.mac,
        extra.hash ?? '0'.repeat(64),
      ],
    );

  /** As the app role: reserve the next place and append a forged event there, MAC'd with a key Steward never had. */
  const appendForgedAsApp = async (n: number, keyId: string): Promise<string> => {
    let seq = '';
    await session('app', async (app) => {
      await app.query('begin');
      const place = (await app.query<{ seq: string; prev_hash: string }>('select * from audit.reserve()'))
        .rows[0];
      if (!place) throw new Error('audit.reserve() gave no place');
      seq = String(place.seq);
      const c = content(n);
      await insertAs(app, seq, place.prev_hash, c, forgedRow(seq, place.prev_hash, c, keyId));
      await app.query('commit');
    });
    return seq;
  };

  beforeAll(async () => {
    t = await startTestSteward({ workers: false });
    for (let n = 1; n <= 6; n += 1) await record(n);
    expect(await t.services.audit.checkpoint()).toMatchObject({ seq: (await rows()).at(-1)?.seq });
  });
  afterAll(async () => {
    await restarted?.close();
    await t.close();
  });

  it('the log verifies intact against its newest signed checkpoint', async () => {
    const events = await rows();
    const report = await verify();
    expect(report).toMatchObject({
      ok: true,
      checked: events.length,
      lastSeq: events.at(-1)?.seq,
      legacy: 0,
      checkpoint: { seq: events.at(-1)?.seq, hash: events.at(-1)?.hash, stores: ['local'] },
      problems: [],
    });
    expect(events.every((e) => e.mac_key === t.services.secrets.activeKeyId)).toBe(true);
  });

  it('an event appended with the app role’s credentials alone is chained by the database and flagged by its MAC', async () => {
    let forgedSeq = '';
    const report = await attacked(async () => {
      forgedSeq = await appendForgedAsApp(99, t.services.secrets.activeKeyId);
      await record(7);
    });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'forged', seq: forgedSeq })]);
    expect(report.problem?.message).toMatch(/not written by Steward: its MAC does not match/);
    // The event Steward wrote after it still verifies: the chain is intact, only the forgery is flagged.
    expect(report.checked).toBe((await rows()).length + 2);
  });

  it('a real event copied to a new place (its body and MAC replayed) is flagged: the MAC covers the place', async () => {
    let copySeq = '';
    const report = await attacked((events) =>
      session('app', async (app) => {
        const original = events.at(2);
        if (!original?.body || !original.mac || !original.mac_key) throw new Error('no original');
        await app.query('begin');
        const place = (await app.query<{ seq: string; prev_hash: string }>('select * from audit.reserve()'))
          .rows[0];
        if (!place) throw new Error('no place');
        copySeq = String(place.seq);
        await insertAs(app, copySeq, place.prev_hash, original, {
          body: original.body,
          keyId: original.mac_key,
          mac: original.mac,
        });
        await app.query('commit');
      }),
    );
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'forged', seq: copySeq })]);
  });

  it('no checkpoint is signed over a log that fails verification', async () => {
    await attacked(async () => {
      await appendForgedAsApp(98, 'k');
      const before = await readFile(checkpointFile(), 'utf8');
      expect(await t.services.audit.checkpoint()).toBeUndefined();
      expect(await readFile(checkpointFile(), 'utf8')).toBe(before);
    });
  });

  it('the owner role (a DBA) cannot change, delete or truncate events while the triggers are on; after switching them off, verify names the event', async () => {
    const refused = async (sql: string): Promise<string | undefined> => {
      let code: string | undefined;
      await session('superuser', async (c) => {
        await c.query('set role steward_owner');
        await c.query(sql).catch((error: { code?: string }) => {
          code = error.code;
        });
      });
      return code;
    };
    const events = await rows();
    const victim = events.at(3);
    expect(await refused(`update audit_events set actor = 'dba' where seq = ${victim?.seq}`)).toBe('42501');
    expect(await refused(`delete from audit_events where seq = ${victim?.seq}`)).toBe('42501');
    expect(await refused('truncate audit_events')).toBe('42501');
    expect(await rows()).toEqual(events);

    const changed = await attacked(() =>
      session('superuser', async (c) => {
        await c.query('set role steward_owner');
        await c.query('alter table audit_events disable trigger user');
        await c.query(`update audit_events set actor = 'dba' where seq = $1`, [victim?.seq]);
        await c.query('alter table audit_events enable trigger user');
      }),
    );
    expect(changed.problem).toMatchObject({ kind: 'changed', seq: victim?.seq });

    const deleted = await attacked(() =>
      session('superuser', async (c) => {
        await c.query('set role steward_owner');
        await c.query('alter table audit_events disable trigger user');
        await c.query('delete from audit_events where seq = $1', [victim?.seq]);
        await c.query('alter table audit_events enable trigger user');
      }),
    );
    expect(deleted.problem).toMatchObject({ kind: 'deleted', seq: events.at(4)?.seq });
  });

  it('cutting off the newest events is reported as truncation against the checkpoint, even with the head moved back', async () => {
    const events = await rows();
    const last = events.at(-1);
    const keep = events.at(-4);
    expect((await verify()).checkpoint?.seq).toBe(last?.seq);
    const report = await attacked(() =>
      session(
        'superuser',
        async (c) => {
          await c.query('delete from audit_events where seq > $1', [keep?.seq]);
          await c.query('update audit.head set seq = $1, hash = $2', [keep?.seq, keep?.hash]);
        },
        { replica: true },
      ),
    );
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: last?.seq })]);
    expect(report.problem?.message).toContain(`up to ${last?.seq}`);

    // Without a checkpoint to hold it to, the database's own head still tells.
    const headOnly = await attacked(async () => {
      await writeFile(checkpointFile(), '');
      await session('superuser', (c) => c.query('delete from audit_events where seq > $1', [keep?.seq]), {
        replica: true,
      });
    });
    expect(headOnly.problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: last?.seq })]);
  });

  it('rewriting everything after an event, hashes recomputed and the head moved, is detected against the checkpoint', async () => {
    const events = await rows();
    const from = 2;
    const last = events.at(-1);
    /** As a superuser with triggers off: every event after `from` rewritten and chained on, the head moved to the new end. */
    const rewriteAfter = (
      rewrite: (
        seq: string,
        prev: string,
        c: AuditContent,
      ) => { body: string; keyId: string; mac: string; hash: string },
      options: { moveLegacyMark?: boolean } = {},
    ) =>
      session(
        'superuser',
        async (c) => {
          await c.query('delete from audit_events where seq > $1', [events[from]?.seq]);
          let prev = events[from]?.hash ?? '';
          let seq = BigInt(events[from]?.seq ?? '0');
          // The same number of events, each one rewritten and chained on.
          for (let i = from + 1; i < events.length; i += 1) {
            seq += 1n;
            const rewritten = content(i);
            const row = rewrite(String(seq), prev, rewritten);
            await insertAs(c, String(seq), prev, rewritten, row);
            prev = row.hash;
          }
          await c.query(
            `update audit.head set seq = $1, hash = $2${options.moveLegacyMark ? ', legacy_seq = $1' : ''}`,
            [String(seq), prev],
          );
        },
        { replica: true },
      );
    // As the trigger would chain them, with MACs from a key Steward never had.
    const report = await attacked(() =>
      rewriteAfter((seq, prev, c) => forgedRow(seq, prev, c, t.services.secrets.activeKeyId)),
    );
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'rewritten', seq: last?.seq }));
    expect(report.problems).toContainEqual(
      expect.objectContaining({ kind: 'forged', seq: events[from + 1]?.seq }),
    );

    // As "legacy" events (no MAC, the old app-computed hash) with the head's legacy mark moved: the checkpoint holds the mark.
    const legacy = await attacked(() =>
      rewriteAfter((_seq, prev, c) => ({ body: '', keyId: '', mac: '', hash: hashEvent(prev, c) }), {
        moveLegacyMark: true,
      }),
    );
    expect(legacy.ok).toBe(false);
    expect(legacy.problems).toContainEqual(
      expect.objectContaining({ kind: 'rewritten', message: expect.stringMatching(/have no MAC/) }),
    );
    expect(legacy.problems).toContainEqual(expect.objectContaining({ kind: 'rewritten', seq: last?.seq }));
  });

  it('a checkpoint changed by hand fails its signature, and one removed from the middle breaks the checkpoints’ chain', async () => {
    await record(8);
    await t.services.audit.checkpoint();
    await record(9);
    await t.services.audit.checkpoint();
    const lines = (await readFile(checkpointFile(), 'utf8')).trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const newest = JSON.parse(lines.at(-1) ?? '{}') as { seq: string; hash: string };
    const events = await rows();

    const signature = await attacked(async () => {
      // Claim the checkpoint vouched for one event less: what someone who cut an event off would need.
      const edited = { ...newest, seq: events.at(-2)?.seq, hash: events.at(-2)?.hash };
      await writeFile(checkpointFile(), [...lines.slice(0, -1), JSON.stringify(edited)].join('\n') + '\n');
    });
    expect(signature.problems).toContainEqual(
      expect.objectContaining({
        kind: 'checkpoint',
        message: expect.stringMatching(/does not carry Steward's signature/),
      }),
    );

    const removed = await attacked(async () => {
      await writeFile(checkpointFile(), [...lines.slice(0, -2), lines.at(-1)].join('\n') + '\n');
    });
    expect(removed.problems).toEqual([
      expect.objectContaining({
        kind: 'checkpoint',
        message: expect.stringMatching(/does not name the checkpoint before it/),
      }),
    ]);
  });

  it('a checkpoint line torn by a crash mid-append is skipped, and the next checkpoint starts on a line of its own', async () => {
    const whole = await readFile(checkpointFile(), 'utf8');
    const torn = (whole.trim().split('\n').at(-1) ?? '').slice(0, 40);
    await appendFile(checkpointFile(), torn);
    expect((await verify()).problems).toEqual([]);
    await record(11);
    const checkpoint = await t.services.audit.checkpoint();
    const lines = (await readFile(checkpointFile(), 'utf8')).split('\n');
    expect(lines.at(-3)).toBe(torn);
    expect(JSON.parse(lines.at(-2) ?? '')).toEqual(checkpoint);
    const report = await verify();
    expect(report).toMatchObject({ ok: true, checkpoint: { seq: checkpoint?.seq } });
    expect(report.warnings).toEqual([expect.stringMatching(/^skipped checkpoint .* is not JSON/)]);
  });

  it('Steward signs a checkpoint of the last event when it stops', async () => {
    await record(10);
    const last = (await rows()).at(-1);
    const before = (await readFile(checkpointFile(), 'utf8')).trim().split('\n').length;
    await t.steward.stop();
    const lines = (await readFile(checkpointFile(), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(before + 1);
    expect(JSON.parse(lines.at(-1) ?? '{}')).toMatchObject({ seq: last?.seq, hash: last?.hash });
  });

  it('events and checkpoints made with a master key since rotated still verify after a restart', async () => {
    restarted = await startTestSteward({ reuse: t, workers: false });
    const oldKey = restarted.services.secrets.activeKeyId;
    const rotated = await restarted.request('POST', '/api/v1/secrets/rotate-master-key');
    expect(rotated.status, rotated.text).toBe(200);
    const newKey = restarted.services.secrets.activeKeyId;
    expect(newKey).not.toBe(oldKey);
    await restarted.services.audit.recordAlone({
      actor: 'owner',
      action: 'tenant.update',
      target: 'tenant/t11',
    });
    await restarted.steward.stop();
    // A new process: the old master key is retired, the new one active.
    const keyring = JSON.parse(await readFile(join(t.dataDir, 'master.key'), 'utf8')) as {
      keys: object;
      retired?: object;
    };
    expect(Object.keys(keyring.keys)).toEqual([newKey]);
    expect(Object.keys(keyring.retired ?? {})).toEqual([oldKey]);
    restarted = await startTestSteward({ reuse: t, workers: false });
    const events = await rows();
    expect(new Set(events.map((e) => e.mac_key))).toEqual(new Set([oldKey, newKey]));
    const report = await restarted.request('GET', '/api/v1/audit/verify');
    expect(report.body).toMatchObject({ ok: true, checked: events.length, problems: [] });
    // After the newest checkpoint, a MAC under a key Steward does not hold is not taken on trust.
    await appendForgedAsApp(97, 'kgone');
    const flagged = await restarted.request('GET', '/api/v1/audit/verify');
    expect(flagged.body.problems).toEqual([
      expect.objectContaining({
        kind: 'forged',
        message: expect.stringMatching(/which the keyring does not hold/),
      }),
    ]);
  });
});
