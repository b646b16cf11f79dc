import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemPrincipal } from '../../src/core/policy.ts';
import { ReleaseService } from '../../src/runtime/releases.ts';
import { openControlStore } from '../../src/store/db.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

const fixtureYaml = `name: fixture
processes:
  web:
    command: node server.js
    port: true
  worker:
    command: node worker.js
health:
  path: /healthz
build:
  command: echo built > built.txt && node -e "require('fs').writeFileSync('node-version.txt', process.version)"
`;

/** A small app directory: its steward.yaml, a server, an executable script. */
async function fixtureApp(root: string, options: { yaml?: string; extra?: string } = {}): Promise<string> {
  const dir = await mkdtemp(join(root, 'app-'));
  await writeFile(join(dir, 'steward.yaml'), options.yaml ?? fixtureYaml);
  await writeFile(join(dir, 'server.js'), 'console.log("web");\n');
  await writeFile(join(dir, 'worker.js'), `console.log("worker ${options.extra ?? ''}");\n`);
  await mkdir(join(dir, 'bin'));
  await writeFile(join(dir, 'bin', 'run'), '#!/bin/sh\necho run\n', { mode: 0o700 });
  await mkdir(join(dir, 'node_modules', 'junk'), { recursive: true });
  await writeFile(join(dir, 'node_modules', 'junk', 'index.js'), 'excluded');
  return dir;
}

/** What the CLI sends for a directory. */
function pack(dir: string): Buffer {
  return execFileSync('tar', ['-czf', '-', '--exclude=node_modules', '--exclude=.git', '-C', dir, '.']);
}

interface RawEntry {
  readonly name: string;
  readonly type?: '0' | '2' | '3' | '5';
  readonly content?: string;
  readonly linkname?: string;
  readonly mode?: number;
}

/** A hand-made tar, to send what GNU tar would never write. */
function craftTar(entries: readonly RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const content = Buffer.from(entry.content ?? '');
    const header = Buffer.alloc(512);
    header.write(entry.name, 0, 100, 'utf8');
    header.write(`${(entry.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100, 'ascii');
    header.write('0000000\0', 108, 'ascii');
    header.write('0000000\0', 116, 'ascii');
    header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
    header.write('00000000000\0', 136, 'ascii');
    header.write('        ', 148, 'ascii');
    header.write(entry.type ?? '0', 156, 'ascii');
    header.write(entry.linkname ?? '', 157, 100, 'utf8');
    header.write('ustar\0', 257, 'ascii');
    header.write('00', 263, 'ascii');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    blocks.push(header, content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

const goodEntries: readonly RawEntry[] = [
  { name: 'steward.yaml', content: 'name: crafted\nprocesses:\n  worker:\n    command: node w.js\n' },
  { name: 'w.js', content: 'ok' },
];

/** Every file (not directory) below a directory, relative. */
async function filesBelow(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isDirectory()) out.push(join(entry.parentPath, entry.name).slice(dir.length + 1));
  }
  return out.sort();
}

describe('releases', () => {
  let t: TestSteward;
  let work: string;
  let releasesDir: string;

  const upload = async (archive: Buffer, version: string, token = t.token) => {
    const response = await t.api.inject({
      method: 'POST',
      url: `/api/v1/releases?version=${encodeURIComponent(version)}`,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' },
      payload: archive,
    });
    return { status: response.statusCode, body: JSON.parse(response.body) };
  };
  const releaseRows = (app: string) =>
    t.query<{ version: string; checksum: string }>(
      'select version, checksum from releases where app = $1 order by id',
      [app],
      t.controlDatabase,
    );

  beforeAll(async () => {
    t = await startTestSteward();
    work = await mkdtemp(join(tmpdir(), 'steward-releases-'));
    releasesDir = join(t.dataDir, 'releases');
  });
  afterAll(async () => {
    await t.close();
    await rm(work, { recursive: true, force: true });
  });

  it('adds a directory as a release: unpacked, built, sealed, recorded with its checksum', async () => {
    const dir = await fixtureApp(work);
    const added = await upload(pack(dir), '1.0.0');
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ app: 'fixture', version: '1.0.0', created: true });
    expect(added.body.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(added.body.definition.processes.web).toEqual({
      command: 'node server.js',
      port: true,
      instances: 1,
    });
    expect(added.body.definition.health.intervalSeconds).toBe(2);
    const path = join(releasesDir, 'fixture', '1.0.0');
    expect(added.body.path).toBe(path);
    expect(await readFile(join(path, 'built.txt'), 'utf8')).toBe('built\n');
    // The build ran with the Node that runs Steward first on its PATH.
    expect(await readFile(join(path, 'node-version.txt'), 'utf8')).toBe(process.version);
    expect(existsSync(join(path, 'node_modules'))).toBe(false);
    expect((await stat(path)).mode & 0o7777).toBe(0o755);
    expect((await stat(join(path, 'bin'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(path, 'server.js'))).mode & 0o7777).toBe(0o644);
    expect((await stat(join(path, 'bin', 'run'))).mode & 0o7777).toBe(0o755);
    expect(added.body.sizeBytes).toBeGreaterThan(0);
    expect(await releaseRows('fixture')).toEqual([{ version: '1.0.0', checksum: added.body.checksum }]);
  });

  it('accepts the identical content again, packed at another time, without a second row', async () => {
    const first = await t.request('GET', '/api/v1/releases/fixture/1.0.0');
    const dir = await fixtureApp(work);
    await new Promise((r) => setTimeout(r, 1100)); // other mtimes in the archive
    const again = await upload(pack(dir), '1.0.0');
    expect(again.status).toBe(200);
    expect(again.body.created).toBe(false);
    expect(again.body.checksum).toBe(first.body.checksum);
    expect(await releaseRows('fixture')).toHaveLength(1);
  });

  it('refuses the same version with other content, naming both checksums', async () => {
    const before = await filesBelow(join(releasesDir, 'fixture', '1.0.0'));
    const dir = await fixtureApp(work, { extra: 'changed' });
    const conflict = await upload(pack(dir), '1.0.0');
    expect(conflict.status).toBe(409);
    const existing = (await releaseRows('fixture'))[0]?.checksum ?? '';
    expect(conflict.body.message).toContain(existing);
    expect(conflict.body.message).toMatch(/this upload has sha256:[0-9a-f]{64}/);
    expect(conflict.body.message).not.toContain(`this upload has ${existing}`);
    expect(await filesBelow(join(releasesDir, 'fixture', '1.0.0'))).toEqual(before);
    // A mode change is other content too.
    const modeChanged = await fixtureApp(work);
    await chmod(join(modeChanged, 'server.js'), 0o755);
    expect((await upload(pack(modeChanged), '1.0.0')).status).toBe(409);
  });

  it('refuses an invalid steward.yaml naming the line and the field, and keeps nothing', async () => {
    const dir = await fixtureApp(work, {
      yaml: 'name: broken\nprocesses:\n  web:\n    command: node server.js\n    ports: 2\n',
    });
    const refused = await upload(pack(dir), '1.0.0');
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('steward.yaml, line 5');
    expect(refused.body.message).toContain('processes.web.ports');
    expect(refused.body.field).toBe('processes.web.ports');
    expect(existsSync(join(releasesDir, 'broken'))).toBe(false);
    expect(await filesBelow(join(releasesDir, '.tmp'))).toEqual([]);

    const missing = await upload(craftTar([{ name: 'w.js', content: 'x' }]), '1.0.0');
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('no steward.yaml');
  });

  it.each([
    { name: 'a ".." path', entry: { name: '../escaped.txt', content: 'x' }, says: 'contains ".."' },
    {
      name: 'a ".." inside a path',
      entry: { name: 'a/../../escaped.txt', content: 'x' },
      says: 'contains ".."',
    },
    { name: 'an absolute path', entry: { name: '/tmp/escaped.txt', content: 'x' }, says: 'absolute path' },
    {
      name: 'a symlink outside',
      entry: { name: 'passwd', type: '2', linkname: '/etc/passwd' },
      says: 'points outside',
    },
    {
      name: 'a relative symlink outside',
      entry: { name: 'up', type: '2', linkname: '../../..' },
      says: 'points outside',
    },
    { name: 'a device file', entry: { name: 'null', type: '3' }, says: 'device file' },
  ] as const)('refuses an archive with $name and leaves nothing under releases/', async ({ entry, says }) => {
    const refused = await upload(craftTar([...goodEntries, entry]), '6.6.6');
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain(says);
    expect(await filesBelow(releasesDir)).toEqual(
      await filesBelow(join(releasesDir, 'fixture')).then((f) => f.map((p) => `fixture/${p}`)),
    );
    expect(existsSync(join(releasesDir, 'crafted'))).toBe(false);
    expect(existsSync(join(tmpdir(), 'escaped.txt'))).toBe(false);
  });

  it('refuses symlink tricks: a chain that escapes, and a write through a symlink', async () => {
    const chain = await upload(
      craftTar([
        ...goodEntries,
        { name: 'sub/', type: '5', mode: 0o755 },
        { name: 'sub/up', type: '2', linkname: '..' },
        { name: 'escape', type: '2', linkname: 'sub/up/..' },
      ]),
      '6.6.7',
    );
    expect(chain.status).toBe(400);
    expect(chain.body.message).toMatch(/symlink "escape" points (outside|to nothing)/);
    const through = await upload(
      craftTar([
        ...goodEntries,
        { name: 'dir', type: '2', linkname: '.' },
        { name: 'dir/file', content: 'x' },
      ]),
      '6.6.8',
    );
    expect(through.status).toBe(400);
    expect(through.body.message).toContain('through the symlink');
    expect(existsSync(join(releasesDir, 'crafted'))).toBe(false);
    expect(await filesBelow(join(releasesDir, '.tmp'))).toEqual([]);
  });

  it('refuses what is not a .tar.gz, an empty body and a bad version', async () => {
    expect((await upload(Buffer.from('not gzip at all'), '1.0.1')).body.message).toContain(
      'not a valid .tar.gz',
    );
    expect((await upload(gzipSync(Buffer.from('plain text, not tar'.repeat(40))), '1.0.1')).status).toBe(400);
    const badVersion = await upload(craftTar(goodEntries), '../1');
    expect(badVersion.status).toBe(400);
    expect(badVersion.body.field).toBe('version');
    expect(badVersion.body.message).toContain('not a release version');
    const json = await t.request('POST', '/api/v1/releases?version=1.0.1', { not: 'an archive' });
    expect(json.status).toBe(400);
    expect(json.body.message).toContain('application/gzip');
  });

  it('refuses a release whose build fails, with the end of its output, and records nothing', async () => {
    const dir = await fixtureApp(work, {
      yaml: `name: failing\nprocesses:\n  worker:\n    command: node worker.js\nbuild:\n  command: for i in $(seq 1 50); do echo line-$i; done; echo oops >&2; exit 3\n`,
    });
    const failed = await upload(pack(dir), '1.0.0');
    expect(failed.status).toBe(400);
    expect(failed.body.field).toBe('build.command');
    expect(failed.body.message).toContain('exit 3');
    expect(failed.body.message).toContain('line-50');
    expect(failed.body.message).toContain('oops');
    expect(failed.body.message).not.toContain('line-10\n');
    expect(await releaseRows('failing')).toEqual([]);
    expect(existsSync(join(releasesDir, 'failing'))).toBe(false);
    expect(await filesBelow(join(releasesDir, '.tmp'))).toEqual([]);
  });

  it('stops a build that runs past its timeout', async () => {
    const dir = await fixtureApp(work, {
      yaml: `name: slow\nprocesses:\n  worker:\n    command: node worker.js\nbuild:\n  command: echo started; sleep 30\n`,
    });
    const store = openControlStore(t.controlUrl, { max: 2 });
    const quick = new ReleaseService({
      db: store.db,
      audit: t.services.audit,
      releasesDir,
      buildTimeoutMs: 500,
    });
    const started = Date.now();
    try {
      await expect(quick.add(pack(dir), '1.0.0', systemPrincipal)).rejects.toThrow(
        /did not finish within 0.5 s[\s\S]*started/,
      );
    } finally {
      await store.close();
    }
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(existsSync(join(releasesDir, 'slow'))).toBe(false);
  });

  it('takes an upload above the 1 MiB the other routes accept', async () => {
    const big = randomBytes(3 * 1024 * 1024).toString('base64');
    const archive = craftTar([
      { name: 'steward.yaml', content: 'name: big\nprocesses:\n  worker:\n    command: node w.js\n' },
      { name: 'blob.txt', content: big },
    ]);
    expect(archive.length).toBeGreaterThan(1024 * 1024);
    const added = await upload(archive, '1.0.0');
    expect(added.status).toBe(201);
    expect(added.body.sizeBytes).toBeGreaterThan(3 * 1024 * 1024);
    expect((await t.request('DELETE', '/api/v1/releases/big/1.0.0')).status).toBe(200);
    // Elsewhere the body limit stays at 1 MiB, whatever the content type.
    const elsewhere = await t.api.inject({
      method: 'POST',
      url: '/api/v1/tenants',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/gzip' },
      payload: archive,
    });
    expect(elsewhere.statusCode).toBe(413);
  });

  it('lists, shows and removes releases', async () => {
    const dir = await fixtureApp(work, { extra: 'two' });
    expect((await upload(pack(dir), '1.1.0')).status).toBe(201);
    const other = await upload(craftTar(goodEntries), '0.1.0');
    expect(other.status).toBe(201);

    const all = await t.request('GET', '/api/v1/releases');
    expect(all.body.releases.map((r: any) => `${r.app} ${r.version}`)).toEqual([
      'crafted 0.1.0',
      'fixture 1.0.0',
      'fixture 1.1.0',
    ]);
    const fixture = await t.request('GET', '/api/v1/releases?app=fixture');
    expect(fixture.body.releases).toHaveLength(2);
    const shown = await t.request('GET', '/api/v1/releases/fixture/1.1.0');
    expect(shown.status).toBe(200);
    expect(shown.body.definition.name).toBe('fixture');
    const missing = await t.request('GET', '/api/v1/releases/fixture/9.9.9');
    expect(missing.status).toBe(404);
    expect(missing.body.message).toContain('steward release list');

    const removed = await t.request('DELETE', '/api/v1/releases/crafted/0.1.0');
    expect(removed.status).toBe(200);
    expect(existsSync(join(releasesDir, 'crafted', '0.1.0'))).toBe(false);
    expect(await releaseRows('crafted')).toEqual([]);
    expect((await t.request('DELETE', '/api/v1/releases/crafted/0.1.0')).status).toBe(404);
  });

  it('refuses to remove a release that a stage is deploying or runs', async () => {
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['dev'] });
    expect(created.status).toBe(201);
    const [stage] = await t.query<{ id: string }>(
      "select s.id from stages s join tenants t on t.id = s.tenant_id where t.slug = 'acme' and s.name = 'dev'",
      [],
      t.controlDatabase,
    );
    const [release] = await t.query<{ id: string }>(
      "select id from releases where app = 'fixture' and version = '1.1.0'",
      [],
      t.controlDatabase,
    );
    await t.query(
      "insert into deployments (stage_id, release_id, status, actor) values ($1, $2, 'active', 'operator:test')",
      [stage?.id, release?.id],
      t.controlDatabase,
    );
    const refused = await t.request('DELETE', '/api/v1/releases/fixture/1.1.0');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain('acme/dev (active)');
    expect(existsSync(join(releasesDir, 'fixture', '1.1.0', 'steward.yaml'))).toBe(true);
    expect(await releaseRows('fixture')).toHaveLength(2);

    for (const status of ['pending', 'migrating', 'starting']) {
      await t.query(
        'update deployments set status = $1 where release_id = $2',
        [status, release?.id],
        t.controlDatabase,
      );
      expect((await t.request('DELETE', '/api/v1/releases/fixture/1.1.0')).status).toBe(409);
    }
    await t.query(
      "update deployments set status = 'superseded', finished_at = now() where release_id = $1",
      [release?.id],
      t.controlDatabase,
    );
    const removed = await t.request('DELETE', '/api/v1/releases/fixture/1.1.0');
    expect(removed.status).toBe(200);
    expect(existsSync(join(releasesDir, 'fixture', '1.1.0'))).toBe(false);
  });

  it('records every add and remove as an audit event, and not the refused or repeated ones', async () => {
    const adds = await t.request('GET', '/api/v1/audit?action=release.add');
    expect(adds.body.events.map((e: any) => e.target)).toEqual([
      'release/fixture/1.0.0',
      'release/big/1.0.0',
      'release/fixture/1.1.0',
      'release/crafted/0.1.0',
    ]);
    expect(adds.body.events[0].actor).toBe('operator:admin');
    expect(adds.body.events[0].details.checksum).toMatch(/^sha256:/);
    const removes = await t.request('GET', '/api/v1/audit?action=release.remove');
    expect(removes.body.events.map((e: any) => e.target)).toEqual([
      'release/big/1.0.0',
      'release/crafted/0.1.0',
      'release/fixture/1.1.0',
    ]);
    expect(removes.body.events[2].details.finishedDeployments).toBe(1);
    expect((await t.request('GET', '/api/v1/audit/verify')).body.ok).toBe(true);
  });

  it('lets auditors read releases but not add or remove them', async () => {
    const issued = await t.request('POST', '/api/v1/tokens', { name: 'reader', role: 'auditor' });
    const reader = issued.body.token as string;
    expect((await t.request('GET', '/api/v1/releases', undefined, reader)).status).toBe(200);
    expect((await upload(craftTar(goodEntries), '0.2.0', reader)).status).toBe(403);
    expect((await t.request('DELETE', '/api/v1/releases/fixture/1.0.0', undefined, reader)).status).toBe(403);
  });

  it('cleans what a crash left: temporary directories and files of a release never recorded', async () => {
    const tmp = join(releasesDir, '.tmp');
    await mkdir(join(tmp, '999999999-deadbeef', 'src'), { recursive: true });
    await writeFile(join(tmp, '999999999-deadbeef', 'src', 'half.js'), 'half');
    await mkdir(join(tmp, `${process.pid}-stale`), { recursive: true });
    // As if the process died between the rename and the commit.
    await mkdir(join(releasesDir, 'fixture', '2.0.0'), { recursive: true });
    await writeFile(join(releasesDir, 'fixture', '2.0.0', 'leftover.txt'), 'x');

    const dir = await fixtureApp(work, { extra: 'three' });
    const added = await upload(pack(dir), '2.0.0');
    expect(added.status).toBe(201);
    expect(await readdir(tmp)).toEqual([]);
    expect(existsSync(join(releasesDir, 'fixture', '2.0.0', 'leftover.txt'))).toBe(false);
    expect(existsSync(join(releasesDir, 'fixture', '2.0.0', 'built.txt'))).toBe(true);
  });
});
