import { describe, expect, it } from 'vitest';
import {
  allows,
  formatAddress,
  parseAddress,
  parseAllowList,
  parseCidr,
} from '../../../src/gateway/allow-list.ts';

describe('CIDR ranges', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['192.0.2.7', '192.0.2.7/32'],
    [' 0.0.0.0/0 ', '0.0.0.0/0'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:DB8:0:0:0:0:0:0/32', '2001:db8::/32'],
    ['::1', '::1/128'],
    ['::/0', '::/0'],
    ['fe80::/10', 'fe80::/10'],
    ['::ffff:10.0.0.0/104', '::ffff:10.0.0.0/104'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8/128'],
    ['1:0:0:2::/64', '1:0:0:2::/64'],
  ])('parses %j as %j', (text, normalised) => {
    expect(parseCidr(text).text).toBe(normalised);
  });

  it.each([
    ['10.0.0.300/8', 'is not an IPv4 or IPv6 address'],
    ['10.0.0/8', 'is not an IPv4 or IPv6 address'],
    ['010.0.0.0/8', 'is not an IPv4 or IPv6 address'],
    ['10.0.0.0/33', 'prefix "33"; an IPv4 prefix is a whole number from 0 to 32'],
    ['10.0.0.0/-1', 'an IPv4 prefix is a whole number'],
    ['10.0.0.0/08', 'an IPv4 prefix is a whole number'],
    ['10.0.0.0/', 'an IPv4 prefix is a whole number'],
    ['2001:db8::/129', 'an IPv6 prefix is a whole number from 0 to 128'],
    [
      '10.0.0.1/8',
      'has bits set after the /8 prefix; write 10.0.0.0/8 for the range or 10.0.0.1 for one address',
    ],
    ['2001:db8::1/32', 'write 2001:db8::/32'],
    ['1::2::3', 'is not an IPv4 or IPv6 address'],
    ['1:2:3:4:5:6:7:8:9', 'is not an IPv4 or IPv6 address'],
    ['1:2:3:4:5:6:7', 'is not an IPv4 or IPv6 address'],
    ['12345::', 'is not an IPv4 or IPv6 address'],
    ['fe80::1%eth0', 'is not an IPv4 or IPv6 address'],
    ['example.com', 'is not an IPv4 or IPv6 address'],
    ['', 'is not an IPv4 or IPv6 address'],
    ['10.0.0.0/8/8', 'prefix "8/8"'],
  ])('refuses %j, naming it', (text, why) => {
    expect(() => parseCidr(text)).toThrow(why);
    expect(() => parseCidr(text)).toThrow(`allow_from: ${JSON.stringify(text)}`);
  });
});

describe('allow lists', () => {
  const list = parseAllowList(['10.0.0.0/8, 192.0.2.7', '2001:db8::/32']);

  it.each([
    ['10.1.2.3', true],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['9.255.255.255', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['::ffff:10.9.9.9', true],
    ['::ffff:0a09:0909', true],
    ['::ffff:11.0.0.1', false],
    ['2001:db8::1', true],
    ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', true],
    ['2001:db9::1', false],
    ['fe80::1%lo', false],
    ['::1', false],
    // A v4-compatible (not mapped) address is another address.
    ['::10.1.2.3', false],
    ['not an address', false],
    ['', false],
  ])('%j → %j', (address, allowed) => {
    expect(allows(list, address)).toBe(allowed);
  });

  it('an empty list allows nobody; /0 allows every address of its family', () => {
    expect(allows(parseAllowList([]), '10.0.0.1')).toBe(false);
    const v4 = parseAllowList(['0.0.0.0/0']);
    expect(allows(v4, '203.0.113.9')).toBe(true);
    expect(allows(v4, '::ffff:203.0.113.9')).toBe(true);
    expect(allows(v4, '2001:db8::1')).toBe(false);
    expect(allows(parseAllowList(['::/0']), '2001:db8::1')).toBe(true);
  });

  it('names the field and the entry that is wrong', () => {
    expect(() => parseAllowList(['10.0.0.0/8,10.0.0.999'], 'stages.prod.allow_from')).toThrow(
      'stages.prod.allow_from: "10.0.0.999" is not',
    );
  });

  it.each([
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['fe80::1%eth0', 'fe80::1'],
    ['10.0.0.1', '10.0.0.1'],
    ['nonsense', undefined],
  ])('canonical address of %j is %j', (text, canonical) => {
    const value = parseAddress(text);
    expect(value === undefined ? undefined : formatAddress(value)).toBe(canonical);
  });
});
