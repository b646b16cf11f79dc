import { z } from 'zod';
import { InputError, showValue } from '../core/errors.ts';

/**
 * Every limit the gateway applies to end users, with the defaults it runs
 * with when nothing is configured. One object, so that an operator (and a
 * reviewer) can read all of them in one place; each is a positive number.
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
  /** Sustained requests per second per tenant, over all its stages and clients. */
  readonly tenantRatePerSecond: number;
  /** Requests per tenant that may arrive at once after a quiet spell. */
  readonly tenantBurst: number;
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
  maxConnectionsPerAddress: 1_024,
  maxTrackedAddresses: 100_000,
  addressRatePerSecond: 50,
  addressBurst: 100,
  tenantRatePerSecond: 500,
  tenantBurst: 1_000,
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
    tenantBurst: count(d.tenantBurst),
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
