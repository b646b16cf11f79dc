import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '../cli/client.ts';
import type { ApplianceNode, ApplianceSettings } from './config.ts';
import { controlMemberRoles, unhealthyBecause } from './members.ts';
import { ConflictError } from '../core/errors.ts';
import { killNode } from './node-kill.ts';

/**
 * `steward drill node-loss`: one node of the appliance dies whole (SIGKILL
 * of all its processes, node-kill.ts) and the drill measures, as a client of
 * the surviving nodes, how long until their API answers again and until
 * every tenant that served before serves again through every surviving
 * gateway; and that nothing in flight was lost: a job queued just before the
 * kill (a probe tenant's provisioning) runs, checks keep producing results,
 * and a notification pending across the kill is delivered. It runs on the
 * machine of the node it kills (the node's own data dir names what to
 * kill); everything else it does goes through the other nodes' API and
 * gateways.
 */

export interface NodeLossOptions {
  readonly appliance: ApplianceSettings;
  /** The node to lose: its name and its data dir on this machine. */
  readonly victim: { readonly name: string; readonly dataDir: string };
  /** The appliance's CA and an operator's token (any node's client.json). */
  readonly ca: string;
  readonly token: string;
  readonly baseDomain: string;
  /** How long to wait for each recovery (default 180 s). */
  readonly timeoutMs?: number;
  readonly progress?: (message: string) => void;
}

export interface NodeLossResult {
  readonly node: string;
  readonly killedAt: string;
  readonly processesKilled: number;
  /** Seconds from the kill until each surviving node's API answered a request that reads the control database. */
  readonly apiSeconds: Readonly<Record<string, number | null>>;
  /** Until the last of them answered: the control plane is back. */
  readonly controlPlaneSeconds: number | null;
  /** Until every tenant that served before served again through every surviving gateway. */
  readonly servingSeconds: number | null;
  readonly tenants: readonly string[];
  readonly job: { readonly tenant: string; readonly ranSeconds: number | null };
  /** The tenants' checks, and their newest result before and after the kill (none after: checks stopped). */
  readonly checks: {
    readonly count: number;
    readonly newestBefore: string | null;
    readonly newestAfter: string | null;
  };
  /** Notifications pending (not yet delivered) when the node died, and how many of them were delivered after. */
  readonly notifications: { readonly pending: readonly string[]; readonly delivered: number };
  /** The control database's leader before the kill and after it (node names). */
  readonly oldLeader: string | null;
  readonly newLeader: string | null;
  readonly durationSeconds: number;
  /** Nothing lost: the job ran, checks went on, the pending notifications went out. */
  readonly lost: { readonly jobs: number; readonly checks: number; readonly notifications: number };
}

interface TenantListView {
  readonly tenants: readonly { slug: string; stages: readonly { name: string; phase: string }[] }[];
}
interface ChecksView {
  readonly checks: readonly { lastResult: { at: string } | null }[];
}

export async function runNodeLossDrill(o: NodeLossOptions): Promise<NodeLossResult> {
  const say = o.progress ?? (() => undefined);
  const timeoutMs = o.timeoutMs ?? 180_000;
  const survivors = o.appliance.nodes.filter((n) => n.name !== o.victim.name);
  const first = survivors[0];
  if (!first || survivors.length === o.appliance.nodes.length) {
    throw new Error(`node ${o.victim.name} is not one of the appliance's nodes`);
  }
  const client = (node: ApplianceNode): ApiClient =>
    new ApiClient({ apiUrl: apiUrl(node), ca: o.ca, token: o.token });

  // A drill starts from a healthy cluster: a second loss while a member still rejoins is another drill.
  const members = controlMemberRoles(o.appliance);
  let unhealthy: string | undefined = 'not asked yet';
  const healthyBy = Date.now() + timeoutMs;
  while (unhealthy !== undefined && Date.now() < healthyBy) {
    unhealthy = unhealthyBecause(o.appliance, await members.roles());
    if (unhealthy !== undefined) await sleep(500);
  }
  if (unhealthy !== undefined) {
    throw new ConflictError(
      `the control database is not ready to lose a node (${unhealthy}); nothing was killed`,
    );
  }
  // Before: what serves, the newest check result, and a job queued just before the kill.
  const { tenants } = await client(first).get<TenantListView>('/api/v1/tenants');
  const serving: string[] = [];
  for (const tenant of tenants) {
    if (!tenant.stages.some((s) => s.name === 'prod')) continue;
    if (await serves(first, `prod.${tenant.slug}.${o.baseDomain}`, o.ca)) serving.push(tenant.slug);
  }
  const slugs = tenants.map((t) => t.slug);
  const before = await checksOf(client(first), slugs);
  const pending = (await notificationLog(client(first)))
    .filter((n) => n.status === 'pending')
    .map((n) => n.id);
  const probe = `drill-${Date.now().toString(36)}`;
  await client(first).post('/api/v1/tenants', { slug: probe, stages: ['dev'] });
  say(
    `${serving.length} tenant(s) serve, ${before.count} check(s), ${pending.length} notification(s) pending; probe tenant ${probe} queued; killing node ${o.victim.name}`,
  );

  const oldLeader = leaderOf(await members.roles());
  const killedAt = Date.now();
  const killed = await killNode(o.victim.dataDir);
  const seconds = (): number => Math.round((Date.now() - killedAt) / 100) / 10;
  say(`node ${o.victim.name}: ${killed.length} processes killed`);

  const deadline = killedAt + timeoutMs;
  const apiSeconds: Record<string, number | null> = {};
  const servedAgain = new Set<string>();
  let servingSeconds: number | null = serving.length === 0 ? 0 : null;
  const pendingApi = new Set(survivors.map((n) => n.name));
  while (Date.now() < deadline && (pendingApi.size > 0 || servingSeconds === null)) {
    await Promise.all(
      survivors.map(async (node) => {
        if (pendingApi.has(node.name) && (await answers(client(node)))) {
          apiSeconds[node.name] = seconds();
          pendingApi.delete(node.name);
          say(`API on ${node.name} answers after ${seconds()} s`);
        }
        for (const slug of serving) {
          const key = `${node.name}/${slug}`;
          if (!servedAgain.has(key) && (await serves(node, `prod.${slug}.${o.baseDomain}`, o.ca)))
            servedAgain.add(key);
        }
      }),
    );
    if (servingSeconds === null && servedAgain.size === serving.length * survivors.length) {
      servingSeconds = seconds();
      say(`every tenant serves through every surviving gateway after ${servingSeconds} s`);
    }
    await sleep(200);
  }
  for (const node of pendingApi) apiSeconds[node] = null;
  const answered = Object.values(apiSeconds);
  const controlPlaneSeconds = answered.every((s) => s !== null) ? Math.max(...answered) : null;

  // After: the probe's job ran, checks went on, the pending notifications went out.
  const api = client(first);
  const ranSeconds = await until(deadline, async () => {
    const view = await api
      .get<TenantListView['tenants'][number]>(`/api/v1/tenants/${probe}`)
      .catch(() => undefined);
    return view?.stages.every((s) => s.phase === 'ready') ? seconds() : undefined;
  });
  const newestAfter = await until(deadline, async () => {
    const { newest } = await checksOf(api, slugs).catch(() => ({ newest: null }));
    return newest !== null && Date.parse(newest) > killedAt ? newest : undefined;
  });
  const delivered = await until(deadline, async () => {
    const log = await notificationLog(api).catch(() => []);
    const done = log.filter((n) => pending.includes(n.id) && n.status === 'delivered').length;
    return done === pending.length ? done : undefined;
  });
  const deliveredCount =
    delivered ??
    (await notificationLog(api).catch(() => [])).filter(
      (n) => pending.includes(n.id) && n.status === 'delivered',
    ).length;
  await api.delete(`/api/v1/tenants/${probe}`).catch(() => undefined);
  const newLeader = leaderOf(await members.roles());
  return {
    node: o.victim.name,
    killedAt: new Date(killedAt).toISOString(),
    processesKilled: killed.length,
    apiSeconds,
    controlPlaneSeconds,
    servingSeconds,
    tenants: serving,
    job: { tenant: probe, ranSeconds: ranSeconds ?? null },
    checks: { count: before.count, newestBefore: before.newest, newestAfter: newestAfter ?? null },
    notifications: { pending, delivered: deliveredCount },
    oldLeader,
    newLeader,
    durationSeconds: seconds(),
    lost: {
      jobs: ranSeconds === undefined ? 1 : 0,
      checks: newestAfter === undefined && before.count > 0 ? 1 : 0,
      notifications: pending.length - deliveredCount,
    },
  };
}

async function notificationLog(api: ApiClient): Promise<{ id: string; status: string }[]> {
  const { notifications } = await api.get<{ notifications: { id: string; status: string }[] }>(
    '/api/v1/notifications?limit=500',
  );
  return notifications;
}

function leaderOf(roles: ReadonlyMap<string, string>): string | null {
  return [...roles].find(([, role]) => role.startsWith('leader'))?.[0] ?? null;
}

export function apiUrl(node: ApplianceNode): string {
  return `https://${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.apiPort}`;
}

async function answers(api: ApiClient): Promise<boolean> {
  try {
    await api.send('GET', '/api/v1/tenants', { timeoutMs: 2000 });
    return true;
  } catch {
    return false;
  }
}

async function checksOf(
  api: ApiClient,
  tenants: readonly string[],
): Promise<{ count: number; newest: string | null }> {
  let newest: string | null = null;
  let count = 0;
  for (const tenant of tenants) {
    const { checks } = await api.get<ChecksView>(`/api/v1/tenants/${tenant}/checks`);
    count += checks.length;
    for (const check of checks) {
      const at = check.lastResult?.at;
      if (at && (newest === null || Date.parse(at) > Date.parse(newest))) newest = at;
    }
  }
  return { count, newest };
}

/** A stage serves through a node's gateway when its app answers (HAProxy's own 503 for no servers does not count). */
export function serves(node: ApplianceNode, host: string, ca: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: node.host,
        port: node.gatewayPort,
        path: '/',
        method: 'GET',
        servername: host,
        headers: { host, connection: 'close' },
        ca,
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 500);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function until<T>(deadline: number, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(250);
  }
  return undefined;
}
