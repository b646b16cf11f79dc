import { randomBytes } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiClient } from '../../src/cli/client.ts';
import type { NodeView } from '../../src/cluster/index.ts';
import {
  bootstrapControlDatabase,
  replaceDatabase,
  withCredentials,
} from '../../src/databases/local-cluster.ts';
import { appPassword, dropTestInstance } from '../harness/steward.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../notifications/receivers.ts';
import {
  cleanUp,
  cli,
  eventually,
  makeDataDir,
  processesOf,
  startUpJson,
  type UpProcess,
} from '../cli/process.ts';

/**
 * Two real `steward up` processes (nodes a and b) on one control database;
 * a, which holds the operations lease, is killed with SIGKILL. b takes the
 * lease within ttl + one renew interval, and nothing is lost: the checks
 * keep being probed, a job queued just before the kill runs, and an alert
 * raised on a just before the kill is told (a notification goes out) by b.
 */
const leaseSeconds = 2;
const renewMs = (leaseSeconds * 1000) / 3;

interface CheckView {
  readonly builtin: string | null;
  readonly lastResult: { readonly at: string } | null;
}

describe('kill -9 of the node that holds the operations lease', () => {
  const superuserUrl = inject('pgSuperuserUrl');
  const id = randomBytes(3).toString('hex');
  const database = `nodes_${id}`;
  const prefix = `n${id.slice(0, 5)}_`;
  const dirs: string[] = [];
  const ups: UpProcess[] = [];
  let hook: WebhookReceiver;
  const env = (): Record<string, string> => {
    const adminUrl = replaceDatabase(superuserUrl, database);
    return {
      STEWARD_DATABASE_URL: withCredentials(adminUrl, 'steward_app', appPassword),
      STEWARD_DATABASE_ADMIN_URL: adminUrl,
      STEWARD_SHARED_CLUSTER_URL: superuserUrl,
    };
  };

  async function node(name: string): Promise<{ dir: string; up: UpProcess; api: ApiClient }> {
    const dir = await makeDataDir();
    dirs.push(dir);
    const runtime = await readFile(join(dir, 'steward.yaml'), 'utf8');
    await writeFile(
      join(dir, 'steward.yaml'),
      `${runtime}instancePrefix: ${prefix}
node: { name: ${name}, leaseSeconds: ${leaseSeconds} }
gateway: { port: 0, httpPort: 0 }
backups: { enabled: false }
monitoring: { intervalSeconds: 1, tickMs: 200, timeoutMs: 800 }
alerts: { groupWaitSeconds: 1, passSeconds: 0.2 }
notifications: { pollSeconds: 0.2, timeoutSeconds: 1 }
`,
    );
    // One install: every node opens the secrets with the same master key.
    if (dirs.length > 1) await copyFile(join(dirs[0] ?? '', 'master.key'), join(dir, 'master.key'));
    const { up, ready } = await startUpJson(dir, env());
    ups.push(up);
    const client = JSON.parse(await readFile(ready.clientFile, 'utf8')) as ConstructorParameters<
      typeof ApiClient
    >[0];
    return { dir, up, api: new ApiClient(client) };
  }

  beforeAll(async () => {
    await bootstrapControlDatabase(superuserUrl, database, appPassword, { template: 'steward_template' });
    hook = await startWebhookReceiver();
  });

  afterAll(async () => {
    for (const [i, dir] of dirs.entries()) await cleanUp(dir, ups[i]);
    await hook?.close();
    await dropTestInstance(superuserUrl, database, prefix);
  }, 120_000);

  it('b takes the lease within ttl + renew; checks, a queued job and a notification carry on', async () => {
    const a = await node(`a-${id}`);
    const b = await node(`b-${id}`);
    const nodes = (): Promise<NodeView[]> =>
      b.api.get<{ nodes: NodeView[] }>('/api/v1/nodes').then((r) => r.nodes);
    const holder = async (): Promise<string | undefined> =>
      (await nodes()).find((n) => n.leases.includes('operations'))?.name;
    expect(await holder()).toBe(`a-${id}`);

    // A tenant (its built-in checks probed by a, the holder) and a webhook channel for alerts.
    await a.api.post('/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
    const probedAt = async (): Promise<number> => {
      const { checks } = await b.api.get<{ checks: CheckView[] }>('/api/v1/tenants/acme/checks');
      const at = checks.find((c) => c.builtin === 'database')?.lastResult?.at;
      return at ? Date.parse(at) : 0;
    };
    await eventually(
      'the database check probed',
      async () => ((await probedAt()) > 0 ? true : undefined),
      60_000,
      200,
    );
    const channel = await cli(a.dir, ['notify', 'channel', 'add', 'webhook', hook.url, '--name', 'ops']);
    expect(channel.code, channel.stderr).toBe(0);

    // Just before the kill: a job queued (a tenant's stage to make) and an alert a has not told yet (group wait 1 s).
    await a.api.post('/api/v1/tenants', { slug: 'beta', stages: ['prod'] });
    const fingerprint = `kill-${id}`;
    await a.api.post('/api/alerts/alertmanager', {
      version: '4',
      groupKey: fingerprint,
      status: 'firing',
      receiver: 'steward',
      groupLabels: {},
      commonLabels: {},
      commonAnnotations: {},
      externalURL: 'http://alertmanager.invalid',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'NodeKillTest', severity: 'critical' },
          annotations: { summary: `raised on a before its kill ${id}` },
          startsAt: new Date().toISOString(),
          fingerprint,
        },
      ],
    });
    a.up.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await a.up.exited).toEqual({ code: null, signal: 'SIGKILL' });

    await eventually(
      'b holds the lease',
      async () => ((await holder()) === `b-${id}` ? true : undefined),
      20_000,
      50,
    );
    const tookMs = Date.now() - killedAt;
    // a renewed at most one renew interval before its death: the lease ran out ttl later, b's next round took it.
    // (1.5 s for the polling and a loaded machine.)
    expect(tookMs).toBeLessThan(leaseSeconds * 1000 + renewMs + 1500);

    await eventually(
      'a check probed by b',
      async () => ((await probedAt()) > killedAt ? true : undefined),
      20_000,
      200,
    );
    await eventually(
      'the queued job ran: beta is ready',
      async () => {
        const beta = await b.api.get<{ stages: { phase: string }[] }>('/api/v1/tenants/beta');
        return beta.stages.every((s) => s.phase === 'ready') ? true : undefined;
      },
      60_000,
      250,
    );
    await eventually(
      'the alert told through the webhook',
      () =>
        Promise.resolve(
          hook.requests.some((r) => r.body.includes(`raised on a before its kill ${id}`)) || undefined,
        ),
      30_000,
      100,
    );

    const listed = await cli(b.dir, ['node', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`^b-${id} +https://127\\.0\\.0\\.1:\\d+ +\\S+ +\\d+\\.\\d s ago +live +operations$`, 'm'),
    );
    expect(listed.stdout).toMatch(
      new RegExp(`^a-${id} +https://127\\.0\\.0\\.1:\\d+ +\\S+ +\\d+\\.\\d s ago +(late|gone) +-$`, 'm'),
    );
    process.stdout.write(
      `node list after the kill (b took the lease ${tookMs} ms after it):\n${listed.stdout}`,
    );
    // Nothing of a runs on: its steward up is gone (its HAProxy is cleaned up after).
    expect((await processesOf(a.dir)).filter((p) => p.cmdline.includes(' up '))).toEqual([]);
  }, 240_000);
});
