import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/core/config.ts';
import {
  gatewayLimitDefaults,
  resolveGatewayLimits,
  tenantRateForTier,
} from '../../../src/gateway/limits.ts';
import { TokenBucketLimiter } from '../../../src/gateway/rate-limit.ts';

type Step = readonly [atMs: number, key: string, allowed: boolean, retryAfterSeconds?: number];

describe('token bucket limiter', () => {
  const cases: readonly {
    name: string;
    ratePerSecond: number;
    burst: number;
    steps: readonly Step[];
  }[] = [
    {
      name: 'a burst passes, the next is refused and told when to retry',
      ratePerSecond: 1,
      burst: 3,
      steps: [
        [0, 'a', true],
        [0, 'a', true],
        [0, 'a', true],
        [0, 'a', false, 1],
      ],
    },
    {
      name: 'tokens refill at the rate',
      ratePerSecond: 2,
      burst: 2,
      steps: [
        [0, 'a', true],
        [0, 'a', true],
        [0, 'a', false, 1],
        [499, 'a', false, 1],
        [500, 'a', true],
        [500, 'a', false, 1],
      ],
    },
    {
      name: 'retry-after rounds a slow refill up to whole seconds',
      ratePerSecond: 0.1,
      burst: 1,
      steps: [
        [0, 'a', true],
        [0, 'a', false, 10],
        [5_000, 'a', false, 5],
        [10_000, 'a', true],
      ],
    },
    {
      name: 'keys do not share a bucket',
      ratePerSecond: 1,
      burst: 1,
      steps: [
        [0, 'a', true],
        [0, 'a', false, 1],
        [0, 'b', true],
        [0, 'b', false, 1],
      ],
    },
    {
      name: 'a long quiet spell refills only up to the burst',
      ratePerSecond: 10,
      burst: 2,
      steps: [
        [0, 'a', true],
        [3_600_000, 'a', true],
        [3_600_000, 'a', true],
        [3_600_000, 'a', false, 1],
      ],
    },
    {
      name: 'a clock that steps back mints no tokens',
      ratePerSecond: 1,
      burst: 1,
      steps: [
        [10_000, 'a', true],
        [0, 'a', false, 1],
        [10_000, 'a', false, 1],
        [11_000, 'a', true],
      ],
    },
  ];

  it.each(cases)('$name', ({ ratePerSecond, burst, steps }) => {
    const limiter = new TokenBucketLimiter({ ratePerSecond, burst, maxKeys: 100 });
    const seen = steps.map(([at, key]) => {
      const d = limiter.take(key, at);
      return [at, key, d.allowed, ...(d.allowed ? [] : [d.retryAfterSeconds])];
    });
    expect(seen).toEqual(steps.map((s) => [...s]));
  });

  it('holds at most maxKeys buckets, dropping the least recently used', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) expect(limiter.take(key, 0).allowed).toBe(true);
    expect(limiter.take('a', 0).allowed).toBe(false); // a is now the most recently used
    expect(limiter.take('d', 0).allowed).toBe(true); // evicts b
    expect(limiter.size).toBe(3);
    expect(limiter.take('a', 0).allowed).toBe(false); // a kept its empty bucket
    expect(limiter.take('c', 0).allowed).toBe(false); // c kept too
    expect(limiter.take('b', 0).allowed).toBe(true); // b started over
    expect(limiter.size).toBe(3);
  });

  it('forgets idle buckets as it goes, so a million one-off clients leave little behind', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 50, burst: 100, maxKeys: 1_000_000 });
    for (let i = 0; i < 100_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, i); // one per ms
    // A bucket that took one token is full again 20 ms later, so only the last ~20 remain.
    expect(limiter.size).toBeLessThan(100);
    expect(limiter.sweep(1_000_000)).toBeGreaterThan(0);
    expect(limiter.size).toBe(0);
  });

  it.each([
    [{ ratePerSecond: 0, burst: 1, maxKeys: 1 }, /ratePerSecond/],
    [{ ratePerSecond: Number.NaN, burst: 1, maxKeys: 1 }, /ratePerSecond/],
    [{ ratePerSecond: 1, burst: 0.5, maxKeys: 1 }, /burst/],
    [{ ratePerSecond: 1, burst: 1, maxKeys: 0 }, /maxKeys/],
  ])('refuses options %j', (options, message) => {
    expect(() => new TokenBucketLimiter(options)).toThrow(message);
  });
});

describe('gateway limits', () => {
  it('has the safe defaults the gateway documents', () => {
    expect(gatewayLimitDefaults).toMatchObject({
      maxHeaderCount: 100,
      maxHeaderBytes: 16_384,
      addressRatePerSecond: 500,
      addressBurst: 5_000,
      tenantRatePerSecond: 1_000,
      dedicatedTenantRatePerSecond: 2_000,
      haTenantRatePerSecond: 4_000,
      maxConnectionsPerAddress: 4_096,
      maxConcurrentRequestsPerTenant: 2_000,
    });
    expect(Object.isFrozen(gatewayLimitDefaults)).toBe(true);
  });

  it('gives each tier its tenant rate, in whole requests per second', () => {
    const limits = resolveGatewayLimits({ tenantRatePerSecond: 0.4, haTenantRatePerSecond: 7.6 });
    expect(['shared', 'dedicated', 'ha', 'other'].map((tier) => tenantRateForTier(limits, tier))).toEqual([
      1, 2_000, 8, 1,
    ]);
  });

  it('resolves overrides over the defaults', () => {
    const limits = resolveGatewayLimits({ maxHeaderCount: 50, tenantRatePerSecond: 0.5 });
    expect(limits.maxHeaderCount).toBe(50);
    expect(limits.tenantRatePerSecond).toBe(0.5);
    expect(limits.maxHeaderBytes).toBe(gatewayLimitDefaults.maxHeaderBytes);
  });

  it.each([
    [{ maxHeaderCount: 0 }, 'gateway.limits.maxHeaderCount is 0; expected a positive whole number'],
    [{ maxHeaderCount: 1.5 }, 'gateway.limits.maxHeaderCount is 1.5; expected a positive whole number'],
    [{ maxBodyBytes: '10MB' }, 'gateway.limits.maxBodyBytes is "10MB"; expected a positive whole number'],
    [{ addressRatePerSecond: -1 }, 'gateway.limits.addressRatePerSecond is -1; expected a positive number'],
    [{ maxHeaders: 10 }, 'gateway.limits.maxHeaders is not a gateway limit'],
  ])('refuses %j', (overrides, message) => {
    expect(() => resolveGatewayLimits(overrides)).toThrow(message);
  });

  it('reads gateway.limits from the config, over the defaults', () => {
    const config = parseConfig({
      dataDir: '/x',
      gateway: { limits: { addressBurst: 7, tenantRatePerSecond: 2.5 } },
    });
    expect(config.gateway.limits).toEqual({
      ...gatewayLimitDefaults,
      addressBurst: 7,
      tenantRatePerSecond: 2.5,
    });
    expect(parseConfig({ dataDir: '/x' }).gateway.limits).toEqual(gatewayLimitDefaults);
  });

  it.each([
    [{ maxHeaderCount: 0 }, 'maxHeaderCount'],
    [{ addressBurst: 1.5 }, 'addressBurst'],
    [{ tenantRatePerSecond: -1 }, 'tenantRatePerSecond'],
    [{ maxHeaders: 10 }, 'maxHeaders'],
  ])('refuses gateway.limits %j in the config, naming the field', (limits, field) => {
    expect(() => parseConfig({ dataDir: '/x', gateway: { limits } })).toThrow(field);
  });
});
