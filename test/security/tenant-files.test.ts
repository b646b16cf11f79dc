import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tarDirectory } from '../../src/backups/logical/tar-writer.ts';
import { systemPrincipal } from '../../src/core/policy.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { startSwapper, stopSwapper } from '../harness/swapper.ts';

/** Owner and mode of every entry below `dir` (and of `dir`), to compare before and after; links not followed. */
async function ownersAndModes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (relative: string): Promise<void> => {
    const info = await lstat(join(dir, relative));
    out[relative || '.'] = `${info.uid}:${info.gid} ${(info.mode & 0o7777).toString(8)}`;
    if (!info.isDirectory()) return;
    for (const name of await readdir(join(dir, relative)))
      await visit(relative ? `${relative}/${name}` : name);
  };
  await visit('');
  return out;
}

const exportType = 'application/vnd.steward.export';

describe("Steward (root) on a tenant's files: never through the tenant's links", () => {
  let t: TestSteward;
  let work: string;
  /** Outside every stage: what a tenant would aim its links at (/usr, master.key, another tenant). */
  let outside: string;
  let secret: string;
  let dev: { id: string; filesDir: string; uid: number };
  let swapper: ChildProcess | undefined;
  const slug = `fs${randomBytes(3).toString('hex')}`;

  async function stage(name: string): Promise<{ id: string; filesDir: string; uid: number }> {
    const rows = await t.query<{ id: string; files_dir: string }>(
      `select stages.id::text as id, stages.files_dir from stages
         join tenants on tenants.id = stages.tenant_id
        where tenants.slug = $1 and stages.name = $2`,
      [slug, name],
      t.controlDatabase,
    );
    const row = rows[0];
    if (!row) throw new Error(`no stage ${name}`);
    const uid = t.services.runtime.stageUid(row.id);
    if (uid === undefined) throw new Error('these tests run as root, with a uid per stage');
    // As the runtime leaves it when the stage's processes start: the stage's own.
    await mkdir(row.files_dir, { recursive: true, mode: 0o700 });
    await chown(row.files_dir, uid, uid);
    return { id: row.id, filesDir: row.files_dir, uid };
  }

  beforeAll(async () => {
    t = await startTestSteward();
    work = await mkdtemp(join(tmpdir(), 'steward-tenant-files-'));
    outside = join(work, 'outside');
    await mkdir(outside, { mode: 0o755 });
    await chmod(outside, 0o755);
    secret = `MASTER-KEY-${randomBytes(16).toString('hex')}`;
    await writeFile(join(outside, 'master.key'), secret, { mode: 0o600 });
    await mkdir(join(outside, 'lib'), { mode: 0o755 });
    expect((await t.request('POST', '/api/v1/tenants', { slug, stages: ['dev', 'test'] })).status).toBe(201);
    await t.waitForStages(slug);
    dev = await stage('dev');
  }, 120_000);

  afterEach(async () => {
    await stopSwapper(swapper);
    swapper = undefined;
  });

  afterAll(async () => {
    await stopSwapper(swapper);
    await t?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('never changes the mode of a directory outside the stage in a quota pass, however its files dir changes', async () => {
    const before = await ownersAndModes(outside);
    swapper = startSwapper(dev.filesDir, 'q', outside, dev.uid);
    await new Promise((r) => setTimeout(r, 100));
    expect(swapper.exitCode).toBeNull();
    // Each pair of passes walks the tree twice: read-only over the quota, writable under it.
    for (let i = 0; i < 30; i++) {
      for (const quota of [1, null]) {
        await t.services.runtime.configure(slug, 'dev', { filesQuotaBytes: quota }, systemPrincipal);
        await t.services.runtime.tick();
      }
      expect(await ownersAndModes(outside)).toEqual(before);
    }
    await stopSwapper(swapper);
    expect(await ownersAndModes(outside)).toEqual(before);
    // The quota did its work on the stage's own tree.
    expect((await stat(dev.filesDir)).mode & 0o777).toBe(0o700);
  }, 60_000);

  it('never puts a file from outside the stage into an export, while a directory is swapped for a link', async () => {
    // Static chains too: "a" is the files dir itself, "up" its parent through "a", "sib" a sibling through "up".
    await symlink('.', join(dev.filesDir, 'a'));
    await symlink('a/..', join(dev.filesDir, 'up'));
    await symlink(`up/${basename(outside)}`, join(dev.filesDir, 'sib'));
    swapper = startSwapper(dev.filesDir, 'x', outside, dev.uid);
    await new Promise((r) => setTimeout(r, 100));
    expect(swapper.exitCode).toBeNull();
    let exports = 0;
    for (let i = 0; i < 300; i++) {
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of tarDirectory(dev.filesDir, 'files', { files: 0, bytes: 0 }))
          chunks.push(chunk);
      } catch {
        continue; // an export that fails is not a leak
      }
      exports += 1;
      const archive = Buffer.concat(chunks);
      expect(archive.includes(secret), `export ${i} holds the secret from outside the stage`).toBe(false);
      expect(archive.includes('master.key')).toBe(false);
    }
    expect(exports).toBeGreaterThan(0);
  }, 60_000);

  it('refuses to import an export whose links leave the files dir through each other, and creates nothing', async () => {
    const source = await stage('test');
    // Each link alone stays inside; "up" through "a" is the tenant's directory, "sib" another stage's.
    await symlink('.', join(source.filesDir, 'a'));
    await symlink('a/..', join(source.filesDir, 'up'));
    await symlink('up/dev', join(source.filesDir, 'sib'));
    await writeFile(join(source.filesDir, 'note.txt'), 'hello');
    const key = await t.request('PUT', `/api/v1/tenants/${slug}/export-key`, { generate: 'identity' });
    expect(key.status, key.text).toBe(200);
    const created = await t.request('POST', `/api/v1/tenants/${slug}/stages/test/exports`);
    expect(created.status, created.text).toBe(202);
    let done: { status: string; reason?: string } = created.body;
    for (const deadline = Date.now() + 60_000; done.status === 'running' && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 100));
      done = (await t.request('GET', `/api/v1/exports/${created.body.id}`)).body;
    }
    expect(done.status, done.reason).toBe('succeeded');
    const download = await t.api.inject({
      method: 'GET',
      url: `/api/v1/exports/${created.body.id}/download`,
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(download.statusCode).toBe(200);
    const devBefore = await ownersAndModes(dev.filesDir);

    const res = await t.api.inject({
      method: 'POST',
      url: `/api/v1/tenants/${slug}/imports?stage=imported`,
      headers: {
        authorization: `Bearer ${t.token}`,
        'content-type': exportType,
        'x-steward-identity': key.body.identity,
      },
      payload: download.rawPayload,
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().message).toMatch(
      /symlink "files\/(up|sib)" leaves the files directory through other links/,
    );
    const tenant = await t.request('GET', `/api/v1/tenants/${slug}`);
    expect(tenant.body.stages.map((s: { name: string }) => s.name).sort()).toEqual(['dev', 'test']);
    expect(await ownersAndModes(dev.filesDir)).toEqual(devBefore);
  }, 120_000);
});
