import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditCheckpointDir, auditCheckpointName } from '../../src/backups/audit-checkpoints.ts';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import { startS3Server, type S3Server } from '../harness/s3.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

/**
 * Checkpoints outside the control database: the local file, repo1 on a path
 * and repo2 in an S3 bucket (s3rver over HTTPS), next to pgBackRest's data.
 */
describe('audit checkpoints in both backup repositories', () => {
  let root: string;
  let s3: S3Server;
  let t: TestSteward;
  const prefix = '/steward/main';
  const repo1 = () => join(root, 'repo1');
  const localFile = () => join(t.dataDir, 'audit', 'checkpoints.jsonl');
  const verify = async () => {
    const res = await t.request('GET', '/api/v1/audit/verify');
    expect(res.status).toBe(200);
    return res.body as {
      ok: boolean;
      checkpoint: { seq: string; stores: string[] } | null;
      problems: { seq: string; kind: string; message: string }[];
      warnings: string[];
    };
  };
  const record = (n: number) =>
    t.services.audit.recordAlone({
      actor: 'owner',
      action: 'tenant.update',
      target: `tenant/t${n}`,
      details: { n },
    });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'steward-audit-repos-'));
    await chmod(root, 0o711);
    s3 = await startS3Server({ root: join(root, 's3') });
    t = await startTestSteward({
      sharedBackups: true,
      workers: false,
      backupS3Keys: { 2: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } },
      config: {
        backups: {
          repositories: [
            { kind: 'path', path: repo1() },
            {
              kind: 's3',
              endpoint: s3.endpoint,
              port: s3.port,
              bucket: s3.bucket,
              s3Region: 'us-east-1',
              path: prefix,
              uriStyle: 'path',
              caFile: s3.caFile,
            },
          ],
        },
      },
    });
    await t.services.backups.target('shared');
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await s3?.close();
    await rm(root, { recursive: true, force: true });
  }, 60_000);

  it('writes each checkpoint to the local file and, as a plain object, to both repositories', async () => {
    await record(1);
    const checkpoint = await t.services.audit.checkpoint();
    if (!checkpoint) throw new Error('no checkpoint signed');
    const name = `${auditCheckpointDir}/${auditCheckpointName(checkpoint.seq)}`;
    const local = (await readFile(localFile(), 'utf8')).trim().split('\n').at(-1);
    expect(JSON.parse(local ?? '{}')).toEqual(checkpoint);
    expect(JSON.parse(await readFile(join(repo1(), name), 'utf8'))).toEqual(checkpoint);
    const object = join(s3.bucketDir, prefix.slice(1), `${name}._S3rver_object`);
    expect(JSON.parse(await readFile(object, 'utf8'))).toEqual(checkpoint);
    const report = await verify();
    expect(report).toMatchObject({
      ok: true,
      checkpoint: { seq: checkpoint.seq, stores: ['local', 'repo1', 'repo2'] },
      problems: [],
    });
  });

  it('events cut off the end and the local file cut back with them are caught by the repositories', async () => {
    await record(2);
    await record(3);
    const checkpoint = await t.services.audit.checkpoint();
    if (!checkpoint) throw new Error('no checkpoint signed');
    const lines = (await readFile(localFile(), 'utf8')).trim().split('\n');
    const events = await t.query<{ seq: string; hash: string }>(
      'select seq::text, hash from audit_events order by seq',
      [],
      t.controlDatabase,
    );
    const keep = events.at(-3);
    await writeFile(localFile(), `${lines.slice(0, -1).join('\n')}\n`);
    const client = new pg.Client({ connectionString: replaceDatabase(t.superuserUrl, t.controlDatabase) });
    await client.connect();
    try {
      await client.query('set session_replication_role = replica');
      await client.query('delete from audit_events where seq > $1', [keep?.seq]);
      await client.query('update audit.head set seq = $1, hash = $2', [keep?.seq, keep?.hash]);
    } finally {
      await client.end();
    }
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.checkpoint).toMatchObject({ seq: checkpoint.seq, stores: ['repo1', 'repo2'] });
    expect(report.problems.map((p) => p.kind).sort()).toEqual(['checkpoint', 'truncated']);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ kind: 'truncated', seq: checkpoint.seq }),
    );
  });
});
