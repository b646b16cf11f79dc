import { z } from 'zod';
import { InputError, showValue } from '../core/errors.ts';

/**
 * Every limit the edge applies to end users, with the defaults it runs with
 * when nothing is configured. One object, so that an operator (and a
 * reviewer) can read all of them in one place; each is a positive number.
 *
 * The defaults are for B2B traffic, where a customer's whole office (several
 * hundred people) reaches the app from one NAT address:
 *
 * - Per address, 500 requests/s sustained with bursts of 5,000 (a 10 s
 *   window). A page view of a modern web app is 20 to 60 requests, most of
 *   them in its first second; 500 people opening a page every 10 s make
 *   about 200 requests/s, and a morning rush (everyone signs in within a
 *   minute) about 500/s, with a hundred page loads at once inside the
 *   burst. A single runaway client is still held to 500/s, under a tenth of
 *   what one edge on a small machine carries (6.5 to 7.5 k requests/s
 *   measured, issue 12).
 * - Per tenant, over all its stages and clients: 1,000 requests/s with
 *   bursts of 10,000 on the shared tier (two such offices at full rush),
 *   2,000/s on dedicated and 4,000/s on ha (customers who pay for their
 *   own database are the larger ones). This is what keeps one tenant from
 *   starving its neighbours on a shared edge; the controller writes each
 *   tenant's rate into the data plane's tenant map by its tier, and an
 *   operator raises one tenant there without a reload.
 * - 4,096 open connections per address: 500 browsers with HTTP/1.1's six
 *   connections each are 3,000 (HTTP/2 needs one each).
 * - 2,000 requests of one tenant in flight at once: at 1,000 requests/s
 *   that is two seconds of them waiting on a slow app, enough for long
 *   polls and uploads; past it a stuck app holds no more of the edge.
 * - Header fields: 100 and 16 KiB (large SSO cookies fit); target 8 KiB;
 *   bodies 10 MiB with a Content-Length (document uploads), a body without
 *   one only as large as the edge can hold while it counts (see
 *   chunkedBodyLimit in src/dataplane/rules.ts).
 * - 10 s for a request head, 30 s for a body to make progress, 30 s for an
 *   idle kept-alive connection: generous for a slow mobile link, short for
 *   a slowloris client that holds sockets open.
 */
export interface GatewayLimits {
  /** Most header fields in one request (including Host). Beyond: 431. */
  readonly maxHeaderCount: number;
  /** Most bytes of header fields in one request, counted as `name: value\r\n`. Beyond: 431. */
  readonly maxHeaderBytes: number;
  /** Longest request target (path and query). Beyond: 414. */
  readonly maxTargetBytes: number;
  /** Largest request body. Beyond: 413. */
  readonly maxBodyBytes: number;
  /** Time a client has to send the whole request head (slowloris). Then the connection is closed. */
  readonly headersTimeoutMs: number;
  /** Time the body may stall between two reads. Then 408 and the connection is closed. */
  readonly bodyIdleTimeoutMs: number;
  /** Time a whole request (head and body) may take to arrive. */
  readonly requestTimeoutMs: number;
  /** Time a kept-alive connection may sit without a request. */
  readonly keepAliveTimeoutMs: number;
  /** Open connections one client address may hold at once. */
  readonly maxConnectionsPerAddress: number;
  /** Distinct client addresses tracked at once (bounds the connection table). */
  readonly maxTrackedAddresses: number;
  /** Sustained requests per second per client address. */
  readonly addressRatePerSecond: number;
  /** Requests per client address that may arrive at once after a quiet spell. */
  readonly addressBurst: number;
  /** Sustained requests per second per tenant, over all its stages and clients, on the shared tier (and any tier without its own rate). */
  readonly tenantRatePerSecond: number;
  /** The same for a tenant on the dedicated tier. */
  readonly dedicatedTenantRatePerSecond: number;
  /** The same for a tenant on the ha tier. */
  readonly haTenantRatePerSecond: number;
  /** Requests per tenant (on the shared tier) that may arrive at once after a quiet spell; other tiers' bursts scale with their rates. */
  readonly tenantBurst: number;
  /** Requests of one tenant in flight at once at the edge, over all its stages; beyond: 503 with Retry-After (HAProxy's data plane only). */
  readonly maxConcurrentRequestsPerTenant: number;
  /** Buckets a rate limiter keeps at most; the least recently used goes first. */
  readonly rateLimitMaxKeys: number;
}

export const gatewayLimitDefaults: GatewayLimits = Object.freeze({
  maxHeaderCount: 100,
  maxHeaderBytes: 16 * 1024,
  maxTargetBytes: 8 * 1024,
  maxBodyBytes: 10 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  bodyIdleTimeoutMs: 30_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 30_000,
  maxConnectionsPerAddress: 4_096,
  maxTrackedAddresses: 100_000,
  addressRatePerSecond: 500,
  addressBurst: 5_000,
  tenantRatePerSecond: 1_000,
  dedicatedTenantRatePerSecond: 2_000,
  haTenantRatePerSecond: 4_000,
  tenantBurst: 10_000,
  maxConcurrentRequestsPerTenant: 2_000,
  rateLimitMaxKeys: 100_000,
});

const count = (fallback: number) => z.number().int().positive().default(fallback);
const rate = (fallback: number) => z.number().positive().finite().default(fallback);
const d = gatewayLimitDefaults;

/** `gateway.limits` in Steward's config: every limit optional, the defaults above filled in. */
export const gatewayLimitsSchema = z
  .object({
    maxHeaderCount: count(d.maxHeaderCount),
    maxHeaderBytes: count(d.maxHeaderBytes),
    maxTargetBytes: count(d.maxTargetBytes),
    maxBodyBytes: count(d.maxBodyBytes),
    headersTimeoutMs: count(d.headersTimeoutMs),
    bodyIdleTimeoutMs: count(d.bodyIdleTimeoutMs),
    requestTimeoutMs: count(d.requestTimeoutMs),
    keepAliveTimeoutMs: count(d.keepAliveTimeoutMs),
    maxConnectionsPerAddress: count(d.maxConnectionsPerAddress),
    maxTrackedAddresses: count(d.maxTrackedAddresses),
    addressRatePerSecond: rate(d.addressRatePerSecond),
    addressBurst: count(d.addressBurst),
    tenantRatePerSecond: rate(d.tenantRatePerSecond),
    dedicatedTenantRatePerSecond: rate(d.dedicatedTenantRatePerSecond),
    haTenantRatePerSecond: rate(d.haTenantRatePerSecond),
    tenantBurst: count(d.tenantBurst),
    maxConcurrentRequestsPerTenant: count(d.maxConcurrentRequestsPerTenant),
    rateLimitMaxKeys: count(d.rateLimitMaxKeys),
  })
  .strict() satisfies z.ZodType<GatewayLimits>;

const limitNames = Object.keys(gatewayLimitDefaults) as readonly (keyof GatewayLimits)[];

/**
 * Resolve configured limits over the defaults. Each given value must be a
 * positive finite number (a whole number for counts and bytes); anything
 * else is refused with the field and the value named.
 */
export function resolveGatewayLimits(
  overrides: Readonly<Record<string, unknown>> = {},
  field = 'gateway.limits',
): GatewayLimits {
  const resolved: Record<string, number> = { ...gatewayLimitDefaults };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(limitNames as readonly string[]).includes(name)) {
      throw new InputError(
        `${field}.${name} is not a gateway limit; known limits are ${limitNames.join(', ')}`,
        { field: `${field}.${name}` },
      );
    }
    const wholeNumber = !name.endsWith('PerSecond');
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value <= 0 ||
      (wholeNumber && !Number.isInteger(value))
    ) {
      throw new InputError(
        `${field}.${name} is ${typeof value === 'number' ? String(value) : showValue(value)}; expected a positive ${wholeNumber ? 'whole number' : 'number'}`,
        { field: `${field}.${name}` },
      );
    }
    resolved[name] = value;
  }
  return Object.freeze(resolved as unknown as GatewayLimits);
}

/**
 * A tenant's sustained request rate by its tier (`shared`, `dedicated`,
 * `ha`, src/tenants/schemas.ts), in whole requests per second as the data
 * plane's tenant map holds it; a tier without a rate of its own gets the
 * shared one.
 */
export function tenantRateForTier(limits: GatewayLimits, tier: string): number {
  const rate =
    tier === 'dedicated'
      ? limits.dedicatedTenantRatePerSecond
      : tier === 'ha'
        ? limits.haTenantRatePerSecond
        : limits.tenantRatePerSecond;
  return Math.max(1, Math.round(rate));
}
