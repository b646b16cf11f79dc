import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { AlertView } from '../../src/alerts/contract.ts';
import type { TestSteward } from '../harness/steward.ts';
import { packRelease } from '../harness/ledger.ts';
import { eventually } from '../cli/process.ts';

/** The app whose /api/ping can wedge while /healthz keeps answering (test/fixtures/wedge/app.ts). */
export const wedgeDir = join(import.meta.dirname, '..', 'fixtures', 'wedge');

/** Polls every 100 ms until `probe` gives a value (test/cli/process.ts's eventually). */
export function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  return eventually(what, probe, timeoutMs, 100);
}

/** Creates the tenant with these stages and deploys the wedge app to each. */
export async function deployWedge(
  t: TestSteward,
  tenant: string,
  stages: readonly string[] = ['prod'],
): Promise<void> {
  const created = await t.request('POST', '/api/v1/tenants', { slug: tenant, stages });
  expect(created.status, created.text).toBeLessThan(300);
  await t.waitForStages(tenant);
  const upload = await t.api.inject({
    method: 'POST',
    url: '/api/v1/releases?version=1.0.0',
    headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/gzip' },
    payload: packRelease(wedgeDir),
  });
  expect(upload.statusCode, upload.body).toBeLessThan(300);
  for (const stage of stages) {
    const started = await t.request('POST', `/api/v1/tenants/${tenant}/stages/${stage}/deployments`, {
      version: '1.0.0',
    });
    expect(started.status, started.text).toBe(202);
    await until(
      'the deployment',
      async () => {
        const res = await t.request('GET', `/api/v1/deployments/${started.body.id}`);
        if (res.body.status === 'failed') throw new Error(res.text);
        return res.body.status === 'active' ? true : undefined;
      },
      90_000,
    );
  }
}

/** The stage's web process as the runtime sees it. */
export async function webProcess(
  t: TestSteward,
  tenant: string,
  stage = 'prod',
): Promise<{ pid: number; port: number; restarts: number }> {
  return until('a running web process', async () => {
    const [view] = await t.services.runtimeView.ps(tenant, stage);
    const web = view?.processes.find((p) => p.process === 'web' && p.release === view.release);
    return web?.pid && web.port && web.healthy
      ? { pid: web.pid, port: web.port, restarts: web.restarts }
      : undefined;
  });
}

/** Sends a signal to the app's node process (the supervised pid may be bubblewrap around it). */
export async function signalApp(rootPid: number, signal: NodeJS.Signals): Promise<void> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const all = [rootPid];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i] as number) ?? []));
  let sent = 0;
  for (const pid of all) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes('app.ts') && cmdline.split('\0')[0]?.endsWith('node')) {
      process.kill(pid, signal);
      sent += 1;
    }
  }
  expect(sent, `the node process under pid ${rootPid}`).toBe(1);
}

/** GET /api/ping on the process's own port: its answer, or "hangs" after timeoutMs. */
export function ping(port: number, timeoutMs = 700): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/ping', timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve('hangs');
    });
    req.on('error', (error) => resolve(`error: ${error.message}`));
    req.end();
  });
}

/** An alert as the alert service hands it to the healer (plain data: the Healer contract's input). */
export function alertOf(id: string, over: Partial<AlertView> = {}): AlertView {
  return {
    id,
    rule: 'stage-down',
    source: 'check',
    dedupKey: `check:${id}`,
    groupKey: 'acme/prod',
    tenant: 'acme',
    stage: 'prod',
    severity: 'critical',
    status: 'pending',
    summary: 'GET /api/ping timed out',
    details: {},
    flapping: false,
    mutedBy: null,
    startedAt: new Date().toISOString(),
    firedAt: null,
    firstNotifiedAt: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    resolveNote: null,
    ...over,
  };
}
