import type { ServerStateRow } from './runtime-api.ts';

/**
 * The handover of a stage's app instances in HAProxy, as pure planners: what
 * HAProxy shows (`show servers state`) and what the runtime wants in, the
 * runtime API commands out. Each command is idempotent, and the planners ask
 * HAProxy again before every step, so a Steward killed between two commands
 * and restarted plans the rest from what it finds.
 */

/** An app instance's admin state in HAProxy (its operational state is always up: HAProxy runs no checks on it). */
export type AppServerAdmin = 'ready' | 'drain' | 'maint';

export interface AppServer {
  readonly port: number;
  readonly admin: AppServerAdmin;
  /** 0 after a reload rendered the instance as draining (`weight 0`): it takes nothing until its weight is back. */
  readonly weight: number;
  /** HAProxy counts it running (srv_op_state 2). */
  readonly running: boolean;
}

export type EndpointStep =
  | { readonly kind: 'add'; readonly port: number }
  | { readonly kind: 'ready'; readonly port: number }
  | { readonly kind: 'weight'; readonly port: number }
  | { readonly kind: 'drain'; readonly port: number }
  | { readonly kind: 'maint'; readonly port: number }
  | { readonly kind: 'delete'; readonly port: number };

/** The weight an app instance serves with (HAProxy's default for a server). */
export const servingWeight = 1;

/** HAProxy's srv_admin_state bits: forced, inherited, configured and DNS maintenance; forced and inherited drain. */
const maintBits = 0x01 | 0x02 | 0x04 | 0x20;
const drainBits = 0x08 | 0x10;

/** An app instance is a server named by its loopback port; the activator and others have other names. */
export function appServerName(port: number): string {
  return `p${port}`;
}

export function portOfAppServer(name: string): number | undefined {
  const match = /^p([1-9][0-9]{0,4})$/.exec(name);
  const port = Number(match?.[1]);
  return match && port <= 65_535 ? port : undefined;
}

/** The app instances among a backend's servers. */
export function appServers(rows: readonly ServerStateRow[]): AppServer[] {
  const servers: AppServer[] = [];
  for (const row of rows) {
    const port = portOfAppServer(row.server);
    if (port === undefined) continue;
    const admin = row.adminState & maintBits ? 'maint' : row.adminState & drainBits ? 'drain' : 'ready';
    servers.push({ port, admin, weight: row.weight, running: row.operationalState === 2 });
  }
  return servers;
}

/** Takes new requests: neither maintenance nor drain, and a weight. */
export function isServing(server: AppServer): boolean {
  return server.admin === 'ready' && server.weight > 0;
}

/**
 * The named ports take new requests; every other instance that does drains.
 * All ports come up before any other drains, so the stage never has a moment
 * with no instance (HAProxy would send that moment's requests to the activator).
 */
export function planServe(observed: readonly AppServer[], ports: readonly number[]): EndpointStep[] {
  const up: EndpointStep[] = [];
  const down: EndpointStep[] = [];
  for (const port of new Set(ports)) {
    const server = observed.find((candidate) => candidate.port === port);
    if (!server) up.push({ kind: 'add', port }, { kind: 'ready', port });
    else {
      if (server.admin !== 'ready') up.push({ kind: 'ready', port });
      if (server.weight === 0) up.push({ kind: 'weight', port });
    }
  }
  for (const server of observed) {
    if (!ports.includes(server.port) && server.admin === 'ready')
      down.push({ kind: 'drain', port: server.port });
  }
  return [...up, ...down];
}

/**
 * A retire, once the named instances carry no request (or its time is up):
 * they go. One that serves stays: serve drains what it does not name, so an
 * instance that serves at a retire's end was named by a later serve (a
 * rollback, a wake during a scale to zero), and that serve wins.
 */
export function planRetireRemove(observed: readonly AppServer[], ports: readonly number[]): EndpointStep[] {
  return observed
    .filter((server) => ports.includes(server.port) && !isServing(server))
    .flatMap((server): EndpointStep[] => [
      ...(server.admin === 'maint' ? [] : [{ kind: 'maint', port: server.port } as const]),
      { kind: 'delete', port: server.port },
    ]);
}

/** Asleep: no instance takes requests, so HAProxy sends them to the activator (the backend's backup server). */
export function planSleep(observed: readonly AppServer[]): EndpointStep[] {
  return observed
    .filter((server) => server.admin !== 'maint')
    .map((server) => ({ kind: 'maint', port: server.port }));
}
