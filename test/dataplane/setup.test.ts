import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readEnvironment } from '../../src/core/env.ts';
import { checkHaproxyInstalled } from '../../src/dataplane/layout.ts';
import { up } from '../../src/up.ts';
import { silentLogger } from '../harness/steward.ts';

/** Without HAProxy, `steward up` stops before it starts anything, and says which package to install. */
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('steward up without HAProxy', () => {
  it('stops with a message naming the Debian package and bin/setup, having started nothing', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'st-nohap-'));
    dirs.push(dataDir);
    await chmod(dataDir, 0o711);
    const missing = join(dataDir, 'no-such-haproxy');
    await expect(
      up({ dataDir, env: readEnvironment({}), haproxyBinary: missing, logger: silentLogger }),
    ).rejects.toThrow(
      /HAProxy is not installed \(.*no-such-haproxy is missing\).*apt-get install haproxy.*bin\/setup/,
    );
    // No PostgreSQL cluster, no data plane, and the data dir's lock released.
    expect(existsSync(join(dataDir, 'pg'))).toBe(false);
    expect(existsSync(join(dataDir, 'dataplane'))).toBe(false);
    expect(existsSync(join(dataDir, 'steward.pid'))).toBe(false);
    // The machine's own HAProxy passes the same check.
    expect(() => checkHaproxyInstalled()).not.toThrow();
  });
});
