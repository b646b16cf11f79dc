import { BlockList, isIP } from 'node:net';

/**
 * The gateway's route table: which host reaches which stage. Built from
 * desired state by a pure function, swapped whole on every change, and read
 * once per request with one map lookup.
 */
export interface RouteSource {
  readonly tenant: string;
  readonly stage: string;
  readonly publishedPort: number;
  /** CIDRs that may reach the stage; null: everyone. */
  readonly allowFrom: readonly string[] | null;
  readonly maintenance: boolean;
  /** Custom domains of the stage, lower case. */
  readonly domains: readonly string[];
}

export const routeKinds = ['stage', 'prod', 'custom'] as const;
export type RouteKind = (typeof routeKinds)[number];

export interface Route {
  readonly host: string;
  readonly kind: RouteKind;
  readonly tenant: string;
  readonly stage: string;
  readonly publishedPort: number;
  readonly allowFrom: readonly string[] | null;
  readonly maintenance: boolean;
  /** Whether a client address may reach the stage (compiled once from allowFrom). */
  readonly allows: (address: string) => boolean;
}

export interface RouteTable {
  readonly baseDomain: string;
  get(host: string): Route | undefined;
  has(host: string): boolean;
  readonly routes: readonly Route[];
  /** The published ports in use, for closing connection pools of stages that went away. */
  readonly ports: ReadonlySet<number>;
}

const everyone = (): boolean => true;

/** The stage of the tenant's prod alias (`<tenant>.<baseDomain>`). */
export const prodStage = 'prod';

export function buildRouteTable(sources: readonly RouteSource[], baseDomain: string): RouteTable {
  const byHost = new Map<string, Route>();
  const ports = new Set<number>();
  const base = baseDomain.toLowerCase();
  // Generated names first, so a custom domain can never take one over.
  const add = (host: string, kind: RouteKind, source: RouteSource, allows: Route['allows']): void => {
    if (byHost.has(host)) return;
    byHost.set(host, {
      host,
      kind,
      tenant: source.tenant,
      stage: source.stage,
      publishedPort: source.publishedPort,
      allowFrom: source.allowFrom,
      maintenance: source.maintenance,
      allows,
    });
  };
  const compiled = sources.map((source) => ({ source, allows: addressMatcher(source.allowFrom) }));
  for (const { source, allows } of compiled) {
    ports.add(source.publishedPort);
    add(`${source.stage}.${source.tenant}.${base}`, 'stage', source, allows);
    if (source.stage === prodStage) add(`${source.tenant}.${base}`, 'prod', source, allows);
  }
  for (const { source, allows } of compiled) {
    for (const domain of source.domains) add(domain.toLowerCase(), 'custom', source, allows);
  }
  const routes = [...byHost.values()].sort((a, b) => a.host.localeCompare(b.host));
  return {
    baseDomain: base,
    get: (host) => byHost.get(host),
    has: (host) => byHost.has(host),
    routes,
    ports,
  };
}

/**
 * A Host header or SNI name as a route key: lower case, without a port and
 * without one trailing dot. Undefined when nothing is left.
 */
export function normaliseHost(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let host = raw.toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end > 0) host = host.slice(0, end + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host === '' ? undefined : host;
}

/** `10.0.0.0/8`, `2001:db8::/32` or a single address; undefined when it is not one. */
export function parseCidr(
  value: string,
): { readonly address: string; readonly prefix: number; readonly family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, extra] = value.trim().split('/');
  if (extra !== undefined) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A matcher for a stage's allow list; null (no list) lets everyone in. */
export function addressMatcher(cidrs: readonly string[] | null): (address: string) => boolean {
  if (cidrs === null) return everyone;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    // Stored lists were validated on the way in; anything else matches nobody.
    if (parsed) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return (address) => {
    const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const version = isIP(plain);
    if (version === 0) return false;
    return list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
  };
}
