import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDefinitionJsonSchema } from '../../src/runtime/app-definition.ts';
import type { AddedRelease, ReleaseView } from '../../src/runtime/releases.ts';
import { cleanUp, cli, cliJson, makeDataDir, spawnUp, waitForOutput, type UpProcess } from './process.ts';

/** `steward release …` and `steward app schema` as a user runs them, against a real `steward up`. */
describe('steward release and app schema', () => {
  let dataDir: string;
  let up: UpProcess;
  let work: string;
  let app: string;

  beforeAll(async () => {
    dataDir = await makeDataDir();
    work = await mkdtemp(join(tmpdir(), 'steward-cli-release-'));
    app = join(work, 'app');
    await mkdir(join(app, 'src'), { recursive: true });
    await writeFile(
      join(app, 'steward.yaml'),
      "name: clitest\nprocesses:\n  web:\n    command: node src/server.js\n    port: true\nhealth:\n  path: /healthz\nbuild:\n  command: node -e \"require('fs').writeFileSync('built', 'yes')\"\n",
    );
    await writeFile(join(app, 'src', 'server.js'), 'console.log(1);\n');
    up = spawnUp(dataDir);
    await waitForOutput(up, 'Press Ctrl-C to stop.');
  }, 180_000);

  afterAll(async () => {
    await cleanUp(dataDir, up);
    await rm(work, { recursive: true, force: true });
  }, 120_000);

  it('adds a directory, then the same again, and a .tar.gz file', async () => {
    const added = await cliJson<AddedRelease>(dataDir, ['release', 'add', app, '--version', '1.0.0']);
    expect(added).toMatchObject({ app: 'clitest', version: '1.0.0', created: true });
    expect(existsSync(join(added.path, 'built'))).toBe(true);
    const again = await cli(dataDir, ['release', 'add', app, '--version', '1.0.0']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already there with the same content');
    const archive = join(work, 'app.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', app, '.']);
    const fromFile = await cli(dataDir, ['release', 'add', archive, '--version', '1.0.1']);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toMatch(/release clitest 1\.0\.1 added \(sha256:/);
  });

  it('lists and shows releases, as tables and as JSON', async () => {
    const list = await cliJson<ReleaseView[]>(dataDir, ['release', 'list', '--app', 'clitest']);
    expect(list.map((r) => r.version)).toEqual(['1.0.0', '1.0.1']);
    const table = await cli(dataDir, ['release', 'list']);
    expect(table.stdout).toMatch(/^APP\s+VERSION\s+CHECKSUM/);
    const shown = await cli(dataDir, ['release', 'show', 'clitest', '1.0.0']);
    expect(shown.stdout).toContain('release clitest 1.0.0');
    expect(shown.stdout).toContain('/healthz every 2 s');
    expect(shown.stdout).toMatch(/web\s+node src\/server\.js\s+yes\s+1/);
  });

  it('fails with the line and field of a bad steward.yaml, as text and as JSON', async () => {
    const bad = join(work, 'bad');
    await mkdir(bad);
    await writeFile(join(bad, 'steward.yaml'), 'name: bad\nprocesses:\n  web:\n    comand: x\n');
    const result = await cli(dataDir, ['release', 'add', bad, '--version', '1.0.0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('steward.yaml, line 4: unknown field "processes.web.comand"');
    const json = await cli(dataDir, ['-o', 'json', 'release', 'add', bad, '--version', '1.0.0']);
    expect(JSON.parse(json.stdout).error.field).toBe('processes.web.comand');
    const missing = await cli(dataDir, ['release', 'add', join(work, 'nowhere'), '--version', '1.0.0']);
    expect(missing.stderr).toContain('does not exist');
  });

  it('removes a release with --yes', async () => {
    const removed = await cliJson<ReleaseView>(dataDir, ['release', 'remove', 'clitest', '1.0.1', '--yes']);
    expect(removed.version).toBe('1.0.1');
    expect(existsSync(removed.path)).toBe(false);
    const gone = await cli(dataDir, ['release', 'show', 'clitest', '1.0.1']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('does not exist');
  });

  it('prints the JSON schema of steward.yaml', async () => {
    const schema = await cliJson<unknown>(dataDir, ['app', 'schema']);
    expect(schema).toEqual(appDefinitionJsonSchema());
  });
});
