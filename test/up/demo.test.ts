import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readEnvironment } from '../../src/core/env.ts';
import { createLogger } from '../../src/core/logger.ts';
import {
  bootstrapControlDatabase,
  replaceDatabase,
  withCredentials,
} from '../../src/databases/local-cluster.ts';
import { up, type RunningSteward } from '../../src/up.ts';
import { appPassword, dropTestInstance, testUidBase } from '../harness/steward.ts';

describe('the demo of a first start', () => {
  const superuserUrl = inject('pgSuperuserUrl');
  const id = randomBytes(3).toString('hex');
  const database = `demo_${id}`;
  const prefix = `d${id.slice(0, 5)}_`;
  let dataDir: string;
  let running: RunningSteward;

  beforeAll(async () => {
    await bootstrapControlDatabase(superuserUrl, database, appPassword, { template: 'steward_template' });
    dataDir = await mkdtemp(join(tmpdir(), 'steward-demo-'));
    await chmod(dataDir, 0o711);
    const adminUrl = replaceDatabase(superuserUrl, database);
    const messages: string[] = [];
    running = await up({
      dataDir,
      env: {
        ...readEnvironment({}),
        databaseUrl: withCredentials(adminUrl, 'steward_app', appPassword),
        databaseAdminUrl: adminUrl,
        sharedClusterUrl: superuserUrl,
      },
      overrides: {
        api: { port: 0 },
        instancePrefix: prefix,
        runtime: { uidBase: testUidBase(), uidCount: 1000 },
      },
      logger: createLogger('silent'),
      progress: (m) => messages.push(m),
      demo: true,
    });
    expect(messages).toContain('demo: deploying 1.0.0 to prod');
  }, 240_000);

  afterAll(async () => {
    await running?.stop();
    await dropTestInstance(superuserUrl, database, prefix);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs the sample app for tenant demo in dev, test and prod', async () => {
    expect(running.demo?.tenant).toBe('demo');
    expect(Object.keys(running.demo?.urls ?? {}).sort()).toEqual(['dev', 'prod', 'test']);
    for (const url of Object.values(running.demo?.urls ?? {})) {
      const response = await fetch(`${url}/healthz`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { release: string }).release).toBe('1.0.0');
    }
    const deployments = await running.steward.services.deployments.list('demo');
    expect(deployments.filter((d) => d.status === 'active')).toHaveLength(3);
  });
});
