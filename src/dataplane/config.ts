import { InputError, showValue } from '../core/errors.ts';
import { resolveGatewayLimits, type GatewayLimits } from '../gateway/limits.ts';
import { tlsCiphers } from '../gateway/tls.ts';
import { addressWithPort, checkAddress, checkName, checkPath, checkPort } from './names.ts';
import { renderAccessLogRing } from './access-log-stream.ts';
import { errorfileStatuses } from './pages.ts';
import { authRules, checkEdgeAuth, sessionTable, sessionTableSection, type EdgeAuth } from './auth-rules.ts';
import {
  accessLogLines,
  addressTable,
  answer,
  bufferBytes,
  edgeRequestRules,
  headerSlots,
  requestVariables,
  stageRules,
  tableSections,
  tenantTable,
} from './rules.ts';

/**
 * Renders haproxy.cfg from the data plane's desired state: a pure function,
 * no I/O. What changes often (routes, app instances, certificates) is not in
 * the text: routes live in a map file, instances are dynamic servers or
 * server-template slots, certificates sit in a crt-list; the runtime API
 * changes all three without a reload. The text changes only when backends,
 * listeners or policies do.
 */

export interface Listen {
  readonly address: string;
  readonly port: number;
}

/** An app instance written into the config, so that a reload keeps the instances added at runtime. */
export interface StageServer {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly state?: 'ready' | 'drain';
}

/**
 * A stage's backend: its known instances, plus either nothing more (new ones
 * come by `add server`) or `slots` pre-made, disabled servers.
 */
export interface StageBackend {
  readonly name: string;
  /** The stage's tenant (slug): the key of the per-tenant limits. */
  readonly tenant?: string;
  /**
   * The stage's published port: a loopback listener (frontend fe_stages) that
   * reaches this backend without the edge's limits, for Steward's own probes,
   * `steward ps` and the runtime's tests. Tenants cannot reach it (the sandbox).
   */
  readonly publishedPort?: number;
  readonly servers?: readonly StageServer[];
  readonly slots?: number;
}

export interface DataPlaneFiles {
  /** The worker's runtime API socket (level admin, passes listeners to the next worker on reload). */
  readonly adminSocket: string;
  /** Host -> backend name, one route a line. */
  readonly routesMap: string;
  /** The certificate served when no crt-list entry matches the SNI name. */
  readonly defaultCertificate: string;
  /** Operators' and Steward's certificates, one `path [options] [sni filters]` a line. */
  readonly crtList: string;
  /** The branded pages, as renderErrorPages() names them (`404.html`, `404.http`, `maintenance.html`). */
  readonly errorDir: string;
  /**
   * One allow list a stage backend: `<allowDir>/<backend>.acl`, one address or
   * CIDR range a line (`10.0.0.0/8`, `2001:db8::/32`). An unrestricted stage's
   * file holds `0.0.0.0/0` and `::/0`; an empty file lets nobody in. The file
   * must exist for every stage backend; the runtime API changes its entries
   * (`add acl`, `del acl`, `clear acl`) without a reload.
   */
  readonly allowDir: string;
  /** Stage backends in maintenance: `<backend> 1` a line; the runtime API adds and removes them. */
  readonly maintenanceMap: string;
  /** Tenant rates: `<tenant> <requests per second>` a line (whole numbers); a tenant not in it gets limits.tenantRatePerSecond. */
  readonly tenantLimits: string;
}

export interface DataPlaneState {
  readonly files: DataPlaneFiles;
  readonly https: Listen;
  /** Plain HTTP: answers every request with a redirect to HTTPS. */
  readonly http: Listen;
  /** Stats page and HAProxy's Prometheus exporter (`/metrics`); loopback only. */
  readonly stats: Listen;
  /** Steward's own pages (`/.steward/…` on every host). */
  readonly steward: Listen;
  /**
   * Steward's activator: every stage backend has it as a `backup` server, so
   * a stage with no app instance up (scaled to zero, starting) sends its
   * requests there; the activator holds them and wakes the stage. HAProxy
   * names the stage to it in the X-Steward-Stage header (the backend's name).
   */
  readonly activator?: Listen;
  readonly backends: readonly StageBackend[];
  readonly hstsMaxAgeSeconds: number;
  /** The edge's limits on end users (Steward's `gateway.limits`). */
  readonly limits: GatewayLimits;
  /**
   * The Unix stream socket Steward receives the access log on: HAProxy logs
   * one JSON object a request (AccessLogRecord) into a ring that forwards
   * them there, octet-counted (access-log-stream.ts). None: no access log.
   */
  readonly accessLog?: string;
  /** The unprivileged user and group the workers run as (the master keeps root to reload). */
  readonly runAs?: { readonly user: string; readonly group: string };
  /** The number of worker threads (HAProxy's default is one per core). */
  readonly threads?: number;
  /** Set: `/scim/v2` on each tenant's apex host (`<tenant>.<scimBaseDomain>`) goes to Steward's pages (SCIM). */
  readonly scimBaseDomain?: string;
  /** End users' sessions checked at the edge (issue 13; auth-rules.ts); none: no stage looks at sessions. */
  readonly auth?: EdgeAuth;
  /** Steward's API, which serves the console: the console host (`console.<base>`) is routed to it. */
  readonly console?: ConsoleUpstream;
}

/** The API behind the console host, as the data plane reaches it. */
export interface ConsoleUpstream {
  readonly address: string;
  readonly port: number;
  /** The API speaks TLS: HAProxy verifies its certificate (issued for `localhost`) against this CA file. */
  readonly caFile?: string;
  /** Vouches for X-Forwarded-For to the API (console/edge.ts): base64url, never a client's. */
  readonly edgeKey: string;
}

/** Backends the renderer owns; a stage backend may not take these names. */
export const stewardBackend = 'be_steward';
export const unroutedBackend = 'be_unrouted';
export const consoleBackend = 'be_console';
export const maxSlots = 64;
const reservedBackends: readonly string[] = [
  stewardBackend,
  unroutedBackend,
  consoleBackend,
  addressTable,
  tenantTable,
  sessionTable,
];

const tls13Suites = tlsCiphers.split(':').filter((cipher) => cipher.startsWith('TLS_'));
const tls12Ciphers = tlsCiphers.split(':').filter((cipher) => !cipher.startsWith('TLS_'));

/** The name of the n-th (1-based) server-template slot in a stage backend. */
export function slotServerName(n: number): string {
  return `slot${n}`;
}

function checkLoopback(field: string, listen: Listen): void {
  if (listen.address !== '127.0.0.1' && listen.address !== '::1') {
    throw new InputError(
      `${field} ${showValue(listen.address)} is not accepted: use a loopback address (127.0.0.1 or ::1)`,
      {
        field,
      },
    );
  }
}

const fileKeys = [
  'adminSocket',
  'routesMap',
  'defaultCertificate',
  'crtList',
  'errorDir',
  'allowDir',
  'maintenanceMap',
  'tenantLimits',
] as const;

function checkState(state: DataPlaneState): void {
  for (const key of fileKeys) checkPath(`files.${key}`, state.files[key]);
  if (state.accessLog !== undefined) checkPath('accessLog', state.accessLog);
  resolveGatewayLimits(state.limits as unknown as Record<string, unknown>, 'limits');
  if (state.activator) {
    checkAddress('activator.address', state.activator.address);
    checkPort('activator.port', state.activator.port);
  }
  const published = new Map<number, string>();
  for (const key of ['https', 'http', 'stats', 'steward'] as const) {
    checkAddress(`${key}.address`, state[key].address);
    checkPort(`${key}.port`, state[key].port);
  }
  checkLoopback('stats.address', state.stats);
  const seen = new Set<string>();
  for (const [index, backend] of state.backends.entries()) {
    const field = `backends[${index}].name`;
    checkName(field, backend.name);
    if (reservedBackends.includes(backend.name) || seen.has(backend.name)) {
      throw new InputError(
        `${field} ${showValue(backend.name)} is not accepted: each backend needs its own name, and ${reservedBackends.join(', ')} belong to Steward`,
        { field },
      );
    }
    seen.add(backend.name);
    if (backend.tenant !== undefined) checkName(`backends[${index}].tenant`, backend.tenant);
    if (backend.publishedPort !== undefined) {
      const portField = `backends[${index}].publishedPort`;
      checkPort(portField, backend.publishedPort);
      const other = published.get(backend.publishedPort);
      if (other !== undefined) {
        throw new InputError(
          `${portField} ${showValue(backend.publishedPort)} is not accepted: backend ${other} is published on it already; each stage needs its own port`,
          { field: portField },
        );
      }
      published.set(backend.publishedPort, backend.name);
    }
    const servers = new Set<string>();
    for (const [at, server] of (backend.servers ?? []).entries()) {
      const prefix = `backends[${index}].servers[${at}]`;
      checkName(`${prefix}.name`, server.name);
      checkAddress(`${prefix}.address`, server.address);
      checkPort(`${prefix}.port`, server.port);
      if (servers.has(server.name) || /^slot\d+$/.test(server.name)) {
        throw new InputError(
          `${prefix}.name ${showValue(server.name)} is not accepted: each server of a backend needs its own name, and slot<n> names belong to the slots`,
          { field: `${prefix}.name` },
        );
      }
      servers.add(server.name);
    }
    const slots = backend.slots ?? 0;
    if (!Number.isInteger(slots) || slots < 0 || slots > maxSlots) {
      throw new InputError(
        `backends[${index}].slots ${showValue(backend.slots)} is not accepted: use an integer from 0 to ${maxSlots}`,
        { field: `backends[${index}].slots` },
      );
    }
  }
  if (!Number.isInteger(state.hstsMaxAgeSeconds) || state.hstsMaxAgeSeconds < 0) {
    throw new InputError(
      `hstsMaxAgeSeconds ${showValue(state.hstsMaxAgeSeconds)} is not accepted: use a whole number of seconds, 0 or more`,
      { field: 'hstsMaxAgeSeconds' },
    );
  }
  if (
    state.threads !== undefined &&
    (!Number.isInteger(state.threads) || state.threads < 1 || state.threads > 64)
  ) {
    throw new InputError(`threads ${showValue(state.threads)} is not accepted: use an integer from 1 to 64`, {
      field: 'threads',
    });
  }
  if (state.auth) checkEdgeAuth(state.auth);
  if (state.console) {
    checkAddress('console.address', state.console.address);
    checkPort('console.port', state.console.port);
    if (state.console.caFile !== undefined) checkPath('console.caFile', state.console.caFile);
    if (!/^[A-Za-z0-9_-]{32,128}$/.test(state.console.edgeKey)) {
      throw new InputError('console.edgeKey is not accepted: use 32 to 128 base64url characters', {
        field: 'console.edgeKey',
      });
    }
  }
  if (state.runAs) {
    checkName('runAs.user', state.runAs.user);
    checkName('runAs.group', state.runAs.group);
  }
}

function renderGlobal(state: DataPlaneState): string[] {
  const { limits, files } = state;
  return [
    'global',
    '    master-worker',
    ...(state.runAs ? [`    user ${state.runAs.user}`, `    group ${state.runAs.group}`] : []),
    ...(state.threads ? [`    nbthread ${state.threads}`] : []),
    // The worker's socket hands its listening sockets to the next worker: a reload refuses no connection.
    `    stats socket ${files.adminSocket} mode 600 level admin expose-fd listeners`,
    '    stats timeout 30s',
    '    ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 no-tls-tickets',
    `    ssl-default-bind-ciphers ${tls12Ciphers.join(':')}`,
    `    ssl-default-bind-ciphersuites ${tls13Suites.join(':')}`,
    '    ssl-default-bind-curves X25519:P-256:P-384',
    '    tune.ssl.default-dh-param 2048',
    // A request head up to the header and target limits fits, so the rules (431, 414) answer, not the parser.
    `    tune.bufsize ${bufferBytes(limits)}`,
    `    tune.http.maxhdr ${headerSlots(limits)}`,
    // An old worker still finishing its requests after a reload gives up at this bound.
    '    hard-stop-after 5m',
    '',
    'defaults',
    '    mode http',
    '    option http-keep-alive',
    // On a reload the old worker answers the next request on an idle kept-alive connection with
    // `Connection: close` rather than closing it under a client that may be sending one.
    '    option idle-close-on-response',
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 60s',
    `    timeout http-request ${limits.headersTimeoutMs}ms`,
    `    timeout http-keep-alive ${limits.keepAliveTimeoutMs}ms`,
    '    timeout queue 10s',
    // WebSockets and other upgraded connections.
    '    timeout tunnel 1h',
    ...errorfileStatuses.map((status) => `    errorfile ${status} ${files.errorDir}/${status}.http`),
    '',
  ];
}

function renderFrontends(state: DataPlaneState): string[] {
  const { files, limits } = state;
  const httpsPort = state.https.port === 443 ? '' : `:${state.https.port}`;
  const published = state.backends.filter((backend) => backend.publishedPort !== undefined);
  return [
    'frontend fe_https',
    `    bind ${addressWithPort(state.https.address, state.https.port)} ssl crt ${files.defaultCertificate} crt-list ${files.crtList} alpn h2,http/1.1`,
    ...accessLogLines(state.accessLog),
    ...edgeRequestRules(files, limits, { accessLog: state.accessLog !== undefined }),
    ...(state.hstsMaxAgeSeconds > 0
      ? [`    http-after-response set-header Strict-Transport-Security "max-age=${state.hstsMaxAgeSeconds}"`]
      : []),
    // Steward's own pages come first, on every host: a tenant's route cannot shadow them.
    `    use_backend ${stewardBackend} if { path_beg /.steward/ }`,
    ...scimRules(state.scimBaseDomain),
    `    use_backend %[var(txn.host),map(${files.routesMap},${unroutedBackend})]`,
    `    default_backend ${unroutedBackend}`,
    '',
    'frontend fe_http',
    `    bind ${addressWithPort(state.http.address, state.http.port)}`,
    ...accessLogLines(state.accessLog),
    ...requestVariables({ accessLog: state.accessLog !== undefined }),
    `    http-request redirect location https://%[req.hdr(host),field(1,:)]${httpsPort}%[pathq] code 301`,
    '',
    ...(published.length > 0
      ? [
          // Steward's probes and `steward ps`: loopback only, no edge rules, no limits.
          'frontend fe_stages',
          ...published.map((backend) => `    bind 127.0.0.1:${backend.publishedPort}`),
          '    option forwardfor',
          ...published.map(
            (backend) => `    use_backend ${backend.name} if { dst_port ${backend.publishedPort} }`,
          ),
          `    default_backend ${unroutedBackend}`,
          '',
        ]
      : []),
    'frontend fe_stats',
    `    bind ${addressWithPort(state.stats.address, state.stats.port)}`,
    '    http-request use-service prometheus-exporter if { path /metrics }',
    '    stats enable',
    '    stats uri /stats',
    '    stats refresh 10s',
    '',
  ];
}

/**
 * SCIM on the tenant's apex host only (one label before the base domain):
 * that host's `/scim/v2` no longer reaches the prod app; stage hosts and
 * custom domains are untouched.
 */
function scimRules(baseDomain: string | undefined): string[] {
  if (baseDomain === undefined) return [];
  const apex = `^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\\.${baseDomain.toLowerCase().replace(/[^a-z0-9-]/g, (c) => `\\${c}`)}$`;
  return [
    `    acl scim_apex var(txn.host) -m reg ${apex}`,
    `    use_backend ${stewardBackend} if scim_apex { path /scim/v2 } || scim_apex { path_beg /scim/v2/ }`,
  ];
}

function renderBackends(state: DataPlaneState): string[] {
  const { files, limits } = state;
  const lines = [
    `backend ${stewardBackend}`,
    `    server steward ${addressWithPort(state.steward.address, state.steward.port)}`,
    '',
    // Names no tenant: a host nobody routes looks the same for every host.
    `backend ${unroutedBackend}`,
    answer(files, 404, 'TRUE'),
    '',
    ...(state.console ? consoleBackendLines(state.console) : []),
    ...tableSections(limits),
    ...(state.auth ? sessionTableSection() : []),
  ];
  for (const backend of state.backends) {
    lines.push(`backend ${backend.name}`, '    balance roundrobin');
    lines.push(...stageRules(files, limits, backend));
    // Signed in or not, after the limits: a flood without a session still counts against them.
    if (state.auth) lines.push(...authRules(files, state.auth, backend.tenant));
    for (const server of backend.servers ?? []) {
      const drain = server.state === 'drain' ? ' weight 0' : '';
      lines.push(`    server ${server.name} ${addressWithPort(server.address, server.port)}${drain}`);
    }
    const slots = backend.slots ?? 0;
    // Slots start disabled at a placeholder address; `set server … addr`, then `state ready`, brings one up.
    if (slots > 0) lines.push(`    server-template slot 1-${slots} 127.0.0.1:1 disabled`);
    // While no instance is up (asleep, starting) the activator takes the requests and wakes the stage.
    if (state.activator) {
      lines.push(
        `    server activator ${addressWithPort(state.activator.address, state.activator.port)} backup`,
      );
    }
    lines.push('');
  }
  return lines;
}

/**
 * The console host to Steward's API. The events stream (server-sent events)
 * stays open with a keepalive every 15 s: HAProxy streams responses as they
 * come (no buffering, no compression here), and its server timeout outlasts
 * the keepalives by far without holding a dead API connection for long.
 */
function consoleBackendLines(upstream: ConsoleUpstream): string[] {
  const tls =
    upstream.caFile === undefined
      ? ''
      : ` ssl verify required ca-file ${upstream.caFile} sni str(localhost) verifyhost localhost`;
  return [
    `backend ${consoleBackend}`,
    '    timeout server 10m',
    '    timeout tunnel 1h',
    // Over whatever the client sent: the API takes the address only with the key (console/edge.ts).
    '    http-request set-header X-Forwarded-For %[src]',
    `    http-request set-header X-Steward-Edge ${upstream.edgeKey}`,
    `    server api ${addressWithPort(upstream.address, upstream.port)}${tls}`,
    '',
  ];
}

export function renderHaproxyConfig(state: DataPlaneState): string {
  checkState(state);
  return [
    '# Rendered by Steward from its desired state; edits here are overwritten.',
    ...renderGlobal(state),
    ...renderFrontends(state),
    ...renderBackends(state),
    ...(state.accessLog === undefined ? [] : renderAccessLogRing(state.accessLog)),
  ].join('\n');
}
