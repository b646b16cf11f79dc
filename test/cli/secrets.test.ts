import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { cli, makeDataDir } from './process.ts';

/**
 * The CLI takes no secret on its command line: passwords and tokens come from
 * stdin, the environment or a prompt. The real bin/steward against a test
 * Steward's API.
 */
describe('secrets and the CLI', () => {
  let t: TestSteward;
  let dataDir: string;
  const session = (name: string): string[] => ['--session-file', join(dataDir, `${name}-session.json`)];

  beforeAll(async () => {
    t = await startTestSteward({ workers: false });
    dataDir = await makeDataDir();
    await mkdir(join(dataDir, 'home'), { recursive: true });
    const { port } = t.api.server.address() as AddressInfo;
    await writeFile(
      join(dataDir, 'client.json'),
      JSON.stringify({ apiUrl: `http://127.0.0.1:${port}`, token: t.token }),
      { mode: 0o600 },
    );
  });
  afterAll(async () => {
    await t?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const loginEvents = async (): Promise<number> =>
    Number(
      (
        await t.query<{ n: string }>(
          "select count(*) as n from audit_events where action = 'operator.login'",
          [],
          t.controlDatabase,
        )
      )[0]?.n,
    );

  it.each([
    [['--token', 'stw_secret-on-the-line', 'tenant', 'list'], '--token', 'STEWARD_TOKEN'],
    [['tenant', 'list', '--token', 'stw_secret-on-the-line'], '--token', 'STEWARD_TOKEN'],
    [['login', '-u', 'admin', '--password', 'secret-on-the-line'], '--password', '--password-stdin'],
    [
      ['login', '-u', 'admin', '--password-stdin', '--new-password', 'secret-on-the-line'],
      '--new-password',
      '--change-password',
    ],
    [
      ['login', '-u', 'admin', '--password-stdin', '--recovery-code', 'secret-on-the-line'],
      '--recovery-code',
      '--recovery',
    ],
  ])('refuses %j before sending anything, and says what to use instead', async (args, flag, instead) => {
    const before = await loginEvents();
    const result = await cli(dataDir, args, { input: 'x\n' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`error: ${flag} is not accepted`);
    expect(result.stderr).toContain(instead);
    expect(result.stderr + result.stdout).not.toContain('secret-on-the-line');
    expect(await loginEvents()).toBe(before);
  });

  it('reads the password, and the new one for a one-time password, from stdin', async () => {
    const added = await t.request('POST', '/api/v1/operators', { username: 'cleo', role: 'operator' });
    expect(added.status).toBe(201);
    const oneTime = added.body.password as string;
    const refused = await cli(dataDir, [...session('cleo'), 'login', '-u', 'cleo', '--password-stdin'], {
      input: `${oneTime}\n`,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--change-password');

    const missing = await cli(
      dataDir,
      [...session('cleo'), 'login', '-u', 'cleo', '--password-stdin', '--change-password'],
      { input: `${oneTime}\n` },
    );
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('stdin ended before the new password');

    const changed = await cli(
      dataDir,
      [...session('cleo'), '-o', 'json', 'login', '-u', 'cleo', '--password-stdin', '--change-password'],
      { input: `${oneTime}\ncleo-chose-a-new-one\n` },
    );
    expect(changed.code, changed.stderr).toBe(0);
    const file = JSON.parse(await readFile(join(dataDir, 'cleo-session.json'), 'utf8')) as { token: string };
    expect((await t.request('GET', '/api/v1/auth/whoami', undefined, file.token)).body.username).toBe('cleo');

    // steward password: the current and the new one from stdin; the session in use stays.
    const other = await cli(dataDir, [...session('cleo-other'), 'login', '-u', 'cleo', '--password-stdin'], {
      input: 'cleo-chose-a-new-one\n',
    });
    expect(other.code, other.stderr).toBe(0);
    const password = await cli(dataDir, [...session('cleo'), 'password', '--password-stdin'], {
      input: 'cleo-chose-a-new-one\ncleo-changed-it-again\n',
    });
    expect(password.code, password.stderr).toBe(0);
    expect((await cli(dataDir, [...session('cleo'), 'tenant', 'list'])).code).toBe(0);
    const ended = await cli(dataDir, [...session('cleo-other'), 'tenant', 'list']);
    expect(ended.code).not.toBe(0);
    expect(ended.stderr).toMatch(/expired or revoked/);
  });

  it('takes the token and the password from the environment, and asks for nothing without a terminal', async () => {
    const issued = await t.request('POST', '/api/v1/tokens', { name: 'from-env', role: 'auditor' });
    expect(issued.status).toBe(201);
    const noSession = ['--session-file', join(dataDir, 'none.json'), '--data-dir', join(dataDir, 'nowhere')];
    const { port } = t.api.server.address() as AddressInfo;
    const env = { STEWARD_API_URL: `http://127.0.0.1:${port}`, STEWARD_TOKEN: issued.body.token as string };
    const whoami = await cli(dataDir, [...noSession, '-o', 'json', 'operator', 'list'], { env });
    expect(whoami.code, whoami.stderr).toBe(0);
    const denied = await cli(dataDir, [...noSession, 'tenant', 'create', 'nope', '--no-wait'], { env });
    expect(denied.stderr).toMatch(/role auditor may not/);

    await t.request('POST', '/api/v1/operators', {
      username: 'dora',
      role: 'auditor',
      password: 'dora-password-123',
    });
    const fromEnv = await cli(dataDir, [...session('dora'), 'login', '-u', 'dora'], {
      env: { STEWARD_PASSWORD: 'dora-password-123' },
    });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    const noTerminal = await cli(dataDir, [...session('dora'), 'login', '-u', 'dora']);
    expect(noTerminal.code).not.toBe(0);
    expect(noTerminal.stderr).toContain('the password needs a terminal to ask on; set STEWARD_PASSWORD');
  });
});
