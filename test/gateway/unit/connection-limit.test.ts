import { describe, expect, it } from 'vitest';
import { ConnectionLimiter } from '../../../src/gateway/connection-limit.ts';

type Op = readonly ['acquire', string, boolean | 'per_address' | 'table_full'] | readonly ['release', number];

describe('connection limiter', () => {
  const cases: readonly {
    name: string;
    maxPerAddress: number;
    maxAddresses: number;
    ops: readonly Op[];
    open: Record<string, number>;
  }[] = [
    {
      name: 'refuses past the cap per address and admits again after a release',
      maxPerAddress: 2,
      maxAddresses: 10,
      ops: [
        ['acquire', '10.0.0.1', true],
        ['acquire', '10.0.0.1', true],
        ['acquire', '10.0.0.1', 'per_address'],
        ['acquire', '10.0.0.2', true],
        ['release', 0],
        ['acquire', '10.0.0.1', true],
      ],
      open: { '10.0.0.1': 2, '10.0.0.2': 1 },
    },
    {
      name: 'counts an IPv4-mapped address as its IPv4 address',
      maxPerAddress: 1,
      maxAddresses: 10,
      ops: [
        ['acquire', '::ffff:10.0.0.1', true],
        ['acquire', '10.0.0.1', 'per_address'],
        ['acquire', '::FFFF:0a00:0001', 'per_address'],
      ],
      open: { '10.0.0.1': 1, '::ffff:10.0.0.1': 1 },
    },
    {
      name: 'refuses new addresses once the table is full, but not known ones',
      maxPerAddress: 5,
      maxAddresses: 2,
      ops: [
        ['acquire', '10.0.0.1', true],
        ['acquire', '10.0.0.2', true],
        ['acquire', '10.0.0.3', 'table_full'],
        ['acquire', '10.0.0.1', true],
        ['release', 1],
        ['acquire', '10.0.0.3', true],
      ],
      open: { '10.0.0.1': 2, '10.0.0.2': 0, '10.0.0.3': 1 },
    },
    {
      name: 'a second release of one connection changes nothing',
      maxPerAddress: 2,
      maxAddresses: 10,
      ops: [
        ['acquire', '2001:db8::1', true],
        ['acquire', '2001:db8::1', true],
        ['release', 0],
        ['release', 0],
        ['release', 0],
      ],
      open: { '2001:db8::1': 1, '2001:DB8:0:0::1': 1 },
    },
  ];

  it.each(cases)('$name', ({ maxPerAddress, maxAddresses, ops, open }) => {
    const limiter = new ConnectionLimiter({ maxPerAddress, maxAddresses });
    const releases: (() => void)[] = [];
    for (const op of ops) {
      if (op[0] === 'release') {
        releases[op[1]]?.();
        continue;
      }
      const decision = limiter.acquire(op[1]);
      if (decision.allowed) releases.push(decision.release);
      expect(decision.allowed ? true : decision.reason, `${op[0]} ${op[1]}`).toBe(op[2]);
    }
    for (const [address, count] of Object.entries(open)) expect(limiter.count(address), address).toBe(count);
  });

  it('forgets an address when its last connection closes', () => {
    const limiter = new ConnectionLimiter({ maxPerAddress: 3, maxAddresses: 3 });
    const held = ['a', 'b', 'c'].map((a) => limiter.acquire(`10.0.0.${a.charCodeAt(0)}`));
    expect(limiter.addresses).toBe(3);
    expect(limiter.total).toBe(3);
    for (const d of held) if (d.allowed) d.release();
    expect(limiter.addresses).toBe(0);
    expect(limiter.total).toBe(0);
  });
});
