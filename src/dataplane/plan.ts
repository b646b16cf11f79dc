import { buildRouteTable, type RouteKind } from '../gateway/routes.ts';
import type { StageRouteSource } from '../gateway/state.ts';
import { consoleBackend, stewardBackend } from './config.ts';
import { stageBackendName } from './names.ts';
import type { MapEntry } from './runtime-api.ts';

/**
 * What the data plane should look like, from Steward's desired state, and
 * the steps that take HAProxy there: pure functions, no I/O. The controller
 * (controller.ts) reads the state, asks these, and carries the steps out
 * through the runtime API, or a reload when the rendered text changed.
 */

export interface DesiredStage {
  readonly backend: string;
  readonly stageId: string;
  readonly tenant: string;
  readonly tier: string;
  readonly stage: string;
  readonly publishedPort: number;
  /** CIDRs that may reach the stage; null: everyone. */
  readonly allowFrom: readonly string[] | null;
  readonly maintenance: boolean;
}

export interface DesiredRoute {
  readonly host: string;
  readonly backend: string;
  /** `steward`: a host Steward serves itself (the status page). */
  readonly kind: RouteKind | 'steward';
  readonly tenant: string | undefined;
}

export interface DesiredRoutes {
  readonly stages: readonly DesiredStage[];
  /** Host -> backend, sorted by host: the routes map. */
  readonly routes: readonly DesiredRoute[];
}

/**
 * The routes map and the stage backends. Steward's own hosts (the status
 * page) come first: a tenant's name or domain can never take one over, as
 * with the Node gateway, which asked its own site before the route table.
 */
export function desiredRoutes(
  sources: readonly StageRouteSource[],
  options: {
    readonly baseDomain: string;
    readonly stewardHosts: readonly string[];
    /** The console's host (`console.<base>`), routed to Steward's API. */
    readonly consoleHost?: string | undefined;
  },
): DesiredRoutes {
  const stageIds = new Map(sources.map((source) => [`${source.tenant}/${source.stage}`, source.stageId]));
  const stages = sources.map((source) => ({
    backend: stageBackendName(source.stageId),
    stageId: source.stageId,
    tenant: source.tenant,
    tier: source.tier,
    stage: source.stage,
    publishedPort: source.publishedPort,
    allowFrom: source.allowFrom,
    maintenance: source.maintenance,
  }));
  const byHost = new Map<string, DesiredRoute>();
  for (const host of options.stewardHosts) {
    byHost.set(host, { host, backend: stewardBackend, kind: 'steward', tenant: undefined });
  }
  if (options.consoleHost !== undefined) {
    const host = options.consoleHost;
    byHost.set(host, { host, backend: consoleBackend, kind: 'steward', tenant: undefined });
  }
  for (const route of buildRouteTable(sources, options.baseDomain).routes) {
    const stageId = stageIds.get(`${route.tenant}/${route.stage}`);
    if (stageId === undefined || byHost.has(route.host)) continue;
    byHost.set(route.host, {
      host: route.host,
      backend: stageBackendName(stageId),
      kind: route.kind,
      tenant: route.tenant,
    });
  }
  const routes = [...byHost.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return { stages, routes };
}

export interface MapChanges {
  readonly add: readonly MapEntry[];
  readonly set: readonly MapEntry[];
  readonly del: readonly string[];
}

/** The entry commands that turn the map `current` into `desired` (keys are unique in both). */
export function diffMap(current: readonly MapEntry[], desired: readonly MapEntry[]): MapChanges {
  const now = new Map(current.map((entry) => [entry.key, entry.value]));
  const wanted = new Set(desired.map((entry) => entry.key));
  const add: MapEntry[] = [];
  const set: MapEntry[] = [];
  for (const entry of desired) {
    const value = now.get(entry.key);
    if (value === undefined) add.push(entry);
    else if (value !== entry.value) set.push(entry);
  }
  const del = [...now.keys()].filter((key) => !wanted.has(key));
  return { add, set, del };
}

export function mapChangeCount(changes: MapChanges): number {
  return changes.add.length + changes.set.length + changes.del.length;
}

/** A map file's text: one `key value` a line, as HAProxy loads it at start and reload. */
export function renderMapFile(entries: readonly MapEntry[]): string {
  return entries.map((entry) => `${entry.key} ${entry.value}\n`).join('');
}

/** `*.example.org` -> `_wildcard.example.org`: file names stay in the path alphabet. */
function fileLabel(domain: string): string {
  return domain.startsWith('*.') ? `_wildcard${domain.slice(1)}` : domain;
}

/**
 * A certificate the data plane serves, by SNI. `operator`: an operator's
 * certificate (exact or wildcard) from the secrets store. `issued`: one
 * Steward's CA issues ahead, because HAProxy cannot issue during a handshake.
 */
export type CertificateSource =
  | { readonly kind: 'operator'; readonly domain: string; readonly version: string }
  | { readonly kind: 'issued'; readonly names: readonly string[] };

export interface DesiredCertificate {
  /** The file's name in the certificates directory: its key in HAProxy too. */
  readonly file: string;
  /** The crt-list's SNI filters: the names this certificate answers for. */
  readonly sni: readonly string[];
  readonly source: CertificateSource;
}

/** Whether an operator's certificate covers a name: exactly, or by a wildcard one label up. */
export function operatorCovers(operatorDomains: ReadonlySet<string>, name: string): boolean {
  if (operatorDomains.has(name)) return true;
  if (name.startsWith('*.')) return false;
  const dot = name.indexOf('.');
  return dot > 0 && operatorDomains.has(`*${name.slice(dot)}`);
}

/**
 * Every certificate to serve. Operators' certificates for their domains;
 * for the rest of the routed hosts, certificates from Steward's CA:
 *
 * - one per tenant for `<tenant>.<base>` and `*.<tenant>.<base>`: a new
 *   stage needs no new certificate, and a certificate names one customer
 *   only (one for all hosts would list every customer to anyone who looks);
 * - one per custom domain and Steward host (`status.<base>`) not covered.
 *
 * Not `*.<base>` for the prod aliases: TLS clients refuse a wildcard one label
 * under a bare name such as `localhost` (Node's checkServerIdentity, browsers
 * for public suffixes), and it would serve every tenant's alias from one key.
 */
export function desiredCertificates(
  routes: readonly DesiredRoute[],
  operator: readonly { readonly domain: string; readonly version: string }[],
  baseDomain: string,
): DesiredCertificate[] {
  const operatorDomains = new Set(operator.map((certificate) => certificate.domain));
  const certificates: DesiredCertificate[] = operator.map((certificate) => ({
    file: `op-${fileLabel(certificate.domain)}.pem`,
    sni: [certificate.domain],
    source: { kind: 'operator', domain: certificate.domain, version: certificate.version },
  }));
  const tenants = new Map<string, Set<string>>();
  const hosts: string[] = [];
  for (const route of routes) {
    if (route.kind === 'custom' || route.kind === 'steward') {
      if (!operatorCovers(operatorDomains, route.host)) hosts.push(route.host);
      continue;
    }
    if (route.tenant === undefined) continue;
    const names = tenants.get(route.tenant) ?? new Set<string>();
    tenants.set(route.tenant, names);
    names.add(route.kind === 'prod' ? route.host : `*.${route.tenant}.${baseDomain}`);
  }
  for (const [tenant, names] of [...tenants].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const sni = [...names].filter((name) => !operatorCovers(operatorDomains, name)).sort();
    if (sni.length === 0) continue;
    certificates.push({ file: `ca-tenant-${tenant}.pem`, sni, source: { kind: 'issued', names: sni } });
  }
  for (const host of hosts) {
    certificates.push({
      file: `ca-host-${host}.pem`,
      sni: [host],
      source: { kind: 'issued', names: [host] },
    });
  }
  return certificates;
}

/** What HAProxy holds for one certificate file, as far as the controller knows. */
export interface ObservedCertificate {
  /** The crt-list entry's SNI filters; undefined: the file has no crt-list entry. */
  readonly sni: readonly string[] | undefined;
  /** The operator certificate's version, or the issued one's names, as committed. */
  readonly version: string | undefined;
  /** When the committed certificate expires (epoch ms). */
  readonly notAfter: number | undefined;
}

export type CertificateStep =
  | {
      readonly kind: 'install';
      readonly certificate: DesiredCertificate;
      /** The file is not in HAProxy's memory yet (`new ssl cert`). */
      readonly isNew: boolean;
      /** The crt-list entry must be (re)written with the SNI filters. */
      readonly list: boolean;
      /** The certificate's content must be (re)committed (new, replaced, renewed). */
      readonly content: boolean;
    }
  | { readonly kind: 'remove'; readonly file: string; readonly listed: boolean };

/** Renew Steward's certificates when less than a third of their 90 days is left. */
export const issuedDays = 90;
export const renewBeforeMs = 30 * 86_400_000;

export function issuedVersion(names: readonly string[]): string {
  return names.join(' ');
}

function sameNames(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((name, index) => name === b[index]);
}

/** The steps from what HAProxy holds to the desired certificates; none when they agree. */
export function planCertificates(
  observed: ReadonlyMap<string, ObservedCertificate>,
  desired: readonly DesiredCertificate[],
  now: number,
): CertificateStep[] {
  const steps: CertificateStep[] = [];
  const wanted = new Set(desired.map((certificate) => certificate.file));
  for (const [file, seen] of observed) {
    if (!wanted.has(file)) steps.push({ kind: 'remove', file, listed: seen.sni !== undefined });
  }
  for (const certificate of desired) {
    const seen = observed.get(certificate.file);
    const version =
      certificate.source.kind === 'operator'
        ? certificate.source.version
        : issuedVersion(certificate.source.names);
    const content =
      seen?.version !== version ||
      (certificate.source.kind === 'issued' && (seen.notAfter ?? 0) - now < renewBeforeMs);
    const list = !sameNames(seen?.sni, certificate.sni);
    if (!content && !list) continue;
    steps.push({ kind: 'install', certificate, isNew: seen === undefined, list, content });
  }
  return steps;
}
