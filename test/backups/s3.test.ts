import { existsSync } from 'node:fs';
import { chown, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expireAndCheck,
  newestWal,
  pgbackrestDriver,
  prepareStanza,
  runBackup,
  type PgBackRestDriver,
  type PreparedStanza,
  type RepositorySpec,
} from '../../src/backups/index.ts';
import { withSettings } from '../../src/backups/pgbackrest/archiving.ts';
import { runInGroup } from '../../src/backups/pgbackrest/process.ts';
import { findPgBackRest, passphraseSecretName } from '../../src/backups/pgbackrest/setup.ts';
import {
  describeCluster,
  startCluster,
  stopCluster,
  type LocalCluster,
} from '../../src/databases/local-cluster.ts';
import { lookupUser } from '../../src/system/exec.ts';
import { freePort } from '../../src/system/ports.ts';
import { startS3Server, type S3Server } from '../harness/s3.ts';
import { clusterPassword, eventually, startBackupLab, type BackupLab } from './support.ts';

const stanza = 'main';
const canary = 'steward-s3-canary-4b8e1f0a93-plaintext-row';
const prefix = '/steward/main';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** The object keys s3rver stores under a prefix of the bucket (it keeps `<key>._S3rver_object`). */
async function objectKeys(s3: S3Server, under: string): Promise<string[]> {
  const suffix = '._S3rver_object';
  const files = await filesUnder(join(s3.bucketDir, under)).catch(() => []);
  return files.filter((f) => f.endsWith(suffix)).map((f) => f.slice(s3.bucketDir.length, -suffix.length));
}

function first<R>(rows: readonly R[]): R {
  const row = rows[0];
  if (row === undefined) throw new Error('the query returned no row');
  return row;
}

async function queryAt<R>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as R[];
  } finally {
    await client.end();
  }
}

/**
 * repo1 on a path, repo2 in an S3 bucket served by s3rver over HTTPS: stanza,
 * backup, WAL archiving, encryption at rest and a point-in-time restore.
 * Retention and verify are tested on path repositories (pgbackrest.test.ts):
 * s3rver's listing hides every prefix that holds no object of its own, so
 * there expire only drops backups from pgBackRest's catalogue and verify finds
 * no WAL. The last tests pin both gaps, so neither is ever read as working.
 */
describe('pgBackRest with repo2 in an S3 bucket (s3rver over HTTPS)', () => {
  let lab: BackupLab;
  let s3: S3Server;
  let prepared: PreparedStanza;
  let driver: PgBackRestDriver;
  let passphrases: string[];
  let fullLabel: string;
  const postgres = lookupUser('postgres');
  const bin = findPgBackRest();

  beforeAll(async () => {
    lab = await startBackupLab();
    s3 = await startS3Server({ root: join(lab.root, 's3') });
    await lab.query(`create table ledger (id serial primary key, note text not null)`);
    await lab.query(`insert into ledger (note) select $1 || g from generate_series(1, 2000) g`, [canary]);
    const repositories: RepositorySpec[] = [
      { kind: 'path', path: join(lab.root, 'repo1'), retention: { kind: 'time', days: 30 } },
      {
        kind: 's3',
        endpoint: s3.endpoint,
        port: s3.port,
        bucket: s3.bucket,
        s3Region: 'us-east-1',
        path: prefix,
        uriStyle: 'path',
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
        caFile: s3.caFile,
        verifyTls: true,
        retention: { kind: 'time', days: 30 },
      },
    ];
    prepared = await prepareStanza({
      db: lab.store.db,
      secrets: lab.secrets,
      cluster: lab.cluster,
      stanza,
      stateDir: join(lab.root, 'backup'),
      repositories,
    });
    driver = prepared.driver;
    passphrases = await Promise.all([1, 2].map((n) => lab.secrets.get(passphraseSecretName(stanza, n))));
  }, 120_000);

  afterAll(async () => {
    await s3?.close();
    await lab?.close();
  });

  it('creates the stanza in the path repository and in the bucket, and check passes over TLS', async () => {
    const text = await readFile(prepared.configPath, 'utf8');
    for (const line of [
      'repo2-type=s3',
      `repo2-path=${prefix}`,
      `repo2-s3-bucket=${s3.bucket}`,
      'repo2-s3-endpoint=localhost',
      `repo2-storage-port=${s3.port}`,
      'repo2-s3-uri-style=path',
      `repo2-storage-ca-file=${s3.caFile}`,
      'repo2-storage-verify-tls=y',
      'repo2-cipher-type=aes-256-cbc',
    ]) {
      expect(text).toContain(`${line}\n`);
    }
    expect(existsSync(join(lab.root, 'repo1', 'archive', stanza, 'archive.info'))).toBe(true);
    expect(existsSync(join(lab.root, 'repo1', 'backup', stanza, 'backup.info'))).toBe(true);
    const keys = await objectKeys(s3, prefix);
    expect(keys).toEqual(
      expect.arrayContaining([
        `${prefix}/archive/${stanza}/archive.info`,
        `${prefix}/backup/${stanza}/backup.info`,
      ]),
    );
    await driver.check();
  });

  it('takes a full backup into the bucket, and info lists it in repo2', async () => {
    const run = await runBackup({ db: lab.store.db, driver }, { type: 'full', repo: 2, timeoutMs: 120_000 });
    expect(run).toMatchObject({ status: 'succeeded', type: 'full', repo: 2, error: null });
    fullLabel = run.label!;
    const listed = (await driver.info()).backups.filter((b) => b.repo === 2);
    expect(listed.map((b) => b.label)).toEqual([fullLabel]);
    expect(listed[0]!.databaseBytes).toBeGreaterThan(1_000_000);
    expect(run.sizeBytes).toBe(listed[0]!.repositoryBytes);
    const keys = await objectKeys(s3, `${prefix}/backup/${stanza}/${fullLabel}`);
    expect(keys.some((k) => k.endsWith('/backup.manifest'))).toBe(true);
    expect(keys.filter((k) => k.includes('/pg_data/base/')).length).toBeGreaterThan(100);
  });

  it('archives WAL to both repositories', async () => {
    await lab.query(`insert into ledger (note) values ('wal for both')`);
    const { walfile } = first(
      await lab.query<{ walfile: string }>('select pg_walfile_name(pg_switch_wal()) as walfile'),
    );
    await eventually('the switched segment in repo1 and repo2', async () => {
      const info = await driver.info();
      return [1, 2].every((repo) => (newestWal(info, repo) ?? '') >= walfile);
    });
    const archived = await objectKeys(s3, `${prefix}/archive/${stanza}`);
    expect(archived.some((k) => k.includes(`/${walfile}-`))).toBe(true);
    await driver.check();
  });

  it('stores nothing readable in the bucket: no plaintext row, every data object an OpenSSL cipher stream', async () => {
    const files = await filesUnder(s3.bucketDir);
    expect(files.length).toBeGreaterThan(100);
    for (const file of files) {
      const bytes = await readFile(file);
      expect(bytes.includes(Buffer.from(canary)), file).toBe(false);
    }
    const data = files.filter(
      (f) => f.endsWith('._S3rver_object') && (f.includes('/pg_data/') || f.includes('/archive/')),
    );
    const sealed = data.filter((f) => !/\.(info|copy)\._S3rver_object$/.test(f));
    expect(sealed.length).toBeGreaterThan(100);
    for (const file of sealed) {
      const bytes = await readFile(file);
      if (bytes.length === 0) continue;
      expect(bytes.subarray(0, 8).toString('latin1'), file).toBe('Salted__');
    }
  });

  it('restores from repo2 to a point in time into a scratch cluster: rows before the target, none after', async () => {
    await lab.query(`insert into ledger (note) values ('before the target')`);
    await new Promise((r) => setTimeout(r, 1100));
    const { target } = first(await lab.query<{ target: string }>(`select clock_timestamp()::text as target`));
    await new Promise((r) => setTimeout(r, 1100));
    await lab.query(`insert into ledger (note) values ('after the target')`);
    const { walfile } = first(
      await lab.query<{ walfile: string }>('select pg_walfile_name(pg_switch_wal()) as walfile'),
    );
    await eventually('the segment past the target in repo2', async () => {
      return (newestWal(await driver.info(), 2) ?? '') >= walfile;
    });

    const scratchDir = join(lab.root, 'scratch');
    await mkdir(scratchDir, { mode: 0o700 });
    if (postgres) await chown(scratchDir, postgres.uid, postgres.gid);
    let scratch: LocalCluster | undefined;
    try {
      const base = [`--config=${prepared.configPath}`, `--stanza=${stanza}`];
      const restored = await runInGroup(
        bin,
        [
          ...base,
          '--repo=2',
          `--pg1-path=${scratchDir}`,
          '--type=time',
          `--target=${target}`,
          '--target-action=promote',
          // The scratch cluster must never push WAL into the real repositories.
          '--archive-mode=off',
          // WAL from repo2 only, so the restore proves the bucket alone suffices.
          `--recovery-option=restore_command=${bin} ${base.join(' ')} --repo=2 --pg1-path=${scratchDir} archive-get %f "%p"`,
          'restore',
        ],
        { user: postgres, timeoutMs: 120_000 },
      );
      expect(restored.code, restored.stderr).toBe(0);
      const autoConfPath = join(scratchDir, 'postgresql.auto.conf');
      const autoConf = await readFile(autoConfPath, 'utf8');
      expect(autoConf).toMatch(/^archive_mode = 'off'$/m);
      expect(autoConf).toContain(`--repo=2 --pg1-path=${scratchDir} archive-get`);
      const port = await freePort(0);
      await writeFile(
        autoConfPath,
        withSettings(autoConf, { port: String(port), unix_socket_directories: '' }),
      );
      scratch = describeCluster({ dir: scratchDir, port, binDir: lab.cluster.binDir });
      await startCluster(scratch).catch(async (error: unknown) => {
        // The directory goes in `finally`: keep what its log says.
        const log = await readFile(join(scratchDir, 'server.log'), 'utf8').catch(() => '');
        throw new Error(`the scratch cluster did not start:\n${log.split('\n').slice(-15).join('\n')}`, {
          cause: error,
        });
      });
      const url = scratch.superuserUrl(clusterPassword);
      await eventually(
        'the scratch cluster to reach the target and promote',
        async () =>
          !(await queryAt<{ recovering: boolean }>(url, 'select pg_is_in_recovery() as recovering'))[0]!
            .recovering,
        60_000,
      );
      const notes = (
        await queryAt<{ note: string }>(url, `select note from ledger where note not like 'steward-s3%'`)
      ).map((r) => r.note);
      expect(notes).toContain('wal for both');
      expect(notes).toContain('before the target');
      expect(notes).not.toContain('after the target');
      const { count } = first(await queryAt<{ count: string }>(url, 'select count(*) from ledger'));
      expect(Number(count)).toBe(2002);
      const { archive_mode: mode } = first(await queryAt<{ archive_mode: string }>(url, 'show archive_mode'));
      expect(mode).toBe('off');
    } finally {
      if (scratch) await stopCluster(scratch, 'immediate').catch(() => undefined);
      await rm(scratchDir, { recursive: true, force: true });
    }
  });

  it("expire on s3rver drops the backup from pgBackRest's catalogue but leaves its objects: refused as retention", async () => {
    const second = await runBackup(
      { db: lab.store.db, driver },
      { type: 'full', repo: 2, timeoutMs: 120_000 },
    );
    expect(second.status).toBe('succeeded');
    const before = await objectKeys(s3, `${prefix}/backup/${stanza}/${fullLabel}`);
    expect(before.filter((k) => k.includes('/pg_data/')).length).toBeGreaterThan(100);
    // Expire drops the backup from the catalogue (backup.info), but removing the files walks a
    // listing, and s3rver's hides every prefix with no object of its own: the data stays. The
    // check looks at the storage too, so this is an error, never read as retention.
    await expect(
      expireAndCheck(driver, { repo: 2, retention: { kind: 'count', fulls: 1 }, now: new Date() }),
    ).rejects.toThrow(
      new RegExp(`dropped ${fullLabel} from its catalogue but their files remain in the repository`),
    );
    const listed = (await driver.info()).backups.filter((b) => b.repo === 2).map((b) => b.label);
    expect(listed).toEqual([second.label]);
    const after = await objectKeys(s3, `${prefix}/backup/${stanza}/${fullLabel}`);
    expect(after.filter((k) => k.endsWith('/backup.manifest'))).toEqual([]);
    expect(after.filter((k) => k.includes('/pg_data/')).length).toBeGreaterThan(100);
  }, 180_000); // a second full backup to s3rver may take its 120 s under a loaded machine

  it('verify on s3rver checks the backup but finds none of the archived WAL: reported as a failure, not verification', async () => {
    expect(newestWal(await driver.info(), 2)).not.toBeNull();
    const verified = await driver.verify({ repo: 2 });
    expect(verified.report).toMatch(/backup: \S+F, status: valid, total files checked: [1-9]/);
    // The WAL's prefixes hold no object of their own, so s3rver's listing hides them.
    expect(verified.report).toMatch(/archiveId: none found/);
    expect(verified.ok).toBe(false);
    expect(verified.report).toMatch(
      /repo2 holds WAL up to [0-9A-F]{24}: the repository's listing is incomplete/,
    );
  });

  it('keeps the S3 secret key and the passphrases out of the errors the driver surfaces', async () => {
    const text = await readFile(prepared.configPath, 'utf8');
    const wrongSecret = `wrong-s3-secret-${Date.now().toString(36)}`;
    const wrongPass = `wrong-cipher-pass-${Date.now().toString(36)}`;
    const wrongKeyId = `WRONGKEY${Date.now().toString(36).toUpperCase()}`;
    // s3rver does not check SigV4 signatures, so a wrong secret alone would pass; a wrong key id fails.
    const variants = {
      'bad-key': text
        .replace(`repo2-s3-key=${s3.accessKeyId}`, `repo2-s3-key=${wrongKeyId}`)
        .replace(`repo2-s3-key-secret=${s3.secretAccessKey}`, `repo2-s3-key-secret=${wrongSecret}`),
      'bad-pass': text.replace(`repo2-cipher-pass=${passphrases[1]}`, `repo2-cipher-pass=${wrongPass}`),
    };
    const secrets = [s3.secretAccessKey, wrongSecret, wrongPass, ...passphrases];
    const messages: string[] = [];
    for (const [name, variant] of Object.entries(variants)) {
      expect(variant).not.toBe(text);
      const configPath = join(lab.root, 'backup', `${name}.conf`);
      await writeFile(configPath, variant, { mode: 0o600 });
      if (postgres) await chown(configPath, postgres.uid, postgres.gid);
      try {
        const broken = pgbackrestDriver({ configPath, stanza, user: postgres, bin });
        const backup = await broken.backup({ type: 'full', repo: 2, timeoutMs: 60_000 });
        expect(backup.ok).toBe(false);
        if (!backup.ok) messages.push(backup.error);
        const check = await broken.check().then(
          () => 'passed',
          (error: unknown) => (error as Error).message,
        );
        expect(check).not.toBe('passed');
        messages.push(check);
      } finally {
        await rm(configPath, { force: true });
      }
    }
    // The store echoes the access key id it was sent (AWS does too): an identifier, not a secret.
    expect(messages.some((m) => m.includes(wrongKeyId))).toBe(true);
    for (const message of messages) {
      for (const secret of secrets) expect(message).not.toContain(secret);
    }
  });

  it('writes the S3 secret key and the passphrases nowhere but pgbackrest.conf: not in logs, spool or the bucket', async () => {
    const everything = await filesUnder(lab.root);
    const others = everything.filter((f) => f !== prepared.configPath && f !== join(lab.root, 'master.key'));
    expect(others.some((f) => f.startsWith(s3.bucketDir))).toBe(true);
    expect(others.some((f) => f.endsWith('.log'))).toBe(true);
    for (const file of others) {
      const bytes = await readFile(file).catch(() => Buffer.alloc(0));
      for (const secret of [s3.secretAccessKey, ...passphrases]) {
        expect(bytes.includes(Buffer.from(secret)), file).toBe(false);
      }
    }
  });
});
